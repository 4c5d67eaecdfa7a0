"""Paired comparisons: two cells (or bins) of one run, or two runs with the same seeds.

Replicate r of every cell starts from the same base draw (its seed is the spec's
``(seed << 32) + r``), so network r of one cell and network r of another differ
only in what the cells change.  Comparing their outcomes pair by pair removes the
spread between initial draws, the largest source of noise in a convergence rate:
where two independent 95% intervals overlap, the paired interval of the difference
often excludes 0.  See :mod:`analysis.stats` for the interval and the tests.

How networks are paired:

- :func:`compare`, within one run: by replicate and by every varying axis that
  ``a`` and ``b`` do not name (so ``a={"lr": 0.5}, b={"lr": 2.0}`` pairs network r
  of (lr 0.5, init_scale s) with network r of (lr 2.0, init_scale s)), and by
  design point when neither names a continuous axis.  When ``a`` or ``b`` is a
  range of a continuous axis, several design points fall in it: there the k-th
  network of a replicate in ``a`` (by design point) is paired with the k-th of the
  same replicate in ``b``; networks left over on one side are not paired.
- :func:`compare_runs`, across two runs: by seed (so both runs need the same spec
  ``seed``; replicates present in only one run are left out) and by every grid
  axis (and design point) that both runs have and share values of; an axis whose
  values differ between the runs (``loss`` bce in one, mse in the other) is what
  is compared.
"""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pandas as pd

from .axes import (
    Bins,
    bin_index,
    choose_bins,
    continuous_axes,
    grid_axes,
    varying_axes,
    with_bin_columns,
)
from .stats import mcnemar_exact, paired_difference_interval, signed_rank_test

__all__ = ["CompareError", "COLUMNS", "SETTINGS", "compare", "compare_runs", "paired_p_values"]

#: The columns of a comparison, after the ``by`` axes.
COLUMNS = ("n_pairs", "a_rate", "b_rate", "diff", "diff_low", "diff_high", "p_value",
           "a_only", "b_only", "n_both", "epochs_diff_median", "epochs_p_value")

#: Columns of a network table that are settings of the whole run, not grid axes: two
#: runs that differ in one compare different things even where their grids agree.
SETTINGS = ("epochs", "target_error")


class CompareError(ValueError):
    """A comparison that cannot be made: an unknown axis, empty or overlapping cells, no pairs."""


def _names(axes) -> str:
    return ", ".join(map(str, axes)) or "none"


def _plain(s: pd.Series) -> pd.Series:
    """Return a key column that merges across frames: categories as plain values."""
    return s.astype(object) if isinstance(s.dtype, pd.CategoricalDtype) else s


def _select(df: pd.DataFrame, sel: dict, side: str) -> np.ndarray:
    """Return the mask of the networks that ``sel`` (axis -> value, list or range) picks."""
    axes = grid_axes(df) + (["point"] if "point" in df else [])
    mask = np.ones(len(df), dtype=bool)
    for axis, value in sel.items():
        if axis not in axes:
            raise CompareError(f"{side} names {axis!r}, which is not an axis of this table; "
                               f"choose from {_names(axes)}")
        col = df[axis]
        numeric = pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
        if isinstance(value, tuple):
            if len(value) != 2 or not numeric:
                raise CompareError(f"{side}[{axis!r}] = {value!r}: a range is a (low, high) "
                                   "pair of numbers on a numeric axis")
            v = col.to_numpy(dtype=np.float64)
            mask &= (v >= value[0]) & (v < value[1])
            continue
        values = list(np.ravel(value)) if isinstance(value, list | set | frozenset | np.ndarray) \
            else [value]
        hit = np.zeros(len(df), dtype=bool)
        for x in values:
            if numeric and isinstance(x, int | float | np.integer | np.floating):
                v = col.to_numpy(dtype=np.float64)
                hit |= _matches(v, float(x), f"{side}[{axis!r}]")
            else:
                hit |= (_plain(col) == x).to_numpy()
        mask &= hit
    return mask


