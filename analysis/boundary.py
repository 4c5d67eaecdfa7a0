"""The box-counting dimension of the convergence boundary of an init slice.

Kolen & Pollack (1990) found the boundaries between converging and failing initial
weights ragged and self-similar as they zoomed in.  A smooth boundary has dimension
1: halving the cell size doubles the number of cells it crosses.  A space-filling
one has 2.  This module counts the cells the boundary crosses at several cell sizes
and fits the slope in log-log.

The points of a slice lie on a lattice: the finest grid of the run, indices ``ix``
and ``iy`` (a refined run stores them; a plain grid's are the positions of its
values).  A *cell of side s* is the square between the lattice points ``(a s,
b s)``, ``((a + 1) s, b s)``, ``(a s, (b + 1) s)`` and ``((a + 1) s, (b + 1) s)``; it
is *known* when a network was trained at each of its four corners and a
*boundary cell* when their labels differ (converged or not; with ``classes``,
the class of epochs to converge).  ``eps`` is the cell's side as a fraction of
the slice's side (the geometric mean over the two axes when they differ), and
``N(eps)`` the number of boundary cells.  The dimension D is the slope of the
least-squares line

    log N(eps) = D log(1 / eps) + c

over the scales, with a 95% t-interval on the slope (k scales, k - 2 degrees of
freedom).  The scales:

- A plain grid: the grid and its coarsenings by 2, 4, 8, ... while the coarsest
  still has :data:`MIN_CELLS` cells a side; every scale counts within the same
  box, the largest one that a whole number of the coarsest cells tile from the
  grid's first point.
- A refined run (``level``, ``ix``, ``iy`` columns, a ``[refine]`` table): the
  cells of each level, side ``factor ** (L - l)`` lattice steps at level ``l``
  of ``L``.  Level ``l > 0`` has networks only inside the cells of level
  ``l - 1`` that were refined, so its known cells are the refined cells' parts,
  and only those are counted.  That is the full count when every boundary cell
  of level ``l`` lies inside a boundary cell of level ``l - 1``, i.e. when the
  boundary never enters a coarser cell and leaves it again between corners of
  the same label: a wisp, a fold or an island that lies wholly between corner
  points of one label is missed, at that level and every finer one.  For a
  fractal boundary the count is then a lower bound and the slope biased low;
  ``tests/test_boundary.py`` measures how much on synthetic sets, and a uniform
  grid of the same resolution measures it on a real slice.

Why a t-interval on the slope, not a bootstrap: the counts are large (hundreds
to millions of cells), so their own sampling noise is small; the uncertainty
that matters is how far log N departs from a line over the scales (finite size,
lacunarity), which is what the fit's residuals measure.  With four to six scales a
bootstrap over the scales has too few distinct resamples to mean anything.  An
exact power law gives a zero-width interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from .axes import fill_xy, grid_axes, is_param_axis, varying_axes
from .plots import axis_label, format_value
from .tables import load

__all__ = ["MIN_CELLS", "Lattice", "BoundaryDimension", "is_refined", "slice_axes", "lattice",
           "box_counts", "fit_dimension", "boundary_dimension", "zoom_dimensions",
           "plot_box_counts", "describe"]

#: Fewest cells a side the coarsest scale of a plain grid keeps.
MIN_CELLS = 16

#: Columns that mark a refined run's network table.
REFINED_COLUMNS = ("level", "ix", "iy")


def is_refined(df: pd.DataFrame) -> bool:
    """Return whether a network table is a refined run's (it has ``level``, ``ix`` and ``iy``)."""
    return all(c in df for c in REFINED_COLUMNS)


def slice_axes(df: pd.DataFrame, x: str | None = None, y: str | None = None
               ) -> tuple[str, str]:
    """Return a slice's two axes: those given, the ``[refine]`` axes, or the first two varying.

    Raises
    ------
    ValueError
        If an axis is unknown or not numeric, the two are equal, or fewer than two
        axes vary.
    """
    if x is None or y is None:
        axes = list(df.attrs.get("refine", {}).get("axes", []))
        if len(axes) != 2 or not all(a in df for a in axes):
            varying = varying_axes(df)
            params = [a for a in varying if is_param_axis(a)]
            axes = params + [a for a in varying if a not in params]
        x, y = fill_xy(axes, x, y)
    if x is None or y is None:
        raise ValueError("a slice needs two axes that vary; this table has "
                         f"{', '.join(varying_axes(df)) or 'none'}")
    for a in (x, y):
        if a not in df:
            raise ValueError(f"unknown axis {a!r}; the table has {', '.join(grid_axes(df))}")
        if not pd.api.types.is_numeric_dtype(df[a]):
            raise ValueError(f"axis {a!r} is not numeric; a slice needs two numeric axes")
    if x == y:
        raise ValueError(f"x and y are both {x!r}; choose two different axes")
    return x, y


