"""Generation metrics (PointFlow / 3DShape2VecSet protocol): COV, MMD and 1-NNA with the Chamfer distance.

Every shape becomes a point cloud of ``n_points`` (2048) area-uniform surface samples, normalised by its own bounding
box (centre at the origin, longest side spanning [-1, 1]). With G generated clouds and R reference clouds and
the Chamfer distance between clouds X, Y (P points each)::

    CD(X, Y) = mean_{x in X} min_{y in Y} |x - y|^2 + mean_{y in Y} min_{x in X} |x - y|^2

* COV   = |{ argmin_r CD(g, r) : g in G }| / R       fraction of references that are some sample's nearest neighbour
* MMD   = mean_{r in R} min_{g in G} CD(g, r)         fidelity: how close each reference's best match is
* 1-NNA = accuracy of the leave-one-out 1-nearest-neighbour classifier "generated vs reference" on G u R; 50% when the
          two sets are indistinguishable samples of one distribution, 100% when they are separable.
* conditional accuracy = fraction of samples whose nearest reference (by CD) carries the requested label.

Ideal values: COV high, MMD low, 1-NNA close to 50%.
"""
from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np
import torch
import trimesh
from tqdm.auto import tqdm

from msdf.choices import GUIDANCE_DEFAULT, TEMPERATURE_DEFAULT

if TYPE_CHECKING:
    from msdf.flow.sampler import FlowSampler, Restart
    from msdf.flow.solvers import Solver

N_POINTS = 2048
MESH_SUFFIXES = {".obj", ".off", ".ply", ".stl", ".glb", ".gltf"}


def normalize_bbox(points: torch.Tensor, like: torch.Tensor | None = None) -> torch.Tensor:
    """(B, P, 3) -> (B, P, 3): each cloud's bounding-box centre to the origin and longest side to span [-1, 1]; with
    ``like`` (B, P', 3) the boxes are those of ``like``'s clouds (a part of a shape in the whole shape's frame)."""
    box = points if like is None else like
    lo, hi = box.min(dim=1, keepdim=True).values, box.max(dim=1, keepdim=True).values
    extent = (hi - lo).amax(dim=2, keepdim=True).clamp_min(1e-12)
    return (points - (lo + hi) / 2) * (2.0 / extent)


def mesh_point_cloud(mesh: trimesh.Trimesh, n_points: int = N_POINTS, seed: int = 0) -> np.ndarray:
    """(n_points, 3) float32 area-uniform surface samples of ``mesh`` (unnormalised)."""
    from msdf.sampling import sample_surface

    if len(mesh.faces) == 0:
        raise ValueError("cannot sample a point cloud from an empty mesh")
    return sample_surface(mesh, n_points, seed)[0].astype(np.float32)


def chamfer_matrix(a: torch.Tensor, b: torch.Tensor, method: str = "auto", chunk: int = 8, quiet: bool = True,
                   desc: str = "chamfer") -> torch.Tensor:
    """Pairwise Chamfer distances (squared-L2 convention above): a (N, P, 3), b (M, Q, 3) -> (N, M) on ``a``'s device.

    All methods are exact. ``"kdtree"``: one scipy KD-tree per cloud, queried with all points of the other set at
    once on every CPU core (O((P + Q) log) per pair; the CPU choice, timed in ``bench/bench_evaluate.py``). ``"brute"``: ``|x|^2 + |y|^2 - 2 x.y`` on ``a``'s device, ``chunk`` columns at a
    time so memory stays at ``chunk * P * Q`` floats. ``"keops"``: :func:`_chamfer_keops`, the (P, Q) distances
    never stored; opt-in, because on the one GPU it was tried on (H200, CUDA 13, pykeops 2.3) KeOps crashed the
    process while compiling its kernel (see docs/evaluation.md). ``"auto"`` picks brute on CUDA, kdtree else.
    When ``b is a`` the kdtree method queries each pair once and mirrors.
    """
    if method == "auto":
        method = "brute" if a.is_cuda else "kdtree"
    if method == "kdtree":
        return _chamfer_kdtree(a, b, quiet, desc)
    if method == "keops":
        return _chamfer_keops(a, b, chunk, quiet, desc)
    if method != "brute":
        raise ValueError(f"unknown Chamfer method {method!r} (auto, kdtree, brute, keops)")
    b = b.to(a.device, a.dtype)
    out = torch.empty(a.shape[0], b.shape[0], dtype=a.dtype, device=a.device)
    b_sq = b.pow(2).sum(-1)  # (M, Q)
    for i in tqdm(range(a.shape[0]), desc=desc, unit="shape", disable=quiet):
        x = a[i]  # (P, 3)
        x_sq = x.pow(2).sum(-1)  # (P,)
        for j in range(0, b.shape[0], chunk):
            y = b[j:j + chunk]  # (C, Q, 3)
            d = (x_sq[None, :, None] + b_sq[j:j + chunk, None, :] - 2.0 * torch.einsum("pd,cqd->cpq", x, y))
            d = d.clamp_min(0.0)
            out[i, j:j + chunk] = d.min(dim=2).values.mean(dim=1) + d.min(dim=1).values.mean(dim=1)
    return out


