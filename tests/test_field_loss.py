"""Field-space loss: predicted grids read at the data grids' nodes (msdf.flow.field_loss)."""
import torch

from msdf.flow.field_loss import field_loss, node_offsets, predicted_field_at_data_nodes

K = 5


def _plane_rows(centres: torch.Tensor, s: float, normal: torch.Tensor, offset: float) -> torch.Tensor:
    """Rows (1, n, 4 + K^3) sampling the plane SDF f(x) = normal . x - offset."""
    nodes = centres[:, None, :] + s * node_offsets(K)  # (n, K^3, 3)
    values = nodes @ normal - offset
    return torch.cat([centres, torch.full((len(centres), 1), s), values], dim=1)[None]


def test_identical_rows_read_back_their_values():
    rows = _plane_rows(torch.randn(7, 3), 0.2, torch.tensor([0.6, 0.0, 0.8]), 0.1)
    rows[..., 4:] += 0.01 * torch.randn(1, 7, K ** 3)  # any values, not only linear ones
    torch.testing.assert_close(predicted_field_at_data_nodes(rows, rows, K), rows[..., 4:], atol=1e-5, rtol=0)


def test_moving_a_grid_along_the_surface_is_free_and_across_costs_the_distance():
    normal = torch.tensor([0.0, 0.0, 1.0])
    centres = torch.zeros(4, 3)
    data = _plane_rows(centres, 0.3, normal, 0.0)
    along = _plane_rows(centres + torch.tensor([0.05, -0.04, 0.0]), 0.3, normal, 0.0)
    t = torch.ones(1)
    assert field_loss(along, data, t, K, 1.0) < 1e-10  # the surface did not move
    # moving the grid by 0.05 across the plane but keeping its values shifts the surface by 0.05
    across = data.clone()
    across[..., 2] += 0.05
    loss = field_loss(across, data, t, K, 1.0)
    # nodes still inside the moved cube read the field shifted by 0.05; those outside read the border value
    assert 0.5 * 0.05 ** 2 < loss <= 0.05 ** 2 + 1e-6
    assert field_loss(across, data, 0.5 * t, K, 1.0) == 0.5 * loss  # weighted by t


def test_gradient_reaches_centres_and_values():
    data = _plane_rows(torch.randn(3, 3), 0.2, torch.tensor([1.0, 0.0, 0.0]), 0.0)
    pred = (data + 0.02 * torch.randn_like(data)).requires_grad_(True)
    field_loss(pred, data, torch.ones(1), K, 0.1).backward()
    assert pred.grad[..., :3].abs().sum() > 0 and pred.grad[..., 4:].abs().sum() > 0


def test_surface_weight_moves_the_loss_to_near_surface_nodes():
    """An error at the surface costs more than the same error far from it once lambda > 0; a uniform error keeps
    the plain loss (the weights are normalised); lambda = 0 is the plain loss."""
    s = 0.3
    data = _plane_rows(torch.zeros(1, 3), s, torch.tensor([0.0, 0.0, 1.0]), 0.0)
    values = data[..., 4:]
    near, far = values.abs() < 1e-6, values.abs() > 0.25  # the nodes on the plane, those a half-width away
    t = torch.ones(1)

    def loss_with_error_at(mask: torch.Tensor, lam: float) -> torch.Tensor:
        pred = data.clone()
        pred[..., 4:] += 0.01 * mask.float() / mask.float().mean().sqrt()  # the same total squared error
        return field_loss(pred, data, t, K, 1.0, surface_weight=lam)

    assert torch.isclose(loss_with_error_at(near, 0.0), loss_with_error_at(far, 0.0), rtol=1e-4)
    assert loss_with_error_at(near, 4.0) > 3.0 * loss_with_error_at(far, 4.0)
    uniform = data.clone()
    uniform[..., 4:] += 0.01
    torch.testing.assert_close(field_loss(uniform, data, t, K, 1.0, surface_weight=4.0),
                               field_loss(uniform, data, t, K, 1.0))