@dataclass(frozen=True, eq=False)
class Lattice:
    """The points of a slice on their lattice, the run's finest grid.

    ``ix[k]``, ``iy[k]`` are point k's lattice indices (0 .. ``nx - 1``, 0 .. ``ny
    - 1``), ``level[k]`` its refinement level (0 for a plain grid), ``label[k]``
    its label and ``epochs[k]`` its epochs to converge (NaN: never).  ``steps[l]``
    is the side of a level-l cell in lattice steps.  ``x_range`` and ``y_range``
    are the axis values at lattice indices 0 and ``nx - 1`` (``ny - 1``);
    ``x_log`` and ``y_log`` say whether the values are geometric (a logspace axis).
    """

    x: str
    y: str
    ix: np.ndarray
    iy: np.ndarray
    level: np.ndarray
    label: np.ndarray
    epochs: np.ndarray
    nx: int
    ny: int
    steps: tuple[int, ...]
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    x_log: bool
    y_log: bool
    limit: int
    refined: bool


def _labels(df: pd.DataFrame, classes) -> tuple[np.ndarray, np.ndarray]:
    ce = df["converged_epoch"].to_numpy(dtype=np.int64)
    epochs = np.where(ce >= 0, ce, np.nan).astype(np.float64)
    if classes is None:
        return (ce >= 0).astype(np.int64), epochs
    edges = np.asarray(classes, dtype=np.float64)
    if edges.ndim != 1 or not np.all(np.diff(edges) > 0):
        raise ValueError(f"classes must be increasing epoch edges; got {classes!r}")
    return np.where(ce >= 0, np.searchsorted(edges, ce, side="right"), -1), epochs


def _is_geometric(v: np.ndarray) -> bool:
    """Return whether sorted distinct values have a constant ratio and not a constant step."""
    if len(v) < 3 or v[0] <= 0:
        return False
    steps = np.diff(v)
    ratios = v[1:] / v[:-1]
    return bool(np.allclose(ratios, ratios[0], rtol=1e-6, atol=0)
                and not np.allclose(steps, steps[0], rtol=1e-6, atol=0))


def _positions(values: np.ndarray, axis: str) -> tuple[np.ndarray, tuple[float, float], bool]:
    grid = np.unique(values)
    log = _is_geometric(grid)
    if len(grid) > 2 and not log:
        steps = np.diff(grid)
        if not np.allclose(steps, steps[0], rtol=1e-6, atol=0):
            raise ValueError(f"{axis} is not evenly spaced; box counting needs a linspace or "
                             "logspace grid (or a refined run's lattice)")
    return np.searchsorted(grid, values), (float(grid[0]), float(grid[-1])), log


