"""Figures: a pure function computes each figure's data, a thin renderer draws it.

Renderers take an optional matplotlib ``ax`` and return it; without one they make
a new figure with ``plt.subplots``.  They change no global style (no rcParams,
no ``plt.style.use``).  The data functions are plain pandas/numpy and are tested
on hand-built frames.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .axes import continuous_axes
from .tables import (
    FAILURE_MODES,
    FAILURE_TOL,
    STATIONARY_LOSSES,
    convergence_table,
    failure_modes,
    grid_axes,
    is_param_axis,
    varying_axes,
)

__all__ = ["METRICS", "FAILURE_MODES", "HeatmapData", "is_log_spaced", "heatmap_data",
           "plot_heatmap", "plot_loss_bands", "plot_fraction_converged",
           "failure_mode_shares", "plot_failure_modes", "epochs_histogram",
           "plot_epochs_histogram", "plot_rate", "pooled_note", "format_value",
           "QUALITATIVE", "BandPanels", "band_panels", "plot_loss_band_panels", "axis_label",
           "cell_edges", "design_points", "plot_design_points"]

#: Heatmap metrics: column of :func:`convergence_table` -> (label, log colour scale).
METRICS: dict[str, tuple[str, bool]] = {
    "rate": ("convergence rate", False),
    "expected_epochs": ("expected epochs to a solution, with restarts", True),
    "epochs_median": ("median epochs to converge (converged networks)", False),
    "final_loss_median": ("median final loss", True),
}

#: A heatmap cell with no network (outside a sample's points, or a refined run's cells
#: that no level reached).
_EMPTY_CELL = "#e3e3e3"

#: Colours that stay apart for colour-blind readers too (Okabe & Ito), yellow left out:
#: the groups of a loss-band plot that share one panel.
QUALITATIVE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#56B4E9", "#E69F00", "#000000")

#: Groups drawn together in one loss-band panel; more get one panel each.
MAX_OVERLAID_BANDS = 3

_MAX_ANNOTATED_CELLS = 400


def axis_label(name: str) -> str:
    """Return an axis' figure label: "learning rate" for ``lr``, "initial b2" for ``b2``."""
    if is_param_axis(name):
        return f"initial {name}"
    return {"lr": "learning rate", "init_scale": "init scale", "hidden": "hidden units"
            }.get(name, name)


def pooled_note(pooled: list[str]) -> str:
    """Return "pooled over a, b" (or "nothing pooled") for a title."""
    return f"pooled over {', '.join(pooled)}" if pooled else "nothing pooled"


def format_value(v) -> str:
    """Format an axis value compactly (3 significant digits for floats)."""
    if isinstance(v, float | np.floating):
        return f"{v:.3g}"
    return str(v)


def is_log_spaced(values) -> bool:
    """Return whether numeric ``values`` form a geometric, not an arithmetic, progression.

    Needs at least three distinct positive values; ratios of neighbours equal within 1%.
    """
    try:
        v = np.unique(np.asarray(values, dtype=np.float64))
    except (TypeError, ValueError):
        return False
    if len(v) < 3 or v[0] <= 0:
        return False
    ratios = v[1:] / v[:-1]
    steps = np.diff(v)
    geometric = np.allclose(ratios, ratios[0], rtol=0.01)
    arithmetic = np.allclose(steps, steps[0], rtol=0.01)
    return bool(geometric and not arithmetic)


@dataclass(frozen=True)
class HeatmapData:
    """Heatmap cells: ``values[i, j]`` and ``n[i, j]`` at (``y_values[i]``, ``x_values[j]``)."""

    x: str
    y: str
    metric: str
    x_values: list
    y_values: list
    values: np.ndarray
    n: np.ndarray
    x_log: bool
    y_log: bool
    pooled: list[str]
    x_edges: np.ndarray | None = None  # bin edges of a binned (continuous) axis
    y_edges: np.ndarray | None = None

    @property
    def title(self) -> str:
        """Title naming the metric and what was pooled."""
        binned = [a for a, e in ((self.x, self.x_edges), (self.y, self.y_edges))
                  if e is not None]
        note = f"; {', '.join(binned)} in bins" if binned else ""
        return f"{METRICS[self.metric][0]} ({pooled_note(self.pooled)}{note})"


