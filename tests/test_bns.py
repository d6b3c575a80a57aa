"""Bespoke Non-Stationary solvers: exact reproduction of Euler/midpoint, parameter count, training, persistence."""
import pytest
import torch

from msdf.flow.bns import BNSFormatError, BNSSolver, psnr_loss, solver_path, train_bns
from msdf.flow.solvers import solve
from toy_flows import gaussian_flow


def _problem(p=64, d=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    x0 = torch.randn(p, d, generator=g, dtype=torch.float64)
    mu = 3.0 * torch.randn(p, d, generator=g, dtype=torch.float64)
    return x0, mu, mu + 0.05 * x0


@pytest.mark.parametrize("init,nfe", [("euler", 5), ("euler", 8), ("midpoint", 6), ("midpoint", 8)])
def test_initialisation_reproduces_classical_solver(init, nfe):
    x0, mu, _ = _problem(8)
    v = gaussian_flow(mu, 0.05)
    bns = BNSSolver.from_solver(init, nfe)
    ref = solve(v, x0, init, nfe, return_trajectory=True)
    out = bns(v, x0, return_trajectory=True)
    assert out.nfe == ref.nfe == nfe
    assert torch.allclose(out.x, ref.x, atol=1e-12)
    # the full states of the classical solver are every (stages)-th state of the non-stationary one
    stages = 1 if init == "euler" else 2
    assert torch.allclose(out.trajectory[::stages], ref.trajectory, atol=1e-12)


@pytest.mark.parametrize("nfe", [1, 4, 7, 8, 16])
def test_parameter_count(nfe):
    assert BNSSolver.from_solver("euler", nfe).num_parameters() == nfe * (nfe + 5) // 2


def test_bad_init_rejected():
    with pytest.raises(ValueError, match="even"):
        BNSSolver.from_solver("midpoint", 5)
    with pytest.raises(ValueError, match="unknown"):
        BNSSolver.from_solver("rk2", 4)


def test_training_reduces_error_on_toy_flow():
    x0, mu, x1 = _problem(96)
    res = train_bns(lambda idx: gaussian_flow(mu[idx], 0.05), x0, x1, nfe=4, init="euler", iters=150, lr=3e-4,
                    batch_size=32, quiet=True)
    init_err = psnr_loss(BNSSolver.from_solver("euler", 4)(gaussian_flow(mu, 0.05), x0).x, x1)
    trained_err = psnr_loss(res.solver(gaussian_flow(mu, 0.05), x0).x, x1)
    assert res.best_val_loss < res.init_val_loss - 1.0
    assert trained_err < init_err - 1.0  # at least e-fold lower mean squared error
    mid8 = psnr_loss(solve(gaussian_flow(mu, 0.05), x0, "midpoint", 8).x, x1)
    assert trained_err < mid8  # 4-NFE BNS beats 8-NFE midpoint on this flow


def test_column_scale_equals_training_in_rescaled_coordinates():
    """Training with a per-column ``scale`` is training on the problem seen in coordinates ``x * scale`` (the field
    u'(x', t) = scale * u(x' / scale, t), targets x1 * scale): the solver is linear in the velocities, so both runs
    must learn the same parameters (``bench_solvers.py --loss-space msdf`` uses the normaliser's std as scale)."""
    x0, mu, x1 = _problem(64)
    scale = torch.tensor([10.0, 10.0, 0.1, 0.1, 0.1, 0.1], dtype=torch.float64)
    x = x1 + 0.01 * torch.randn_like(x1)
    assert torch.allclose(psnr_loss(x, x1, scale), psnr_loss(x * scale, x1 * scale))

    def rescaled(idx):
        v = gaussian_flow(mu[idx], 0.05)
        return lambda y, t: scale * v(y / scale, t)

    kw = dict(nfe=4, init="midpoint", iters=40, lr=1e-3, batch_size=16, quiet=True)
    weighted = train_bns(lambda idx: gaussian_flow(mu[idx], 0.05), x0, x1, scale=scale, **kw)
    moved = train_bns(rescaled, x0 * scale, x1 * scale, **kw)
    assert weighted.best_val_loss < weighted.init_val_loss
    assert abs(weighted.best_val_loss - moved.best_val_loss) < 1e-6
    for name in ("times", "a", "b_packed"):
        torch.testing.assert_close(getattr(weighted.solver, name), getattr(moved.solver, name), rtol=1e-6, atol=1e-8)


def test_save_load_roundtrip(tmp_path):
    bns = BNSSolver.from_solver("midpoint", 6)
    with torch.no_grad():
        bns.a.add_(0.1)
    path = solver_path(tmp_path, 6, 2.5)
    bns.save(path, {"guidance": 2.5})
    loaded, meta = BNSSolver.load(path)
    assert meta["guidance"] == 2.5 and meta["nfe"] == 6 and meta["num_parameters"] == 33
    for name in ("times", "a", "b_packed"):
        assert torch.equal(getattr(loaded, name), getattr(bns, name))
    path.with_suffix(".json").write_text("{not json")
    with pytest.raises(BNSFormatError, match=str(path.name)):
        BNSSolver.load(path)
    with pytest.raises(BNSFormatError, match="not found"):
        BNSSolver.load(tmp_path / "missing.safetensors")
