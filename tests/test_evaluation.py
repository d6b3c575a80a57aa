"""Generation metrics on sets with known answers."""
import numpy as np
import pytest
import torch
import trimesh

from msdf.evaluation import (chamfer_matrix, conditional_accuracy, generation_metrics, load_reference, markdown_table,
                             neighbour_distances, normalize_bbox)


def _ellipsoids(count, seed, points=96):
    """Point clouds on random ellipsoids (axes in [0.5, 1]) with random poses."""
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(count, points, 3, generator=g)
    u = u / u.norm(dim=2, keepdim=True)
    axes = 0.5 + 0.5 * torch.rand(count, 1, 3, generator=g)
    return u * axes + torch.randn(count, 1, 3, generator=g)


def _cubes(count, seed, points=96):
    """Point clouds on the surface of unit cubes (a different shape family)."""
    g = torch.Generator().manual_seed(seed)
    p = torch.rand(count, points, 3, generator=g) * 2 - 1
    face = torch.randint(3, (count, points), generator=g)
    sign = torch.randint(2, (count, points), generator=g).float() * 2 - 1
    p.scatter_(2, face[..., None], sign[..., None])
    return p


@pytest.mark.parametrize("method", ["kdtree", "brute", "keops"])
def test_chamfer_matches_reference(method):
    a, b = _ellipsoids(3, 0, 50), _cubes(4, 1, 70)
    d = chamfer_matrix(a, b, method=method, chunk=3)
    for i in range(3):
        for j in range(4):
            x, y = a[i].numpy().astype(np.float64), b[j].numpy().astype(np.float64)
            pair = ((x[:, None] - y[None]) ** 2).sum(-1)
            ref = pair.min(1).mean() + pair.min(0).mean()
            assert d[i, j].item() == pytest.approx(ref, rel=1e-4, abs=1e-6)


def test_chamfer_symmetric_shortcut_equals_full():
    a = _ellipsoids(5, 2, 40)
    half = chamfer_matrix(a, a, method="kdtree")
    full = chamfer_matrix(a, a.clone(), method="kdtree")
    assert torch.allclose(half, full, atol=1e-7)
    assert torch.all(torch.diagonal(half) == 0)
    with pytest.raises(ValueError, match="unknown Chamfer method"):
        chamfer_matrix(a, a, method="exact")


def test_normalize_bbox():
    p = normalize_bbox(torch.tensor([[[0.0, 0.0, 0.0], [4.0, 2.0, 1.0], [1.0, 1.0, 1.0]]]))
    assert torch.allclose(p.amax(1), torch.tensor([[1.0, 0.5, 0.25]]))
    assert torch.allclose(p.amin(1), torch.tensor([[-1.0, -0.5, -0.25]]))


def test_identical_sets():
    x = _ellipsoids(12, 0)
    m = generation_metrics(x, x.clone())
    assert m["cov"] == 1.0
    assert m["mmd_cd"] == pytest.approx(0.0, abs=1e-6)
    assert m["1nna_cd"] == 0.0  # every shape's nearest neighbour is its twin in the other set


def test_same_distribution_gives_about_half():
    m = generation_metrics(_ellipsoids(60, 1), _ellipsoids(60, 2))
    assert 0.38 <= m["1nna_cd"] <= 0.62, m


def test_disjoint_sets():
    m = generation_metrics(_cubes(20, 3), _ellipsoids(20, 4))
    assert m["1nna_cd"] == 1.0
    assert m["mmd_cd"] > 0.01


def test_neighbour_distances_exclude_self_matches():
    d_gg = torch.tensor([[0.0, 1.0, 3.0], [1.0, 0.0, 2.0], [3.0, 2.0, 0.0]])  # nearest others: 1, 1, 2
    d_rr = torch.tensor([[0.0, 4.0], [4.0, 0.0]])
    d_gr = torch.tensor([[5.0, 7.0], [6.0, 9.0], [8.0, 7.5]])  # rows' minima 5, 6, 7.5; columns' 5, 7
    nn = neighbour_distances(d_gg, d_rr, d_gr)
    assert nn == {"gen_gen": 1.0, "gen_ref": 6.0, "ref_ref": 4.0, "ref_gen": 5.0}
    assert neighbour_distances(d_gg[:1, :1], d_rr, d_gr[:1])["gen_gen"] is None


