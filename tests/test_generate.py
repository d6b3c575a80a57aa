"""The generation pipeline end to end on a tiny checkpoint trained here with the flow-train code."""
import json

import numpy as np
import pytest
import torch
import trimesh

from msdf.cli import main
from msdf.choices import RESTART_DEFAULTS, TEMPERATURE_DEFAULT
from msdf.flow.bns import BNSFormatError, BNSSolver, distill, solver_path
from msdf.flow.sampler import FlowSampler
from msdf.flow.sampler import Restart, source_noise
from msdf.flow.solvers import solve
from msdf.flow.stochastic import StepNoise, sde_solve
from msdf.generate import check_bns_sampling, generate, make_solver, read_prompts, slug
from toy_flows import sphere_matrices

PLAIN = Restart(0)  # no restart passes


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    from msdf.flow.config import TrainConfig
    from msdf.flow.dataset import ArrayStore
    from msdf.flow.trainer import train

    root = tmp_path_factory.mktemp("tiny-run")
    radii = [0.4] * 12 + [0.8] * 12
    store = ArrayStore(sphere_matrices(radii, n=32, k=3, half_width=0.3).numpy(), 3,
                       labels=["small"] * 12 + ["large"] * 12)
    cfg = TrainConfig.from_dict({
        "model": {"width": 32, "depth": 1, "heads": 2, "mlp_ratio": 2.0, "row_hidden": 32}, "steps": 30,
        "batch_size": 8, "warmup_steps": 5, "val_every": 1000, "ckpt_every": 1000, "log_every": 10,
        "val_fraction": 0.0})
    train(store, cfg, root / "run", quiet=True)
    return root / "run"


@pytest.fixture(scope="module")
def sampler(run_dir):
    return FlowSampler.load(run_dir, "cpu")


def test_cfg_combination(sampler):
    x = torch.randn(3, sampler.n, sampler.dim)
    t = torch.full((3,), 0.3)
    cond = sampler.condition(classes=["small", "large", "small"])
    u_c = sampler.model(x, t, cond)
    u_0 = sampler.model(x, t, cond.nulled())
    w = 2.5
    v = sampler.velocity_fn(cond, w)(x, t)
    assert torch.allclose(v, u_0 + w * (u_c - u_0), atol=1e-5)
    assert torch.allclose(sampler.velocity_fn(cond, 1.0)(x, t), u_c, atol=1e-5)


def test_condition_and_guidance_change_the_samples(sampler):
    """Same seed: the same prompt gives the identical sample (so any difference is the condition's), a different
    prompt or guidance weight a different one. The tiny model's conditioning is weak, so differences are small."""
    solver = make_solver("midpoint", 8)
    mats, _ = sampler.sample(sampler.condition(prompts=["a small shape", "a large shape", "a small shape"]),
                             [0, 0, 0], solver, quiet=True)
    # identical up to float32 rounding, a few ulps at the entries' magnitude (below 1): multi-threaded kernels may
    # split a batch differently under load, and batch positions may round differently
    assert (mats[0] - mats[2]).abs().max() < 1e-6
    assert (mats[0] - mats[1]).abs().max() > 1e-6
    g1, _ = sampler.sample(sampler.condition(classes=["small"]), [0], solver, guidance=1.0, quiet=True)
    g3, _ = sampler.sample(sampler.condition(classes=["small"]), [0], solver, guidance=3.0, quiet=True)
    assert (g1 - g3).abs().max() > 1e-6


def test_seeding_rule_sample_depends_only_on_its_condition_and_seed(sampler):
    """The one seeding rule of FlowSampler.sample: sample j is the solve from torch.randn((n, D)) of a CPU generator
    seeded with seeds[j], whatever else is in the batch and however it is chunked."""
    solver = make_solver("midpoint", 4)
    classes, seeds = ["small", "large", "large"], [5, 6, 7]
    a, timing = sampler.sample(sampler.condition(classes=classes), seeds, solver, batch_size=3, quiet=True,
                               restart=PLAIN, temperature=1.0)
    b, _ = sampler.sample(sampler.condition(classes=classes), seeds, solver, batch_size=1, quiet=True,
                          restart=PLAIN, temperature=1.0)
    assert a.shape == (3, sampler.n, sampler.dim) and timing["nfe"] == 4
    torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
    for c, s, row in zip(classes, seeds, b):
        x0 = torch.randn((sampler.n, sampler.dim), generator=torch.Generator().manual_seed(s))[None]
        alone = sampler.matrices(solver(sampler.velocity_fn(sampler.condition(classes=[c]), 2.0), x0).x)[0]
        assert torch.equal(row, alone)
    assert torch.equal(source_noise([6], (2, 2))[0], source_noise([5, 6], (2, 2))[1])