def lattice(df: pd.DataFrame, x: str | None = None, y: str | None = None, *,
            classes=None) -> Lattice:
    """Place a slice's networks on their lattice.

    Parameters
    ----------
    df : DataFrame
        One slice: at most one network per (x, y) point, with ``converged_epoch``
        and ``epochs``; a refined run's table has ``level``, ``ix`` and ``iy`` too.
    x, y : str, optional
        The slice's axes (:func:`slice_axes`).  ``ix`` indexes ``x``.
    classes : sequence of float, optional
        Epoch edges: label networks by the class of their epochs to converge (never
        converged: its own class) instead of converged or not.

    Returns
    -------
    Lattice

    Raises
    ------
    ValueError
        If two networks share a point, a plain grid's axis is neither evenly nor
        geometrically spaced, ``ix`` does not index ``x``, or an axis is unknown
        (:func:`slice_axes`).
    """
    x, y = slice_axes(df, x, y)
    if not len(df):
        raise ValueError("the slice has no networks")
    shared = int(df.duplicated([x, y]).sum())
    if shared:
        raise ValueError(f"{shared} networks share a ({x}, {y}) point with another; select "
                         "one replicate and one value of every other varying axis first")
    label, epochs = _labels(df, classes)
    limit = int(df["epochs"].max())
    xv, yv = df[x].to_numpy(dtype=np.float64), df[y].to_numpy(dtype=np.float64)
    if not is_refined(df):
        ix, x_range, x_log = _positions(xv, x)
        iy, y_range, y_log = _positions(yv, y)
        return Lattice(x, y, ix, iy, np.zeros(len(df), np.int64), label, epochs,
                       int(ix.max()) + 1, int(iy.max()) + 1, (1,), x_range, y_range,
                       x_log, y_log, limit, False)
    ix, iy = df["ix"].to_numpy(np.int64), df["iy"].to_numpy(np.int64)
    level = df["level"].to_numpy(np.int64)
    for a, index, v in ((x, ix, xv), (y, iy, yv)):
        if pd.Series(v).groupby(index).nunique().max() > 1:
            raise ValueError(f"{'ix' if a == x else 'iy'} does not index {a!r}; pass x and y "
                             "in the [refine] table's order")
    steps = []
    for lev in range(int(level.max()) + 1):
        at = level <= lev
        steps.append(int(np.gcd.reduce(np.concatenate([ix[at], iy[at]]))) or 1)
    x_range, x_log = _ends(ix, xv, level)
    y_range, y_log = _ends(iy, yv, level)
    return Lattice(x, y, ix, iy, level, label, epochs, int(ix.max()) + 1, int(iy.max()) + 1,
                   tuple(steps), x_range, y_range, x_log, y_log, limit, True)


def _ends(index: np.ndarray, values: np.ndarray, level: np.ndarray
          ) -> tuple[tuple[float, float], bool]:
    """Return an axis's values at its lattice's two ends, and whether level 0 is geometric."""
    lo, hi = index.argmin(), index.argmax()
    base = np.unique(values[level == 0])
    return (float(values[lo]), float(values[hi])), _is_geometric(base)


