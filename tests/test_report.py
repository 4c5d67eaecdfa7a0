"""`xorsweep report` end to end on small runs."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys

import pandas as pd
import pytest

import analysis
import sweeps
from analysis.report import ReportError, choose_axes, write_report
from sweeps.cli import main

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
    assert not re.search(r"<link|<script|@import|url\(|https?://", page)
    for text in ("rep", "Convergence table", "xorsweep run", "Best cell", "numba",
                 "Failure modes", "theoretical_loss", "observed_median_loss"):
        assert text in page
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
        assert sum(len(spec.grid[a]) > 1 for a in spec.grid) >= 2, name
