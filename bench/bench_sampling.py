"""Sampling settings on one trained model: plain sampling (the baseline) against lower temperatures and restart
passes, judged on held-out references.

The model is fixed (any run folder, e.g. the ``run/`` of an ``msdf demo`` output), so every difference between rows
comes from sampling alone. Protocol of :func:`msdf.evaluation.evaluate_run` (the one ``msdf evaluate`` uses): one
sample per reference caption (seed ``--seed + j``), midpoint 32 NFE unless ``nfe=N``, guidance 2 (``--guidance``)
unless ``w=G``, marching cubes at 128^3 on the raw field, no clean-up. Columns: median wholeness, share >= 0.9,
median components and stray rows (:mod:`msdf.wholeness`), held-out class accuracy (failed decodes count as misses),
1-NNA / COV (Chamfer), seconds of sampling.

A setting is ``tau=T``, ``restarts=R[@t]``, ``nfe=N``, ``rnfe=N``, ``w=G``, ``gi=LO:HI``, ``sde=ETA``, ``gc=C``,
``repel=L[@R]`` and/or ``align=L`` joined by commas (``plain`` = tau 1, no restarts; 8 NFE per restart pass unless
``rnfe=N``;
guidance at every time unless ``gi=LO:HI`` limits it to LO <= t < HI: the command line's default interval is spelled
out, ``gi=0:0.8``; ``sde=ETA`` replaces the main midpoint solve by the Euler-Maruyama SDE of :mod:`msdf.flow.stochastic`
at noise level ETA, with the same NFE; ``gc=geometry`` or ``gc=values`` guides those columns of each row only,
:meth:`~msdf.flow.sampler.FlowSampler.with_guidance_columns`; ``repel=L@R`` pushes crowded grids apart with strength L
and radius R, :mod:`msdf.flow.repulsion`, the command line's radius unless given; no repulsion without it;
``align=L`` moves grids onto their neighbours' surface with strength L, :mod:`msdf.flow.alignment`; none without it)::

    python bench/bench_sampling.py --run demo_output/run --reference demo_output/data/reference \\
        --setting plain --setting tau=0.8 --setting tau=0.7 --setting tau=0.7,restarts=3@0.4

``--judge-data STORE`` also judges that training store's own encodings the same way, one per reference of the
reference's class (the ceiling of every column), under ``"data"``, and records the store's encoder settings
(``settings.data_encoding``, from its ``summary.json``). ``--decode METHOD`` decodes samples and encodings
with another :mod:`msdf.decoder` method (``mc-nearest``: uncovered space signed by its nearest covered node).

Writes ``bench/results/sampling.json`` (or ``--name``).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.bench_generation_quality import judge_data, judged, print_row  # noqa: E402
from bench.results_io import write_result  # noqa: E402
from msdf.choices import (DECODE_METHODS, GUIDANCE_DEFAULT, GUIDANCE_INTERVAL_DEFAULT,  # noqa: E402
                          REPULSION_DEFAULT, REPULSION_RADIUS_DEFAULT, TEMPERATURE_DEFAULT)
from msdf.evaluation import evaluate_run, load_reference  # noqa: E402
from msdf.flow.alignment import Alignment  # noqa: E402
from msdf.flow.repulsion import Repulsion  # noqa: E402
from msdf.flow.sampler import FlowSampler, Restart, guidance_columns, guidance_interval  # noqa: E402
from msdf.flow.solvers import Solver  # noqa: E402
from msdf.flow.stochastic import EulerMaruyama  # noqa: E402  (a Setting's solver type)
from msdf.generate import make_solver  # noqa: E402

MAIN_NFE = 32  # the midpoint budget of msdf generate / evaluate


@dataclass(frozen=True)
class Setting:
    """One sampling setting: temperature, restart passes, main NFE, guidance weight, the times ``[lo, hi)`` at which
    it applies (:meth:`~msdf.flow.sampler.FlowSampler.with_guidance_interval`), the SDE's noise level (None: the
    midpoint ODE solver), the guided columns (:meth:`~msdf.flow.sampler.FlowSampler.with_guidance_columns`) and the
    grid repulsion's strength and radius (:meth:`~msdf.flow.sampler.FlowSampler.with_repulsion`; 0 = off) and the
    grid alignment's strength (:meth:`~msdf.flow.sampler.FlowSampler.with_alignment`; 0 = off)."""

    temperature: float
    restart: Restart
    nfe: int
    guidance: float
    interval: tuple[float, float]
    sde: float | None = None
    columns: str = "all"
    repulsion: Repulsion = Repulsion(0.0, REPULSION_RADIUS_DEFAULT)
    alignment: Alignment = Alignment(0.0)

    def solver(self) -> Solver | EulerMaruyama:
        """The main solve: midpoint at ``nfe``, or Euler-Maruyama at ``nfe`` steps with noise level ``sde``."""
        return make_solver("midpoint" if self.sde is None else "sde", self.nfe, sde_noise=self.sde or 0.0)


