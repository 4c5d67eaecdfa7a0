"""Expansion of a spec into cells, networks and chunks; deterministic, independent of chunking.

Cells are the product of the grid axes in :data:`sweeps.spec.AXES` order, then
the parameter axes in the spec's order, then the points of a ``[sample]`` design
(the first axis varies slowest, the design point fastest); cell ``c`` holds
networks ``c * R .. c * R + R - 1`` for R replicates.  Replicate ``r`` of every
cell uses the seed ``(spec.seed << 32) + r``, so it starts from the same base
draw in every cell and at every design point (comparisons are paired).  A design
point's values are looked up in the whole design, drawn once from the spec alone
(:func:`sweeps.design.design_values`).  The axes that change the compiled kernel
(task, hidden, activation, loss) come first, so each kernel's networks form one
contiguous range of ids, which is cut into chunks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .spec import KERNEL_AXES, Spec

__all__ = ["Chunk", "make_chunks", "count_chunks", "network_columns", "default_chunk_size",
           "networks_per_group", "MAX_CHUNKS"]

#: The most chunks a run may have: the manifest lists every chunk, and is rewritten
#: after each one.  Default chunk sizes stay far below it (2**32 networks, the most a
#: spec holds, make 2**18 chunks of about 16,384, and at least 256 networks each).
MAX_CHUNKS = 1_000_000


@dataclass(frozen=True)
class Chunk:
    """Networks ``start .. stop - 1``, all with one (task, hidden, activation, loss)."""

    index: int
    start: int
    stop: int


def cores() -> int:
    """Return the cores this process may use: the default number of workers.

    joblib's count: the CPU affinity, a container's CPU quota and ``LOKY_MAX_CPU_COUNT``
    taken into account (``os.cpu_count()`` is the machine's, whatever of it this
    process may use).
    """
    import joblib  # (0.16 s to import: only when asked)

    return max(1, int(joblib.cpu_count()))


def default_chunk_size(spec: Spec, jobs: int) -> int:
    """About eight chunks per worker (so no worker idles long at the end), 256 to 16,384 each.

    A kernel group larger than that is cut into near-equal chunks (the last one a few
    networks short), as many as a multiple of the workers, so that its last chunks
    end together, unless that would make them smaller than 256 networks.  10^6
    networks on 2 workers in 61 chunks of 16,384 and one of 576 left a worker idle
    for a chunk's training at the end (1.6% of the run's wall time); 62 chunks of
    16,130 (the last 16,070) leave none.
    """
    size = int(np.clip(-(-spec.n_networks // (8 * jobs)), 256, 16_384))
    per_group = networks_per_group(spec)
    if per_group <= size:
        return size
    chunks = -(-per_group // size)
    even = -(-per_group // (-(-chunks // jobs) * jobs))
    return even if even >= 256 else size


def networks_per_group(spec: Spec) -> int:
    """Return the networks of one kernel group (one task, hidden, activation, loss)."""
    per_group = spec.replicates * (spec.sample.n if spec.sample else 1)
    for axis in list(spec.grid)[KERNEL_AXES:]:
        per_group *= len(spec.grid[axis])
    return per_group


def count_chunks(spec: Spec, chunk_size: int) -> int:
    """Return how many chunks :func:`make_chunks` makes, without making them."""
    per_group = networks_per_group(spec)
    return spec.n_networks // per_group * -(-per_group // chunk_size)


def make_chunks(spec: Spec, chunk_size: int) -> list[Chunk]:
    """Cut every kernel group into chunks of at most ``chunk_size`` networks.

    Raises
    ------
    ValueError
        If that makes more than :data:`MAX_CHUNKS` chunks (checked before any is made).
    """
    n = count_chunks(spec, chunk_size)
    if n > MAX_CHUNKS:
        raise ValueError(f"chunk size {chunk_size} cuts {spec.n_networks:,} networks into "
                         f"{n:,} chunks, more than {MAX_CHUNKS:,}; use a larger chunk size")
    per_group = networks_per_group(spec)
    chunks = []
    for g0 in range(0, spec.n_networks, per_group):
        for start in range(g0, g0 + per_group, chunk_size):
            chunks.append(Chunk(len(chunks), start, min(start + chunk_size, g0 + per_group)))
    return chunks


def axis_values(axis: str, values, idx: np.ndarray, repeats: np.ndarray | None = None
                ) -> dict[str, np.ndarray]:
    """Return an axis's column at the value indices ``idx``; a named axis also its codes.

    ``repeats``: each index stands for that many consecutive networks.  The codes
    (``"<axis>:code"``, the indices) let the store write a named column without
    comparing strings: comparing a chunk's 16,384 names with each of an axis's names
    took 0.1 ms per name, half the cost of its network table.
    """
    values = np.asarray(values)
    out = {axis: values[idx]}
    if values.dtype.kind in "OU":
        out[f"{axis}:code"] = idx
    return out if repeats is None else {k: np.repeat(v, repeats) for k, v in out.items()}


def network_columns(spec: Spec, start: int, stop: int) -> dict[str, np.ndarray]:
    """Return ids, cells, replicates, seeds and every axis value of networks start .. stop-1.

    As :func:`columns_of`, each cell's values found once and repeated over its
    networks: unravelling and indexing every network's cell took three quarters of a
    chunk's columns (16,384 networks, 8 axes: 0.68 ms against 0.27 ms).
    """
    if stop <= start:
        return columns_of(spec, np.arange(start, stop, dtype=np.int64))
    first, last = start // spec.replicates, (stop - 1) // spec.replicates
    bounds = np.arange(first, last + 2, dtype=np.int64) * spec.replicates
    repeats = np.diff(np.clip(bounds, start, stop))
    return _columns(spec, np.arange(start, stop, dtype=np.int64),
                    np.arange(first, last + 1, dtype=np.int64), repeats)


def columns_of(spec: Spec, ids: np.ndarray) -> dict[str, np.ndarray]:
    """Return :func:`network_columns` for the networks ``ids`` (int64, any order).

    A sampled spec adds each sampled axis (float64, design order) and ``point``
    (int64, the design point).  A named axis (``init``, ``activation``, ...) also
    gives its values' indices into the spec's list, as ``"<axis>:code"``
    (:func:`axis_values`).
    """
    ids = np.asarray(ids, dtype=np.int64)
    return _columns(spec, ids, ids // spec.replicates, None)


def _columns(spec: Spec, ids: np.ndarray, cells: np.ndarray, repeats: np.ndarray | None
             ) -> dict[str, np.ndarray]:
    """Return the columns of networks ``ids`` from their cells.

    ``cells``: each network's cell, or with ``repeats`` the distinct cells of
    consecutive ``ids``, each repeated over that many networks.
    """
    replicate = ids % spec.replicates
    cols = {"network": ids,
            "cell": cells if repeats is None else np.repeat(cells, repeats)}
    shape = [len(v) for v in spec.grid.values()] + ([spec.sample.n] if spec.sample else [])
    index = np.unravel_index(cells, shape)
    for axis, idx in zip(spec.grid, index, strict=False):
        cols.update(axis_values(axis, spec.grid[axis], idx, repeats))
    if spec.sample is not None:
        point = index[-1].astype(np.int64)
        point = point if repeats is None else np.repeat(point, repeats)
        values = spec.sample.values(spec.seed)
        for axis in spec.sample.names:
            cols[axis] = values[axis][point]
        cols["point"] = point
    cols["replicate"] = replicate
    cols["seed"] = (np.int64(spec.seed) << 32) + replicate
    return cols