def heatmap_data(df: pd.DataFrame, x: str, y: str, metric: str = "rate") -> HeatmapData:
    """Compute a metric of :func:`convergence_table` over two axes; other axes pooled.

    Parameters
    ----------
    df : DataFrame
        Network table.
    x, y : str
        Two different grid axes (columns of ``df``).
    metric : str
        A key of :data:`METRICS`.

    Returns
    -------
    HeatmapData
        Cells without networks hold NaN and n = 0.  A continuous axis (a sampled
        one, :func:`analysis.axes.continuous_axes`) is binned as in
        :func:`convergence_table`: its values are the bins' centres, every bin
        listed, and ``x_edges`` / ``y_edges`` hold the edges.

    Raises
    ------
    ValueError
        On an unknown metric or axis, or ``x == y``.
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
    for a in (x, y):
        if a not in df:
            raise ValueError(f"unknown axis {a!r}; the run has {', '.join(grid_axes(df))}")
    if x == y:
        raise ValueError(f"x and y are both {x!r}; choose two different axes")
    table = convergence_table(df, by=[y, x])
    bins = table.attrs["bins"]
    xs = bins[x].centres.tolist() if x in bins else sorted(df[x].unique().tolist())
    ys = bins[y].centres.tolist() if y in bins else sorted(df[y].unique().tolist())
    values = table.pivot(index=y, columns=x, values=metric).reindex(index=ys, columns=xs)
    n = table.pivot(index=y, columns=x, values="n").reindex(index=ys, columns=xs)
    return HeatmapData(x=x, y=y, metric=metric, x_values=xs, y_values=ys,
                       values=values.to_numpy(dtype=np.float64),
                       n=n.fillna(0).to_numpy(dtype=np.int64),
                       x_log=bins[x].log if x in bins else is_log_spaced(xs),
                       y_log=bins[y].log if y in bins else is_log_spaced(ys),
                       pooled=table.attrs["pooled"],
                       x_edges=bins[x].edges if x in bins else None,
                       y_edges=bins[y].edges if y in bins else None)


def cell_edges(values: list, log: bool) -> np.ndarray:
    """Cell edges: midpoints between numeric values (geometric if log), else unit cells."""
    if not values or not all(isinstance(v, int | float | np.integer | np.floating)
                             for v in values):
        return np.arange(len(values) + 1) - 0.5
    v = np.asarray(values, dtype=np.float64)
    if len(v) == 1:
        return np.array([v[0] / 2, v[0] * 2]) if log or v[0] > 0 else v[0] + np.array([-.5, .5])
    if log:
        lv = np.log(v)
        mids = (lv[1:] + lv[:-1]) / 2
        return np.exp(np.concatenate([[2 * lv[0] - mids[0]], mids, [2 * lv[-1] - mids[-1]]]))
    mids = (v[1:] + v[:-1]) / 2
    return np.concatenate([[2 * v[0] - mids[0]], mids, [2 * v[-1] - mids[-1]]])


def _centres(values: list, edges: np.ndarray, log: bool) -> np.ndarray:
    if log:
        return np.sqrt(edges[1:] * edges[:-1])
    return (edges[1:] + edges[:-1]) / 2


def _new_ax(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(7, 5))
    return ax


def plot_heatmap(data: HeatmapData, ax=None):
    """Draw a heatmap: log axes where the values are log-spaced, cells annotated, colour bar.

    Cells show the value and n (when there are at most 400 cells); a cell with no
    network is light grey, one whose value is undefined (none of its networks
    converged, for the epochs; no finite loss) hatched, each named in a key above the
    plot.
    Returns ``ax``.
    """
    from matplotlib.colors import ListedColormap, LogNorm
    from matplotlib.patches import Patch

    ax = _new_ax(ax)
    xe = cell_edges(data.x_values, data.x_log) if data.x_edges is None else data.x_edges
    ye = cell_edges(data.y_values, data.y_log) if data.y_edges is None else data.y_edges
    label, log_colour = METRICS[data.metric]
    vals = np.ma.masked_invalid(data.values)
    norm = None
    if log_colour and vals.count() and vals.min() > 0 and vals.max() > vals.min():
        norm = LogNorm(vmin=vals.min(), vmax=vals.max())
    cmap = "viridis_r" if data.metric != "rate" else "viridis"
    kw = {"vmin": 0.0, "vmax": 1.0} if data.metric == "rate" else {"norm": norm}
    mesh = ax.pcolormesh(xe, ye, vals, cmap=cmap, shading="flat", **kw)
    ax.figure.colorbar(mesh, ax=ax, label=label)
    # cells the colour scale leaves out, hatched over white (no colour of the scale is
    # close to it): none of the networks converged (expected epochs infinite, no epochs
    # to take a median of), or their losses are not finite; and, grey, no network at all
    undefined = (data.n > 0) & ~np.isfinite(data.values)
    what = "none converged" if "epochs" in data.metric else "no finite value"
    keys = []
    for where, colour, hatch, label in ((undefined, "white", "xx", what),
                                        (data.n == 0, _EMPTY_CELL, "", "no network")):
        if where.any():
            cells = ax.pcolor(xe, ye, np.ma.masked_where(~where, np.ones(where.shape)),
                              cmap=ListedColormap([colour]), hatch=hatch,
                              edgecolor="#555555" if hatch else "none", linewidth=0)
            if hatch:
                cells.set_hatch_linewidth(0.6)
            keys.append(Patch(facecolor=colour, edgecolor="#555555", hatch=hatch, label=label))
    if keys:
        ax.legend(handles=keys, loc="lower right", bbox_to_anchor=(1.0, 1.0), ncols=len(keys),
                  frameon=False, fontsize=8, handlelength=1.2, borderaxespad=0.2)
    if data.x_log:
        ax.set_xscale("log")
    if data.y_log:
        ax.set_yscale("log")
    xc, yc = _centres(data.x_values, xe, data.x_log), _centres(data.y_values, ye, data.y_log)
    ax.set_xticks(xc, [format_value(v) for v in data.x_values], rotation=45 if len(xc) > 6 else 0)
    ax.set_yticks(yc, [format_value(v) for v in data.y_values])
    ax.minorticks_off()
    if data.values.size <= _MAX_ANNOTATED_CELLS:
        small = 7 if data.values.size > 60 else 8
        for i, yv in enumerate(yc):
            for j, xv in enumerate(xc):
                v = data.values[i, j]
                if data.n[i, j] == 0:
                    continue
                if not np.isfinite(v):  # epochs when nothing converged: on the hatching
                    text, colour = ("never" if "epochs" in data.metric else "n/a"), "black"
                else:
                    text = _cell_text(v, data.metric)
                    dark = mesh.norm(v) < 0.5 if data.metric == "rate" else mesh.norm(v) > 0.5
                    colour = "white" if dark else "black"
                ax.text(xv, yv, f"{text}\nn={data.n[i, j]}", ha="center", va="center",
                        fontsize=small, color=colour,
                        bbox=None if np.isfinite(v) else {"facecolor": "white", "pad": 0.5,
                                                          "edgecolor": "none"})
    ax.set_xlabel(axis_label(data.x))
    ax.set_ylabel(axis_label(data.y))
    ax.set_title(data.title, fontsize=10)
    return ax


def _cell_text(v: float, metric: str) -> str:
    if metric == "rate":
        return f"{v:.2f}"
    if metric.startswith("final_loss"):
        return f"{v:.2g}"
    return f"{v:,.0f}"


def _group_colours(n: int):
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    return [cmap(i / max(n - 1, 1) * 0.9) for i in range(n)]


def _band_groups(bands: pd.DataFrame) -> list:
    return list(dict.fromkeys(bands.columns.get_level_values(0)))


@dataclass(frozen=True)
class BandPanels:
    """Layout of a loss-band figure: ``panels[k]`` lists the groups drawn in panel k.

    Panels fill a grid of ``n_rows`` x ``n_cols`` row by row; all share their axes.
    ``colours[k]`` is the colour of each group of ``panels[k]``.
    """

    panels: list[list]
    colours: list[list[str]]
    n_rows: int
    n_cols: int


def band_panels(groups: list, *, max_overlaid: int = MAX_OVERLAID_BANDS, max_cols: int = 4
                ) -> BandPanels:
    """Lay out loss bands: a few groups overlaid in one panel, more as small multiples.

    Up to ``max_overlaid`` groups share one panel, in the colours of
    :data:`QUALITATIVE`; more groups get one panel each (``max_cols`` to a row), in
    one colour, so that bands never pile on top of each other.

    Examples
    --------
    >>> band_panels(["a", "b"]).panels
    [['a', 'b']]
    >>> p = band_panels(list(range(6)))
    >>> p.panels[:2], (p.n_rows, p.n_cols)
    ([[0], [1]], (2, 4))
    """
    groups = list(groups)
    if len(groups) <= max_overlaid:
        return BandPanels([groups], [list(QUALITATIVE[:len(groups)])], 1, 1)
    n_cols = min(max_cols, len(groups))
    return BandPanels([[g] for g in groups], [[QUALITATIVE[0]] for _ in groups],
                      math.ceil(len(groups) / n_cols), n_cols)


def _group_label(g, group_name: str) -> str:
    return f"{group_name} = {format_value(g)}" if group_name else format_value(g)


def plot_loss_band_panels(bands: pd.DataFrame, fig=None, *, group_name: str = "",
                          pooled=()):
    """Draw loss bands as :func:`band_panels` lays them out; returns the figure.

    Each panel draws its groups' median and interquartile band on a log y axis; in
    small multiples the other groups' medians are thin grey lines for comparison.
    ``bands`` is :func:`analysis.curves.loss_bands`' output.
    """
    if fig is None:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=(7, 5), layout="constrained")
    groups = _band_groups(bands)
    layout = band_panels(groups)
    if len(layout.panels) == 1:
        plot_loss_bands(bands, fig.add_subplot(), group_name=group_name, pooled=pooled)
        return fig
    axes = fig.subplots(layout.n_rows, layout.n_cols, sharex=True, sharey=True,
                        squeeze=False)
    for k, ax in enumerate(axes.flat):
        if k >= len(layout.panels):
            ax.set_visible(False)
            continue
        for g in groups:
            if g not in layout.panels[k]:
                ax.plot(bands.index, bands[(g, "q50")], color="#c4c4c4", lw=0.7, zorder=1)
        for colour, g in zip(layout.colours[k], layout.panels[k], strict=True):
            _draw_band(ax, bands, g, colour, label=None)
            ax.set_title(_group_label(g, group_name), fontsize=9)
        ax.set_yscale("log")
        ax.tick_params(labelsize=8)
    for ax in axes[-1]:
        ax.set_xlabel("epoch", fontsize=9)
    for k in range(len(layout.panels), axes.size):  # the last row is partly empty
        axes.flat[k - layout.n_cols].xaxis.set_tick_params(labelbottom=True)
        axes.flat[k - layout.n_cols].set_xlabel("epoch", fontsize=9)
    for ax in axes[:, 0]:
        ax.set_ylabel("loss", fontsize=9)
    fig.suptitle(f"loss curves, median and interquartile range, one panel per group; grey: "
                 f"the other groups' medians ({pooled_note(list(pooled))})", fontsize=10)
    return fig


def _draw_band(ax, bands, g, colour, label):
    ax.fill_between(bands.index, bands[(g, "q25")], bands[(g, "q75")], color=colour,
                    alpha=0.25, lw=0, zorder=2)
    ax.plot(bands.index, bands[(g, "q50")], color=colour, lw=1.6, label=label, zorder=3)


def plot_loss_bands(bands: pd.DataFrame, ax=None, *, group_name: str = "", pooled=()):
    """Draw the median loss per group with its interquartile band, log y.  Returns ``ax``.

    ``bands`` is :func:`analysis.curves.loss_bands`' output (columns q25, q50, q75).
    The groups share one panel, in the colours of :data:`QUALITATIVE` (repeated
    past its length: :func:`plot_loss_band_panels` keeps many groups apart).
    """
    ax = _new_ax(ax)
    groups = _band_groups(bands)
    colours = [QUALITATIVE[i % len(QUALITATIVE)] for i in range(len(groups))]
    for colour, g in zip(colours, groups, strict=True):
        _draw_band(ax, bands, g, colour, label=_group_label(g, group_name))
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (median and interquartile range)")
    ax.set_title(f"loss curves ({pooled_note(list(pooled))})", fontsize=10)
    if groups:
        ax.legend(fontsize=7, ncol=2 if len(groups) > 6 else 1)
    return ax


def plot_fraction_converged(frac: pd.DataFrame, ax=None):
    """Draw the fraction converged by epoch per group (from :func:`fraction_converged`).

    Returns ``ax``.
    """
    ax = _new_ax(ax)
    name = frac.columns.name
    for colour, g in zip(_group_colours(frac.shape[1]), frac.columns, strict=True):
        ax.step(frac.index, frac[g], where="post", color=colour,
                label=f"{name} = {format_value(g)}" if name else format_value(g))
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("epoch")
    ax.set_ylabel("fraction converged")
    ax.set_title(f"time to converge ({pooled_note(frac.attrs.get('pooled', []))})",
                 fontsize=10)
    ax.legend(fontsize=7, ncol=2 if frac.shape[1] > 6 else 1)
    return ax


def failure_mode_shares(df: pd.DataFrame, by: str | None = None, tol: float = FAILURE_TOL
                        ) -> pd.DataFrame:
    """Share of each outcome pattern per group: converged, then the XOR failure modes.

    Rows: groups of ``by`` (one row ``"all"`` without it); columns
    :data:`FAILURE_MODES` (absent patterns are 0); rows sum to 1.
    ``attrs["pooled"]`` lists the pooled axes, ``attrs["loss"]`` the run's loss(es).
    """
    modes = pd.Categorical(failure_modes(df, tol), categories=list(FAILURE_MODES))
    keys = df[by].to_numpy() if by else np.full(len(df), "all", dtype=object)
    counts = pd.crosstab(pd.Series(keys, name=by or "group"),
                         pd.Series(modes, name="failure_mode"), dropna=False)
    counts = counts.reindex(columns=list(FAILURE_MODES), fill_value=0)
    shares = counts.div(counts.sum(axis=1), axis=0)
    shares.columns = pd.Index(list(shares.columns), name="failure_mode")
    shares.attrs["pooled"] = varying_axes(df, exclude=[by] if by else [])
    shares.attrs["loss"] = sorted(df["loss"].astype(str).unique()) if "loss" in df else ["bce"]
    return shares


def plot_failure_modes(shares: pd.DataFrame, ax=None):
    """Draw stacked bars of outcome shares per group; the legend gives each pattern's loss."""
    from matplotlib import colormaps

    ax = _new_ax(ax)
    colours = ["#2a9d8f"] + [colormaps["Oranges"](0.35 + 0.6 * i / 4) for i in range(4)] \
        + ["#9e9e9e"]
    x = np.arange(len(shares))
    bottom = np.zeros(len(shares))
    losses = shares.attrs.get("loss", ["bce"])
    for colour, mode in zip(colours, FAILURE_MODES, strict=True):
        label = mode
        if mode in STATIONARY_LOSSES["bce"] and len(losses) == 1:
            lv = STATIONARY_LOSSES[losses[0]].get(mode, math.nan)
            label += f" (loss {lv:.3f})" if math.isfinite(lv) else ""
        ax.bar(x, shares[mode].to_numpy(), bottom=bottom, color=colour, label=label,
               width=0.8)
        bottom += shares[mode].to_numpy()
    ax.set_xticks(x, [format_value(v) for v in shares.index], rotation=45 if len(x) > 6 else 0)
    ax.set_ylim(0, 1)
    ax.set_xlabel(axis_label(shares.index.name or ""))
    ax.set_ylabel("share of networks")
    ax.set_title(f"outcomes and XOR failure modes ({pooled_note(shares.attrs.get('pooled', []))})",
                 fontsize=10)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    return ax


