"""The training optimiser (torch's fused AdamW) and the EMA's single foreach update."""
import torch
from torch import nn

from msdf.flow.ema import EMA
from msdf.flow.trainer import train


def _net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 7), nn.LayerNorm(7), nn.Linear(7, 3))


def _steps(opt: torch.optim.Optimizer, net: nn.Module, count: int = 5) -> None:
    x = torch.randn(16, 5, generator=torch.Generator().manual_seed(1))
    for _ in range(count):
        opt.zero_grad()
        net(x).square().mean().backward()
        opt.step()


def test_training_uses_the_fused_adamw_and_saves_it_as_fused(tmp_path):
    """The run's optimiser is torch's fused AdamW (one kernel per update, not the per-tensor loop), and its saved
    state says so (a resumed run keeps the optimiser settings it saved)."""
    from msdf.flow.checkpoint import latest_checkpoint, load_torch
    from tests.test_flow_trainer import _config, _store

    train(_store(), _config(steps=2, ckpt_every=100), tmp_path / "run", quiet=True)
    state = load_torch(latest_checkpoint(tmp_path / "run")[0] / "optim.pt")
    assert state["param_groups"][0]["fused"] is True


def test_fused_adamw_is_the_default_update():
    """Same algorithm as torch's default AdamW: five steps agree to float rounding."""
    fused_net, loop_net = _net(), _net()
    fused = torch.optim.AdamW(fused_net.parameters(), lr=1e-2, betas=(0.9, 0.99), weight_decay=0.05, fused=True)
    loop = torch.optim.AdamW(loop_net.parameters(), lr=1e-2, betas=(0.9, 0.99), weight_decay=0.05)
    _steps(fused, fused_net)
    _steps(loop, loop_net)
    for a, b in zip(fused_net.parameters(), loop_net.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_ema_update_is_the_warmed_up_lerp_of_every_parameter_and_copies_buffers():
    net = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))
    ema = EMA(net, decay=0.9)
    before = [p.detach().clone() for p in ema.module.parameters()]
    with torch.no_grad():
        for p in net.parameters():
            p.add_(1.0)
        net[1].running_mean.fill_(2.5)
    ema.update(net, step=100)
    d = ema.current_decay(100)
    assert d == 0.9
    for e, b, p in zip(ema.module.parameters(), before, net.parameters()):
        torch.testing.assert_close(e, d * b + (1 - d) * p.detach())
    assert torch.equal(ema.module[1].running_mean, torch.full((4,), 2.5))


def test_ema_follows_weights_loaded_into_it():
    net = _net()
    ema = EMA(net, decay=0.5)
    other = _net(seed=3)
    ema.module.load_state_dict(other.state_dict())  # as a resumed run does
    ema.update(net, step=10 ** 6)
    for e, o, p in zip(ema.module.parameters(), other.parameters(), net.parameters()):
        torch.testing.assert_close(e, 0.5 * o.detach() + 0.5 * p.detach())
