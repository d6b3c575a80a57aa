"""Noise-level estimation and the noise-adaptive point weight of VisCo."""
from __future__ import annotations

import numpy as np
import pytest

from viscogrid import reconstruct
from msdf.visco_cli import parse_noise
from viscogrid.noise import estimate_noise
from viscogrid.reconstruction import effective_point_weight
from viscogrid.schedule import Weights, default_schedule

from visco_shapes import sphere_points


def _noisy_plane(count: int, sigma: float, seed: int = 0) -> np.ndarray:
    g = np.random.default_rng(seed)
    xy = g.uniform(-1, 1, size=(count, 2))
    return np.column_stack([xy, sigma * g.standard_normal(count)])


def test_clean_sphere_has_almost_no_noise():
    pts, _ = sphere_points(20000, radius=1.0)
    assert estimate_noise(pts) < 2e-3


@pytest.mark.parametrize("sigma", [0.002, 0.005])
def test_noisy_plane_estimate_tracks_sigma(sigma):
    """Dense plane (neighbourhood radius ~0.011 >> sigma): the plane-fit residual is close to sigma."""
    est = estimate_noise(_noisy_plane(100000, sigma))
    assert 0.6 * sigma < est < 1.05 * sigma


def test_estimate_is_monotone_and_scale_equivariant():
    small, large = estimate_noise(_noisy_plane(50000, 0.003)), estimate_noise(_noisy_plane(50000, 0.01))
    assert small < large
    assert estimate_noise(10 * _noisy_plane(50000, 0.003)) == pytest.approx(10 * small, rel=1e-9)
    assert estimate_noise(np.zeros((3, 3))) == 0.0


def test_effective_point_weight():
    w = Weights(point=0.1, noise_factor=4.0)
    assert effective_point_weight(w, h=0.01, sigma=0.0) == pytest.approx(0.1)
    assert effective_point_weight(w, h=0.01, sigma=0.005) == pytest.approx(0.05)  # 1e-4 / (1e-4 + 4 * 2.5e-5)
    assert effective_point_weight(w, h=0.1, sigma=0.005) > 0.099  # coarse levels are unaffected


def test_noisy_sphere_smoother_with_adaptive_weight():
    """Noisy points (sigma = 1% of the radius): the adaptive weight gives a surface closer to the true sphere than
    the fixed clean-data weight, and the estimated noise is reported in user units."""
    pts, nrm = sphere_points(20000, radius=0.5, seed=3)
    noisy = pts + np.random.default_rng(4).normal(scale=0.005, size=pts.shape)
    kw = dict(resolution=128, schedule=default_schedule(128, steps_scale=0.5))
    _, fixed = reconstruct(noisy, nrm, noise=0.0, **kw)
    grid, adaptive = reconstruct(noisy, nrm, noise="auto", **kw)
    err = {name: np.abs(np.linalg.norm(m.vertices, axis=1) - 0.5).mean() for name, m in
           (("fixed", fixed), ("adaptive", adaptive))}
    assert err["adaptive"] < 0.8 * err["fixed"], err
    assert 0.002 < grid.noise_sigma < 0.006


def test_parse_noise():
    assert parse_noise("auto") == "auto" and parse_noise("0.01") == 0.01 and parse_noise("0") == 0.0
    for bad in ("-1", "nan", "inf", "loud"):
        with pytest.raises(ValueError, match="--noise"):
            parse_noise(bad)
    with pytest.raises(ValueError, match="noise"):
        reconstruct(*sphere_points(100), resolution=32, noise=-1.0)
