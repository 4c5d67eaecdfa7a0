"""``xorsweep zoom``: a slice over a sub-box of its parent's two axes, its parent recorded."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import analysis
import sweeps
from sweeps.refine import spaced_values
from xorsweep.cli import main

X, Y = "W1[0,1]", "W2[1]"
PLAIN = {"name": "kp", "epochs": 20, "replicates": 1, "record_every": 10,
         "criterion": "right-side",
         "grid": {"loss": ["mse"], "lr": [2.0], "momentum": [0.9],
                  X: {"linspace": [-10, 10, 5]}, Y: {"linspace": [-10, 10, 5]}},
         "init_values": {"W1[0,0]": 0.30, "W1[1,0]": 0.36, "W1[1,1]": 0.05, "b1[0]": 0.26,
                         "b1[1]": 0.54, "W2[0]": -0.71, "b2": -0.25}}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A plain and a refined slice, run."""
    out = tmp_path_factory.mktemp("runs")
    sweeps.run(PLAIN, out=out, jobs=1)
    sweeps.run(PLAIN | {"name": "kpr", "refine": {"levels": 1}}, out=out, jobs=1)
    return out


def _files(path):
    return sorted(p for p in path.rglob("*"))


def test_zoom_writes_the_sub_box_at_the_same_base_point(runs):
    parent = sweeps.load_spec(runs / "kp" / "spec.toml")
    spec = sweeps.zoom_spec(runs / "kp", x=(-1.0, 1.0), y=(2.0, 4.0), resolution=7)
    assert spec.name == "kp-zoom1"
    assert spec.grid[X] == tuple(spaced_values("linspace", -1.0, 1.0, 7))
    assert spec.grid[Y] == tuple(spaced_values("linspace", 2.0, 4.0, 7))
    for key in ("epochs", "replicates", "seed", "init_values", "criterion", "target_error"):
        assert getattr(spec, key) == getattr(parent, key)
    assert {a: v for a, v in spec.grid.items() if a not in (X, Y)} == {
        a: v for a, v in parent.grid.items() if a not in (X, Y)}
    z = spec.zoom
    assert (z.parent, z.root, z.x, z.y, z.depth) == ("kp", "kp", (-1.0, 1.0), (2.0, 4.0), 1)
    assert z.magnification == (10.0, 10.0)
    assert spec.refine is None
    assert spec.digest() != parent.digest()
    text = spec.to_toml()
    assert '[zoom]\nparent = "kp"\nroot = "kp"\nx = [-1.0, 1.0]\ny = [2.0, 4.0]\ndepth = 1' in text
    assert sweeps.load_spec(sweeps.load_spec(spec.to_dict())) == spec


def test_a_refined_slice_zooms_with_its_refine_table(runs):
    spec = sweeps.zoom_spec(runs / "kpr", x=(0.0, 5.0), y=(-5.0, 0.0))
    assert spec.refine.levels == 1
    assert spec.refine.axes == (X, Y)
    assert spec.refine.ranges[X] == ("linspace", 0.0, 5.0, 5)  # the parent's resolution
    assert spec.name == "kpr-zoom1"


def test_a_logspace_axis_zooms_in_the_exponent(tmp_path):
    sweeps.run({"name": "lrm", "epochs": 5, "replicates": 1,
                "grid": {"lr": {"logspace": [-1, 1, 3]}, "momentum": [0.0, 0.5, 0.9]}},
               out=tmp_path, jobs=1)
    # the axes in grid order: momentum, then lr
    spec = sweeps.zoom_spec(tmp_path / "lrm", x=(0.5, 0.9), y=(0.1, 1.0), resolution=3)
    assert spec.grid["lr"] == tuple(spaced_values("logspace", -1.0, 0.0, 3))
    assert spec.grid["momentum"] == tuple(spaced_values("linspace", 0.5, 0.9, 3))
    assert spec.zoom.magnification == pytest.approx((2.25, 2.0))


def test_three_nested_zooms_descend_a_thousand_fold(runs, tmp_path, capsys):
    import shutil

    shutil.copytree(runs / "kp", tmp_path / "kp")
    boxes = [("-1", "1", "-1", "1"), ("-0.1", "0.1", "-0.1", "0.1"),
             ("-0.01", "0.01", "-0.01", "0.01")]
    parent = tmp_path / "kp"
    for depth, (x0, x1, y0, y1) in enumerate(boxes, 1):
        assert main(["zoom", str(parent), "--x", x0, x1, "--y", y0, y1, "--jobs", "1",
                     "--quiet"]) == 0
        out = capsys.readouterr().out
        assert f"kp-zoom{depth}: 25 networks x 20 epochs done" in out
        parent = tmp_path / f"kp-zoom{depth}"
        run = sweeps.open_run(parent)
        assert run.complete
        spec = sweeps.load_spec(parent / "spec.toml")
        assert spec.zoom.depth == depth
        assert spec.zoom.parent == ("kp" if depth == 1 else f"kp-zoom{depth - 1}")
        assert spec.zoom.root == "kp"
        assert np.allclose(spec.zoom.magnification, 10.0 ** depth)
        df = run.networks()
        assert df[X].min() == float(x0)
        assert df[X].max() == float(x1)
    assert main(["zoom", str(tmp_path / "kp-zoom2"), "--x", "-0.01", "0.01", "--y", "-0.01",
                 "0.01", "--quiet"]) == 0  # the same zoom again: already complete
    assert "already complete" in capsys.readouterr().out
    # the chain's dimensions, from the run directories as from their tables
    dirs = [tmp_path / "kp", *(tmp_path / f"kp-zoom{d}" for d in (1, 2, 3))]
    by_path = analysis.zoom_dimensions(dirs)
    pd.testing.assert_frame_equal(by_path, analysis.zoom_dimensions([analysis.load(d)
                                                                     for d in dirs]))
    assert by_path["name"].tolist() == ["kp", "kp-zoom1", "kp-zoom2", "kp-zoom3"]


