"""Grid repulsion while sampling (msdf.flow.repulsion): crowded grids move apart along their surface, nothing else."""
import pytest
import torch
from toy_flows import train_random_run

from msdf.choices import REPULSION_DEFAULT, REPULSION_RADIUS_DEFAULT
from msdf.flow.path import CondOTPath
from msdf.flow.repulsion import Repulsion, repulsion_force
from msdf.flow.sampler import FlowSampler
from msdf.flow.spacing_loss import nearest_spacing

K = 5
NODES = torch.stack(torch.meshgrid(*[torch.linspace(-1, 1, K)] * 3, indexing="ij"), -1).reshape(-1, 3)  # (k^3, 3)


def plane_rows(centres: torch.Tensor, half: float, normal=(0.0, 0.0, 1.0)) -> torch.Tensor:
    """Raw rows (1, n, 4 + k^3) of grids with half-width ``half`` at ``centres`` (n, 3) carrying the exact SDF of
    the plane through the origin with unit ``normal``: V = n . x at every node x."""
    n = torch.tensor(normal)
    nodes = centres[:, None, :] + half * NODES[None]  # (n, k^3, 3)
    values = nodes @ n
    return torch.cat([centres, torch.full((len(centres), 1), half), values], dim=-1)[None]


def test_push_stays_on_planes_boards_and_rods():
    """A push along x and y on grids of the plane z = 0, of a board thinner than the grid (SDF |z| - 0.01, whose mean
    gradient cancels) and of a rod along x (SDF sqrt(y^2 + z^2) - 0.02): the plane and the board keep x and y, the
    rod keeps x only (up to the lattice); none moves along z."""
    pair = torch.tensor([[0.0, 0.0, 0.0], [0.03, 0.04, 0.0]])  # 0.05 apart: each pushed by 0.05 along (0.6, 0.8)
    plane = plane_rows(pair, 0.1)
    board = plane.clone()
    board[..., 4:] = board[..., 4:].abs() - 0.01
    rod = plane.clone()
    nodes = pair[:, None, :] + 0.1 * NODES[None]
    rod[..., 4:] = nodes[..., 1:].norm(dim=-1) - 0.02
    push = torch.tensor([0.03, 0.04, 0.0])
    for rows in (plane, board):
        torch.testing.assert_close(repulsion_force(rows, radius=1.0)[0, 1], push)
    along_rod = repulsion_force(rod, radius=1.0)[0, 1]  # the lattice makes the cross-section a little anisotropic
    assert abs(along_rod[0] - 0.03) < 1e-3 and along_rod[1:].norm() < 0.1 * 0.04


def test_crowded_pair_moves_apart_along_the_surface():
    """Two grids on the plane z = 0, 0.5 half-widths apart along x, with r = 1: each moves by s (r - d/s) = 0.05
    away from the other, along x; a third grid 3 half-widths away feels nothing."""
    s = 0.1
    rows = plane_rows(torch.tensor([[0.0, 0.0, 0.0], [0.05, 0.0, 0.0], [0.0, 0.3, 0.0]]), s)
    f = repulsion_force(rows, radius=1.0)[0]
    torch.testing.assert_close(f[0], torch.tensor([-0.05, 0.0, 0.0]))
    torch.testing.assert_close(f[1], torch.tensor([0.05, 0.0, 0.0]))
    torch.testing.assert_close(f[2], torch.zeros(3))


def test_push_along_the_normal_is_removed():
    """Two grids stacked along the plane's normal: the push would move them off the surface, so it is zero."""
    rows = plane_rows(torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, 0.05]]), 0.1)
    torch.testing.assert_close(repulsion_force(rows, radius=1.0), torch.zeros(1, 2, 3))
    diagonal = plane_rows(torch.tensor([[0.0, 0.0, 0.0], [0.03, 0.0, 0.04]]), 0.1)  # 0.05 apart, 3:4 in x:z
    f = repulsion_force(diagonal, radius=1.0)[0]
    torch.testing.assert_close(f[:, 2], torch.zeros(2))
    torch.testing.assert_close(f[1, 0], torch.tensor(0.05 * 0.6))
    blob = diagonal.clone()  # the SDF of a point: every direction varies alike (up to the lattice), no push
    blob[..., 4:] = (diagonal[..., None, :3] + 0.1 * NODES).norm(dim=-1)
    assert repulsion_force(blob, radius=1.0).abs().max() < 0.2 * 0.05


