"""Bespoke Non-Stationary (BNS) solvers (Shaul et al., 2024): a few-step sampler learned for one flow model.

An n-NFE non-stationary solver evaluates the velocity at n learned times and forms each new state as a learned linear
combination of the source x_0 and all velocities so far::

    u_j     = u(x_j, t_j)                                    j = 0 .. n-1   (one NFE each)
    x_{i+1} = a_i x_0 + sum_{j <= i} b_ij u_j                 i = 0 .. n-1,  output x_n ~ x(1)

Parameters: times t (n,), a (n,), lower-triangular b (n(n+1)/2,), in total n + n + n(n+1)/2 = n(n+5)/2.
Every parameter is used (t_0 is free too: the first evaluation need not be at exactly 0).

Initialisation reproduces a classical solver exactly:

* Euler (h = 1/n):    t_i = i h, a_i = 1, b_ij = h.
* midpoint (n even, m = n/2 steps, h = 1/m): evaluation times t_i = i h/2; even i (a half step from a full state):
  b_{i,i} = h/2; odd i (a full step using the midpoint velocity): b_{i,i} = h; and every earlier midpoint velocity
  (odd j < i) keeps weight h. a_i = 1.

Training minimises the PSNR loss L = E log(mean((s * (x_n - x(1)))^2)) against adaptive-solver (dopri5) targets x(1) on
a set of (noise, condition) pairs, with classifier-free guidance inside the velocity field. ``s`` (D,) optionally
weights the columns; :func:`distill` leaves it at 1 (the model's standardised space): weighting by the normaliser's std
(errors in M-SDF units, where the 3 centre columns dominate) was measured no better, even in M-SDF units
(``bench/bench_solvers.py --loss-space msdf``). Saved as ``.safetensors`` (the three parameter tensors) + ``.json``
(nfe, init, guidance, training record) pair.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor
from tqdm.auto import tqdm

from msdf.atomic import atomic_write, write_json
from msdf.choices import BNS_INITS, GUIDANCE_DEFAULT
from msdf.flow.solvers import CountingVelocity, ODESolution, VelocityFn

if TYPE_CHECKING:
    from msdf.flow.sampler import FlowSampler

FORMAT_VERSION = 1
INITS = BNS_INITS


class BNSFormatError(ValueError):
    """A BNS solver file is missing, unreadable or inconsistent (the message names the file)."""


class BNSSolver(torch.nn.Module):
    """An n-NFE non-stationary solver with learnable ``times`` (n,), ``a`` (n,) and packed lower-triangular ``b``."""

    def __init__(self, times: Tensor, a: Tensor, b_packed: Tensor, init: str = "custom"):
        super().__init__()
        n = times.shape[0]
        if a.shape != (n,) or b_packed.shape != (n * (n + 1) // 2,):
            raise ValueError(f"inconsistent BNS parameter shapes: times {tuple(times.shape)}, a {tuple(a.shape)}, "
                             f"b {tuple(b_packed.shape)} (expected ({n},), ({n * (n + 1) // 2},))")
        self.nfe = n
        self.init = init
        self.times = torch.nn.Parameter(times.detach().clone().double())
        self.a = torch.nn.Parameter(a.detach().clone().double())
        self.b_packed = torch.nn.Parameter(b_packed.detach().clone().double())
        rows, cols = torch.tril_indices(n, n)
        self.register_buffer("_rows", rows, persistent=False)
        self.register_buffer("_cols", cols, persistent=False)

    # ---- construction ---------------------------------------------------------------------------------------------
    @classmethod
    def from_solver(cls, init: str, nfe: int) -> "BNSSolver":
        """The non-stationary form of the classical ``init`` solver (``euler`` or ``midpoint``) at ``nfe`` evaluations."""
        n = nfe
        b = torch.zeros(n, n, dtype=torch.float64)
        if init == "euler":
            if n < 1:
                raise ValueError(f"BNS needs nfe >= 1 (got {nfe})")
            h = 1.0 / n
            times = torch.arange(n, dtype=torch.float64) * h
            b[torch.tril_indices(n, n).unbind()] = h
        elif init == "midpoint":
            if n < 2 or n % 2:
                raise ValueError(f"a midpoint-initialised BNS solver needs an even nfe >= 2 (got {nfe})")
            h = 1.0 / (n // 2)
            times = torch.arange(n, dtype=torch.float64) * (h / 2)
            for i in range(n):
                for j in range(1, i, 2):
                    b[i, j] = h
                b[i, i] = h / 2 if i % 2 == 0 else h
        else:
            raise ValueError(f"unknown BNS initialisation {init!r}; choose one of {INITS}")
        rows, cols = torch.tril_indices(n, n)
        return cls(times, torch.ones(n, dtype=torch.float64), b[rows, cols], init=init)

    @property
    def b(self) -> Tensor:
        """(n, n) lower-triangular coefficient matrix b_ij."""
        n = self.nfe
        full = torch.zeros(n, n, dtype=self.b_packed.dtype, device=self.b_packed.device)
        return full.index_put((self._rows, self._cols), self.b_packed)

    def num_parameters(self) -> int:
        """n(n+5)/2 for n NFE."""
        return sum(p.numel() for p in self.parameters())

    # ---- sampling -------------------------------------------------------------------------------------------------
    def forward(self, velocity_fn: VelocityFn, x0: Tensor, return_trajectory: bool = False) -> ODESolution:
        """Run the solver from ``x0`` (B, ...); differentiable in the solver parameters and ``x0``.

        Returns an :class:`ODESolution` whose trajectory (if asked) holds x_0 .. x_n and whose ``times`` are t_0..t_{n-1}
        followed by 1.
        """
        f = CountingVelocity(velocity_fn)
        dtype = x0.dtype
        times = self.times.to(dtype=dtype, device=x0.device)
        a = self.a.to(dtype=dtype, device=x0.device)
        b = self.b.to(dtype=dtype, device=x0.device)
        x = x0
        us: list[Tensor] = []
        states = [x0]
        for i in range(self.nfe):
            us.append(f(x, times[i].expand(x0.shape[0])))
            x = a[i] * x0 + sum(b[i, j] * us[j] for j in range(i + 1))
            if return_trajectory:
                states.append(x)
        grid = torch.cat([times.detach(), torch.ones(1, dtype=dtype, device=x0.device)])
        return ODESolution(x, torch.stack(states) if return_trajectory else None, grid, f.calls)

    # ---- persistence ----------------------------------------------------------------------------------------------
    def save(self, path: str | Path, metadata: dict | None = None) -> None:
        """Write ``path`` (.safetensors: times, a, b_packed) and ``path.with_suffix('.json')`` (nfe, init, metadata)."""
        path = Path(path)
        tensors = {"times": self.times.detach().cpu().contiguous(), "a": self.a.detach().cpu().contiguous(),
                   "b_packed": self.b_packed.detach().cpu().contiguous()}
        with atomic_write(path) as tmp:
            save_file(tensors, str(tmp))
        info = {"format_version": FORMAT_VERSION, "kind": "bns", "nfe": self.nfe, "init": self.init,
                "num_parameters": self.num_parameters(), **(metadata or {})}
        write_json(path.with_suffix(".json"), info)

    @classmethod
    def load(cls, path: str | Path) -> tuple["BNSSolver", dict]:
        """Read a solver written by :meth:`save`; returns ``(solver, metadata)``. Raises :class:`BNSFormatError`."""
        path = Path(path)
        meta_path = path.with_suffix(".json")
        for p in (path, meta_path):
            if not p.is_file():
                raise BNSFormatError(f"{p}: BNS solver file not found (create it with `msdf distill-solver`)")
        try:
            tensors = load_file(str(path))
            meta = json.loads(meta_path.read_text())
        except Exception as exc:  # noqa: BLE001 - any parse failure is a format error of this file
            raise BNSFormatError(f"{path}: unreadable BNS solver ({exc})") from exc
        missing = {"times", "a", "b_packed"} - set(tensors)
        if missing:
            raise BNSFormatError(f"{path}: missing tensors {sorted(missing)}")
        if meta.get("kind") != "bns" or meta.get("format_version") != FORMAT_VERSION:
            raise BNSFormatError(f"{meta_path}: not a BNS solver description of format {FORMAT_VERSION}")
        try:
            solver = cls(tensors["times"], tensors["a"], tensors["b_packed"], init=meta.get("init", "custom"))
        except ValueError as exc:
            raise BNSFormatError(f"{path}: {exc}") from exc
        if solver.nfe != meta.get("nfe"):
            raise BNSFormatError(f"{path}: holds a {solver.nfe}-NFE solver but {meta_path} says {meta.get('nfe')}")
        return solver, meta


def solver_path(run_dir: str | Path, nfe: int, guidance: float) -> Path:
    """Where ``msdf distill-solver`` stores the BNS solver of a run for (nfe, guidance): RUN/solvers/bns_nfeN_wG.safetensors."""
    return Path(run_dir) / "solvers" / f"bns_nfe{nfe}_w{guidance:g}.safetensors"


def psnr_loss(x: Tensor, target: Tensor, scale: Tensor | None = None) -> Tensor:
    """Mean over the batch of log(mean squared error) per sample: x, target (B, ..., D) -> scalar (= -PSNR ln(10)/10).

    ``scale`` (D,), optional: the error of column d is multiplied by scale[d] before squaring.
    """
    err = x - target if scale is None else (x - target) * scale.to(x)
    mse = err.pow(2).flatten(1).mean(dim=1)
    return torch.log(mse.clamp_min(1e-20)).mean()


def psnr(x: Tensor, target: Tensor, peak: float = 1.0) -> Tensor:
    """Per-sample PSNR in dB, 10 log10(peak^2 / mse): (B, ...) -> (B,)."""
    mse = (x - target).pow(2).flatten(1).mean(dim=1)
    return 10.0 * torch.log10(peak**2 / mse.clamp_min(1e-20))


@dataclass
class BNSTrainResult:
    """The trained solver, the (train, validation) PSNR-loss history per logged iteration and the best validation loss."""

    solver: BNSSolver
    history: list[dict] = field(default_factory=list)
    best_val_loss: float = math.inf
    init_val_loss: float = math.inf


def train_bns(
    velocity_for: Callable[[Tensor], VelocityFn],
    x0: Tensor,
    x1: Tensor,
    nfe: int,
    init: str = "midpoint",
    iters: int = 1000,
    lr: float = 1e-2,
    batch_size: int = 64,
    val_fraction: float = 0.2,
    seed: int = 0,
    scale: Tensor | None = None,
    quiet: bool = False,
) -> BNSTrainResult:
    """Fit a BNS solver to (noise, target) pairs.

    Args:
        velocity_for: ``index (b,) -> velocity_fn`` giving the (guided) velocity for pairs ``index``; this is how the
            per-pair condition reaches the field.
        x0: (P, ...) source noise; x1: (P, ...) its accurate ODE solution (e.g. dopri5 at tight tolerance).
        init: ``euler`` or ``midpoint`` starting point.
        scale: (D,) per-column weight of the error in the loss (see :func:`psnr_loss`); None = unweighted.
    Trains with Adam on random minibatches of the training split; returns the parameters with the lowest loss on the
    held-out split (never worse than the initial solver on that split).
    """
    if x0.shape != x1.shape:
        raise ValueError(f"x0 {tuple(x0.shape)} and x1 {tuple(x1.shape)} must have the same shape")
    solver = BNSSolver.from_solver(init, nfe).to(x0.device)
    gen = torch.Generator().manual_seed(seed)
    perm = torch.randperm(x0.shape[0], generator=gen)
    n_val = min(max(1, int(round(val_fraction * x0.shape[0]))), x0.shape[0] - 1)
    val_idx, train_idx = perm[:n_val], perm[n_val:]
    val_idx = val_idx.to(x0.device)

    def val_loss() -> float:
        if n_val == 0:
            return math.nan
        with torch.no_grad():
            losses = []
            for chunk in val_idx.split(batch_size):
                out = solver(velocity_for(chunk), x0[chunk]).x
                losses.append(psnr_loss(out, x1[chunk], scale) * chunk.numel())
            return float(sum(losses) / n_val)

    result = BNSTrainResult(solver)
    result.init_val_loss = result.best_val_loss = val_loss()
    best = {k: v.detach().clone() for k, v in solver.state_dict().items()}
    opt = torch.optim.Adam(solver.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, iters))
    log_every = max(1, iters // 20)
    bar = tqdm(range(iters), desc=f"BNS nfe={nfe}", disable=quiet)
    for it in bar:
        pick = train_idx[torch.randint(len(train_idx), (min(batch_size, len(train_idx)),), generator=gen)].to(x0.device)
        loss = psnr_loss(solver(velocity_for(pick), x0[pick]).x, x1[pick], scale)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if (it + 1) % log_every == 0 or it + 1 == iters:
            v = val_loss()
            result.history.append({"iter": it + 1, "train_loss": loss.item(), "val_loss": v})
            bar.set_postfix(train=f"{loss.item():.3f}", val=f"{v:.3f}")
            if n_val == 0 or v < result.best_val_loss:
                result.best_val_loss = v
                best = {k: t.detach().clone() for k, t in solver.state_dict().items()}
    solver.load_state_dict(best)
    return result


def make_pairs(sampler: FlowSampler, pairs: int, *, guidance: float = GUIDANCE_DEFAULT,
               prompts: list[str] | None = None, seed: int = 0, batch_size: int = 16, rtol: float = 1e-5,
               atol: float = 1e-5, quiet: bool = False) -> tuple[Callable[[Tensor], VelocityFn], Tensor, Tensor, dict]:
    """(noise, condition) pairs of a :class:`~msdf.flow.sampler.FlowSampler` with their dopri5 solutions.

    Conditions are drawn at random (a generator seeded with ``seed``): class models uniformly over
    ``sampler.class_names``; text models uniformly over ``prompts`` (then required); unconditional models get the null
    condition. Pair j's noise is the sampler's source noise of seed ``seed + j`` (the seeding rule of generation).
    Returns ``(velocity_for, x0, x1, info)`` where ``velocity_for(index)`` is the guided velocity of pairs ``index``
    (as :func:`train_bns` expects), x0/x1 are (pairs, n, D) in the model's normalised space and ``info`` records the
    dopri5 NFE and time.
    """
    from msdf.flow.solvers import solve

    gen = torch.Generator().manual_seed(seed)
    if sampler.cond_type == "class":
        names = [sampler.class_names[i] for i in torch.randint(len(sampler.class_names), (pairs,), generator=gen)]
        cond = sampler.condition(classes=names)
    elif sampler.cond_type == "text":
        if not prompts:
            raise ValueError("this model is text-conditional: give prompts to distill the solver on (--prompts FILE)")
        cond = sampler.condition(prompts=[prompts[i] for i in torch.randint(len(prompts), (pairs,), generator=gen)])
    else:
        cond = sampler.condition().expand(pairs)
    x0 = sampler.noise([seed + j for j in range(pairs)])

    def velocity_for(idx: Tensor) -> VelocityFn:
        return sampler.velocity_fn(cond.index(idx.to(cond.null.device)), guidance)

    with torch.no_grad():
        x1, timings = sampler.solve(cond, x0, lambda v, x: solve(v, x, "dopri5", rtol=rtol, atol=atol), guidance,
                                    batch_size, quiet, desc="dopri5 targets")
    nfes = timings["nfe_per_batch"]
    info = {"dopri5_rtol": rtol, "dopri5_atol": atol, "dopri5_nfe_mean": sum(nfes) / len(nfes),
            "targets_s": timings["ode_s"]}
    return velocity_for, x0, x1, info


def distill(sampler: FlowSampler, nfe: int, *, pairs: int = 256, iters: int = 300,
            guidance: float = GUIDANCE_DEFAULT, init: str = "midpoint", prompts: list[str] | None = None,
            seed: int = 0, batch_size: int = 16, lr: float = 1e-2,
            rtol: float = 1e-5, atol: float = 1e-5, quiet: bool = False) -> tuple[BNSTrainResult, dict]:
    """Distill a BNS solver for a :class:`~msdf.flow.sampler.FlowSampler` at guidance ``guidance``.

    :func:`make_pairs` (``pairs`` random conditions, dopri5 targets) followed by :func:`train_bns`. Returns the result
    and a JSON-ready summary; ``val_rmse_*`` are geometric means over the held-out pairs of the per-pair RMSE in the
    normalised space, for the initial (``init``) and the trained solver.
    """
    import time

    velocity_for, x0, x1, info = make_pairs(sampler, pairs, guidance=guidance, prompts=prompts, seed=seed,
                                            batch_size=batch_size, rtol=rtol, atol=atol, quiet=quiet)
    t0 = time.perf_counter()
    result = train_bns(velocity_for, x0, x1, nfe, init=init, iters=iters, lr=lr, batch_size=batch_size, seed=seed,
                       quiet=quiet)
    summary = {"nfe": nfe, "init": init, "guidance": guidance,
               "guidance_interval": list(sampler.guidance_interval), "pairs": pairs, "iters": iters, "lr": lr,
               "batch_size": batch_size, "seed": seed, **info, "train_s": time.perf_counter() - t0,
               "val_rmse_init": math.exp(result.init_val_loss / 2),
               "val_rmse_trained": math.exp(result.best_val_loss / 2), "history": result.history}
    return result, summary
