"""The HTML report of a run: one self-contained page, its figures as PNG, and summary.csv.

``write_report(run_dir)`` reads only the network-table columns it needs and the
curves chunk by chunk (:mod:`analysis.curves`), so it works on runs of 10^6
networks in seconds, and on a machine without numba.
"""

from __future__ import annotations

import base64
import html
import io
import math
import shlex
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sweeps.store import RunError, atomic_write, open_run

from . import plots, slices
from .curves import loss_bands
from .tables import (
    convergence_table,
    failure_mode_table,
    failure_modes,
    fraction_converged,
    grid_axes,
    is_param_axis,
    wilson_interval,
)

__all__ = ["write_report", "choose_axes", "ReportError"]

_MAX_GROUPS = 12  # curves and bars are drawn per value of one axis with at most this many
_DPI = 110
_MAX_SLICES = 6  # slice images drawn (one per replicate and value of other varying axes)
_MAX_TABLE_ROWS = 1000  # longer convergence tables are shortened on the page


class ReportError(ValueError):
    """A report option that does not fit the run (unknown axis or metric)."""


@dataclass
class _Figure:
    name: str
    caption: str
    png: bytes
    full_size: bool = False  # never scaled down to the page width (one pixel per network)


def choose_axes(df: pd.DataFrame, x: str | None = None, y: str | None = None
                ) -> tuple[str | None, str | None]:
    """Return the heatmap axes: those given, else the varying axes with the most values.

    Ties go to the earlier axis of the spec's axis order; when two or more
    initial-parameter axes vary, the first two are chosen (an init slice).  Either
    may be None when fewer axes vary.

    Raises
    ------
    ReportError
        If a given axis is not a grid axis of the run, or x == y.
    """
    present = grid_axes(df)
    for name, a in (("--x", x), ("--y", y)):
        if a is not None and a not in present:
            raise ReportError(f"{name} {a!r} is not an axis of this run; choose one of "
                              f"{', '.join(present)}")
    if x is not None and x == y:
        raise ReportError(f"--x and --y are both {x!r}; choose two different axes")
    varying = sorted((a for a in present if df[a].nunique() > 1),
                     key=lambda a: (-df[a].nunique(), present.index(a)))
    params = [a for a in present if is_param_axis(a) and df[a].nunique() > 1]
    if len(params) >= 2:
        varying = params + [a for a in varying if a not in params]
    rest = [a for a in varying if a not in (x, y)]
    if x is None and rest:
        x = rest.pop(0)
    if y is None and rest:
        y = rest.pop(0)
    return x, y


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
    base = ["network", "task", "replicate", "epochs", "target_error", "converged_epoch",
            "outcome", "final_loss"]
    return [c for c in cols if c in base or c.startswith("out_") or c in grid_axes(
        pd.DataFrame(columns=cols))]


def write_report(run_dir, *, x: str | None = None, y: str | None = None,
                 metric: str = "rate") -> Path:
    """Write ``RUN_DIR/report/``: ``index.html`` (self-contained), ``summary.csv`` and PNGs.

    Parameters
    ----------
    run_dir : path
        A run directory made by ``xorsweep run`` (complete or not: an incomplete
        run is reported as far as it got, and the page says so).
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
    ReportError
        On an unknown axis or metric.
    """
    if metric not in plots.METRICS:
        raise ReportError(f"unknown metric {metric!r}; choose one of {', '.join(plots.METRICS)}")
    run = open_run(run_dir)
    if not run.done:
        raise RunError(f"{run.path} has no finished chunk yet; run the sweep first")
    df = run.networks(columns=_needed_columns(run))
    x, y = choose_axes(df, x, y)
    varying = [a for a in grid_axes(df) if df[a].nunique() > 1]
    by = varying or []
    table = convergence_table(df, by=by)
    group = _group_axis(df, x, varying)

    figures = _figures(run, df, x, y, metric, group, varying)
    out_dir = run.path / "report"
    out_dir.mkdir(exist_ok=True)
    for f in figures:
        atomic_write(out_dir / f"{f.name}.png", f.png)
    for stale in set(out_dir.glob("*.png")) - {out_dir / f"{f.name}.png" for f in figures}:
        stale.unlink()  # a figure of an earlier report that this one does not draw
    atomic_write(out_dir / "summary.csv", table.to_csv(index=False).encode())
    page = _page(run, df, table, figures, x, y, metric)
    atomic_write(out_dir / "index.html", page.encode())
    return out_dir / "index.html"


