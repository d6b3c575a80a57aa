"""CondOT path (plain and geometry-first), loss and time samplers against hand-computed values; OT coupling."""
import itertools

import pytest
import torch

from msdf.flow.coupling import align_rows, ot_permutation
from msdf.flow.path import CondOTPath, column_weights, flow_matching_loss, sample_time


def test_interpolate_and_target_by_hand():
    x0 = torch.tensor([[[0.0, 2.0]], [[1.0, -1.0]]])  # (B=2, n=1, D=2)
    x1 = torch.tensor([[[4.0, 2.0]], [[3.0, 1.0]]])
    t = torch.tensor([0.25, 1.0])
    path = CondOTPath()
    xt = path.interpolate(x0, x1, t)
    assert torch.equal(xt, torch.tensor([[[1.0, 2.0]], [[3.0, 1.0]]]))
    assert torch.equal(path.target_velocity(x0, x1, t), torch.tensor([[[4.0, 0.0]], [[2.0, 2.0]]]))
    assert torch.equal(path.interpolate(x0, x1, torch.zeros(2)), x0)
    u = torch.tensor([[[1.0, -2.0]], [[3.0, 3.0]]])
    assert torch.equal(path.clean_estimate(xt, t, u), xt + torch.tensor([0.75, 0.0])[:, None, None] * u)


def test_geometry_first_path_by_hand():
    """Geometry columns (0-3) on the clock min(1, t / 0.5), values on t."""
    path = CondOTPath(geometry_end=0.5)
    x0, x1 = torch.zeros(3, 1, 6), torch.ones(3, 1, 6)
    t = torch.tensor([0.25, 0.5, 0.75])
    torch.testing.assert_close(path.interpolate(x0, x1, t)[:, 0],
                               torch.tensor([[0.5] * 4 + [0.25] * 2, [1.0] * 4 + [0.5] * 2, [1.0] * 4 + [0.75] * 2]))
    torch.testing.assert_close(path.target_velocity(x0, x1, t)[:, 0],
                               torch.tensor([[2.0] * 4 + [1.0] * 2, [0.0] * 4 + [1.0] * 2, [0.0] * 4 + [1.0] * 2]))
    with pytest.raises(ValueError, match="geometry_end"):
        CondOTPath(geometry_end=0.0)
    values_first = CondOTPath(values_end=0.5)  # the reverse: values on min(1, t / 0.5), geometry on t
    torch.testing.assert_close(values_first.target_velocity(x0, x1, t)[:, 0],
                               torch.tensor([[1.0] * 4 + [2.0] * 2, [1.0] * 4 + [0.0] * 2, [1.0] * 4 + [0.0] * 2]))
    with pytest.raises(ValueError, match="values_end"):
        CondOTPath(values_end=1.5)


