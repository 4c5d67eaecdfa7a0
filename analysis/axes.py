"""The axes of a network table: grid axes, parameter axes, continuous axes and their bins.

A *continuous* axis is one whose values are drawn, not listed: the axes of a
spec's ``[sample]`` table.  Such an axis takes about one value per design point,
so tables group it into bins instead of by value.  Which axes are continuous:

1. A table read from a run (:func:`analysis.load`, the report) carries
   ``df.attrs["sampled"]``, ``{axis: "uniform" | "loguniform"}`` from the run's
   frozen spec (empty for a grid run); when that attribute is present it alone
   decides, so a grid run's axes are never binned.
2. A table without the attribute (built by hand, or one whose attributes were
   lost) falls back on its values: a float grid axis with more than
   :data:`MIN_CONTINUOUS_VALUES` distinct values that are neither evenly nor
   geometrically spaced (a grid's ``linspace`` and ``logspace`` are one or the
   other) is continuous; it is log-distributed when every value is positive, the
   largest is at least :data:`LOG_SPAN` times the smallest, and the median lies
   nearer (in the logarithm) the geometric mean of the smallest and largest than
   their arithmetic mean, as a log-uniform sample's does.

Bins are equal in width on the axis's scale: in the logarithm for a loguniform
axis (their centres are geometric means), linear otherwise; they span the spec's
bounds when the table knows them (``df.attrs["sample_bounds"]``), else the values'
range.  The number of bins per axis, unless given, is the largest ``k`` (at most
:data:`MAX_BINS`) for which an average bin of the ``d`` binned axes holds at least
:data:`MIN_BIN_N` networks and :data:`MIN_BIN_POINTS` design points::

    k = floor(min(n / (g * MIN_BIN_N), p / (g * MIN_BIN_POINTS)) ** (1 / d))

with ``n`` networks, ``p`` distinct design points and ``g`` groups of the other
axes of the table (and bins given by the caller), and at least one bin.  At
``n = 100`` a 95% Wilson interval is at most 0.19 wide (at a rate of one half), narrow
enough to tell a bin at 50% from one at 75%.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["GRID_AXES", "is_param_axis", "grid_axes", "varying_axes", "DISTRIBUTIONS",
           "MIN_CONTINUOUS_VALUES", "LOG_SPAN", "MIN_BIN_N", "MIN_BIN_POINTS", "MAX_BINS",
           "sample_attrs", "slice_attrs", "continuous_axes", "Bins", "choose_bins", "bin_index",
           "with_bin_columns"]

#: The standard grid axes of a run's network table (as in ``sweeps.spec.AXES``).
GRID_AXES = ("task", "hidden", "activation", "loss", "init", "init_scale", "momentum", "lr")

_PARAM_AXIS = re.compile(r"^(W1\[\d+,\d+\]|b1\[\d+\]|W2\[\d+\]|b2)$")

#: Distributions of a sampled axis (as in ``sweeps.design.DISTRIBUTIONS``).
DISTRIBUTIONS = ("uniform", "loguniform")

#: Fallback rule: a float axis needs more distinct values than this to be continuous.
MIN_CONTINUOUS_VALUES = 20
#: Fallback rule: a positive continuous axis spanning this ratio or more may get log bins.
LOG_SPAN = 10.0
#: Automatic bins: networks an average bin holds at least.
MIN_BIN_N = 100
#: Automatic bins: design points an average bin holds at least.
MIN_BIN_POINTS = 5
#: Automatic bins: the most bins per axis.
MAX_BINS = 20


def is_param_axis(name: str) -> bool:
    """Return whether a column is an initial-parameter axis (``"W1[0,1]"``, ``"b2"``, ...)."""
    return isinstance(name, str) and _PARAM_AXIS.match(name) is not None


def grid_axes(df: pd.DataFrame) -> list[str]:
    """Return the grid axes among ``df``'s columns: standard axes, then parameter axes."""
    return [a for a in GRID_AXES if a in df] + [c for c in df.columns if is_param_axis(c)]