def _matches(v: np.ndarray, x: float, what: str) -> np.ndarray:
    """Return where ``v`` is ``x``: equal (to 1e-9), else shown as ``x`` to its digits.

    Pages show 1.26 for a logspace's 1.2589254117941673; ``x = 1.26`` picks it when
    no other value of the axis rounds to 1.26 at three significant digits (fewer
    digits than the pages show pick nothing: ``lr = 1`` is not 1.26).
    """
    hit = np.isclose(v, x, rtol=1e-9, atol=0) | (v == x)
    if hit.any() or not math.isfinite(x) or x == 0:
        return hit
    digits = len(Decimal(repr(x)).normalize().as_tuple().digits)
    if digits < 3:
        return hit
    values = np.unique(v[np.isfinite(v)])
    near = [u for u in values if float(format(u, f".{digits}g")) == x]
    if len(near) > 1:
        raise CompareError(f"{what} = {x!r} is ambiguous: it rounds from "
                           f"{', '.join(repr(float(u)) for u in near)}; give more digits")
    return v == near[0] if near else hit


def _values_of(df: pd.DataFrame, axis: str, most: int = 8) -> str:
    """Return ``"lr takes 0.316228, 1.25893, ..."``: an axis's values, to choose from."""
    values = sorted(_plain(df[axis]).unique(), key=lambda v: (str(type(v)), v))
    shown = [format(v, ".6g") if isinstance(v, float | np.floating) else str(v)
             for v in values[:most]]
    more = f", ... ({len(values)} values)" if len(values) > most else ""
    return f"{axis} takes {', '.join(shown)}{more}"


def _pair_key(df: pd.DataFrame, named) -> list[str]:
    """Return the columns on which a network of one selection matches one of the other."""
    if "replicate" not in df:
        raise CompareError("the table has no replicate column, so its networks cannot be "
                           "paired; read it with analysis.load(run_dir)")
    cont = continuous_axes(df)
    named_cont = any(a in cont for a in named)
    key = ["replicate"]
    for a in varying_axes(df):
        if a in named or (named_cont and a in cont):
            continue
        key.append(a)
    if "point" in df and not named_cont:
        key.append("point")
    return key


def _rank(df: pd.DataFrame, key: list[str]) -> np.ndarray:
    """Each network's rank among the networks of its key, by design point then network."""
    d = df.reset_index(drop=True)  # (any index, repeated values too)
    order = [c for c in ("point", "network") if c in d]
    s = d.sort_values(order, kind="stable") if order else d
    if not key:
        return np.arange(len(d))
    rank = s.groupby(key, observed=True, sort=False).cumcount()
    return rank.sort_index().to_numpy()


def _pairs(A: pd.DataFrame, B: pd.DataFrame, key: list[str], rank: bool,
           keep=()) -> pd.DataFrame:
    """Join the networks of A and B on ``key`` (and rank): columns key, _ea, _eb, keep."""
    cols = list(dict.fromkeys([*key, *keep]))
    left = pd.DataFrame({c: _plain(A[c]).to_numpy() for c in cols})
    right = pd.DataFrame({c: _plain(B[c]).to_numpy() for c in key})
    left["_ea"] = A["converged_epoch"].to_numpy()
    right["_eb"] = B["converged_epoch"].to_numpy()
    on = list(key)
    if rank:
        left["_rank"], right["_rank"] = _rank(A, key), _rank(B, key)
        on.append("_rank")
    return left.merge(right, on=on, how="inner", sort=False)


def _summarize(pairs: pd.DataFrame, by: list[str], bins: dict[str, Bins]) -> pd.DataFrame:
    """One row per group of ``by``: the paired counts, interval and tests (:data:`COLUMNS`)."""
    ok_a = pairs["_ea"].to_numpy() >= 0
    ok_b = pairs["_eb"].to_numpy() >= 0
    d = pd.DataFrame({"_both": ok_a & ok_b, "_aonly": ok_a & ~ok_b, "_bonly": ~ok_a & ok_b,
                      "_neither": ~ok_a & ~ok_b,
                      "_de": (pairs["_eb"] - pairs["_ea"]).to_numpy(dtype=np.float64)})
    for a in by:
        d[a] = bin_index(pairs[a], bins[a]) if a in bins else pairs[a].to_numpy()
    if bins:
        d = d[(d[list(bins)] >= 0).all(axis=1)]
    keys = by or ["_one"]
    if not by:
        d["_one"] = 0
    grouped = d.groupby(keys, observed=True, sort=True)
    counts = grouped[["_both", "_aonly", "_bonly", "_neither"]].sum().astype(np.int64)
    both, a_only, b_only, neither = (counts[c].to_numpy() for c in
                                     ("_both", "_aonly", "_bonly", "_neither"))
    n = both + a_only + b_only + neither
    out = pd.DataFrame(index=counts.index)
    out["n_pairs"] = n
    out["a_rate"] = (both + a_only) / n
    out["b_rate"] = (both + b_only) / n
    out["diff"] = out["b_rate"] - out["a_rate"]
    low, high = paired_difference_interval(both, b_only, a_only, neither)
    out["diff_low"], out["diff_high"] = low, high
    out["p_value"] = mcnemar_exact(a_only, b_only)
    out["a_only"], out["b_only"], out["n_both"] = a_only, b_only, both
    # (the groups in the order of ``counts``: both sorted by the keys)
    tests = [signed_rank_test(g.loc[g["_both"], "_de"].to_numpy())
             for _, g in grouped[["_both", "_de"]]]
    out["epochs_diff_median"] = [t[0] for t in tests]
    out["epochs_p_value"] = [t[1] for t in tests]
    out = out.reset_index()
    if not by:
        out = out.drop(columns="_one")
    return with_bin_columns(out, bins)


