"""The flow-matching velocity network: a DiT-style transformer over the rows of an M-SDF matrix.

Input ``x`` (B, n, D) with ``D = 4 + k^3`` (one row per local grid: centre, half-width, k^3 SDF values), time ``t`` (B,)
and a :class:`~msdf.flow.condition.Condition`.  Output: the velocity ``u(x, t | c)`` (B, n, D).

Architecture (Peebles & Xie, DiT, with the patch embedding replaced by a per-row MLP):

- ``RowEmbedder``: ``h_i = W2 SiLU(W1 x_i)`` -- compresses each row (3 + 1 + k^3 numbers) to ``width``.
- ``TimestepEmbedder``: sinusoidal features of ``1000 t`` -> MLP -> (B, width).
- ``LabelEmbedder``: table of ``num_classes + 1`` rows, the last one the learned null class.
- ``TextEmbedder``: MLP projection of a frozen pooled sentence embedding (B, E) -> (B, width), plus a learned
  null vector.
- ``Block``: adaLN-Zero: ``(shift, scale, gate) x 2 = Linear(SiLU(c))`` with ``c = t_emb + cond_emb``,
  ``h += gate1 * Attn(LN(h) * (1 + scale1) + shift1)``, ``h += gate2 * MLP(LN(h) * (1 + scale2) + shift2)``;
  the modulation is zero-initialised so every block starts as the identity.
- ``FinalLayer``: adaLN (shift, scale) then a zero-initialised linear map back to D.
- Distance-biased attention (``locality=True``; ALiBi-like, in 3D): every head adds ``-a_h(t, c) |p_i - p_j|^2`` to
  its logits, with ``p`` the rows' current standardised centres and ``a_h`` a zero-initialised linear map of the
  conditioning vector, so it starts as plain attention and each head learns, per time, how local it is. Neighbouring
  grids must agree on their overlap; plain attention mixes all n rows and sees a neighbour no more sharply than a
  grid across the shape. The bias depends on distances only, so permutation equivariance holds. Measured on the
  demo's design (docs/training.md, "Row subsets"): not clearly more whole in three trainings; off in the presets.
- Prediction target (``prediction``): ``"velocity"`` (the final layer's output is ``u``) or ``"data"`` (it is the
  clean estimate ``x1_hat``, and ``u = (x1_hat - x) / max(1 - t, 0.05)``, :func:`msdf.flow.path.velocity_from_clean`;
  Li & He 2025: a clean row of SDF values lies near a low-dimensional set, the velocity ``x1 - x0`` carries the
  noise's full dimension). Either way :meth:`FlowTransformer.forward` returns a velocity, so the loss (the same
  velocity regression), solvers and guidance do not depend on it. Measured on the demo's design: no more whole,
  twice the components (docs/training.md); the presets predict the velocity.
- Centre features (``centre_freqs > 0``): ``h_i += FourierEmbedder(p_i)`` (``p_i = x_i[CENTERS]``), sines and cosines
  of each row's current (standardised) centre at ``centre_freqs`` octaves, zero-initialised. The row MLP reads a
  centre as three plain numbers, so two rows whose centres differ by a small fraction of the shape look alike to
  attention; the sines let the blocks tell apart, and line up, grids a board's thickness apart. Permutation
  equivariance holds.
- ``SlotEmbedder`` (``slots = n``): rows are in the slot order of :mod:`msdf.flow.slots` and token i gets
  ``FourierEmbedder(template_i)`` added, where ``template`` (n, 3) is a buffer saved with the weights.
- Self-conditioning (``self_condition=True``; Chen et al. 2023, Analog Bits): the model also reads a previous estimate
  of the clean sample, ``x1_prev`` (B, n, D) (zeros when there is none), through its own zero-initialised row MLP:
  ``h_i = RowEmbed(x_i) + SelfEmbed(x1_prev_i)``. Row i of ``x1_prev`` is the estimate ``x_i + (1 - t) u_i`` (the
  path's) the model made for row i of the same trajectory, so the pairing of rows is the identity and the set
  symmetry holds.
  :class:`msdf.flow.self_condition.SelfConditionedVelocity` carries the estimate from one solver step to the next.
- In-context conditioning (``cond_tokens=True``): the condition embedding is also added to every row token,
  ``h_i = RowEmbed(x_i) + cond_emb``, so attention and MLPs see the condition directly instead of only through the
  zero-initialised adaLN gates (which a short CPU run barely opens: the condition then hardly changes ``u``).

Without slots there is NO positional encoding: attention and the row-wise layers are permutation-equivariant, so
permuting the rows of ``x`` permutes the rows of the output (the rows of an M-SDF are a set). With slots, row i is
tied to template point i (the model is then equivariant only to permutations that also permute the template).

Classifier-free guidance (Guided Flows): ``u = u(x | null) + w * (u(x | c) - u(x | null))``, both branches in one
batched forward pass (:meth:`FlowTransformer.forward_with_cfg`).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from msdf.flow.condition import Condition
from msdf.flow.path import velocity_from_clean
from msdf.rows import CENTERS


# Up to this many rows, CPU bf16 attention is the explicit product: torch's fused CPU kernel took 2.2-4.9x its time
# (forward + backward) in bfloat16 at n <= 256 and 1.4-1.9x at 512; at 1024 rows the fused kernel is the faster one
# (bench/bench_precision.py, docs/benchmarks.md#precision).
EXPLICIT_ATTENTION_MAX_ROWS = 512


def explicit_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                       bias: torch.Tensor | None = None) -> torch.Tensor:
    """``softmax(q k^T / sqrt(d) + bias) v`` as plain products, with its (B, heads, n, n) weights in memory."""
    weights = (q @ k.transpose(-1, -2)) * q.shape[-1] ** -0.5
    if bias is not None:
        weights = weights + bias.to(weights.dtype)
    return weights.softmax(-1).to(v.dtype) @ v


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``softmax(q k^T / sqrt(d) + bias) v`` for q, k, v (B, heads, n, d) -> (B, heads, n, d); ``bias`` None or an
    additive term that broadcasts to (B, heads, n, n).

    ``F.scaled_dot_product_attention`` (fused, O(n) memory) except on the CPU in bfloat16 (training under
    :mod:`msdf.flow.precision`) with n <= :data:`EXPLICIT_ATTENTION_MAX_ROWS`, where :func:`explicit_attention` is
    faster forward and backward; both compute the same function.
    """
    if q.device.type == "cpu" and q.dtype == torch.bfloat16 and q.shape[-2] <= EXPLICIT_ATTENTION_MAX_ROWS:
        return explicit_attention(q, k, v, bias)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=None if bias is None else bias.to(q.dtype))


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """adaLN: ``x * (1 + scale) + shift`` with (B, width) modulation broadcast over the n rows of (B, n, width)."""
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


