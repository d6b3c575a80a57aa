"""Analytic flows and M-SDF matrices with known answers, shared by the generation tests."""
import numpy as np
import torch


def gaussian_flow(mu, sigma):
    """CondOT marginal velocity from N(0, I) to N(mu, sigma^2 I) (mu (B, ...)); the exact map is x(1) = mu + sigma x0.

    x_t ~ N(t mu, s_t^2 I), s_t = sqrt((1-t)^2 + t^2 sigma^2), u(x, t) = mu + (s_t'/s_t)(x - t mu).
    """
    def velocity(x, t):
        t = t.view(-1, *([1] * (x.dim() - 1)))
        s2 = (1 - t) ** 2 + t**2 * sigma**2
        ds_over_s = (-(1 - t) + t * sigma**2) / s2
        return mu + ds_over_s * (x - t * mu)
    return velocity


def sphere_matrices(radii, n=32, k=3, half_width=0.25, seed=0):
    """Exact M-SDF matrices (len(radii), n, 4 + k^3) of origin-centred spheres: grids centred on each sphere."""
    g = np.random.default_rng(seed)
    off = np.stack(np.meshgrid(*[np.linspace(-1, 1, k)] * 3, indexing="ij"), -1).reshape(-1, 3)
    out = []
    for r in radii:
        d = g.normal(size=(n, 3))
        c = d / np.linalg.norm(d, axis=1, keepdims=True) * r
        s = np.full(n, half_width)
        v = np.linalg.norm(c[:, None] + s[:, None, None] * off[None], axis=2) - r
        out.append(np.concatenate([c, s[:, None], v], 1))
    return torch.from_numpy(np.stack(out).astype(np.float32))


def train_tiny_run(run_dir, steps=10, classes=("chair", "table")):
    """A class-conditional run of a 1-block model on sphere matrices (6 small and 6 large: one class each)."""
    from msdf.flow.config import TrainConfig
    from msdf.flow.dataset import ArrayStore
    from msdf.flow.trainer import train

    store = ArrayStore(sphere_matrices([0.4] * 6 + [0.8] * 6, n=32, k=3, half_width=0.3).numpy(), 3,
                       labels=[classes[0]] * 6 + [classes[1]] * 6)
    cfg = TrainConfig.from_dict({"model": {"width": 32, "depth": 1, "heads": 2, "mlp_ratio": 2.0, "row_hidden": 32},
                                 "steps": steps, "batch_size": 4, "warmup_steps": 2, "val_every": 1000,
                                 "ckpt_every": 1000, "log_every": 10, "val_fraction": 0.0})
    train(store, cfg, run_dir, quiet=True)
    return run_dir


def train_random_run(run_dir, **overrides):
    """A class-conditional run (classes "a", "b") of a 1-block model on 8 random matrices of 6 rows of 4 + 8 columns
    (k = 2); ``overrides`` are training-config fields over a 3-step, batch-4 base."""
    from msdf.flow.config import build_config
    from msdf.flow.dataset import ArrayStore
    from msdf.flow.trainer import train

    rng = np.random.default_rng(0)
    store = ArrayStore(rng.normal(size=(8, 6, 4 + 8)).astype(np.float32), 2, labels=["a", "b"] * 4)
    base = {"model": {"width": 32, "depth": 1, "heads": 2, "row_hidden": 32}, "batch_size": 4, "steps": 3,
            "val_every": 1000, "ckpt_every": 1000, "warmup_steps": 1}
    train(store, build_config(overrides={**base, **overrides}), run_dir, quiet=True)
    return run_dir


def preprocess_two_meshes(root, out):
    """``msdf preprocess`` of tests/data's cactus.off and lemon.obj (16 grids of 3^3) into ``out``."""
    import shutil
    from pathlib import Path

    from msdf.cli import main

    meshes = Path(root) / "meshes"
    meshes.mkdir()
    for name in ("cactus.off", "lemon.obj"):
        shutil.copy(Path(__file__).resolve().parent / "data" / "watertight" / name, meshes / name)
    assert main(["preprocess", str(meshes), "-o", str(out), "--grids", "16", "--k", "3", "--refine-steps", "0",
                 "--workers", "1", "--quiet"]) == 0
    return out
