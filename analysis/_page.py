"""The HTML page of a report: headline cards, figures, tables, how to reproduce the run."""

from __future__ import annotations

import base64
import html
import math
import shlex

import numpy as np
import pandas as pd

from . import plots
from .tables import (
    FAILURE_TOL,
    convergence_table,
    failure_mode_table,
    failure_modes,
    grid_axes,
    is_param_axis,
    varying_axes,
    wilson_interval,
)

_MAX_TABLE_ROWS = 1000  # longer convergence tables are shortened on the page


def read_spec(run) -> tuple[str, dict]:
    """Return the run's frozen spec as text and as data (``{}`` if missing or unreadable)."""
    import tomllib

    try:
        text = (run.path / "spec.toml").read_text()
    except OSError:
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
    spec_text, spec_data = spec
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
<p class="lead">{esc(str(spec_data.get("description", "")))}</p>
<p>Converged means {esc(_criterion_text(spec_data, df))}.</p>
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
    if not is_xor(df):
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


def _criterion_text(spec_data: dict, df) -> str:
    criterion = spec_data.get("criterion", "target-error")
    if criterion == "right-side":
        return "every output on the right side of 0.5 (Kolen & Pollack 1990)"
    if criterion == "fahlman":
        return "every output within 0.4 of its target (Fahlman 1988's 40-20-40 criterion)"
    te = float(df["target_error"].iloc[0]) if "target_error" in df and len(df) else 0.1
    return f"every output within {te:g} of its target (target_error)"


def _epochs_text(v) -> str:
    return "never" if not np.isfinite(v) else f"{v:,.0f}"