def epochs_histogram(df: pd.DataFrame, bins: int = 40) -> pd.DataFrame:
    """Histogram of ``converged_epoch`` over the converged networks (all groups pooled).

    Returns one row per bin: ``left``, ``right`` (bin edges over 0 .. epoch limit)
    and ``count``.  ``attrs["n_converged"]`` and ``attrs["n"]`` give the totals.
    """
    limit = int(df["epochs"].max()) if len(df) else 0
    ce = df["converged_epoch"].to_numpy()
    ce = ce[ce >= 0]
    edges = np.linspace(0, max(limit, 1), bins + 1)
    counts, _ = np.histogram(ce, bins=edges)
    out = pd.DataFrame({"left": edges[:-1], "right": edges[1:], "count": counts})
    out.attrs["n_converged"] = int(len(ce))
    out.attrs["n"] = int(len(df))
    out.attrs["pooled"] = varying_axes(df)
    return out


def plot_epochs_histogram(hist: pd.DataFrame, ax=None):
    """Draw the distribution of epochs to converge.  Returns ``ax``."""
    ax = _new_ax(ax)
    ax.bar(hist["left"], hist["count"], width=hist["right"] - hist["left"], align="edge",
           color="#2a9d8f", edgecolor="white", lw=0.3)
    ax.set_xlabel("epoch of convergence")
    ax.set_ylabel("networks")
    n_conv, n = hist.attrs.get("n_converged", 0), hist.attrs.get("n", 0)
    ax.set_title(f"epochs to converge: {n_conv:,} of {n:,} networks converged "
                 f"({pooled_note(hist.attrs.get('pooled', []))})", fontsize=10)
    return ax