def varying_axes(df: pd.DataFrame, exclude=()) -> list[str]:
    """Return the grid axes (:func:`grid_axes` order) that take more than one value in ``df``."""
    return [a for a in grid_axes(df) if a not in exclude and df[a].nunique() > 1]


def fill_xy(order: list[str], x: str | None, y: str | None) -> tuple[str | None, str | None]:
    """Return ``x`` and ``y``, each one not given taken from ``order`` (the others first)."""
    rest = [a for a in order if a not in (x, y)]
    if x is None and rest:
        x = rest.pop(0)
    if y is None and rest:
        y = rest.pop(0)
    return x, y


def sample_attrs(spec_data: dict) -> dict[str, dict]:
    """Return the attributes a network table gets from its run's frozen spec.

    Parameters
    ----------
    spec_data : dict
        The spec as read from ``spec.toml`` (``{}`` when unreadable).

    Returns
    -------
    dict
        ``{"sampled": {axis: distribution}, "sample_bounds": {axis: (low, high)}}``,
        in the order of the spec's ``[sample]`` table; both empty for a grid run.

    Examples
    --------
    >>> sample_attrs({"sample": {"method": "sobol", "n": 8,
    ...                          "lr": {"loguniform": [0.1, 30.0]}}})["sampled"]
    {'lr': 'loguniform'}
    """
    sample = spec_data.get("sample") if isinstance(spec_data, dict) else None
    sampled: dict[str, str] = {}
    bounds: dict[str, tuple[float, float]] = {}
    if isinstance(sample, dict):
        for axis, value in sample.items():
            if isinstance(value, dict) and len(value) == 1:
                dist, pair = next(iter(value.items()))
                if dist in DISTRIBUTIONS and isinstance(pair, list) and len(pair) == 2:
                    sampled[axis] = dist
                    bounds[axis] = (float(pair[0]), float(pair[1]))
    return {"sampled": sampled, "sample_bounds": bounds}


#: Settings of a whole run that no column of its table holds, with their defaults:
#: two runs that differ in one compare different things (:func:`settings_attrs`).
RUN_SETTINGS = {"dtype": "float64", "criterion": "target-error"}


def settings_attrs(spec_data: dict) -> dict[str, dict]:
    """Return ``{"settings": {...}}``: the run's :data:`RUN_SETTINGS`, from its frozen spec.

    >>> settings_attrs({"dtype": "float32"})["settings"]
    {'dtype': 'float32', 'criterion': 'target-error'}
    """
    data = spec_data if isinstance(spec_data, dict) else {}
    return {"settings": {k: data.get(k, default) for k, default in RUN_SETTINGS.items()}}


def slice_attrs(spec_data: dict) -> dict[str, object]:
    """Return the attributes a refined or zoomed slice's table gets from its frozen spec.

    Parameters
    ----------
    spec_data : dict
        The spec as read from ``spec.toml`` (``{}`` when unreadable).

    Returns
    -------
    dict
        ``name`` (the run's), ``refine`` (the ``[refine]`` table: ``levels``,
        ``factor``, ``where``, ``axes``) and ``zoom`` (the ``[zoom]`` table:
        ``parent``, ``x``, ``y``, ``depth``, ...), each ``{}`` when absent.

    Examples
    --------
    >>> slice_attrs({"name": "s", "refine": {"levels": 2, "axes": ["W1[0,1]", "W2[1]"]}})
    {'name': 's', 'refine': {'levels': 2, 'axes': ['W1[0,1]', 'W2[1]']}, 'zoom': {}}
    """
    data = spec_data if isinstance(spec_data, dict) else {}
    out: dict[str, object] = {"name": str(data.get("name", ""))}
    for key in ("refine", "zoom"):
        table = data.get(key)
        out[key] = dict(table) if isinstance(table, dict) else {}
    return out


def _evenly_spaced(v: np.ndarray) -> bool:
    steps = np.diff(v)
    if np.allclose(steps, steps[0], rtol=0.01):
        return True
    return bool(v[0] > 0 and np.allclose(v[1:] / v[:-1], v[1] / v[0], rtol=0.01))


