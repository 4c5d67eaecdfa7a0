"""The data of the pages and of the JSON endpoints: runs, a run's progress, table and figures.

Each function takes what :mod:`xorsweep.server.runs` read and returns plain data
(dicts and lists that :func:`to_json` writes) or PNG bytes.  Tables and figures are
the report's: :func:`analysis.convergence_table`, :func:`analysis.plots.heatmap_data`
and the report's renderers, drawn with matplotlib into memory.
"""

from __future__ import annotations

import io
import json
import math
import threading
from urllib.parse import quote

import numpy as np
import pandas as pd

from analysis import plots, slices
from analysis.axes import sample_attrs, settings_attrs, slice_attrs
from analysis.boundary import REFINED_COLUMNS
from analysis.report import choose_axes, is_slice, refined_axes, refined_slice_figure
from analysis.tables import (
    convergence_table,
    fraction_converged,
    is_param_axis,
    table_formats,
    varying_axes,
    wilson_interval,
)
from sweeps.store import StoreError

from .runs import RunData, Runs, Snapshot, lock_held, progress, read_spec

__all__ = ["DRAW_LOCK", "FIGURES", "MAX_TABLE_ROWS", "figure_png", "render_png", "run_detail",
           "run_spec", "spec_frame",
           "run_heatmap", "run_list", "run_table", "table_json", "to_json"]

#: Rows of a convergence table sent to a page (the report's limit); the rest are counted.
MAX_TABLE_ROWS = 1000
_MAX_GROUPS = 12  # the report's: curves and bars per value of an axis with at most this many
_DPI = 110  # the report's

#: The figures of a run's page: name -> caption (those that fit the run are drawn).
FIGURES = {
    "heatmap": "convergence rate over {x} x {y}; {pooled}.",
    "refined": "epochs to converge from each initial {x} x {y}, each network drawn over the "
               "cell of its refinement level (finest where the run refined); black: never "
               "converged; {pooled}.",
    "heatmap_expected_epochs": "expected epochs to a solution, with restarts, over {x} x {y}; "
                               "{pooled}.",
    "rate": "convergence rate by {x} with 95% Wilson intervals; {pooled}.",
    "fraction_converged": "fraction of networks converged by each epoch; networks that never "
                          "converge count at every epoch.",
    "failure_modes": "share of networks converged or stuck at each XOR stationary pattern of "
                     "the final outputs (tolerance 0.05).",
    "epochs": "epoch at which each converged network first met the target error.",
}

# matplotlib's figures are drawn one at a time (the server answers from several threads)
DRAW_LOCK = threading.Lock()