def _chamfer_keops(a: torch.Tensor, b: torch.Tensor, chunk: int, quiet: bool, desc: str) -> torch.Tensor:
    """KeOps Chamfer matrix (see :func:`chamfer_matrix`): for ``chunk`` rows of ``a`` at a time, one symbolic
    (R, M, P, Q) tensor D = |x_p - y_q|^2 reduced by min over q and over p in two kernel launches, so memory is
    O(R M (P + Q)) instead of the brute method's O(chunk P Q). Compiles once per formula (~20 s on CPU); on CPU it is
    slower than the KD-tree.
    """
    from pykeops.torch import LazyTensor

    b = b.to(a.device, a.dtype).contiguous()
    y = LazyTensor(b[None, :, None, :, :])  # (1, M, 1, Q, 3): the "j" variable
    out = torch.empty(a.shape[0], b.shape[0], dtype=a.dtype, device=a.device)
    for i in tqdm(range(0, a.shape[0], chunk), desc=desc, unit="chunk", disable=quiet):
        x = LazyTensor(a[i:i + chunk, None, :, None, :].contiguous())  # (R, 1, P, 1, 3): the "i" variable
        d = ((x - y) ** 2).sum(-1)  # symbolic (R, M, P, Q)
        out[i:i + chunk] = d.min(dim=3).squeeze(-1).mean(-1) + d.min(dim=2).squeeze(-1).mean(-1)
    return out


def _chamfer_kdtree(a: torch.Tensor, b: torch.Tensor, quiet: bool, desc: str) -> torch.Tensor:
    """KD-tree Chamfer matrix (see :func:`chamfer_matrix`) on all CPU cores: one tree per cloud, each queried once with
    every point of the other set at a time (``workers=-1``); symmetric inputs need one pass (the matrix is A + A^T)."""
    from scipy.spatial import cKDTree

    symmetric = b is a
    xa = a.detach().cpu().double().numpy()
    xb = xa if symmetric else b.detach().cpu().double().numpy()

    def mean_sq(queries: np.ndarray, clouds: np.ndarray, what: str) -> np.ndarray:
        """(len(queries), len(clouds)): mean over each query cloud's points of the squared distance to each cloud."""
        flat = queries.reshape(-1, 3)
        out = np.empty((len(queries), len(clouds)))
        for j in tqdm(range(len(clouds)), desc=f"{desc} {what}".strip(), unit="shape", disable=quiet):
            d = cKDTree(clouds[j]).query(flat, workers=-1)[0]
            out[:, j] = (d ** 2).reshape(len(queries), -1).mean(axis=1)
        return out

    a_to_b = mean_sq(xa, xb, "")
    out = a_to_b + (a_to_b.T if symmetric else mean_sq(xb, xa, "(reverse)").T)
    return torch.from_numpy(out).to(a.device, a.dtype)


def coverage(d_gen_ref: torch.Tensor) -> float:
    """COV from the (G, R) distance matrix: fraction of references matched as some sample's nearest reference."""
    return float(torch.unique(d_gen_ref.argmin(dim=1)).numel() / d_gen_ref.shape[1])


def minimum_matching_distance(d_gen_ref: torch.Tensor) -> float:
    """MMD from the (G, R) distance matrix: mean over references of the distance to the closest sample."""
    return float(d_gen_ref.min(dim=0).values.mean())