@pytest.mark.parametrize("ends", [(1.0, 1.0), (0.6, 1.0), (0.3, 1.0), (1.0, 0.6)])
def test_path_velocity_integrates_to_the_data_and_implies_it(ends):
    """Euler on the target velocity carries x0 to x1 (the clocks' kinks fall on the grid of steps), and at every
    time the clean estimate of the target velocity is x1."""
    path = CondOTPath(*ends)
    g = torch.Generator().manual_seed(0)
    x0, x1 = torch.randn(2, 5, 9, generator=g), torch.randn(2, 5, 9, generator=g)
    steps = 20
    x = x0.clone()
    for i in range(steps):
        t = torch.full((2,), i / steps)
        torch.testing.assert_close(x, path.interpolate(x0, x1, t), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(path.clean_estimate(x, t, path.target_velocity(x0, x1, t)), x1,
                                   atol=1e-5, rtol=1e-5)
        x = x + path.target_velocity(x0, x1, t) / steps
    torch.testing.assert_close(x, x1, atol=1e-5, rtol=1e-5)


def test_loss_by_hand():
    x0 = torch.zeros(1, 1, 2)
    x1 = torch.tensor([[[1.0, 2.0]]])
    pred = torch.tensor([[[0.0, 4.0]]])
    # target (1, 2); errors (-1, 2); mean of squares = (1 + 4) / 2
    assert flow_matching_loss(pred, x1 - x0).item() == pytest.approx(2.5)


def test_time_samplers():
    g = torch.Generator().manual_seed(0)
    u = sample_time(20000, "uniform", generator=g)
    assert 0 <= u.min() and u.max() <= 1 and abs(u.mean().item() - 0.5) < 0.01
    ln = sample_time(20000, "logit_normal", loc=0.0, scale=1.0, generator=g)
    assert 0 < ln.min() and ln.max() < 1
    assert abs(ln.median().item() - 0.5) < 0.02
    # logit-normal concentrates mass in the middle compared with uniform
    assert ((ln > 0.25) & (ln < 0.75)).float().mean() > 0.6
    with pytest.raises(ValueError, match="unknown time sampler"):
        sample_time(3, "beta")


def test_a_uniform_share_puts_early_times_back_into_a_late_sampler():
    g = torch.Generator().manual_seed(0)
    late = sample_time(40000, "logit_normal", loc=1.0, generator=g)
    mixed = sample_time(40000, "logit_normal", loc=1.0, uniform_share=0.3, generator=g)
    early = lambda t: (t < 0.3).float().mean().item()  # noqa: E731
    # P(sigmoid(1 + z) < 0.3) = Phi(logit(0.3) - 1) = Phi(-1.85) = 0.032; the mixture adds 0.3 * 0.3 = 0.09
    assert early(late) == pytest.approx(0.032, abs=0.004)
    assert early(mixed) == pytest.approx(0.3 * 0.3 + 0.7 * 0.032, abs=0.006)
    assert sample_time(20000, "logit_normal", loc=3.0, uniform_share=1.0, generator=g).mean().item() == \
        pytest.approx(0.5, abs=0.01)
    with pytest.raises(ValueError, match="uniform_share"):
        sample_time(3, "logit_normal", uniform_share=1.5)


def _cost(x0, x1, perm):
    return (x1 - x0[perm]).pow(2).sum().item()


def test_ot_matches_brute_force_and_beats_identity():
    g = torch.Generator().manual_seed(1)
    x0, x1 = torch.randn(6, 3, 2, generator=g), torch.randn(6, 3, 2, generator=g)
    perm = ot_permutation(x0, x1)
    best = min(_cost(x0, x1, torch.tensor(p)) for p in itertools.permutations(range(6)))
    assert _cost(x0, x1, perm) == pytest.approx(best)
    assert _cost(x0, x1, perm) <= _cost(x0, x1, torch.arange(6))
    assert sorted(perm.tolist()) == list(range(6))


def test_ot_pairs_only_within_groups():
    g = torch.Generator().manual_seed(2)
    x1 = torch.randn(12, 4, 3, generator=g)
    x0 = torch.randn(12, 4, 3, generator=g)
    groups = torch.tensor([0, 1, 2] * 4)
    perm = ot_permutation(x0, x1, groups)
    assert torch.equal(groups[perm], groups)
    assert _cost(x0, x1, perm) < _cost(x0, x1, torch.arange(12))
    # within each group, it is the exact optimum
    for gid in range(3):
        idx = torch.nonzero(groups == gid).flatten()
        best = min(_cost(x0[idx], x1[idx], torch.tensor(p)) for p in itertools.permutations(range(len(idx))))
        local = {int(a): i for i, a in enumerate(idx)}
        sub = torch.tensor([local[int(perm[i])] for i in idx])
        assert _cost(x0[idx], x1[idx], sub) == pytest.approx(best)


def test_weighted_loss_by_hand():
    w = column_weights(6, 4.0)  # 4 geometry columns weight 4, 2 value columns weight 1, rescaled to mean 1
    torch.testing.assert_close(w, torch.tensor([4.0, 4.0, 4.0, 4.0, 1.0, 1.0]) * (6 / 18))
    assert column_weights(6, 1.0) is None
    x0 = torch.zeros(1, 1, 6)
    x1 = torch.tensor([[[1.0, 0, 0, 0, 0, 2.0]]])
    pred = torch.zeros(1, 1, 6)
    # errors^2 = (1, 0, 0, 0, 0, 4); weighted mean = (4/3 * 1 + 1/3 * 4) / 6
    assert flow_matching_loss(pred, x1 - x0, w).item() == pytest.approx((4 / 3 + 4 / 3) / 6)


def test_row_alignment_is_each_samples_exact_assignment():
    g = torch.Generator().manual_seed(3)
    x0, x1 = torch.randn(3, 5, 4, generator=g), torch.randn(3, 5, 4, generator=g)
    aligned = align_rows(x0, x1)
    for b in range(3):
        # the same rows (a reordering of this sample's noise), at the brute-force optimum
        assert sorted(map(tuple, aligned[b].tolist())) == sorted(map(tuple, x0[b].tolist()))
        best = min(float((x1[b] - x0[b, list(p)]).pow(2).sum()) for p in itertools.permutations(range(5)))
        assert float((x1[b] - aligned[b]).pow(2).sum()) == pytest.approx(best)
    with pytest.raises(ValueError, match="align_rows"):
        align_rows(x0[0], x1[0])
