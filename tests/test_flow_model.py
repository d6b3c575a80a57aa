"""The DiT-style set transformer: permutation equivariance, adaLN-Zero init, conditioning and CFG."""
import pytest
import torch

from msdf.flow.condition import Condition
from msdf.flow.model import FlowTransformer
from msdf.flow.path import CondOTPath


def _model(cond="class", seed=0, cond_tokens=False, centre_freqs=0, prediction="velocity", locality=False):
    torch.manual_seed(seed)
    m = FlowTransformer(dim=12, width=32, depth=2, heads=4, mlp_ratio=2.0, row_hidden=32, cond=cond,
                        num_classes=3, text_dim=8, cond_tokens=cond_tokens, centre_freqs=centre_freqs,
                        prediction=prediction, locality=locality)
    # leave the adaLN-Zero init (which makes the output identically 0) so the tests see a non-trivial function
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return m.eval()


def _cond(kind, b, null=None):
    null = torch.zeros(b, dtype=torch.bool) if null is None else null
    if kind == "class":
        return Condition(null=null, labels=torch.arange(b) % 3)
    if kind == "text":
        return Condition(null=null, text=torch.randn(b, 8, generator=torch.Generator().manual_seed(5)))
    return Condition(null=torch.ones(b, dtype=torch.bool))


@pytest.mark.parametrize("cond_tokens, centre_freqs, prediction, locality",
                         [(False, 0, "velocity", False), (True, 0, "velocity", False), (False, 4, "velocity", False),
                          (False, 0, "data", False), (False, 0, "velocity", True)])