def _check_by(by, allowed: list[str], what: str) -> list[str]:
    by = [by] if isinstance(by, str) else list(by)
    for a in by:
        if a not in allowed:
            raise CompareError(f"cannot compare by {a!r}: it is not {what}; choose from "
                               f"{_names(allowed)}")
    return by


def compare(df: pd.DataFrame, a: dict, b: dict, *, by=(), bins=None) -> pd.DataFrame:
    """Compare two cells, or bins, of one run pair by pair.

    Parameters
    ----------
    df : DataFrame, shape (n_nets, ...)
        Network table (:func:`analysis.load`), with ``replicate`` and
        ``converged_epoch``.
    a, b : dict
        The two selections, naming the same axes: ``{axis: value}`` (a float
        matches to 1e-9 relative, or as the pages show it, to its own three or
        more significant digits), ``{axis: [v1, v2]}`` (any of them) or
        ``{axis: (low, high)}`` (``low <= v < high``, for a continuous axis).
    by : list of str
        Axes to compare within, one row per value (or bin): axes that pair the
        networks, not those ``a`` and ``b`` name.
    bins : None, int or dict
        Bins of continuous ``by`` axes, as for :func:`analysis.convergence_table`.

    Returns
    -------
    DataFrame
        One row per group of ``by`` (one row without it), columns ``by`` then
        :data:`COLUMNS`: ``n_pairs``; ``a_rate`` and ``b_rate``, the shares of the
        paired networks that converged; ``diff`` = b_rate - a_rate with its 95%
        interval ``diff_low``, ``diff_high`` (Newcombe's hybrid score interval for
        paired data, :func:`analysis.stats.paired_difference_interval`);
        ``p_value``, the exact McNemar test of equal rates (two-sided binomial test
        of the discordant pairs at 1/2); ``a_only``, ``b_only``: the discordant
        pairs; ``n_both``: pairs converged in both; for those,
        ``epochs_diff_median``, the median of b's epochs to converge minus a's, and
        ``epochs_p_value``, the Wilcoxon signed-rank test's.  ``attrs``:
        ``paired_on`` (the key columns), ``unpaired`` (networks of a and of b left
        out), ``pooled`` (varying axes neither paired on nor named).

    Raises
    ------
    CompareError
        If ``a`` and ``b`` are not dicts naming the same known axes, select no
        network or overlap, if ``by`` names an axis that does not pair the
        networks, or if no network of ``a`` pairs with one of ``b``.

    Examples
    --------
    >>> df = pd.DataFrame({"lr": [0.5] * 4 + [2.0] * 4, "replicate": [0, 1, 2, 3] * 2,
    ...                    "converged_epoch": [-1, -1, 40, -1, 30, 25, 20, -1]})
    >>> t = compare(df, a={"lr": 0.5}, b={"lr": 2.0})
    >>> t[["n_pairs", "a_rate", "b_rate", "diff", "b_only", "p_value"]].to_dict("records")
    [{'n_pairs': 4, 'a_rate': 0.25, 'b_rate': 0.75, 'diff': 0.5, 'b_only': 2, 'p_value': 0.5}]
    """
    for side, sel in (("a", a), ("b", b)):
        if not isinstance(sel, dict) or not sel:
            raise CompareError(f"{side} must be a dict of axis values, e.g. {side}={{'lr': 0.5}}")
    if set(a) != set(b):
        raise CompareError(f"a and b must name the same axes; a names {_names(a)}, b names "
                           f"{_names(b)}")
    ma, mb = _select(df, a, "a"), _select(df, b, "b")
    for side, m in (("a", ma), ("b", mb)):
        if not m.any():
            sel = a if side == "a" else b
            raise CompareError(f"{side} = {sel!r} matches no network of this table; "
                               + "; ".join(_values_of(df, axis) for axis in sel)
                               + " (give values as these, or a range (low, high))")
    if (ma & mb).any():
        raise CompareError(f"a and b overlap: {int((ma & mb).sum())} networks match both; "
                           "choose disjoint values or ranges")
    named = list(a)
    key = _pair_key(df, named)
    by = _check_by(by, [k for k in key if k not in ("replicate", "point")],
                   "an axis that pairs the networks")
    A, B = df[ma], df[mb]
    pairs = _pairs(A, B, key, rank=True)
    if pairs.empty:
        raise CompareError("no network of a pairs with one of b (same replicate and the same "
                           f"values of {_names(key[1:])}); choose cells that share replicates")
    cont = continuous_axes(df)
    chosen = choose_bins(pairs, by, bins,
                         continuous={k: v for k, v in cont.items() if k in by},
                         bounds=df.attrs.get("sample_bounds", {})) if by else {}
    out = _summarize(pairs, by, chosen)
    out.attrs["paired_on"] = key
    out.attrs["unpaired"] = (int(len(A) - len(pairs)), int(len(B) - len(pairs)))
    out.attrs["pooled"] = [x for x in varying_axes(df) if x not in key and x not in named]
    return out


