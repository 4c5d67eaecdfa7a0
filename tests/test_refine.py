"""Refined slices (``[refine]``): the rule, the geometry, the run's levels, resume and invariance.

The issue's test: every refined point's result equals that of the same point
trained in a plain grid run at the finest resolution, bit for bit.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import sweeps
from sweeps import levels, refine, runner
from sweeps.refine import labels, refine_points, spaced_values
from sweeps.store import StoreError
from xorsweep.cli import main

#: A small Kolen & Pollack slice: b2 is drawn from the seed, so replicates differ.
SLICE = {"name": "slice", "epochs": 40, "replicates": 2, "record_every": 10,
         "criterion": "right-side",
         "grid": {"loss": ["mse"], "lr": [1.5, 2.0], "momentum": [0.9],
                  "W1[0,1]": {"linspace": [-10, 10, 5]}, "W2[1]": {"linspace": [-10, 10, 5]}},
         "init_values": {"W1[0,0]": 0.30, "W1[1,0]": 0.36, "W1[1,1]": 0.05, "b1[0]": 0.26,
                         "b1[1]": 0.54, "W2[0]": -0.71},
         "refine": {"levels": 2}}
X, Y = "W1[0,1]", "W2[1]"
RESULTS = ["final_loss", "converged_epoch", "outcome", "out_0", "out_1", "out_2", "out_3"]


def _tables(run):
    return run.networks(), pd.concat(list(run.curves()), ignore_index=True)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The slice run once, uninterrupted, on one worker."""
    return sweeps.run(SLICE, out=tmp_path_factory.mktemp("ref"), jobs=1, chunk_size=1000)


# ----------------------------------------------------------------------------- the rule

def test_labels_are_not_converged_or_log2_classes_of_epochs():
    e = np.array([-1, 0, 1, 2, 3, 6, 7, 14, 15, 2**40])
    assert labels(e).tolist() == [0, 1, 2, 2, 3, 3, 4, 4, 5, 41]