BAD = [
    (["--x", "-20", "1", "--y", "-1", "1"], "is outside kp's W1\\[0,1\\] range"),
    (["--x", "-1", "1", "--y", "-1", "11"], "is outside kp's W2\\[1\\] range"),
    (["--x", "1", "1", "--y", "-1", "1"], "--x 1.0 1.0: LOW must be below HIGH"),
    (["--x", "2", "1", "--y", "-1", "1"], "LOW must be below HIGH"),
    (["--x", "-1", "inf", "--y", "-1", "1"], "LOW and HIGH must be finite numbers"),
    (["--x", "1", "1.0000000000000002", "--y", "-1", "1"], "is too narrow for 5 distinct"),
    (["--x", "-1", "1", "--y", "-1", "1", "--resolution", "1"], "--resolution 1 must be"),
]


@pytest.mark.parametrize(("args", "message"), BAD)
def test_bad_zooms_are_one_line_exit_2_and_nothing_written(runs, tmp_path, capsys, args,
                                                           message):
    import re
    import shutil

    shutil.copytree(runs / "kp", tmp_path / "kp")
    before = _files(tmp_path)
    assert main(["zoom", str(tmp_path / "kp"), *args, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert re.search(message, err), err
    assert _files(tmp_path) == before


def test_zooming_a_missing_run_or_one_that_is_not_a_slice_is_refused(tmp_path, capsys):
    assert main(["zoom", str(tmp_path / "nothing"), "--x", "0", "1", "--y", "0", "1"]) == 2
    assert "is not a run directory (no spec.toml)" in capsys.readouterr().err
    sweeps.run({"name": "lr", "epochs": 5, "replicates": 1, "grid": {"lr": [0.5, 1.0]}},
               out=tmp_path, jobs=1)
    before = _files(tmp_path)
    assert main(["zoom", str(tmp_path / "lr"), "--x", "0.5", "1", "--y", "0", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "lr is not a slice over two axes (it has 1 continuous" in err
    assert _files(tmp_path) == before


def test_zoom_dry_run_writes_nothing(runs, tmp_path, capsys):
    import shutil

    shutil.copytree(runs / "kp", tmp_path / "kp")
    before = _files(tmp_path)
    assert main(["zoom", str(tmp_path / "kp"), "--x", "-1", "1", "--y", "-1", "1",
                 "--dry-run"]) == 0
    assert "kp-zoom1: dry run, nothing written" in capsys.readouterr().out
    assert _files(tmp_path) == before


def test_a_second_zoom_of_one_parent_is_told_to_take_another_name(runs, tmp_path, capsys):
    import shutil

    shutil.copytree(runs / "kp", tmp_path / "kp")
    assert main(["zoom", str(tmp_path / "kp"), "--x", "-1", "1", "--y", "-1", "1", "--jobs", "1",
                 "--quiet"]) == 0
    capsys.readouterr()
    before = _files(tmp_path)
    assert main(["zoom", str(tmp_path / "kp"), "--x", "-2", "2", "--y", "-1", "1",
                 "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert 'kp-zoom1 holds a run of a different spec (grid."W1[0,1]": ' in err
    assert "zoom." not in err  # the box is recorded, not a result-changing key
    assert "(--name NEW)" in err
    assert "--set" not in err
    assert _files(tmp_path) == before
    assert main(["zoom", str(tmp_path / "kp"), "--x", "-2", "2", "--y", "-1", "1", "--jobs", "1",
                 "--name", "kp-wide", "--quiet"]) == 0


def test_zooming_a_run_whose_spec_was_edited_is_refused(runs, tmp_path, capsys):
    import shutil

    shutil.copytree(runs / "kp", tmp_path / "kp")
    spec = tmp_path / "kp" / "spec.toml"
    spec.write_text(spec.read_text().replace("lr = [2.0]", "lr = [3.0]"))
    before = _files(tmp_path)
    assert main(["zoom", str(tmp_path / "kp"), "--x", "-1", "1", "--y", "-1", "1"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "spec.toml was changed after the run began" in err
    assert _files(tmp_path) == before
