"""The HTML page of a report: headline cards, figures, tables, how to reproduce the run."""

from __future__ import annotations

import base64
import html
import math
import shlex

import numpy as np
import pandas as pd

from sweeps.store import lock_held, resume_command

from . import plots
from .tables import (
    FAILURE_TOL,
    MIN_BEST_N,
    TIE_ALPHA,
    best_cells,
    convergence_table,
    failure_mode_table,
    grid_axes,
    is_param_axis,
    outcome_failure_table,
    table_formats,
    varying_axes,
    wilson_interval,
)

_MAX_TABLE_ROWS = 1000  # longer convergence tables are shortened on the page
_MAX_TIED_NAMED = 6  # cells tied with the best that the page names; the rest are counted


def read_spec(run) -> tuple[str, dict]:
    """Return the run's frozen spec as text and as data (``{}`` if missing or unreadable).

    Raises :class:`~sweeps.store.StoreError` if it was changed after the run began.
    """
    import tomllib

    text = run.spec_text()
    if text is None:
        return "(spec.toml missing)", {}
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return text, {}


def is_xor(df) -> bool:
    """Return whether every network of the table is an XOR network."""
    return "task" in df and (df["task"].astype(str) == "xor").all() and "out_3" in df


_CSS = """
body { font-family: system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif;
       max-width: 1280px; margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
h1, p, li, figcaption, code, .card { overflow-wrap: anywhere; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
.lead { color: #555; margin-top: 0; }
.cards { display: flex; flex-wrap: wrap; gap: 0.8em; margin: 1em 0; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: 0.6em 1em; min-width: 10em; }
.card b { display: block; font-size: 1.4em; }
.warn { background: #fff3cd; border: 1px solid #e0c46c; padding: 0.6em 1em; border-radius: 6px; }
figure { margin: 1.5em 0; } figure img { max-width: 100%; }
figure.full { overflow-x: auto; } figure.full img { max-width: none; }
figcaption { color: #555; font-size: 0.9em; }
pre { background: #f6f8fa; padding: 0.8em; border-radius: 6px; white-space: pre-wrap;
      overflow-wrap: anywhere; }
table { border-collapse: separate; border-spacing: 0; font-size: 0.85em; }
th, td { border: 0 solid #ddd; border-width: 0 1px 1px 0; padding: 0.25em 0.4em;
         text-align: right; font-variant-numeric: tabular-nums; }
tr > :first-child { border-left-width: 1px; } thead th { border-top-width: 1px; }
td.t, th.t { text-align: left; }
th { background: #f6f8fa; position: sticky; top: 0; z-index: 1; vertical-align: bottom;
     cursor: pointer; user-select: none; }
th:hover { background: #e8ecf0; }
th[aria-sort=ascending]::after { content: " \\25B2"; font-size: 0.8em; }
th[aria-sort=descending]::after { content: " \\25BC"; font-size: 0.8em; }
tbody tr:hover td { background: #fafbfc; }
.scroll { overflow: auto; max-height: 40em; max-width: 100%; }
.note { color: #555; font-size: 0.9em; }
"""

# Sorts every table on a click (or Enter) on a header: numbers by the cell's data-v value,
# text otherwise; empty values last either way; a second click reverses.
_JS = """
(function () {
  function key(td) {
    var v = td.getAttribute("data-v");
    return v === null ? td.textContent : (v === "" ? NaN : parseFloat(v));
  }
  function compare(a, b) {
    var an = typeof a === "number", bn = typeof b === "number";
    if (an && bn) {
      if (isNaN(a) || isNaN(b)) { return isNaN(a) - isNaN(b); }
      return a < b ? -1 : (a > b ? 1 : 0);
    }
    return String(a).localeCompare(String(b), undefined, {numeric: true});
  }
  function sort(table, col, th) {
    var up = th.getAttribute("aria-sort") !== "ascending";
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) {
      h.setAttribute("aria-sort", "none");
    });
    th.setAttribute("aria-sort", up ? "ascending" : "descending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows).map(function (r, i) {
      return {row: r, key: key(r.cells[col]), i: i};
    });
    rows.sort(function (a, b) {
      var blank = (typeof a.key === "number" && isNaN(a.key)) -
                  (typeof b.key === "number" && isNaN(b.key));
      var c = blank || (up ? 1 : -1) * compare(a.key, b.key);
      return c || a.i - b.i;
    });
    rows.forEach(function (r) { body.appendChild(r.row); });
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (t) {
    Array.prototype.forEach.call(t.tHead.rows[0].cells, function (th, col) {
      th.tabIndex = 0;
      th.setAttribute("aria-sort", "none");
      th.title = "sort by this column";
      th.addEventListener("click", function () { sort(t, col, th); });
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter") { sort(t, col, th); }
      });
    });
  });
})();
"""


