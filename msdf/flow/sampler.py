"""The inference object of a trained flow model (Lipman et al. 2023, flow matching; Ho & Salimans 2022, CFG).

:class:`FlowSampler` holds the EMA weights of a run (:mod:`msdf.flow.checkpoint` reads them) and turns conditions
and seeds into raw M-SDF matrices. Sampling has exactly one seeding rule and one validity rule::

    x_0[j] = tau eps_j,  eps_j ~ N(0, I) (n, D)  drawn from a CPU generator seeded with seeds[j]
                                                                                   (independent of batching)
    x_1    = solve(u_w(., t | c_j), x_0)                                           (normalised space, batch_size chunks)
             (the SDE solver's step noise: a second stream of seeds[j], msdf.flow.stochastic.StepNoise)
    u_w    = u(x | null) + w(t) (u(x | c) - u(x | null))                           (classifier-free guidance)
    w(t)   = w if lo <= t < hi else 1                                 (guidance_interval; default (0, 0.8))
             (+ the grid repulsion of msdf.flow.repulsion and the grid alignment of msdf.flow.alignment on the
              centre columns, with_repulsion, with_alignment)
    M_j    = valid(denormalize(x_1[j]))                                            (B, n, 4 + k^3) float32 on the CPU

``tau`` is the sampling temperature (``msdf.choices.TEMPERATURE_DEFAULT``; 1 = the distribution the model was
trained from; 0.8-0.9 made ``cpu-small`` samples a little more whole, ``cpu-medium`` ones less whole).
``valid`` clamps the half-widths (column 3) to ``MIN_HALF_WIDTH``; a non-finite value cannot be repaired, so
:func:`msdf.decoder.decode_batch` reports such a sample as failed. ``msdf generate``, ``msdf evaluate``,
``msdf complete`` (D-Flow) and ``msdf distill-solver`` (BNS training pairs) all sample through this class.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import Tensor
from tqdm.auto import tqdm

from msdf.choices import (ALIGNMENT_DEFAULT, GUIDANCE_DEFAULT, GUIDANCE_INTERVAL_DEFAULT, REPULSION_DEFAULT,
                          REPULSION_RADIUS_DEFAULT, RESTART_DEFAULTS, TEMPERATURE_DEFAULT)
from msdf.device import torch_device
from msdf.flow.alignment import Alignment
from msdf.flow.checkpoint import CheckpointError, build_model, checkpoint_at, latest_checkpoint, load_weights
from msdf.flow.condition import Condition
from msdf.flow.config import TrainConfig
from msdf.flow.model import FlowTransformer
from msdf.flow.normalizer import Normalizer
from msdf.flow.path import CondOTPath
from msdf.flow.repulsion import Repulsion
from msdf.flow.self_condition import SelfConditionedVelocity
from msdf.flow.solvers import Solver, VelocityFn, solve
from msdf.flow.stochastic import EulerMaruyama
from msdf.rows import CENTERS, GEOMETRY, HALF_WIDTH

GUIDANCE_COLUMNS = ("all", "geometry", "values")  # FlowSampler.with_guidance_columns

MIN_HALF_WIDTH = 1e-3  # unit frame (the shape spans [-0.9, 0.9]); far below any encoder's half-width


def source_noise(seeds: Sequence[int], shape: tuple[int, ...], device: str | torch.device = "cpu",
                 draw: int = 0) -> Tensor:
    """(len(seeds), *shape) standard normal noise; row j is draw number ``draw`` (0 = the first, x_0) of a CPU
    generator seeded with ``seeds[j]``."""
    rows = []
    for s in seeds:
        gen = torch.Generator().manual_seed(int(s))
        for _ in range(draw):
            torch.randn(shape, generator=gen)
        rows.append(torch.randn(shape, generator=gen))
    return torch.stack(rows).to(device)


@dataclass(frozen=True)
class Restart:
    """Restart sampling (Xu et al., NeurIPS 2023): after the solve, ``count`` times, re-noise the sample back to time
    ``t`` and integrate to 1 again with ``nfe`` midpoint evaluations::

        x_t = t x_1 + (1 - t) eps_r,    x_1 <- ODE(x_t; t -> 1)

    (on a path with staggered clocks, :class:`~msdf.flow.path.CondOTPath`, each column on its own clock: columns
    that have already reached the data at ``t`` are not re-noised).

    ``eps_r`` of sample j is draw r + 1 of the generator seeded with ``seeds[j]`` (draw 0 is its x_0), so the seeding
    rule holds. The fresh noise lets the late part of the flow, where rows settle onto the surface, run again from a
    better start; ``count = 0`` is plain sampling. The defaults (``msdf.choices.RESTART_DEFAULTS``: 3 passes to 0.6) are
    the command line's too.
    """

    count: int = RESTART_DEFAULTS[0]
    t: float = RESTART_DEFAULTS[1]
    nfe: int = RESTART_DEFAULTS[2]

    def __post_init__(self) -> None:
        if self.count < 0 or not 0.0 <= self.t < 1.0 or self.nfe < 1:
            raise ValueError(f"restart needs count >= 0, 0 <= t < 1 and nfe >= 1 (got {self})")


@dataclass(frozen=True)
class AutoGuide:
    """Autoguidance (Karras et al., NeurIPS 2024): guide the model away from a weaker version of itself, here an
    earlier checkpoint of the same run (same data, same normalisation)::

        u = u_cfg(x, t | c) + (a - 1) (u(x, t | c) - u_weak(x, t | c))

    where ``u_cfg`` is the classifier-free-guided velocity. ``a = 1`` is plain CFG. The premise: the weak model
    makes the strong model's errors, larger (here: rows that land between the parts of a shape), so the difference
    points away from them. It costs one more evaluation of the weak model per step. Measured on the ``cpu-small``
    design it did not make shapes more whole (docs/generation.md), so nothing uses it by default.
    """

    model: FlowTransformer
    weight: float


def guidance_interval(lo: float, hi: float) -> tuple[float, float]:
    """``(lo, hi)`` as floats, checked: ``0 <= lo < hi <= 1`` (ValueError otherwise)."""
    if not 0.0 <= lo < hi <= 1.0:
        raise ValueError(f"the guidance interval needs 0 <= lo < hi <= 1 (got {lo:g}, {hi:g})")
    return float(lo), float(hi)


def guidance_columns(name: str) -> str:
    """``name`` checked against :data:`GUIDANCE_COLUMNS` (ValueError otherwise)."""
    if name not in GUIDANCE_COLUMNS:
        raise ValueError(f"guidance columns must be one of {', '.join(GUIDANCE_COLUMNS)} (got {name!r})")
    return name


def valid_half_widths(matrices: Tensor, minimum: float = MIN_HALF_WIDTH) -> Tensor:
    """Project generated matrices (..., n, 4 + k^3) onto valid M-SDFs: half-widths ``s <- max(s, minimum)``.

    A sampled half-width can land at or below 0 (the model's output is a regression, not a constrained value); such a
    grid is meaningless, and clamping makes it a cube too small to affect the decoded surface instead of making the
    whole sample unusable. Non-finite values are left for :meth:`MosaicSDF.from_matrix` to reject.
    """
    out = matrices.clone()
    out[..., HALF_WIDTH] = out[..., HALF_WIDTH].clamp(min=minimum)
    return out


class FlowSampler:
    """A trained velocity field ready for ODE solvers, and the one way to sample M-SDF matrices from it.

    Works in the *normalised* space: ``x0 ~ N(0, I)`` of shape (B, n, dim) at ``t = 0``, data at ``t = 1``;
    :meth:`denormalize` maps the result back to raw M-SDF matrices.  Weights are the EMA weights, frozen
    (``requires_grad=False``), so gradients flow only to ``x`` (D-Flow) when the caller enables them.

    Example (a run trained by ``msdf train``; two "chair" samples with seeds 0 and 1, midpoint at 8 NFE plus the
    default restart passes, 3 x 8 NFE):

    >>> from msdf import FlowSampler
    >>> from msdf.generate import make_solver
    >>> sampler = FlowSampler.load(run_dir, "cpu")
    >>> matrices, timings = sampler.sample(sampler.condition(classes=["chair", "chair"]), [0, 1],
    ...                                    make_solver("midpoint", 8), quiet=True)
    >>> tuple(matrices.shape) == (2, sampler.n, sampler.dim) and timings["nfe"]
    32
    """

    def __init__(self, model: FlowTransformer, normalizer: Normalizer, config: TrainConfig, meta: dict[str, Any],
                 run_dir: str | Path, device: str | torch.device = "cpu"):
        self.device: torch.device = torch_device(device)
        self.model: FlowTransformer = model.to(self.device).eval().requires_grad_(False)
        self.normalizer: Normalizer = normalizer
        self.train_config: TrainConfig = config
        self.path: CondOTPath = CondOTPath.of(config)
        self.config: dict[str, Any] = config.to_dict()
        self.meta: dict[str, Any] = meta
        self.run_dir: Path = Path(run_dir)
        self.n, self.k, self.dim = int(meta["n"]), int(meta["k"]), int(meta["dim"])
        self.class_names: list[str] = list(meta.get("class_names") or [])
        self.cond_type: str = config.cond
        self.autoguide: AutoGuide | None = None
        # with_guidance_interval; a self-conditioned model is guided at every time (its branches carry estimates)
        self.guidance_interval: tuple[float, float] = (0.0, 1.0) if model.self_condition else GUIDANCE_INTERVAL_DEFAULT
        self.guidance_columns: str = "all"  # with_guidance_columns
        self.repulsion: Repulsion = Repulsion(REPULSION_DEFAULT, REPULSION_RADIUS_DEFAULT)  # with_repulsion
        self.alignment: Alignment = Alignment(ALIGNMENT_DEFAULT)  # with_alignment
        self.step: int | None = None  # the training step of the weights (set by load)
        self._text = None

    @classmethod
    def load(cls, run_dir: str | Path, device: str | torch.device = "cpu", step: int | None = None) -> "FlowSampler":
        """A checkpoint of a training run (EMA weights) on ``device`` (``"auto"``: cuda if available): the latest,
        or the one of ``step`` when the run kept it."""
        folder, state = latest_checkpoint(run_dir) if step is None else checkpoint_at(run_dir, step)
        try:
            config = TrainConfig.from_dict(state["config"], source=str(folder / "state.json"))
            meta = state["meta"]
            normalizer = Normalizer.from_stats(state["normalizer"])
            trained_steps = int(state["progress"]["step"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{folder / 'state.json'}: incomplete checkpoint state ({exc})") from exc
        _, ema = load_weights(folder)
        model = build_model(config, meta)
        try:
            model.load_state_dict(ema)
        except RuntimeError as exc:
            raise CheckpointError(f"{folder / 'weights.safetensors'}: weights do not match the config ({exc})") from exc
        sampler = cls(model, normalizer, config, meta, run_dir, device)
        sampler.step = trained_steps
        return sampler

    def with_autoguide(self, step: int, weight: float) -> "FlowSampler":
        """Guide this sampler away from the EMA weights its run had at ``step`` (:class:`AutoGuide`; ``weight`` a);
        returns ``self``. The run must have kept that checkpoint (``keep_checkpoints``)."""
        if self.model.self_condition:
            raise ValueError("autoguidance is not implemented for self-conditioned models")
        if not weight >= 1.0:
            raise ValueError(f"the autoguidance weight must be >= 1 (got {weight})")
        weak = FlowSampler.load(self.run_dir, self.device, step=step)
        if self.step is not None and weak.step >= self.step:
            raise ValueError(f"{self.run_dir}: the autoguide's step {step} must come before the model's ({self.step})")
        self.autoguide = AutoGuide(weak.model, float(weight))
        return self

    def with_guidance_interval(self, lo: float, hi: float) -> "FlowSampler":
        """Apply the guidance weight only at times ``lo <= t < hi`` (Kynkaenniemi et al., NeurIPS 2024, "Applying
        guidance in a limited interval"); outside it the velocity is the conditional one alone (``w = 1``, one
        branch, half the cost). ``hi = 1`` includes ``t = 1``, so ``(0, 1)`` guides everywhere. The default is
        ``msdf.choices.GUIDANCE_INTERVAL_DEFAULT``, except for self-conditioned models (every time); returns
        ``self``."""
        interval = guidance_interval(lo, hi)
        if self.model.self_condition and interval != (0.0, 1.0):
            raise ValueError("a guidance interval is not implemented for self-conditioned models")
        self.guidance_interval = interval
        return self

    def with_guidance_columns(self, columns: str) -> "FlowSampler":
        """Apply the guidance weight to some columns of each row only: ``"all"`` (the default), ``"geometry"`` (the
        4 centre/half-width columns; the SDF values follow the conditional velocity alone) or ``"values"``; returns
        ``self``. Measured in ``bench/bench_sampling.py`` (setting ``gc=``, docs/benchmarks.md#guidance-columns):
        ``"geometry"`` drew fewer stray grids on the demo's model at the same wholeness and class accuracy, so nothing
        uses it by default."""
        columns = guidance_columns(columns)
        if self.model.self_condition and columns != "all":
            raise ValueError("guidance on some columns only is not implemented for self-conditioned models")
        self.guidance_columns = columns
        return self

    def with_repulsion(self, strength: float, radius: float | None = None) -> "FlowSampler":
        """Push crowded grids apart along the surface while sampling (:class:`~msdf.flow.repulsion.Repulsion`:
        ``strength`` lambda, 0 = off; ``radius`` r in mean half-widths, default the current one); returns ``self``.
        The default is ``msdf.choices.REPULSION_DEFAULT``."""
        self.repulsion = replace(self.repulsion, strength=float(strength),
                                 radius=self.repulsion.radius if radius is None else float(radius))
        return self

    def with_alignment(self, strength: float) -> "FlowSampler":
        """Move each grid's centre onto its neighbours' surface along the normal while sampling
        (:class:`~msdf.flow.alignment.Alignment`: ``strength`` lambda, 0 = off); returns ``self``. The default is
        ``msdf.choices.ALIGNMENT_DEFAULT``."""
        self.alignment = replace(self.alignment, strength=float(strength))
        return self

    def _column_weight(self, w_b: Tensor) -> Tensor:
        """Per-sample weights (B, 1, 1) -> the weights of :attr:`guidance_columns`: ``w_b`` on the guided columns,
        1 on the others ((B, 1, 1) or (B, 1, D))."""
        if self.guidance_columns == "all":
            return w_b
        guided = torch.zeros(self.dim, dtype=torch.bool, device=w_b.device)
        guided[GEOMETRY] = True
        if self.guidance_columns == "values":
            guided = ~guided
        return torch.where(guided, w_b, torch.ones_like(w_b))

    # ---- the velocity field ---------------------------------------------------------------------------------------
    def velocity(self, x: Tensor, t: Tensor | float, cond: Condition | None = None, guidance: float = 1.0) -> Tensor:
        """Guided velocity (B, n, dim) at ``x`` (B, n, dim), ``t`` (B,) or scalar; ``cond`` batch B or 1.

        ``cond=None`` means unconditional (the learned null condition). Sample b is guided with weight
        ``w_b = guidance`` where ``t_b`` lies in :attr:`guidance_interval`, else ``w_b = 1`` (the null branch is
        evaluated only when some sample needs it). With :attr:`autoguide` set, the :class:`AutoGuide` term is added.
        A self-conditioned model gets no previous estimate here (the first step of a trajectory); :meth:`velocity_fn`
        carries it along a solve.
        """
        cond = (self.condition() if cond is None else cond).to(x.device)
        lo, hi = self.guidance_interval
        t_b = torch.as_tensor(t, dtype=torch.float32).reshape(-1).expand(x.shape[0]).to(x.device)
        inside = (t_b >= lo) & ((t_b < hi) | (hi >= 1.0))  # hi = 1 includes t = 1 (rk4's, dopri5's last stage)
        w = guidance if bool(inside.any()) else 1.0
        branches = self.model.forward_branches(x, t, cond, w)
        if self.model.guided(w):
            w_b = torch.where(inside, w, 1.0).to(branches.dtype).view(-1, *([1] * (branches.dim() - 1)))
            u = self.model.combine(branches, self._column_weight(w_b))
        else:
            u = branches
        if self.autoguide is not None:
            u_c = branches[:x.shape[0]]
            u = u + (self.autoguide.weight - 1.0) * (u_c - self.autoguide.model(x, t, cond))
        return u

    def velocity_fn(self, cond: Condition | None, guidance: float, pushes: bool = True) -> VelocityFn:
        """The closure ``(x, t) -> velocity(x, t, cond, guidance)`` the solvers integrate; for a self-conditioned
        model a fresh :class:`~msdf.flow.self_condition.SelfConditionedVelocity`, which feeds each evaluation the
        previous one's clean estimate. With ``pushes`` true, the pushes of :attr:`repulsion` and then :attr:`alignment`
        (those that are on) are added to the centre columns; ``pushes=False`` leaves both out."""
        if self.model.self_condition:
            fn = SelfConditionedVelocity(self.model, self.condition() if cond is None else cond, guidance, self.path)
        else:
            def fn(x: Tensor, t: Tensor | float) -> Tensor:
                return self.velocity(x, t, cond, guidance)
        if not pushes:
            return fn
        std = self.normalizer.std[..., CENTERS]
        return self.alignment.wrap(self.repulsion.wrap(fn, self.path, self.denormalize, std), self.path,
                                   self.denormalize, std)

    def condition(self, prompts: Sequence[str | None] | None = None,
                  classes: Sequence[str | None] | None = None) -> Condition:
        """Build a :class:`Condition` from captions or class names (one row each; ``""`` or ``None`` -> null).

        With neither, a single null (unconditional) row.  Class models accept prompts that name exactly one class.
        """
        if prompts is not None and classes is not None:
            raise ValueError("give prompts or classes, not both")
        items = prompts if prompts is not None else classes
        if items is None:
            items = [None]
        null = torch.tensor([not s for s in items], dtype=torch.bool, device=self.device)
        if self.cond_type == "none":
            return Condition(null=torch.ones_like(null))
        if self.cond_type == "class":
            names = classes if classes is not None else [self._class_from_prompt(p) if p else None for p in items]
            labels = torch.tensor([self._class_index(c) if c else 0 for c in names], device=self.device)
            return Condition(null=null, labels=labels)
        if classes is not None:
            raise ValueError("this model is text-conditional: pass prompts=[...], not classes")
        emb = torch.zeros(len(items), int(self.meta["text_dim"]))
        real = [i for i, p in enumerate(items) if p]
        if real:
            emb[real] = self._caption_cache().embed([items[i] for i in real])
        return Condition(null=null, text=emb.to(self.device))

    # ---- sampling -------------------------------------------------------------------------------------------------
    def noise(self, seeds: Sequence[int]) -> Tensor:
        """Source noise (len(seeds), n, dim) on this sampler's device, row j from seed ``seeds[j]`` (module doc)."""
        return source_noise(seeds, (self.n, self.dim), self.device)

    def solve(self, cond: Condition, x0: Tensor, solver: Solver | EulerMaruyama, guidance: float = GUIDANCE_DEFAULT,
              batch_size: int = 16, quiet: bool = False, desc: str = "ODE",
              seeds: Sequence[int] | None = None) -> tuple[Tensor, dict[str, Any]]:
        """Integrate the guided ODE (or, for an :class:`~msdf.flow.stochastic.EulerMaruyama` solver, the SDE with
        its marginals, its step noise drawn from ``seeds``, one per sample) from ``x0`` (B, n, dim) in
        ``batch_size`` chunks; ``cond`` has batch B or 1.

        Returns ``(x1 (B, n, dim) normalised, timings)`` with ``ode_s`` (solver wall time), ``nfe`` (evaluations of the
        last chunk) and ``nfe_per_batch``.
        """
        if cond.batch_size == 1 and x0.shape[0] != 1:
            cond = cond.expand(x0.shape[0])
        if cond.batch_size != x0.shape[0]:
            raise ValueError(f"{cond.batch_size} conditions for {x0.shape[0]} samples")
        if isinstance(solver, EulerMaruyama) and (seeds is None or len(seeds) != x0.shape[0]):
            raise ValueError("the SDE solver needs one seed per sample for its step noise")
        out, nfes, t_ode = [], [], 0.0
        starts = range(0, x0.shape[0], batch_size)
        for s in tqdm(starts, desc=desc, unit="batch", disable=quiet or len(starts) == 1):
            idx = torch.arange(s, min(s + batch_size, x0.shape[0]))
            t0 = time.perf_counter()
            run = (solver.bind(self.path, seeds[s:s + len(idx)], tuple(x0.shape[1:]), self.device)
                   if isinstance(solver, EulerMaruyama) else solver)
            sol = run(self.velocity_fn(cond.index(idx.to(cond.null.device)), guidance), x0[s:s + len(idx)])
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            t_ode += time.perf_counter() - t0
            nfes.append(sol.nfe)
            out.append(sol.x)
        return torch.cat(out), {"ode_s": t_ode, "nfe": nfes[-1], "nfe_per_batch": nfes}

    def matrices(self, x1: Tensor) -> Tensor:
        """Normalised samples (B, n, dim) -> valid raw M-SDF matrices (B, n, dim), float32 on the CPU (module doc)."""
        return valid_half_widths(self.denormalize(x1.detach()).float().cpu())

    @torch.no_grad()
    def sample(self, cond: Condition, seeds: Sequence[int], solver: Solver | EulerMaruyama,
               guidance: float = GUIDANCE_DEFAULT,
               batch_size: int = 16, quiet: bool = False, restart: Restart = Restart(),
               temperature: float = TEMPERATURE_DEFAULT) -> tuple[Tensor, dict[str, Any]]:
        """Raw M-SDF matrices (B, n, dim) for ``cond`` (batch B or 1) and one seed per sample (``len(seeds) == B``).

        The module doc's rule: sample j depends only on its condition and ``seeds[j]``, not on the batching.
        ``temperature`` tau scales the source noise, ``x_0 = tau eps`` (and the restarts' fresh noise the same way);
        ``restart`` adds :class:`Restart` passes after the solve. Returns ``(matrices, timings)`` as :meth:`solve`
        (``nfe`` counts the restarts' evaluations too).
        """
        if not temperature > 0.0:
            raise ValueError(f"temperature must be > 0 (got {temperature})")
        x1, timings = self.solve(cond, temperature * self.noise(seeds), solver, guidance, batch_size, quiet,
                                 seeds=seeds)
        for r in range(restart.count):
            eps = temperature * source_noise(seeds, (self.n, self.dim), self.device, draw=r + 1)
            x1, again = self.solve_from(cond, eps, x1, restart.t, restart.nfe, guidance, batch_size)
            timings["ode_s"] += again["ode_s"]
            timings["nfe"] += again["nfe"]
        return self.matrices(x1), timings

    def solve_from(self, cond: Condition, eps: Tensor, x1: Tensor, t: float, nfe: int,
                   guidance: float = GUIDANCE_DEFAULT, batch_size: int = 16) -> tuple[Tensor, dict[str, Any]]:
        """Noise the normalised ``x1`` (B, n, dim) back to time ``t`` with ``eps`` (B, n, dim), ``x_t = path
        .interpolate(eps, x1, t)``, and integrate the guided ODE from ``t`` to 1 (midpoint, ``nfe`` evaluations):
        one restart pass, or a solve started from data. Returns ``(x1 (B, n, dim) normalised, timings)`` as
        :meth:`solve`."""
        x_t = self.path.interpolate(eps, x1, torch.full((len(x1),), t, device=x1.device))
        return self.solve(cond, x_t, lambda v, x: solve(v, x, "midpoint", nfe, t0=t), guidance, batch_size,
                          quiet=True)

    # ---- normalisation --------------------------------------------------------------------------------------------
    def denormalize(self, x: Tensor) -> Tensor:
        """Normalised (B, n, dim) -> raw M-SDF matrices (B, n, dim) (differentiable; no clamping)."""
        return self.normalizer.denormalize(x)

    def normalize(self, x: Tensor) -> Tensor:
        """Raw M-SDF matrices -> the model's normalised space."""
        return self.normalizer.normalize(x)

    # ---- conditions -----------------------------------------------------------------------------------------------
    def _class_index(self, name: str) -> int:
        if name not in self.class_names:
            raise ValueError(f"unknown class {name!r}; this model knows: {', '.join(self.class_names)}")
        return self.class_names.index(name)

    def _class_from_prompt(self, prompt: str) -> str:
        words = set(re.findall(r"[a-z0-9_\-]+", prompt.lower()))
        hits = [c for c in self.class_names if c.lower() in words or f"{c.lower()}s" in words]
        if len(hits) != 1:
            raise ValueError(
                f"class-conditional model: prompt {prompt!r} must name exactly one of {', '.join(self.class_names)}"
            )
        return hits[0]

    def _caption_cache(self):
        """Prompt embeddings cached in RUN/caption-embeddings.<model>.safetensors: a prompt seen before (by this
        sampler, an earlier ``msdf generate`` or the bench scripts) needs no text encoder."""
        if self._text is None:
            from msdf.flow.text import CaptionCache, cache_path

            model = self.meta.get("text_model")
            self._text = CaptionCache(cache_path(self.run_dir, model), model)
        return self._text

