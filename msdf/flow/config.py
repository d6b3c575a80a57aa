"""Training configuration: a dataclass, YAML files and named presets.

Precedence (lowest to highest): dataclass defaults < preset < YAML file < command-line flags.
Presets are stored once, in :data:`PRESETS`; ``msdf train --preset NAME --print-config`` writes one out as a YAML
file to edit and pass back with ``--config``.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


@dataclass
class ModelConfig:
    """Size of the :class:`~msdf.flow.model.FlowTransformer` (``dim``, classes and text size come from the data)."""

    width: int = 384
    depth: int = 8
    heads: int = 6
    mlp_ratio: float = 4.0
    row_hidden: int = 512
    cond_tokens: bool = False           # also add the condition embedding to every row token (in-context)
    slots: bool = False                 # rows in slot-template order with a slot embedding (msdf.flow.slots)
    centre_freqs: int = 0               # octaves of the Fourier features of each row's centre (0 = none)
    prediction: str = "velocity"        # velocity | data (the network outputs x1_hat; msdf.flow.path)
    locality: bool = False              # distance-biased attention: heads learn to attend to nearby grids


@dataclass
class TrainConfig:
    """Everything that defines a training run; saved as JSON with every checkpoint."""

    model: ModelConfig = field(default_factory=ModelConfig)
    cond: str = "class"                 # class | text | none
    text_model: str = "all-MiniLM-L6-v2"  # sentence-transformers name or path (cond=text)
    p_uncond: float = 0.15              # CFG: probability of dropping the condition to the learned null
    geometry_weight: float = 1.0        # loss weight of the 4 centre/half-width columns vs the k^3 SDF values
    normalization: str = "column"       # column | slot (per slot and column; needs model.slots)
    value_scale: float | None = None    # symlog scale a of the SDF values before standardising (msdf.flow.normalizer)
    field_weight: float = 0.0           # weight of the field-space loss (msdf.flow.field_loss); 0 = off
    field_surface_weight: float = 0.0   # lambda: the field loss's extra weight at near-surface nodes; 0 = uniform
    center_weight: float = 0.0          # weight of the nearest-centre loss (msdf.flow.center_loss); 0 = off
    spacing_weight: float = 0.0         # weight of the spacing loss (msdf.flow.spacing_loss); 0 = off
    space_weight: float = 0.0           # weight of the space loss (msdf.flow.space_loss); 0 = off
    space_resolution: int = 64          # lattice of the space loss's truth volumes (2 R^3 bytes per shape)
    space_margin: float = 1.0           # the space loss is silent within space_margin lattice spacings of the surface
    sparse_weight: float = 0.0          # gamma of the sparse-row loss weights (msdf.flow.sparse_rows); 0 = off
    sparse_neighbours: int = 16         # their K: a row's distance to its K-th nearest other centre
    sparse_floor: float = 0.0           # their lower bound after the mean-1 normalisation; 1 = only raise weights
    self_condition: float = 0.0         # share of each batch trained on its own estimate (msdf.flow.self_condition)
    geometry_end: float = 1.0           # time the centre/half-width columns reach the data (msdf.flow.path); 1 = CondOT
    values_end: float = 1.0             # time the k^3 SDF-value columns reach the data; 1 = CondOT
    time_sampler: str = "uniform"       # uniform | logit_normal
    logit_normal_loc: float = 0.0
    logit_normal_scale: float = 1.0
    time_uniform_share: float = 0.0     # share of the times drawn uniformly instead (msdf.flow.path.sample_time)
    ot_coupling: bool = False           # multisample flow matching (exact OT within each condition)
    row_alignment: bool = False         # pair each sample's noise rows to its data rows by exact OT on whole rows
    train_rows: int = 0                 # at most this many random rows of each shape per step (msdf.flow.row_subset)
    batch_size: int = 32                # per process
    lr: float = 2e-4
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.99)
    warmup_steps: int = 200
    schedule: str = "cosine"            # cosine | constant (after linear warm-up)
    min_lr_ratio: float = 0.1           # cosine floor as a fraction of lr
    grad_clip: float = 1.0
    ema_decay: float = 0.999
    steps: int = 100_000
    minutes: float | None = None        # wall-clock budget; stops at whichever of steps/minutes comes first
    val_fraction: float = 0.05
    val_every: int = 500
    val_batches: int = 4
    ckpt_every: int = 1000
    log_every: int = 10
    keep_checkpoints: int = 2
    seed: int = 0
    compile: bool = False
    bf16: bool = True                   # autocast to bfloat16 where it is native (msdf.flow.precision)

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first invalid field."""
        checks = {
            "cond": self.cond in ("class", "text", "none"),
            "time_sampler": self.time_sampler in ("uniform", "logit_normal"),
            "time_uniform_share": 0.0 <= self.time_uniform_share <= 1.0,
            "normalization": self.normalization == "column" or (self.normalization == "slot" and self.model.slots),
            "schedule": self.schedule in ("cosine", "constant"),
            "value_scale": self.value_scale is None or self.value_scale > 0,
            "p_uncond": 0.0 <= self.p_uncond < 1.0,
            "geometry_weight": self.geometry_weight > 0,
            "field_weight": self.field_weight >= 0,
            "field_surface_weight": self.field_surface_weight >= 0,
            "center_weight": self.center_weight >= 0,
            "spacing_weight": self.spacing_weight >= 0,
            "space_weight": self.space_weight >= 0,
            "space_resolution": self.space_resolution >= 8,
            "space_margin": self.space_margin >= 0,
            "sparse_weight": self.sparse_weight >= 0,
            "sparse_neighbours": self.sparse_neighbours >= 1,
            "sparse_floor": self.sparse_floor >= 0,
            "self_condition": 0.0 <= self.self_condition <= 1.0,
            "geometry_end": 0.0 < self.geometry_end <= 1.0,
            "values_end": 0.0 < self.values_end <= 1.0,
            "batch_size": self.batch_size >= 1,
            "lr": self.lr > 0,
            "steps": self.steps >= 0,
            "minutes": self.minutes is None or self.minutes > 0,
            "val_fraction": 0.0 <= self.val_fraction < 1.0,
            "ema_decay": 0.0 <= self.ema_decay < 1.0,
            "model.width/heads": self.model.width % self.model.heads == 0,
            "model.centre_freqs": self.model.centre_freqs >= 0,
            "model.prediction": self.model.prediction == "velocity" or (
                self.model.prediction == "data" and self.geometry_end == 1.0 and self.values_end == 1.0),
            # a subset is a set of >= 2 rows (nearest-neighbour losses); slot order needs every row
            "train_rows": self.train_rows == 0 or (self.train_rows >= 2 and not self.model.slots),
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"invalid training config field(s): {', '.join(bad)}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], base: "TrainConfig | None" = None,
                  source: str = "config") -> "TrainConfig":
        """Overlay ``data`` (nested dict, e.g. from YAML/JSON) on ``base`` (defaults if None).

        Unknown keys are errors naming ``source``."""
        cfg = dataclasses.replace(base or cls(), model=dataclasses.replace((base or cls()).model))
        names = {f.name for f in dataclasses.fields(cls)}
        for key, value in (data or {}).items():
            if key not in names:
                raise ValueError(f"{source}: unknown training option {key!r}")
            if key == "model":
                mnames = {f.name for f in dataclasses.fields(ModelConfig)}
                for mk, mv in (value or {}).items():
                    if mk not in mnames:
                        raise ValueError(f"{source}: unknown model option {mk!r}")
                    setattr(cfg.model, mk, mv)
            elif key == "betas":
                cfg.betas = tuple(float(b) for b in value)
            else:
                setattr(cfg, key, value)
        cfg.validate()
        return cfg