def _group_axis(df, x, varying) -> str | None:
    """Pick the axis to draw curves and bars by: x if it has few values, else the smallest."""
    if x is not None and df[x].nunique() <= _MAX_GROUPS:
        return x
    small = [a for a in varying if df[a].nunique() <= _MAX_GROUPS]
    return min(small, key=lambda a: df[a].nunique()) if small else None


def _figures(run, df, x, y, metric, group, varying) -> list[_Figure]:
    figs: list[_Figure] = []
    is_slice = x is not None and y is not None and is_param_axis(x) and is_param_axis(y)
    if is_slice:
        figs += _slice_figures(df, x, y, _spec_grid(run))
    if x is not None and y is not None and (not is_slice or df.duplicated([x, y]).any()):
        metrics = [metric] + (["expected_epochs"] if metric == "rate" else [])
        for m in metrics:
            data = plots.heatmap_data(df, x, y, m)
            size = max(6.0, min(14.0, 0.75 * len(data.x_values) + 3))
            fig, ax = _new_figure(size, max(4.5, min(12.0, 0.55 * len(data.y_values) + 2.5)))
            plots.plot_heatmap(data, ax)
            name = "heatmap" if m == metric else f"heatmap_{m}"
            figs.append(_Figure(name, f"{plots.METRICS[m][0]} over {x} x {y}; "
                                      f"{plots.pooled_note(data.pooled)}.", _png(fig)))
    elif x is not None and not is_slice:
        t = convergence_table(df, by=[x])
        fig, ax = _new_figure()
        plots.plot_rate(t, x, ax)
        figs.append(_Figure("rate", f"convergence rate by {x} with 95% Wilson intervals.",
                            _png(fig)))

    groups = df.set_index("network")[group] if group else \
        pd.Series("all", index=df["network"].to_numpy())
    bands = loss_bands(run.curves(), groups)
    if len(bands):
        fig, ax = _new_figure()
        plots.plot_loss_bands(bands, ax, group_name=group or "",
                              pooled=[a for a in varying if a != group])
        figs.append(_Figure("loss_curves", "median loss and interquartile band per group "
                            "(diverged networks left out); quantiles from a 40-bins-per-decade "
                            "histogram, streamed chunk by chunk.", _png(fig)))
    frac = fraction_converged(df, by=[group] if group else [])
    fig, ax = _new_figure()
    plots.plot_fraction_converged(frac, ax)
    figs.append(_Figure("fraction_converged", "fraction of networks converged by each epoch; "
                        "networks that never converge count at every epoch.", _png(fig)))
    if _is_xor(df):
        shares = plots.failure_mode_shares(df, by=group)
        fig, ax = _new_figure(8, 5)
        plots.plot_failure_modes(shares, ax)
        figs.append(_Figure("failure_modes", "share of networks converged or stuck at each "
                            "XOR stationary pattern of the final outputs (tolerance 0.05).",
                            _png(fig)))
    hist = plots.epochs_histogram(df)
    fig, ax = _new_figure(7, 4)
    plots.plot_epochs_histogram(hist, ax)
    figs.append(_Figure("epochs", "epoch at which each converged network first met the "
                        "target error.", _png(fig)))
    return figs


def _spec_grid(run) -> dict:
    """Return the run's grid axes as listed in its frozen spec (explicit lists), or {}."""
    import tomllib

    try:
        grid = tomllib.loads((run.path / "spec.toml").read_text()).get("grid", {})
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    return grid if isinstance(grid, dict) else {}


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


def _is_xor(df) -> bool:
    return "task" in df and (df["task"].astype(str) == "xor").all() and "out_3" in df


_CSS = """
body { font-family: system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif;
       max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
.lead { color: #555; margin-top: 0; }
.cards { display: flex; flex-wrap: wrap; gap: 0.8em; margin: 1em 0; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: 0.6em 1em; min-width: 10em; }
.card b { display: block; font-size: 1.4em; }
.warn { background: #fff3cd; border: 1px solid #e0c46c; padding: 0.6em 1em; border-radius: 6px; }
figure { margin: 1.5em 0; } figure img { max-width: 100%; }
figure.full { overflow-x: auto; } figure.full img { max-width: none; }
figcaption { color: #555; font-size: 0.9em; }
pre { background: #f6f8fa; padding: 0.8em; overflow-x: auto; border-radius: 6px; }
table { border-collapse: collapse; font-size: 0.85em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.5em; text-align: right; }
th { background: #f6f8fa; }
.scroll { overflow-x: auto; max-height: 40em; overflow-y: auto; }
"""


