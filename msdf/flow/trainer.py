"""The flow-matching training loop (single process, or torchrun DDP with NCCL on GPUs / gloo on CPUs).

The data are loaded once; with ``model.slots`` their rows are first put in slot-template order (the template is
fitted on the training shapes' centres, :mod:`msdf.flow.slots`). One step, for a batch of normalised data ``x1``
(B, n, D) with conditions ``c``:

    x1     <- a random subset of train_rows rows of each shape, when 0 < train_rows < n   (msdf.flow.row_subset)
    c      <- null with probability p_uncond                     (CFG training)
    x0     ~ N(0, I); optionally x0 <- x0[OT(x0, x1 | c)]         (multisample FM within each condition)
              and/or each sample's rows reordered by OT to its data rows (row_alignment, msdf.flow.coupling)
    t      ~ U(0, 1) or logit-normal
    x_t    =  (1 - kappa(t)) x0 + kappa(t) x1                     (msdf.flow.path; kappa = t unless geometry_end or
                                                              values_end < 1)
    x1_p   =  self_condition share of the batch: the clean estimate of u_theta(x_t, t | c, 0), no gradient; else 0
              (only for a self-conditioned model, msdf.flow.self_condition)
    loss   =  mean_rows w_i || u_theta(x_t, t | c, x1_p) - kappa'(t) (x1 - x0) ||_i^2
                                                             (w_i = 1, or sparse-row weights, msdf.flow.sparse_rows)
                                                             (+ field_weight * L_field, msdf.flow.field_loss)
                                                             (+ center_weight * L_center, msdf.flow.center_loss)
                                                             (+ spacing_weight * L_spacing, msdf.flow.spacing_loss)
                                                             (+ space_weight * L_space, msdf.flow.space_loss)
    AdamW step (torch's fused kernel; warm-up + cosine/constant LR, grad-norm clipping), EMA update.

A non-finite loss or gradient norm stops training before the optimiser step, with a message; the last committed
checkpoint is kept untouched.  Training stops at whichever of ``config.steps`` / ``config.minutes`` comes first and
always writes a final checkpoint.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from msdf.atomic import atomic_write
from msdf.device import torch_device
from msdf.rows import CENTERS, VALUES
from msdf.flow import checkpoint as ckpt
from msdf.flow import precision
from msdf.flow.center_loss import center_loss
from msdf.flow.compiled import compile_model
from msdf.flow.condition import Condition
from msdf.flow.config import TrainConfig
from msdf.flow.coupling import align_rows, ot_permutation
from msdf.flow.dataset import load_matrices, split_indices
from msdf.flow.ema import EMA
from msdf.flow.field_loss import field_loss
from msdf.flow.normalizer import Normalizer
from msdf.flow.path import CondOTPath, column_weights, flow_matching_loss, sample_time
from msdf.flow.row_subset import row_subset
from msdf.flow.sparse_rows import sparse_row_weights
from msdf.flow.self_condition import training_estimate
from msdf.flow.slots import fit_template, reorder_rows
from msdf.flow.space_loss import SpaceTruth, space_loss
from msdf.flow.spacing_loss import spacing_loss


class TrainingError(RuntimeError):
    """Training cannot start or continue (bad data for the chosen conditioning, mismatched resume, ...)."""


@dataclass
class TrainResult:
    """``status``: ``"done"`` (steps or time budget reached) or ``"nonfinite"`` (stopped on NaN/Inf)."""

    status: str
    step: int
    loss: float
    val_loss: float | None
    run_dir: Path
    samples_per_s: float


def learning_rate(config: TrainConfig, step: int, budget_used: float = 0.0) -> float:
    """LR at optimiser step ``step`` (0-based): linear warm-up to ``lr``, then constant, or cosine down to
    ``min_lr_ratio * lr``::

        progress = max((step - warmup) / (steps - warmup), budget_used)
        lr(step) = lr * (floor + (1 - floor) * (1 + cos(pi * progress)) / 2)

    ``budget_used`` is the fraction of a ``minutes`` budget spent so far (0 without one), so a run stopped by the
    clock reaches the floor at its deadline instead of stopping at a high learning rate."""
    warm = min(1.0, (step + 1) / max(1, config.warmup_steps))
    if config.schedule == "constant" or step < config.warmup_steps:
        return config.lr * warm
    span = max(1, config.steps - config.warmup_steps)
    progress = min(1.0, max((step - config.warmup_steps) / span, budget_used))
    floor = config.min_lr_ratio
    return config.lr * (floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress)))


class _Distributed:
    """Rank/world size and the few collectives the loop needs (no-ops in a single process)."""

    def __init__(self, device: torch.device):
        self.owns_group = False
        if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
            self.owns_group = True
        self.enabled = dist.is_initialized()
        self.rank = dist.get_rank() if self.enabled else 0
        self.world = dist.get_world_size() if self.enabled else 1
        self.device = device

    def max(self, value: float) -> float:
        """The largest ``value`` over the ranks."""
        if not self.enabled:
            return value
        t = torch.tensor([value], dtype=torch.float64, device=self.device if self.device.type == "cuda" else "cpu")
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return float(t.item())

    def any(self, flag: bool) -> bool:
        """True if ``flag`` is true on any rank."""
        return self.max(1.0 if flag else 0.0) > 0

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def close(self) -> None:
        if self.owns_group:
            dist.destroy_process_group()


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` -> cuda if available else cpu; under torchrun each rank takes ``cuda:LOCAL_RANK``; a bare ``cuda``
    becomes the current device ``cuda:i`` (DDP and ``torch.cuda.set_device`` need an index)."""
    dev = torch_device(device)
    if dev.type == "cuda" and dev.index is None and "LOCAL_RANK" in os.environ:
        dev = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise TrainingError("--device cuda requested but CUDA is not available")
        if dev.index is None:
            dev = torch.device("cuda", torch.cuda.current_device())
        torch.cuda.set_device(dev)
    return dev


