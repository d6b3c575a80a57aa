"""Few-step sampling accuracy: Euler, midpoint, RK4 and learned BNS solvers vs a dopri5 reference, across NFE.

For each NFE in --nfes the script solves the same held-out (noise, condition) pairs with every applicable solver
(midpoint needs an even NFE, RK4 a multiple of 4) and a BNS solver distilled for that NFE on separate training pairs,
and reports, against dopri5 at tight tolerance:

* RMSE of x(1) in raw M-SDF space (after ``denormalize``), pooled over all test pairs, and PSNR = 10 log10(range^2 /
  MSE_i) averaged over the pairs i (as in the BNS paper), ``range`` = value range of the reference samples. PSNR is the
  distilled objective; the pooled RMSE is dominated by the worst pairs, and the worst pair's PSNR is reported too;
* optionally (--chamfer, needs decoding) the Chamfer distance between the decoded meshes and the decoded references;
* wall time of one batched solve (median of --repeats).

Target (issue 6): BNS at 8 NFE at least as accurate as midpoint at 16 (checked on mean PSNR and on pooled RMSE).

Two sources of velocity fields:
* ``--run RUN``: a trained model (classes drawn at random, CFG weight --guidance);
* default: an analytic CondOT flow to a Gaussian mixture (exact velocity, curved trajectories), so the script runs
  without a trained model.

    python bench/bench_solvers.py                       # analytic flow
    python bench/bench_solvers.py --run runs/cpu-small  # the real model (slow on CPU: distills one BNS per NFE)
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.results_io import write_result  # noqa: E402
from msdf.choices import GUIDANCE_DEFAULT  # noqa: E402
from msdf.flow.bns import psnr, train_bns  # noqa: E402
from msdf.flow.solvers import FIXED_STEP_STAGES, solve  # noqa: E402


def gmm_flow(means: torch.Tensor, sigma: float):
    """CondOT marginal velocity from N(0, I) to the mixture (1/K) sum_k N(m_k, sigma^2 I); means (K, D), x (B, D).

    Given component k, x_t ~ N(t m_k, s_t^2 I) with s_t^2 = (1-t)^2 + t^2 sigma^2 and velocity
    u_k = m_k + (s_t'/s_t)(x - t m_k); the marginal velocity is the posterior-weighted sum of the u_k.
    """
    def velocity(x, t):
        t = t.view(-1, 1, 1)
        xk = x[:, None, :]
        s2 = (1 - t) ** 2 + t**2 * sigma**2
        logits = -((xk - t * means[None]) ** 2).sum(-1, keepdim=True) / (2 * s2)
        w = torch.softmax(logits, dim=1)
        uk = means[None] + ((-(1 - t) + t * sigma**2) / s2) * (xk - t * means[None])
        return (w * uk).sum(1)
    return velocity


def analytic_problem(train_pairs: int, test_pairs: int, dim: int = 16, components: int = 8, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    means = torch.randn(components, dim, generator=g, dtype=torch.float64)
    v = gmm_flow(means, 0.4)
    x0 = torch.randn(train_pairs + test_pairs, dim, generator=g, dtype=torch.float64)
    x1 = solve(v, x0, "dopri5", rtol=1e-8, atol=1e-8).x
    velocity_for = lambda idx: v  # noqa: E731 - unconditional: the same field for every pair
    split = lambda a: (a[:train_pairs], a[train_pairs:])  # noqa: E731
    return (velocity_for, *split(x0), *split(x1), lambda x: x, {"source": "analytic GMM flow", "dim": dim})


def model_problem(run: str, device: str, guidance: float, train_pairs: int, test_pairs: int,
                  prompts: list[str] | None = None, tol: float = 1e-6):
    """Pairs of a trained model: conditions drawn at random (class names, or ``prompts`` for a text model)."""
    from msdf.flow.bns import make_pairs
    from msdf.flow.sampler import FlowSampler

    sampler = FlowSampler.load(run, device)
    kw = dict(guidance=guidance, prompts=prompts, rtol=tol, atol=tol)
    vf_tr, x0_tr, x1_tr, info_tr = make_pairs(sampler, train_pairs, seed=0, **kw)
    vf_te, x0_te, x1_te, info_te = make_pairs(sampler, test_pairs, seed=1, **kw)
    velocity_for = {"train": vf_tr, "test": vf_te}
    return (velocity_for, x0_tr, x0_te, x1_tr, x1_te, sampler.denormalize,
            {"source": f"model {run}", "guidance": guidance, "dopri5_nfe_mean": info_te["dopri5_nfe_mean"]},
            sampler.normalizer.std)


def chamfer_of_decoded(raw: torch.Tensor, ref_raw: torch.Tensor, resolution: int) -> float:
    """Mean Chamfer distance between meshes decoded from raw matrices and from the reference matrices."""
    from msdf.decoder import decode
    from msdf.evaluation import chamfer_matrix, mesh_point_cloud
    from msdf.representation import MosaicSDF

    vals = []
    for a, b in zip(raw, ref_raw):
        try:
            pa = mesh_point_cloud(decode(MosaicSDF.from_matrix(a), resolution=resolution), 2048, 0)
            pb = mesh_point_cloud(decode(MosaicSDF.from_matrix(b), resolution=resolution), 2048, 0)
        except ValueError:
            continue
        vals.append(float(chamfer_matrix(torch.from_numpy(pa)[None], torch.from_numpy(pb)[None])[0, 0]))
    return statistics.fmean(vals) if vals else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", default=None, help="trained run directory (default: analytic GMM flow)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--prompts", default=None, metavar="FILE",
                    help="text model: prompts (one per line) to draw conditions from")
    ap.add_argument("--guidance", type=float, default=GUIDANCE_DEFAULT)
    ap.add_argument("--nfes", type=int, nargs="+", default=[4, 6, 8, 12, 16])
    ap.add_argument("--bns-nfes", type=int, nargs="+", default=None,
                    help="distill BNS only at these NFE (default: every --nfes value)")
    ap.add_argument("--tol", type=float, default=1e-6, help="dopri5 rtol = atol of the --run reference (1e-6)")
    ap.add_argument("--train-pairs", type=int, default=256)
    ap.add_argument("--test-pairs", type=int, default=64)
    ap.add_argument("--iters", type=int, default=1000, help="BNS training iterations per NFE")
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--loss-space", choices=("normalised", "msdf"), default="normalised",
                    help="--run: BNS loss in the model's standardised space (as `msdf distill-solver`) or weighted "
                         "by the column std (M-SDF units)")
    ap.add_argument("--repeats", type=int, default=3, help="timing repeats (median)")
    ap.add_argument("--chamfer", action="store_true", help="also decode and compare meshes (--run only)")
    ap.add_argument("--resolution", type=int, default=64)
    ap.add_argument("--out", default=None,
                    help="JSON path (default bench/results/bench_solvers.json, or bench_solvers_model.json with --run)")
    args = ap.parse_args()

    torch.manual_seed(0)
    if args.run:
        from msdf.generate import read_prompts

        vf, x0_tr, x0_te, x1_tr, x1_te, to_raw, info, column_std = model_problem(
            args.run, args.device, args.guidance, args.train_pairs, args.test_pairs,
            read_prompts(args.prompts) if args.prompts else None, args.tol)
        vf_train, vf_test = vf["train"], vf["test"]
        scale = column_std if args.loss_space == "msdf" else None
    else:
        vf_train, x0_tr, x0_te, x1_tr, x1_te, to_raw, info = analytic_problem(args.train_pairs, args.test_pairs)
        vf_test, scale = vf_train, None
    all_test = torch.arange(x0_te.shape[0], device=x0_te.device)
    ref_raw = to_raw(x1_te).detach()
    value_range = float(ref_raw.max() - ref_raw.min())

    def measure(run_solver) -> dict:
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            with torch.no_grad():
                sol = run_solver(vf_test(all_test), x0_te)
            times.append(time.perf_counter() - t0)
        raw = to_raw(sol.x).detach()
        mse = float((raw - ref_raw).pow(2).mean())
        per_pair = psnr(raw, ref_raw, value_range)
        row = {"nfe": sol.nfe, "rmse": mse**0.5, "psnr": float(per_pair.mean()), "psnr_min": float(per_pair.min()),
               "time_s": statistics.median(times)}
        if args.chamfer and args.run:
            row["chamfer"] = chamfer_of_decoded(raw, ref_raw, args.resolution)
        return row

    rows = []
    for nfe in args.nfes:
        for method, stages in FIXED_STEP_STAGES.items():
            if nfe % stages == 0:
                rows.append({"solver": method, **measure(lambda v, x, m=method: solve(v, x, m, nfe))})
        if args.bns_nfes is not None and nfe not in args.bns_nfes:
            continue
        init = "midpoint" if nfe % 2 == 0 else "euler"
        t0 = time.perf_counter()
        trained = train_bns(vf_train, x0_tr, x1_tr, nfe, init=init, iters=args.iters, lr=args.lr,
                            batch_size=args.batch_size, scale=scale, quiet=True)
        t_train = time.perf_counter() - t0
        bns = trained.solver.to(x0_te.device)
        rows.append({"solver": "bns", "init": init, "train_s": t_train, **measure(lambda v, x: bns(v, x))})
        print(f"NFE {nfe}: done (BNS trained in {t_train:.1f} s)", file=sys.stderr)

    def value(solver, nfe, key):
        return next((r[key] for r in rows if r["solver"] == solver and r["nfe"] == nfe), None)

    checks = {}
    for key, better in (("psnr", lambda a, b: a >= b), ("rmse", lambda a, b: a <= b)):
        bns8, mid16 = value("bns", 8, key), value("midpoint", 16, key)
        checks[key] = None if bns8 is None or mid16 is None else {"bns8": bns8, "midpoint16": mid16,
                                                                   "pass": bool(better(bns8, mid16))}
    header = f"{'solver':<9} {'NFE':>4} {'RMSE':>11} {'PSNR dB':>8} {'worst':>7} {'time ms':>9}" + (
        f" {'Chamfer':>10}" if args.chamfer and args.run else "")
    print(f"\nsource: {info['source']}; reference: dopri5; {x0_te.shape[0]} test pairs\n{header}")
    for r in sorted(rows, key=lambda r: (r["nfe"], r["solver"])):
        line = f"{r['solver']:<9} {r['nfe']:>4} {r['rmse']:>11.3e} {r['psnr']:>8.2f} {r['psnr_min']:>7.2f} {1e3 * r['time_s']:>9.1f}"
        if "chamfer" in r:
            line += f" {r['chamfer']:>10.3e}"
        print(line)
    for key, c in checks.items():
        if c is not None:
            print(f"target BNS@8 vs midpoint@16 on {key}: {c['bns8']:.4g} vs {c['midpoint16']:.4g} -> "
                  f"{'PASS' if c['pass'] else 'FAIL'}")
    result = {"info": info, "args": vars(args), "rows": rows, "target_bns8_vs_midpoint16": checks,
              "date": time.strftime("%Y-%m-%d"), "load_average_1min_at_end": os.getloadavg()[0],
              "torch_threads": torch.get_num_threads()}
    write_result(args.out or ("bench_solvers_model" if args.run else "bench_solvers"), result)


if __name__ == "__main__":
    main()
