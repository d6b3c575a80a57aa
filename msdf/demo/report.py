"""The demo's ``report.html`` and ``metrics.json``: one offline page with the gallery, metric tables, loss curve and timings.

Images are embedded as base64 PNG data URIs and the page has no external reference, so it opens from a USB stick.
Per prompt, a contact sheet ``contact_sheets/<NN>-<slug>.png`` of that prompt's samples is made from the renders that
``msdf generate`` wrote.
"""
from __future__ import annotations

import base64
import html
import json
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable

from msdf.atomic import atomic_write, write_json


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text()) if path.exists() else None


def _img(path: Path, alt: str, width: int | None = None) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    w = f' width="{width}"' if width else ""
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}"{w}>'


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return html.escape(str(v))


def _table(rows: Iterable[dict], columns: list[str] | None = None) -> str:
    rows = list(rows)
    if not rows:
        return "<p><em>none</em></p>"
    columns = columns or list(dict.fromkeys(k for r in rows for k in r))
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(r.get(c, ''))}</td>" for c in columns) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _flat(d: dict, prefix: str = "") -> dict:
    """Nested dict → one level with dotted keys (for metric tables)."""
    out: dict = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        elif not isinstance(v, list):
            out[f"{prefix}{k}"] = v
    return out


def prompt_sheets(generated: Path, sheets: Path) -> list[tuple[str, Path, list[dict]]]:
    """One contact sheet per prompt from ``generated/samples.json``; returns (prompt, sheet path, sample records)."""
    import numpy as np
    from PIL import Image

    from msdf.generate import slug
    from msdf.render import contact_sheet

    info = _read_json(generated / "samples.json") or {}
    by_prompt: dict[str, list[dict]] = defaultdict(list)
    for rec in info.get("samples", []):
        by_prompt[rec.get("prompt") or rec.get("class") or "unconditional"].append(rec)
    out = []
    for i, (prompt, recs) in enumerate(by_prompt.items()):
        rendered = [r for r in recs if r.get("render")]
        sheet = sheets / f"{i:02d}-{slug(prompt)}.png"
        if rendered:
            images = [np.asarray(Image.open(generated / r["render"]).convert("RGB")) for r in rendered]
            contact_sheet(images, [f"seed {r['seed']}" for r in rendered], sheet, columns=len(images))
        out.append((prompt, sheet, recs))
    return out


def peak_rss_mb() -> float:
    """Largest resident set (MB) of this process or of any finished subprocess it waited for, i.e. of the biggest
    stage run in this invocation (stages skipped on a resumed run are not counted)."""
    import resource

    return max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024


def collect_metrics(out: Path) -> dict:
    """Everything measured by the demo's stages, as one JSON-ready dict (wholeness of the prompts' samples counts a
    sample without a mesh as a failure)."""
    from msdf.wholeness import FAILED, summarize

    stages = {p.stem: _read_json(p) for p in sorted((out / "stages").glob("*.json"))}
    generated = _read_json(out / "generated" / "samples.json") or {}
    samples = generated.get("samples", [])
    return {
        "evaluation": _read_json(out / "evaluation" / "evaluation.json"),
        "generation_wholeness": summarize([r if "wholeness" in r else FAILED for r in samples]) if samples else None,
        "fidelity_real_meshes": _read_json(out / "fidelity" / "fidelity.json"),
        "generation": {k: generated.get(k) for k in ("solver", "nfe", "guidance", "guidance_interval",
                                                    "temperature", "restart", "repulsion", "alignment", "resolution",
                                                    "method", "timings")},
        "generation_failures": [r for r in samples if r.get("error")],
        "preprocess": _read_json(out / "store" / "summary.json"),
        "stage_seconds": {k: v.get("seconds") for k, v in stages.items() if v},
        "peak_rss_mb": peak_rss_mb(),
    }