def test_restart_passes_keep_the_seeding_rule(sampler):
    """Restart sampling: x_t = t x1 + (1 - t) eps_r with eps_r the next draw of sample j's own generator, then the
    ODE from t to 1; samples still depend only on their condition and seed, and count 0 is plain sampling."""
    solver = make_solver("midpoint", 4)
    cond = sampler.condition(classes=["small", "large", "large"])
    seeds = [5, 6, 7]
    plain, t_plain = sampler.sample(cond, seeds, solver, quiet=True, restart=PLAIN, temperature=1.0)
    restarted, timing = sampler.sample(cond, seeds, solver, batch_size=3, quiet=True, restart=Restart(2, 0.5, 4),
                                       temperature=1.0)
    assert timing["nfe"] == t_plain["nfe"] + 2 * 4 and (restarted - plain).abs().max() > 1e-6
    chunked, _ = sampler.sample(cond, seeds, solver, batch_size=1, quiet=True, restart=Restart(2, 0.5, 4),
                                temperature=1.0)
    torch.testing.assert_close(restarted, chunked, atol=1e-5, rtol=0)
    # by hand for sample 1: its generator's draws 0 (x_0), 1 and 2 (the restarts' noise)
    gen = torch.Generator().manual_seed(6)
    draws = [torch.randn((sampler.n, sampler.dim), generator=gen)[None] for _ in range(3)]
    one = sampler.condition(classes=["large"])
    x = solver(sampler.velocity_fn(one, 2.0), draws[0]).x
    for eps in draws[1:]:
        x = solve(sampler.velocity_fn(one, 2.0), 0.5 * x + 0.5 * eps, "midpoint", 4, t0=0.5).x
    torch.testing.assert_close(sampler.matrices(x)[0], restarted[1], atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="restart needs"):
        Restart(1, t=1.0)


def test_sde_solver_keeps_the_seeding_rule(sampler):
    """--solver sde: sample j is Euler-Maruyama from the same x_0 as the ODE solvers, with step noise from its own
    stream (msdf.flow.stochastic.StepNoise of seeds[j]), whatever the batching; restarts follow it as usual."""
    cond = sampler.condition(classes=["small", "large", "large"])
    seeds, sde = [5, 6, 7], make_solver("sde", 6, sde_noise=0.8)
    a, timing = sampler.sample(cond, seeds, sde, batch_size=3, quiet=True, restart=Restart(1, 0.5, 2),
                               temperature=1.0)
    b, _ = sampler.sample(cond, seeds, sde, batch_size=1, quiet=True, restart=Restart(1, 0.5, 2), temperature=1.0)
    assert timing["nfe"] == 6 + 2
    torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
    one = sampler.condition(classes=["large"])
    x = sde_solve(sampler.velocity_fn(one, 2.0), source_noise([6], (sampler.n, sampler.dim)), sampler.path, 0.8, 6,
                  StepNoise([6], (sampler.n, sampler.dim))).x
    x = solve(sampler.velocity_fn(one, 2.0), 0.5 * x + 0.5 * source_noise([6], x.shape[1:], draw=1)[0:1],
              "midpoint", 2, t0=0.5).x
    torch.testing.assert_close(sampler.matrices(x)[0], a[1], atol=1e-5, rtol=0)
    ode, _ = sampler.sample(cond, seeds, make_solver("euler", 6), quiet=True, restart=PLAIN, temperature=1.0)
    still, _ = sampler.sample(cond, seeds, make_solver("sde", 6, sde_noise=0.0), quiet=True, restart=PLAIN,
                              temperature=1.0)
    torch.testing.assert_close(still, ode, atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="one seed per sample"):
        sampler.solve(cond, torch.zeros(3, sampler.n, sampler.dim), sde)


