"""Batched generation: prompts / class names -> M-SDF matrices -> meshes -> files.

A call with prompts p_1..p_m and K samples each makes B = m K samples; sample j gets seed ``seed + j`` and is drawn by
:meth:`msdf.flow.sampler.FlowSampler.sample` (source noise, CFG-guided ODE solve, denormalised and valid matrices),
then decoded by :func:`msdf.decoder.decode_batch` (mc | visco) in the unit frame of the generated shape.

Files written to ``out_dir`` (all atomically): ``NNN-<slug>.{glb|obj|ply|stl}``, ``NNN-<slug>.npz`` (M-SDF),
``NNN-<slug>.png`` (render), ``contact_sheet.png`` and ``samples.json`` (per sample: prompt/class, seed, solver, NFE,
guidance, timings, file names; per call: totals).
"""
from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import Tensor

from msdf.atomic import write_json
from msdf.choices import (GUIDANCE_DEFAULT, GUIDANCE_INTERVAL_DEFAULT, MESH_FORMATS, NFE_DEFAULT, SDE_NOISE_DEFAULT,
                          SOLVER_DEFAULT, SOLVERS, TEMPERATURE_DEFAULT)
from msdf.flow.sampler import FlowSampler, Restart
from msdf.flow.solvers import METHODS, Solver, solve
from msdf.flow.stochastic import EulerMaruyama


def make_solver(method: str, nfe: int, *, run_dir: str | Path | None = None, guidance: float = 1.0,
                bns_path: str | Path | None = None, device: str | torch.device = "cpu",
                interval: tuple[float, float] = GUIDANCE_INTERVAL_DEFAULT,
                sde_noise: float = SDE_NOISE_DEFAULT) -> Solver | EulerMaruyama:
    """A :data:`Solver` for ``method`` (euler | midpoint | rk4 | dopri5 | bns) at ``nfe`` evaluations, or for ``sde``
    the stochastic :class:`~msdf.flow.stochastic.EulerMaruyama` solver at noise level ``sde_noise`` and ``nfe`` steps
    (:meth:`~msdf.flow.sampler.FlowSampler.sample` binds it to the samples' seeds).

    ``bns`` loads the solver distilled for this run, NFE and guidance (``msdf distill-solver``) from ``bns_path`` or
    its default place :func:`msdf.flow.bns.solver_path`, and checks that it was distilled for the sampler's guidance
    weight and guidance ``interval`` (:func:`check_bns_sampling`; pass the sampler's ``guidance_interval``, the default
    is the sampler's default).
    """
    if method == "bns":
        from msdf.flow.bns import BNSFormatError, BNSSolver, solver_path

        if bns_path is None:
            if run_dir is None:
                raise ValueError("--solver bns needs the run directory or an explicit solver file")
            bns_path = solver_path(run_dir, nfe, guidance)
        bns, meta = BNSSolver.load(bns_path)
        if bns.nfe != nfe:
            raise BNSFormatError(f"{bns_path}: a {bns.nfe}-NFE solver, but --nfe {nfe} was asked for")
        check_bns_sampling(bns_path, meta, guidance, interval)
        bns = bns.to(device)
        return lambda velocity_fn, x0: bns(velocity_fn, x0)
    if method == "sde":
        return EulerMaruyama(sde_noise, nfe)
    if method not in METHODS:
        raise ValueError(f"unknown solver {method!r}; choose one of {', '.join(SOLVERS)}")
    if method != "dopri5":
        from msdf.flow.solvers import steps_for

        steps_for(method, nfe)  # validate the budget now, not after loading everything
    return lambda velocity_fn, x0: solve(velocity_fn, x0, method, nfe)


def check_bns_sampling(path: str | Path, meta: dict, guidance: float, interval: tuple[float, float]) -> None:
    """Raise :class:`~msdf.flow.bns.BNSFormatError` unless the BNS solver described by ``meta`` (its ``.json``) was
    distilled for guidance weight ``guidance`` on the guidance interval ``interval``.

    A solver's time grid and coefficients fit the velocity field it was distilled on, and that field changes with
    the weight and with where it applies. Solvers written before the interval existed guided at every time: their
    interval reads as ``(0, 1)``.
    """
    from msdf.flow.bns import BNSFormatError

    recorded = meta.get("guidance")
    if recorded is not None and abs(float(recorded) - guidance) > 1e-9:
        raise BNSFormatError(f"{path}: distilled for guidance {recorded:g}, but guidance {guidance:g} was asked for")
    lo, hi = (float(v) for v in meta.get("guidance_interval", (0.0, 1.0)))
    if abs(lo - interval[0]) > 1e-9 or abs(hi - interval[1]) > 1e-9:
        raise BNSFormatError(f"{path}: distilled for guidance on [{lo:g}, {hi:g}), but the sampler guides on "
                             f"[{interval[0]:g}, {interval[1]:g}): distil it again for this interval or pass "
                             f"--guidance-interval {lo:g} {hi:g}")


