"""The end-to-end demo: synthetic data → M-SDF store → flow model → generated meshes → metrics → report.

Every stage runs the public ``msdf`` command line in a subprocess (so the demo exercises exactly what users type, and a
crash in one stage cannot take the orchestrator down) and, on success, leaves a marker ``OUT/stages/<stage>.json`` with
its wall time and outputs. Re-running the demo skips stages whose marker exists (and ``preprocess``/``train`` resume
on their own if they were interrupted), so a killed run picks up where it stopped.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from msdf.atomic import atomic_write, write_json

PROMPTS_FILE = Path(__file__).with_name("prompts.tsv")
REAL_MESH_DIR = Path(__file__).with_name("data")  # package data: real meshes for the fidelity stage (SOURCES.md)


@dataclass
class DemoConfig:
    """Knobs of the demo. ``quick`` shrinks every stage to a ~5-minute smoke run that still produces shapes."""

    out: Path
    minutes: float = 15.0
    preset: str = "cpu-medium"
    per_class: int = 40
    reference_per_class: int = 8
    samples: int = 4
    resolution: int = 192
    real_meshes: int = 5
    visco_prompts: int = 2
    visco_resolution: int = 128
    refine_steps: int = 25
    workers: int = os.cpu_count() or 1
    seed: int = 0
    quick: bool = False

    @classmethod
    def make(cls, out: str | Path, quick: bool = False, **overrides: object) -> "DemoConfig":
        """Defaults for a full (~30 min on 2 cores) or ``quick`` run, then explicit ``overrides`` (None = default)."""
        base = dict(minutes=3.0, preset="cpu-small", per_class=12, reference_per_class=2, samples=2, resolution=128,
                    real_meshes=2, visco_resolution=64) if quick else {}
        base.update({k: v for k, v in overrides.items() if v is not None})
        return cls(out=Path(out), quick=quick, **base)  # type: ignore[arg-type]


def read_prompts(path: Path = PROMPTS_FILE) -> list[tuple[str, str]]:
    """``(class, prompt)`` pairs from a tab-separated file; ``#`` lines are comments."""
    pairs = []
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            label, prompt = line.split("\t", 1)
            pairs.append((label.strip(), prompt.strip()))
    return pairs