def test_temperature_scales_the_source_noise(sampler):
    """x_0 = tau eps (and the restarts' fresh noise tau eps_r): by hand for one sample; the defaults are those of
    msdf.choices (shared with the command line) and differ from plain sampling; tau <= 0 is refused."""
    solver = make_solver("midpoint", 4)
    cond = sampler.condition(classes=["small", "large"])
    default, _ = sampler.sample(cond, [5, 6], solver, quiet=True)
    explicit, _ = sampler.sample(cond, [5, 6], solver, quiet=True, restart=Restart(*RESTART_DEFAULTS),
                                 temperature=TEMPERATURE_DEFAULT)
    plain, _ = sampler.sample(cond, [5, 6], solver, quiet=True, restart=PLAIN, temperature=1.0)
    assert torch.equal(default, explicit) and (default - plain).abs().max() > 1e-6
    cool, _ = sampler.sample(cond, [5, 6], solver, quiet=True, temperature=0.5, restart=Restart(1, 0.5, 4))
    gen = torch.Generator().manual_seed(6)
    draws = [torch.randn((sampler.n, sampler.dim), generator=gen)[None] for _ in range(2)]
    one = sampler.condition(classes=["large"])
    x = solver(sampler.velocity_fn(one, 2.0), 0.5 * draws[0]).x
    x = solve(sampler.velocity_fn(one, 2.0), 0.5 * x + 0.5 * (0.5 * draws[1]), "midpoint", 4, t0=0.5).x
    torch.testing.assert_close(sampler.matrices(x)[0], cool[1], atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="temperature"):
        sampler.sample(cond, [5, 6], solver, quiet=True, temperature=0.0)


def test_generate_writes_all_files(sampler, tmp_path):
    res = generate(sampler, tmp_path, classes=["large"], num_samples=2, guidance=1.5, solver="midpoint", nfe=4,
                   seed=3, resolution=32, fmt="glb", quiet=True)
    meta = json.loads((tmp_path / "samples.json").read_text())
    count, t, nfe = RESTART_DEFAULTS
    assert meta["nfe"] == 4 + count * nfe and meta["guidance"] == 1.5 and meta["solver"] == "midpoint"
    assert meta["restart"] == {"count": count, "t": t, "nfe": nfe} and meta["temperature"] == TEMPERATURE_DEFAULT
    assert [s["seed"] for s in meta["samples"]] == [3, 4]
    assert all(s["class"] == "large" for s in meta["samples"])
    ok = [s for s in meta["samples"] if "error" not in s]
    assert ok, meta["samples"]
    for s in ok:
        mesh = trimesh.load(tmp_path / s["mesh"], force="mesh")
        assert len(mesh.faces) == s["faces"] > 0
        assert s["components"] >= 1 and 0.0 < s["wholeness"] <= 1.0  # of the raw decoded mesh (msdf.wholeness)
        assert (tmp_path / s["render"]).stat().st_size > 0
        assert set(s["timings"]) >= {"ode_s", "decode_s"}
    for s in meta["samples"]:
        if "msdf" not in s:
            assert s["error"].startswith("invalid M-SDF")
            continue
        data = np.load(tmp_path / s["msdf"])
        assert data["matrix"].shape == (sampler.n, sampler.dim)
    assert (tmp_path / "contact_sheet.png").is_file() and res.contact_sheet == tmp_path / "contact_sheet.png"


def test_distill_and_generate_with_bns(run_dir, sampler, tmp_path):
    result, summary = distill(sampler, 4, pairs=12, iters=3, guidance=2.0, batch_size=6, quiet=True)
    assert result.solver.num_parameters() == 18 and summary["dopri5_nfe_mean"] > 4
    path = solver_path(run_dir, 4, 2.0)
    result.solver.save(path, summary)
    meta = BNSSolver.load(path)[1]
    assert meta["pairs"] == 12 and meta["guidance_interval"] == list(sampler.guidance_interval)
    out = tmp_path / "bns"
    assert main(["generate", str(run_dir), "--class", "small", "-n", "1", "--solver", "bns", "--nfe", "4",
                 "--guidance", "2", "--resolution", "24", "--no-render", "--quiet", "-o", str(out)]) in (0, 3)
    assert json.loads((out / "samples.json").read_text())["samples"][0]["solver"] == "bns"
    # no solver distilled for 6 NFE: a clear error naming the missing file
    with pytest.raises(ValueError, match="bns_nfe6_w2"):
        make_solver("bns", 6, run_dir=run_dir, guidance=2.0)
    # distilled for guidance 2 on the default interval: another interval or weight is refused, naming the file
    with pytest.raises(BNSFormatError, match=r"bns_nfe4_w2.*\[0, 0\.8\).*\[0, 1\)"):
        make_solver("bns", 4, run_dir=run_dir, guidance=2.0, interval=(0.0, 1.0))
    with pytest.raises(BNSFormatError, match="distilled for guidance 2, but guidance 3"):
        make_solver("bns", 4, bns_path=path, guidance=3.0, interval=sampler.guidance_interval)
    assert main(["generate", str(run_dir), "--class", "small", "--solver", "bns", "--nfe", "4", "--guidance", "2",
                 "--guidance-interval", "0", "1", "--no-render", "--quiet", "-o", str(tmp_path / "other")]) == 1
    # a solver written before the interval existed was distilled with guidance at every time
    legacy = {k: v for k, v in meta.items() if k != "guidance_interval"}
    check_bns_sampling(path, legacy, 2.0, (0.0, 1.0))
    with pytest.raises(BNSFormatError, match="--guidance-interval 0 1"):
        check_bns_sampling(path, legacy, 2.0, (0.0, 0.8))


