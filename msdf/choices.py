"""The closed sets of names the command line offers (``choices=``) and the library checks against, and the defaults
the command line and the library share.

Torch-free on purpose: the ``msdf`` sub-commands build their parsers from these tuples without importing the modules
that implement them, and those modules import the same tuples, so the two cannot drift apart.
"""
from __future__ import annotations

DEVICES = ("cpu", "cuda", "auto")  # "auto": msdf.device.torch_device picks cuda when available
DECODE_METHODS = ("mc", "mc-nearest", "visco")  # msdf.decoder: marching cubes (2 conventions) | VisCo
MESH_FORMATS = ("glb", "obj", "ply", "stl")  # mesh files written by generate / complete
ODE_METHODS = ("euler", "midpoint", "rk4", "dopri5")  # msdf.flow.solvers
# plus the stochastic sampler (msdf.flow.stochastic, Euler-Maruyama) and the distilled few-step solver (msdf.flow.bns)
SOLVERS = (*ODE_METHODS, "sde", "bns")
BNS_INITS = ("euler", "midpoint")  # classical solvers a BNS solver starts from
OPTIMIZERS = ("lbfgs", "adam")  # D-Flow (msdf.flow.dflow)
FRAMES = ("fit", "unit")  # how msdf complete maps the observed points to the unit frame
CONDITIONS = ("class", "text", "none")  # flow-model conditioning
DATASET_FORMATS = ("shapenet", "modelnet", "objaverse", "folder", "list")  # msdf.data.readers
BACKENDS = ("local", "ray")  # msdf.data.backends
# Sampling of msdf generate / evaluate (msdf.flow.sampler.FlowSampler.sample). Restart passes (0 = off), re-noise
# time, NFE per pass; temperature tau of the source noise x_0 = tau * eps (1 = the distribution the model was trained
# from). 3 passes to t = 0.6 were the best balance of bench/bench_generation_quality.py on cpu-small models: a third
# of the components of plain sampling, higher wholeness, the same overall class accuracy, for 24 more NFE (on the
# cpu-medium demo model at tau = 1: 7 components against 9, class accuracy 97.9% against 95.1%). On cpu-small
# tau = 0.9 helped a little; on the cpu-medium demo model (bench/bench_sampling.py, docs/benchmarks.md
# #sampling-medium) every temperature below 1 drew more stray grids and less whole shapes (0.7 -> 0.9 -> 1 -> 1.1:
# median stray rows 69.5 -> 42 -> 36 -> 26), so the default samples the trained distribution.
RESTART_DEFAULTS = (3, 0.6, 8)
SOLVER_DEFAULT, NFE_DEFAULT = "midpoint", 32  # the main solve of msdf generate / evaluate and of the demo
# eta of --solver sde (msdf.flow.stochastic; 0 = the Euler ODE). Not the default solver: on three 15-minute
# trainings it was no more whole than the midpoint ODE (docs/benchmarks.md#sampling-sde); eta 1 without restarts was
# as whole as the default at 32 NFE instead of 56 on the demo's model, eta 2 less whole.
SDE_NOISE_DEFAULT = 1.0
TEMPERATURE_DEFAULT = 1.0
GUIDANCE_DEFAULT = 2.0  # classifier-free guidance weight w (msdf.flow.model forward_with_cfg; 1 = conditional alone)
# Times t at which the guidance weight applies (msdf.flow.sampler.FlowSampler.with_guidance_interval; t = 0 noise, 1
# data): the conditional velocity alone after t = 0.8. On three 15-minute trainings (bench/bench_sampling.py,
# docs/benchmarks.md#guidance-interval) it made samples more whole than guidance at every time (median wholeness
# +0.013 to +0.022), with class accuracy and 1-NNA within a few samples (better on two, worse on one), at fewer
# model evaluations.
GUIDANCE_INTERVAL_DEFAULT = (0.0, 0.8)
# Grid repulsion while sampling (msdf.flow.repulsion; strength lambda, 0 = off; radius r in mean half-widths). On two
# 15-minute cpu-medium trainings (bench/bench_sampling.py, docs/benchmarks.md#repulsion) strength 4 at radius 1.3 made
# samples more whole (median wholeness 0.898 against 0.886 and 0.905 against 0.877) with fewer stray grids (26
# against 28, 25 against 39.5), class accuracy 1 sample higher on one and 2 lower on the other, 1-NNA within 1 point.
REPULSION_DEFAULT = 4.0
REPULSION_RADIUS_DEFAULT = 1.3
# Grid alignment while sampling (msdf.flow.alignment; strength lambda, 0 = off): each grid's centre registered to its
# neighbours' field along the normal. Off: at strength 16 on the two trainings of the repulsion
# (bench/bench_sampling.py, docs/benchmarks.md#alignment) median wholeness 0.889 against 0.898 and 0.880 against
# 0.905, sampling 21-33% slower.
ALIGNMENT_DEFAULT = 0.0