def msdf_cli(*args: object, log: Path, ok: tuple[int, ...] = (0,)) -> int:
    """Run ``python -m msdf ARGS``; its output goes to the terminal (progress bars) and is kept in ``log``.

    Returns the exit status; raises ``RuntimeError`` with the command and the tail of its output when the status is
    not in ``ok``.
    """
    cmd = [sys.executable, "-m", "msdf", *map(str, args)]
    print("$ msdf " + " ".join(map(str, args)), flush=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as fh:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert proc.stdout is not None
        for chunk in iter(lambda: proc.stdout.read1(4096), b""):  # type: ignore[union-attr]
            sys.stdout.buffer.write(chunk)
            sys.stdout.flush()
            fh.write(chunk)
        code = proc.wait()
    if code not in ok:
        tail = log.read_bytes()[-1500:].decode(errors="replace")
        raise RuntimeError(f"`msdf {' '.join(map(str, args))}` exited with status {code}; end of its log {log}:\n{tail}")
    return code


class Demo:
    """The demo's stages over one output folder; see the module docstring."""

    def __init__(self, cfg: DemoConfig) -> None:
        self.cfg = cfg
        self.out = cfg.out
        self.log = self.out / "logs" / "demo.log"
        self.stages: list[tuple[str, Callable[[], dict]]] = [
            ("dataset", self.dataset),
            ("preprocess", self.preprocess),
            ("train", self.train),
            ("generate", self.generate),
            ("visco", self.visco),
            ("evaluate", self.evaluate),
            ("fidelity", self.fidelity),
            ("report", self.report),
        ]

    # -- stages ---------------------------------------------------------------------------------------------------
    def dataset(self) -> dict:
        """Synthetic captioned training set, a held-out reference set (other seed) and a few shipped real meshes."""
        c = self.cfg
        msdf_cli("synth-dataset", "-o", self.out / "data" / "synth", "--per-class", c.per_class, "--seed", c.seed,
                 "--workers", c.workers, log=self.log)
        msdf_cli("synth-dataset", "-o", self.out / "data" / "reference", "--per-class", c.reference_per_class,
                 "--seed", c.seed + 1000, "--workers", c.workers, log=self.log)
        real = self.out / "data" / "real"
        real.mkdir(parents=True, exist_ok=True)
        picked = sorted(p for p in REAL_MESH_DIR.iterdir() if p.suffix in {".off", ".obj"})[: c.real_meshes]
        for p in picked:
            shutil.copy2(p, real / p.name)
        return {"synthetic": str(self.out / "data" / "synth"), "reference": str(self.out / "data" / "reference"),
                "real": [p.name for p in picked]}

    def preprocess(self) -> dict:
        """M-SDF store of the synthetic set (n=256 grids of 5^3, the representation the cpu-* presets are sized for).

        ``refine_steps`` (25, the encoder's default is 100) keeps this stage at ~3 minutes for 360 shapes on 2 cores.
        """
        msdf_cli("preprocess", self.out / "data" / "synth", "-o", self.out / "store", "--grids", 256, "--k", 5,
                 "--refine-steps", self.cfg.refine_steps, "--workers", self.cfg.workers, "--seed", self.cfg.seed,
                 log=self.log)
        return json.loads((self.out / "store" / "summary.json").read_text())

    def train(self) -> dict:
        """Text-conditioned flow model of the configured preset (cpu-medium by default, quick: cpu-small) within the
        time budget (resumes an interrupted run)."""
        run = self.out / "run"
        # --resume continues from RUN/checkpoints/latest.json when an earlier run was interrupted, else starts fresh
        msdf_cli("train", "--data", self.out / "store", "--preset", self.cfg.preset, "--cond", "text",
                 "--minutes", self.cfg.minutes, "--out", run, "--seed", self.cfg.seed, "--resume", log=self.log)
        return {"run": str(run)}

    def generate(self) -> dict:
        """Samples for the fixed prompt list: CFG and the solver, restart passes and temperature `msdf generate` uses
        by default, marching cubes."""
        prompts = self.out / "prompts.txt"
        with atomic_write(prompts) as tmp:
            tmp.write_text("\n".join(p for _, p in read_prompts()) + "\n")
        msdf_cli("generate", self.out / "run", "--prompts", prompts, "-n", self.cfg.samples, "--seed", self.cfg.seed,
                 "--resolution", self.cfg.resolution, "--method", "mc", "-o", self.out / "generated", log=self.log,
                 ok=(0, 3))  # 3: some samples had no surface (reported)
        return {"prompts": len(read_prompts()), "samples_per_prompt": self.cfg.samples}

    def visco(self) -> dict:
        """Clean the first sample of the first prompt of each of the first ``visco_prompts`` classes (chair, table
        with the shipped prompt list) with the VisCo path (``--method visco``; ~15 s per shape at 128^3 on 2 cores)."""
        info = json.loads((self.out / "generated" / "samples.json").read_text())
        wanted: dict[str, str] = {}
        for label, prompt in read_prompts():
            wanted.setdefault(label, prompt)
        prompts = list(wanted.values())[: self.cfg.visco_prompts]
        firsts: dict[str, dict] = {}
        for rec in info["samples"]:
            firsts.setdefault(rec.get("prompt") or "", rec)
        cleaned = []
        for prompt in prompts:
            rec = firsts.get(prompt, {})
            if rec.get("msdf") and not rec.get("error"):
                target = self.out / "visco" / (Path(rec["msdf"]).stem + ".glb")
                msdf_cli("export", self.out / "generated" / rec["msdf"], "-o", target, "--method", "visco",
                         "--resolution", self.cfg.visco_resolution, log=self.log)
                cleaned.append({"prompt": prompt, "mesh": str(target)})
        return {"cleaned": cleaned}

    def evaluate(self) -> dict:
        """COV / MMD / 1-NNA against the held-out reference set and conditional accuracy."""
        msdf_cli("evaluate", self.out / "run", "--reference", self.out / "data" / "reference",
                 "--seed", self.cfg.seed, "-o", self.out / "evaluation", log=self.log)
        return {"evaluation": str(self.out / "evaluation")}

    def fidelity(self) -> dict:
        """Encode → decode the shipped real meshes at the paper's size (1024 × 7^3) and measure fidelity."""
        rows = []
        for mesh in sorted((self.out / "data" / "real").iterdir()):
            enc = self.out / "fidelity" / (mesh.stem + ".npz")
            dec = self.out / "fidelity" / (mesh.stem + ".glb")
            msdf_cli("encode", mesh, "-o", enc, "--seed", self.cfg.seed, log=self.log)
            msdf_cli("decode", enc, "-o", dec, "--resolution", 256, log=self.log)
            rows.append({"mesh": mesh.name, **self._fidelity_of(dec, mesh)})
        write_json(self.out / "fidelity" / "fidelity.json", rows)
        return {"meshes": len(rows)}

    @staticmethod
    def _fidelity_of(decoded: Path, reference: Path) -> dict:
        from msdf.meshio import load_mesh
        from msdf.metrics import fidelity

        return {k: float(v) for k, v in fidelity(load_mesh(decoded), load_mesh(reference)).items()}

    def report(self) -> dict:
        """One self-contained ``report.html`` with the gallery, metric tables, loss curve and timings."""
        from msdf.demo.report import write_report

        path = write_report(self.out)
        return {"report": str(path)}

    # -- driver ---------------------------------------------------------------------------------------------------
    def run(self) -> int:
        """Run every stage not yet done; returns 0 when all stages succeeded, 1 otherwise."""
        self.out.mkdir(parents=True, exist_ok=True)
        write_json(self.out / "demo_config.json", asdict(self.cfg), default=str)
        start = time.perf_counter()
        for name, stage in self.stages:
            marker = self.out / "stages" / f"{name}.json"
            if marker.exists() and name != "report":
                print(f"[demo] {name}: done in an earlier run, skipping", flush=True)
                continue
            print(f"[demo] {name} ...", flush=True)
            t0 = time.perf_counter()
            try:
                info = stage()
            except Exception as exc:  # a stage failed: report which and why, keep earlier stages' results
                print(f"[demo] stage '{name}' FAILED: {exc}", file=sys.stderr, flush=True)
                return 1
            info = {"seconds": round(time.perf_counter() - t0, 1), **info}
            write_json(marker, info, default=str)
            print(f"[demo] {name}: done in {info['seconds']} s", flush=True)
        print(f"[demo] all stages done in {time.perf_counter() - start:.0f} s this run; "
              f"report: {self.out / 'report.html'}", flush=True)
        return 0