def _finite(v):
    """Return a JSON-able value: NaN -> None, +-inf -> "inf" / "-inf", numpy scalars -> Python."""
    if isinstance(v, bool | np.bool_):
        return bool(v)
    if isinstance(v, int | np.integer):
        return int(v)
    if isinstance(v, float | np.floating):
        v = float(v)
        if math.isnan(v):
            return None
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return v
    if isinstance(v, dict):
        return {str(k): _finite(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_finite(x) for x in v]
    if isinstance(v, np.ndarray):
        return [_finite(x) for x in v.tolist()]
    return v


def to_json(data) -> bytes:
    """Return ``data`` as strict JSON (no NaN or Infinity tokens; see ``_finite``)."""
    return json.dumps(_finite(data), allow_nan=False, separators=(",", ":")).encode()


def run_list(runs: Runs) -> list[dict]:
    """Return the facts of ``xorsweep list`` for every run, with progress and a running flag."""
    out = []
    for r in runs.summaries():
        out.append({"name": r.name, "state": r.state, "networks": r.n_networks,
                    "networks_done": r.n_done, "epochs": r.epochs, "created": r.created,
                    "size": r.size,
                    "progress": (r.n_done / r.n_networks if r.n_networks and
                                 r.n_done is not None else None),
                    "running": lock_held(r.path),
                    "url": f"/runs/{quote(r.name, safe='')}",
                    "api": f"/api/runs/{quote(r.name, safe='')}"})
    return out


def run_spec(data: RunData, snap: Snapshot) -> dict:
    """Return the run's frozen spec as data, read once per version (not inside ``cached``)."""
    return data.cached(snap, ("spec",), lambda: read_spec(snap.path))


def spec_frame(df: pd.DataFrame, spec: dict) -> pd.DataFrame:
    """Return ``df`` with the attrs that ``analysis.load`` gives a run's table.

    Its frozen spec's ``[sample]`` ranges, ``[refine]`` and ``[zoom]`` tables: so the
    axes, bins and slices are the report's.
    """
    out = df.copy(deep=False)
    out.attrs.update(sample_attrs(spec))
    out.attrs.update(slice_attrs(spec))
    if spec:
        out.attrs.update(settings_attrs(spec))
    return out


def _axes(data: RunData, snap: Snapshot) -> dict:
    """Return the report's axes and figures for the run, from its grid points alone."""
    spec = run_spec(data, snap)

    def compute():
        cells = spec_frame(snap.cells, spec)
        if not snap.n:
            return {"x": None, "y": None, "varying": [], "group": None, "figures": []}
        x, y = choose_axes(cells)  # the same on one row per grid point as on every row
        varying = varying_axes(cells)
        xor = "task" in cells and "out_3" in snap.columns and \
            bool((cells["task"].astype(str) == "xor").all())
        refined = is_slice(cells, x, y) and all(c in snap.columns for c in REFINED_COLUMNS)
        figures = (["refined"] if refined else ["heatmap", "heatmap_expected_epochs"]
                   if x and y else ["rate"] if x else [])
        figures += ["fraction_converged"] + (["failure_modes"] if xor else []) + ["epochs"]
        return {"x": x, "y": y, "varying": varying, "group": _group_axis(cells, x, varying),
                "figures": figures}
    return data.cached(snap, ("axes",), compute)


def _group_axis(df, x, varying) -> str | None:
    """Return the axis to draw bars by: x if it has few values, else the smallest one."""
    if x is not None and df[x].nunique() <= _MAX_GROUPS:
        return x
    small = [a for a in varying if df[a].nunique() <= _MAX_GROUPS]
    return min(small, key=lambda a: df[a].nunique()) if small else None


def run_detail(runs: Runs, name: str) -> dict:
    """Return a run's page data: the ``xorsweep list`` facts, progress, headline, figures.

    Raises
    ------
    RunNotFound, RunError, StoreError
        See :meth:`Runs.data` and :meth:`RunData.snapshot`.
    """
    data = runs.data(name)
    snap = data.snapshot()
    summary = runs.summary(name)
    if summary.state == "damaged":  # a part the snapshot does not read (curves) is damaged
        raise StoreError(f"{snap.path} has a missing or truncated part; "
                         f"`xorsweep status {snap.path}` names it and the command that "
                         "recomputes it")
    axes = _axes(data, snap)
    spec = run_spec(data, snap)
    n, conv = snap.n, snap.converged
    lo, hi = wilson_interval(conv, n)
    level0 = None
    if snap.n0 != n and snap.n0:  # refined: the levels crowd the boundary; the grid does not
        lo0, hi0 = wilson_interval(snap.converged0, snap.n0)
        level0 = {"networks": snap.n0, "converged": snap.converged0,
                  "rate": snap.converged0 / snap.n0, "rate_low": float(lo0),
                  "rate_high": float(hi0)}
    pooled = [a for a in axes["varying"] if a not in (axes["x"], axes["y"])]
    path = f"/api/runs/{quote(name, safe='')}"  # a directory's name may hold ? # % /
    figures = [{"name": f, "url": f"{path}/figures/{f}.png?v={snap.version}",
                "caption": FIGURES[f].format(x=axes["x"], y=axes["y"],
                                             pooled=plots.pooled_note(pooled))}
               for f in axes["figures"]]
    return {"name": name, "state": summary.state, "size": summary.size,
            "description": str(spec.get("description", "")),
            "version": snap.version, "progress": progress(snap),
            "summary": {"networks": n, "converged": conv, "rate": conv / n if n else None,
                        "rate_low": float(lo) if n else None,
                        "rate_high": float(hi) if n else None, "level0": level0},
            "axes": axes, "figures": figures,
            "table": f"{path}/table", "heatmap": f"{path}/heatmap"}


def table_json(t: pd.DataFrame, max_rows: int = MAX_TABLE_ROWS) -> dict:
    """Return a table as ``{"columns", "rows", "total_rows"}``, cells as ``[text, value]``.

    Numbers are formatted as the report formats them (:func:`analysis.tables.table_formats`);
    ``value`` is the raw number (for sorting) or None for text.
    """
    formats = table_formats(t)
    rows = []
    for values in t.head(max_rows).itertuples(index=False, name=None):
        row = []
        for c, v in zip(t.columns, values, strict=True):
            spec = formats[c]
            if spec is None or not isinstance(v, int | float | np.integer | np.floating) \
                    or isinstance(v, bool | np.bool_):
                row.append(["" if v is None else str(v), None])
            elif math.isnan(float(v)):
                row.append(["", None])
            elif math.isinf(float(v)):
                row.append(["never" if v > 0 else "-inf", float(v)])
            else:
                row.append([format(float(v), spec), float(v)])
        rows.append(row)
    return {"columns": [str(c) for c in t.columns], "rows": rows, "total_rows": len(t),
            "numeric": [formats[c] is not None for c in t.columns]}


def run_table(runs: Runs, name: str) -> bytes:
    """Return a run's convergence table by every varying axis, as the report shows it (JSON).

    More than :data:`MAX_TABLE_ROWS` rows: the initial-parameter axes are pooled when
    they vary, then the first rows are sent; ``note`` says so.
    """
    data = runs.data(name)
    snap = data.snapshot()

    spec = run_spec(data, snap)

    def compute():
        df = spec_frame(data.frame(), spec)
        if not len(df):
            return {"version": snap.version, "columns": [], "rows": [], "total_rows": 0,
                    "note": "no finished chunk yet", "pooled": []}
        varying = varying_axes(df)
        table = convergence_table(df, by=varying)
        note = ""
        if len(table) > MAX_TABLE_ROWS and any(is_param_axis(a) for a in varying):
            table = convergence_table(df, by=[a for a in varying if not is_param_axis(a)])
            note = "initial-parameter axes pooled; "
        if "n_converged" in table and (table["n_converged"] == table["converged"]).all():
            table = table.drop(columns="n_converged")
        if len(table) > MAX_TABLE_ROWS:
            note += f"shown: the first {MAX_TABLE_ROWS:,} of {len(table):,} rows"
        return {"version": snap.version, **table_json(table), "note": note.strip("; "),
                "pooled": table.attrs.get("pooled", [])}
    return data.cached(snap, ("table",), lambda: to_json(compute()))


def run_heatmap(runs: Runs, name: str) -> bytes:
    """Return the numbers of a run's rate heatmap as JSON: axes, values, rate and n per cell."""
    data = runs.data(name)
    snap = data.snapshot()
    axes = _axes(data, snap)
    spec = run_spec(data, snap)

    def compute():
        if not (axes["x"] and axes["y"]):
            return {"version": snap.version, "x": axes["x"], "y": axes["y"], "x_values": [],
                    "y_values": [], "rate": [], "n": [], "pooled": []}
        h = plots.heatmap_data(spec_frame(data.frame(), spec), axes["x"], axes["y"], "rate")
        return {"version": snap.version, "x": h.x, "y": h.y, "x_values": list(h.x_values),
                "y_values": list(h.y_values), "rate": h.values, "n": h.n,
                "pooled": h.pooled}
    return data.cached(snap, ("heatmap",), lambda: to_json(compute()))


def render_png(fig) -> bytes:
    """Return a matplotlib figure as PNG bytes (the report's resolution)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI, bbox_inches="tight")
    return buf.getvalue()


def new_figure(width: float = 7.0, height: float = 5.0, ncols: int = 1):
    """Return a matplotlib figure (not pyplot's: nothing global) and its axes."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(1, ncols)
    return fig, axes


def figure_png(runs: Runs, name: str, figure: str) -> bytes | None:
    """Return one figure of a run's page as PNG, or None if the run does not draw it."""
    data = runs.data(name)
    snap = data.snapshot()
    axes = _axes(data, snap)
    if figure not in axes["figures"]:
        return None
    spec = run_spec(data, snap)
    draw = _draw_refined if figure == "refined" else _draw
    return data.cached(snap, ("figure", figure),
                       lambda: draw(spec_frame(data.frame(), spec), figure, axes))


def _draw_refined(df, figure: str, axes: dict) -> bytes:
    """Draw a refined slice as the report does (the first slice, if other axes vary)."""
    x, y = refined_axes(df, axes["x"], axes["y"])
    title, rows = slices.slice_facets(df, x, y)[0]
    with DRAW_LOCK:
        return render_png(refined_slice_figure(rows, x, y, title)[1])


def _draw(df, figure: str, axes: dict) -> bytes:
    x, y, group = axes["x"], axes["y"], axes["group"]
    with DRAW_LOCK:
        if figure.startswith("heatmap"):
            metric = "rate" if figure == "heatmap" else figure[len("heatmap_"):]
            h = plots.heatmap_data(df, x, y, metric)
            fig, ax = new_figure(max(6.0, min(14.0, 0.75 * len(h.x_values) + 3)),
                                 max(4.5, min(12.0, 0.55 * len(h.y_values) + 2.5)))
            plots.plot_heatmap(h, ax)
        elif figure == "rate":
            fig, ax = new_figure()
            plots.plot_rate(convergence_table(df, by=[x]), x, ax)
        elif figure == "fraction_converged":
            fig, ax = new_figure()
            plots.plot_fraction_converged(fraction_converged(df, by=[group] if group else []),
                                          ax)
        elif figure == "failure_modes":
            fig, ax = new_figure(8, 5)
            plots.plot_failure_modes(plots.failure_mode_shares(df, by=group), ax)
        else:
            fig, ax = new_figure(7, 4)
            plots.plot_epochs_histogram(plots.epochs_histogram(df), ax)
        return render_png(fig)