def test_neighbour_distances_tell_an_offset_group_from_a_scatter():
    refs = _ellipsoids(12, 1)
    offset = _cubes(1, 2).repeat(12, 1, 1) + 0.01 * torch.randn(12, 96, 3, generator=torch.Generator().manual_seed(3))
    grouped, scattered = generation_metrics(offset, refs), generation_metrics(_ellipsoids(12, 4), refs)
    assert grouped["1nna_cd"] == 1.0  # separable both ways ...
    g = grouped["nn_cd"]
    assert g["gen_gen"] < 0.1 * g["ref_ref"] and g["gen_ref"] > g["ref_ref"]  # ... as a tight group of its own
    s = scattered["nn_cd"]
    assert 0.5 < s["gen_gen"] / s["ref_ref"] < 2 and 0.5 < s["gen_ref"] / s["ref_ref"] < 2


def test_conditional_accuracy_and_table():
    refs = torch.cat([_cubes(5, 5), _ellipsoids(5, 6)])
    labels = ["cube"] * 5 + ["ellipsoid"] * 5
    gen = torch.cat([_cubes(3, 7), _ellipsoids(3, 8)])
    d = chamfer_matrix(normalize_bbox(gen), normalize_bbox(refs))
    acc = conditional_accuracy(d, ["cube", "cube", "cube", "cube", "cube", "ellipsoid"], labels)
    # the first three are cubes (hits), samples 4-5 asked for cubes but are ellipsoids, the last is an ellipsoid
    assert acc["accuracy"] == pytest.approx(4 / 6)
    assert acc["per_class"] == {"cube": pytest.approx(3 / 5), "ellipsoid": 1.0}
    report = {"overall": generation_metrics(gen, refs), "conditional": acc,
              "per_class": {"cube": generation_metrics(gen[:3], refs[:5])}}
    table = markdown_table(report)
    assert table.count("\n") == 4 and "| cube | 3 | 5 |" in table
    cube = generation_metrics(gen[:3], refs[:5])["nn_cd"]
    assert f"| {1e3 * cube['gen_gen']:.1f} / {1e3 * cube['gen_ref']:.1f} / {1e3 * cube['ref_ref']:.1f} |" in table


def test_failed_samples_are_misses_whatever_their_nearest_reference():
    refs = torch.cat([_cubes(3, 5), _ellipsoids(3, 6)])
    labels = ["cube"] * 3 + ["ellipsoid"] * 3
    gen = _cubes(2, 7)
    d = chamfer_matrix(normalize_bbox(gen), normalize_bbox(refs))
    acc = conditional_accuracy(d, ["cube", "cube"], labels, failed=[False, True])
    assert acc["accuracy"] == 0.5 and acc["predicted"] == ["cube", None]


def test_load_reference_from_mesh_folder(tmp_path):
    (tmp_path / "a").mkdir()
    trimesh.creation.box().export(tmp_path / "a" / "box.obj")
    trimesh.creation.icosphere(2).export(tmp_path / "ball.ply")
    (tmp_path / "captions.csv").write_text("file,label,caption\nball.ply,sphere,a round ball\n")
    clouds, labels, captions = load_reference(tmp_path, n_points=256, quiet=True)
    assert clouds.shape == (2, 256, 3)
    assert labels == ["a", "sphere"] and captions == [None, "a round ball"]
    assert np.allclose(clouds[1].norm(dim=1).numpy(), 1.0, atol=0.02)
    with pytest.raises(FileNotFoundError, match="missing"):
        load_reference(tmp_path / "missing")


def test_requested_conditions_carry_the_reference_label_for_text_models():
    from types import SimpleNamespace

    from msdf.evaluation import requested_conditions

    text = SimpleNamespace(cond_type="text", class_names=[])
    prompts, classes, labels = requested_conditions(text, 3, ["chair", None, "table"], ["a chair", None, "a table"])
    assert prompts == ["a chair", "a table", "a chair"] and classes is None and labels == ["chair", "table", "chair"]
    _, _, unlabeled = requested_conditions(text, 2, [None, None], ["a chair", "a table"])
    assert unlabeled is None  # no labels: no conditional accuracy
    cls = SimpleNamespace(cond_type="class", class_names=["chair", "table"])
    _, classes, labels = requested_conditions(cls, 2, ["table", "chair"], [None, None])
    assert classes == labels == ["table", "chair"]
