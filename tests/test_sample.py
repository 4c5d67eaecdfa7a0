"""``[sample]`` designs: validation, the points, the network table, and invariance.

A sampled spec crosses its categorical grid axes with ``n`` points drawn over
continuous axes (random, scrambled Sobol or Latin hypercube).  Every point is fixed
by the spec alone, so the network table must be the same bit for bit whatever the
jobs, chunking or interruptions.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from scipy.stats import qmc

import kernels
import sweeps
from sweeps import chunk, design, plan, runner
from sweeps.design import DesignWarning
from xorsweep.cli import main

SAMPLED = {"name": "sampled", "epochs": 30, "replicates": 3, "record_every": 10,
           "grid": {"hidden": [2, 3], "loss": ["bce", "mse"]},
           "sample": {"method": "sobol", "n": 16,
                      "lr": {"loguniform": [0.1, 30]},
                      "momentum": {"uniform": [0, 0.95]},
                      "init_scale": {"uniform": [0.25, 4]},
                      "W1[0, 1]": {"uniform": [-10, 10]}}}


def _spec(**sample):
    return SAMPLED | {"sample": SAMPLED["sample"] | sample}


# ----------------------------------------------------------------------------- validation

GOOD_SAMPLE = '[sample]\nmethod = "sobol"\nn = 8\n'
BAD = [
    ('[sample]\nmethod = "grid"\nn = 8\nlr = { uniform = [0.1, 1] }',
     "sample.method = 'grid' is unknown; use one of random, sobol, lhs"),
    ('[sample]\nn = 8\nlr = { uniform = [0.1, 1] }', "sample.method is missing"),
    ('[sample]', "sample.method is missing"),
    ('sample = 3', "sample must be a table"),
    ('[sample]\nmethod = "sobol"\nlr = { uniform = [0.1, 1] }', "sample.n is missing"),
    (GOOD_SAMPLE.replace("8", "0") + 'lr = { uniform = [0.1, 1] }',
     r"sample.n = 0 must be an integer from 1 to 2\*\*20"),
    (GOOD_SAMPLE.replace("8", "2.5") + 'lr = { uniform = [0.1, 1] }', "sample.n = 2.5 must be"),
    (GOOD_SAMPLE.replace("8", "true") + 'lr = { uniform = [0.1, 1] }', "sample.n = True must"),
    (GOOD_SAMPLE.replace("8", "1048577") + 'lr = { uniform = [0.1, 1] }', "sample.n = 1048577"),
    (GOOD_SAMPLE, "sample has no axes; add one"),
    (GOOD_SAMPLE + 'width = { uniform = [1, 2] }', "unknown sample axis 'width'"),
    (GOOD_SAMPLE + 'hidden = { uniform = [1, 4] }', r"sample.hidden: hidden is categorical"),
    (GOOD_SAMPLE + 'init = { uniform = [1, 4] }', r"sample.init: init is categorical"),
    (GOOD_SAMPLE + 'lr = { normal = [0, 1] }', "sample.lr must be a table of one distribution"),
    (GOOD_SAMPLE + 'lr = [0.1, 1.0]', "sample.lr must be a table of one distribution"),
    (GOOD_SAMPLE + 'lr = { uniform = [0.1, 1], loguniform = [0.1, 1] }',
     "sample.lr must be a table of one distribution"),
    (GOOD_SAMPLE + 'lr = { uniform = [2, 1] }',
     "sample.lr.uniform: low 2.0 must be below high 1.0"),
    (GOOD_SAMPLE + 'lr = { loguniform = [1, 1] }', "low 1.0 must be below high 1.0"),
    (GOOD_SAMPLE + '"b2" = { loguniform = [0, 4] }',
     r"sample.b2.loguniform: low 0.0 must be > 0 \(it is spread in the logarithm\)"),
    (GOOD_SAMPLE + '"b2" = { loguniform = [-1, 4] }', "low -1.0 must be > 0"),
    (GOOD_SAMPLE + 'lr = { uniform = ["a", 1] }',
     "sample.lr.uniform: 'a' must be a finite number"),
    (GOOD_SAMPLE + 'lr = { uniform = [0.1, inf] }', "must be a finite number"),
    (GOOD_SAMPLE + 'lr = { uniform = [0.1, 1, 2] }',
     r"sample.lr.uniform must be a list of two numbers \[low, high\]"),
    (GOOD_SAMPLE + 'lr = { uniform = [0, 1] }', "sample.lr: low 0.0 must be > 0"),
    (GOOD_SAMPLE + 'init_scale = { uniform = [0, 1] }', "sample.init_scale: low 0.0 must be > 0"),
    (GOOD_SAMPLE + 'momentum = { uniform = [0, 1] }',
     r"sample.momentum: momentum must be in \[0, 1\)"),
    (GOOD_SAMPLE + 'momentum = { uniform = [-0.5, 0.5] }', r"momentum must be in \[0, 1\)"),
    ('dtype = "float32"\n' + GOOD_SAMPLE + 'momentum = { uniform = [0, 0.99999999] }',
     "sample.momentum: 0.99999999 rounds to 1.0 in float32"),
    ('dtype = "float32"\n' + GOOD_SAMPLE + 'lr = { loguniform = [1e39, 1e300] }',
     r"sample.lr: 1e[+]?300 overflows float32 \(largest 3.403e[+]38\); use a smaller lr, or "
     'dtype = "float64"'),
    ('dtype = "float32"\n' + GOOD_SAMPLE + 'lr = { loguniform = [1e-50, 1] }',
     r"sample.lr: 1e-50 rounds to 0 in float32; use lr >= 1.401e-45"),
    ('[grid]\ninit = ["normal"]\n' + GOOD_SAMPLE + 'init_scale = { uniform = [1, 1e308] }',
     "sample.init_scale: 1e[+]?308 can overflow float64"),
    ('dtype = "float32"\n' + GOOD_SAMPLE + 'b2 = { uniform = [0, 1e39] }',
     "sample.b2 = 1e[+]?39 does not fit in float32"),
    (GOOD_SAMPLE + 'b2 = { uniform = [-1e308, 1e308] }', "too wide a range for a float"),
    (GOOD_SAMPLE + '"W1[2,0]" = { uniform = [-1, 1] }', "W1\\[2,0\\]: input 2 does not exist"),
    (GOOD_SAMPLE + '"W1[0,1]" = { uniform = [-1, 1] }\n"W1[0, 1]" = { uniform = [-2, 2] }',
     r"sample: W1\[0,1\] is named twice"),
    ('[grid]\nlr = [0.5, 1.0]\n' + GOOD_SAMPLE + 'lr = { uniform = [0.1, 1] }',
     r"lr is both a \[grid\] axis and a \[sample\] axis; keep it in one of them"),
    ('[grid]\n"W1[0,1]" = [0.5, 1.0]\n' + GOOD_SAMPLE + '"W1[0, 1]" = { uniform = [-1, 1] }',
     r"W1\[0,1\] is both a \[grid\] axis and a \[sample\] axis"),
    ('[init_values]\nb2 = 0.5\n' + GOOD_SAMPLE + 'b2 = { uniform = [-1, 1] }',
     "init_values: 'b2' is also a sample axis; remove one of them"),
    ('replicates = 4097\n' + GOOD_SAMPLE.replace("8", "1048576") + 'lr = { uniform = [0.1, 1] }',
     "the spec has 4,296,015,872 networks"),
]


@pytest.mark.parametrize(("extra", "message"), BAD)
def test_bad_designs_are_one_line_exit_2_and_nothing_written(tmp_path, capsys, extra, message):
    path = tmp_path / "s.toml"
    path.write_text(f'name = "t"\nepochs = 10\n{extra}\n')
    with pytest.raises(sweeps.SpecError, match=message):
        sweeps.load_spec(path)
    out = tmp_path / "runs"
    for dry in ([], ["--dry-run"]):
        assert main(["run", str(path), "--out", str(out), "--quiet", *dry]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1
        assert err.startswith("xorsweep: error: ")
        assert not out.exists()


def test_spec_exposes_the_design_and_round_trips_through_toml(tmp_path):
    spec = sweeps.load_spec(SAMPLED)
    assert spec.sample.method == "sobol"
    assert spec.sample.n == 16
    # in the spec's order, parameter names canonical
    assert spec.sample.axes == {"lr": ("loguniform", 0.1, 30.0),
                                "momentum": ("uniform", 0.0, 0.95),
                                "init_scale": ("uniform", 0.25, 4.0),
                                "W1[0,1]": ("uniform", -10.0, 10.0)}
    assert spec.sample.names == ("init_scale", "momentum", "lr", "W1[0,1]")  # design order
    assert not {"lr", "momentum", "init_scale", "W1[0,1]"} & set(spec.grid)
    assert spec.n_cells == 4 * 16
    assert spec.n_networks == 4 * 16 * 3
    text = spec.to_toml()
    assert '[sample]\nmethod = "sobol"\nn = 16\nlr = { loguniform = [0.1, 30.0] }\n' in text
    assert '"W1[0,1]" = { uniform = [-10.0, 10.0] }' in text
    path = tmp_path / "again.toml"
    path.write_text(text)
    again = sweeps.load_spec(path)
    assert again == spec
    assert again.digest() == spec.digest()
    # a grid-only spec has none, and its frozen form does not mention it
    grid = sweeps.load_spec({"name": "g"})
    assert grid.sample is None
    assert "sample" not in grid.to_dict()
    assert "[sample]" not in grid.to_toml()


def test_every_key_changes_the_digest_and_the_axis_order_does_not():
    spec = sweeps.load_spec(SAMPLED)
    for change in ({"n": 32}, {"method": "lhs"}, {"lr": {"uniform": [0.1, 30]}},
                   {"momentum": {"uniform": [0, 0.9]}}):
        assert sweeps.load_spec(_spec(**change)).digest() != spec.digest(), change
    assert sweeps.load_spec(SAMPLED | {"seed": 1}).digest() != spec.digest()
    reordered = dict(reversed(list(SAMPLED["sample"].items())))
    other = sweeps.load_spec(SAMPLED | {"sample": reordered})
    assert list(other.sample.axes) != list(spec.sample.axes)
    assert other.digest() == spec.digest()  # the same points: dimensions follow design order
    for a in spec.sample.names:
        np.testing.assert_array_equal(other.sample.values(0)[a], spec.sample.values(0)[a])


# ----------------------------------------------------------------------------- the points

@pytest.mark.parametrize("method", design.METHODS)
def test_the_design_is_fixed_by_the_spec_alone(method):
    spec = sweeps.load_spec(_spec(method=method, n=64))
    first = {a: v.copy() for a, v in spec.sample.values(spec.seed).items()}
    design._values.cache_clear()  # drawn afresh, as in another process
    again = sweeps.load_spec(_spec(method=method, n=64)).sample.values(spec.seed)
    for a in spec.sample.names:
        np.testing.assert_array_equal(again[a], first[a])
        assert len(np.unique(first[a])) == 64, a  # every point its own value
    other = sweeps.load_spec(_spec(method=method, n=64) | {"seed": 1}).sample.values(1)
    for a in spec.sample.names:
        assert not np.isin(other[a], first[a]).any(), a
    unit = design.unit_points(method, 64, 4, seed=0)
    assert unit.shape == (64, 4)
    assert ((unit >= 0) & (unit < 1)).all()
    # dimension k is names[k]; init_scale is uniform on [0.25, 4]
    np.testing.assert_array_equal(first["init_scale"], 0.25 + unit[:, 0] * 3.75)


def test_lhs_puts_one_point_in_every_stratum():
    unit = design.unit_points("lhs", 50, 3, seed=7)
    for k in range(3):
        np.testing.assert_array_equal(np.sort(np.floor(unit[:, k] * 50)), np.arange(50))


def test_sobol_is_the_first_points_of_the_sequence():
    eight = design.unit_points("sobol", 8, 2, seed=3)
    np.testing.assert_array_equal(design.unit_points("sobol", 5, 2, seed=3), eight[:5])


@pytest.mark.parametrize("seed", range(5))
def test_sobol_discrepancy_is_below_random(seed):
    n, d = 256, 3
    sobol = design.unit_points("sobol", n, d, seed)
    lhs = design.unit_points("lhs", n, d, seed)
    plain = design.unit_points("random", n, d, seed)
    assert qmc.discrepancy(sobol) < qmc.discrepancy(lhs) < qmc.discrepancy(plain)
    assert qmc.discrepancy(sobol) < 0.5 * qmc.discrepancy(plain)


@pytest.mark.parametrize("method", design.METHODS)
def test_loguniform_values_lie_in_range_and_spread_evenly_in_the_log(method):
    spec = sweeps.load_spec(_spec(method=method, n=4096))
    lr = spec.sample.values(spec.seed)["lr"]
    assert lr.min() >= 0.1
    assert lr.max() <= 30
    assert lr.min() < 0.11
    assert lr.max() > 27
    # equal shares per unit of log10: a uniform spread would put 3% below 1
    counts = np.histogram(np.log10(lr), bins=[-1, 0, 1, math.log10(30)])[0]
    np.testing.assert_allclose(counts / len(lr), np.array([1, 1, math.log10(3)]) /
                               (2 + math.log10(3)), atol=0.03)
    uniform = spec.sample.values(spec.seed)["momentum"]
    assert 0 <= uniform.min() < 0.01
    assert 0.94 < uniform.max() <= 0.95
    assert abs(np.mean(uniform < 0.475) - 0.5) < 0.03


def test_values_are_clipped_to_the_bounds():
    spec = sweeps.load_spec(_spec(n=1024, lr={"loguniform": [0.3, 0.30000000000000004]}))
    lr = spec.sample.values(spec.seed)["lr"]
    assert ((lr >= 0.3) & (lr <= 0.30000000000000004)).all()


# ----------------------------------------------------------------------------- the network table

def test_cells_cross_the_grid_with_the_points_and_replicates_are_paired():
    spec = sweeps.load_spec(SAMPLED)
    cols = plan.network_columns(spec, 0, spec.n_networks)
    values = spec.sample.values(spec.seed)
    np.testing.assert_array_equal(cols["cell"], np.arange(spec.n_networks) // 3)
    np.testing.assert_array_equal(cols["point"], cols["cell"] % 16)  # the point varies fastest
    assert cols["point"].dtype == np.int64
    for a in spec.sample.names:
        np.testing.assert_array_equal(cols[a], values[a][cols["point"]])
    assert (cols["hidden"][:96] == 2).all()
    assert list(cols["loss"][::48]) == ["bce", "mse", "bce", "mse"]
    # replicate r: the same seed at every point and in every grid cell
    for r in range(3):
        assert len(set(cols["seed"][cols["replicate"] == r])) == 1
    # ... so the same base draw, times each point's init_scale
    ids = np.flatnonzero((cols["replicate"] == 1) & (cols["hidden"] == 2))
    p = chunk.initial_params(spec, plan.columns_of(spec, ids))
    base = p.get("W1[1,0]") / plan.columns_of(spec, ids)["init_scale"]
    np.testing.assert_allclose(base, base[0], rtol=1e-15)
    np.testing.assert_array_equal(p.get("W1[0,1]"), cols["W1[0,1]"][ids])
    # each kernel group is one contiguous range, and chunks never mix them
    for c in plan.make_chunks(spec, 7):
        assert len({(h, str(loss)) for h, loss in zip(cols["hidden"][c.start:c.stop],
                                                      cols["loss"][c.start:c.stop],
                                                      strict=True)}) == 1


def test_a_sampled_run_stores_the_contract_columns_and_matches_the_kernel(tmp_path):
    run = sweeps.run(SAMPLED, out=tmp_path, jobs=1)
    df = run.networks()
    spec = sweeps.load_spec(run.path / "spec.toml")
    assert spec == sweeps.load_spec(SAMPLED)
    assert list(df.columns[:12]) == ["network", "cell", "hidden", "activation", "loss", "init",
                                     "init_scale", "momentum", "lr", "W1[0,1]", "point", "task"]
    for a in ("init_scale", "momentum", "lr", "W1[0,1]"):
        assert df[a].dtype == np.float64
    assert df["point"].dtype == np.int64
    assert isinstance(df["loss"].dtype, pd.CategoricalDtype)
    assert sorted(df["point"].unique()) == list(range(16))
    # one sampled point, trained directly
    sel = df[(df.point == 5) & (df.hidden == 3) & (df.loss == "mse")]
    row = sel.iloc[0]
    X, Y = kernels.tasks.xor()
    p = kernels.init_params(sel.seed.to_numpy(), n_hidden=3, scale=row.init_scale)
    p = p.with_values({"W1[0,1]": row["W1[0,1]"]})
    r = kernels.train(p, X, Y, lr=row.lr, momentum=row.momentum, epochs=30, loss="mse",
                      record_every=10)
    np.testing.assert_array_equal(sel.final_loss.to_numpy(), r.loss)
    np.testing.assert_array_equal(sel.converged_epoch.to_numpy(), r.converged_epoch)
    assert (sel.lr == spec.sample.values(spec.seed)["lr"][5]).all()


def test_grid_only_tables_have_no_point_column(tmp_path):
    df = sweeps.run({"name": "g", "epochs": 5, "replicates": 2, "grid": {"lr": [0.5, 1.0]}},
                    out=tmp_path).networks()
    assert list(df.columns[:11]) == ["network", "cell", "hidden", "activation", "loss", "init",
                                     "init_scale", "momentum", "lr", "task", "replicate"]


# ----------------------------------------------------------------------------- invariance

def _tables(run):
    curves = pd.concat(list(run.curves()), ignore_index=True)
    return run.networks(), curves


def test_sampled_runs_are_invariant_to_jobs_and_chunking(tmp_path):
    ref, ref_curves = _tables(sweeps.run(SAMPLED, out=tmp_path / "a", jobs=1, chunk_size=1000))
    for i, kw in enumerate([{"jobs": 2, "chunk_size": 7}, {"jobs": 2, "chunk_size": 50}]):
        design._values.cache_clear()
        df, curves = _tables(sweeps.run(SAMPLED, out=tmp_path / f"b{i}", **kw))
        pd.testing.assert_frame_equal(df, ref, check_exact=True)
        pd.testing.assert_frame_equal(curves, ref_curves, check_exact=True)


def test_an_interrupted_sampled_run_resumes_to_the_same_table(tmp_path, monkeypatch):
    clean = sweeps.run(SAMPLED, out=tmp_path / "clean", jobs=1, chunk_size=20)
    calls = []
    real = runner.compute_chunk

    def interrupt_third(*args):
        result = real(*args)
        calls.append(result["start"])
        if len(calls) == 3:
            raise KeyboardInterrupt
        return result

    monkeypatch.setattr(runner, "compute_chunk", interrupt_third)
    with pytest.raises(KeyboardInterrupt):
        sweeps.run(SAMPLED, out=tmp_path / "cut", jobs=1, chunk_size=20)
    monkeypatch.setattr(runner, "compute_chunk", real)
    cut = sweeps.open_run(tmp_path / "cut" / "sampled")
    assert len(cut.done) == 2
    assert not cut.complete
    design._values.cache_clear()
    resumed = sweeps.run(SAMPLED, out=tmp_path / "cut", jobs=2)
    assert resumed.session.stored == 2
    for a, b in zip(_tables(resumed), _tables(clean), strict=True):
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    for part in (clean.path / "networks").glob("*.parquet"):
        assert (resumed.path / "networks" / part.name).read_bytes() == part.read_bytes()


# ----------------------------------------------------------------------------- the command line

def test_a_sobol_n_off_a_power_of_two_warns_in_one_line(tmp_path):
    spec = _spec(n=12)
    with pytest.warns(DesignWarning, match=r"sample.n = 12 is not a power of two.*use n = 8 "
                                           r"or 16"):
        sweeps.dry_run(spec, out=tmp_path)
    with pytest.warns(DesignWarning, match="not a power of two"):
        run = sweeps.run(spec, out=tmp_path, jobs=1)
    assert run.complete
    assert len(run.networks()) == 4 * 12 * 3
    for method in ("lhs", "random"):  # only Sobol designs are balanced at powers of two
        sweeps.dry_run(_spec(n=12, method=method), out=tmp_path / method)
    path = tmp_path / "s.toml"
    path.write_text(sweeps.load_spec(spec).to_toml())
    done = subprocess.run([sys.executable, "-m", "xorsweep.cli", "run", str(path), "--out",
                           str(tmp_path / "cli"), "--dry-run"], capture_output=True, text=True,
                          env=os.environ | {"PYTHONWARNINGS": ""})
    assert done.returncode == 0
    assert done.stderr == ("xorsweep: sample.n = 12 is not a power of two, so the Sobol design "
                           "is less even than it could be; use n = 8 or 16\n")


def test_overrides_dry_run_list_and_status_on_a_sampled_run(tmp_path, capsys):
    path = tmp_path / "s.toml"
    path.write_text(sweeps.load_spec(SAMPLED).to_toml())
    out = tmp_path / "runs"
    assert main(["run", str(path), "--out", str(out), "--dry-run", "--set", "sample.n=64",
                 "--set", "sample.method=lhs"]) == 0
    text = capsys.readouterr().out
    assert re.search(r"^cells +256$", text, re.M)  # 4 grid cells x 64 points
    assert re.search(r"^design +lhs, 64 points over lr, momentum, init_scale, W1\[0,1\] "
                     r"\(x 4 grid cells\)$", text, re.M)
    assert re.search(r"^networks +768$", text, re.M)
    assert not out.exists()
    assert main(["run", str(path), "--out", str(out), "--quiet", "--set", "sample.n=8"]) == 0
    assert "96 networks" in capsys.readouterr().out
    assert main(["run", str(path), "--out", str(out), "--quiet", "--set", "sample.n=4"]) == 2
    assert "(sample.n: 8 -> 4)" in capsys.readouterr().err
    run_dir = out / "sampled"
    assert sweeps.load_spec(run_dir / "spec.toml").sample.n == 8
    assert main(["status", str(run_dir)]) == 0
    assert re.search(r"^state +complete$", capsys.readouterr().out, re.M)
    assert main(["list", str(out)]) == 0
    assert re.search(r"^sampled +complete +96 ", capsys.readouterr().out, re.M)


def test_spec_values_give_the_momenta_a_run_warms():
    spec = sweeps.load_spec(SAMPLED)
    momenta = spec.values("momentum")
    assert len(momenta) == 16
    assert list(momenta) == sorted(spec.sample.values(spec.seed)["momentum"])
    assert spec.values("hidden") == (2, 3)
    with pytest.raises(KeyError):
        spec.values("width")


def test_the_bundled_study_is_the_sobol_design_its_note_describes():
    spec = sweeps.load_spec("lr-momentum-sobol")
    assert (spec.sample.method, spec.sample.n, spec.replicates) == ("sobol", 1024, 50)
    assert spec.sample.axes == {"lr": ("loguniform", 0.1, 30.0),
                                "momentum": ("uniform", 0.0, 0.95),
                                "init_scale": ("uniform", 0.25, 4.0)}
    assert spec.n_networks == 51_200
    assert "1,024" in spec.description


@pytest.mark.parametrize("case", ["other points", "older run, other SciPy",
                                  "older run, same SciPy"])
def test_a_sampled_run_is_not_resumed_where_scipy_would_draw_other_points(tmp_path, capsys,
                                                                          case):
    import json
    from importlib import metadata

    from sweeps import store

    spec = sweeps.load_spec(SAMPLED | {"epochs": 5})
    sweeps.run(spec, out=tmp_path, jobs=1, chunk_size=40)
    run_dir = tmp_path / "sampled"
    manifest = json.loads((run_dir / store.MANIFEST).read_text())
    assert manifest["design_digest"] == design.points_digest(spec.sample, spec.seed)
    del manifest["done"]["1"]
    if case == "other points":  # as if another SciPy had drawn the stored points
        manifest["design_digest"] = "0" * 64
        manifest["versions"]["scipy"] = "1.15.0"
    else:  # a run begun before the manifest recorded the points
        del manifest["design_digest"]
        if case == "older run, other SciPy":
            manifest["versions"]["scipy"] = "1.15.0"
    (run_dir / store.MANIFEST).write_text(json.dumps(manifest))
    before = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    code = main(["run", str(run_dir / "spec.toml"), "--out", str(tmp_path), "--quiet"])
    err = capsys.readouterr().err
    if case == "older run, same SciPy":
        assert code == 0
        assert sweeps.open_run(run_dir).complete
        resumed = json.loads((run_dir / store.MANIFEST).read_text())  # recorded from now on
        assert resumed["design_digest"] == design.points_digest(spec.sample, spec.seed)
        return
    assert code == 2
    assert err.count("\n") == 1
    assert f"drawn with SciPy 1.15.0 and NumPy {np.__version__}, and SciPy " \
           f"{metadata.version('scipy')} and NumPy {np.__version__}" in err
    assert "--force" in err
    assert {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()} == before


def test_failure_modes_and_fractions_bin_a_sampled_axis_as_the_convergence_table(tmp_path):
    import analysis

    sweeps.run(SAMPLED, out=tmp_path, jobs=1)
    df = analysis.load(tmp_path / "sampled")
    table = analysis.convergence_table(df, by=["lr"], bins=2)
    modes = analysis.failure_mode_table(df, by=["lr"], bins=2)
    assert set(modes["lr"]) <= set(table["lr"])  # bin centres, not the 16 points
    assert {"lr_low", "lr_high"} <= set(modes.columns)
    for lr, rows in modes.groupby("lr"):
        row = table[table["lr"] == lr].iloc[0]
        assert rows["count"].sum() == row["n"] - row["converged"]
    frac = analysis.fraction_converged(df, by=["lr"], bins=2)
    assert list(frac.columns) == table["lr"].tolist()
    assert frac.iloc[-1].tolist() == pytest.approx(table["rate"].tolist())
