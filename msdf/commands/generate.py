"""``msdf generate``: sample shapes from a trained flow model (text or class prompts) and write meshes, M-SDFs, renders."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from msdf.choices import (ALIGNMENT_DEFAULT, DECODE_METHODS, GUIDANCE_DEFAULT, GUIDANCE_INTERVAL_DEFAULT,
                          MESH_FORMATS, NFE_DEFAULT, REPULSION_DEFAULT, REPULSION_RADIUS_DEFAULT, RESTART_DEFAULTS,
                          SDE_NOISE_DEFAULT, SOLVER_DEFAULT, SOLVERS, TEMPERATURE_DEFAULT)

NAME = "generate"
HELP = "generate 3D shapes from a trained flow model: meshes, M-SDF files, renders, contact sheet, samples.json"


def add_solver_arguments(parser: argparse.ArgumentParser, default_solver: str = SOLVER_DEFAULT,
                         default_nfe: int = NFE_DEFAULT) -> None:
    """``--guidance/--guidance-interval/--solver/--nfe/--sde-noise/--bns-file/--device`` shared by generate, evaluate
    and complete."""
    parser.add_argument("--guidance", "-w", type=float, default=GUIDANCE_DEFAULT,
                        help="classifier-free guidance weight w: u_null + w (u_cond - u_null); 1 = plain conditional "
                             f"(default {GUIDANCE_DEFAULT:g})")
    add_guidance_interval_argument(parser)
    parser.add_argument("--solver", choices=SOLVERS, default=default_solver,
                        help=f"solver (default {default_solver}); sde = Euler-Maruyama on the SDE with the flow's "
                             "marginals (--sde-noise); bns = the solver made by `msdf distill-solver`")
    parser.add_argument("--nfe", type=int, default=default_nfe,
                        help=f"velocity evaluations per sample (default {default_nfe}; ignored by dopri5)")
    parser.add_argument("--sde-noise", type=float, default=SDE_NOISE_DEFAULT, metavar="ETA",
                        help=f"noise level eta of --solver sde (default {SDE_NOISE_DEFAULT:g}; 0 = the Euler ODE; see "
                             "docs/benchmarks.md#sampling-sde)")
    parser.add_argument("--bns-file", default=None, metavar="SAFETENSORS",
                        help="BNS solver file (default RUN/solvers/bns_nfe<N>_w<W>.safetensors)")
    parser.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N | auto (default cpu)")


def add_guidance_interval_argument(parser: argparse.ArgumentParser) -> None:
    """``--guidance-interval LO HI`` (read back by :func:`interval_from_args`)."""
    lo, hi = GUIDANCE_INTERVAL_DEFAULT
    parser.add_argument("--guidance-interval", type=float, nargs=2, default=None, metavar=("LO", "HI"),
                        help="apply w only at times LO <= t < HI of the flow (t = 0 noise, 1 data), the conditional "
                             f"velocity alone elsewhere (default {lo:g} {hi:g}; 0 1 = every time, which "
                             "self-conditioned models always use; see docs/benchmarks.md#guidance-interval)")


def add_sampling_arguments(parser: argparse.ArgumentParser) -> None:
    """``--temperature``, ``--restarts/--restart-t/--restart-nfe`` (restart sampling,
    :class:`msdf.flow.sampler.Restart`), ``--repel/--repel-radius`` (:mod:`msdf.flow.repulsion`) and ``--align``
    (:mod:`msdf.flow.alignment`) shared by generate and evaluate."""
    parser.add_argument("--temperature", type=float, default=TEMPERATURE_DEFAULT,
                        help=f"sampling temperature tau: the source noise is tau * N(0, I) (default "
                             f"{TEMPERATURE_DEFAULT:g}; 1 = the distribution the model was trained from; see "
                             f"docs/benchmarks.md#sampling-medium)")
    count, t, nfe = RESTART_DEFAULTS
    parser.add_argument("--restarts", type=int, default=count,
                        help=f"restart passes after the solve: re-noise each sample to --restart-t and integrate "
                             f"to 1 again (default {count}; 0 = plain sampling; see docs/benchmarks.md#sampling)")
    parser.add_argument("--restart-t", type=float, default=t, help=f"time the restarts re-noise to (default {t:g})")
    parser.add_argument("--restart-nfe", type=int, default=nfe,
                        help=f"midpoint evaluations per restart pass (default {nfe})")
    parser.add_argument("--repel", type=float, default=REPULSION_DEFAULT, metavar="STRENGTH",
                        help="push grids nearer than --repel-radius mean half-widths apart, along the surface, at "
                             f"0.5 <= t < 0.95 (default {REPULSION_DEFAULT:g}; 0 = off; see "
                             "docs/benchmarks.md#repulsion)")
    parser.add_argument("--repel-radius", type=float, default=REPULSION_RADIUS_DEFAULT, metavar="R",
                        help=f"radius of --repel in mean half-widths (default {REPULSION_RADIUS_DEFAULT:g})")
    parser.add_argument("--align", type=float, default=ALIGNMENT_DEFAULT, metavar="STRENGTH",
                        help="move each grid onto its neighbours' surface along the normal at 0.5 <= t < 0.95 "
                             f"(default {ALIGNMENT_DEFAULT:g}; 0 = off; see docs/benchmarks.md#alignment)")


def sampling_from_args(args: argparse.Namespace):
    """``(Restart, temperature, Repulsion, Alignment)`` of :func:`add_sampling_arguments`'s flags (a usage error if
    invalid)."""
    from msdf.boundary import UsageError
    from msdf.flow.alignment import Alignment
    from msdf.flow.repulsion import Repulsion
    from msdf.flow.sampler import Restart

    if not args.temperature > 0:
        raise UsageError(f"--temperature must be > 0 (got {args.temperature:g})")
    try:
        restart = Restart(args.restarts, args.restart_t, args.restart_nfe)
    except ValueError as exc:
        raise UsageError(f"--restarts/--restart-t/--restart-nfe: {exc}") from exc
    try:
        repulsion = Repulsion(args.repel, args.repel_radius)
    except ValueError as exc:
        raise UsageError(f"--repel/--repel-radius: {exc}") from exc
    try:
        return restart, args.temperature, repulsion, Alignment(args.align)
    except ValueError as exc:
        raise UsageError(f"--align: {exc}") from exc


def interval_from_args(args: argparse.Namespace) -> tuple[float, float] | None:
    """``--guidance-interval`` as ``(lo, hi)``, None when not given (the sampler's default; a usage error if
    invalid)."""
    from msdf.boundary import UsageError
    from msdf.flow.sampler import guidance_interval

    if args.guidance_interval is None:
        return None
    try:
        return guidance_interval(*args.guidance_interval)
    except ValueError as exc:
        raise UsageError(f"--guidance-interval: {exc}") from exc


def load_sampler(args: argparse.Namespace, interval: tuple[float, float] | None, repulsion=None, alignment=None):
    """The :class:`~msdf.flow.sampler.FlowSampler` of ``args.run`` on ``args.device``, guided on ``interval``
    (:func:`interval_from_args`; None: the sampler's default), with the ``repulsion`` and ``alignment`` of
    :func:`sampling_from_args` where given (None: the sampler's defaults)."""
    from msdf.flow.sampler import FlowSampler

    sampler = FlowSampler.load(args.run, args.device)
    if repulsion is not None:
        sampler.with_repulsion(repulsion.strength, repulsion.radius)
    if alignment is not None:
        sampler.with_alignment(alignment.strength)
    return sampler if interval is None else sampler.with_guidance_interval(*interval)


def add_condition_arguments(parser: argparse.ArgumentParser, required: bool) -> None:
    """Mutually exclusive ``--prompt/--class/--prompts``."""
    group = parser.add_mutually_exclusive_group(required=required)
    group.add_argument("--prompt", action="append", metavar="TEXT",
                       help="text prompt (repeatable); class models accept prompts that name one class")
    group.add_argument("--class", dest="classes", action="append", metavar="NAME", help="class name (repeatable)")
    group.add_argument("--prompts", metavar="FILE", help="text file with one prompt per line")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", metavar="RUN", help="training run directory (with checkpoints/latest.json)")
    add_condition_arguments(parser, required=False)
    parser.add_argument("-n", "--num-samples", type=int, default=4, help="samples per prompt/class (default 4)")
    add_solver_arguments(parser)
    add_sampling_arguments(parser)
    parser.add_argument("--seed", type=int, default=0, help="seed of the first sample; sample j uses seed+j (default 0)")
    parser.add_argument("--resolution", type=int, default=256, help="marching-cubes / VisCo grid resolution (256)")
    parser.add_argument("--method", choices=DECODE_METHODS, default="mc", help="mesh extraction (default mc)")
    parser.add_argument("--format", dest="fmt", choices=MESH_FORMATS, default="glb",
                        help="mesh file format (default glb, with vertex normals)")
    parser.add_argument("--batch-size", type=int, default=16, help="samples per ODE batch (default 16)")
    parser.add_argument("--no-render", action="store_true", help="skip the PNG renders and contact sheet")
    parser.add_argument("-o", "--out", required=True, metavar="DIR", help="output folder")
    add_overwrite_argument(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def add_overwrite_argument(parser: argparse.ArgumentParser) -> None:
    """``--overwrite``: allow an output folder holding files this command did not write."""
    parser.add_argument("--overwrite", action="store_true",
                        help="write into a non-empty folder not made by this command (its files may be replaced)")


def check_sample_arguments(args: argparse.Namespace, counts: tuple[str, ...]) -> None:
    """Refuse bad sizes before any work: ``--nfe``, ``--resolution`` (memory) and the ``counts`` options (>= 1);
    check that ``--out`` is a folder this command may write (:func:`msdf.outpaths.check_output_dir`)."""
    from msdf.boundary import UsageError
    from msdf.limits import check_resolution
    from msdf.outpaths import check_output_dir

    for name in ("nfe",) + counts:
        value = getattr(args, name)
        if value is not None and value < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    check_resolution(args.resolution, args.method)
    check_output_dir(args.out, args.command, overwrite=args.overwrite)


def claim_sample_folder(args: argparse.Namespace, index: str) -> None:
    """Create ``--out`` and mark it as this command's; when an earlier run of it wrote there, delete the files its
    ``index`` listed so no stale sample is left beside the new ones."""
    from msdf.generate import remove_listed_outputs
    from msdf.outpaths import claim_output_dir, read_marker

    out = Path(args.out)
    if out.is_dir() and read_marker(out) == args.command:
        remove_listed_outputs(out / index)
    claim_output_dir(out, args.command)


def conditions_from_args(args: argparse.Namespace) -> tuple[list[str] | None, list[str] | None]:
    """(prompts, classes) from --prompt/--prompts/--class (both None = unconditional)."""
    from msdf.generate import read_prompts

    if getattr(args, "prompts", None):
        return read_prompts(args.prompts), None
    return getattr(args, "prompt", None), getattr(args, "classes", None)


def run(args: argparse.Namespace) -> int:
    from msdf.generate import generate, make_solver

    check_sample_arguments(args, ("num_samples", "batch_size"))
    restart, temperature, repulsion, alignment = sampling_from_args(args)
    interval = interval_from_args(args)
    prompts, classes = conditions_from_args(args)
    sampler = load_sampler(args, interval, repulsion, alignment)
    make_solver(args.solver, args.nfe, run_dir=args.run, guidance=args.guidance, bns_path=args.bns_file,
                interval=sampler.guidance_interval, sde_noise=args.sde_noise)
    if sampler.cond_type != "text":  # unknown class names fail here, before anything is written
        sampler.condition(prompts=prompts, classes=classes)
    claim_sample_folder(args, "samples.json")
    result = generate(sampler, args.out, prompts=prompts, classes=classes, num_samples=args.num_samples,
                      guidance=args.guidance, solver=args.solver, nfe=args.nfe, seed=args.seed,
                      resolution=args.resolution, method=args.method, fmt=args.fmt, batch_size=args.batch_size,
                      render=not args.no_render, bns_path=args.bns_file, quiet=args.quiet, restart=restart,
                      temperature=temperature, sde_noise=args.sde_noise)
    failed = [r for r in result.samples if "error" in r]
    t = result.timings
    print(f"wrote {len(result.samples) - len(failed)} meshes to {args.out} (ODE {t['ode_s']:.1f} s, decode "
          f"{t['decode_s']:.1f} s, total {t['total_s']:.1f} s); see {result.samples_json}")
    for r in failed:
        print(f"sample {r['index']}: {r['error']}", file=sys.stderr)
    return 0 if not failed else 3