def _looks_log(v: np.ndarray) -> bool:
    """Return whether positive values look log-distributed (module docstring's rule)."""
    if not len(v) or v.min() <= 0 or v.max() < LOG_SPAN * v.min():
        return False
    lo, hi, med = np.log(v.min()), np.log(v.max()), np.log(np.median(v))
    return bool(abs(med - (lo + hi) / 2) < abs(med - np.log((v.min() + v.max()) / 2)))


def continuous_axes(df: pd.DataFrame) -> dict[str, bool]:
    """Return the continuous axes of a network table, each with whether its bins are logarithmic.

    See the module's docstring for the rule: ``df.attrs["sampled"]`` when present,
    else the values.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"lr": 10 ** rng.uniform(-1, 2, 50), "hidden": 2})
    >>> continuous_axes(df), continuous_axes(df.assign(lr=np.linspace(0.1, 5, 50)))
    ({'lr': True}, {})
    """
    sampled = df.attrs.get("sampled")
    if sampled is not None:
        return {a: dist == "loguniform" for a, dist in sampled.items() if a in df}
    out = {}
    for a in grid_axes(df):
        if not pd.api.types.is_float_dtype(df[a]):
            continue
        v = np.unique(df[a].to_numpy(dtype=np.float64))
        v = v[np.isfinite(v)]
        if len(v) <= MIN_CONTINUOUS_VALUES or _evenly_spaced(v):
            continue
        out[a] = _looks_log(v)
    return out


@dataclass(frozen=True, eq=False)
class Bins:
    """The bins of one axis: ``edges`` (k + 1 increasing values), log or linear.

    Bin ``i`` holds ``edges[i] <= v < edges[i + 1]``; the last bin also holds
    ``edges[-1]``.  Its centre is the geometric mean of its edges for log bins, the
    arithmetic mean otherwise.
    """

    edges: np.ndarray
    log: bool

    @property
    def centres(self) -> np.ndarray:
        """The centre of each bin, shape (k,)."""
        lo, hi = self.edges[:-1], self.edges[1:]
        return np.sqrt(lo * hi) if self.log else (lo + hi) / 2

    @property
    def n_bins(self) -> int:
        """The number of bins."""
        return len(self.edges) - 1


def _make_bins(values: np.ndarray, k: int, log: bool, bounds=None) -> Bins:
    v = values[np.isfinite(values)]
    lo, hi = (float(v.min()), float(v.max())) if len(v) else (0.0, 1.0)
    if bounds is not None:
        lo, hi = min(lo, bounds[0]), max(hi, bounds[1])
    log = log and lo > 0
    if hi <= lo:
        return Bins(np.array([lo, hi]), log)
    edges = np.geomspace(lo, hi, k + 1) if log else np.linspace(lo, hi, k + 1)
    edges[0], edges[-1] = lo, hi  # exact ends: every value falls in a bin
    return Bins(edges, log)


def _given_bins(axis: str, values: np.ndarray, spec, log: bool, bounds) -> Bins:
    if isinstance(spec, int | np.integer) and not isinstance(spec, bool):
        if spec < 1:
            raise ValueError(f"bins for {axis!r} must be at least 1; got {spec}")
        return _make_bins(values, int(spec), log, bounds)
    try:
        edges = np.asarray(spec, dtype=np.float64)
    except (TypeError, ValueError):
        edges = np.array([])
    if edges.ndim != 1 or len(edges) < 2 or not np.all(np.isfinite(edges)) \
            or not np.all(np.diff(edges) > 0):
        raise ValueError(f"bins for {axis!r} must be a count or at least two increasing finite "
                         f"edges; got {spec!r}")
    return Bins(edges, bool(log and edges[0] > 0))