@pytest.mark.parametrize("kind", ["class", "text", "none"])
def test_permutation_equivariance(kind, cond_tokens, centre_freqs, prediction, locality):
    m = _model(kind, cond_tokens=cond_tokens, centre_freqs=centre_freqs, prediction=prediction, locality=locality)
    x = torch.randn(2, 10, 12)
    t = torch.tensor([0.3, 0.8])
    perm = torch.randperm(10, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        out = m(x, t, _cond(kind, 2))
        out_p = m(x[:, perm], t, _cond(kind, 2))
    assert out.abs().max() > 1e-3
    torch.testing.assert_close(out_p, out[:, perm], rtol=1e-5, atol=1e-5)


def test_adaln_zero_init_outputs_zero():
    m = FlowTransformer(dim=12, width=32, depth=2, heads=4, cond="class", num_classes=3)
    out = m(torch.randn(2, 5, 12), torch.rand(2), _cond("class", 2))
    assert torch.equal(out, torch.zeros_like(out))


def test_data_prediction_outputs_the_velocity_of_its_clean_estimate():
    """Same weights, two targets: the data-predicting model's velocity is (x1_hat - x) / max(1 - t, 0.05) with x1_hat
    the velocity model's raw output, so its clean estimate is that output wherever 1 - t >= 0.05."""
    vel, data = _model("class"), _model("class", prediction="data")
    x = torch.randn(3, 6, 12)
    t = torch.tensor([0.0, 0.5, 0.99])
    with torch.no_grad():
        raw, u = vel(x, t, _cond("class", 3)), data(x, t, _cond("class", 3))
    torch.testing.assert_close(u[:2], (raw[:2] - x[:2]) / (1 - t[:2, None, None]))
    torch.testing.assert_close(u[2], (raw[2] - x[2]) / 0.05)
    torch.testing.assert_close(CondOTPath().clean_estimate(x[:2], t[:2], u[:2]), raw[:2], atol=1e-5, rtol=1e-5)
    fresh = FlowTransformer(dim=12, width=32, depth=2, heads=4, cond="none", prediction="data")
    with torch.no_grad():   # adaLN-Zero: the fresh network predicts x1_hat = 0, the mean of standardised data
        torch.testing.assert_close(fresh(x, t), -x / (1 - t).clamp(min=0.05)[:, None, None])
    with pytest.raises(ValueError, match="prediction"):
        FlowTransformer(dim=12, width=32, depth=2, heads=4, cond="none", prediction="noise")


def test_locality_starts_as_plain_attention_and_then_attends_to_near_grids():
    """Zero-initialised, the distance bias leaves the plain model's output; a head with a large ``a_h`` attends to
    the grids nearest each grid, here each row to itself (distance 0), so the block's attention returns each row's
    own value vector."""
    plain = _model("none")
    local = FlowTransformer(dim=12, width=32, depth=2, heads=4, mlp_ratio=2.0, row_hidden=32, cond="none",
                            locality=True).eval()
    missing, unexpected = local.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and all(".attn.locality." in name for name in missing)
    x, t = torch.randn(2, 7, 12), torch.tensor([0.2, 0.9])
    with torch.no_grad():
        torch.testing.assert_close(local(x, t), plain(x, t))
    attn = local.blocks[0].attn
    with torch.no_grad():
        attn.locality.bias.fill_(1e4)
        h, c = torch.randn(2, 7, 32), torch.randn(2, 32)
        p = torch.randn(2, 7, 3)
        d2 = (p.unsqueeze(2) - p.unsqueeze(1)).pow(2).sum(-1)
        v = attn.qkv(h)[..., 64:]
        torch.testing.assert_close(attn(h, c, d2), attn.proj(v), atol=1e-5, rtol=1e-5)
        assert not torch.allclose(attn(h, c, torch.zeros_like(d2)), attn.proj(v), atol=1e-3)


def test_centre_features_start_silent_and_then_read_the_centres_finely():
    """Zero-initialised, the centre embedder leaves the plain model's output; once trained (here: set at random) it
    separates two rows whose centres differ by 1e-2 far more than the plain row MLP does."""
    plain, fourier = _model("none"), _model("none", centre_freqs=6)
    fourier.load_state_dict({**plain.state_dict(), **{k: v for k, v in fourier.state_dict().items()
                                                       if k.startswith("centre_embed")}})
    with torch.no_grad():  # its initial state (_model perturbed it)
        fourier.centre_embed.proj.weight.zero_()
        fourier.centre_embed.proj.bias.zero_()
    x, t = torch.randn(1, 6, 12), torch.full((1,), 0.5)
    with torch.no_grad():
        torch.testing.assert_close(fourier(x, t, _cond("none", 1)), plain(x, t, _cond("none", 1)))
        torch.nn.init.normal_(fourier.centre_embed.proj.weight, std=0.1)
        y = x.clone()
        y[0, 0, 0] += 1e-2
        moved = [(m(y, t, _cond("none", 1)) - m(x, t, _cond("none", 1)))[0, 0].norm() for m in (plain, fourier)]
    assert moved[1] > 3 * moved[0]


@pytest.mark.parametrize("kind", ["class", "text"])
def test_cond_tokens_condition_reaches_rows_without_adaln(kind):
    """With all adaLN modulation at its zero init, only in-context conditioning lets the label change ``u``."""
    x, t = torch.randn(1, 6, 12).expand(2, -1, -1), torch.full((2,), 0.4)
    cond = _cond(kind, 2)
    for cond_tokens in (False, True):
        m = FlowTransformer(dim=12, width=32, depth=2, heads=4, cond=kind, num_classes=3, text_dim=8,
                            cond_tokens=cond_tokens)
        with torch.no_grad():
            torch.nn.init.normal_(m.final.linear.weight)
            if m.label_embed is not None:
                torch.nn.init.normal_(m.label_embed.table.weight)
            out = m(x, t, cond)
        assert torch.equal(out[0], out[1]) != cond_tokens


@pytest.mark.parametrize("kind", ["class", "text"])
def test_null_condition_ignores_label_and_uses_learned_null(kind):
    m = _model(kind)
    x, t = torch.randn(3, 6, 12), torch.rand(3)
    null = torch.ones(3, dtype=torch.bool)
    with torch.no_grad():
        a = m(x, t, _cond(kind, 3, null))
        other = Condition(null=null, labels=torch.tensor([2, 2, 2])) if kind == "class" else \
            Condition(null=null, text=torch.zeros(3, 8))
        b = m(x, t, other)
        c = m(x, t, _cond(kind, 3))
        # the learned null embedding is what the model sees for null rows
        if kind == "class":
            m.label_embed.table.weight[3].add_(1.0)
        else:
            m.text_embed.null.add_(1.0)
        d = m(x, t, _cond(kind, 3, null))
    torch.testing.assert_close(a, b)
    assert (a - c).abs().max() > 1e-4
    assert (a - d).abs().max() > 1e-4


@pytest.mark.parametrize("kind", ["class", "text"])
def test_cfg_formula_in_one_batched_call(kind):
    m = _model(kind)
    x, t = torch.randn(2, 6, 12), torch.tensor([0.1, 0.6])
    cond = _cond(kind, 2)
    calls = []
    h = m.register_forward_hook(lambda mod, inp, out: calls.append(inp[0].shape[0]))
    with torch.no_grad():
        guided = m.forward_with_cfg(x, t, cond, guidance=3.0)
    h.remove()
    assert calls == [4]  # conditional and unconditional branches in one batch
    with torch.no_grad():
        u_c, u_0 = m(x, t, cond), m(x, t, cond.nulled())
    torch.testing.assert_close(guided, u_0 + 3.0 * (u_c - u_0), rtol=1e-5, atol=1e-5)
    with torch.no_grad():
        torch.testing.assert_close(m.forward_with_cfg(x, t, cond, 1.0), u_c)


def test_batch_one_condition_broadcasts_and_errors():
    m = _model("class")
    x, t = torch.randn(3, 5, 12), torch.rand(3)
    one = Condition(null=torch.zeros(1, dtype=torch.bool), labels=torch.tensor([1]))
    three = Condition(null=torch.zeros(3, dtype=torch.bool), labels=torch.tensor([1, 1, 1]))
    with torch.no_grad():
        torch.testing.assert_close(m(x, t, one), m(x, t, three))
    with pytest.raises(ValueError, match="class-conditional"):
        m(x, t, None)
    with pytest.raises(ValueError, match="does not match"):
        m(x, t, Condition(null=torch.zeros(2, dtype=torch.bool), labels=torch.tensor([0, 1])))


def test_cpu_bf16_attention_is_the_explicit_product_up_to_512_rows(monkeypatch):
    """Both kernels compute softmax(q k^T / sqrt d) v; the explicit one serves CPU bf16 with n <= 512 rows, torch's
    fused kernel everything else (float32, longer sets)."""
    from msdf.flow import model as model_mod

    gen = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 40, 16, generator=gen) for _ in range(3))
    exact = torch.nn.functional.scaled_dot_product_attention(q, k, v)
    fused_calls = []
    real = model_mod.F.scaled_dot_product_attention
    monkeypatch.setattr(model_mod.F, "scaled_dot_product_attention",
                        lambda *a, **kw: fused_calls.append(a[0].shape) or real(*a, **kw))
    out = model_mod.attention(q.bfloat16(), k.bfloat16(), v.bfloat16())
    assert out.dtype == torch.bfloat16 and not fused_calls
    torch.testing.assert_close(out.float(), exact, atol=3e-2, rtol=3e-2)
    torch.testing.assert_close(model_mod.attention(q, k, v), exact)  # float32: the fused kernel
    assert fused_calls == [q.shape]
    long = torch.randn(1, 1, model_mod.EXPLICIT_ATTENTION_MAX_ROWS + 1, 8, dtype=torch.bfloat16)
    model_mod.attention(long, long, long)
    assert fused_calls[-1] == long.shape
    bias = -torch.rand(2, 3, 40, 40, generator=gen) * 4  # the locality term: both kernels add it to the logits
    torch.testing.assert_close(model_mod.attention(q, k, v, bias), model_mod.explicit_attention(q, k, v, bias),
                               atol=1e-5, rtol=1e-5)
    assert not torch.allclose(model_mod.attention(q, k, v, bias), exact, atol=1e-3)
