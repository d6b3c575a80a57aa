"""Spacing loss: predicted grids should be as evenly spread as the data's (msdf.flow.spacing_loss)."""
import torch

from msdf.flow.spacing_loss import nearest_spacing, spacing_loss

K = 3


def _rows(centres: torch.Tensor, s: float = 0.1) -> torch.Tensor:
    """Rows (1, n, 4 + K^3) with the given centres and half-width ``s`` (values do not enter the loss)."""
    n = len(centres)
    return torch.cat([centres, torch.full((n, 1), s), torch.zeros(n, K ** 3)], dim=1)[None]


def _line(n: int, gap: float) -> torch.Tensor:
    """n centres on the x axis, ``gap`` apart."""
    return torch.stack([torch.arange(n) * gap, torch.zeros(n), torch.zeros(n)], dim=1).float()


def test_nearest_spacing_of_a_line():
    c = _line(4, 0.5)
    c[3, 0] = 2.0  # last gap 1.0
    torch.testing.assert_close(nearest_spacing(c), torch.tensor([0.5, 0.5, 0.5, 1.0]))


def test_the_data_in_any_row_order_costs_nothing():
    data = _rows(torch.randn(16, 3))
    assert float(spacing_loss(data, data, torch.ones(1))) == 0.0
    assert float(spacing_loss(data[:, torch.randperm(16)], data, torch.ones(1))) == 0.0


def test_grids_crowded_in_pairs_cost_the_squared_spacing_error_in_half_widths():
    data = _rows(_line(4, 0.2), s=0.1)  # every spacing 2 half-widths
    pred = _rows(torch.tensor([[0.0, 0, 0], [0.1, 0, 0], [0.6, 0, 0], [0.7, 0, 0]]), s=0.1)  # pairs 1 half-width
    loss = spacing_loss(pred, data, torch.tensor([0.5]))
    torch.testing.assert_close(loss, torch.tensor(0.5 * 1.0))  # t * (1 - 2)^2 for each of the 4 rows


def test_gradient_pushes_a_crowded_pair_apart():
    data = _rows(_line(4, 0.2))
    pred = _rows(torch.tensor([[0.0, 0, 0], [0.05, 0, 0], [0.4, 0, 0], [0.6, 0, 0]])).requires_grad_(True)
    spacing_loss(pred, data, torch.ones(1)).backward()
    step = -pred.grad[0, :, 0]
    assert step[0] < 0 < step[1]  # the pair at 0 and 0.05 moves apart
    assert pred.grad[..., 3:].abs().sum() == 0  # only the centres move
    assert torch.isfinite(pred.grad).all()
