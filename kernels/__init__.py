"""Compiled kernels that train populations of tiny 2-layer networks at once.

>>> import numpy as np, kernels
>>> X, Y = kernels.tasks.xor()
>>> p = kernels.init_params(np.arange(10_000), n_inputs=2, n_hidden=2)
>>> r = kernels.train(p, X, Y, lr=1.0, epochs=2000)
>>> rate = (r.converged_epoch >= 0).mean()

``kernels`` imports nothing from
``sweeps`` or ``analysis``.
"""

from __future__ import annotations

from . import config, tasks
from ._types import OUTCOMES, Params, TrainResult, param_names, parse_param_name
from .initialization import SCHEMES, init_params
from .training import (
    ACTIVATIONS,
    DEVICES,
    LOSSES,
    cuda_available,
    forward,
    gradients,
    losses,
    record_epochs,
    train,
    warmup,
)

__version__ = "0.1.0"

#: Which arithmetic the kernels compute, bumped whenever a change alters any bit of
#: their results (2: exp's multiply-adds fused).  A run records it, and a resume
#: under other numerics is refused: its chunks would mix two arithmetics.
NUMERICS = 2

__all__ = [
    "ACTIVATIONS",
    "DEVICES",
    "LOSSES",
    "NUMERICS",
    "OUTCOMES",
    "SCHEMES",
    "Params",
    "TrainResult",
    "config",
    "cuda_available",
    "forward",
    "gradients",
    "init_params",
    "losses",
    "param_names",
    "parse_param_name",
    "record_epochs",
    "tasks",
    "train",
    "warmup",
]
