"""The layout statistics of bench/bench_row_spacing.py on grids whose answer is known."""
import torch

from bench.bench_row_spacing import layout, per_class


def _lattice(step: float, half_width: float, k: int = 3) -> torch.Tensor:
    """2 x 2 x 2 grids on a cubic lattice of ``step``, half of each grid's values negative."""
    centres = torch.tensor([[x, y, z] for x in (0, step) for y in (0, step) for z in (0, step)], dtype=torch.float32)
    values = torch.linspace(-1, 1, k ** 3 + 1)[torch.arange(k ** 3) + (torch.arange(k ** 3) >= k ** 3 // 2)]
    return torch.cat([centres, torch.full((8, 1), half_width), values.expand(8, -1)], dim=1)


def test_layout_of_a_lattice():
    out = layout(_lattice(0.4, 0.2))
    assert abs(out["spacing"] - 2.0) < 1e-6  # nearest centre 0.4 away, half-width 0.2
    assert abs(out["width"] - 0.2) < 1e-6
    assert abs(out["inside"] - 13 / 27) < 1e-6  # 13 of the 27 values are below zero


def test_per_class_medians():
    stats = per_class(torch.stack([_lattice(0.4, 0.2), _lattice(0.2, 0.2), _lattice(0.1, 0.2)]), ["a", "a", "b"])
    assert abs(stats["a"]["spacing"] - 1.5) < 1e-6 and abs(stats["b"]["spacing"] - 0.5) < 1e-6
    assert abs(stats["all"]["spacing"] - 1.0) < 1e-6