def _fmt_table(t: pd.DataFrame) -> str:
    """Return a sortable HTML table: one number format per column, raw values in data-v.

    Infinite values read "never" (expected epochs when nothing converged) and sort
    after every number; NaN is blank and sorts last.  Headers may break after an
    underscore, so that long column names do not widen the page.
    """
    esc = html.escape
    formats = table_formats(t)
    head = "".join(
        f"<th{'' if formats[c] else ' class=t'}>{esc(str(c)).replace('_', '_<wbr>')}</th>"
        for c in t.columns)
    rows = []
    for values in t.itertuples(index=False, name=None):
        cells = []
        for c, v in zip(t.columns, values, strict=True):
            spec = formats[c]
            if spec is None or not isinstance(v, int | float | np.integer | np.floating):
                cells.append(f"<td class=t>{esc('' if v is None else str(v))}</td>")
                continue
            v = float(v)
            if math.isnan(v):
                text, raw = "", ""
            elif math.isinf(v):
                text, raw = ("never" if v > 0 else "-inf"), ("Infinity" if v > 0
                                                              else "-Infinity")
            else:
                text, raw = format(v, spec), repr(v)
            cells.append(f"<td data-v='{raw}'>{esc(text)}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return (f"<table class=sortable><thead><tr>{head}</tr></thead>\n<tbody>\n"
            + "\n".join(rows) + "\n</tbody></table>")


def _page_table(table: pd.DataFrame) -> pd.DataFrame:
    """Return the table as shown: without ``n_converged``, which repeats ``converged``."""
    if "n_converged" in table and "converged" in table and \
            (table["n_converged"] == table["converged"]).all():
        return table.drop(columns="n_converged")
    return table


def _cell_name(row) -> str:
    parts = []
    for a in grid_axes(row.to_frame().T):
        if f"{a}_low" in row.index and f"{a}_high" in row.index:  # a bin of a continuous axis
            parts.append(f"{a} {plots.format_value(row[f'{a}_low'])} - "
                         f"{plots.format_value(row[f'{a}_high'])}")
        else:
            parts.append(f"{a} = {plots.format_value(row[a])}")
    return ", ".join(parts) or "all networks"


def _best_section(table: pd.DataFrame, df: pd.DataFrame | None = None,
                  partial: bool = False) -> str:
    """Name the best cell by the lower end of its interval and the cells tied with it.

    With the network table ``df``, ties are decided by the paired test of
    :func:`analysis.tables.best_cells`; without it, by overlapping intervals.
    ``partial``: the run is incomplete, so the best cell is of the cells trained so far.
    """
    if len(table) <= 1 or "rate_low" not in table:
        return ""
    esc = html.escape
    ranked = best_cells(table, df, min_n=MIN_BEST_N)
    paired = "p_value" in ranked
    if paired:
        rule = (f"<p class=note>How the best cell is chosen: among cells of at least "
                f"{MIN_BEST_N} networks, the one whose 95% Wilson interval has the highest "
                "lower end (fewer expected epochs break ties). A cell is statistically tied "
                "with it when the exact McNemar test on their paired networks (replicate r of "
                "one against replicate r of the other, which start from the same initial "
                f"draw) does not reject equal convergence rates at the {TIE_ALPHA:g} level. "
                "Pairing removes the spread between initial draws, so it tells apart cells "
                "whose separate intervals overlap. A cell with few networks has a wide "
                "interval and does not rank high on a lucky rate.</p>")
    else:
        rule = (f"<p class=note>How the best cell is chosen: among cells of at least "
                f"{MIN_BEST_N} networks, the one whose 95% Wilson interval has the highest "
                "lower end (fewer expected epochs break ties); a cell is statistically tied "
                "with it when its interval reaches that lower end, i.e. the two intervals "
                "overlap. A cell with few networks has a wide interval and does not rank "
                "high on a lucky rate.</p>")
    if ranked.empty:
        return (f"<p>Best cell: none named; no cell has {MIN_BEST_N} or more networks "
                f"(largest: {int(table['n'].max())}), too few to tell cells apart.</p>{rule}")
    top = ranked.iloc[0]
    if top["converged"] == 0:
        return f"<p>Best cell: none named; no cell with {MIN_BEST_N} or more networks " \
               f"converged.</p>{rule}"
    so_far = " so far (of the networks trained; the run is incomplete)" if partial else ""
    text = (f"<p>Best cell{so_far}: <b>{esc(_cell_name(top))}</b> converged {top['rate']:.1%} "
            f"({int(top['converged'])} of {int(top['n'])}; 95% interval "
            f"{top['rate_low']:.1%} - {top['rate_high']:.1%}), expected "
            f"{_epochs_text(top['expected_epochs'])} epochs to a solution with restarts.")
    tied = ranked[ranked["tied"]]
    if tied.empty:
        text += (f" Every other cell of {MIN_BEST_N} or more networks converged less often "
                 f"(paired exact McNemar test, p &lt; {TIE_ALPHA:g}).</p>"
                 if paired else " No other cell's interval reaches its lower end.</p>")
    else:
        names = "; ".join(
            f"<b>{esc(_cell_name(r))}</b> ({r['rate']:.1%} of {int(r['n'])}"
            + (f"; paired p = {r['p_value']:.2g}" if paired else "") + ")"
            for _, r in tied.head(_MAX_TIED_NAMED).iterrows())
        more = (f"; and {len(tied) - _MAX_TIED_NAMED} more" if len(tied) > _MAX_TIED_NAMED
                else "")
        text += (f"</p>\n<p>Statistically tied with it ({len(tied)} "
                 f"cell{'s' if len(tied) > 1 else ''}): {names}{more}.</p>")
    return text + rule