def test_cli_distill_solver_sizes_by_device(run_dir, tmp_path, monkeypatch):
    """Flags win; unset sizes come from the device's defaults (CPU here); the solver and its JSON are written."""
    from msdf.commands import distill_solver

    out = tmp_path / "s.safetensors"
    assert main(["distill-solver", str(run_dir), "--nfe", "2", "--pairs", "6", "--iters", "2", "--batch-size", "3",
                 "-o", str(out), "--quiet"]) == 0
    meta = BNSSolver.load(out)[1]
    assert (meta["pairs"], meta["iters"], meta["batch_size"], meta["nfe"]) == (6, 2, 3, 2)
    assert main(["distill-solver", str(run_dir), "--nfe", "2", "--pairs", "6", "--iters", "2", "--batch-size", "3",
                 "--guidance-interval", "0", "1", "-o", str(tmp_path / "every.safetensors"), "--quiet"]) == 0
    assert BNSSolver.load(tmp_path / "every.safetensors")[1]["guidance_interval"] == [0.0, 1.0]
    seen = {}

    def fake_distill(sampler, nfe, **kw):
        seen.update(kw)
        raise ValueError("stop here")

    monkeypatch.setattr("msdf.flow.bns.distill", fake_distill)
    assert main(["distill-solver", str(run_dir), "--nfe", "2", "--iters", "7", "--quiet"]) == 1
    assert (seen["pairs"], seen["iters"], seen["batch_size"]) == (distill_solver.CPU_DEFAULTS["pairs"], 7,
                                                                 distill_solver.CPU_DEFAULTS["batch_size"])


def test_cli_errors(run_dir, tmp_path, capsys):
    assert main(["generate", str(run_dir), "--class", "teapot", "-o", str(tmp_path), "--quiet"]) == 1
    assert "unknown class 'teapot'" in capsys.readouterr().err
    assert main(["generate", str(tmp_path / "nope"), "--class", "small", "-o", str(tmp_path)]) == 1
    assert "no checkpoint" in capsys.readouterr().err
    assert main(["generate", str(run_dir), "--class", "small", "--solver", "rk4", "--nfe", "6", "-o",
                 str(tmp_path)]) == 1
    assert "multiple of 4" in capsys.readouterr().err
    assert main(["generate", str(run_dir), "--class", "small", "--restarts", "1", "--restart-t", "1.5", "-o",
                 str(tmp_path / "r")]) == 2
    assert "--restart-t" in capsys.readouterr().err
    assert main(["generate", str(run_dir), "--class", "small", "--temperature", "0", "-o", str(tmp_path / "t")]) == 2
    assert "--temperature" in capsys.readouterr().err
    assert main(["generate", str(run_dir), "--class", "small", "--guidance-interval", "0.8", "0.2", "-o",
                 str(tmp_path / "g")]) == 2
    assert "--guidance-interval" in capsys.readouterr().err
    assert main(["generate", str(run_dir), "--class", "small", "--solver", "sde", "--sde-noise", "-1", "-o",
                 str(tmp_path / "s")]) == 1
    assert "--sde-noise" in capsys.readouterr().err
    assert main(["generate", str(run_dir), "--class", "small", "--repel", "-1", "-o", str(tmp_path / "p")]) == 2
    assert "--repel" in capsys.readouterr().err
    assert main(["generate", str(run_dir), "--class", "small", "--align", "-1", "-o", str(tmp_path / "a")]) == 2
    assert "--align" in capsys.readouterr().err


