"""Adaptive refinement of a two-axis slice: the ``[refine]`` and ``[zoom]`` tables, geometry.

A spec over two parameter or continuous axes given as ranges may refine where the
outcome changes::

    [refine]
    levels = 3            # levels 1 .. 3 after the spec's own grid (level 0)
    factor = 2            # each refined cell is split factor x factor
    where = "boundary"    # the rule (the only one)
    axes = ["W1[0,1]", "W2[1]"]   # optional: by default the two linspace/logspace axes

Geometry.  With ``n`` values on an axis, the level-``l`` grid is the plain grid of
``(n - 1) * factor**l + 1`` values over the same range (``linspace``, or
``logspace`` in the exponent); level 0 is the spec's grid.  Every point is named by
its indices ``(ix, iy)`` on the finest grid (level ``L = levels``) and takes that
grid's values, computed as a plain grid of that resolution computes them
(:func:`spaced_values`, the function behind every ``linspace`` and ``logspace``
axis).  With a power-of-two factor (2, 4, ...) the value of a point is bitwise the
same on every level's grid it lies on (``np.linspace`` computes ``i * step +
start``, and dividing the step by a power of two is exact), so level 0 is the
spec's own grid bit for bit.

The rule (``where = "boundary"``).  A level-``l`` cell is the square between four
neighbouring level-``l`` grid points.  After level ``l`` is trained, a cell whose
four corners are trained is refined when their labels differ, for any combination
of the other grid axes and any replicate (one decision for all of them, so each
level is one set of points): the ``factor + 1`` x ``factor + 1`` level-``l + 1``
points of the cell are trained at level ``l + 1``, those not trained already.  The
label of a network (:func:`labels`) is 0 when it did not converge, else the class
``k`` of its epochs to converge ``e`` with ``2**(k-1) <= e + 1 < 2**k``: epochs 0,
1-2, 3-6, 7-14, 15-30, ... (log2 classes), from the stored integer
``converged_epoch`` alone.  A level's points are a pure function of the spec and
the earlier levels' stored results (:func:`refine_points`).
"""

from __future__ import annotations

import functools
import hashlib
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from kernels import parse_param_name

from .errors import SpecError, finite_float, show

__all__ = ["Refine", "Zoom", "RULES", "REFINABLE", "MAX_LEVELS", "MAX_RESOLUTION",
           "parse_refine", "parse_zoom", "slice_axes", "spaced_values", "labels",
           "refine_points", "points_digest"]

#: Refinement rules: ``boundary`` refines a cell whose corners' labels differ.
RULES: tuple[str, ...] = ("boundary",)
#: The named axes a slice may refine (besides the initial parameters).
REFINABLE: tuple[str, ...] = ("init_scale", "momentum", "lr")
#: The most refinement levels.
MAX_LEVELS = 20
#: The most values of an axis's finest grid: its values are held in memory, once.
MAX_RESOLUTION = 2**24 + 1
_KINDS = ("linspace", "logspace")


def spaced_values(kind: str, start: float, stop: float, n: int) -> list[float]:
    """Return the values of a ``linspace`` or ``logspace`` axis, as the grid computes them.

    ``linspace``: ``np.linspace(start, stop, n)``; ``logspace``: ``10.0 ** e`` (Python's
    power, not NumPy's SIMD one, whose last bit differs between CPUs) of those.

    Raises
    ------
    OverflowError
        If a logspace exponent is above 308.
    """
    with np.errstate(all="ignore"):  # an overflowing step gives inf or NaN: the caller checks
        values = [float(v) for v in np.linspace(start, stop, n)]
    if kind == "logspace" and all(math.isfinite(v) for v in values):
        values = [10.0 ** e for e in values]
    return values


@functools.lru_cache(maxsize=16)
def _finest(kind: str, start: float, stop: float, n: int) -> np.ndarray:
    v = np.array(spaced_values(kind, start, stop, n), dtype=np.float64)
    v.setflags(write=False)
    return v