def render(run, df, table, figures, x, y, metric, spec: tuple[str, dict]) -> str:
    """Return the report's self-contained HTML page; ``spec`` is :func:`read_spec`'s pair."""
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
    if "level" in df and df["level"].max() > 0:  # the refined levels crowd the boundary
        grid = df["level"] == 0
        n0, conv0 = int(grid.sum()), int((df.loc[grid, "converged_epoch"] >= 0).sum())
        lo0, hi0 = wilson_interval(conv0, n0)
        cards[2] = ("converged, every level", cards[2][1])
        cards.insert(4, ("converged, level 0 grid", f"{conv0 / n0:.1%} ({float(lo0):.1%} - "
                                                    f"{float(hi0):.1%})" if n0 else "-"))
    # the words of `xorsweep run` and `xorsweep status`: wall time, compiling, training
    for key, label in (("wall_s", "wall time"), ("compile_s", "compiling")):
        if isinstance(m.get(key), int | float):
            cards.append((label, f"{m[key]:.1f} s"))
    if m.get("elapsed_s"):
        rate = n * m["epochs"] / m["elapsed_s"]
        workers = m.get("workers")
        on = f" on {workers} worker{'s' * (workers != 1)}" if isinstance(workers, int) else ""
        cards.append(("training",
                      f"{m['elapsed_s']:.1f} s{on} ({rate / 1e6:.3g} M network-epochs/s)"))
    best = _best_section(table, df, partial=not run.complete)
    warn = ""
    if not run.complete:
        what = (" Resume it with <code>" + esc(resume_command(run.path.resolve(),
                                                                name=m["name"]))
                + "</code>, then report "
                "again." if not lock_held(run.path) else " It is running: report again when "
                "it has finished.")
        warn = (f"<p class='warn'>This run is incomplete: {len(run.done)} of "
                f"{len(m['chunks'])} chunks are done.{what}</p>")
    spec_path = run.path / "spec.toml"
    spec_text, spec_data = spec
    command = (f"xorsweep run {shlex.quote(str(spec_path))} --out "
               f"{shlex.quote(str(run.path.parent))}"
               + (" --device cuda" if m.get("device") == "cuda" else ""))
    versions = ", ".join(f"{k} {v}" for k, v in m.get("versions", {}).items())
    machine = m.get("machine", {})
    figs_html = _figures_html([f for f in figures if f.section == "figures"])
    cards_html = "".join(f"<div class='card'>{esc(k)}<b>{esc(v)}</b></div>" for k, v in cards)
    table_intro, shown_table = _table_section(df, table)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>xorsweep report: {esc(m.get('name', run.path.name))}</title>
