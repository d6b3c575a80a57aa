"""Shell leak: an exact sphere's grids keep the outside away from its inside; remove the grids of a cap and the
core behind the hole joins the outside (its inside rim becomes part of the exterior's rim) and decodes hollow."""
import numpy as np
import pytest

from analytic_msdf import sphere_msdf
from msdf.decoder import decode
from msdf.marching import decode_volume
from msdf.representation import MosaicSDF
from msdf.rows import CENTERS
from msdf.sealing import lattice_leak, shell_leak
from msdf.wholeness import summarize


def sphere_rows(radius: float = 0.8, n: int = 256) -> np.ndarray:
    return sphere_msdf(radius, n, k=5).to_matrix().numpy()


def without_cap(m: np.ndarray) -> np.ndarray:
    """The rows whose centres lie below z = 0.6 (the sphere of radius 0.8 loses a cap about 0.4 wide)."""
    return m[m[:, CENTERS][:, 2] < 0.6]


def test_an_exact_encoding_is_sealed():
    m = sphere_rows()
    assert shell_leak(m) == 0.0


def test_a_missing_cap_opens_the_core():
    """The exterior's rim gains the core's inner rim: a share near (0.8 - s)^2 / ((0.8 - s)^2 + (0.8 + s)^2)."""
    m = without_cap(sphere_rows())
    s = float(np.median(m[:, 3]))
    inner, outer = (0.8 - s) ** 2, (0.8 + s) ** 2
    assert len(m) < 256
    assert shell_leak(m) == pytest.approx(inner / (inner + outer), abs=0.08)


def test_the_open_shell_decodes_hollow():
    """The inside of the open shell is outside: an inner surface appears, the enclosed volume collapses."""
    whole = decode(MosaicSDF.from_matrix(sphere_rows()), resolution=64)
    holed = decode(MosaicSDF.from_matrix(without_cap(sphere_rows())), resolution=64)
    assert whole.volume == pytest.approx(4 / 3 * np.pi * 0.8 ** 3, rel=0.05)
    assert holed.volume < 0.6 * whole.volume
    assert holed.area > 1.4 * whole.area  # the inner surface along the inside of the shell


def test_a_surface_that_leaves_the_grids_leaks_a_little():
    """A covered block whose inside reaches one face of its border: the exterior's rim holds those inside nodes."""
    covered = np.zeros((6, 6, 6), dtype=bool)
    covered[1:5, 1:5, 1:5] = True
    field = np.ones((6, 6, 6))
    assert lattice_leak(covered, field) == 0.0
    field[2:4, 2:4, 1:4] = -1.0                      # the inside reaches the z = 1 face: 4 of its nodes
    assert lattice_leak(covered, field) == pytest.approx(4 / (6 * 16))


def test_lattice_leak_counts_the_inside_rim_of_an_opened_pocket():
    """A covered cube shell (7^3 nodes) around a 3^3 pocket, its layer next to the pocket inside; a one-node tunnel
    through the z = 1 and z = 2 layers joins the pocket to the border. Exterior rim pairs after: the outer faces
    (6 * 49, minus the tunnel's own) and the tunnel's 4 sides in the outer layer = 297 outside; the pocket's faces
    (6 * 9, minus the tunnel's) and the tunnel's 4 sides in the inside layer = 57 inside."""
    covered = np.zeros((9, 9, 9), dtype=bool)
    covered[1:8, 1:8, 1:8] = True
    covered[3:6, 3:6, 3:6] = False                   # the pocket
    field = np.ones((9, 9, 9))
    field[2:7, 2:7, 2:7] = -1.0                      # the layer around the pocket is inside
    assert lattice_leak(covered, field) == 0.0
    covered[4, 4, 1:3] = False                       # the tunnel
    assert lattice_leak(covered, field) == pytest.approx(57 / (57 + 297))


def test_an_invalid_matrix_has_no_leak_and_summaries_count_it_open():
    m = sphere_rows()
    m[0, 0] = np.nan
    assert shell_leak(m) is None
    base = {"wholeness": 1.0, "components": 1}
    s = summarize([{**base, "leak": 0.0}, {**base, "leak": None}, {**base, "leak": 0.005}, {**base, "leak": 0.3}])
    assert s["median_leak"] == pytest.approx(0.1525) and s["share_open"] == 0.5
    assert "median_leak" not in summarize([base])


def test_nearest_convention_keeps_the_open_shell_solid():
    """mc-nearest signs the pocket behind the hole by its rim (inside); the default makes it outside."""
    holed = MosaicSDF.from_matrix(without_cap(sphere_rows()))
    for uncovered, inside in (("enclosed", False), ("nearest", True)):
        volume, covered, lattice = decode_volume(holed, 48, uncovered=uncovered)
        centre = tuple(np.round(-lattice.lo / lattice.h).astype(int))  # the node at the origin
        assert not covered[centre] and (volume[centre] < 0) == inside


def test_both_conventions_decode_an_encoding_alike():
    shape = MosaicSDF.from_matrix(sphere_rows())
    a, b = decode(shape, resolution=48), decode(shape, resolution=48, method="mc-nearest")
    assert np.array_equal(a.vertices, b.vertices) and np.array_equal(a.faces, b.faces)


def test_unknown_convention_is_refused():
    with pytest.raises(ValueError, match="unknown convention"):
        decode_volume(MosaicSDF.from_matrix(sphere_rows()), 16, uncovered="zero")