class _Conditions:
    """Per-shape conditions of the training set: class indices or cached caption embeddings."""

    def __init__(self, store: Any, config: TrainConfig, run_dir: Path, class_names: list[str] | None, quiet: bool):
        self.kind = config.cond
        self.class_names: list[str] = []
        self.text_dim = 384
        self.labels = self.text = None
        if self.kind == "class":
            labels = list(store.labels)
            missing = [i for i, l in enumerate(labels) if not l]
            if missing:
                raise TrainingError(f"--cond class: {len(missing)} shapes have no label (first: index {missing[0]})")
            self.class_names = class_names or sorted(set(labels))
            unknown = sorted(set(labels) - set(self.class_names))
            if unknown:
                raise TrainingError(f"resumed run does not know classes {unknown}")
            self.labels = torch.tensor([self.class_names.index(l) for l in labels], dtype=torch.long)
        elif self.kind == "text":
            from msdf.flow.text import CaptionCache, cache_path

            captions = list(store.captions)
            missing = [i for i, c in enumerate(captions) if not c]
            if missing:
                raise TrainingError(f"--cond text: {len(missing)} shapes have no caption (first: index {missing[0]})")
            root = getattr(store, "root", None)
            cache_dir = Path(root) if root is not None and os.access(root, os.W_OK) else run_dir
            cache = CaptionCache(cache_path(cache_dir, config.text_model), config.text_model)
            if not quiet:
                print(f"caption embeddings: {cache.path}")
            self.text = cache.embed(captions)
            self.text_dim = int(self.text.shape[1])

    def batch(self, idx: torch.Tensor, device: torch.device) -> Condition:
        null = torch.zeros(len(idx), dtype=torch.bool)
        return Condition(
            null=null, labels=None if self.labels is None else self.labels[idx], text=None if self.text is None
            else self.text[idx]
        ).to(device)


