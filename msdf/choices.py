"""The closed sets of names the command line offers (``choices=``) and the library checks against, and the defaults
the command line and the library share.

Torch-free on purpose: the ``msdf`` sub-commands build their parsers from these tuples without importing the modules
that implement them, and those modules import the same tuples, so the two cannot drift apart.
"""
from __future__ import annotations

DEVICES = ("cpu", "cuda", "auto")  # "auto": msdf.device.torch_device picks cuda when available
DECODE_METHODS = ("mc", "visco")  # msdf.decoder: marching cubes | VisCo reconstruction
MESH_FORMATS = ("glb", "obj", "ply", "stl")  # mesh files written by generate / complete
ODE_METHODS = ("euler", "midpoint", "rk4", "dopri5")  # msdf.flow.solvers
SOLVERS = (*ODE_METHODS, "bns")  # plus the distilled few-step solver (msdf.flow.bns)
BNS_INITS = ("euler", "midpoint")  # classical solvers a BNS solver starts from
OPTIMIZERS = ("lbfgs", "adam")  # D-Flow (msdf.flow.dflow)
FRAMES = ("fit", "unit")  # how msdf complete maps the observed points to the unit frame
CONDITIONS = ("class", "text", "none")  # flow-model conditioning
DATASET_FORMATS = ("shapenet", "modelnet", "objaverse", "folder", "list")  # msdf.data.readers
BACKENDS = ("local", "ray")  # msdf.data.backends
# Restart sampling of msdf generate / evaluate (msdf.flow.sampler.Restart): passes (0 = off), re-noise time, NFE per
# pass. 3 passes to t = 0.4 were the best setting of bench/bench_generation_quality.py (opt-in: they cost class
# accuracy, and the recorded demo run samples without them).
RESTART_DEFAULTS = (0, 0.4, 8)
# Sampling temperature of msdf generate / evaluate (msdf.flow.sampler.FlowSampler.sample): the source noise is
# x_0 = tau * eps; 1 samples the distribution the model was trained from.
TEMPERATURE_DEFAULT = 1.0
