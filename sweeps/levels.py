"""The levels of a refined run: their networks, chunks, manifest records and decisions.

A refined run (a spec with ``[refine]``, see :mod:`sweeps.refine`) trains level 0,
decides level 1's points from the stored results, trains them, and so on, in one
run directory.  Networks are numbered in the order they are trained: level ``l``
holds networks ``offset_l ..``, ordered by combination of the other grid axes
(in grid order, the first slowest), then point (finest-grid key ``ix * My + iy``,
ascending), then replicate::

    network = offset_l + (combo * P_l + point) * R + replicate,   cell = network // R

The kernel axes come first among the other axes, so each kernel group of a level is
one contiguous range, cut into chunks as a grid's is.  The manifest's ``refine``
entry records, per decided level, its point count, the SHA-256 of its points
(:func:`sweeps.refine.points_digest`), its network range and its chunk range; the
chunk table and ``n_networks`` grow as levels are decided.  A resumed run decides
every level again from the stored results and refuses a manifest whose record
differs (:func:`check_level`).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from . import plan, store
from .refine import labels, points_digest, refine_points
from .spec import KERNEL_AXES, Spec

__all__ = ["other_axes", "level_chunks", "record", "manifest_entry", "check_level",
           "chunk_range", "placement", "columns", "level_labels", "next_points", "append_level"]


def other_axes(spec: Spec) -> list[str]:
    """Return the grid axes other than the refined two, in grid order."""
    return [a for a in spec.grid if a not in spec.refine.axes]


def _n_combos(spec: Spec) -> tuple[int, int]:
    """Return the combinations of the other axes, and those within one kernel group."""
    other = other_axes(spec)
    total = math.prod(len(spec.grid[a]) for a in other)
    per_group = math.prod(len(spec.grid[a]) for a in other[KERNEL_AXES:])
    return total, per_group


def level_chunks(spec: Spec, n_points: int, offset: int, chunk_size: int) -> list[list[int]]:
    """Return the chunk ranges ``[start, stop]`` of a level of ``n_points`` points."""
    total, per_group = _n_combos(spec)
    group = per_group * n_points * spec.replicates
    out = []
    if group == 0:  # an empty level: nothing was refined
        return out
    for g0 in range(offset, offset + total * n_points * spec.replicates, group):
        for start in range(g0, g0 + group, chunk_size):
            out.append([start, min(start + chunk_size, g0 + group)])
    return out


def record(spec: Spec, keys: np.ndarray, offset: int, first_chunk: int, chunk_size: int
           ) -> tuple[dict, list[list[int]]]:
    """Return a level's manifest record and its chunk ranges."""
    total, _ = _n_combos(spec)
    n = total * len(keys) * spec.replicates
    chunks = level_chunks(spec, len(keys), offset, chunk_size)
    return ({"points": len(keys), "digest": points_digest(keys), "networks": [offset, offset + n],
             "chunks": [first_chunk, first_chunk + len(chunks)]}, chunks)


def manifest_entry(spec: Spec, chunk_size: int) -> tuple[dict, list[list[int]]]:
    """Return a new refined run's ``refine`` manifest entry (level 0 decided) and its chunks."""
    r = spec.refine
    rec, chunks = record(spec, r.level0_keys(), 0, 0, chunk_size)
    return {"levels": r.levels, "factor": r.factor, "axes": list(r.axes),
            "resolution": list(r.finest), "decided": [rec]}, chunks


def check_level(run_dir, manifest: dict, level: int, rec: dict, chunks: list[list[int]]
                ) -> None:
    """Refuse a manifest whose record of ``level`` is not ``rec`` (decided again from the results).

    Raises
    ------
    StoreError
        One line naming the level and the fix.
    """
    c0, c1 = rec["chunks"]
    if manifest["refine"]["decided"][level] != rec or manifest["chunks"][c0:c1] != chunks:
        raise store.StoreError(
            f"{Path(run_dir) / store.MANIFEST} is damaged (level {level}'s points differ "
            f"from those its stored results decide); start the run over with "
            f"`{store.resume_command(run_dir, force=True)}`")