def _fmt_table(t: pd.DataFrame) -> str:
    def fmt(v):
        if isinstance(v, float | np.floating):
            if math.isinf(v):
                return "never"
            if math.isnan(v):
                return ""
            return f"{v:.4g}"
        return str(v)

    return t.to_html(index=False, escape=True, formatters={c: fmt for c in t.columns},
                     na_rep="", border=0)


def _page(run, df, table, figures, x, y, metric) -> str:
    m = run.manifest
    n = len(df)
    total = m.get("n_networks", n)
    conv = int((df["converged_epoch"] >= 0).sum())
    lo, hi = wilson_interval(conv, n)
    esc = html.escape
    cards = [("networks", f"{n:,}" + (f" of {total:,}" if n != total else "")),
             ("epochs each", f"{m.get('epochs', int(df['epochs'].max())):,}"),
             ("converged", f"{conv / n:.1%}" if n else "-"),
             ("95% interval", f"{float(lo):.1%} - {float(hi):.1%}")]
    if m.get("elapsed_s"):
        rate = n * m["epochs"] / m["elapsed_s"]
        cards.append(("training time",
                      f"{m['elapsed_s']:.1f} s ({rate / 1e6:.3g} M network-epochs/s)"))
    best = ""
    if len(table) > 1 and "rate" in table:
        top = table.sort_values(["rate", "expected_epochs"], ascending=[False, True]).iloc[0]
        cell = ", ".join(f"{a} = {plots.format_value(top[a])}" for a in grid_axes(table))
        best = (f"<p>Best cell: <b>{esc(cell)}</b> converged {top['rate']:.1%} "
                f"({int(top['converged'])} of {int(top['n'])}), expected "
                f"{_epochs_text(top['expected_epochs'])} epochs to a solution with restarts.</p>")
    warn = ""
    if not run.complete:
        warn = (f"<p class='warn'>This run is incomplete: {len(run.done)} of "
                f"{len(m['chunks'])} chunks are done. Rerun the same <code>xorsweep run</code> "
                "command to finish it, then report again.</p>")
    spec_path = run.path / "spec.toml"
    spec_text = spec_path.read_text() if spec_path.is_file() else "(spec.toml missing)"
    command = (f"xorsweep run {shlex.quote(str(spec_path))} --out "
               f"{shlex.quote(str(run.path.parent))}"
               + (" --device cuda" if m.get("device") == "cuda" else ""))
    versions = ", ".join(f"{k} {v}" for k, v in m.get("versions", {}).items())
    machine = m.get("machine", {})
    figs_html = "\n".join(
        f"<figure{' class=full' if f.full_size else ''}><img alt='{esc(f.name)}' "
        f"src='data:image/png;base64,{base64.b64encode(f.png).decode()}'>"
        f"<figcaption>{esc(f.caption)}</figcaption></figure>" for f in figures)
    cards_html = "".join(f"<div class='card'>{esc(k)}<b>{esc(v)}</b></div>" for k, v in cards)
    table_intro, shown_table = _table_section(df, table)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>xorsweep report: {esc(m.get('name', run.path.name))}</title>
