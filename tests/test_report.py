"""`xorsweep report` end to end on small runs."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

import analysis
import sweeps
from analysis.report import ReportError, choose_axes, write_report
from xorsweep.cli import main

SPEC = {"name": "rep", "epochs": 120, "replicates": 6, "record_every": 30,
        "grid": {"lr": [0.5, 2.0, 8.0], "init_scale": [0.5, 2.0], "hidden": [2, 3]}}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    sweeps.run(SPEC, out=out, chunk_size=10)
    return out / "rep"


def test_report_is_self_contained_and_embeds_every_figure(run_dir):
    page_path = write_report(run_dir)
    assert page_path == run_dir / "report" / "index.html"
    page = page_path.read_text()
    pngs = sorted((run_dir / "report").glob("*.png"))
    assert {p.stem for p in pngs} == {"heatmap", "heatmap_expected_epochs", "loss_curves",
                                      "fraction_converged", "failure_modes", "epochs"}
    for p in pngs:
        assert base64.b64encode(p.read_bytes()).decode() in page, p.name
    # nothing fetched from elsewhere: every src is a data URI, no links, scripts or stylesheets
    assert re.findall(r"src=['\"]([^'\"]*)", page)
    assert all(s.startswith("data:image/png;base64,") for s in
               re.findall(r"src=['\"]([^'\"]*)", page))
    # one inline script (the table's sorting), nothing it could load
    assert page.count("<script") == 1
    assert "<script>" in page
    assert not re.search(r"<link|<script\s+src|@import|url\(|https?://|fetch\(|XMLHttpRequest",
                         page)
    for text in ("rep", "Convergence table", "xorsweep run", "Best cell", "numba",
                 "Failure modes", "theoretical_loss", "observed_median_loss"):
        assert text in page.replace("<wbr>", "")  # long headers may break after "_"
    assert "incomplete" not in page


def test_summary_csv_is_the_convergence_table(run_dir):
    write_report(run_dir)
    csv = pd.read_csv(run_dir / "report" / "summary.csv")
    table = analysis.convergence_table(analysis.load(run_dir), by=["hidden", "init_scale", "lr"])
    assert len(csv) == 12
    pd.testing.assert_frame_equal(csv, table.reset_index(drop=True), check_dtype=False,
                                  check_categorical=False)


def test_choose_axes_defaults_and_errors():
    df = pd.DataFrame({"lr": [1, 2, 3, 1], "init_scale": [1, 1, 2, 2], "hidden": [2] * 4,
                       "activation": ["relu", "tanh", "relu", "tanh"]})
    assert choose_axes(df) == ("lr", "activation")  # most values; ties in axis order
    assert choose_axes(df, x="init_scale") == ("init_scale", "lr")
    assert choose_axes(df, y="lr") == ("activation", "lr")
    assert choose_axes(df[df["lr"] == 1][["lr", "hidden"]]) == (None, None)
    with pytest.raises(ReportError, match="'speed' is not an axis of this run"):
        choose_axes(df, x="speed")
    with pytest.raises(ReportError, match="two different axes"):
        choose_axes(df, x="lr", y="lr")


def test_report_command_options_and_errors(run_dir, tmp_path, capsys):
    assert main(["report", str(run_dir), "--x", "hidden", "--y", "lr",
                 "--metric", "expected_epochs"]) == 0
    assert "report written" in capsys.readouterr().out
    page = (run_dir / "report" / "index.html").read_text()
    assert "x = hidden, y = lr, metric = expected_epochs" in page
    assert main(["report", str(run_dir), "--metric", "speed"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "unknown metric 'speed'" in err
    assert main(["report", str(run_dir), "--x", "speed"]) == 2
    assert "'speed' is not an axis" in capsys.readouterr().err
    assert main(["report", str(tmp_path)]) == 2
    assert "not a run directory" in capsys.readouterr().err
    assert not (tmp_path / "report").exists()


def test_incomplete_run_is_reported_as_such(tmp_path):
    sweeps.run(SPEC, out=tmp_path, chunk_size=10)
    manifest_path = tmp_path / "rep" / "manifest.json"
    m = json.loads(manifest_path.read_text())
    del m["done"]["0"], m["done"]["3"]
    manifest_path.write_text(json.dumps(m))
    page = write_report(tmp_path / "rep").read_text()
    assert "This run is incomplete: 6 of 8 chunks are done" in page
    left = 72 - sum(b - a for a, b in (m["chunks"][0], m["chunks"][3]))
    assert f"{left} of 72" in page  # networks reported
    m["done"] = {}
    manifest_path.write_text(json.dumps(m))
    with pytest.raises(sweeps.RunError, match="no finished chunk"):
        write_report(tmp_path / "rep")


def test_the_best_cell_of_an_incomplete_run_is_the_best_so_far(tmp_path):
    spec = {"name": "part", "epochs": 300, "replicates": 30, "grid": {"lr": [0.5, 4.0]}}
    sweeps.run(spec, out=tmp_path, chunk_size=10)
    assert "Best cell: <b>" in write_report(tmp_path / "part").read_text()
    manifest_path = tmp_path / "part" / "manifest.json"
    m = json.loads(manifest_path.read_text())
    del m["done"]["5"]
    manifest_path.write_text(json.dumps(m))
    page = write_report(tmp_path / "part").read_text()
    assert "Best cell so far (of the networks trained; the run is incomplete): <b>" in page


def test_one_axis_and_non_xor_runs(tmp_path):
    sweeps.run({"name": "one", "task": "and", "epochs": 60, "replicates": 4,
                "grid": {"lr": [0.5, 1.0, 2.0]}}, out=tmp_path)
    assert "Failure modes" not in write_report(tmp_path / "one").read_text()
    names = {p.stem for p in (tmp_path / "one" / "report").glob("*.png")}
    assert names == {"rate", "loss_curves", "fraction_converged", "epochs"}  # no XOR patterns
    sweeps.run({"name": "none", "epochs": 60, "replicates": 4}, out=tmp_path)
    write_report(tmp_path / "none")
    names = {p.stem for p in (tmp_path / "none" / "report").glob("*.png")}
    assert names == {"loss_curves", "fraction_converged", "failure_modes", "epochs"}


def test_report_without_numba(run_dir):
    code = ("import sys; sys.modules['numba'] = None; sys.modules['kernels'] = None; "
            "from analysis.report import write_report; print(write_report(sys.argv[1]))")
    out = subprocess.run([sys.executable, "-c", code, str(run_dir)], capture_output=True,
                         text=True, check=True).stdout
    assert out.strip().endswith("index.html")


def test_every_bundled_spec_varies_two_axes():
    for name, path in sweeps.bundled_specs().items():  # so its default report has a heatmap
        spec = sweeps.load_spec(path)
        sampled = len(spec.sample.axes) if spec.sample else 0
        assert sum(len(spec.grid[a]) > 1 for a in spec.grid) + sampled >= 2, name


def test_report_out_writes_elsewhere_and_keeps_other_files(run_dir, tmp_path, capsys):
    write_report(run_dir)
    default = run_dir / "report" / "index.html"
    before = default.stat().st_mtime_ns
    out = tmp_path / "site" / "rep"
    out.mkdir(parents=True)
    (out / "photo.png").write_bytes(b"not a report figure")
    assert main(["report", str(run_dir), "--out", str(out)]) == 0
    assert f"report written: {out / 'index.html'}" in capsys.readouterr().out
    assert {"index.html", "summary.csv", "heatmap.png", "loss_curves.png",
            "photo.png"} <= {p.name for p in out.iterdir()}
    assert (out / "photo.png").read_bytes() == b"not a report figure"
    assert default.stat().st_mtime_ns == before  # RUN/report untouched


def test_report_removes_what_a_killed_report_left_and_nothing_else(run_dir, tmp_path):
    out = tmp_path / "site"
    out.mkdir()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    old = sweeps.store.ORPHAN_AGE_S + 60
    orphan = out / f".index.html.tmp-{gone}"        # its writer was killed long ago
    recent = out / f".summary.csv.tmp-{gone}"       # maybe a writer on another machine
    alive = out / ".index.html.tmp-1"                # its writer (init, here) still runs
    mine = out / ".notes.tmp-x"                      # not named as the store names them
    for f in (orphan, recent, alive, mine):
        f.write_bytes(b"partial")
    for f in (orphan, alive, mine):
        os.utime(f, (time.time() - old, time.time() - old))
    write_report(run_dir, out=out)
    assert (out / "index.html").is_file()
    assert not orphan.exists()
    assert recent.exists()
    assert alive.exists()
    assert mine.exists()


def test_an_axis_with_one_value_is_refused_naming_the_varying_axes(run_dir, capsys):
    df = pd.DataFrame({"lr": [1, 2, 3, 1], "init_scale": [1, 1, 2, 2], "hidden": [2] * 4})
    with pytest.raises(ReportError, match="--x 'hidden' takes one value in this run; "
                                          "choose one that varies: init_scale, lr"):
        choose_axes(df, x="hidden")
    with pytest.raises(ReportError, match="--y 'hidden' takes one value"):
        choose_axes(df, y="hidden")
    with pytest.raises(ReportError, match="no axis of this run varies"):
        choose_axes(df[df["lr"] == 1].assign(init_scale=1), x="lr")
    assert main(["report", str(run_dir), "--x", "task"]) == 2
    err = capsys.readouterr().err
    assert err == ("xorsweep: error: --x 'task' takes one value in this run; choose one that "
                   "varies: hidden, init_scale, lr\n")


def test_table_formats_one_per_column():
    from analysis.tables import number_format, table_formats

    assert number_format([0.1, 0.178, 31.6]) == ".3f"
    assert number_format([0.5, 2.0, 8.0]) == ".1f"
    assert number_format([1.0, 2.0, float("inf"), float("nan")]) == ",.0f"
    assert number_format(np.array([2, 3], dtype=np.int64)) == ",.0f"
    assert number_format([1e-5, 0.69]) == ".2e"
    assert number_format([3.0e6, 0.5]) == ".2e"
    assert number_format(["relu", "tanh"]) is None
    assert number_format([True, False]) is None
    t = pd.DataFrame({"activation": ["relu"], "lr": [0.5], "n": [3], "rate": [0.5],
                      "rate_low": [0.1], "epochs_median": [12.5], "expected_epochs": [np.inf],
                      "n_stuck": [1], "final_loss_median": [1e-4], "share": [0.25],
                      "epochs_p_value": [0.003], "p_value": [0.5]})
    assert table_formats(t) == {"activation": None, "lr": ".1f", "n": ",.0f", "rate": ".1%",
                                "rate_low": ".1%", "epochs_median": ",.0f",
                                "expected_epochs": ",.0f", "n_stuck": ",.0f",
                                "final_loss_median": ".2e", "share": ".1%",
                                "epochs_p_value": ".2e", "p_value": ".2e"}


def test_page_table_is_sortable_with_raw_values_and_no_duplicate_column():
    from analysis._page import _fmt_table, _page_table

    t = pd.DataFrame({"lr": [0.5, 16.0], "activation": ["relu", "tanh"], "n": [10, 2000],
                      "converged": [3, 0], "rate": [0.3, 0.0],
                      "expected_epochs": [1234.5, np.inf], "n_converged": [3, 0],
                      "final_loss_median": [np.nan, 2e-4]})
    shown = _page_table(t)
    assert "n_converged" not in shown
    assert list(shown.columns) == ["lr", "activation", "n", "converged", "rate",
                                   "expected_epochs", "final_loss_median"]
    html = _fmt_table(shown)
    assert html.startswith("<table class=sortable><thead><tr><th>lr</th><th class=t>activation"
                           "</th><th>n</th>")
    assert "<th>expected_<wbr>epochs</th>" in html
    rows = re.findall(r"<tr>(.*?)</tr>", html)[1:]
    assert rows[0] == ("<td data-v='0.5'>0.5</td><td class=t>relu</td><td data-v='10.0'>10</td>"
                       "<td data-v='3.0'>3</td><td data-v='0.3'>30.0%</td>"
                       "<td data-v='1234.5'>1,234</td><td data-v=''></td>")
    assert rows[1] == ("<td data-v='16.0'>16.0</td><td class=t>tanh</td>"
                       "<td data-v='2000.0'>2,000</td><td data-v='0.0'>0</td>"
                       "<td data-v='0.0'>0.0%</td><td data-v='Infinity'>never</td>"
                       "<td data-v='0.0002'>2.00e-04</td>")
    # a table where the two differ keeps both
    assert "n_converged" in _page_table(t.assign(n_converged=[2, 0]))


def test_best_cell_needs_enough_networks_and_names_ties():
    from analysis.tables import best_cells

    table = analysis.convergence_table(pd.DataFrame({
        "lr": [1] + [2] * 100 + [3] * 100 + [4] * 100,
        "converged_epoch": [5] + [5] * 90 + [-1] * 10 + [5] * 85 + [-1] * 15
        + [5] * 50 + [-1] * 50,
        "epochs": 100, "outcome": "stuck", "final_loss": 0.1}), by=["lr"])
    best = best_cells(table)
    assert best["lr"].tolist() == [2, 3]  # 1 of 1 is not best; 85 of 100 overlaps 90 of 100
    assert best["tied"].tolist() == [False, True]
    assert best_cells(table, min_n=1)["lr"].tolist()[0] == 2  # 1 of 1: interval 0.21 - 1
    assert best_cells(table, min_n=101).empty
    assert best_cells(table[table["lr"] != 3])["tied"].tolist() == [False]


def test_best_cell_text_on_the_page():
    from analysis._page import _best_section

    def table(rows):
        return analysis.convergence_table(pd.DataFrame(
            [{"lr": lr, "converged_epoch": ce, "epochs": 100, "outcome": "stuck",
              "final_loss": 0.1} for lr, n_ok, n in rows
             for ce in [5] * n_ok + [-1] * (n - n_ok)]), by=["lr"])

    text = _best_section(table([(1.0, 1, 1), (2.0, 90, 100), (3.0, 85, 100), (4.0, 5, 100)]))
    assert "Best cell: <b>lr = 2</b> converged 90.0% (90 of 100; 95% interval 82.6% - 94.5%)" \
        in text
    assert "Statistically tied with it (1 cell): <b>lr = 3</b> (85.0% of 100)." in text
    assert "at least 10 networks" in text  # the rule is on the page
    alone = _best_section(table([(1.0, 1, 1), (2.0, 90, 100), (4.0, 5, 100)]))
    assert "No other cell's interval reaches its lower end." in alone
    slice_ = _best_section(table([(1.0, 1, 1), (2.0, 0, 1)]))  # one network per cell
    assert "Best cell: none named; no cell has 10 or more networks" in slice_
    assert "<b>" not in slice_


def test_outcomes_and_failure_modes_are_one_table():
    from analysis.tables import outcome_failure_table

    half4, good, sat = (0.5, 0.5, 0.5, 0.5), (0.01, 0.99, 0.99, 0.01), (0.99, 0.99, 0.99, 0.01)
    rows = [("converged", 10, good), ("plateau", -1, half4), ("plateau", -1, half4),
            ("saturated", -1, sat), ("stuck", -1, (0.3, 0.7, 0.2, 0.4)), ("slow", 7, good)]
    df = pd.DataFrame([{"outcome": o, "converged_epoch": ce, "task": "xor",
                        **{f"out_{s}": v for s, v in enumerate(out)}} for o, ce, out in rows])
    t = outcome_failure_table(df)
    assert t.index.tolist() == ["converged", "slow", "plateau", "stuck", "saturated"]
    assert t.columns.tolist() == ["converged", "half4", "satwrong", "other", "total", "share"]
    assert t.to_dict("index") == {
        "converged": {"converged": 1, "half4": 0, "satwrong": 0, "other": 0, "total": 1,
                      "share": 1 / 6},
        "slow": {"converged": 1, "half4": 0, "satwrong": 0, "other": 0, "total": 1,
                 "share": 1 / 6},
        "plateau": {"converged": 0, "half4": 2, "satwrong": 0, "other": 0, "total": 2,
                    "share": 2 / 6},
        "stuck": {"converged": 0, "half4": 0, "satwrong": 0, "other": 1, "total": 1,
                  "share": 1 / 6},
        "saturated": {"converged": 0, "half4": 0, "satwrong": 1, "other": 0, "total": 1,
                      "share": 1 / 6}}
    other_task = outcome_failure_table(df.assign(task="and"))
    assert other_task.columns.tolist() == ["total", "share"]
    assert other_task["total"].tolist() == [1, 1, 2, 1, 1]


def test_page_tells_outcomes_and_failure_modes_together_and_wraps_long_values(run_dir):
    page = write_report(run_dir).read_text()
    story = page[page.index("<h2>Outcomes and failure modes</h2>"):
                 page.index("<h2>Convergence table</h2>")]
    assert "<th class=t>outcome</th>" in story
    assert "<th>half4</th>" in story or "<th>half2</th>" in story
    assert "alt='failure_modes'" in story  # the figure sits with its table
    assert "<h3>Failure modes</h3>" in story
    assert "n_<wbr>converged" not in page
    assert "Best cell: none named; no cell has 10 or more networks (largest: 6)" in page
    css = page[page.index("<style>"):page.index("</style>")]
    assert re.search(r"pre \{[^}]*white-space: pre-wrap", css)
    assert "position: sticky" in css


def test_report_of_a_sampled_run_draws_the_points_beside_binned_heatmaps(tmp_path):
    spec = {"name": "sampled", "epochs": 120, "replicates": 10, "record_every": 40,
            "sample": {"method": "sobol", "n": 64, "lr": {"loguniform": [0.1, 30]},
                       "momentum": {"uniform": [0, 0.9]}}}
    sweeps.run(spec, out=tmp_path)
    run_dir = tmp_path / "sampled"
    df = analysis.load(run_dir)
    assert df.attrs["sampled"] == {"lr": "loguniform", "momentum": "uniform"}
    assert choose_axes(df) == ("lr", "momentum")  # the sampled axes, in the spec's order
    page = write_report(run_dir).read_text()
    names = {p.stem for p in (run_dir / "report").glob("*.png")}
    assert {"heatmap", "heatmap_expected_epochs", "loss_curves", "epochs"} <= names
    assert not any(n.startswith("slice_") for n in names)
    assert "the 64 design points over lr x momentum" in page
    assert "in 2 x 2 bins" in page  # 640 networks, 64 points: 2 x 2 bins of 160
    csv = pd.read_csv(run_dir / "report" / "summary.csv")
    assert list(csv.columns[:6]) == ["momentum", "momentum_low", "momentum_high", "lr", "lr_low",
                                     "lr_high"]
    assert csv["n"].sum() == 640
    assert len(csv) == 4
    assert "Best cell: <b>momentum 0" in page
    assert "paired" in page