def one_nna(d_gen_gen: torch.Tensor, d_ref_ref: torch.Tensor, d_gen_ref: torch.Tensor) -> float:
    """1-NNA accuracy in [0, 1] from the three blocks of the (G+R, G+R) distance matrix (self-matches excluded)."""
    g, r = d_gen_gen.shape[0], d_ref_ref.shape[0]
    full = torch.cat([torch.cat([d_gen_gen, d_gen_ref], 1), torch.cat([d_gen_ref.T, d_ref_ref], 1)], 0).clone()
    full.fill_diagonal_(float("inf"))
    is_gen = torch.cat([torch.ones(g, dtype=torch.bool), torch.zeros(r, dtype=torch.bool)]).to(full.device)
    predicted = is_gen[full.argmin(dim=1)]
    return float((predicted == is_gen).float().mean())


def neighbour_distances(d_gen_gen: torch.Tensor, d_ref_ref: torch.Tensor, d_gen_ref: torch.Tensor
                        ) -> dict[str, float | None]:
    """Medians of the nearest-neighbour distances behind a 1-NNA, from the blocks (G, G), (R, R), (G, R):

    * ``gen_gen``: each sample to its nearest other sample,   ``gen_ref``: each sample to its nearest reference,
    * ``ref_ref``: each reference to its nearest other one,    ``ref_gen``: each reference to its nearest sample.

    A 1-NNA near 100% has two causes these tell apart: samples *scattered* around the references (``gen_gen`` about
    ``gen_ref``, both above ``ref_ref``) or samples *offset* from them as a tight group of their own (``gen_gen`` a
    fraction of ``gen_ref``: an error every sample shares). ``gen_gen`` / ``ref_ref`` are None for a side with one
    cloud.
    """
    def nearest_other(d: torch.Tensor) -> float | None:
        return None if d.shape[0] < 2 else float(d.clone().fill_diagonal_(float("inf")).min(dim=1).values.median())

    return {"gen_gen": nearest_other(d_gen_gen), "gen_ref": float(d_gen_ref.min(dim=1).values.median()),
            "ref_ref": nearest_other(d_ref_ref), "ref_gen": float(d_gen_ref.min(dim=0).values.median())}


def generation_metrics(gen: torch.Tensor, ref: torch.Tensor, quiet: bool = True) -> dict:
    """COV, MMD (CD) and 1-NNA (CD) of generated clouds ``gen`` (G, P, 3) against ``ref`` (R, P, 3), and under
    ``nn_cd`` the :func:`neighbour_distances` that explain the 1-NNA.

    Both are bbox-normalised here. Returns fractions (not percent) and the matrices' sizes.
    """
    if gen.shape[0] < 1 or ref.shape[0] < 1:
        raise ValueError(f"need at least one generated and one reference cloud (got {gen.shape[0]}, {ref.shape[0]})")
    gen, ref = normalize_bbox(gen), normalize_bbox(ref)
    d_gr = chamfer_matrix(gen, ref, quiet=quiet, desc="CD gen-ref")
    d_gg = chamfer_matrix(gen, gen, quiet=quiet, desc="CD gen-gen")
    d_rr = chamfer_matrix(ref, ref, quiet=quiet, desc="CD ref-ref")
    return {"cov": coverage(d_gr), "mmd_cd": minimum_matching_distance(d_gr), "1nna_cd": one_nna(d_gg, d_rr, d_gr),
            "nn_cd": neighbour_distances(d_gg, d_rr, d_gr), "num_generated": int(gen.shape[0]),
            "num_reference": int(ref.shape[0])}


def conditional_accuracy(d_gen_ref: torch.Tensor, requested: Sequence[str], ref_labels: Sequence[str],
                         failed: Sequence[bool] | None = None) -> dict:
    """Fraction of samples whose nearest reference has the requested label, overall and per requested class.

    ``failed`` (G,) marks samples that produced no shape: they count as misses (predicted label ``None``).
    """
    if len(requested) != d_gen_ref.shape[0] or len(ref_labels) != d_gen_ref.shape[1]:
        raise ValueError("label lists must match the distance matrix shape")
    failed = list(failed) if failed is not None else [False] * len(requested)
    nearest = [None if bad else ref_labels[j] for j, bad in zip(d_gen_ref.argmin(dim=1).tolist(), failed)]
    hits = [got == want for got, want in zip(nearest, requested)]
    per_class = {}
    for c in sorted(set(requested)):
        sel = [h for h, want in zip(hits, requested) if want == c]
        per_class[c] = sum(sel) / len(sel)
    return {"accuracy": sum(hits) / len(hits), "per_class": per_class, "predicted": nearest}