<style>{_CSS}</style></head>
<body>
<h1>{esc(m.get('name', run.path.name))}</h1>
<p class="lead">{esc(str(spec_data.get("description", "")))}</p>
<p>Converged means {esc(criterion_text(spec_data, df))}.</p>
{warn}
<div class="cards">{cards_html}</div>
{best}
<h2>Figures</h2>
{figs_html}
{_outcomes_section(df, [f for f in figures if f.section == "outcomes"])}
<h2>Convergence table</h2>
{table_intro} <i>rate</i> with its 95% Wilson interval; epochs among converged
networks; <i>expected_epochs</i>: expected epochs to a solution when failures are restarted and
cost the epoch limit ("never" when none converged); <i>n_&lt;outcome&gt;</i>: outcome counts
(<i>converged</i> is the count of converged networks). Click a column's header to sort by it.</p>
<div class="scroll">{_fmt_table(_page_table(shown_table))}</div>
<h2>Reproduce</h2>
<pre>{esc(command)}</pre>
<p>with the spec as run (<code>spec.toml</code> in the run directory):</p>
<pre>{esc(spec_text)}</pre>
<p>Versions: {esc(versions)}. Machine: {esc(str(machine.get('platform', '?')))},
{esc(str(machine.get('cpus', '?')))} CPUs.
Heatmap axes: x = {esc(str(x))}, y = {esc(str(y))}, metric = {esc(metric)}.</p>
<script>{_JS}</script>
</body></html>
"""


def _figures_html(figures) -> str:
    esc = html.escape
    return "\n".join(
        f"<figure{' class=full' if f.full_size else ''}><img alt='{esc(f.name)}' "
        f"src='data:image/png;base64,{base64.b64encode(f.png).decode()}'>"
        f"<figcaption>{esc(f.caption)}</figcaption></figure>" for f in figures)


_OUTCOME_TEXT = """Every network ends training with one outcome: <i>converged</i> (met the
criterion at some epoch); <i>saturated</i> (some output within 0.1 of its wrong target);
<i>plateau</i> (every output within 0.05 of 1/2); <i>slow</i> (every output on the right side
of 1/2, not yet within the criterion); <i>stuck</i> (otherwise: some output on the wrong side,
none saturated); <i>diverged</i> (the loss or a parameter became non-finite)."""


def _outcomes_section(df, figures) -> str:
    """Outcomes and, for XOR, the failure modes within each outcome: one table, one story."""
    t = outcome_failure_table(df).reset_index()
    if not is_xor(df):
        return f"""<h2>Outcomes</h2>
<p>{_OUTCOME_TEXT}</p>
{_fmt_table(t)}"""
    return f"""<h2>Outcomes and failure modes</h2>
<p>{_OUTCOME_TEXT} An XOR network that did not converge is also named by the stationary
pattern its final outputs sit at, its <i>failure mode</i> (below). The table counts every
network once, by outcome (rows) and failure mode (columns; <i>converged</i>: met the
criterion), so it shows which outcome each failure mode belongs to: a <i>half4</i> network is
a <i>plateau</i>, a <i>satwrong</i> one <i>saturated</i>, and so on.</p>
{_fmt_table(t)}
{_figures_html(figures)}
{_failure_section(df)}"""


def _failure_section(df) -> str:
    """XOR failure modes, pooled: counts beside each pattern's theoretical and observed loss."""
    if not is_xor(df):
        return ""
    by = ["loss"] if "loss" in df and df["loss"].nunique() > 1 else []  # per loss function
    t = failure_mode_table(df, by=by)
    if t.empty:
        return ""
    losses = ", ".join(sorted(df["loss"].astype(str).unique())) if "loss" in df else "bce"
    return f"""<h3>Failure modes</h3>
<p>Non-converged XOR networks by the stationary pattern their final outputs sit at
(every output closer than {FAILURE_TOL:g} to its value): <i>half4</i> all outputs 1/2;
<i>half2</i> two right, the other two, of different targets, at 1/2; <i>third3</i> one right,
three at the mean of their targets; <i>satwrong</i> exactly one output saturated at its wrong
target, the other three right; <i>other</i> none of these. The theoretical loss is the
pattern's loss at its exact outputs ({html.escape(losses)}; per loss function when the run
has several); <i>satwrong</i> has mse 1/4 and no value under bce, where the wrong output's
loss grows without bound. The observed one is the median final loss of the networks found
in it.</p>
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
    varying = varying_axes(df)
    params = [a for a in varying if is_param_axis(a)]
    if params:
        by = [a for a in varying if not is_param_axis(a)]
        shown = convergence_table(df, by=by)
        notes.append(f"Here the initial-parameter axes ({html.escape(', '.join(params))}) "
                     "are pooled.")
    if len(shown) > _MAX_TABLE_ROWS:
        notes.append(f"Shown: the first {_MAX_TABLE_ROWS:,} of {len(shown):,} rows.")
        shown = shown.head(_MAX_TABLE_ROWS)
    return " ".join(notes), shown


def criterion_text(spec_data: dict, df) -> str:
    """Return what "converged" means in a run, in words: its spec's criterion and threshold.

    Mirrors ``sweeps.spec.CRITERIA`` (tests/test_layering.py pins the two together).
    """
    criterion = spec_data.get("criterion", "target-error")
    if criterion == "right-side":
        return "every output on the right side of 0.5 (Kolen & Pollack 1990)"
    if criterion == "fahlman":
        return "every output within 0.4 of its target (Fahlman 1988's 40-20-40 criterion)"
    te = float(df["target_error"].iloc[0]) if "target_error" in df and len(df) else 0.1
    return f"every output within {te:g} of its target (target_error)"


def _epochs_text(v) -> str:
    return "never" if not np.isfinite(v) else f"{v:,.0f}"