def _run_axes(df: pd.DataFrame) -> list[str]:
    return grid_axes(df) + (["point"] if "point" in df else [])


def compare_runs(df_a: pd.DataFrame, df_b: pd.DataFrame, *, by=(), bins=None) -> pd.DataFrame:
    """Compare two runs with the same seeds network by network: run b against run a.

    Typical pairs of runs: one spec in float32 and in float64, under bce and under
    mse, or before and after a change of the kernels.

    Parameters
    ----------
    df_a, df_b : DataFrame
        The two runs' network tables (:func:`analysis.load`), with ``seed`` and
        ``converged_epoch``.
    by : list of str
        Axes of both runs to compare within, one row per value (continuous axes in
        bins).
    bins : None, int or dict
        Bins of continuous ``by`` axes, as for :func:`analysis.convergence_table`.

    Returns
    -------
    DataFrame
        As :func:`compare`: columns ``by`` then :data:`COLUMNS`.  ``attrs``:
        ``paired_on`` (``seed`` and the axes matched), ``differs`` (axes of both
        runs whose values do not overlap, the things compared, then the
        :data:`SETTINGS` that differ, then the ``dtype`` or ``criterion`` of
        ``attrs["settings"]`` (:func:`analysis.load`) where they differ), ``unpaired``
        (networks of a and of b with no partner).

    Raises
    ------
    CompareError
        If a table lacks ``seed`` or ``converged_epoch``, if a run has several
        networks per seed and matched axes (it varies an axis the other lacks), if
        ``by`` names an axis that is not one of both runs, or if no network pairs
        (different spec seeds, or no axis values in common).

    Examples
    --------
    >>> a = pd.DataFrame({"loss": "bce", "lr": [0.5, 0.5, 2.0, 2.0], "seed": [0, 1, 0, 1],
    ...                   "converged_epoch": [-1, 9, 7, 8]})
    >>> b = a.assign(loss="mse", converged_epoch=[5, 9, 9, -1])
    >>> t = compare_runs(a, b, by=["lr"])
    >>> t[["lr", "n_pairs", "a_rate", "b_rate", "diff"]].to_dict("records")
    [{'lr': 0.5, 'n_pairs': 2, 'a_rate': 0.5, 'b_rate': 1.0, 'diff': 0.5}, \
{'lr': 2.0, 'n_pairs': 2, 'a_rate': 1.0, 'b_rate': 0.5, 'diff': -0.5}]
    >>> t.attrs["paired_on"], t.attrs["differs"]
    (['seed', 'lr'], ['loss'])
    """
    for side, df in (("a", df_a), ("b", df_b)):
        missing = [c for c in ("seed", "converged_epoch") if c not in df]
        if missing:
            raise CompareError(f"run {side}'s table has no {' or '.join(missing)} column; read "
                               "it with analysis.load(run_dir)")
    both_axes = [x for x in _run_axes(df_a) if x in _run_axes(df_b)]
    shared, differs = [], []
    for x in both_axes:
        common = set(_plain(df_a[x]).unique()) & set(_plain(df_b[x]).unique())
        (shared if common else differs).append(x)
    differs += [c for c in SETTINGS if c in df_a and c in df_b
                and set(_plain(df_a[c]).unique()) != set(_plain(df_b[c]).unique())]
    settings_a, settings_b = (df.attrs.get("settings", {}) for df in (df_a, df_b))
    differs += [k for k in settings_a if k in settings_b and settings_a[k] != settings_b[k]]
    by = _check_by(by, [x for x in shared if x != "point"], "an axis both runs share values of")
    key = ["seed", *shared]
    for side, df in (("a", df_a), ("b", df_b)):
        if df.duplicated(key).any():
            extra = [x for x in varying_axes(df) if x not in key] or ["replicate"]
            apart = [x for x in extra if x in differs]
            if apart:
                raise CompareError(f"the runs share no value of {_names(apart)}, which run "
                                   f"{side} varies, so its networks of one seed cannot be "
                                   f"paired; compare runs with {_names(apart)} values in common")
            raise CompareError(f"run {side} has several networks per seed and "
                               f"{_names(shared)}: it varies {_names(extra)}, which the other "
                               "run does not; compare runs of the same grid")
    pairs = _pairs(df_a, df_b, key, rank=False)
    if pairs.empty:
        seeds = set(df_a["seed"].unique()) & set(df_b["seed"].unique())
        if not seeds:
            raise CompareError("the runs share no seed, so no network pairs: a network's seed "
                               "is (spec seed << 32) + replicate; run both specs with the same "
                               "seed and replicates")
        raise CompareError(f"no network pairs: the runs share seeds but no combination of "
                           f"{_names(shared)}; compare runs of the same grid")
    cont = continuous_axes(df_a)
    chosen = choose_bins(pairs, by, bins, continuous={k: v for k, v in cont.items() if k in by},
                         bounds=df_a.attrs.get("sample_bounds", {})) if by else {}
    out = _summarize(pairs, by, chosen)
    out.attrs["paired_on"] = key
    out.attrs["differs"] = differs
    out.attrs["unpaired"] = (int(len(df_a) - len(pairs)), int(len(df_b) - len(pairs)))
    return out