# ---- reference sets ----------------------------------------------------------------------------------------------
def _captions_table(root: Path) -> dict[str, tuple[str | None, str | None]]:
    """``captions.csv`` (file,label,caption) at ``root`` as {relative file: (label, caption)}, or {} if absent."""
    table = root / "captions.csv"
    if not table.is_file():
        return {}
    with open(table, newline="") as fh:
        rows = list(csv.DictReader(fh))
    if rows and "file" not in rows[0]:
        raise ValueError(f"{table}: expected a header with columns file,label,caption")
    return {r["file"]: (r.get("label") or None, r.get("caption") or None) for r in rows}


def load_reference(path: str | os.PathLike, n_points: int = N_POINTS, limit: int | None = None,
                   split: str | None = None, resolution: int = 128, seed: int = 0,
                   quiet: bool = False) -> tuple[torch.Tensor, list[str | None], list[str | None]]:
    """Reference point clouds (R, n_points, 3) with their labels and captions.

    ``path`` is an M-SDF store (a folder with ``store.json``: shapes are decoded with marching cubes at ``resolution``)
    or a folder of meshes (labels/captions from ``captions.csv`` if present, else the parent folder's name as label).
    ``split`` keeps only that manifest split of a store (e.g. ``test``); ``limit`` keeps the first ``limit`` shapes.
    """
    root = Path(path)
    if not root.exists():
        raise FileNotFoundError(f"{root}: reference set not found")
    clouds, labels, captions = [], [], []
    if (root / "store.json").is_file():
        from msdf.data import MSDFStore
        from msdf.decoder import decode

        store = MSDFStore(root)
        idx = store.indices(split) if split else list(range(len(store)))
        if not idx:
            raise ValueError(f"{root}: no shapes" + (f" in split {split!r}" if split else ""))
        idx = idx[:limit] if limit else idx
        for i in tqdm(idx, desc="reference (decode)", unit="shape", disable=quiet):
            clouds.append(mesh_point_cloud(decode(store.msdf(i), resolution=resolution), n_points, seed + i))
            labels.append(store.labels[i])
            captions.append(store.captions[i])
    elif root.is_dir():
        from msdf.meshio import load_mesh

        table = _captions_table(root)
        files = sorted(p for p in root.rglob("*") if p.suffix.lower() in MESH_SUFFIXES and p.is_file())
        if not files:
            raise ValueError(f"{root}: no mesh files ({', '.join(sorted(MESH_SUFFIXES))}) and no store.json")
        files = files[:limit] if limit else files
        for i, f in enumerate(tqdm(files, desc="reference (meshes)", unit="mesh", disable=quiet)):
            rel = f.relative_to(root).as_posix()
            label, caption = table.get(rel, (f.parent.name if f.parent != root else None, None))
            clouds.append(mesh_point_cloud(load_mesh(f), n_points, seed + i))
            labels.append(label)
            captions.append(caption)
    else:
        raise ValueError(f"{root}: the reference must be an M-SDF store or a folder of meshes")
    return torch.from_numpy(np.stack(clouds)), labels, captions