<style>{_CSS}</style></head>
<body>
<h1>{esc(m.get('name', run.path.name))}</h1>
<p class="lead">{esc(_description(spec_text))}</p>
<p>Converged means {esc(_criterion_text(spec_text, df))}.</p>
{warn}
<div class="cards">{cards_html}</div>
{best}
<h2>Figures</h2>
{figs_html}
{_failure_section(df)}
<h2>Convergence table</h2>
{table_intro} <i>rate</i> with its 95% Wilson interval; epochs among converged
networks; <i>expected_epochs</i>: expected epochs to a solution when failures are restarted and
cost the epoch limit ("never" when none converged); <i>n_&lt;outcome&gt;</i>: outcome counts.</p>
<div class="scroll">{_fmt_table(shown_table)}</div>
<h2>Reproduce</h2>
<pre>{esc(command)}</pre>
<p>with the spec as run (<code>spec.toml</code> in the run directory):</p>
<pre>{esc(spec_text)}</pre>
<p>Versions: {esc(versions)}. Machine: {esc(str(machine.get('platform', '?')))},
{esc(str(machine.get('cpus', '?')))} CPUs.
Heatmap axes: x = {esc(str(x))}, y = {esc(str(y))}, metric = {esc(metric)}.</p>
</body></html>
"""


def _failure_section(df) -> str:
    """XOR failure modes, pooled: counts beside each pattern's theoretical and observed loss."""
    if not _is_xor(df):
        return ""
    by = ["loss"] if "loss" in df and df["loss"].nunique() > 1 else []  # per loss function
    t = failure_mode_table(df, by=by)
    if t.empty:
        return ""
    keys = [df[k].astype(str) for k in by] + [failure_modes(df)]
    observed = df["final_loss"].groupby(keys).median()
    t = t.assign(observed_median_loss=[
        observed.get((*(str(r[k]) for k in by), r["failure_mode"]) if by else r["failure_mode"])
        for _, r in t.iterrows()])
    t = t[by + ["failure_mode", "count", "share", "theoretical_loss", "observed_median_loss"]]
    losses = ", ".join(sorted(df["loss"].astype(str).unique())) if "loss" in df else "bce"
    return f"""<h2>Failure modes</h2>
<p>Non-converged XOR networks by the stationary pattern their final outputs sit at
(tolerance 0.05 on every output): <i>half4</i> all outputs 1/2; <i>half2</i> two right, two
at 1/2; <i>third3</i> one right, three at the mean of their targets; <i>satwrong</i> an output
saturated at the wrong target; <i>other</i> none of these. The theoretical loss is the
pattern's loss ({html.escape(losses)}); the observed one is the median final loss of the
networks found in it.</p>
{_fmt_table(t)}"""


def _table_section(df, table) -> tuple[str, pd.DataFrame]:
    """Return the table's introduction and the rows shown on the page (all in summary.csv).

    Longer tables than ``_MAX_TABLE_ROWS`` are shown with the initial-parameter axes
    pooled, when they vary, and then cut to their first rows; the text says which.
    """
    pooled = table.attrs.get("pooled", [])
    what = "One row per cell" + ("" if not pooled else
                                 f" (pooled: {html.escape(', '.join(pooled))})")
    if len(table) <= _MAX_TABLE_ROWS:
        return f"<p>{what}; also in <code>summary.csv</code>.", table
    notes = [f"<p>{what} is in <code>summary.csv</code> ({len(table):,} rows)."]
    shown = table
    params = [a for a in grid_axes(df) if is_param_axis(a) and df[a].nunique() > 1]
    if params:
        by = [a for a in grid_axes(df) if not is_param_axis(a) and df[a].nunique() > 1]
        shown = convergence_table(df, by=by)
        notes.append(f"Here the initial-parameter axes ({html.escape(', '.join(params))}) "
                     "are pooled.")
    if len(shown) > _MAX_TABLE_ROWS:
        notes.append(f"Shown: the first {_MAX_TABLE_ROWS:,} of {len(shown):,} rows.")
        shown = shown.head(_MAX_TABLE_ROWS)
    return " ".join(notes), shown


def _criterion_text(spec_text: str, df) -> str:
    import tomllib

    try:
        criterion = tomllib.loads(spec_text).get("criterion", "target-error")
    except tomllib.TOMLDecodeError:
        criterion = "target-error"
    if criterion == "right-side":
        return "every output on the right side of 0.5 (Kolen & Pollack 1990)"
    if criterion == "fahlman":
        return "every output within 0.4 of its target (Fahlman 1988's 40-20-40 criterion)"
    te = float(df["target_error"].iloc[0]) if "target_error" in df and len(df) else 0.1
    return f"every output within {te:g} of its target (target_error)"


def _epochs_text(v) -> str:
    return "never" if not np.isfinite(v) else f"{v:,.0f}"


def _description(spec_text: str) -> str:
    import tomllib

    try:
        return str(tomllib.loads(spec_text).get("description", ""))
    except tomllib.TOMLDecodeError:
        return ""