def read_prompts(path: str | Path) -> list[str]:
    """One prompt per line of a text file; blank lines and lines starting with ``#`` are skipped."""
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{p}: cannot read prompts ({exc})") from exc
    prompts = [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
    if not prompts:
        raise ValueError(f"{p}: no prompts (one per line)")
    return prompts


def slug(text: str, limit: int = 40) -> str:
    """File-name-safe short form of a prompt: lower case, runs of other characters -> '-'."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:limit].strip("-") or "sample"


@dataclass
class GenerationResult:
    """What :func:`generate` wrote: one record per sample (as in samples.json) and the paths of the per-call files."""

    samples: list[dict] = field(default_factory=list)
    contact_sheet: Path | None = None
    samples_json: Path | None = None
    timings: dict[str, float] = field(default_factory=dict)


def write_samples(matrices: Tensor, records: list[dict], out_dir: str | Path, *, normalization: Any = None,
                  resolution: int = 256, method: str = "mc", fmt: str = "glb", render: bool = True,
                  device: str | torch.device = "cpu", quiet: bool = False) -> GenerationResult:
    """Decode raw M-SDF matrices (B, n, D) and write, per sample, ``<name>.npz``, ``<name>.<fmt>`` and ``<name>.png``,
    plus ``contact_sheet.png``; returns the records completed with file names, face counts, decode timings and the
    :func:`msdf.wholeness.wholeness` of each raw decoded mesh.

    ``records[j]`` must hold ``name`` (file stem) and ``label`` (contact-sheet caption); ``normalization`` (a
    :class:`msdf.normalization.Normalization` or None = unit frame) maps the shapes to the user's coordinates.
    A sample whose field has no surface keeps its ``.npz`` and gets an ``error`` entry instead of a mesh; an invalid
    matrix (non-finite values, a non-positive half-width) gets only the ``error`` entry.
    """
    from msdf.decoder import decode_batch
    from msdf.meshio import save_mesh
    from msdf.wholeness import wholeness

    if fmt not in MESH_FORMATS:
        raise ValueError(f"unknown mesh format {fmt!r}; choose one of {', '.join(MESH_FORMATS)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result = GenerationResult()
    meshes, done = [], []
    decoded = decode_batch(matrices, normalization, resolution=resolution, method=method, device=device, quiet=quiet)
    for j, (rec, dec) in enumerate(zip(records, decoded)):
        name = rec.pop("name")
        label = rec.pop("label")
        rec.update({"resolution": resolution, "method": method})
        rec.setdefault("timings", {})["decode_s"] = dec.seconds
        if dec.shape is not None:  # a valid M-SDF is kept even when its field has no surface
            rec["msdf"] = f"{name}.npz"
            dec.shape.save(out / rec["msdf"])
        if dec.error is not None:
            rec["error"] = dec.error
        else:
            rec["mesh"] = f"{name}.{fmt}"
            save_mesh(dec.mesh, out / rec["mesh"])
            rec["faces"] = int(len(dec.mesh.faces))
            rec.update(wholeness(dec.mesh))
            meshes.append(dec.mesh)
            done.append((j, name, label))
        result.samples.append(rec)
    result.timings["decode_s"] = sum(r["timings"]["decode_s"] for r in result.samples)
    if render and meshes:
        from msdf.render import contact_sheet, render_many

        t0 = time.perf_counter()
        images = render_many(meshes, [out / f"{name}.png" for _, name, _ in done], quiet=quiet)
        for j, name, _ in done:
            result.samples[j]["render"] = f"{name}.png"
        result.contact_sheet = out / "contact_sheet.png"
        contact_sheet(images, [label for _, _, label in done], result.contact_sheet)
        result.timings["render_s"] = time.perf_counter() - t0
    return result


def remove_listed_outputs(index: str | Path) -> list[Path]:
    """Delete the files an earlier run listed in its ``index`` (``samples.json`` / ``completion.json``): each
    sample's ``msdf``, ``mesh`` and ``render`` and the ``contact_sheet``, then the index itself. Only plain names
    inside the index's folder are touched; an unreadable index removes nothing. Returns the deleted paths.
    """
    index = Path(index)
    try:
        data = json.loads(index.read_text())
        names = [data.get("contact_sheet")] + [s.get(k) for s in data.get("samples", []) for k in ("msdf", "mesh",
                                                                                                  "render")]
    except (OSError, ValueError, AttributeError, TypeError):
        return []
    removed = []
    for name in [n for n in names if isinstance(n, str)] + [index.name]:
        path = index.parent / name
        if Path(name).name == name and not name.startswith(".") and path.is_file():
            path.unlink()
            removed.append(path)
    return removed


def generate(sampler: FlowSampler, out_dir: str | Path, *, prompts: Sequence[str] | None = None,
             classes: Sequence[str] | None = None, num_samples: int = 1, guidance: float = GUIDANCE_DEFAULT,
             solver: str = SOLVER_DEFAULT, nfe: int = NFE_DEFAULT, seed: int = 0, resolution: int = 256,
             method: str = "mc", fmt: str = "glb", batch_size: int = 16, render: bool = True,
             bns_path: str | Path | None = None, quiet: bool = False, restart: Restart = Restart(),
             temperature: float = TEMPERATURE_DEFAULT, sde_noise: float = SDE_NOISE_DEFAULT) -> GenerationResult:
    """Generate ``num_samples`` shapes per prompt (or class) with a loaded :class:`FlowSampler` (at sampling
    ``temperature``, plus ``restart`` passes: :meth:`~msdf.flow.sampler.FlowSampler.sample`; ``sde_noise`` is the
    noise level of ``solver="sde"``) and write all files.

    At most one of ``prompts`` / ``classes`` (neither = unconditional). Writes ``samples.json`` last.
    """
    if prompts is not None and classes is not None:
        raise ValueError("give prompts or classes, not both")
    if fmt not in MESH_FORMATS:
        raise ValueError(f"unknown mesh format {fmt!r}; choose one of {', '.join(MESH_FORMATS)}")
    if num_samples < 1:
        raise ValueError(f"-n must be at least 1 (got {num_samples})")
    t_start = time.perf_counter()
    solve_fn = make_solver(solver, nfe, run_dir=sampler.run_dir, guidance=guidance, bns_path=bns_path,
                           device=sampler.device, interval=sampler.guidance_interval, sde_noise=sde_noise)
    kind = "class" if classes is not None else "prompt"
    base = list(classes if classes is not None else prompts if prompts is not None else [""])
    items = [item for item in base for _ in range(num_samples)]
    seeds = [seed + j for j in range(len(items))]
    cond = sampler.condition(prompts=None if classes is not None else items,
                             classes=items if classes is not None else None)
    matrices, timing = sampler.sample(cond, seeds, solve_fn, guidance=guidance, batch_size=batch_size, quiet=quiet,
                                      restart=restart, temperature=temperature)
    per_sample_ode = timing["ode_s"] / len(items)
    records = [{"index": j, kind: item or None, "seed": s, "solver": solver, "nfe": timing["nfe"],
                "guidance": guidance, "timings": {"ode_s": per_sample_ode},
                "name": f"{j:03d}-{slug(item) if item else 'unconditional'}",
                "label": f"{j}: {item or 'unconditional'} (seed {s})"} for j, (item, s) in enumerate(zip(items, seeds))]
    result = write_samples(matrices, records, out_dir, resolution=resolution, method=method, fmt=fmt, render=render,
                           device=sampler.device, quiet=quiet)
    result.timings.update({"ode_s": timing["ode_s"], "total_s": time.perf_counter() - t_start})
    result.samples_json = write_json(Path(out_dir) / "samples.json", {
        "run": str(sampler.run_dir), "solver": solver, "nfe": timing["nfe"], "guidance": guidance,
        "guidance_interval": list(sampler.guidance_interval), "restart": asdict(restart), "temperature": temperature,
        "repulsion": asdict(sampler.repulsion), "alignment": asdict(sampler.alignment), "sde_noise": sde_noise if solver == "sde" else None, "seed": seed,
        "num_samples_per_item": num_samples, "resolution": resolution, "method": method, "format": fmt,
        "device": str(sampler.device), "timings": result.timings,
        "contact_sheet": result.contact_sheet.name if result.contact_sheet else None, "samples": result.samples})
    return result