def _plot_loss(path: Path, history: list[dict[str, float]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    tr = [(h["step"], h["loss"]) for h in history if "loss" in h]
    va = [(h["step"], h["val_loss"]) for h in history if "val_loss" in h]
    if tr:
        ax.plot(*zip(*tr), label="train", lw=1)
    if va:
        ax.plot(*zip(*va), "o-", label="validation (EMA)", ms=3)
    ax.set_xlabel("step")
    ax.set_ylabel("flow-matching loss")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    with atomic_write(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def make_batch(x1: torch.Tensor, cond: Condition, config: TrainConfig
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, Condition]:
    """Noise, data, times and conditions of one training step (uses the global torch RNG).

    ``x1`` (B, n, D) normalised data; each condition is dropped to null with probability ``config.p_uncond``;
    ``x0 ~ N(0, I)`` is OT-paired with ``x1`` within equal conditions when ``config.ot_coupling``, and its rows
    with each sample's data rows when ``config.row_alignment``.
    Returns ``(x0, x1, t (B,), cond)``.
    """
    b = x1.shape[0]
    cond = cond.with_null(torch.rand(b) < config.p_uncond)
    x0 = torch.randn_like(x1)
    if config.ot_coupling:
        x0 = x0[ot_permutation(x0, x1, cond.group_ids())]
    if config.row_alignment:
        x0 = align_rows(x0, x1)
    t = sample_time(b, config.time_sampler, loc=config.logit_normal_loc, scale=config.logit_normal_scale,
                    uniform_share=config.time_uniform_share, device=x1.device)
    return x0, x1, t, cond


@torch.no_grad()
def validation_loss(model: torch.nn.Module, data: torch.Tensor, conds: _Conditions, idx: list[int],
                    config: TrainConfig, device: torch.device) -> float | None:
    """Conditional flow-matching loss on held-out shapes with fixed noise and times (comparable across steps)."""
    if not idx:
        return None
    gen = torch.Generator().manual_seed(config.seed + 12345)
    total, count = 0.0, 0
    bs = config.batch_size
    path, weight = CondOTPath.of(config), column_weights(data.shape[-1], config.geometry_weight)
    for start in range(0, min(len(idx), bs * config.val_batches), bs):
        sel = torch.tensor(idx[start:start + bs])
        x1 = data[sel].to(device)
        x0 = torch.randn(x1.shape, generator=gen).to(device)
        t = sample_time(len(sel), config.time_sampler, loc=config.logit_normal_loc,
                        scale=config.logit_normal_scale, uniform_share=config.time_uniform_share,
                        generator=gen).to(device)
        pred = model(path.interpolate(x0, x1, t), t, conds.batch(sel, device))
        total += flow_matching_loss(pred, path.target_velocity(x0, x1, t), weight).item() * len(sel)
        count += len(sel)
    return total / count


def train(store: Any, config: TrainConfig, run_dir: str | Path, *, device: str | torch.device = "cpu",
          resume: bool = False, quiet: bool = False) -> TrainResult:
    """Train a flow model on ``store`` into ``run_dir`` (see the module docstring); returns a :class:`TrainResult`.

    Under torchrun (``WORLD_SIZE > 1``) every process calls this; ``config.batch_size`` is per process.
    """
    config.validate()
    run_dir = Path(run_dir)
    dev = resolve_device(device)
    ddp = _Distributed(dev)
    try:
        return _train(store, config, run_dir, dev, ddp, resume, quiet or ddp.rank != 0)
    finally:
        ddp.close()


def _train(store: Any, config: TrainConfig, run_dir: Path, dev: torch.device, ddp: _Distributed, resume: bool,
           quiet: bool) -> TrainResult:
    state: dict[str, Any] | None = None
    folder = None
    if resume:
        try:
            folder, state = ckpt.latest_checkpoint(run_dir)
        except ckpt.CheckpointError:
            if (ckpt.checkpoint_root(run_dir) / ckpt.LATEST).exists():
                raise
            if not quiet:
                print(f"--resume: no checkpoint in {run_dir} yet, starting from scratch")
    elif (ckpt.checkpoint_root(run_dir) / ckpt.LATEST).exists():
        raise TrainingError(f"{run_dir} already holds a training run: pass --resume or choose another --out")
    if state is not None:
        old = TrainConfig.from_dict(state["config"])
        if old.model != config.model or old.cond != config.cond or old.text_model != config.text_model:
            raise TrainingError(f"{folder}: --resume with a different model/conditioning than the checkpoint")

    train_idx, val_idx = split_indices(store, config.val_fraction, config.seed)
    if not train_idx:
        raise TrainingError("the store has no training shapes")
    weights = ckpt.load_weights(folder) if state is not None else None
    raw = load_matrices(store, quiet=quiet)
    template = None
    if config.model.slots:
        template = (weights[0]["slot_embed.template"] if weights is not None
                    else fit_template(raw[train_idx, :, CENTERS], store.n, seed=config.seed))
        raw = reorder_rows(raw, template)
    if state is not None:
        normalizer = Normalizer.from_stats(state["normalizer"])
    elif config.normalization == "slot":
        normalizer = Normalizer.per_slot(raw[train_idx], value_scale=config.value_scale)
    elif config.value_scale is not None:
        normalizer = Normalizer.fit(raw[train_idx], config.value_scale)
    else:
        normalizer = Normalizer.from_stats(store.stats(train_idx))
    data = normalizer.normalize(raw)
    row_weights = (sparse_row_weights(raw, config.sparse_neighbours, config.sparse_weight, config.sparse_floor)
                   if config.sparse_weight > 0 else None)  # (N, n)
    # the field loss's scale: the SDF values' overall std over the training shapes (computed only when used)
    value_std = float(raw[train_idx, :, VALUES].std()) if config.field_weight > 0 or config.space_weight > 0 else 1.0
    truth = SpaceTruth.build(raw, config.space_resolution, quiet).to(dev) if config.space_weight > 0 else None
    conds = _Conditions(store, config, run_dir, state["meta"]["class_names"] if state else None, quiet)
    meta = {"n": store.n, "k": store.k, "dim": data.shape[2], "cond": config.cond, "class_names": conds.class_names,
            "text_model": config.text_model if config.cond == "text" else None, "text_dim": conds.text_dim,
            "num_train": len(train_idx), "num_val": len(val_idx)}

    torch.manual_seed(config.seed + ddp.rank)
    data_gen = torch.Generator().manual_seed(config.seed * 7919 + ddp.rank)
    model = ckpt.build_model(config, meta)
    if template is not None:
        model.slot_embed.template.copy_(template)
    model = model.to(dev)
    ema = EMA(model, config.ema_decay)
    # fused: one kernel for the whole update instead of torch's per-tensor loop on the CPU (bench/bench_optimizer.py)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, betas=tuple(config.betas),
                            weight_decay=config.weight_decay, fused=True)
    progress: dict[str, Any] = {"step": 0, "elapsed_s": 0.0, "samples_seen": 0, "history": []}
    if weights is not None:
        model.load_state_dict(weights[0])
        ema.module.load_state_dict(weights[1])
        opt.load_state_dict(ckpt.load_torch(folder / "optim.pt"))
        progress = state["progress"]
        rng_file = folder / f"rng-rank{ddp.rank}.pt"
        if rng_file.exists():
            rng = ckpt.load_torch(rng_file)
            torch.set_rng_state(rng["torch"])
            data_gen.set_state(rng["data"])
            if "cuda" in rng and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(list(rng["cuda"]))
        elif not quiet:
            print(f"{rng_file} missing (different world size?): random streams restart from the seed")
    ema.module.to(dev)

    net = DistributedDataParallel(model, device_ids=[dev.index] if dev.type == "cuda" else None) if ddp.enabled \
        else model
    fwd = compile_model(net, dev) if config.compile else net
    mixed = precision.autocast(dev, config.bf16)
    writer = None
    if ddp.rank == 0:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(run_dir / "tb"))
    run_dir.mkdir(parents=True, exist_ok=True)

    def save(step: int) -> None:
        folder_ = ckpt.step_dir(run_dir, step)
        if ddp.rank == 0:
            ckpt.save_weights_and_state(folder_, model, ema.module, {
                "config": config.to_dict(), "meta": meta, "normalizer": normalizer.to_dict(), "progress": progress,
            }, opt)
        ddp.barrier()
        ckpt.save_rng(folder_, ddp.rank, data_gen)
        ddp.barrier()
        if ddp.rank == 0:
            ckpt.commit(run_dir, step, config.keep_checkpoints)
            _plot_loss(run_dir / "loss.png", progress["history"])
        ddp.barrier()

    step = int(progress["step"])
    start = begin = time.monotonic()

    def budget_used() -> float:
        """Fraction of this invocation's ``minutes`` budget spent (the same on every rank; 0 without a budget)."""
        return 0.0 if config.minutes is None else ddp.max((time.monotonic() - begin) / (60.0 * config.minutes))

    used = budget_used()
    bs = config.batch_size
    ntrain = len(train_idx)
    train_t = torch.tensor(train_idx)
    weight = column_weights(data.shape[2], config.geometry_weight)
    path = CondOTPath.of(config)
    status, last_loss, val = "done", float("nan"), None
    window: list[float] = []
    saved_at = step if state is not None else -1
    # a --minutes run counts seconds of its budget (its ETA is the deadline), a step-limited run counts steps
    bar = (tqdm(total=round(60 * config.minutes), unit="s", desc="train (budget)", disable=quiet, dynamic_ncols=True)
           if config.minutes is not None else
           tqdm(total=config.steps, initial=step, desc="train", disable=quiet, dynamic_ncols=True))
    t_window = time.monotonic()
    while step < config.steps and used < 1.0:
        sel = (torch.randperm(ntrain, generator=data_gen)[:bs] if bs <= ntrain
               else torch.randint(ntrain, (bs,), generator=data_gen))
        idx = train_t[sel]
        # per-row loss weights ride along as one extra last column, so a row subset keeps each row's own weight
        x1 = data[idx] if row_weights is None else torch.cat([data[idx], row_weights[idx, :, None]], dim=-1)
        x1 = row_subset(x1, min(config.train_rows, store.n), data_gen) if config.train_rows else x1
        x1, row_w = (x1, None) if row_weights is None else (x1[..., :-1], x1[..., -1].to(dev))
        x0, x1, t, cond = make_batch(x1.to(dev), conds.batch(idx, dev), config)
        xt = path.interpolate(x0, x1, t)
        with mixed:
            x1_prev = (training_estimate(model, path, xt, t, cond, config.self_condition, data_gen)
                       if config.self_condition > 0 else None)
            pred = fwd(xt, t, cond, x1_prev)
        loss = flow_matching_loss(pred, path.target_velocity(x0, x1, t), weight, row_w)
        if config.field_weight > 0 or config.center_weight > 0 or config.spacing_weight > 0 or truth is not None:
            x1_hat_raw = normalizer.denormalize(path.clean_estimate(xt, t, pred.float()))
            x1_raw = normalizer.denormalize(x1)
            if config.field_weight > 0:
                loss = loss + config.field_weight * field_loss(x1_hat_raw, x1_raw, t, store.k, value_std,
                                                               config.field_surface_weight)
            if config.center_weight > 0:
                loss = loss + config.center_weight * center_loss(x1_hat_raw, x1_raw, t)
            if config.spacing_weight > 0:
                loss = loss + config.spacing_weight * spacing_loss(x1_hat_raw, x1_raw, t)
            if truth is not None:
                loss = loss + config.space_weight * space_loss(x1_hat_raw, truth, idx, t, store.k, value_std,
                                                                config.space_margin)
        opt.zero_grad(set_to_none=True)
        if ddp.any(not bool(torch.isfinite(loss))):
            status = "nonfinite"
            break
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        if ddp.any(not bool(torch.isfinite(gnorm))):
            status = "nonfinite"
            break
        lr = learning_rate(config, step, used)
        for g in opt.param_groups:
            g["lr"] = lr
        opt.step()
        ema.update(model, step)
        step += 1
        used = budget_used()
        last_loss = float(loss.detach())
        window.append(last_loss)
        progress["samples_seen"] += bs * ddp.world
        bar.update(min(bar.total, round(time.monotonic() - begin)) - bar.n if config.minutes is not None else 1)
        if step % config.log_every == 0 or step == config.steps:
            now = time.monotonic()
            sps = len(window) * bs * ddp.world / max(1e-9, now - t_window)
            mean_loss = float(np.mean(window))
            progress["history"].append({"step": step, "loss": mean_loss, "lr": lr})
            bar.set_postfix(step=step, loss=f"{mean_loss:.4f}", samples_s=f"{sps:.1f}")
            if writer is not None:
                writer.add_scalar("train/loss", mean_loss, step)
                writer.add_scalar("train/lr", lr, step)
                writer.add_scalar("train/grad_norm", float(gnorm), step)
                writer.add_scalar("train/samples_per_s", sps, step)
            window, t_window = [], now
        if step % config.val_every == 0 and ddp.rank == 0:
            val = validation_loss(ema.module, data, conds, val_idx, config, dev)
            if val is not None:
                progress["history"].append({"step": step, "val_loss": val})
                if writer is not None:
                    writer.add_scalar("val/loss", val, step)
        if step % config.ckpt_every == 0:
            progress["step"] = step
            progress["elapsed_s"] += time.monotonic() - start
            start = time.monotonic()
            save(step)
            saved_at = step
    bar.close()
    progress["elapsed_s"] += time.monotonic() - start
    if status == "nonfinite":
        if not quiet or ddp.rank == 0:
            print(f"training stopped: non-finite loss or gradient at step {step + 1}; "
                  f"the last good checkpoint in {ckpt.checkpoint_root(run_dir)} is kept")
    elif step != saved_at:
        if ddp.rank == 0:
            val = validation_loss(ema.module, data, conds, val_idx, config, dev)
            if val is not None:
                progress["history"].append({"step": step, "val_loss": val})
        progress["step"] = step
        save(step)
    if writer is not None:
        writer.close()
    total = progress["elapsed_s"]
    return TrainResult(status=status, step=step, loss=last_loss, val_loss=val, run_dir=run_dir,
                       samples_per_s=progress["samples_seen"] / total if total > 0 else 0.0)