class RowEmbedder(nn.Module):
    """Per-row MLP (B, n, D) -> (B, n, width); shared by all rows, so it is permutation-equivariant."""

    def __init__(self, dim: int, width: int, hidden: int):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.SiLU(), nn.Linear(hidden, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(x)


class TimestepEmbedder(nn.Module):
    """``t`` (B,) in [0, 1] -> sinusoidal features of ``1000 t`` (``freq_dim``) -> MLP -> (B, width)."""

    def __init__(self, width: int, freq_dim: int = 256):
        super().__init__()
        self.freq_dim = freq_dim
        self.mlp = nn.Sequential(nn.Linear(freq_dim, width), nn.SiLU(), nn.Linear(width, width))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        half = self.freq_dim // 2
        freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
        args = 1000.0 * t.float()[:, None] * freqs[None]
        emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
        return self.mlp(emb.to(self.mlp[0].weight.dtype))


class LabelEmbedder(nn.Module):
    """Class index (B,) -> (B, width); index ``num_classes`` is the learned null class used where ``null``."""

    def __init__(self, num_classes: int, width: int):
        super().__init__()
        self.num_classes = num_classes
        self.table = nn.Embedding(num_classes + 1, width)

    def forward(self, labels: torch.Tensor, null: torch.Tensor) -> torch.Tensor:
        return self.table(torch.where(null, torch.full_like(labels, self.num_classes), labels))


class TextEmbedder(nn.Module):
    """Pooled sentence embedding (B, E) -> MLP -> (B, width); rows marked ``null`` get a learned null vector."""

    def __init__(self, text_dim: int, width: int):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(text_dim, width), nn.SiLU(), nn.Linear(width, width))
        self.null = nn.Parameter(torch.zeros(width))

    def forward(self, text: torch.Tensor, null: torch.Tensor) -> torch.Tensor:
        emb = self.mlp(text.to(self.mlp[0].weight.dtype))
        return torch.where(null[:, None], self.null.to(emb.dtype).expand_as(emb), emb)


