"""One chunk of a sweep, worker side: train its networks and encode its store parts.

:func:`compute_chunk` runs wherever the chunk is sent (a joblib worker thread or
process, a Dask worker), builds the chunk's network and curve tables
(:func:`network_table`, :func:`curve_table`) from the columns it trained on, and
returns them encoded as Parquet; the driver alone hashes and writes them.  The
workers, not the driver, do the encoding: it is spread over every core, the
columns are computed once, and what travels back from a process or a Dask worker
is compressed.  Which level owns the cores: the workers.  A chunk
initializes and trains its networks on the calling thread (``parallel=False``),
so ``jobs`` workers use ``jobs`` cores and neither numba nor the kernels add
threads of their own.
"""

from __future__ import annotations

import functools
import time

import numpy as np
import pyarrow as pa

import kernels

from . import levels, plan, store
from .spec import Spec, load_spec

__all__ = ["compute_chunk", "initial_params", "network_table", "curve_table"]

_MAX_RUNS = 64  # more runs of one (scheme, scale) than this: grouped by sorting instead


def compute_chunk(spec_data: dict, start: int, stop: int, device: str = "cpu",
                  placement: dict | None = None) -> dict:
    """Train networks ``start .. stop-1`` of a spec; return its store parts (worker side).

    Returns ``start``, ``stop``, ``seconds`` (training alone) and ``parts``: the
    Parquet bytes of the ``"networks"`` and ``"curves"`` tables.  Everything runs on
    the calling thread: no thread pool is started, and numba's threading layer is
    never touched (its thread count is not read or set).  ``placement``: a refined
    run's layout of the chunk (:func:`sweeps.levels.placement`), returned with it.
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
    seconds = time.perf_counter() - t0
    result = {"start": start, "stop": stop, "loss": r.loss,
              "converged_epoch": r.converged_epoch, "outcome": r.outcome,
              "outcome_code": r.outcome_code,
              "outputs": r.outputs, "curve": r.curve, "curve_epochs": r.curve_epochs}
    out = {"start": start, "stop": stop, "seconds": seconds,
           "parts": {"networks": store.table_bytes(network_table(spec, result, cols)),
                     "curves": store.table_bytes(curve_table(result))}}
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
    init, scale = cols["init"], cols["init_scale"]
    # one initialization call per (scheme, scale): a chunk runs in cell order, so they
    # come in runs, usually a few; found by comparing neighbours (np.unique sorts)
    scheme = cols.get("init:code", init)  # indices compare faster than names
    starts = np.flatnonzero(np.r_[True, (scheme[1:] != scheme[:-1]) | (scale[1:] != scale[:-1])])
    if len(starts) <= _MAX_RUNS:
        groups = [slice(a, b) for a, b in zip(starts, [*starts[1:], n], strict=True)]
    else:
        schemes = np.unique(init, return_inverse=True)[1].ravel()
        scales = np.unique(scale, return_inverse=True)[1].ravel()
        combos = np.unique(schemes * (scales.max() + 1) + scales, return_inverse=True)[1]
        groups = [np.flatnonzero(combos.ravel() == k) for k in range(combos.max() + 1)]
    parts = [(g, kernels.init_params(cols["seed"][g], n_inputs=D, n_hidden=H,
                                     scheme=str(init[g][0]), scale=float(scale[g][0]),
                                     dtype=dtype, parallel=False)) for g in groups]
    if len(parts) == 1:
        W1, b1, W2, b2 = parts[0][1].arrays()
    else:
        W1, b1, W2, b2 = (np.empty((n, D, H), dtype), np.empty((n, H), dtype),
                          np.empty((n, H), dtype), np.empty(n, dtype))
        for g, q in parts:
            W1[g], b1[g], W2[g], b2[g] = q.arrays()
    p = kernels.Params(W1, b1, W2, b2)
    for name, value in spec.init_values.items():  # fixed, then per-network (slice) values
        p.get(name)[:] = value
    for name in [*spec.param_axes, *(spec.sample.param_axes if spec.sample else ())]:
        p.get(name)[:] = cols[name]
    return p


def network_table(spec: Spec, result: dict, cols: dict[str, np.ndarray] | None = None
                  ) -> pa.Table:
    """Return the network rows of one computed chunk, in the store's column order.

    ``cols``: the chunk's columns (:func:`_columns`), when the caller has them.  An
    Arrow table built column by column, names dictionary-encoded: through a pandas
    frame it took twice as long, and the Parquet file is the same but for pandas's
    schema note (readers get the same frame back from either).
    """
    if cols is None:
        cols = _columns(spec, result["start"], result["stop"], result.get("placement"))
    n = result["stop"] - result["start"]
    data = {"network": cols["network"], "cell": cols["cell"]}
    # sampled axes and the design point (or a refined run's level, ix, iy) after the
    # grid's axes; task after them all
    sampled = ([*spec.sample.names, "point"] if spec.sample else
               ["level", "ix", "iy"] if spec.refine else [])
    for axis in [*(a for a in spec.grid if a != "task"), *sampled, "task"]:
        values = cols[axis]
        data[axis] = (_categorical(values, list(spec.grid[axis]), cols.get(f"{axis}:code"))
                      if values.dtype.kind in "OU" else values)
    data["replicate"] = cols["replicate"]
    data["seed"] = cols["seed"]
    data["epochs"] = np.full(n, spec.epochs, np.int64)
    data["target_error"] = np.full(n, spec.target_error)
    data["final_loss"] = result["loss"].astype(np.float64)
    data["converged_epoch"] = result["converged_epoch"]
    data["outcome"] = _categorical(np.asarray(result["outcome"]), list(kernels.OUTCOMES),
                                   result.get("outcome_code"))
    outputs = result["outputs"]
    for s in range(max(len(kernels.tasks.by_name(t)[1]) for t in spec.tasks)):
        # a task with fewer samples than the run's largest has NaN in the extra columns
        data[f"out_{s}"] = (outputs[:, s].astype(np.float64) if s < outputs.shape[1]
                            else np.full(n, np.nan))
    return pa.table(data)


def _categorical(values: np.ndarray, categories: list, codes: np.ndarray | None = None
                 ) -> pa.DictionaryArray:
    """Return ``values`` dictionary-encoded over ``categories`` (not one of them: null).

    ``codes``: the values' indices into ``categories`` where the caller has them (a
    named grid axis, the kernels' outcomes): nothing is compared.  Else one
    comparison per category: hashing every value took three fifths of the time it
    took to build a chunk's network table, and a grid has few names.  Indices are
    int8 below 127 names, as pandas's categorical codes (old and new parts of a run
    share one schema).
    """
    n = len(categories)
    kind = np.int8 if n < 127 else np.int16 if n < 32767 else np.int32
    if codes is not None:
        indices = pa.array(np.asarray(codes).astype(kind, copy=False))
    else:
        found = np.full(len(values), -1, dtype=kind)
        for code, name in enumerate(categories):
            found[values == name] = code
        indices = pa.array(found, mask=found < 0)
    return pa.DictionaryArray.from_arrays(indices, _dictionary(tuple(categories)))


@functools.lru_cache(maxsize=256)
def _dictionary(names: tuple) -> pa.Array:
    """Return the dictionary of ``names`` (made once per run's names)."""
    return pa.array(list(names), pa.large_string())


def curve_table(result: dict) -> pa.Table:
    """Return the recorded curves of one chunk: ``network`` and ``loss_<epoch>`` columns.

    The losses keep the run's dtype (float32 runs store float32 curves: half the
    bytes to encode and write, nothing lost).  An Arrow table built column by column
    from the curve (no pandas frame on the way: converting one took as long as
    writing the Parquet file).
    """
    columns = {"network": np.arange(result["start"], result["stop"], dtype=np.int64)}
    by_epoch = np.ascontiguousarray(result["curve"].T)  # the kernels' layout: no copy
    columns.update((f"loss_{e}", row) for e, row in zip(result["curve_epochs"], by_epoch,
                                                         strict=True))
    return pa.table(columns)