# Learns class-specific shapes in ~15 CPU minutes on a --grids 256 --k 5 store (rows of 4 + 125 = 129):
# a small, fast model (many optimiser steps beat width on 2 cores), the condition added to every row token,
# the loss weighted towards the centre/half-width columns that carry the shape's layout, and the field-space
# loss and a cosine LR that reaches its floor at the --minutes deadline (the most whole shapes in the ablation of
# bench/bench_generation_quality.py), with late-heavy times (logit-normal, location 1: held-out accuracy up at
# the same wholeness there).
CPU_SMALL: dict[str, Any] = {
    "model": {"width": 128, "depth": 3, "heads": 4, "mlp_ratio": 2.0, "row_hidden": 128, "cond_tokens": True},
    "field_weight": 1.0, "time_sampler": "logit_normal", "logit_normal_loc": 1.0,
    "batch_size": 8, "lr": 2e-3, "warmup_steps": 50, "schedule": "cosine", "ema_decay": 0.995,
    "p_uncond": 0.1, "geometry_weight": 10.0, "val_every": 200, "ckpt_every": 500, "log_every": 10,
    "steps": 100_000, "bf16": False,
}

PRESETS: dict[str, dict[str, Any]] = {
    "cpu-small": CPU_SMALL,
    # The same design with depth 6 and width 192 (about 4.5x the transformer FLOPs per sample), trained in bfloat16
    # where the CPU has native bf16 (msdf.flow.precision): in the ablation, at the same 6,000 steps, shapes more whole
    # and nearer the held-out references (1-NNA) than cpu-small's, and in bf16 about 5,000 steps fit the demo's 15
    # minutes on 2 cores, with wholeness near cpu-small's 6,000-step runs and better 1-NNA (docs/training.md, "What
    # compute buys"). The demo's default. Each step sees 128 random rows of each shape (msdf.flow.row_subset): about
    # twice the steps in the same minutes, which on a float32 CPU raised held-out class accuracy and COV and lowered
    # (improved) 1-NNA at the same wholeness (docs/training.md, "Row subsets"). Distance-biased attention
    # (model.locality) is left off: three trainings with it were not clearly more whole (docs/training.md).
    "cpu-medium": {**CPU_SMALL, "model": {**CPU_SMALL["model"], "width": 192, "depth": 6, "heads": 6,
                                          "row_hidden": 192}, "bf16": True, "train_rows": 128},
    # Paper scale (n = 1024, k = 7): a ~DiT-L sized set transformer for GPUs.
    "paper": {
        "model": {"width": 1024, "depth": 24, "heads": 16, "mlp_ratio": 4.0, "row_hidden": 1024},
        "batch_size": 32, "lr": 1e-4, "warmup_steps": 5000, "schedule": "cosine", "ema_decay": 0.9999,
        "p_uncond": 0.2, "val_every": 2000, "ckpt_every": 5000, "log_every": 50, "steps": 500_000,
    },
}


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping, with an error naming the file."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text())
    except OSError as exc:
        raise ValueError(f"{p}: cannot read config ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise ValueError(f"{p}: invalid YAML ({exc})") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"{p}: a training config must be a YAML mapping")
    return data


def build_config(preset: str | None = None, yaml_path: str | Path | None = None,
                 overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Defaults < ``preset`` < YAML file < ``overrides`` (e.g. command-line flags that were given)."""
    cfg = TrainConfig()
    if preset is not None:
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
        cfg = TrainConfig.from_dict(PRESETS[preset], cfg, source=f"preset {preset}")
    if yaml_path is not None:
        cfg = TrainConfig.from_dict(load_yaml(yaml_path), cfg, source=str(yaml_path))
    if overrides:
        cfg = TrainConfig.from_dict(overrides, cfg, source="command line")
    return cfg
