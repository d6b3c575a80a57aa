"""Nearest-centre loss: every predicted grid should sit on a data grid's place (msdf.flow.center_loss)."""
import torch

from msdf.flow.center_loss import center_loss

K = 3


def _rows(centres: torch.Tensor, s: float = 0.1) -> torch.Tensor:
    """Rows (1, n, 4 + K^3) with the given centres and half-width ``s`` (values do not enter the loss)."""
    n = len(centres)
    return torch.cat([centres, torch.full((n, 1), s), torch.zeros(n, K ** 3)], dim=1)[None]


def test_rows_in_any_order_cost_nothing():
    data = _rows(torch.randn(16, 3))
    assert float(center_loss(data, data, torch.ones(1))) == 0.0
    assert float(center_loss(data[:, torch.randperm(16)], data, torch.ones(1))) == 0.0


def test_an_off_surface_grid_costs_its_squared_distance_in_half_widths():
    data = _rows(torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]), s=0.1)
    pred = data.clone()
    pred[0, 0, :3] = torch.tensor([0.0, 0.3, 0.0])  # 0.3 = 3 half-widths from the nearest data centre
    loss = center_loss(pred, data, torch.tensor([0.5]))
    torch.testing.assert_close(loss, torch.tensor(0.5 * 9.0 / 2))  # t * 3^2, averaged over the 2 rows


def test_gradient_pulls_the_grid_to_the_nearest_data_centre():
    data = _rows(torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]))
    pred = data.clone()
    pred[0, 0, :3] = torch.tensor([0.2, 0.1, 0.0])
    pred.requires_grad_(True)
    center_loss(pred, data, torch.ones(1)).backward()
    step = -pred.grad[0, 0, :3]
    assert step[0] < 0 and step[1] < 0  # towards the origin, not towards (1, 0, 0)
    assert pred.grad[..., 3:].abs().sum() == 0  # only the centres move