def parse_setting(text: str, guidance: float) -> Setting:
    """``"plain"`` | ``"tau=T"`` | ``"restarts=R"`` | ``"restarts=R@t"`` | ``"nfe=N"`` (the main midpoint solve,
    default 32) | ``"rnfe=N"`` (each restart pass, default 8) | ``"w=G"`` (guidance weight, default ``guidance``) |
    ``"gi=LO:HI"`` (guide only at times LO <= t < HI, default 0:1) | ``"sde=ETA"`` (the SDE solver) | ``"gc=C"``
    (guided columns) | ``"repel=L[@R]"`` (grid repulsion) | ``"align=L"`` (grid alignment), comma-joined ->
    :class:`Setting`."""
    tau, count, t, rnfe, nfe, w, interval = 1.0, 0, Restart().t, Restart().nfe, MAIN_NFE, guidance, (0.0, 1.0)
    sde, columns, repel, radius, align = None, "all", 0.0, REPULSION_RADIUS_DEFAULT, 0.0
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, _, value = part.partition("=")
        if key == "plain" and not value:
            continue
        if key == "tau":
            tau = float(value)
        elif key == "restarts":
            n, _, at = value.partition("@")
            count, t = int(n), float(at) if at else t
        elif key == "nfe":
            nfe = int(value)
        elif key == "rnfe":
            rnfe = int(value)
        elif key == "w":
            w = float(value)
        elif key == "sde":
            sde = float(value)
        elif key == "repel":
            strength, _, at = value.partition("@")
            repel, radius = float(strength), float(at) if at else radius
        elif key == "align":
            align = float(value)
        elif key == "gc":
            try:
                columns = guidance_columns(value)
            except ValueError as exc:
                raise ValueError(f"setting {text!r}: {exc}") from exc
        elif key == "gi":
            lo, _, hi = value.partition(":")
            try:
                interval = guidance_interval(float(lo), float(hi))
            except ValueError as exc:
                raise ValueError(f"setting {text!r}: {exc}") from exc
        else:
            raise ValueError(f"setting {text!r}: unknown part {part!r} (use plain, tau=T, restarts=R[@t], nfe=N, "
                             "rnfe=N, w=G, gi=LO:HI, sde=ETA, gc=COLUMNS, repel=L[@R], align=L)")
    if not tau > 0:
        raise ValueError(f"setting {text!r}: tau must be > 0")
    try:
        setting = Setting(tau, Restart(count, t, rnfe), nfe, w, interval, sde, columns, Repulsion(repel, radius),
                          Alignment(align))
        setting.solver()
    except ValueError as exc:
        raise ValueError(f"setting {text!r}: {exc}") from exc
    return setting


def encoding_settings(store: str | None) -> dict | None:
    """The encoder settings ``msdf preprocess`` recorded in ``STORE/summary.json`` (None without a store)."""
    return json.loads((Path(store) / "summary.json").read_text())["settings"] if store else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", required=True, help="trained run folder (msdf train / msdf demo's run/)")
    ap.add_argument("--reference", required=True, help="held-out reference meshes (msdf synth-dataset, other seed)")
    ap.add_argument("--setting", action="append",
                    help="sampling setting (module doc); default: plain and the command line's default")
    ap.add_argument("--guidance", type=float, default=GUIDANCE_DEFAULT)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--resolution", type=int, default=128)
    ap.add_argument("--judge-data", metavar="STORE", default=None,
                    help="also judge this training store's own encodings (the ceiling of every column)")
    ap.add_argument("--decode", default="mc", choices=DECODE_METHODS, help="decode method (default mc)")
    ap.add_argument("--name", default="sampling", help="results file name")
    args = ap.parse_args()
    default, (lo, hi) = Restart(), GUIDANCE_INTERVAL_DEFAULT
    settings = args.setting or ["plain", f"tau={TEMPERATURE_DEFAULT:g},restarts={default.count}@{default.t:g},"
                                         f"gi={lo:g}:{hi:g},repel={REPULSION_DEFAULT:g}@{REPULSION_RADIUS_DEFAULT:g}"]
    parsed = [parse_setting(s, args.guidance) for s in settings]  # every setting is checked before the first sample
    torch.set_num_threads(os.cpu_count() or 1)
    sampler = FlowSampler.load(args.run, "cpu")
    ref, labels, captions = load_reference(args.reference, seed=args.seed, quiet=True)
    rows = {}
    for text, st in zip(settings, parsed):
        t0 = time.perf_counter()
        sampler.with_guidance_interval(*st.interval).with_guidance_columns(st.columns)
        sampler.with_repulsion(st.repulsion.strength, st.repulsion.radius).with_alignment(st.alignment.strength)
        report = evaluate_run(sampler, st.solver(), ref, labels, captions, guidance=st.guidance,
                              seed=args.seed, resolution=args.resolution, quiet=True, restart=st.restart,
                              temperature=st.temperature, method=args.decode)
        rows[text] = {"temperature": st.temperature, "restart": asdict(st.restart), "nfe": st.nfe,
                      "guidance": st.guidance, "guidance_interval": list(st.interval), "sde": st.sde,
                      "guidance_columns": st.columns, "repulsion": asdict(sampler.repulsion),
                      "alignment": asdict(sampler.alignment), "seconds": time.perf_counter() - t0,
                      "generate_s": report["timings"]["generate_s"],
                      **judged(report)}
        print_row(text, rows[text])
    data = (judge_data(args.judge_data, ref, labels, args.seed, args.resolution, args.decode) if args.judge_data
            else None)
    if data is not None:
        print_row("data (training encodings)", data)
    write_result(args.name, {
        "settings": {"run": args.run, "step": sampler.step, "model": {k: sampler.config["model"].get(k) for k in
                                                                      ("width", "depth", "locality", "prediction")},
                     "reference": args.reference, "references": len(labels),
                     "solver": "midpoint", "nfe": MAIN_NFE, "guidance": args.guidance, "seed": args.seed,
                     "resolution": args.resolution, "data_store": args.judge_data, "decode": args.decode,
                     "data_encoding": encoding_settings(args.judge_data)},
        "rows": rows, "data": data})
    return 0


if __name__ == "__main__":
    sys.exit(main())