def paired_p_values(df: pd.DataFrame, cells: np.ndarray, named, target: int,
                    others) -> pd.DataFrame:
    """Return the exact McNemar p-value of cell ``target`` against each cell of ``others``.

    Parameters
    ----------
    df : DataFrame, shape (n_nets, ...)
        Network table with ``replicate`` and ``converged_epoch``.
    cells : ndarray of int, shape (n_nets,)
        The cell of each network (-1: in none).
    named : list of str
        The axes that define the cells; networks pair as in :func:`compare`.
    target : int
        The cell every other is compared with.
    others : list of int
        The cells to compare.

    Returns
    -------
    DataFrame
        Index ``others``; columns ``n_pairs``, ``a_only`` (pairs where only the
        target converged), ``b_only`` and ``p_value``.
    """
    key = _pair_key(df, named)
    keep = cells >= 0
    d = df[keep]
    c = cells[keep]
    frame = pd.DataFrame({k: _plain(d[k]).to_numpy() for k in key})
    frame["_cell"] = c
    frame["_rank"] = _rank(d.assign(_cell=c), [*key, "_cell"])
    frame["_e"] = d["converged_epoch"].to_numpy(dtype=np.float64)
    wide = frame.set_index([*key, "_rank", "_cell"])["_e"].unstack("_cell")
    others = list(others)
    if target not in wide.columns:
        return pd.DataFrame({"n_pairs": 0, "a_only": 0, "b_only": 0, "p_value": 1.0},
                            index=pd.Index(others))
    t = wide[target].to_numpy()[:, None]
    m = wide.reindex(columns=others).to_numpy()
    present = ~np.isnan(t) & ~np.isnan(m)
    ok_t, ok_m = present & (t >= 0), present & (m >= 0)
    a_only = (ok_t & ~ok_m & present).sum(axis=0)
    b_only = (~ok_t & ok_m & present).sum(axis=0)
    return pd.DataFrame({"n_pairs": present.sum(axis=0), "a_only": a_only, "b_only": b_only,
                         "p_value": mcnemar_exact(a_only, b_only)}, index=pd.Index(others))
