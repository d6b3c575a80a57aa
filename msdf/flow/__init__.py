"""Flow matching on M-SDF matrices (issue 5).

Modules, one concept each:

- :mod:`msdf.flow.path` -- the CondOT probability path ``x_t = (1 - t) x0 + t x1`` (optionally with staggered clocks
  for the geometry and value columns) and its time samplers.
- :mod:`msdf.flow.coupling` -- multisample flow matching: exact OT pairing of noise and data within a batch.
- :mod:`msdf.flow.model` -- the DiT-style, permutation-equivariant set transformer (``FlowTransformer``).
- :mod:`msdf.flow.condition` -- the ``Condition`` batch (class labels / text embeddings / null mask).
- :mod:`msdf.flow.text` -- the frozen offline sentence encoder and the caption-embedding cache.
- :mod:`msdf.flow.dataset` -- loading a store into memory, train/validation split, the in-memory ``ArrayStore``.
- :mod:`msdf.flow.normalizer` -- per-column statistics, applied in training and undone at sampling.
- :mod:`msdf.flow.ema` -- exponential moving average of the weights.
- :mod:`msdf.flow.checkpoint` -- the run-directory format: checkpoints, checksums, exact resume.
- :mod:`msdf.flow.sampler` -- ``FlowSampler``: a trained run's velocity field, conditions and the one sampling path.
- :mod:`msdf.flow.config` -- dataclass config, YAML files and presets.
- :mod:`msdf.flow.trainer` -- the training loop (single process or torchrun DDP).
- :mod:`msdf.flow.solvers` -- Euler / midpoint / RK4 / dopri5 ODE solvers over any velocity closure.
- :mod:`msdf.flow.bns` -- learned Bespoke Non-Stationary few-step solvers.
- :mod:`msdf.flow.dflow` -- D-Flow: controlled generation by optimising the source noise through the ODE.

Time convention: ``t = 0`` is Gaussian noise, ``t = 1`` is data; samplers integrate ``dx/dt = u(x, t)`` from 0 to 1.
"""