def plot_rate(table: pd.DataFrame, axis: str, ax=None, *, by: str | None = None,
              failure: bool = False):
    """Draw the convergence rate with its 95% Wilson interval against one axis.

    Parameters
    ----------
    table : DataFrame
        :func:`convergence_table` grouped by ``axis`` (and by ``by``).
    axis : str
        The x axis; log scale when its values are log-spaced.
    ax : matplotlib Axes, optional
        Where to draw (default: a new figure).
    by : str, optional
        Draw one line per value of this column, with a legend.
    failure : bool
        Draw 1 - rate, the share of networks that did not converge.

    Returns
    -------
    Axes
        ``ax``.
    """
    ax = _new_ax(ax)
    groups = [(None, table)] if by is None else list(table.groupby(by, observed=True,
                                                                   sort=True))
    colours = ["#2a9d8f"] if by is None else _group_colours(len(groups))
    values = table[axis].drop_duplicates().tolist()
    numeric = all(isinstance(v, int | float | np.integer | np.floating) for v in values)
    if numeric:
        values = sorted(values)
    for colour, (key, t) in zip(colours, groups, strict=True):
        xs = (t[axis].to_numpy(dtype=np.float64) if numeric
              else np.array([values.index(v) for v in t[axis]], dtype=np.float64))
        rate, low, high = (t[c].to_numpy() for c in ("rate", "rate_low", "rate_high"))
        if failure:
            rate, low, high = 1 - rate, 1 - high, 1 - low
        err = np.clip(np.vstack([rate - low, high - rate]), 0, None)
        key = key[0] if isinstance(key, tuple) else key
        label = None if by is None else f"{by} = {format_value(key)}"
        ax.errorbar(xs, rate, yerr=err, marker="o", markersize=4, capsize=3, color=colour,
                    label=label)
    if numeric and is_log_spaced(values):
        ax.set_xscale("log")
    if not numeric:
        ax.set_xticks(np.arange(len(values)), [format_value(v) for v in values])
    what = "not converged" if failure else "convergence rate"
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(axis_label(axis))
    ax.set_ylabel(f"{'share ' if failure else ''}{what} (95% Wilson interval)")
    ax.set_title(f"{what} ({pooled_note(table.attrs.get('pooled', []))})", fontsize=10)
    if by is not None:
        ax.legend(fontsize=8)
    return ax


