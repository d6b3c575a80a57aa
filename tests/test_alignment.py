"""Grid alignment while sampling (msdf.flow.alignment): a grid whose surface sits off its neighbours' moves onto it,
along the normal only."""
import pytest
import torch
from toy_flows import train_random_run

from msdf.choices import ALIGNMENT_DEFAULT
from msdf.flow.alignment import Alignment, alignment_step
from msdf.flow.path import CondOTPath
from msdf.flow.sampler import FlowSampler

K = 5
NODES = torch.stack(torch.meshgrid(*[torch.linspace(-1, 1, K)] * 3, indexing="ij"), -1).reshape(-1, 3)  # (k^3, 3)
HALF = 0.1
DELTA = 0.02  # the moved grid's surface sits this far above its neighbours'


def rows_of(centres: torch.Tensor, sdf, moved: int | None = None) -> torch.Tensor:
    """Raw rows (1, n, 4 + k^3) of grids of half-width HALF at ``centres`` (n, 3) sampling ``sdf`` (points (m, 3) ->
    (m,)); grid ``moved`` samples ``sdf`` shifted up by DELTA along z instead (its centre stays)."""
    rows = []
    for i, c in enumerate(centres):
        nodes = c + HALF * NODES
        shift = torch.tensor([0.0, 0.0, DELTA]) if i == moved else torch.zeros(3)
        rows.append(torch.cat([c, torch.tensor([HALF]), sdf(nodes - shift)]))
    return torch.stack(rows)[None]


SHEET = torch.tensor([[x, y, 0.0] for x in (-0.1, 0.0, 0.1) for y in (-0.1, 0.0, 0.1)])  # 3 x 3 on z = 0, centre 4


def test_a_grid_off_a_plane_steps_back_onto_it():
    """Plane z = 0 (V = z): the grid carrying z - 0.02 gets the step -0.02 along z exactly (the others' blend is the
    plane's exact SDF and its lattice gradient is (0, 0, 1)); the grids that agree move far less."""
    step = alignment_step(rows_of(SHEET, lambda p: p[:, 2], moved=4))[0]
    torch.testing.assert_close(step[4], torch.tensor([0.0, 0.0, -DELTA]))
    assert step[[0, 1, 2, 3, 5, 6, 7, 8]].norm(dim=-1).max() < 0.25 * DELTA


@pytest.mark.parametrize("name", ["board", "rod"])
def test_thin_parts_step_back_along_their_normal(name):
    """A board thinner than a node spacing (|z| - 0.01; its mean gradient cancels) and a rod along x (sqrt(y^2 +
    z^2) - 0.01) carried 0.02 too high: the step points down along z, half of the offset (the node at the kink has
    a zero central difference and adds nothing), and has nothing along the part."""
    if name == "board":
        centres, sdf = SHEET, (lambda p: p[:, 2].abs() - 0.01)
        moved = 4
    else:
        centres, sdf = torch.tensor([[x, 0.0, 0.0] for x in (-0.2, -0.1, 0.0, 0.1, 0.2)]), (
            lambda p: p[:, 1:].norm(dim=-1) - 0.01)
        moved = 2
    step = alignment_step(rows_of(centres, sdf, moved=moved))[0, moved]
    assert -0.6 * DELTA < step[2] < -0.4 * DELTA
    assert step[:2].abs().max() < 1e-6


def test_a_grid_moved_along_its_plane_gets_no_step():
    """Sliding a grid within the plane it carries changes no residual: alignment acts along the normal only."""
    centres = SHEET.clone()
    centres[4, 0] = 0.03
    torch.testing.assert_close(alignment_step(rows_of(centres, lambda p: p[:, 2]))[0], torch.zeros(9, 3))