def test_evenly_spaced_grids_feel_nothing():
    """Grids 1.2 half-widths apart on a lattice of the plane (the encoder's spacing) are left as they are at r = 1."""
    xy = torch.stack(torch.meshgrid(torch.arange(4.0), torch.arange(4.0), indexing="ij"), -1).reshape(-1, 2) * 0.12
    rows = plane_rows(torch.cat([xy, torch.zeros(16, 1)], dim=-1), 0.1)
    assert repulsion_force(rows, radius=1.0).abs().max() == 0


def identity_frame(x: torch.Tensor) -> torch.Tensor:
    return x


def test_wrap_pushes_centres_only_inside_the_window():
    rows = plane_rows(torch.tensor([[0.0, 0.0, 0.0], [0.05, 0.0, 0.0]]), 0.1).repeat(3, 1, 1)
    zero = torch.zeros_like(rows)

    def still(x, t):  # a velocity that leaves x where it is: the clean estimate is x itself
        return zero

    rep = Repulsion(strength=2.0, radius=1.0, t_lo=0.5, t_hi=0.9)
    u = rep.wrap(still, CondOTPath(), identity_frame, torch.ones(3))(rows, torch.tensor([0.2, 0.6, 0.95]))
    torch.testing.assert_close(u[[0, 2]], zero[[0, 2]])  # outside [0.5, 0.9)
    torch.testing.assert_close(u[1, :, :3], 2.0 * repulsion_force(rows[1:2], 1.0)[0])
    torch.testing.assert_close(u[1, :, 3:], zero[1, :, 3:])  # half-widths and values untouched
    assert Repulsion(0.0).wrap(still, CondOTPath(), identity_frame, torch.ones(3)) is still


@pytest.mark.parametrize("kwargs", [dict(strength=-1.0), dict(radius=0.0), dict(t_lo=0.9, t_hi=0.5)])
def test_repulsion_is_checked(kwargs):
    with pytest.raises(ValueError, match="repulsion needs"):
        Repulsion(**kwargs)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny class-conditional run (rows of 4 + 2^3 columns)."""
    return train_random_run(tmp_path_factory.mktemp("repel") / "run", steps=4, lr=1e-2)


def test_sampler_with_repulsion_spreads_the_sampled_centres(run):
    """The same seeds sampled with and without repulsion: the nearest-centre distances grow (median over the
    samples' grids), and only the repelled sampler differs."""
    from msdf.generate import make_solver

    plain, repelled = FlowSampler.load(run).with_repulsion(0.0), FlowSampler.load(run).with_repulsion(8.0, radius=2.0)
    assert plain.repulsion.strength == 0.0 and repelled.repulsion.radius == 2.0
    assert FlowSampler.load(run).repulsion == Repulsion(REPULSION_DEFAULT, REPULSION_RADIUS_DEFAULT)
    cond = plain.condition(classes=["a", "b", "a", "b"])
    seeds = [0, 1, 2, 3]
    a, _ = plain.sample(cond, seeds, make_solver("midpoint", 8), quiet=True)
    b, _ = repelled.sample(cond, seeds, make_solver("midpoint", 8), quiet=True)
    again, _ = FlowSampler.load(run).with_repulsion(0.0).sample(cond, seeds, make_solver("midpoint", 8), quiet=True)
    torch.testing.assert_close(a, again)
    assert nearest_spacing(b[..., :3]).median() > nearest_spacing(a[..., :3]).median()


def test_velocity_fn_can_leave_the_repulsion_out(run):
    """D-Flow asks for the plain velocity (``pushes=False``); inside the window the repelled sampler's differs (a radius
    of 50 mean half-widths: every pair of the toy's random rows is crowded)."""
    sampler = FlowSampler.load(run).with_repulsion(4.0, radius=50.0)
    cond = sampler.condition(classes=["a", "b"])
    x, t = torch.randn(2, 6, 12, generator=torch.Generator().manual_seed(0)), torch.full((2,), 0.7)
    with torch.no_grad():
        plain = FlowSampler.load(run).with_repulsion(0.0).velocity_fn(cond, 2.0)(x, t)
        torch.testing.assert_close(sampler.velocity_fn(cond, 2.0, pushes=False)(x, t), plain)
        assert (sampler.velocity_fn(cond, 2.0)(x, t) - plain)[..., :3].abs().max() > 0