def design_points(df: pd.DataFrame, x: str, y: str) -> pd.DataFrame:
    """Return one row per design point of a sampled run: its place and its convergence rate.

    A design point is a ``point`` of the network table (or, without that column,
    a distinct pair of ``x``, ``y`` values); its networks are its replicates,
    pooled over every other axis (the categorical ones it is crossed with).

    Parameters
    ----------
    df : DataFrame
        Network table.
    x, y : str
        Two numeric axes.

    Returns
    -------
    DataFrame
        Columns ``x``, ``y`` (the point's values), ``n``, ``converged``, ``rate``,
        sorted by point.  ``attrs``: ``x``, ``y``, ``x_log`` and ``y_log`` (log
        bins or log-spaced values), ``pooled``.

    Examples
    --------
    >>> df = pd.DataFrame({"point": [0, 0, 1, 1], "lr": [0.5, 0.5, 4.0, 4.0],
    ...                    "momentum": [0.1, 0.1, 0.8, 0.8], "converged_epoch": [9, -1, 7, 8]})
    >>> design_points(df, "lr", "momentum")["rate"].tolist()
    [0.5, 1.0]
    """
    keys = ["point"] if "point" in df else [x, y]
    d = df.assign(_ok=df["converged_epoch"] >= 0)
    g = d.groupby(keys, observed=True, sort=True)
    out = pd.DataFrame({x: g[x].first(), y: g[y].first(), "n": g.size(),
                        "converged": g["_ok"].sum()}).reset_index(drop=True)
    out["rate"] = out["converged"] / out["n"]
    cont = continuous_axes(df)
    for name, a in (("x", x), ("y", y)):
        out.attrs[name] = a
        out.attrs[f"{name}_log"] = cont[a] if a in cont else is_log_spaced(out[a])
    out.attrs["pooled"] = varying_axes(df, exclude=[x, y])
    return out


def plot_design_points(points: pd.DataFrame, ax=None):
    """Draw the design points over two axes, coloured by the share of their networks that converged.

    ``points`` is :func:`design_points`' output.  Returns ``ax``.
    """
    ax = _new_ax(ax)
    x, y = points.attrs["x"], points.attrs["y"]
    size = max(2.0, min(30.0, 6000 / max(len(points), 1)))
    sc = ax.scatter(points[x], points[y], c=points["rate"], cmap="viridis", vmin=0.0, vmax=1.0,
                    s=size, linewidths=0)
    n = points["n"]
    each = f"{n.iloc[0]:,}" if len(n) and n.min() == n.max() else f"{n.min():,}-{n.max():,}"
    ax.figure.colorbar(sc, ax=ax, label=f"convergence rate of each point ({each} networks)")
    if points.attrs.get("x_log"):
        ax.set_xscale("log")
    if points.attrs.get("y_log"):
        ax.set_yscale("log")
    ax.set_xlabel(axis_label(x))
    ax.set_ylabel(axis_label(y))
    ax.set_title(f"{len(points):,} design points "
                 f"({pooled_note(points.attrs.get('pooled', []))})", fontsize=10)
    return ax