@dataclass(frozen=True)
class Refine:
    """A validated ``[refine]`` table.

    ``axes`` are the two refined axes ``(x, y)``; ``ranges`` maps each to its range
    ``(kind, start, stop, n)`` (``kind`` linspace or logspace, ``n`` level 0's values).
    Without ``axes`` in the table, the refined axes are the two continuous or
    parameter grid axes given as linspace or logspace ranges of several values.
    """

    levels: int
    factor: int
    where: str
    axes: tuple[str, str]
    ranges: dict[str, tuple[str, float, float, int]]

    def resolution(self, level: int) -> tuple[int, int]:
        """Return the values per axis of level ``level``'s grid: ``(n - 1) * factor**level + 1``."""
        return tuple((self.ranges[a][3] - 1) * self.factor ** level + 1
                     for a in self.axes)

    @property
    def finest(self) -> tuple[int, int]:
        """The values per axis of the finest grid (level ``levels``), where ``ix, iy`` index."""
        return self.resolution(self.levels)

    def stride(self, level: int) -> int:
        """Return the step in finest-grid indices between neighbouring level-``level`` points."""
        return self.factor ** (self.levels - level)

    def values(self, axis: str) -> np.ndarray:
        """Return the finest grid's values of a refined axis (read-only float64)."""
        kind, start, stop, n = self.ranges[axis]
        return _finest(kind, start, stop, (n - 1) * self.factor ** self.levels + 1)

    def level0_keys(self) -> np.ndarray:
        """Return the level-0 points as finest-grid keys ``ix * My + iy``, ascending."""
        s, (nx, ny), My = self.stride(0), self.resolution(0), self.finest[1]
        ix, iy = np.meshgrid(np.arange(nx, dtype=np.int64) * s,
                             np.arange(ny, dtype=np.int64) * s, indexing="ij")
        return (ix * My + iy).ravel()

    def to_dict(self) -> dict[str, Any]:
        """Return the table as plain data, with the axes named."""
        return {"levels": self.levels, "factor": self.factor, "where": self.where,
                "axes": list(self.axes)}


@dataclass(frozen=True)
class Zoom:
    """A validated ``[zoom]`` table: where a zoomed slice comes from (it does not change results).

    ``parent`` is the run it zooms into, ``root`` the first slice of the chain; ``x``
    and ``y`` the box ``(low, high)`` on the two axes; ``depth`` the zooms from the
    root (1 for a zoom of the root); ``magnification`` the root's width over this
    box's per axis (in the exponent for a logspace axis).
    """

    parent: str
    root: str
    x: tuple[float, float]
    y: tuple[float, float]
    depth: int
    magnification: tuple[float, float]

    def to_dict(self) -> dict[str, Any]:
        """Return the table as plain data."""
        return {"parent": self.parent, "root": self.root, "x": list(self.x), "y": list(self.y),
                "depth": self.depth, "magnification": list(self.magnification)}