def chunk_range(manifest: dict, level: int) -> tuple[int, int]:
    """Return the chunk indices ``[first, stop)`` of a decided level."""
    return tuple(manifest["refine"]["decided"][level]["chunks"])


def placement(spec: Spec, rec: dict, keys: np.ndarray, level: int, start: int, stop: int
              ) -> dict:
    """Return what a worker needs to build networks ``start .. stop-1`` of a level.

    ``{"level": l, "combo": ..., "ix": ..., "iy": ...}`` (int64 arrays, one entry per
    network): the combination of the other axes and the finest-grid indices.
    """
    local = np.arange(start, stop, dtype=np.int64) - rec["networks"][0]
    slot = local // spec.replicates
    point = slot % len(keys)
    My = spec.refine.finest[1]
    return {"level": level, "combo": slot // len(keys), "ix": keys[point] // My,
            "iy": keys[point] % My}


def columns(spec: Spec, ids: np.ndarray, place: dict) -> dict[str, np.ndarray]:
    """Return the columns of refined networks ``ids`` (as :func:`sweeps.plan.columns_of`).

    Adds ``level``, ``ix`` and ``iy`` (int64); the refined axes take the finest grid's
    values at ``ix`` and ``iy``.
    """
    ids = np.asarray(ids, dtype=np.int64)
    replicate = ids % spec.replicates
    cols = {"network": ids, "cell": ids // spec.replicates}
    other = other_axes(spec)
    index = np.unravel_index(place["combo"], [len(spec.grid[a]) for a in other])
    at = dict(zip(other, index, strict=True))
    x, y = spec.refine.axes
    for axis in spec.grid:
        if axis == x:
            cols[axis] = spec.refine.values(x)[place["ix"]]
        elif axis == y:
            cols[axis] = spec.refine.values(y)[place["iy"]]
        else:
            cols.update(plan.axis_values(axis, spec.grid[axis], at[axis]))
    cols["level"] = np.full(len(ids), place["level"], dtype=np.int64)
    cols["ix"] = np.asarray(place["ix"], dtype=np.int64)
    cols["iy"] = np.asarray(place["iy"], dtype=np.int64)
    cols["replicate"] = replicate
    cols["seed"] = (np.int64(spec.seed) << 32) + replicate
    return cols


def level_labels(spec: Spec, run_dir, manifest: dict, level: int) -> np.ndarray:
    """Return a trained level's labels, one row per point, one column per combination x replicate.

    Read from the stored parts (each checked against the manifest's SHA-256).
    """
    rec = manifest["refine"]["decided"][level]
    run = store.Run(run_dir)
    run.manifest = manifest
    c0, c1 = rec["chunks"]
    df = run.networks(columns=["network", "converged_epoch"], chunks=list(range(c0, c1)))
    a, b = rec["networks"]
    if len(df) != b - a or (len(df) and (df["network"].iloc[0] != a
                                         or df["network"].iloc[-1] != b - 1)):
        raise store.StoreError(f"{Path(run_dir) / store.MANIFEST} is damaged (level "
                               f"{level}'s parts do not hold networks {a} .. {b - 1}); start "
                               f"the run over with `{store.resume_command(run_dir, force=True)}`")
    lab = labels(df["converged_epoch"].to_numpy())
    total, _ = _n_combos(spec)
    R, P = spec.replicates, rec["points"]
    return lab.reshape(total, P, R).transpose(1, 0, 2).reshape(P, total * R)


def next_points(spec: Spec, level: int, keys: list[np.ndarray], rows: list[np.ndarray]
                ) -> np.ndarray:
    """Return level ``level + 1``'s points from every earlier level's points and labels."""
    return refine_points(spec.refine, level, np.concatenate(keys), np.concatenate(rows))


def append_level(spec: Spec, manifest: dict, keys: np.ndarray) -> dict:
    """Append a newly decided level to the manifest (in memory): its record, chunks, networks."""
    rec, chunks = record(spec, keys, manifest["n_networks"], len(manifest["chunks"]),
                         manifest["chunk_size"])
    manifest["refine"]["decided"].append(rec)
    manifest["chunks"].extend(chunks)
    manifest["n_networks"] = rec["networks"][1]
    return rec