def test_consistent_grids_of_a_sphere_barely_move():
    """Grids on a sphere of radius 0.5 sampling its exact SDF: the steps are interpolation error, far below the
    0.02 offset of the tests above."""
    g = torch.Generator().manual_seed(0)
    d = torch.randn(64, 3, generator=g)
    centres = 0.5 * d / d.norm(dim=-1, keepdim=True)
    step = alignment_step(rows_of(centres, lambda p: p.norm(dim=-1) - 0.5))
    assert step.norm(dim=-1).median() < 0.1 * DELTA


def test_the_step_is_capped_and_independent_of_the_batch():
    """At most half a half-width; a sample's step does not depend on the other samples of its batch (their near
    nodes pad the gather differently)."""
    far_off = rows_of(SHEET, lambda p: p[:, 2])
    far_off[0, 4, 4:] -= 0.07  # carries z - 0.07: a raw step of -0.07 is capped at -0.05
    sphere = rows_of(SHEET, lambda p: p.norm(dim=-1) - 0.12)
    alone = alignment_step(far_off)[0]
    assert alone.norm(dim=-1).max() <= 0.5 * HALF + 1e-6
    torch.testing.assert_close(alone[4], torch.tensor([0.0, 0.0, -0.5 * HALF]))
    torch.testing.assert_close(alignment_step(torch.cat([sphere, far_off]))[1], alone)
    nothing = rows_of(SHEET, lambda p: p[:, 2] + 1.0)  # no node near the surface
    torch.testing.assert_close(alignment_step(nothing), torch.zeros(1, 9, 3))


def test_wrap_adds_the_scaled_step_inside_the_window():
    rows = rows_of(SHEET, lambda p: p[:, 2], moved=4).repeat(2, 1, 1)
    zero = torch.zeros_like(rows)

    def still(x, t):  # a velocity that leaves x where it is: the clean estimate is x itself
        return zero

    u = Alignment(3.0, t_lo=0.5, t_hi=0.9).wrap(still, CondOTPath(), lambda x: x, torch.full((3,), 2.0))(
        rows, torch.tensor([0.6, 0.95]))
    torch.testing.assert_close(u[0, :, :3], 3.0 * alignment_step(rows[:1])[0] / 2.0)
    torch.testing.assert_close(u[1], zero[1])
    torch.testing.assert_close(u[0, :, 3:], zero[0, :, 3:])
    assert Alignment(0.0).wrap(still, CondOTPath(), lambda x: x, torch.ones(3)) is still


@pytest.mark.parametrize("kwargs", [dict(strength=-1.0), dict(t_lo=0.9, t_hi=0.5)])
def test_alignment_is_checked(kwargs):
    with pytest.raises(ValueError, match="alignment needs"):
        Alignment(**kwargs)


def test_sampler_with_alignment_moves_the_sampled_centres(tmp_path):
    """The same seeds with and without alignment (a toy run whose rows carry a field): only the centres differ, and
    ``pushes=False`` (D-Flow) leaves the alignment out."""
    from msdf.generate import make_solver

    run = train_random_run(tmp_path / "run", steps=4, lr=1e-2)
    plain = FlowSampler.load(run).with_repulsion(0.0)
    aligned = FlowSampler.load(run).with_repulsion(0.0).with_alignment(8.0)
    assert FlowSampler.load(run).alignment == Alignment(ALIGNMENT_DEFAULT) and aligned.alignment.strength == 8.0
    cond = plain.condition(classes=["a", "b", "a", "b"])
    seeds = [0, 1, 2, 3]
    a, _ = plain.sample(cond, seeds, make_solver("midpoint", 8), quiet=True)
    b, _ = aligned.sample(cond, seeds, make_solver("midpoint", 8), quiet=True)
    assert not torch.allclose(a[..., :3], b[..., :3])
    x, t = torch.randn(4, a.shape[1], a.shape[2], generator=torch.Generator().manual_seed(0)), torch.full((4,), 0.7)
    with torch.no_grad():
        left_out = aligned.velocity_fn(cond, 2.0, pushes=False)(x, t)
        torch.testing.assert_close(left_out, plain.velocity_fn(cond, 2.0)(x, t))