def test_cli_sampling_flags_reach_the_sampler(run_dir, tmp_path):
    out = tmp_path / "r"
    assert main(["generate", str(run_dir), "--class", "small", "-n", "1", "--nfe", "4", "--restarts", "2",
                 "--restart-t", "0.5", "--restart-nfe", "2", "--temperature", "0.7", "--resolution", "24",
                 "--guidance-interval", "0.1", "0.6", "--repel", "3", "--repel-radius", "1.5", "--align", "2",
                 "--no-render",
                 "--quiet", "-o", str(out)]) in (0, 3)
    meta = json.loads((out / "samples.json").read_text())
    assert meta["restart"] == {"count": 2, "t": 0.5, "nfe": 2} and meta["nfe"] == 4 + 2 * 2
    assert meta["repulsion"] == {"strength": 3.0, "radius": 1.5, "t_lo": 0.5, "t_hi": 0.95}
    assert meta["alignment"] == {"strength": 2.0, "t_lo": 0.5, "t_hi": 0.95}
    assert meta["temperature"] == 0.7 and meta["guidance_interval"] == [0.1, 0.6] and meta["sde_noise"] is None
    sde = tmp_path / "sde"
    assert main(["generate", str(run_dir), "--class", "small", "-n", "1", "--solver", "sde", "--nfe", "5",
                 "--sde-noise", "0.25", "--restarts", "0", "--resolution", "24", "--no-render", "--quiet", "-o",
                 str(sde)]) in (0, 3)
    meta = json.loads((sde / "samples.json").read_text())
    assert meta["solver"] == "sde" and meta["sde_noise"] == 0.25 and meta["nfe"] == 5


def test_read_prompts_and_slug(tmp_path):
    f = tmp_path / "p.txt"
    f.write_text("# comment\na red chair\n\n  a tall lamp  \n")
    assert read_prompts(f) == ["a red chair", "a tall lamp"]
    (tmp_path / "empty.txt").write_text("\n# only a comment\n")
    with pytest.raises(ValueError, match="empty.txt: no prompts"):
        read_prompts(tmp_path / "empty.txt")
    assert slug("A chair, with ARMS!") == "a-chair-with-arms"


def test_evaluate_command(run_dir, tmp_path, capsys):
    ref = tmp_path / "ref"
    for label, r in (("small", 0.4), ("large", 0.8)):
        (ref / label).mkdir(parents=True)
        trimesh.creation.icosphere(2, radius=r).export(ref / label / "a.ply")
        trimesh.creation.icosphere(2, radius=r * 1.05).export(ref / label / "b.ply")
    out = tmp_path / "eval"
    assert main(["evaluate", str(run_dir), "--reference", str(ref), "--solver", "euler", "--nfe", "2",
                 "--resolution", "24", "--points", "256", "-o", str(out), "--quiet"]) == 0
    rep = json.loads((out / "evaluation.json").read_text())
    assert rep["num_requested"] == 4
    assert 0.0 <= rep["overall"]["cov"] <= 1.0 and 0.0 <= rep["overall"]["1nna_cd"] <= 1.0
    nn = rep["overall"]["nn_cd"]  # the distances behind the 1-NNA, each a median of nearest-neighbour Chamfers
    assert set(nn) == {"gen_gen", "gen_ref", "ref_ref", "ref_gen"} and all(v >= 0.0 for v in nn.values())
    assert set(rep["conditional"]["per_class"]) <= {"small", "large"}
    assert "| all |" in (out / "evaluation.md").read_text()
    assert "| open shells (%) |" in (out / "evaluation.md").read_text()
    # every sample is in the report, decoded or not, with its wholeness (0 for a failed decode)
    assert len(rep["samples"]) == 4 and rep["wholeness"]["count"] == 4
    assert all((s["wholeness"] == 0.0) == s["failed"] for s in rep["samples"])
    assert rep["overall"]["num_generated"] == 4