def _int(key: str, value, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SpecError(f"{key} = {show(value)} must be an integer from {low} to {high}")
    return value


def _range_of(raw) -> tuple[str, float, float, int] | None:
    """Return an axis's ``(kind, start, stop, n)`` if the spec gives it as linspace/logspace."""
    if isinstance(raw, dict) and len(raw) == 1 and next(iter(raw)) in _KINDS:
        kind, (start, stop, n) = next(iter(raw.items()))
        return kind, float(start), float(stop), n
    return None


def slice_axes(grid: dict[str, tuple]) -> list[str]:
    """Return the axes of a grid that a slice may be over: continuous or parameter, > 1 value."""
    return [a for a, v in grid.items()
            if (a in REFINABLE or _is_param(a)) and len(v) > 1]


def _is_param(name: str) -> bool:
    try:
        parse_param_name(name)
    except ValueError:
        return False
    return True


def parse_refine(table, grid: dict[str, tuple], raw: dict[str, Any]) -> Refine:
    """Validate a spec's ``[refine]`` table.

    Parameters
    ----------
    table : dict
        The table as read from TOML.
    grid : dict of str to tuple
        The spec's validated grid (canonical axis names).
    raw : dict of str to object
        Each grid axis as the spec gives it (a list or a range table), by canonical name.

    Returns
    -------
    Refine

    Raises
    ------
    SpecError
        With one line naming the key: an unknown key, ``levels`` not 1 .. 20,
        ``factor`` not 2 .. 64, an unknown rule, axes that are ambiguous, not in the
        grid, not continuous or parameter axes, not ``linspace``/``logspace`` ranges
        of two or more values, or a finest grid of more than :data:`MAX_RESOLUTION`
        values or with equal neighbours.
    """
    if not isinstance(table, dict):
        raise SpecError('refine must be a table, e.g. [refine] levels = 3, factor = 2, '
                        'where = "boundary"')
    unknown = [k for k in table if k not in ("levels", "factor", "where", "axes")]
    if unknown:
        raise SpecError(f"refine: unknown key {show(unknown[0])}; keys are levels, factor, "
                        "where, axes")
    if "levels" not in table:
        raise SpecError("refine.levels is missing; give the levels after the grid, e.g. "
                        "levels = 3")
    levels = _int("refine.levels", table["levels"], 1, MAX_LEVELS)
    factor = _int("refine.factor", table.get("factor", 2), 2, 64)
    where = table.get("where", "boundary")
    if not isinstance(where, str) or where not in RULES:
        raise SpecError(f"refine.where = {show(where)} is unknown; use one of {', '.join(RULES)}")
    eligible = slice_axes(grid)
    if "axes" in table:
        names = table["axes"]
        if (not isinstance(names, list) or len(names) != 2
                or not all(isinstance(a, str) for a in names)):
            raise SpecError("refine.axes must name two grid axes, e.g. axes = [\"W1[0,1]\", "
                            "\"W2[1]\"]")
        axes = tuple(a if a in REFINABLE or not _is_param(a) else _canonical(a) for a in names)
        if axes[0] == axes[1]:
            raise SpecError(f"refine.axes names {axes[0]} twice; name two different axes")
        for a in axes:
            if a not in eligible:
                raise SpecError(f"refine.axes: {show(a)} is not a grid axis of a slice; use two "
                                f"of the continuous or parameter axes with more than one value "
                                f"({', '.join(eligible) or 'none here'})")
    else:  # the two ranges among them, or the two axes when there are two
        ranged = [a for a in eligible if _range_of(raw.get(a)) is not None]
        if len(ranged) != 2 and len(eligible) != 2:
            raise SpecError(f"refine: the grid has {len(ranged)} linspace or logspace axes a "
                            f"slice may refine ({', '.join(ranged) or 'none'}); name two with "
                            "axes = [X, Y]")
        axes = tuple(ranged if len(ranged) == 2 else eligible)
    ranges = {}
    for a in axes:
        r = _range_of(raw.get(a))
        if r is None:
            raise SpecError(f"refine: grid.{a} must be a range to refine, "
                            "{ linspace = [start, stop, n] } or { logspace = [...] }")
        kind, start, stop, n = r
        m = (n - 1) * factor ** levels + 1
        if m > MAX_RESOLUTION:
            raise SpecError(f"refine: grid.{a} refined {levels} times by {factor} has {m:,} "
                            f"values, more than {MAX_RESOLUTION:,}; use fewer levels")
        values = _finest(kind, start, stop, m)
        if not np.all(np.isfinite(values)) or np.any(np.diff(values) == 0):
            raise SpecError(f"refine: grid.{a} refined {levels} times has equal neighbouring "
                            "values; use fewer levels or a wider range")
        ranges[a] = (kind, start, stop, n)
    return Refine(levels=levels, factor=factor, where=where, axes=axes, ranges=ranges)


def _canonical(name: str) -> str:
    array, index = parse_param_name(name)
    return array + (f"[{','.join(map(str, index))}]" if index else "")


def parse_zoom(table) -> Zoom:
    """Validate a spec's ``[zoom]`` table (written by ``xorsweep zoom``).

    Raises
    ------
    SpecError
        With one line naming the key.
    """
    if not isinstance(table, dict):
        raise SpecError("zoom must be a table: parent, root, x, y, depth, magnification")
    keys = ("parent", "root", "x", "y", "depth", "magnification")
    unknown = [k for k in table if k not in keys]
    missing = [k for k in keys if k not in table]
    if unknown or missing:
        what = f"unknown key {show(unknown[0])}" if unknown else f"missing key {missing[0]!r}"
        raise SpecError(f"zoom: {what}; keys are {', '.join(keys)}")
    for k in ("parent", "root"):
        if not isinstance(table[k], str) or not table[k]:
            raise SpecError(f"zoom.{k} = {show(table[k])} must be a run name")
    pairs = {}
    for k in ("x", "y", "magnification"):
        v = table[k]
        if not isinstance(v, list) or len(v) != 2:
            raise SpecError(f"zoom.{k} must be a list of two numbers")
        pairs[k] = tuple(finite_float(f"zoom.{k}", b) for b in v)
    for k in ("x", "y"):
        if not pairs[k][0] < pairs[k][1]:
            raise SpecError(f"zoom.{k}: low {pairs[k][0]!r} must be below high {pairs[k][1]!r}")
    depth = _int("zoom.depth", table["depth"], 1, 10_000)
    return Zoom(parent=table["parent"], root=table["root"], x=pairs["x"], y=pairs["y"],
                depth=depth, magnification=pairs["magnification"])


def labels(converged_epoch: np.ndarray) -> np.ndarray:
    """Return each network's label for the boundary rule: 0 not converged, else its log2 class.

    Parameters
    ----------
    converged_epoch : ndarray of int, shape (n,)
        -1 for never.

    Returns
    -------
    ndarray of int8, shape (n,)
        0 where ``converged_epoch < 0``, else the bit length of ``converged_epoch + 1``:
        1 for epoch 0, 2 for 1-2, 3 for 3-6, 4 for 7-14, ...

    Examples
    --------
    >>> labels(np.array([-1, 0, 1, 2, 3, 6, 7, 200])).tolist()
    [0, 1, 2, 2, 3, 3, 4, 8]
    """
    e = np.asarray(converged_epoch, dtype=np.int64)
    powers = np.int64(1) << np.arange(63, dtype=np.int64)  # 1, 2, 4, ..., 2**62
    out = np.searchsorted(powers, e + 1, side="right").astype(np.int8)
    out[e < 0] = 0
    return out


def points_digest(keys: np.ndarray) -> str:
    """Return the SHA-256 of a level's points (finest-grid keys, little-endian int64)."""
    return hashlib.sha256(np.asarray(keys, dtype="<i8").tobytes()).hexdigest()


def refine_points(refine: Refine, level: int, keys: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Return level ``level + 1``'s points: the new points of the cells refined after ``level``.

    Parameters
    ----------
    refine : Refine
    level : int
        The level just trained, 0 .. ``refine.levels - 1``.
    keys : ndarray of int64, shape (n_points,)
        Every point trained at levels 0 .. ``level``, as finest-grid keys
        ``ix * My + iy`` (any order, each once).
    rows : ndarray of int8, shape (n_points, K)
        Each point's labels (:func:`labels`), one per combination of the other grid
        axes and replicate, in the same order for every point.

    Returns
    -------
    ndarray of int64
        The new points' keys, ascending: ``ix`` slowest, then ``iy``.
    """
    order = np.argsort(keys, kind="stable")
    keys, rows = np.asarray(keys, dtype=np.int64)[order], rows[order]
    Mx, My = refine.finest
    s = refine.stride(level)
    ix, iy = keys // My, keys % My
    lower = (ix + s < Mx) & (iy + s < My)  # lower-left corners of cells inside the grid
    corner = np.flatnonzero(lower)
    cx, cy = ix[corner], iy[corner]
    found = []
    for dx, dy in ((s, 0), (0, s), (s, s)):
        k = (cx + dx) * My + cy + dy
        at = np.minimum(np.searchsorted(keys, k), len(keys) - 1)
        found.append((at, keys[at] == k))
    present = found[0][1] & found[1][1] & found[2][1]  # all four corners trained
    base = rows[corner[present]]
    differ = np.zeros(int(present.sum()), dtype=bool)
    for at, _ in found:
        differ |= np.any(base != rows[at[present]], axis=1)
    cx, cy = cx[present][differ], cy[present][differ]
    f, t = refine.factor, s // refine.factor
    u = np.arange(f + 1, dtype=np.int64)
    uu, vv = np.meshgrid(u, u, indexing="ij")
    inner = ~((uu % f == 0) & (vv % f == 0))  # the corners are level-`level` points
    px = (cx[:, None] + uu[inner][None, :] * t).ravel()
    py = (cy[:, None] + vv[inner][None, :] * t).ravel()
    new = np.unique(px * My + py)
    return np.setdiff1d(new, keys, assume_unique=True)
