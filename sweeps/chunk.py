"""One chunk of a sweep, worker side: train its networks and build its store tables.

:func:`compute_chunk` runs wherever the chunk is sent (a joblib worker thread or
process, a Dask worker) and returns compact arrays; the driver turns them into
the network and curve tables (:func:`network_table`, :func:`curve_table`) and
alone writes the store.  Which level owns the cores: the workers.  A chunk
initializes and trains its networks on the calling thread (``parallel=False``),
so ``jobs`` workers use ``jobs`` cores and neither numba nor the kernels add
threads of their own.
"""

from __future__ import annotations

import functools
import time

import numpy as np
import pandas as pd
import pyarrow as pa

import kernels

from . import levels, plan
from .spec import Spec, load_spec

__all__ = ["compute_chunk", "initial_params", "network_table", "curve_table"]


def compute_chunk(spec_data: dict, start: int, stop: int, device: str = "cpu",
                  placement: dict | None = None) -> dict[str, np.ndarray]:
    """Train networks ``start .. stop-1`` of a spec; return compact arrays (worker side).

    Everything runs on the calling thread: no thread pool is started, and numba's
    threading layer is never touched (its thread count is not read or set).
    ``placement``: a refined run's layout of the chunk (:func:`sweeps.levels.placement`),
    returned with the results.
    """
    spec = load_spec(spec_data)
    cols = _columns(spec, start, stop, placement)
    X, Y = kernels.tasks.by_name(str(cols["task"][0]))
    p = initial_params(spec, cols)
    t0 = time.perf_counter()
    r = kernels.train(p, X, Y, lr=cols["lr"],
                      momentum=cols["momentum"], epochs=spec.epochs,
                      activation=str(cols["activation"][0]), loss=str(cols["loss"][0]),
                      record_every=spec.record_every, target_error=spec.target_error,
                      parallel=False, device=device)
    out = {"start": start, "stop": stop, "seconds": time.perf_counter() - t0,
           "loss": r.loss, "converged_epoch": r.converged_epoch, "outcome": r.outcome,
           "outputs": r.outputs, "curve": r.curve, "curve_epochs": r.curve_epochs}
    if placement is not None:
        out["placement"] = placement
    return out


def _columns(spec: Spec, start: int, stop: int, placement: dict | None) -> dict[str, np.ndarray]:
    """Return the columns of networks ``start .. stop-1`` (a refined spec: level 0 by default)."""
    if spec.refine is None:
        return plan.network_columns(spec, start, stop)
    if placement is None:
        placement = levels.placement(spec, {"networks": [0, None]}, spec.refine.level0_keys(), 0,
                                     start, stop)
    return levels.columns(spec, np.arange(start, stop, dtype=np.int64), placement)


def initial_params(spec: Spec, cols: dict[str, np.ndarray]) -> kernels.Params:
    """Return the initial parameters of the networks of ``cols`` (one task and width)."""
    X, _ = kernels.tasks.by_name(str(cols["task"][0]))
    dtype = np.dtype(spec.dtype)
    n, D, H = len(cols["network"]), X.shape[1], int(cols["hidden"][0])
    W1, b1, W2, b2 = (np.empty((n, D, H), dtype), np.empty((n, H), dtype),
                      np.empty((n, H), dtype), np.empty(n, dtype))
    # one initialization call per (scheme, scale) present in the chunk
    init_idx = np.unique(cols["init"], return_inverse=True)
    scale_idx = np.unique(cols["init_scale"], return_inverse=True)
    combo = init_idx[1] * len(scale_idx[0]) + scale_idx[1]
    for k in np.unique(combo):
        idx = np.flatnonzero(combo == k)
        scheme = str(init_idx[0][k // len(scale_idx[0])])
        scale = float(scale_idx[0][k % len(scale_idx[0])])
        q = kernels.init_params(cols["seed"][idx], n_inputs=D, n_hidden=H, scheme=scheme,
                                scale=scale, dtype=dtype, parallel=False)
        W1[idx], b1[idx], W2[idx], b2[idx] = q.arrays()
    p = kernels.Params(W1, b1, W2, b2)
    for name, value in spec.init_values.items():  # fixed, then per-network (slice) values
        p.get(name)[:] = value
    for name in [*spec.param_axes, *(spec.sample.param_axes if spec.sample else ())]:
        p.get(name)[:] = cols[name]
    return p


def network_table(spec: Spec, result: dict) -> pd.DataFrame:
    """Return the network rows of one computed chunk, in the store's column order."""
    cols = _columns(spec, result["start"], result["stop"], result.get("placement"))
    n = result["stop"] - result["start"]
    data = {"network": cols["network"], "cell": cols["cell"]}
    # names are stored dictionary-encoded (pandas: categorical); sampled axes and the design
    # point (or a refined run's level, ix, iy) after the grid's axes; task after them all
    sampled = ([*spec.sample.names, "point"] if spec.sample else
               ["level", "ix", "iy"] if spec.refine else [])
    for axis in [*(a for a in spec.grid if a != "task"), *sampled, "task"]:
        values = cols[axis]
        data[axis] = (_categorical(values, list(spec.grid[axis]))
                      if values.dtype.kind in "OU" else values)
    data["replicate"] = cols["replicate"]
    data["seed"] = cols["seed"]
    data["epochs"] = np.full(n, spec.epochs, np.int64)
    data["target_error"] = np.full(n, spec.target_error)
    data["final_loss"] = result["loss"].astype(np.float64)
    data["converged_epoch"] = result["converged_epoch"]
    data["outcome"] = _categorical(np.asarray(result["outcome"]), list(kernels.OUTCOMES))
    outputs = result["outputs"]
    for s in range(max(len(kernels.tasks.by_name(t)[1]) for t in spec.tasks)):
        # a task with fewer samples than the run's largest has NaN in the extra columns
        data[f"out_{s}"] = (outputs[:, s].astype(np.float64) if s < outputs.shape[1]
                            else np.full(n, np.nan))
    return pd.DataFrame(data)  # in one piece: a column added at a time costs a copy each


def _categorical(values: np.ndarray, categories: list) -> pd.Categorical:
    """Return ``pd.Categorical(values, categories)`` from one comparison per category.

    pandas would convert every value to its string type and hash it (three fifths
    of the time it took to build a chunk's network table); a grid has few names.
    """
    codes = np.full(len(values), -1, dtype=np.int64)  # -1: not a category (NaN)
    for code, name in enumerate(categories):
        codes[values == name] = code
    return pd.Categorical.from_codes(codes, dtype=_categories(tuple(categories)))


@functools.lru_cache(maxsize=256)
def _categories(names: tuple) -> pd.CategoricalDtype:
    """Return the categorical dtype of ``names`` (made once: pandas checks them each time)."""
    return pd.CategoricalDtype(list(names))


def curve_table(result: dict) -> pa.Table:
    """Return the recorded curves of one chunk: ``network`` and ``loss_<epoch>`` columns.

    The losses keep the run's dtype (float32 runs store float32 curves: half the
    bytes to encode and write, nothing lost).  An Arrow table built column by column
    from the curve (no pandas frame on the way: converting one took as long as
    writing the Parquet file).
    """
    columns = {"network": np.arange(result["start"], result["stop"], dtype=np.int64)}
    by_epoch = np.ascontiguousarray(result["curve"].T)
    columns.update((f"loss_{e}", row) for e, row in zip(result["curve_epochs"], by_epoch,
                                                         strict=True))
    return pa.table(columns)
