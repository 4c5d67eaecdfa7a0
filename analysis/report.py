"""The HTML report of a run: one self-contained page, its figures as PNG, and summary.csv.

``write_report(run_dir)`` reads only the network-table columns it needs and the
curves chunk by chunk (:mod:`analysis.curves`), so it works on runs of 10^6
networks in seconds, and on a machine without numba.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sweeps.store import (
    RunError,
    StoreError,
    atomic_write,
    open_run,
    remove_orphan_temp_files,
)

from . import _page, boundary, plots, slices
from .axes import continuous_axes, fill_xy, sample_attrs, slice_attrs
from .curves import loss_bands
from .tables import (
    GRID_AXES,
    convergence_table,
    fraction_converged,
    grid_axes,
    is_param_axis,
    varying_axes,
)

__all__ = ["write_report", "choose_axes", "ReportError"]

_MAX_GROUPS = 12  # curves and bars are drawn per value of one axis with at most this many
_DPI = 110
_MAX_SLICES = 6  # slice images drawn (one per replicate and value of other varying axes)
# the figures a report writes: an earlier report's figure that this one does not draw is removed
_FIGURE_FILE = re.compile(r"^(heatmap(_\w+)?|rate|loss_curves|fraction_converged|failure_modes"
                          r"|epochs|slice_\d+|refined_\d+|box_counts_\d+)\.png$")
_REFINED_SIDE = 1000  # pixels a side of a refined slice's image, at most


class ReportError(ValueError):
    """A report option that does not fit the run (unknown axis or metric)."""


@dataclass
class _Figure:
    name: str
    caption: str
    png: bytes
    full_size: bool = False  # never scaled down to the page width (whole pixels per network)
    section: str = "figures"  # or "outcomes": drawn beside the outcome and failure-mode tables


def choose_axes(df: pd.DataFrame, x: str | None = None, y: str | None = None
                ) -> tuple[str | None, str | None]:
    """Return the heatmap axes: those given, else the varying axes with the most values.

    Ties go to the earlier axis of the spec's axis order; when two or more
    initial-parameter axes vary, the first two are chosen (an init slice).  In a
    sampled run the continuous axes (:func:`analysis.axes.continuous_axes`) come
    first, in the order of the spec's ``[sample]`` table.  Either may be None when
    fewer axes vary.

    Raises
    ------
    ReportError
        If a given axis is not a grid axis of the run, takes one value only, or
        x == y.
    """
    present = grid_axes(df)
    varying = varying_axes(df)
    for name, a in (("--x", x), ("--y", y)):
        if a is not None and a not in present:
            raise ReportError(f"{name} {a!r} is not an axis of this run; choose one of "
                              f"{', '.join(present)}")
        if a is not None and a not in varying:
            choices = (f"choose one that varies: {', '.join(varying)}" if varying
                       else "no axis of this run varies")
            raise ReportError(f"{name} {a!r} takes one value in this run; {choices}")
    if x is not None and x == y:
        raise ReportError(f"--x and --y are both {x!r}; choose two different axes")
    params = [a for a in varying if is_param_axis(a)]
    varying = sorted(varying, key=lambda a: (-df[a].nunique(), present.index(a)))
    cont = [a for a in continuous_axes(df) if a in varying]
    if cont:
        varying = cont + [a for a in varying if a not in cont]
    elif len(params) >= 2:
        varying = params + [a for a in varying if a not in params]
    return fill_xy(varying, x, y)


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI, bbox_inches="tight")
    return buf.getvalue()


def _new_figure(width=7.0, height=5.0):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.add_subplot()


def _needed_columns(run) -> list[str]:
    cols = run.columns()
    base = ["network", "task", "replicate", "point", "epochs", "target_error",
            "converged_epoch", "outcome", "final_loss", *boundary.REFINED_COLUMNS]
    return [c for c in cols
            if c in base or c in GRID_AXES or is_param_axis(c) or c.startswith("out_")]


def write_report(run_dir, *, x: str | None = None, y: str | None = None,
                 metric: str = "rate", out=None) -> Path:
    """Write ``index.html`` (self-contained), ``summary.csv`` and PNGs into ``RUN_DIR/report/``.

    Parameters
    ----------
    run_dir : path
        A run directory made by ``xorsweep run`` (complete or not: an incomplete
        run is reported as far as it got, and the page says so).
    out : path, optional
        The directory to write into instead of ``RUN_DIR/report`` (made if missing;
        of its files only the report's own are replaced).
    x, y : str, optional
        Heatmap axes; by default the two varying axes with the most values.
    metric : str
        Heatmap metric, a key of :data:`analysis.plots.METRICS`.

    Returns
    -------
    Path
        The ``index.html`` written.

    Raises
    ------
    RunError
        If ``run_dir`` is not a run directory or has no finished chunk.
    StoreError
        If the manifest or a finished part is damaged or missing (every part read
        is checked against the manifest's SHA-256 before anything is written), or
        the run's ``report`` is a link or a file.
    ReportError
        On an unknown axis or metric, or an axis that takes one value.
    """
    if metric not in plots.METRICS:
        raise ReportError(f"unknown metric {metric!r}; choose one of {', '.join(plots.METRICS)}")
    run = open_run(run_dir)
    out_dir = run.path / "report" if out is None else Path(out)
    if out is None and (out_dir.is_symlink() or out_dir.exists() and not out_dir.is_dir()):
        # before any work: a link planted in the run (an archive) would send the files elsewhere
        raise StoreError(f"{out_dir} is {'a link' if out_dir.is_symlink() else 'not a folder'}; "
                         "move it out of the run directory, or write the report elsewhere "
                         "with --out DIR")
    if not run.done:
        raise RunError(f"{run.path} has no finished chunk yet; run the sweep first")
    df = run.networks(columns=_needed_columns(run))
    spec = _page.read_spec(run)  # (text, data), read once
    df.attrs.update(sample_attrs(spec[1]))  # the sampled axes are binned
    df.attrs.update(slice_attrs(spec[1]))  # a refined slice's axes, a zoom's box
    x, y = choose_axes(df, x, y)
    varying = varying_axes(df)
    by = varying
    table = convergence_table(df, by=by)
    group = _group_axis(df, x, varying)

    grid = spec[1].get("grid", {})
    figures = _figures(run, df, x, y, metric, group, varying,
                       grid if isinstance(grid, dict) else {})
    out_dir.mkdir(parents=True, exist_ok=True)
    remove_orphan_temp_files(out_dir)  # a report killed while writing left them
    for f in figures:
        atomic_write(out_dir / f"{f.name}.png", f.png)
    for stale in set(out_dir.glob("*.png")) - {out_dir / f"{f.name}.png" for f in figures}:
        if _FIGURE_FILE.match(stale.name):
            stale.unlink()  # a figure of an earlier report that this one does not draw
    atomic_write(out_dir / "summary.csv", table.to_csv(index=False).encode())
    page = _page.render(run, df, table, figures, x, y, metric, spec)
    atomic_write(out_dir / "index.html", page.encode())
    return out_dir / "index.html"


def _group_axis(df, x, varying) -> str | None:
    """Pick the axis to draw curves and bars by: x if it has few values, else the smallest."""
    if x is not None and df[x].nunique() <= _MAX_GROUPS:
        return x
    small = [a for a in varying if df[a].nunique() <= _MAX_GROUPS]
    return min(small, key=lambda a: df[a].nunique()) if small else None


def is_slice(df, x: str | None, y: str | None, cont: dict | None = None) -> bool:
    """Return whether the report draws ``df`` over ``x`` and ``y`` as a slice of initial values.

    Both are initial-parameter axes of a grid (not a sample's continuous ones);
    ``cont``: :func:`continuous_axes` of ``df``, where the caller has it.
    """
    cont = continuous_axes(df) if cont is None else cont
    return x is not None and y is not None and is_param_axis(x) and is_param_axis(y) \
        and x not in cont and y not in cont


def _figures(run, df, x, y, metric, group, varying, grid: dict) -> list[_Figure]:
    figs: list[_Figure] = []
    cont = continuous_axes(df)
    slice_ = is_slice(df, x, y, cont)
    refined = slice_ and boundary.is_refined(df)
    if refined:
        figs += _refined_figures(df, x, y)
    elif slice_:
        figs += _slice_figures(df, x, y, grid)
    if x is not None and y is not None and not refined \
            and (not slice_ or df.duplicated([x, y]).any()):
        metrics = [metric] + (["expected_epochs"] if metric == "rate" else [])
        for m in metrics:
            data = plots.heatmap_data(df, x, y, m)
            size = max(6.0, min(14.0, 0.75 * len(data.x_values) + 3))
            height = max(4.5, min(12.0, 0.55 * len(data.y_values) + 2.5))
            name = "heatmap" if m == metric else f"heatmap_{m}"
            caption = (f"{plots.METRICS[m][0]} over {x} x {y}; "
                       f"{plots.pooled_note(data.pooled)}.")
            if m == metric and x in cont and y in cont:  # a sampled run: its points beside
                figs.append(_design_figure(df, x, y, data, size, height, caption))
                continue
            fig, ax = _new_figure(size, height)
            plots.plot_heatmap(data, ax)
            figs.append(_Figure(name, caption, _png(fig)))
    elif x is not None and not slice_:
        t = convergence_table(df, by=[x])
        fig, ax = _new_figure()
        plots.plot_rate(t, x, ax)
        figs.append(_Figure("rate", f"convergence rate by {x} with 95% Wilson intervals.",
                            _png(fig)))

    groups = df.set_index("network")[group] if group else \
        pd.Series("all", index=df["network"].to_numpy())
    bands = loss_bands(run.curves(), groups)
    if len(bands):
        from matplotlib.figure import Figure

        layout = plots.band_panels(list(dict.fromkeys(bands.columns.get_level_values(0))))
        many = len(layout.panels) > 1
        fig = Figure(figsize=(11, 0.6 + 2.3 * layout.n_rows) if many else (7, 5),
                     layout="constrained")
        plots.plot_loss_band_panels(bands, fig, group_name=group or "",
                                    pooled=[a for a in varying if a != group])
        how = ("one panel per group on shared axes, the other groups' medians in grey"
               if many else "groups in colours that stay apart for colour-blind readers "
               "(Okabe-Ito)")
        figs.append(_Figure("loss_curves", f"median loss and interquartile band per group, "
                            f"{how} (diverged networks left out); quantiles from a "
                            "40-bins-per-decade histogram, streamed chunk by chunk.",
                            _png(fig)))
    frac = fraction_converged(df, by=[group] if group else [])
    fig, ax = _new_figure()
    plots.plot_fraction_converged(frac, ax)
    figs.append(_Figure("fraction_converged", "fraction of networks converged by each epoch; "
                        "networks that never converge count at every epoch.", _png(fig)))
    if _page.is_xor(df):
        shares = plots.failure_mode_shares(df, by=group)
        fig, ax = _new_figure(8, 5)
        plots.plot_failure_modes(shares, ax)
        figs.append(_Figure("failure_modes", "share of networks converged or stuck at each "
                            "XOR stationary pattern of the final outputs (tolerance 0.05).",
                            _png(fig), section="outcomes"))
    hist = plots.epochs_histogram(df)
    fig, ax = _new_figure(7, 4)
    plots.plot_epochs_histogram(hist, ax)
    figs.append(_Figure("epochs", "epoch at which each converged network first met the "
                        "target error.", _png(fig)))
    return figs


def _design_figure(df, x, y, data, width, height, caption) -> _Figure:
    """Draw a sampled run's design points, coloured by their rate, beside the binned heatmap."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(min(7.0, width) + width, height), layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=[min(7.0, width), width])
    points = plots.design_points(df, x, y)
    plots.plot_design_points(points, left)
    plots.plot_heatmap(data, right)
    nx, ny = len(data.x_values), len(data.y_values)
    return _Figure("heatmap", f"left: the {len(points):,} design points over {x} x {y}, "
                   "each coloured by the share of its networks that converged; right: "
                   f"{caption[:-1]}, in {nx} x {ny} bins (log bins for a log-uniform axis; as "
                   "many as keep about 100 networks and 5 points in an average bin).",
                   _png(fig))


def _slice_figures(df, x, y, grid: dict) -> list[_Figure]:
    """One image per slice (at most 6), whole pixels per network, missing points grey."""
    facets = slices.slice_facets(df, x, y)
    figs = []
    for k, (title, rows) in enumerate(facets[:_MAX_SLICES]):
        data = slices.slice_image(rows, x, y, x_values=grid.get(x), y_values=grid.get(y),
                                  title=title)
        fig = slices.slice_figure(data, dpi=_DPI)
        more = (f" Showing {_MAX_SLICES} of {len(facets)} slices." if k == 0
                and len(facets) > _MAX_SLICES else "")
        figs.append(_Figure(f"slice_{k}", f"epochs to converge from each initial {x} x {y} "
                            f"(other parameters fixed or drawn from the seed), one cell per "
                            f"network; black: never converged.{more}", _png(fig),
                            full_size=True))
    return figs


def refined_axes(df, x: str, y: str) -> tuple[str, str]:
    """Return a refined slice's two axes in its lattice's order (``ix`` indexes the first).

    The order of the ``[refine]`` table in ``df.attrs`` (:func:`analysis.load`), if it
    names these two axes; else ``(x, y)``.
    """
    axes = list(df.attrs.get("refine", {}).get("axes", []))
    return (axes[0], axes[1]) if sorted(axes) == sorted([x, y]) else (x, y)


def refined_slice_figure(rows, x: str, y: str, title: str = ""):
    """Return one refined slice's image data and its figure, as the report draws them."""
    data = slices.refined_image(rows, x, y, max_side=_REFINED_SIDE, title=title)
    return data, slices.refined_figure(data, dpi=_DPI, side=_REFINED_SIDE)


def _refined_figures(df, x, y) -> list[_Figure]:
    """Draw each refined slice: its multi-resolution image and its boundary's box counts."""
    x, y = refined_axes(df, x, y)
    facets = slices.slice_facets(df, x, y)
    figs = []
    for k, (title, rows) in enumerate(facets[:_MAX_SLICES]):
        data, fig = refined_slice_figure(rows, x, y, title)
        more = (f" Showing {_MAX_SLICES} of {len(facets)} slices." if k == 0
                and len(facets) > _MAX_SLICES else "")
        sampled = (f" Drawn one pixel per {data.pixel} steps of the finest grid."
                   if data.pixel > 1 else "")
        figs.append(_Figure(f"refined_{k}", f"epochs to converge from each initial {x} x {y}, "
                            "each network drawn over the cell of its refinement level (finest "
                            f"where the run refined); black: never converged.{sampled}{more}",
                            _png(fig), full_size=True))
        fit = boundary.boundary_dimension(rows, x, y)
        fig, ax = _new_figure(7, 5)
        boundary.plot_box_counts(fit, ax)
        figs.append(_Figure(f"box_counts_{k}", f"{boundary.describe(fit)}: boundary cells "
                            "(corners converged and not) against cell size, one point per "
                            "refinement level, least-squares line in log-log, 95% t-interval "
                            "on the slope. A boundary that lies wholly between corners of one "
                            "label at a coarser level is not refined and not counted.",
                            _png(fig)))
    return figs
