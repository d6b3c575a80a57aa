"""Completeness of a sample's largest piece against its nearest reference (msdf.completeness, msdf.evaluation)."""
import numpy as np
import pytest
import torch
import trimesh

from msdf.completeness import completeness
from msdf.encoder import encode
from msdf.evaluation import judge_matrices, mesh_point_cloud


def _sphere_points(count: int, radius: float = 1.0, seed: int = 0) -> np.ndarray:
    d = np.random.default_rng(seed).normal(size=(count, 3))
    return radius * d / np.linalg.norm(d, axis=1, keepdims=True)


def test_a_piece_covers_the_reference_points_within_tau():
    ref = _sphere_points(2000)
    assert completeness(ref, ref) == 1.0
    assert completeness(_sphere_points(20000, seed=1), ref) == 1.0  # another sampling of the same surface
    half = ref[ref[:, 0] > 0]
    assert completeness(half, ref) == pytest.approx(0.5, abs=0.05)  # the other half lies farther than tau = 0.1
    assert completeness(1.2 * ref, ref) == 0.0  # every point 0.2 away
    assert completeness(1.2 * ref, ref, tau=0.25) == 1.0
    assert completeness(np.zeros((0, 3)), ref) == 0.0


def test_judge_scores_a_detached_or_missing_part_below_the_complete_shape():
    """A dumbbell (two balls joined by a rod), the same balls without the rod (two pieces: wholeness 1/2) and one
    ball alone (one piece: wholeness 1), judged against the dumbbell: only the complete shape is complete."""
    balls = [trimesh.creation.icosphere(3, radius=0.5).apply_translation([x, 0.0, 0.0]) for x in (-1.0, 1.0)]
    rod = trimesh.creation.cylinder(radius=0.2, height=2.0, sections=32)
    rod.apply_transform(trimesh.transformations.rotation_matrix(np.pi / 2, [0, 1, 0]))
    dumbbell = trimesh.boolean.union([*balls, rod], engine="manifold")
    shapes = [dumbbell, trimesh.util.concatenate(balls), balls[0]]
    matrices = torch.stack([encode(s, n_grids=128, k=5, refine_steps=0).to_matrix() for s in shapes])
    ref = torch.from_numpy(mesh_point_cloud(dumbbell, 1024))[None]
    report = judge_matrices(matrices, None, ref, [None], resolution=48, n_points=1024, quiet=True)
    (whole, w_whole), (apart, w_apart), (alone, w_alone) = [(s["completeness"], s["wholeness"])
                                                            for s in report["samples"]]
    assert w_whole > 0.99 and w_alone > 0.99 and w_apart == pytest.approx(0.5, abs=0.05)
    assert whole > 0.9
    assert apart < 0.6 and alone < 0.6
    assert report["wholeness"]["median_completeness"] == pytest.approx(apart)
