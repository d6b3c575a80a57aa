"""Companded SDF values (symlog, ``value_scale``): exact round trip, finer steps near the surface, saved with the run."""
import numpy as np
import pytest
import torch

from msdf.flow.normalizer import V_MAX, Normalizer, compand, expand
from msdf.flow.sampler import FlowSampler
from msdf.rows import VALUES
from toy_flows import train_random_run


def test_compand_is_identity_near_zero_logarithmic_far_and_inverted_by_expand():
    a = 0.02
    v = torch.tensor([-1.5, -0.3, -0.02, -1e-4, 0.0, 1e-4, 0.02, 0.3, 1.5], dtype=torch.float64)
    c = compand(v, a)
    assert float(c[5]) == pytest.approx(1e-4, rel=1e-2)  # slope 1 at the surface
    assert float(c[6]) == pytest.approx(a * np.log(2.0))  # |v| = a -> a log 2
    assert torch.equal(torch.sign(c), torch.sign(v)) and bool((c.diff() > 0).all())  # odd and increasing
    torch.testing.assert_close(expand(c, a), v)
    assert float(expand(torch.tensor(1e3), a)) == pytest.approx(V_MAX)  # saturates, never overflows


def test_fit_standardises_the_companded_values_and_round_trips():
    rng = np.random.default_rng(0)
    m = torch.tensor(rng.normal(0.0, 0.1, size=(5, 7, 4 + 8)))
    norm = Normalizer.fit(m, value_scale=0.03, chunk=2)  # accumulated over three chunks of shapes
    z = norm.normalize(m)
    flat = z.reshape(-1, z.shape[-1])
    torch.testing.assert_close(flat.mean(0), torch.zeros(12, dtype=flat.dtype), atol=1e-5, rtol=0)
    torch.testing.assert_close(flat.std(0, correction=0), torch.ones(12, dtype=flat.dtype), atol=1e-5, rtol=0)
    torch.testing.assert_close(norm.denormalize(z), m, atol=1e-6, rtol=0)
    linear = Normalizer.fit(m)
    assert float(norm.std[VALUES].mean()) < float(linear.std[VALUES].mean())  # values in finer standardised steps
    torch.testing.assert_close(norm.std[:4], linear.std[:4])  # centres and half-widths untouched


def test_a_value_error_moves_the_surface_less_than_without_companding():
    """The same error in standardised units (what the flow model makes) is a smaller SDF error near the surface."""
    rng = np.random.default_rng(1)
    m = torch.tensor(rng.normal(0.0, 0.1, size=(6, 9, 12)))
    m[0, 0, 4] = 0.0  # a value on the surface
    for scale in (0.05, 0.02):
        norm = Normalizer.fit(m, value_scale=scale)
        z = norm.normalize(m)
        z[0, 0, 4] += 0.1
        moved = float(norm.denormalize(z)[0, 0, 4])
        assert 0 < moved < 0.1 * float(Normalizer.fit(m).std[4])


def test_the_run_saves_and_the_sampler_applies_the_value_scale(tmp_path):
    run = train_random_run(tmp_path / "run", value_scale=0.05)
    sampler = FlowSampler.load(run)
    assert sampler.normalizer.value_scale == 0.05 and sampler.config["value_scale"] == 0.05
    raw = torch.randn(2, 6, 12, dtype=torch.float64) * 0.1
    torch.testing.assert_close(sampler.denormalize(sampler.normalize(raw)), raw)
    with pytest.raises(ValueError, match="value_scale"):
        train_random_run(tmp_path / "bad", value_scale=0.0)