def test_only_cells_whose_corners_differ_are_refined():
    spec = sweeps.load_spec(SLICE | {"grid": SLICE["grid"] | {
        X: {"linspace": [0, 1, 3]}, Y: {"linspace": [0, 1, 3]}}})
    r = spec.refine  # level 0: 3 x 3 points, finest 9 x 9, stride 4
    keys = r.level0_keys()
    assert keys.tolist() == [ix * 9 + iy for ix in (0, 4, 8) for iy in (0, 4, 8)]
    rows = np.zeros((9, 1), dtype=np.int8)
    rows[keys.tolist().index(8 * 9 + 8)] = 1  # the corner (1, 1) differs: one cell refined
    new = refine_points(r, 0, keys, rows)
    got = {(int(k) // 9, int(k) % 9) for k in new}
    assert got == {(ix, iy) for ix in (4, 6, 8) for iy in (4, 6, 8)} - {(4, 4), (4, 8), (8, 4),
                                                                         (8, 8)}
    # labels that differ only in another combination (column) refine the same cell
    rows2 = np.zeros((9, 3), dtype=np.int8)
    rows2[keys.tolist().index(8 * 9 + 8), 2] = 5
    assert refine_points(r, 0, keys, rows2).tolist() == new.tolist()
    assert refine_points(r, 0, keys, np.zeros((9, 3), dtype=np.int8)).size == 0


# ----------------------------------------------------------------------------- geometry

@pytest.mark.parametrize(("kind", "start", "stop"), [("linspace", -10.0, 10.0),
                                                     ("linspace", 0.1, 0.7),
                                                     ("logspace", -1.0, 1.5)])
def test_every_level_is_exactly_the_plain_grid_of_its_resolution(kind, start, stop):
    axis = "lr" if kind == "logspace" else X
    grid = {"W1[0,1]": {"linspace": [-10, 10, 7]}, "W2[1]": {"linspace": [-3, 3, 7]},
            axis: {kind: [start, stop, 7]}}
    if axis == "lr":
        del grid[X]
    spec = sweeps.load_spec({"name": "g", "grid": grid, "refine": {"levels": 4}})
    r = spec.refine
    finest = r.values(axis)
    assert tuple(spec.grid[axis]) == tuple(finest[::r.stride(0)])  # level 0: the spec's grid
    for level in range(r.levels + 1):
        plain = np.array(spaced_values(kind, start, stop, r.resolution(level)[r.axes.index(axis)]))
        on_level = finest[::r.stride(level)]
        assert on_level.tobytes() == plain.tobytes()  # bit for bit


def test_refined_points_lie_on_the_finest_grid(reference):
    df = reference.networks()
    r = sweeps.load_spec(SLICE).refine
    assert r.finest == (17, 17)
    assert df[X].to_numpy().tobytes() == r.values(X)[df["ix"]].tobytes()
    assert df[Y].to_numpy().tobytes() == r.values(Y)[df["iy"]].tobytes()
    plain = np.array(spaced_values("linspace", -10.0, 10.0, 17))
    assert set(df[X]) <= set(plain.tolist())
    for level in range(3):
        s = r.stride(level)
        at = df[df["level"] == level]
        assert ((at["ix"] % s == 0) & (at["iy"] % s == 0)).all()
        if level:  # not on the coarser grid: new points
            assert not ((at["ix"] % (2 * s) == 0) & (at["iy"] % (2 * s) == 0)).any()


# ----------------------------------------------------------------------------- the run

def test_refined_points_equal_a_plain_grid_at_the_finest_resolution(reference, tmp_path):
    df = reference.networks()
    assert df["level"].dtype == np.int64
    assert df["ix"].dtype == np.int64
    assert sorted(df["level"].unique()) == [0, 1, 2]
    assert (df["level"] > 0).sum() > 0
    assert not df.duplicated(["lr", X, Y, "replicate"]).any()
    assert (df["cell"] == df["network"] // 2).all()
    plain = json.loads(json.dumps(SLICE))
    del plain["refine"]
    plain["name"] = "plain"
    plain["grid"][X] = plain["grid"][Y] = {"linspace": [-10, 10, 17]}
    full = sweeps.run(plain, out=tmp_path, jobs=2).networks()
    merged = df.merge(full, on=["lr", X, Y, "replicate"], suffixes=("", "_plain"),
                      validate="one_to_one")
    assert len(merged) == len(df)
    for col in RESULTS:
        a, b = merged[col].to_numpy(), merged[f"{col}_plain"].to_numpy()
        assert (a == b).all() if a.dtype.kind in "iO" else a.tobytes() == b.tobytes(), col


def test_refinement_spends_fewer_networks_than_the_finest_grid(reference):
    m = reference.manifest
    assert reference.complete
    assert m["n_networks"] < 17 * 17 * 2 * 2
    assert [r["networks"] for r in m["refine"]["decided"]][0] == [0, 5 * 5 * 2 * 2]


def test_a_refined_run_counts_its_wall_time_once(reference):
    # each level is trained by its own call; the session's time is counted once in all
    assert len(reference.manifest["refine"]["decided"]) == 3
    assert 0 < reference.manifest["wall_s"] <= reference.session.wall_s


def test_refined_runs_are_invariant_to_jobs_and_chunking(reference, tmp_path):
    ref = _tables(reference)
    for i, kw in enumerate([{"jobs": 2, "chunk_size": 7}, {"jobs": 2, "chunk_size": 3}]):
        refine._finest.cache_clear()
        got = _tables(sweeps.run(SLICE, out=tmp_path / str(i), **kw))
        for a, b in zip(got, ref, strict=True):
            pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_an_interrupted_refined_run_resumes_to_the_same_tables(reference, tmp_path,
                                                               monkeypatch):
    real = runner.compute_chunk
    calls = []

    def interrupt(*args):
        result = real(*args)
        calls.append(result.get("placement", {}).get("level"))
        if calls.count(1) == 2:  # inside level 1
            raise KeyboardInterrupt
        return result

    monkeypatch.setattr(runner, "compute_chunk", interrupt)
    with pytest.raises(KeyboardInterrupt):
        sweeps.run(SLICE, out=tmp_path, jobs=1, chunk_size=10)
    monkeypatch.setattr(runner, "compute_chunk", real)
    cut = sweeps.open_run(tmp_path / "slice")
    assert not cut.complete
    assert len(cut.manifest["refine"]["decided"]) == 2
    resumed = sweeps.run(SLICE, out=tmp_path, jobs=2)
    assert resumed.complete
    assert resumed.session.stored > 0
    for a, b in zip(_tables(resumed), _tables(reference), strict=True):
        pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_a_run_stopped_between_levels_resumes_to_the_same_tables(reference, tmp_path,
                                                                 monkeypatch):
    real = levels.next_points

    def stop(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(levels, "next_points", stop)
    with pytest.raises(KeyboardInterrupt):
        sweeps.run(SLICE, out=tmp_path, jobs=1, chunk_size=1000)
    monkeypatch.setattr(levels, "next_points", real)
    cut = sweeps.open_run(tmp_path / "slice")
    assert len(cut.manifest["refine"]["decided"]) == 1
    assert not cut.complete
    assert len(cut.done) == len(cut.manifest["chunks"])
    for a, b in zip(_tables(sweeps.run(SLICE, out=tmp_path, jobs=1)), _tables(reference),
                    strict=True):
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    for part in (reference.path / "networks").glob("*.parquet"):
        assert (tmp_path / "slice" / "networks" / part.name).read_bytes() == part.read_bytes()


@pytest.mark.parametrize("field", ["digest", "points"])
def test_resume_refuses_a_level_its_results_do_not_decide(reference, tmp_path, capsys, field):
    import shutil

    run_dir = tmp_path / "slice"
    shutil.copytree(reference.path, run_dir)
    path = run_dir / "manifest.json"
    m = json.loads(path.read_text())
    rec = m["refine"]["decided"][1]
    rec[field] = "0" * 64 if field == "digest" else rec["points"]  # a points change moves
    if field == "points":  # every later range too: give level 2 one point fewer instead
        m["refine"]["decided"][2]["digest"] = "f" * 64
    path.write_text(json.dumps(m))
    with pytest.raises(StoreError, match=r"level \d's points differ from those its stored "
                                         "results decide"):
        sweeps.run(SLICE, out=tmp_path)
    spec = tmp_path / "s.toml"
    spec.write_text(sweeps.load_spec(SLICE).to_toml())
    assert main(["run", str(spec), "--out", str(tmp_path), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "--force" in err


def test_a_manifest_with_broken_levels_is_damaged(reference, tmp_path):
    import shutil

    run_dir = tmp_path / "slice"
    shutil.copytree(reference.path, run_dir)
    path = run_dir / "manifest.json"
    m = json.loads(path.read_text())
    m["refine"]["decided"][1]["networks"][0] += 1
    path.write_text(json.dumps(m))
    with pytest.raises(StoreError, match="refine level 1 is not a record"):
        sweeps.open_run(run_dir)


# ----------------------------------------------------------------------------- the spec

def test_the_spec_exposes_refine_and_round_trips_through_toml(tmp_path):
    spec = sweeps.load_spec(SLICE)
    r = spec.refine
    assert (r.levels, r.factor, r.where, r.axes) == (2, 2, "boundary", (X, Y))
    assert spec.n_networks == 5 * 5 * 2 * 2  # level 0
    text = spec.to_toml()
    assert '[refine]\nlevels = 2\nfactor = 2\nwhere = "boundary"\naxes = ["W1[0,1]", "W2[1]"]' \
        in text
    assert '"W1[0,1]" = { linspace = [-10.0, 10.0, 5] }' in text
    path = tmp_path / "s.toml"
    path.write_text(text)
    again = sweeps.load_spec(path)
    assert again == spec
    assert again.digest() == spec.digest()
    explicit = sweeps.load_spec(SLICE | {"refine": {"levels": 2, "axes": ["W2[1]", "W1[0, 1]"],
                                                    "factor": 3}})
    assert explicit.refine.axes == (Y, X)
    assert explicit.refine.finest == (37, 37)


def test_grid_only_specs_are_unchanged():
    plain = {k: v for k, v in SLICE.items() if k != "refine"}
    spec = sweeps.load_spec(plain)
    assert spec.refine is None
    assert spec.zoom is None
    assert "refine" not in spec.to_dict()
    assert "linspace" not in spec.to_toml()


BAD = [
    (["refine.levels=0"], "refine.levels = 0 must be an integer from 1 to 20"),
    (["refine={}"], "refine.levels is missing"),
    (["refine.levels=2", "refine.factor=1"], "refine.factor = 1 must be an integer from 2"),
    (["refine.levels=2", "refine.where=edges"], "refine.where = 'edges' is unknown"),
    (["refine.levels=2", "refine.size=3"], "refine: unknown key 'size'"),
    (["refine.levels=2", 'refine.axes=["b2", "W2[1]"]'], "refine.axes: 'b2' is not a grid axis"),
    (["refine.levels=2", 'refine.axes=["lr", "W2[1]"]'], "refine: grid.lr must be a range"),
    (["refine.levels=2", 'refine.axes=["W2[1]", "W2[1]"]'], r"names W2\[1\] twice"),
    (["refine.levels=2", "grid.momentum={linspace=[0, 0.9, 3]}"],
     "the grid has 3 linspace or logspace axes a slice may refine"),
    (["refine.levels=2", 'grid."W2[1]"=[-1.0, 0.0, 1.0]'],
     r"the grid has 1 linspace or logspace axes a slice may refine \(W1\[0,1\]\)"),
    (["refine.levels=2", 'grid."W2[1]"=[-1.0, 0.0, 1.0]', "grid.lr=[2.0]"],
     r"grid.W2\[1\] must be a range to refine"),
    (["refine.levels=20"], "refine: refined everywhere the spec would have 70,368,777,732,100 "
     "networks"),
    (["refine.levels=2", 'sample={method="random", n=4, b2={uniform=[-1, 1]}}'],
     "refine and sample cannot be combined"),
]


@pytest.mark.parametrize(("sets", "message"), BAD)
def test_bad_refine_tables_are_one_line_exit_2_and_nothing_written(tmp_path, capsys, sets,
                                                                   message):
    path = tmp_path / "s.toml"
    plain = sweeps.load_spec({k: v for k, v in SLICE.items() if k != "refine"})
    path.write_text(plain.to_toml().replace(
        '"W2[1]" = [-10.0, -5.0, 0.0, 5.0, 10.0]', '"W2[1]" = { linspace = [-10, 10, 5] }'
    ).replace('"W1[0,1]" = [-10.0, -5.0, 0.0, 5.0, 10.0]',
              '"W1[0,1]" = { linspace = [-10, 10, 5] }'))
    assert sweeps.load_spec(path, overrides=["refine.levels=2"]).refine.levels == 2
    with pytest.raises(sweeps.SpecError, match=message):
        sweeps.load_spec(path, overrides=sets)
    out = tmp_path / "runs"
    for dry in ([], ["--dry-run"]):
        args = ["run", str(path), "--out", str(out), "--quiet", *dry]
        for s in sets:
            args += ["--set", s]
        assert main(args) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1
        assert err.startswith("xorsweep: error: ")
        assert not out.exists()


# ----------------------------------------------------------------------------- the commands

def test_list_status_dry_run_and_report_on_a_refined_run(reference, tmp_path, capsys):
    import shutil

    shutil.copytree(reference.path, tmp_path / "slice")
    assert main(["list", str(tmp_path)]) == 0
    assert "slice  complete" in capsys.readouterr().out
    assert main(["status", str(tmp_path / "slice")]) == 0
    out = capsys.readouterr().out
    assert "levels     3 of 3 levels decided; networks per level: " in out
    assert "state      complete" in out
    spec = tmp_path / "s.toml"
    spec.write_text(sweeps.load_spec(SLICE).to_toml())
    assert main(["run", str(spec), "--out", str(tmp_path / "new"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "networks         100\n" in out
    assert "at most 1,056 networks more (every cell refined)" in out
    assert not (tmp_path / "new").exists()
    assert main(["run", str(spec), "--out", str(tmp_path), "--quiet"]) == 0
    assert "already complete" in capsys.readouterr().out


def test_report_on_a_refined_run(reference, tmp_path):
    import shutil

    shutil.copytree(reference.path, tmp_path / "slice")
    assert main(["report", str(tmp_path / "slice")]) == 0
    page = (tmp_path / "slice" / "report" / "index.html").read_text()
    # the refined levels crowd the boundary: the uniform grid's rate is shown beside
    df = reference.networks()
    grid = df[df["level"] == 0]
    rate0 = (grid["converged_epoch"] >= 0).mean()
    assert "converged, every level" in page
    assert f"converged, level 0 grid<b>{rate0:.1%} (" in page


def test_list_says_which_level_an_unfinished_refined_run_is_at(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(levels, "next_points", lambda *a: (_ for _ in ()).throw(
        KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        sweeps.run(SLICE, out=tmp_path, jobs=1)
    assert main(["list", str(tmp_path)]) == 0
    assert "100% done, 1 of 3 levels decided" in capsys.readouterr().out