def choose_bins(df: pd.DataFrame, by, bins=None, *, continuous: dict[str, bool] | None = None,
                bounds: dict | None = None) -> dict[str, Bins]:
    """Return the bins of the axes of ``by`` that a table groups into bins.

    Parameters
    ----------
    df : DataFrame
        Network table.
    by : list of str
        The table's grouping axes.
    bins : None, int or dict
        None: every continuous axis of ``by`` (:func:`continuous_axes`) gets the
        automatic number of bins (module docstring).  An int: that many bins for
        each continuous axis of ``by``.  A dict ``{axis: int or edges}``: those
        bins for those axes (any numeric axis of ``by``, continuous or not), the
        automatic number for the other continuous axes of ``by``.
    continuous : dict, optional
        The continuous axes and whether each is logarithmic, instead of
        :func:`continuous_axes` of ``df`` (for a frame derived from a network table).
    bounds : dict, optional
        ``{axis: (low, high)}`` that bins span, instead of ``df.attrs["sample_bounds"]``.

    Returns
    -------
    dict
        ``{axis: Bins}`` in ``by`` order; empty when nothing is binned.

    Raises
    ------
    ValueError
        If ``bins`` names an axis not in ``by`` or not numeric, or gives a count
        below 1 or edges that are not increasing.
    """
    by = list(by)
    cont = continuous_axes(df) if continuous is None else continuous
    bounds = (df.attrs.get("sample_bounds", {}) if bounds is None else bounds) or {}
    given: dict = {}
    if isinstance(bins, dict):
        given = dict(bins)
        for a in given:
            if a not in by:
                raise ValueError(f"bins names {a!r}, which is not one of the table's axes "
                                 f"({', '.join(map(str, by)) or 'none'}); add it to by")
            if not pd.api.types.is_numeric_dtype(df[a]) or pd.api.types.is_bool_dtype(df[a]):
                raise ValueError(f"bins names {a!r}, whose values are not numbers; group it "
                                 "by value instead")
    elif bins is not None:
        given = {a: bins for a in by if a in cont}
    out: dict[str, Bins] = {}
    for a, spec in given.items():
        v = df[a].to_numpy(dtype=np.float64)
        log = cont[a] if a in cont else _looks_log(v[np.isfinite(v)])
        out[a] = _given_bins(a, v, spec, log, bounds.get(a))
    auto = [a for a in by if a in cont and a not in out]
    if auto:
        others = [a for a in by if a not in auto and a not in out]
        groups = df.groupby(others, observed=True).ngroups if others else 1
        fixed = math.prod(b.n_bins for b in out.values())
        points = len(df[auto + others].drop_duplicates()) if len(df) else 0
        room = min(len(df) / MIN_BIN_N, points / MIN_BIN_POINTS) / max(groups * fixed, 1)
        k = int(math.floor(room ** (1 / len(auto)) + 1e-9)) if room > 0 else 1
        k = min(max(k, 1), MAX_BINS)
        for a in auto:
            out[a] = _make_bins(df[a].to_numpy(dtype=np.float64), k, cont[a], bounds.get(a))
    return {a: out[a] for a in by if a in out}


def bin_index(values, bins: Bins) -> np.ndarray:
    """Return the bin of each value, shape (n,); -1 for a value outside the edges or NaN."""
    v = np.asarray(values, dtype=np.float64)
    e = bins.edges
    idx = np.searchsorted(e, v, side="right") - 1
    idx = np.where(v == e[-1], bins.n_bins - 1, idx)
    return np.where((v >= e[0]) & (v <= e[-1]), idx, -1).astype(np.int64)


def with_bin_columns(table: pd.DataFrame, bins: dict[str, Bins]) -> pd.DataFrame:
    """Replace each binned axis's bin index by its centre, with ``<axis>_low`` and ``_high``.

    The edges follow the axis's column; the table's other columns are unchanged.
    """
    if not bins:
        return table
    out = table.copy()
    for a, b in bins.items():
        idx = out[a].to_numpy(dtype=np.int64)
        at = out.columns.get_loc(a)
        out[a] = b.centres[idx]
        out.insert(at + 1, f"{a}_low", b.edges[idx])
        out.insert(at + 2, f"{a}_high", b.edges[idx + 1])
    return out