def test_evaluate_keeps_failed_decodes_in_every_metric(run_dir, monkeypatch):
    import msdf.decoder
    from msdf.evaluation import evaluate_run

    real = msdf.decoder.decode
    calls = []

    def flaky(shape, **kw):  # the second sample has no surface
        calls.append(1)
        if len(calls) == 2:
            raise ValueError("no surface")
        return real(shape, **kw)

    monkeypatch.setattr(msdf.decoder, "decode", flaky)
    sampler = FlowSampler.load(run_dir)
    clouds = torch.randn(4, 128, 3)
    rep = evaluate_run(sampler, make_solver("euler", 2), clouds, ["small", "small", "large", "large"],
                       [None] * 4, resolution=24, n_points=128, quiet=True)
    assert rep["num_failed"] == 1 and rep["overall"]["num_generated"] == 4
    failed = dict(rep["samples"][1])
    assert isinstance(failed.pop("disagreement"), float)  # read off the matrix, which exists without a surface
    assert 0.0 <= failed.pop("leak") <= 1.0  # the same
    assert failed == {"label": "small", "failed": True, "wholeness": 0.0, "components": 0, "stray_rows": sampler.n,
                      "completeness": 0.0}
    assert rep["wholeness"]["median_disagreement"] > 0
    assert rep["conditional"]["predicted"][1] is None


def test_complete_command(run_dir, tmp_path):
    g = np.random.default_rng(0)
    d = g.normal(size=(300, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    half = d[d[:, 0] > 0] * 0.8 + np.array([5.0, 0.0, 0.0])  # a half sphere away from the origin (user frame)
    pts = tmp_path / "half.xyz"
    np.savetxt(pts, half)
    out = tmp_path / "done"
    code = main(["complete", str(run_dir), "--points", str(pts), "--class", "large", "--steps", "3", "--nfe", "2",
                 "--solver", "euler", "--resolution", "24", "--no-render", "--quiet", "-o", str(out)])
    assert code in (0, 3)
    rep = json.loads((out / "completion.json").read_text())
    s = rep["samples"][0]
    assert s["observation_loss_final"] <= s["observation_loss_initial"]
    assert rep["normalization"]["center"][0] == pytest.approx(5.4, abs=0.05)  # bbox centre of the half sphere
    if "mesh" in s:  # the mesh comes back in the user's coordinates, near the observed points
        assert trimesh.load(out / s["mesh"], force="mesh").bounds.mean(axis=0)[0] > 3.0
    assert main(["complete", str(run_dir), "--points", str(pts), "--class", "large", "--solver", "sde", "-o",
                 str(tmp_path / "sde"), "--quiet"]) == 2  # D-Flow needs a deterministic solve
    bad = tmp_path / "bad.xyz"
    bad.write_text("1 2\n")
    assert main(["complete", str(run_dir), "--points", str(bad), "-o", str(out), "--quiet"]) == 1


def test_valid_half_widths_clamps_only_column_3():
    from msdf.flow.sampler import MIN_HALF_WIDTH, valid_half_widths

    m = torch.zeros(2, 3, 4 + 8)
    m[0, 0, 3] = -0.5
    m[1, 2, 3] = 0.2
    m[1, 1, 5] = -7.0
    out = valid_half_widths(m)
    assert out[0, 0, 3] == MIN_HALF_WIDTH and out[1, 2, 3] == 0.2
    assert out[1, 1, 5] == -7.0 and m[0, 0, 3] == -0.5  # other columns untouched, input not modified


def test_completions_get_the_validity_rule_of_generated_samples(sampler, monkeypatch):
    """A half-width the model puts at or below 0 is clamped the same way in a completion as in a generated sample,
    so neither is rejected as an invalid M-SDF."""
    import numpy as np

    from msdf.flow.dflow import complete_shapes
    from msdf.flow.sampler import MIN_HALF_WIDTH

    denormalize = sampler.denormalize
    shift = torch.zeros(sampler.dim)
    shift[3] = -100.0  # every half-width far below 0
    monkeypatch.setattr(sampler, "denormalize", lambda x: denormalize(x) + shift.to(x))
    gen, _ = sampler.sample(sampler.condition(classes=["small"]), [3], make_solver("midpoint", 2), quiet=True,
                            restart=PLAIN, temperature=1.0)
    points = np.random.default_rng(0).normal(size=(64, 3))
    done, _, result = complete_shapes(sampler, points, class_name="small", seed=3, steps=0,
                                      solver=make_solver("midpoint", 2), quiet=True)
    for m in (gen, done):
        assert torch.isfinite(m).all() and (m[..., 3] == MIN_HALF_WIDTH).all()
    torch.testing.assert_close(done, gen)  # steps=0: the completion is the plain ODE sample of the same seed
