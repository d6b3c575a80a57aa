"""``msdf.adam.adam_minimize``: the same iterates as ``torch.optim.Adam``, and encoding never imports torch._dynamo."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch

from msdf.adam import adam_minimize

DATA = Path(__file__).parent / "data" / "watertight"


def test_matches_torch_adam_on_a_nonquadratic_loss():
    g = torch.Generator().manual_seed(0)
    A = torch.randn(40, 30, generator=g)
    b = torch.randn(40, generator=g)
    x0 = torch.randn(30, generator=g)

    def loss(x):  # L1 data term + a smooth penalty: different gradient scales per coordinate
        return (A @ x - b).abs().mean() + 0.1 * (x**4).sum()

    ref = x0.clone().requires_grad_(True)
    opt = torch.optim.Adam([ref], lr=3e-2)
    for _ in range(75):
        opt.zero_grad()
        loss(ref).backward()
        opt.step()
    ours = adam_minimize(loss, x0, steps=75, lr=3e-2)
    torch.testing.assert_close(ours, ref.detach(), rtol=1e-5, atol=1e-6)
    assert loss(ours) < 0.5 * loss(x0)


def test_does_not_modify_the_start_and_reports_each_step():
    x0 = torch.ones(5)
    seen = []
    out = adam_minimize(lambda x: (x**2).sum(), x0, steps=4, lr=0.1, callback=seen.append)
    assert seen == [1, 2, 3, 4]
    assert torch.equal(x0, torch.ones(5))
    # the first Adam step moves every coordinate by lr (bias-corrected m / sqrt(v) = sign(g))
    torch.testing.assert_close(adam_minimize(lambda x: (x**2).sum(), x0, steps=1, lr=0.1), torch.full((5,), 0.9))


def test_a_preprocessing_task_does_not_import_torch_dynamo():
    """Workers of `msdf preprocess` start faster without torch._dynamo (bench/bench_adam.py measures it)."""
    mesh = sorted(DATA.glob("*"))[0]
    code = ("import sys; from msdf.data.task import EncodeSettings, convert_batch; "
            f"out = convert_batch(({str(mesh)!r},), EncodeSettings(n_grids=32, k=5, refine_steps=3)); "
            "assert 'matrix' in out[0], out; print('torch._dynamo' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "False"