CSS = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px}
th{background:#f0f0f0}.prompt{margin:1.5em 0}.prompt img{max-width:100%;border:1px solid #ddd}
h2{border-bottom:2px solid #446;padding-bottom:4px}"""


def write_report(out: str | Path) -> Path:
    """Write ``OUT/metrics.json`` and ``OUT/report.html`` (self-contained) from a demo output folder."""
    out = Path(out)
    metrics = collect_metrics(out)
    preset = (_read_json(out / "demo_config.json") or {}).get("preset", "cpu-small")
    write_json(out / "metrics.json", metrics, default=str)

    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>Mosaic-SDF demo report</title>"
             f"<style>{CSS}</style></head><body><h1>Mosaic-SDF demo report</h1>",
             "<p>Synthetic captioned dataset → M-SDF store → text-conditioned flow-matching transformer "
             f"({html.escape(str(preset))}) "
             "→ shapes from prompts (classifier-free guidance, "
             f"{html.escape(str(metrics['generation'].get('solver') or 'midpoint'))} solver, VisCo clean-up) "
             "→ metrics.</p>"]
    parts.append("<h2>Generated shapes</h2>")
    for prompt, sheet, recs in prompt_sheets(out / "generated", out / "contact_sheets"):
        errors = [r["error"] for r in recs if r.get("error")]
        body = _img(sheet, prompt) if sheet.exists() else "<p><em>no sample decoded to a surface</em></p>"
        note = f"<p>{len(errors)} failed: {html.escape('; '.join(errors))}</p>" if errors else ""
        parts.append(f"<div class='prompt'><h3>“{html.escape(prompt)}”</h3>{body}{note}</div>")
    visco = (_read_json(out / "stages" / "visco.json") or {}).get("cleaned", [])
    if visco:
        from msdf.meshio import load_mesh
        from msdf.render import render_many

        parts.append("<h2>Cleaned with VisCo (first sample of a prompt, <code>msdf export --method visco</code>)</h2>")
        pngs = [Path(v["mesh"]).with_suffix(".png") for v in visco]
        render_many([load_mesh(v["mesh"]) for v in visco], pngs)
        for v, png in zip(visco, pngs):
            parts.append(f"<div class='prompt'><h3>“{html.escape(v['prompt'] or '')}”</h3>{_img(png, 'VisCo')}</div>")
    if metrics["generation_wholeness"]:
        parts.append("<h2>Wholeness of the samples above (raw marching-cubes meshes)</h2><p>wholeness = area of the "
                     "largest connected component / total area; a sample without a mesh counts as 0.</p>")
        parts.append(_table([metrics["generation_wholeness"]]))
    ev = metrics["evaluation"] or {}
    parts.append("<h2>Generation metrics (held-out synthetic shapes)</h2>")
    if ev:
        parts.append("<p>COV / MMD / 1-NNA with Chamfer distance on 2048-point clouds (bbox-normalised); "
                     "conditional accuracy = nearest reference's class equals the prompted class.</p>")
        parts.append(_table([_flat({k: v for k, v in ev.items() if k not in ("per_class",)})]))
        per_class = [{"class": c, **_flat(m)} for c, m in (ev.get("per_class") or {}).items()]
        parts.append(_table(per_class))
    parts.append("<h2>M-SDF fidelity on real meshes (1024 × 7³, refined, decoded at 256³)</h2>")
    parts.append(_table(metrics["fidelity_real_meshes"] or []))
    loss = out / "run" / "loss.png"
    parts.append("<h2>Training loss</h2>" + (_img(loss, "loss curve") if loss.exists() else "<p><em>missing</em></p>"))
    parts.append("<h2>Timings (seconds per stage, last run of each)</h2>")
    parts.append(_table([{"stage": k, "seconds": v} for k, v in metrics["stage_seconds"].items()]))
    gen_t = (metrics["generation"] or {}).get("timings") or {}
    parts.append(_table([gen_t]) if gen_t else "")
    parts.append("</body></html>")
    path = out / "report.html"
    with atomic_write(path) as tmp:
        tmp.write_text("\n".join(parts))
    return path