def fourier_features(p: torch.Tensor, freqs: int) -> torch.Tensor:
    """``[p, sin(2^f pi p), cos(2^f pi p)]_{f < freqs}`` of points ``p`` (..., 3) -> (..., 3 (1 + 2 freqs)),
    float32."""
    p = p.float()
    scales = math.pi * 2.0 ** torch.arange(freqs, device=p.device, dtype=torch.float32)
    args = (p[..., None] * scales).flatten(-2)  # (..., 3 freqs)
    return torch.cat([p, torch.sin(args), torch.cos(args)], dim=-1)


class FourierEmbedder(nn.Module):
    """Points (..., 3) -> (..., width): ``Linear(fourier_features(p, freqs))``."""

    def __init__(self, width: int, freqs: int):
        super().__init__()
        self.freqs = freqs
        self.proj = nn.Linear(3 * (1 + 2 * freqs), width)

    def forward(self, p: torch.Tensor) -> torch.Tensor:
        return self.proj(fourier_features(p, self.freqs).to(self.proj.weight.dtype))


class SlotEmbedder(FourierEmbedder):
    """Template points (n, 3) -> (n, width): the :class:`FourierEmbedder` of the ``template`` buffer."""

    def __init__(self, slots: int, width: int, freqs: int = 6):
        super().__init__(width, freqs)
        self.register_buffer("template", torch.zeros(slots, 3))

    def forward(self) -> torch.Tensor:
        return super().forward(self.template)


class Attention(nn.Module):
    """Multi-head self-attention over the n rows (no positional encoding).

    With ``locality`` each head h adds ``-a_h(c) |p_i - p_j|^2`` to its logits, ``a = Linear(c)`` (B, heads),
    zero-initialised, ``p`` the rows' current standardised centres: a head whose ``a_h`` grows attends to the grids
    near each grid (module doc).
    """

    def __init__(self, width: int, heads: int, locality: bool = False):
        super().__init__()
        if width % heads:
            raise ValueError(f"width {width} is not divisible by heads {heads}")
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.locality = nn.Linear(width, heads) if locality else None

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None, d2: torch.Tensor | None = None) -> torch.Tensor:
        """``x`` (B, n, width); with locality also ``c`` (B, width) and ``d2`` (B, n, n) squared centre distances."""
        b, n, w = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, w // self.heads).permute(2, 0, 3, 1, 4)
        bias = None if self.locality is None else -self.locality(c)[:, :, None, None] * d2[:, None]
        out = attention(q, k, v, bias)
        return self.proj(out.transpose(1, 2).reshape(b, n, w))


class Block(nn.Module):
    """Transformer block with adaLN-Zero conditioning on ``c`` (B, width)."""

    def __init__(self, width: int, heads: int, mlp_ratio: float, locality: bool = False):
        super().__init__()
        self.norm1 = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(width, heads, locality)
        self.norm2 = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        hidden = int(width * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(width, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, width))
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(width, 6 * width))

    def forward(self, x: torch.Tensor, c: torch.Tensor, d2: torch.Tensor | None = None) -> torch.Tensor:
        """``x`` (B, n, width), ``c`` (B, width), ``d2`` (B, n, n) squared centre distances (locality only)."""
        shift1, scale1, gate1, shift2, scale2, gate2 = self.ada(c).chunk(6, dim=-1)
        x = x + gate1.unsqueeze(1) * self.attn(modulate(self.norm1(x), shift1, scale1), c, d2)
        return x + gate2.unsqueeze(1) * self.mlp(modulate(self.norm2(x), shift2, scale2))


class FinalLayer(nn.Module):
    """adaLN (shift, scale) then a linear map (B, n, width) -> (B, n, D)."""

    def __init__(self, width: int, dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(width, 2 * width))
        self.linear = nn.Linear(width, dim)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift, scale = self.ada(c).chunk(2, dim=-1)
        return self.linear(modulate(self.norm(x), shift, scale))


