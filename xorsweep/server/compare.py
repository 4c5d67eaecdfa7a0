"""Two runs side by side: their convergence rates per cell and the difference, B - A.

The statistics come from one seam, :func:`compare_table`: ``analysis.compare_runs``,
which pairs the networks of the two runs by seed, and where the runs cannot be
paired (different spec seeds), :func:`unpaired_difference`, which treats them as
independent samples.  Either way the table has ``a_rate``, ``b_rate``, ``diff`` =
b_rate - a_rate, ``diff_low``, ``diff_high`` and ``p_value`` per cell of the ``by``
axes, and the figures are drawn from it.
"""

from __future__ import annotations

import math
from urllib.parse import quote, urlencode

import numpy as np
import pandas as pd

import analysis
from analysis import plots
from analysis.report import choose_axes
from analysis.tables import grid_axes, varying_axes, wilson_interval
from sweeps.store import is_complete

from .runs import RunData, Snapshot
from .views import DRAW_LOCK, new_figure, render_png, run_spec, spec_frame, table_json

__all__ = ["CompareError", "compare_table", "default_by", "unpaired_difference", "comparison",
           "comparison_png"]


class CompareError(ValueError):
    """Two runs that cannot be compared as asked; the message says why."""


def _keys(df: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Return the ``by`` columns as plain values, so that two runs' cells match by value."""
    return pd.DataFrame({a: df[a].astype(object) if isinstance(df[a].dtype, pd.CategoricalDtype)
                         else df[a] for a in by})


def unpaired_difference(df_a: pd.DataFrame, df_b: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Compare convergence rates per cell of ``by``, the two runs taken as independent samples.

    Parameters
    ----------
    df_a, df_b : DataFrame
        Network tables of the two runs.
    by : list of str
        Grid axes of both runs; cells are matched by their values, and only cells
        present in both runs are kept.

    Returns
    -------
    DataFrame
        ``by``, ``a_n``, ``b_n``, ``a_rate``, ``b_rate``, ``diff`` = b_rate - a_rate (as
        :func:`analysis.compare_runs`) with its 95% interval ``diff_low``,
        ``diff_high`` (Newcombe's hybrid score interval, from the two Wilson
        intervals) and ``p_value`` (two-sided, the pooled two-proportion z test; 1
        where both rates are 0 or both 1).

    Examples
    --------
    >>> a = pd.DataFrame({"lr": [1.0] * 4, "converged_epoch": [3, 5, -1, 2]})
    >>> b = pd.DataFrame({"lr": [1.0] * 4, "converged_epoch": [-1, -1, -1, 9]})
    >>> unpaired_difference(a, b, ["lr"])["diff"].tolist()
    [-0.5]
    """
    sides = []
    for df in (df_a, df_b):
        d = _keys(df, by).assign(_ok=(df["converged_epoch"] >= 0).to_numpy())
        g = d.groupby(by, sort=True) if by else d.assign(_one=0).groupby("_one")
        t = pd.DataFrame({"n": g.size(), "k": g["_ok"].sum()})
        sides.append(t)
    t = sides[0].merge(sides[1], how="inner", left_index=True, right_index=True,
                       suffixes=("_a", "_b"))
    if by:
        t = t.reset_index()
    else:
        t = t.reset_index(drop=True)
    na, ka = t["n_a"].to_numpy(np.float64), t["k_a"].to_numpy(np.float64)
    nb, kb = t["n_b"].to_numpy(np.float64), t["k_b"].to_numpy(np.float64)
    pa, pb = ka / na, kb / nb
    la, ha = wilson_interval(ka, na)
    lb, hb = wilson_interval(kb, nb)
    diff = pb - pa
    low = diff - np.sqrt((pb - lb) ** 2 + (ha - pa) ** 2)
    high = diff + np.sqrt((hb - pb) ** 2 + (pa - la) ** 2)
    pooled = (ka + kb) / (na + nb)
    se = np.sqrt(pooled * (1 - pooled) * (1 / na + 1 / nb))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, np.abs(diff) / se, 0.0)
    p = np.array([math.erfc(v / math.sqrt(2)) for v in z])
    out = t[by].copy() if by else pd.DataFrame(index=t.index)
    out["a_n"], out["b_n"] = t["n_a"].astype(np.int64), t["n_b"].astype(np.int64)
    out["a_rate"], out["b_rate"], out["diff"] = pa, pb, diff
    out["diff_low"], out["diff_high"], out["p_value"] = low, high, p
    return out


def compare_table(df_a: pd.DataFrame, df_b: pd.DataFrame, by: list[str]
                  ) -> tuple[pd.DataFrame, str]:
    """Return the per-cell comparison of two runs and the name of the method used.

    :func:`analysis.compare_runs` (networks paired by seed); where it cannot pair
    the runs, :func:`unpaired_difference`, and the method says why.

    Raises
    ------
    CompareError
        If the runs have no cell of ``by`` in common.
    """
    try:
        t = analysis.compare_runs(df_a, df_b, by=by)
    except analysis.CompareError as exc:
        paired = str(exc)
    else:
        differs = t.attrs["differs"]
        return t, "paired by seed" + (f"; the runs differ in {', '.join(differs)}"
                                      if differs else "")
    t = unpaired_difference(df_a, df_b, by)
    if not len(t):
        raise CompareError(paired)
    return t, f"unpaired, as independent samples ({paired})"


def default_by(df_a: pd.DataFrame, df_b: pd.DataFrame) -> list[str]:
    """Return the axes to compare by: A's heatmap axes if B shares values, else shared ones.

    The shared ones are the grid axes of both runs that vary in either and take a
    value in both: cells pair by equal values (a zoom into A shares none of A's).
    """
    def shared(a):
        return a in df_b and bool(set(df_a[a].unique()) & set(df_b[a].unique()))

    x, y = choose_axes(df_a)
    chosen = [a for a in (x, y) if a is not None]
    if chosen and all(shared(a) for a in chosen):
        return chosen
    return [a for a in grid_axes(df_a) if shared(a) and
            (a in varying_axes(df_a) or a in varying_axes(df_b))][:2]


def _check_by(df_a, df_b, by: list[str]) -> None:
    for a in by:
        if a not in grid_axes(df_a) or a not in grid_axes(df_b):
            shared = [c for c in grid_axes(df_a) if c in grid_axes(df_b)]
            raise CompareError(f"by {a!r} is not an axis of both runs; choose among "
                               f"{', '.join(shared) or 'none'}")
    if len(set(by)) != len(by):
        raise CompareError("by names an axis twice")


def comparison(a: tuple[RunData, Snapshot], b: tuple[RunData, Snapshot],
               by: list[str] | None) -> dict:
    """Return the comparison of two runs: its table, method and figures (cached per versions).

    Raises
    ------
    CompareError
        If a run has no finished chunk, or ``by`` names an axis that is not in both.
    """
    (data_a, snap_a), (data_b, snap_b) = a, b
    for snap in (snap_a, snap_b):
        if not snap.n:
            raise CompareError(f"{snap.path.name} has no finished chunk yet")
    by = default_by(snap_a.cells, snap_b.cells) if not by else list(by)
    _check_by(snap_a.cells, snap_b.cells, by)
    key = ("compare", str(snap_b.path), snap_b.version, tuple(by))
    spec_a, spec_b = run_spec(data_a, snap_a), run_spec(data_b, snap_b)  # not inside cached

    def compute():  # bins as the report's: the frames carry their specs' [sample] ranges
        t, method = compare_table(spec_frame(data_a.frame(), spec_a),
                                  spec_frame(data_b.frame(), spec_b), by)
        return {"by": by, "method": method, "frame": t}
    result = data_a.cached(snap_a, key, compute)
    t = result["frame"]
    names = ["rates", "difference"] if len(by) in (1, 2) and len(t) else []
    either = set(varying_axes(snap_a.cells)) | set(varying_axes(snap_b.cells))
    pooled = [a for a in grid_axes(snap_a.cells) if a in either and a not in by]
    query = urlencode([("a", snap_a.path.name), ("b", snap_b.path.name),
                       *(("by", a) for a in by)])
    version = f"{snap_a.version}-{snap_b.version}"
    return {"a": _side(snap_a), "b": _side(snap_b), "by": by, "method": result["method"],
            "cells": len(t), "version": version, "pooled": pooled,
            "difference": "b_rate - a_rate",
            "figures": [{"name": f, "url": f"/api/compare/figures/{f}.png?{query}&v={version}"}
                        for f in names],
            "table": table_json(t), "frame": t}


def _side(snap: Snapshot) -> dict:
    m = snap.manifest
    return {"name": snap.path.name, "version": snap.version, "networks": snap.n,
            "networks_total": m["n_networks"], "epochs": m["epochs"],
            "rate": snap.converged / snap.n, "complete": is_complete(m),
            "url": f"/runs/{quote(snap.path.name, safe='')}"}


def comparison_png(result: dict, figure: str) -> bytes | None:
    """Draw one comparison figure: ``rates`` (A and B side by side) or ``difference``."""
    t, by, pooled = result["frame"], result["by"], result["pooled"]
    if figure not in ("rates", "difference") or not len(t) or len(by) not in (1, 2):
        return None
    names = result["a"]["name"], result["b"]["name"]
    with DRAW_LOCK:
        if len(by) == 2:
            x, y = by[0], by[1]
            xs, ys = sorted(t[x].unique().tolist()), sorted(t[y].unique().tolist())
            width = max(6.0, min(12.0, 0.6 * len(xs) + 3))
            height = max(4.5, min(10.0, 0.5 * len(ys) + 2.5))
            if figure == "rates":
                fig, axes = new_figure(2 * width, height, ncols=2)
                for ax, side, name in zip(axes, ("a", "b"), names, strict=True):
                    h = _heatmap(t, x, y, xs, ys, f"{side}_rate", pooled)
                    plots.plot_heatmap(h, ax)
                    ax.set_title(f"{name}: convergence rate ({plots.pooled_note(pooled)})",
                                 fontsize=10)
            else:
                fig, ax = new_figure(width + 1, height)
                _plot_difference(t, x, y, xs, ys, ax, names, pooled)
        else:
            x = by[0]
            fig, ax = new_figure(8, 5)
            _plot_difference_line(t, x, ax, names, figure, pooled)
        return render_png(fig)


def _pivot(t, x, y, xs, ys, column) -> np.ndarray:
    return t.pivot_table(index=y, columns=x, values=column, aggfunc="first", dropna=False
                         ).reindex(index=ys, columns=xs).to_numpy(dtype=np.float64)


def _heatmap(t, x, y, xs, ys, column, pooled) -> plots.HeatmapData:
    n_col = "n_pairs" if "n_pairs" in t else f"{column[0]}_n"
    n = np.nan_to_num(_pivot(t, x, y, xs, ys, n_col)).astype(np.int64)
    return plots.HeatmapData(x=x, y=y, metric="rate", x_values=xs, y_values=ys,
                             values=_pivot(t, x, y, xs, ys, column), n=n,
                             x_log=plots.is_log_spaced(xs), y_log=plots.is_log_spaced(ys),
                             pooled=pooled)


def _plot_difference(t, x, y, xs, ys, ax, names, pooled) -> None:
    """Draw b_rate - a_rate per cell in a diverging map; cells whose interval excludes 0 bold."""
    diff = np.ma.masked_invalid(_pivot(t, x, y, xs, ys, "diff"))
    low, high = _pivot(t, x, y, xs, ys, "diff_low"), _pivot(t, x, y, xs, ys, "diff_high")
    xlog, ylog = plots.is_log_spaced(xs), plots.is_log_spaced(ys)
    xe, ye = plots.cell_edges(xs, xlog), plots.cell_edges(ys, ylog)
    span = max(0.05, float(np.nanmax(np.abs(diff.filled(np.nan))))) if diff.count() else 1.0
    mesh = ax.pcolormesh(xe, ye, diff, cmap="RdBu", vmin=-span, vmax=span, shading="flat")
    ax.figure.colorbar(mesh, ax=ax, label=f"rate of {names[1]} - rate of {names[0]}")
    if xlog:
        ax.set_xscale("log")
    if ylog:
        ax.set_yscale("log")
    xc = np.sqrt(xe[1:] * xe[:-1]) if xlog else (xe[1:] + xe[:-1]) / 2
    yc = np.sqrt(ye[1:] * ye[:-1]) if ylog else (ye[1:] + ye[:-1]) / 2
    ax.set_xticks(xc, [plots.format_value(v) for v in xs], rotation=45 if len(xs) > 6 else 0)
    ax.set_yticks(yc, [plots.format_value(v) for v in ys])
    ax.minorticks_off()
    if diff.size <= 400:
        for i, yv in enumerate(yc):
            for j, xv in enumerate(xc):
                if diff.mask is not np.ma.nomask and diff.mask[i, j]:
                    continue
                v = float(diff[i, j])
                sure = low[i, j] > 0 or high[i, j] < 0
                ax.text(xv, yv, f"{v:+.2f}", ha="center", va="center", fontsize=8,
                        fontweight="bold" if sure else "normal",
                        color="white" if abs(v) > 0.6 * span else "black")
    ax.set_xlabel(plots.axis_label(x))
    ax.set_ylabel(plots.axis_label(y))
    ax.set_title(f"difference of convergence rates, {names[1]} - {names[0]}; bold: 95% "
                 f"interval excludes 0 ({plots.pooled_note(pooled)})", fontsize=10)


def _plot_difference_line(t, x, ax, names, figure, pooled) -> None:
    """One axis: both rates against it, or their difference with its 95% interval."""
    t = t.sort_values(x)
    values = t[x].tolist()
    numeric = all(isinstance(v, int | float | np.integer | np.floating) for v in values)
    xs = np.asarray(values, dtype=np.float64) if numeric else np.arange(len(values))
    if figure == "rates":
        for column, name, colour in (("a_rate", names[0], plots.QUALITATIVE[0]),
                                     ("b_rate", names[1], plots.QUALITATIVE[1])):
            ax.plot(xs, t[column], marker="o", color=colour, label=name)
        ax.set_ylim(0, 1.02)
        ax.set_ylabel("convergence rate")
        ax.legend(fontsize=8)
    else:
        d = t["diff"].to_numpy()
        err = np.clip(np.vstack([d - t["diff_low"], t["diff_high"] - d]), 0, None)
        ax.errorbar(xs, d, yerr=err, marker="o", capsize=3, color=plots.QUALITATIVE[0])
        ax.axhline(0, color="#888", lw=0.8)
        ax.set_ylabel(f"rate of {names[1]} - rate of {names[0]} (95% interval)")
    if numeric and plots.is_log_spaced(values):
        ax.set_xscale("log")
    if not numeric:
        ax.set_xticks(xs, [plots.format_value(v) for v in values])
    ax.set_xlabel(plots.axis_label(x))
    what = "convergence rates" if figure == "rates" else "difference of convergence rates"
    ax.set_title(f"{what} ({plots.pooled_note(pooled)})", fontsize=10)