def markdown_table(report: dict) -> str:
    """The metrics of an evaluation report as a markdown table (overall row, then one row per class)."""
    lines = ["| set | #gen | #ref | COV (%) | MMD-CD (x1e3) | 1-NNA-CD (%) | NN gen-gen / gen-ref / ref-ref (x1e3) "
             "| cond. acc. (%) | wholeness (median) | whole >= 0.9 (%) | completeness (median) | components (median) "
             "| stray rows (median) | row disagreement (median, x1e3) | open shells (%) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]

    def per_mille(x: float | None) -> str:
        return "-" if x is None else f"{1e3 * x:.1f}"

    def percent(x: float | None) -> str:
        return "-" if x is None else f"{100 * x:.0f}"

    def row(name: str, m: dict, acc: float | None, w: dict | None) -> str:
        acc_s = f"{100 * acc:.1f}" if acc is not None else "-"
        w_s = (f"{w['median_wholeness']:.3f} | {percent(w['share_whole'])} | {w['median_completeness']:.3f} | "
               f"{w['median_components']:g} | {w['median_stray_rows']:g} | {per_mille(w.get('median_disagreement'))} | "
               f"{percent(w.get('share_open'))}" if w else "- | - | - | - | - | - | -")
        nn = " / ".join(per_mille(m["nn_cd"][k]) for k in ("gen_gen", "gen_ref", "ref_ref"))
        return (f"| {name} | {m['num_generated']} | {m['num_reference']} | {100 * m['cov']:.1f} | "
                f"{1e3 * m['mmd_cd']:.3f} | {100 * m['1nna_cd']:.1f} | {nn} | {acc_s} | {w_s} |")

    cond = report.get("conditional")
    lines.append(row("all", report["overall"], cond["accuracy"] if cond else None, report.get("wholeness")))
    for c, m in sorted(report.get("per_class", {}).items()):
        lines.append(row(c, m, cond["per_class"].get(c) if cond else None, m.get("wholeness")))
    return "\n".join(lines) + "\n"


def requested_conditions(sampler: FlowSampler, count: int, ref_labels: Sequence[str | None], ref_captions: Sequence[str | None]
                         ) -> tuple[list[str] | None, list[str] | None, list[str] | None]:
    """(prompts, classes, requested labels) for ``count`` samples that follow the reference set.

    Class models cycle through the reference labels; text models through the reference captions, each sample's
    requested label being the label of the reference whose caption it was given (None where references have no
    labels); unconditional models get (None, None, None).
    """
    if sampler.cond_type == "class":
        labels = [lab for lab in ref_labels if lab]
        if not labels:
            raise ValueError("class-conditional model but the reference shapes have no labels")
        unknown = sorted(set(labels) - set(sampler.class_names))
        if unknown:
            raise ValueError(f"reference classes {unknown} are unknown to the model ({', '.join(sampler.class_names)})")
        classes = [labels[i % len(labels)] for i in range(count)]
        return None, classes, classes
    if sampler.cond_type == "text":
        pairs = [(c, lab) for c, lab in zip(ref_captions, ref_labels) if c]
        if not pairs:
            raise ValueError("text-conditional model but the reference shapes have no captions")
        chosen = [pairs[i % len(pairs)] for i in range(count)]
        labels = [lab for _, lab in chosen]
        return [c for c, _ in chosen], None, (labels if all(labels) else None)
    return None, None, None


def evaluate_run(sampler: FlowSampler, solver: Solver, ref_clouds: torch.Tensor, ref_labels: Sequence[str | None],
                 ref_captions: Sequence[str | None], *, num_samples: int | None = None,
                 guidance: float = GUIDANCE_DEFAULT, seed: int = 0, resolution: int = 128, n_points: int = N_POINTS,
                 batch_size: int = 16, quiet: bool = False, restart: Restart | None = None,
                 temperature: float = TEMPERATURE_DEFAULT, method: str = "mc") -> dict:
    """Generate ``num_samples`` shapes (default: as many as references) following the reference conditions (with
    ``restart`` passes, :class:`~msdf.flow.sampler.Restart`, None = its defaults, at sampling ``temperature``,
    :meth:`~msdf.flow.sampler.FlowSampler.sample`) and judge them with
    :func:`judge_matrices` (decoded with ``method``). Returns its report plus the sampling settings and timings."""
    import time
    from dataclasses import asdict

    from msdf.flow.sampler import Restart

    count = num_samples or ref_clouds.shape[0]
    prompts, classes, requested_labels = requested_conditions(sampler, count, ref_labels, ref_captions)
    if prompts is None and classes is None:
        prompts = [""] * count
    t0 = time.perf_counter()
    matrices, timing = sampler.sample(sampler.condition(prompts=prompts, classes=classes),
                                      [seed + j for j in range(count)], solver, guidance=guidance,
                                      batch_size=batch_size, quiet=quiet,
                                      restart=Restart() if restart is None else restart, temperature=temperature)
    t_gen = time.perf_counter() - t0
    report = judge_matrices(matrices, requested_labels, ref_clouds, ref_labels, seed=seed, resolution=resolution,
                            n_points=n_points, device=sampler.device, quiet=quiet, method=method)
    report.update({"guidance": guidance, "guidance_interval": list(sampler.guidance_interval), "nfe": timing["nfe"],
                   "temperature": temperature, "repulsion": asdict(sampler.repulsion),
                   "alignment": asdict(sampler.alignment)})
    report["timings"].update({"generate_s": t_gen, "ode_s": timing["ode_s"]})
    return report


def judge_matrices(matrices: torch.Tensor, labels: Sequence[str] | None, ref_clouds: torch.Tensor,
                   ref_labels: Sequence[str | None], *, seed: int = 0, resolution: int = 128,
                   n_points: int = N_POINTS, device: str | torch.device = "cpu", quiet: bool = False,
                   method: str = "mc") -> dict:
    """Decode raw M-SDF matrices (B, n, 4 + k^3) in the unit frame (:mod:`msdf.decoder`'s ``method``) and judge them
    against the reference clouds:
    COV/MMD/1-NNA overall and per class, conditional accuracy when ``labels`` (the class each sample should be) are
    given, :mod:`msdf.wholeness` of the raw decoded meshes (stray rows included) and the
    :mod:`msdf.disagreement` of each matrix's overlapping grids, the :mod:`msdf.sealing` leak of its grid
    shell and the :mod:`msdf.completeness` of its largest piece against its nearest reference. Returns the
    JSON-ready report (metrics as fractions, timings in seconds).

    A sample that fails to decode stays in every metric as a failure: its cloud is a single point (the origin),
    which is no reference's match, its class prediction a miss, its wholeness and completeness 0.
    """
    import time

    from msdf.completeness import completeness
    from msdf.decoder import decode_batch
    from msdf.disagreement import overlap_disagreement
    from msdf.sealing import shell_leak
    from msdf.wholeness import largest_piece, summarize, wholeness

    count = matrices.shape[0]
    t0 = time.perf_counter()
    clouds, pieces, whole, failed = [], [], [], []
    decoded = decode_batch(matrices, resolution=resolution, method=method, device=device, quiet=quiet,
                           desc="decode samples")
    for j, dec in enumerate(decoded):
        if dec.mesh is not None:
            clouds.append(mesh_point_cloud(dec.mesh, n_points, seed + j))
            pieces.append(mesh_point_cloud(largest_piece(dec.mesh), n_points, seed + j))
        else:  # no surface
            clouds.append(np.zeros((n_points, 3), dtype=np.float32))
            pieces.append(clouds[-1])
        whole.append({**wholeness(dec.mesh, matrices[j].numpy()),
                      "disagreement": overlap_disagreement(matrices[j]), "leak": shell_leak(matrices[j])})
        failed.append(dec.mesh is None)
    t_decode = time.perf_counter() - t0
    gen = torch.from_numpy(np.stack(clouds))
    t0 = time.perf_counter()
    ref_n = normalize_bbox(ref_clouds)
    d = chamfer_matrix(normalize_bbox(gen), ref_n, quiet=True)
    pieces_n = normalize_bbox(torch.from_numpy(np.stack(pieces)), like=gen).numpy()
    for j, r in enumerate(d.argmin(dim=1).tolist()):
        whole[j]["completeness"] = 0.0 if failed[j] else completeness(pieces_n[j], ref_n[r].numpy())
    report: dict = {"overall": generation_metrics(gen, ref_clouds, quiet=quiet), "wholeness": summarize(whole),
                    "samples": [{"label": None if labels is None else labels[j], "failed": failed[j], **whole[j]}
                                for j in range(count)]}
    if labels is not None:
        report["conditional"] = conditional_accuracy(d, labels, list(ref_labels), failed)
        per_class = {}
        for c in sorted(set(labels)):
            gi = [i for i, r in enumerate(labels) if r == c]
            ri = [i for i, lab in enumerate(ref_labels) if lab == c]
            if len(gi) >= 1 and len(ri) >= 1:
                per_class[c] = {**generation_metrics(gen[gi], ref_clouds[ri]),
                                "wholeness": summarize([whole[i] for i in gi])}
        report["per_class"] = per_class
    report.update({"num_requested": count, "num_failed": sum(failed), "resolution": resolution, "method": method,
                   "n_points": n_points, "seed": seed,
                   "timings": {"decode_s": t_decode, "metrics_s": time.perf_counter() - t0}})
    return report