def _count(lat: Lattice, step: int, box: tuple[int, int], levels=None) -> tuple[int, int]:
    """Return (known cells, boundary cells) of side ``step`` inside ``[0, box]``."""
    at = (lat.ix % step == 0) & (lat.iy % step == 0) & (lat.ix <= box[0]) & (lat.iy <= box[1])
    if levels is not None:
        at &= lat.level <= levels
    cx, cy, lab = lat.ix[at] // step, lat.iy[at] // step, lat.label[at]
    width = box[0] // step + 1
    key = cy * width + cx
    order = np.argsort(key, kind="stable")
    key, lab, cx, cy = key[order], lab[order], cx[order], cy[order]
    corner = (cx < box[0] // step) & (cy < box[1] // step)
    labels = [lab]
    known = corner.copy()
    for dk in (1, width, width + 1):
        pos = np.searchsorted(key, key + dk).clip(0, max(len(key) - 1, 0))
        hit = key[pos] == key + dk if len(key) else np.zeros(0, bool)
        known &= hit
        labels.append(lab[pos])
    stack = np.vstack(labels)[:, known]
    boundary = int((stack != stack[0]).any(axis=0).sum())
    return int(known.sum()), boundary


def box_counts(lat: Lattice, *, min_cells: int = MIN_CELLS, base: int = 2) -> pd.DataFrame:
    """Count the known and boundary cells at each scale (the module's docstring).

    Parameters
    ----------
    lat : Lattice
    min_cells : int
        A plain grid's coarsest scale keeps at least this many cells a side.
    base : int
        A plain grid's coarsenings: by ``base``, ``base**2``, ... (a refined run's
        scales are its levels).

    Returns
    -------
    DataFrame
        One row per scale, coarsest first: ``level`` (refinement level; -1, -2, ...
        for the coarsenings of a plain grid, 0 for the grid itself), ``step``
        (cell side in lattice steps), ``eps`` (side as a fraction of the slice's
        side), ``cells`` (cells of that side that tile the box), ``known`` and
        ``boundary``.  ``attrs["box"]``: the box's far corner in lattice steps.
    """
    if lat.refined:
        scales = [(lev, s) for lev, s in enumerate(lat.steps)]
        box = (lat.nx - 1, lat.ny - 1)
        box = (box[0] - box[0] % lat.steps[0], box[1] - box[1] % lat.steps[0])
    else:
        scales, s = [], 1
        while min((lat.nx - 1) // s, (lat.ny - 1) // s) >= min_cells or s == 1:
            scales.insert(0, (-len(scales), s))
            s *= base
        coarsest = scales[0][1]
        box = (lat.nx - 1 - (lat.nx - 1) % coarsest, lat.ny - 1 - (lat.ny - 1) % coarsest)
    side = math.sqrt(max(lat.nx - 1, 1) * max(lat.ny - 1, 1))
    rows = []
    for lev, s in scales:
        known, boundary = _count(lat, s, box, lev if lat.refined else None)
        rows.append({"level": lev, "step": s, "eps": s / side,
                     "cells": (box[0] // s) * (box[1] // s), "known": known,
                     "boundary": boundary})
    out = pd.DataFrame(rows, columns=["level", "step", "eps", "cells", "known", "boundary"])
    out.attrs["box"] = box
    return out


@dataclass(frozen=True)
class BoundaryDimension:
    """A box-counting dimension with its interval and the counts it was fitted to.

    ``counts`` is :func:`box_counts`' table with ``used`` (the scales fitted:
    those with a boundary cell).  ``low`` and ``high`` bound the ``confidence``
    interval of the slope (NaN with fewer than three scales).
    """

    estimate: float
    low: float
    high: float
    intercept: float
    stderr: float
    method: str
    counts: pd.DataFrame = field(repr=False)
    x: str = ""
    y: str = ""
    confidence: float = 0.95

    @property
    def pairs(self) -> list[tuple[float, int]]:
        """The (cell size, boundary cells) pairs fitted."""
        used = self.counts[self.counts["used"]]
        return list(zip(used["eps"].tolist(), used["boundary"].tolist(), strict=True))

    def __str__(self) -> str:
        return (f"D = {self.estimate:.3f} ({self.confidence:.0%} interval {self.low:.3f} - "
                f"{self.high:.3f}; {self.method})")


def fit_dimension(eps, boundary, *, confidence: float = 0.95
                  ) -> tuple[float, float, float, float, float]:
    """Fit ``log N = D log(1/eps) + c`` by least squares.

    Parameters
    ----------
    eps, boundary : array_like, shape (k,)
        Cell sizes and boundary counts (positive).
    confidence : float
        Level of the interval on D.

    Returns
    -------
    tuple of float
        ``(D, low, high, c, stderr)``; the interval is the t-interval on the slope
        with k - 2 degrees of freedom (NaN for k < 3; D NaN for k < 2).

    Examples
    --------
    >>> [round(v, 6) for v in fit_dimension([0.1, 0.05, 0.025], [10, 20, 40])[:3]]
    [1.0, 1.0, 1.0]
    """
    u = np.log(1 / np.asarray(eps, dtype=np.float64))
    v = np.log(np.asarray(boundary, dtype=np.float64))
    k = len(u)
    if k < 2:
        return (math.nan,) * 5
    fit = stats.linregress(u, v)
    if k < 3:
        return float(fit.slope), math.nan, math.nan, float(fit.intercept), math.nan
    half = stats.t.ppf(0.5 + confidence / 2, k - 2) * fit.stderr
    return (float(fit.slope), float(fit.slope - half), float(fit.slope + half),
            float(fit.intercept), float(fit.stderr))


def boundary_dimension(df: pd.DataFrame, x: str | None = None, y: str | None = None, *,
                       classes=None, min_cells: int = MIN_CELLS, base: int = 2,
                       confidence: float = 0.95) -> BoundaryDimension:
    """Return the box-counting dimension of a slice's convergence boundary, with its interval.

    Parameters
    ----------
    df : DataFrame
        One slice of a plain grid (evenly spaced values on both axes) or of a
        refined run (``level``, ``ix``, ``iy``), one network per point.
    x, y : str, optional
        The slice's axes (default: the ``[refine]`` axes, else the first two that
        vary, parameter axes first).
    classes : sequence of float, optional
        Epoch edges: measure the boundary between classes of epochs to converge
        (and never converged) instead of that between converged and not.
    min_cells : int
        A plain grid's coarsest scale keeps at least this many cells a side.
    base : int
        A plain grid's coarsenings are by powers of ``base``.
    confidence : float
        Level of the interval.

    Returns
    -------
    BoundaryDimension
        ``estimate``, ``low``, ``high``, the counts (:func:`box_counts`, ``used``
        marks the scales fitted: those with at least one boundary cell) and the
        method in words.

    Raises
    ------
    ValueError
        As :func:`lattice`, or if ``base`` is not an integer of at least 2.

    Examples
    --------
    >>> v = np.linspace(0, 1, 65)
    >>> X, Y = np.meshgrid(v, v)
    >>> df = pd.DataFrame({"W1[0,1]": X.ravel(), "W2[1]": Y.ravel(), "epochs": 100,
    ...                    "converged_epoch": np.where(X.ravel() < 0.3, 10, -1)})
    >>> round(boundary_dimension(df).estimate, 3)
    1.0
    """
    lat = lattice(df, x, y, classes=classes)
    if isinstance(base, bool) or not isinstance(base, int) or base < 2:
        raise ValueError(f"base must be an integer of at least 2; got {base!r}")
    counts = box_counts(lat, min_cells=min_cells, base=base)
    counts["used"] = counts["boundary"] > 0
    used = counts[counts["used"]]
    d, low, high, c, se = fit_dimension(used["eps"], used["boundary"], confidence=confidence)
    what = "classes of epochs to converge" if classes is not None else "converged or not"
    if lat.refined:
        method = (f"box counting over {len(used)} refinement levels ({what}; boundary cells "
                  "counted among the refined cells)")
    else:
        method = (f"box counting over {len(used)} coarsenings of the grid by powers of {base} "
                  f"({what})")
    return BoundaryDimension(d, low, high, c, se, method, counts, lat.x, lat.y, confidence)


def zoom_dimensions(frames, names=None, x: str | None = None, y: str | None = None, *,
                    classes=None, min_cells: int = MIN_CELLS, base: int = 2,
                    confidence: float = 0.95) -> pd.DataFrame:
    """Return the local boundary dimension of each of nested zooms into a slice.

    Each frame's own box counts give the dimension within its box, at the scales
    of its grid; cell sizes are given in units of the first frame's (the root
    slice's) side, so the rows read as the dimension at each scale.

    Parameters
    ----------
    frames : sequence of DataFrame or run directory
        The root slice first, then the zooms (plain or refined slices over the same
        axes), as for :func:`boundary_dimension`; a path (or ``store.Run``) is read
        with :func:`analysis.load`.
    names : sequence of str, optional
        One name per frame (default: ``df.attrs["name"]`` or the position).
    x, y, classes, min_cells, base, confidence
        As for :func:`boundary_dimension`.

    Returns
    -------
    DataFrame
        One row per frame: ``name``, ``zoom`` (the root's side over the frame's,
        geometric mean of the two axes), ``x_low``, ``x_high``, ``y_low``,
        ``y_high``, ``networks``, ``scales``, ``eps_min`` and ``eps_max`` (in root
        units), ``boundary`` (boundary cells at the finest scale), ``estimate``,
        ``low``, ``high``.  ``attrs["fits"]``: each frame's
        :class:`BoundaryDimension`, its ``counts`` with ``eps_root`` added.

    Raises
    ------
    ValueError
        If ``frames`` is empty, or as :func:`boundary_dimension`.
    """
    frames = [f if isinstance(f, pd.DataFrame) else load(f) for f in frames]  # or run dirs
    if not frames:
        raise ValueError("zoom_dimensions needs at least one frame, the root slice first")
    names = list(names) if names is not None else [
        str(f.attrs.get("name", k)) for k, f in enumerate(frames)]
    rows, fits, root = [], [], None
    for name, f in zip(names, frames, strict=True):
        lat = lattice(f, x, y, classes=classes)
        fit = boundary_dimension(f, lat.x, lat.y, classes=classes, min_cells=min_cells,
                                 base=base, confidence=confidence)
        widths = tuple(abs(math.log10(r[1] / r[0]) if log else r[1] - r[0]) for r, log in
                       ((lat.x_range, lat.x_log), (lat.y_range, lat.y_log)))
        if root is None:
            root = widths
        zoom = math.sqrt(root[0] / widths[0] * root[1] / widths[1])
        counts = fit.counts.assign(eps_root=fit.counts["eps"] / zoom)
        fit = BoundaryDimension(fit.estimate, fit.low, fit.high, fit.intercept, fit.stderr,
                                fit.method, counts, fit.x, fit.y, fit.confidence)
        used = counts[counts["used"]]
        rows.append({"name": name, "zoom": zoom, "x_low": lat.x_range[0],
                     "x_high": lat.x_range[1], "y_low": lat.y_range[0],
                     "y_high": lat.y_range[1], "networks": len(f), "scales": len(used),
                     "eps_min": used["eps_root"].min() if len(used) else math.nan,
                     "eps_max": used["eps_root"].max() if len(used) else math.nan,
                     "boundary": int(counts["boundary"].iloc[-1]) if len(counts) else 0,
                     "estimate": fit.estimate, "low": fit.low, "high": fit.high})
        fits.append(fit)
    out = pd.DataFrame(rows)
    out.attrs["fits"] = fits
    return out


def plot_box_counts(fits, ax=None, *, labels=None, root_units: bool = False):
    """Draw boundary cells against 1 / cell size in log-log, each fit with its line.

    Parameters
    ----------
    fits : BoundaryDimension or sequence of them
        One fit, or several (the zooms of :func:`zoom_dimensions`'
        ``attrs["fits"]``).
    ax : matplotlib Axes, optional
        Where to draw (default: a new figure).
    labels : sequence of str, optional
        One legend label per fit, before its estimate.
    root_units : bool
        Cell sizes in the root slice's units (``eps_root``), for zooms.

    Returns
    -------
    Axes
        ``ax``.  Grey dashed lines of slope 1 (a smooth boundary) and 2 (filling
        the plane) run from the first fit's coarsest point over its scales.
    """
    if isinstance(fits, BoundaryDimension):
        fits = [fits]
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 4.5))
    from matplotlib.ticker import NullFormatter

    from .plots import QUALITATIVE

    column = "eps_root" if root_units else "eps"
    first = None
    for k, fit in enumerate(fits):
        colour = QUALITATIVE[k % len(QUALITATIVE)]
        c = fit.counts
        used = c[c["used"]]
        u = 1 / used[column].to_numpy()
        if first is None and len(used):
            first = (u[0], used["boundary"].iloc[0], u[-1])
        name = f"{labels[k]}: " if labels is not None else ""
        interval = (f" ({fit.confidence:.0%}: {fit.low:.2f} - {fit.high:.2f})"
                    if math.isfinite(fit.low) else "")
        ax.plot(u, used["boundary"], "o", color=colour, ms=5,
                label=f"{name}D = {fit.estimate:.2f}{interval}")
        if len(used) >= 2:
            zoom = (c["eps"] / c[column]).iloc[0]
            line = np.exp(fit.intercept) * (u / zoom) ** fit.estimate
            ax.plot(u, line, "-", color=colour, lw=1.2)
    if first is not None:
        u0, n0, u1 = first
        span = np.array([u0, u1])
        for slope, text in ((1, "slope 1 (smooth)"), (2, "slope 2")):
            ax.plot(span, n0 * (span / u0) ** slope, "--", color="#9e9e9e", lw=0.9, zorder=0)
            ax.annotate(text, (span[1], n0 * (span[1] / u0) ** slope), fontsize=7,
                        color="#6e6e6e", ha="right", va="bottom")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ticks = sorted({float(v) for fit in fits
                    for v in 1 / fit.counts.loc[fit.counts["used"], column]})
    if 0 < len(ticks) <= 12:
        ax.set_xticks(ticks, [f"{v:.3g}" for v in ticks])
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("1 / cell size" + (" (root slice's side = 1)" if root_units
                                     else " (slice's side = 1)"))
    ax.set_ylabel("boundary cells N")
    axes = f"{axis_label(fits[0].x)} x {axis_label(fits[0].y)}" if fits else ""
    ax.set_title(f"box counting of the convergence boundary {axes}", fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    return ax


def describe(fit: BoundaryDimension) -> str:
    """Return a fit in one line of words: the estimate, its interval, the scales."""
    used = fit.counts[fit.counts["used"]]
    if not len(used):
        return "no boundary cell at any scale: the slice has one label"
    return (f"boundary dimension {format_value(fit.estimate)} ({fit.confidence:.0%} interval "
            f"{format_value(fit.low)} - {format_value(fit.high)}) over {len(used)} scales, "
            f"cells of {format_value(used['eps'].max())} to {format_value(used['eps'].min())} "
            "of the slice's side")