class FlowTransformer(nn.Module):
    """Velocity field ``u(x, t | c)`` on M-SDF matrices.

    Args:
        dim: row length ``4 + k^3``.
        width, depth, heads, mlp_ratio: transformer size.
        row_hidden: hidden size of the row-embedding MLP.
        cond: ``"class"``, ``"text"`` or ``"none"``.
        num_classes: number of classes (``cond="class"``).
        text_dim: sentence-embedding size (``cond="text"``).
        cond_tokens: also add the condition embedding to every row token (in-context conditioning); no extra
            parameters, it reuses the label/text embedding.
        slots: 0 (rows are a set) or n, the number of rows, for slot-ordered rows (:class:`SlotEmbedder`; set its
            ``template`` buffer, or load it with the weights).
        self_condition: also read a previous clean estimate ``x1_prev`` (module doc).
        centre_freqs: 0, or the octaves of the :class:`FourierEmbedder` of each row's centre added to its token.
        prediction: ``"velocity"`` or ``"data"``: what the final layer outputs (module doc).
        locality: distance-biased attention (:class:`Attention`, module doc).
    """

    def __init__(
        self,
        dim: int,
        width: int = 384,
        depth: int = 8,
        heads: int = 6,
        mlp_ratio: float = 4.0,
        row_hidden: int = 512,
        cond: str = "class",
        num_classes: int = 0,
        text_dim: int = 384,
        cond_tokens: bool = False,
        slots: int = 0,
        self_condition: bool = False,
        centre_freqs: int = 0,
        prediction: str = "velocity",
        locality: bool = False,
    ):
        super().__init__()
        if cond not in ("class", "text", "none"):
            raise ValueError(f"unknown conditioning {cond!r}; expected 'class', 'text' or 'none'")
        if cond == "class" and num_classes < 1:
            raise ValueError("a class-conditional model needs num_classes >= 1")
        if prediction not in ("velocity", "data"):
            raise ValueError(f"unknown prediction {prediction!r}; expected 'velocity' or 'data'")
        self.prediction = prediction
        self.dim, self.cond, self.cond_tokens = dim, cond, cond_tokens
        self.row_embed = RowEmbedder(dim, width, row_hidden)
        self.slot_embed = SlotEmbedder(slots, width) if slots else None
        self.self_embed = RowEmbedder(dim, width, row_hidden) if self_condition else None
        self.centre_embed = FourierEmbedder(width, centre_freqs) if centre_freqs else None
        self.t_embed = TimestepEmbedder(width)
        self.label_embed = LabelEmbedder(num_classes, width) if cond == "class" else None
        self.text_embed = TextEmbedder(text_dim, width) if cond == "text" else None
        self.locality = locality
        self.blocks = nn.ModuleList([Block(width, heads, mlp_ratio, locality) for _ in range(depth)])
        self.final = FinalLayer(width, dim)
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        if self.label_embed is not None:
            nn.init.normal_(self.label_embed.table.weight, std=0.02)
        if self.text_embed is not None:
            nn.init.normal_(self.text_embed.null, std=0.02)
        for lin in (self.t_embed.mlp[0], self.t_embed.mlp[2]):
            nn.init.normal_(lin.weight, std=0.02)
        for blk in self.blocks:  # adaLN-Zero; the distance maps likewise start as plain attention
            for lin in (blk.ada[-1], blk.attn.locality):
                if lin is not None:
                    nn.init.zeros_(lin.weight)
                    nn.init.zeros_(lin.bias)
        if self.self_embed is not None:  # starts as the plain model: the estimate enters only once it helps
            nn.init.zeros_(self.self_embed.mlp[-1].weight)
        if self.centre_embed is not None:  # likewise
            nn.init.zeros_(self.centre_embed.proj.weight)
        for lin in (self.final.ada[-1], self.final.linear):
            nn.init.zeros_(lin.weight)
            nn.init.zeros_(lin.bias)

    def embed_condition(self, cond: Condition | None, batch: int) -> torch.Tensor | None:
        """(B, width) embedding of ``cond`` (``None`` for an unconditional model)."""
        if self.cond == "none":
            return None
        if cond is None:
            raise ValueError(f"this model is {self.cond}-conditional: pass a Condition (null=True for unconditional)")
        cond = cond.expand(batch)
        if self.cond == "class":
            if cond.labels is None:
                raise ValueError("class-conditional model got a Condition without labels")
            return self.label_embed(cond.labels, cond.null)
        if cond.text is None:
            raise ValueError("text-conditional model got a Condition without text embeddings")
        return self.text_embed(cond.text, cond.null)

    @property
    def self_condition(self) -> bool:
        """Whether the model reads a previous clean estimate ``x1_prev`` (module doc)."""
        return self.self_embed is not None

    def forward(self, x: torch.Tensor, t: torch.Tensor | float, cond: Condition | None = None,
                x1_prev: torch.Tensor | None = None) -> torch.Tensor:
        """``u(x, t | c, x1_prev)``: ``x`` (B, n, D), ``t`` (B,) or scalar, ``cond`` batch B or 1 -> (B, n, D).

        ``x1_prev`` (B, n, D): the previous clean estimate of a self-conditioned model (``None``: zeros, no
        estimate yet); a model without self-conditioning rejects it.
        """
        if x1_prev is not None and self.self_embed is None:
            raise ValueError("this model was not trained with self-conditioning: it takes no x1_prev")
        b = x.shape[0]
        t = torch.as_tensor(t, device=x.device, dtype=torch.float32).reshape(-1).expand(b)
        c = self.t_embed(t)
        ce = self.embed_condition(cond, b)
        if ce is not None:
            c = c + ce
        h = self.row_embed(x)
        if self.centre_embed is not None:
            h = h + self.centre_embed(x[..., CENTERS])
        if self.self_embed is not None:
            h = h + self.self_embed(torch.zeros_like(x) if x1_prev is None else x1_prev.to(x.dtype))
        if self.slot_embed is not None:
            if x.shape[1] != self.slot_embed.template.shape[0]:
                raise ValueError(f"this model has {self.slot_embed.template.shape[0]} slots, got {x.shape[1]} rows")
            h = h + self.slot_embed().unsqueeze(0)
        if ce is not None and self.cond_tokens:
            h = h + ce.unsqueeze(1)
        d2 = None
        if self.locality:
            p = x[..., CENTERS].float()
            d2 = (p.unsqueeze(2) - p.unsqueeze(1)).pow(2).sum(-1)
        for blk in self.blocks:
            h = blk(h, c, d2)
        out = self.final(h, c)
        return velocity_from_clean(x, t, out) if self.prediction == "data" else out

    def guided(self, guidance: float) -> bool:
        """Whether guidance ``w`` needs the null branch: a conditional model and ``w != 1``."""
        return self.cond != "none" and guidance != 1.0

    def forward_branches(self, x: torch.Tensor, t: torch.Tensor | float, cond: Condition | None, guidance: float,
                         x1_prev: torch.Tensor | None = None) -> torch.Tensor:
        """The velocities guidance needs, in one batched call.

        Guided (:meth:`guided`): (2B, n, D) ``[u(x | c); u(x | null)]``; else (B, n, D) ``u(x | c)``. ``x``
        (B, n, D), ``t`` (B,) or scalar, ``cond`` batch B or 1; ``x1_prev`` has one row per branch row (2B or B).
        """
        if not self.guided(guidance):
            return self(x, t, cond, x1_prev)
        b = x.shape[0]
        t = torch.as_tensor(t, device=x.device, dtype=torch.float32).reshape(-1).expand(b)
        cond = cond.expand(b)
        return self(torch.cat([x, x]), torch.cat([t, t]), Condition.cat([cond, cond.nulled()]), x1_prev)

    @staticmethod
    def combine(branches: torch.Tensor, guidance: float | torch.Tensor) -> torch.Tensor:
        """Guided velocity ``u(x | null) + w (u(x | c) - u(x | null))`` from (2B, n, D) ``[u(x | c); u(x | null)]``;
        ``w`` a float or a tensor that broadcasts to (B, n, D) (one weight per sample: (B, 1, 1))."""
        u_c, u_null = branches.chunk(2)
        return u_null + guidance * (u_c - u_null)

    def forward_with_cfg(self, x: torch.Tensor, t: torch.Tensor | float, cond: Condition | None, guidance: float,
                         x1_prev: torch.Tensor | None = None) -> torch.Tensor:
        """Guided velocity (B, n, D) ``u(x | null) + w (u(x | c) - u(x | null))``, both branches in one batched call.

        ``w = 1`` is the plain conditional velocity (one branch only); unconditional models ignore ``w``.
        ``x1_prev``: as in :meth:`forward_branches`.
        """
        u = self.forward_branches(x, t, cond, guidance, x1_prev)
        return self.combine(u, guidance) if self.guided(guidance) else u
