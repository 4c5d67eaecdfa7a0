"""Paired comparisons: compare(), compare_runs(), `xorsweep compare`, and the report's best cell."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from statsmodels.stats.contingency_tables import mcnemar

import analysis
import sweeps
from analysis.compare import COLUMNS, CompareError
from analysis.stats import paired_difference_interval
from analysis.tables import best_cells
from xorsweep.cli import main


def _grid(outcomes: dict, replicates: int, init_scales=(1.0,)) -> pd.DataFrame:
    """A grid run's table: ``outcomes[lr]`` gives converged_epoch per (init_scale, replicate)."""
    rows = []
    for lr, eps in outcomes.items():
        eps = np.asarray(eps).reshape(len(init_scales), replicates)
        for i, s in enumerate(init_scales):
            for r in range(replicates):
                rows.append({"lr": lr, "init_scale": s, "replicate": r, "seed": r,
                             "epochs": 100, "converged_epoch": int(eps[i, r]),
                             "outcome": "converged" if eps[i, r] >= 0 else "stuck",
                             "final_loss": 0.1})
    df = pd.DataFrame(rows)
    df.insert(0, "network", np.arange(len(df)))
    return df


def test_compare_pairs_by_replicate_and_the_unnamed_axes():
    # per init_scale, replicate r: a converges in r < 2 (s = 1) or r < 3 (s = 2); b in r >= 1
    a = [[5, 6, -1, -1], [7, 8, 9, -1]]
    b = [[-1, 4, 4, 4], [-1, 3, 3, 3]]
    df = _grid({0.5: a, 2.0: b}, replicates=4, init_scales=(1.0, 2.0))
    t = analysis.compare(df, a={"lr": 0.5}, b={"lr": 2.0})
    assert list(t.columns) == list(COLUMNS)
    row = t.iloc[0]
    assert row["n_pairs"] == 8
    assert (row["a_rate"], row["b_rate"]) == (5 / 8, 6 / 8)
    assert row["diff"] == pytest.approx(1 / 8)
    # discordant: (s1: r0 a only, r2 b only, r3 b only), (s2: r0 a only, r3 b only)
    assert (row["a_only"], row["b_only"], row["n_both"]) == (2, 3, 3)
    assert row["p_value"] == mcnemar([[3, 2], [3, 0]], exact=True).pvalue
    low, high = paired_difference_interval(3, 3, 2, 0)
    assert (row["diff_low"], row["diff_high"]) == (low, high)
    # epochs, b - a, of the three pairs converged in both: 4 - 6, 3 - 8, 3 - 9
    assert row["epochs_diff_median"] == -5
    assert row["epochs_p_value"] == scipy.stats.wilcoxon([-2, -5, -6]).pvalue
    assert t.attrs["paired_on"] == ["replicate", "init_scale"]
    per = analysis.compare(df, a={"lr": 0.5}, b={"lr": 2.0}, by=["init_scale"])
    assert per["init_scale"].tolist() == [1.0, 2.0]
    assert per["n_pairs"].tolist() == [4, 4]
    assert per["a_only"].tolist() == [1, 1]
    assert per["b_only"].tolist() == [2, 1]


def test_compare_agrees_with_statsmodels_and_scipy_on_random_pairs():
    rng = np.random.default_rng(5)
    for _trial in range(20):
        n = int(rng.integers(5, 300))
        base = rng.random(n)  # the shared initial draw: outcomes correlate within a pair
        pa, pb = rng.uniform(0.1, 0.9, 2)
        ok_a = base < pa
        ok_b = (base + rng.normal(0, 0.2, n)) < pb
        ea = np.where(ok_a, rng.integers(1, 500, n), -1)
        eb = np.where(ok_b, ea + rng.integers(-50, 80, n), -1)
        eb = np.where(ok_b & (eb < 0), 1, eb)
        order = rng.permutation(2 * n)  # the row order of the table does not matter
        df = _grid({1.0: ea, 3.0: eb}, replicates=n).iloc[order]
        row = analysis.compare(df, a={"lr": 1.0}, b={"lr": 3.0}).iloc[0]
        table = pd.crosstab(ok_a, ok_b).reindex(index=[True, False], columns=[True, False],
                                                fill_value=0).to_numpy()
        assert row["p_value"] == pytest.approx(mcnemar(table, exact=True).pvalue, rel=1e-12)
        assert (row["n_both"], row["a_only"], row["b_only"]) == \
            (table[0, 0], table[0, 1], table[1, 0])
        both = ok_a & ok_b
        d = (eb - ea)[both]
        assert row["epochs_diff_median"] == np.median(d)
        if np.any(d != 0):
            assert row["epochs_p_value"] == pytest.approx(scipy.stats.wilcoxon(d).pvalue,
                                                          rel=1e-12)


def _sampled(n_points=60, replicates=4, seed=0):
    rng = np.random.default_rng(seed)
    lr = np.exp(rng.uniform(np.log(0.1), np.log(30), n_points))
    rows = [{"network": p * replicates + r, "lr": lr[p], "momentum": 0.5, "point": p,
             "replicate": r, "seed": r, "epochs": 100, "outcome": "stuck", "final_loss": 0.1,
             "converged_epoch": 10 if rng.random() < lr[p] / 30 else -1}
            for p in range(n_points) for r in range(replicates)]
    df = pd.DataFrame(rows)
    df.attrs.update(sampled={"lr": "loguniform"}, sample_bounds={"lr": (0.1, 30.0)})
    return df


def test_compare_bins_of_a_continuous_axis_pair_the_kth_point_of_each_replicate():
    df = _sampled()
    t = analysis.compare(df, a={"lr": (0.1, 1.0)}, b={"lr": (1.0, 30.0)})
    in_a, in_b = df[df["lr"] < 1.0], df[df["lr"] >= 1.0]
    pa, pb = in_a["point"].nunique(), in_b["point"].nunique()
    assert t["n_pairs"].iloc[0] == min(pa, pb) * 4
    assert t.attrs["unpaired"] == (len(in_a) - min(pa, pb) * 4, len(in_b) - min(pa, pb) * 4)
    # by hand: the k-th point (in point order) of a with the k-th of b, replicate by replicate
    pts_a = sorted(in_a["point"].unique())[:min(pa, pb)]
    pts_b = sorted(in_b["point"].unique())[:min(pa, pb)]
    ok = df.set_index(["point", "replicate"])["converged_epoch"] >= 0
    a_only = sum(ok[(p, r)] and not ok[(q, r)] for p, q in zip(pts_a, pts_b, strict=True)
                 for r in range(4))
    b_only = sum(ok[(q, r)] and not ok[(p, r)] for p, q in zip(pts_a, pts_b, strict=True)
                 for r in range(4))
    assert (t["a_only"].iloc[0], t["b_only"].iloc[0]) == (a_only, b_only)


@pytest.mark.parametrize(("a", "b", "message"), [
    ({"lr": 0.5}, {"init_scale": 1.0}, "must name the same axes"),
    ({"speed": 1}, {"speed": 2}, "'speed', which is not an axis"),
    ({"lr": 0.7}, {"lr": 2.0}, "matches no network"),
    ({"lr": [0.5, 2.0]}, {"lr": 2.0}, "overlap"),
    ({}, {}, "must be a dict"),
    ({"lr": (0.5,)}, {"lr": (1, 3)}, "a range is a"),
])
def test_compare_refuses_what_it_cannot_pair(a, b, message):
    df = _grid({0.5: [1, -1], 2.0: [-1, 3]}, replicates=2)
    with pytest.raises(CompareError, match=message):
        analysis.compare(df, a=a, b=b)


def test_a_value_as_the_pages_show_it_picks_the_axis_value_it_rounds_from():
    lrs = 10.0 ** np.linspace(-0.5, 1, 6)  # 0.316228, 0.630957, 1.25893, 2.51189, ...
    df = _grid({lr: [1, -1, 2, -1] for lr in lrs}, replicates=4)
    shown = analysis.compare(df, a={"lr": 1.26}, b={"lr": 2.51})
    exact = analysis.compare(df, a={"lr": lrs[2]}, b={"lr": lrs[3]})
    pd.testing.assert_frame_equal(shown, exact)
    with pytest.raises(CompareError, match=r"lr takes 0\.316228, 0\.630957, 1\.25893, "
                                           r"2\.51189, 5\.01187, 10 \(give values"):
        analysis.compare(df, a={"lr": 1.3}, b={"lr": 2.51})  # fewer digits than the pages'
    close = _grid({1.2541: [1, -1], 1.2549: [2, -1], 3.0: [1, 1]}, replicates=2)
    with pytest.raises(CompareError, match="ambiguous: it rounds from 1.2541, 1.2549"):
        analysis.compare(close, a={"lr": 1.25}, b={"lr": 3.0})


def test_compare_refuses_a_by_axis_that_does_not_pair_and_a_table_without_replicates():
    df = _grid({0.5: [1, -1, 2, -1], 2.0: [-1, 3, 4, 5]}, replicates=2, init_scales=(1.0, 2.0))
    with pytest.raises(CompareError, match="cannot compare by 'lr'"):
        analysis.compare(df, a={"lr": 0.5}, b={"lr": 2.0}, by=["lr"])
    with pytest.raises(CompareError, match="no replicate column"):
        analysis.compare(df.drop(columns="replicate"), a={"lr": 0.5}, b={"lr": 2.0})


def test_best_cell_ties_by_the_paired_test():
    # lr 2: 90 of 100, the best.  lr 3: 80 of 100, its converged replicates a subset of
    # lr 2's: 10 discordant pairs, all one way, p = 2 / 2**10.  lr 4: 85 of 100, 10 pairs
    # one way and 5 the other, p = 0.30.  All three Wilson intervals overlap.
    r = np.arange(100)
    df = _grid({1.0: np.where(r < 1, 5, -1), 2.0: np.where(r < 90, 5, -1),
                3.0: np.where(r < 80, 5, -1), 4.0: np.where((r >= 10) & (r < 95), 5, -1)},
               replicates=100)
    table = analysis.convergence_table(df, by=["lr"])
    assert best_cells(table)["lr"].tolist() == [2.0, 4.0, 3.0]  # by overlapping intervals
    paired = best_cells(table, df)
    assert paired["lr"].tolist() == [2.0, 4.0]  # lr 3 told apart by the pairs
    assert paired["tied"].tolist() == [False, True]
    row = paired.set_index("lr").loc[4.0]
    assert row["p_value"] == pytest.approx(mcnemar([[80, 10], [5, 5]], exact=True).pvalue)
    assert row["n_pairs"] == 100
    assert np.isnan(paired["p_value"].iloc[0])
    assert best_cells(table, df, alpha=0.001)["lr"].tolist() == [2.0, 4.0, 3.0]

    from analysis._page import _best_section

    text = _best_section(table, df)
    assert "exact McNemar test on their paired networks" in text
    assert "Statistically tied with it (1 cell): <b>lr = 4</b> (85.0% of 100; paired p = 0.3)" \
        in text
    alone = _best_section(table[table["lr"] != 4.0], df[df["lr"] != 4.0])
    assert "Every other cell of 10 or more networks converged less often" in alone


def test_best_cell_of_a_binned_table_pairs_within_bins():
    df = _sampled(n_points=200, replicates=5)
    table = analysis.convergence_table(df, by=["lr"], bins=4)
    best = best_cells(table, df)
    assert best["lr"].iloc[0] == table.sort_values("rate_low")["lr"].iloc[-1]
    assert (best["n_pairs"].iloc[1:] > 0).all()

    from analysis._page import _best_section

    assert "Best cell: <b>lr " in _best_section(table, df)  # named by its bin's edges


# ---- two real runs ---------------------------------------------------------------------

GRID = {"lr": [0.5, 4.0], "init_scale": [0.5, 2.0]}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    base = {"epochs": 150, "replicates": 12, "record_every": 50, "grid": GRID}
    for name, extra in (("bce", {}), ("mse", {"grid": {**GRID, "loss": ["mse"]}}),
                        ("f32", {"dtype": "float32"}), ("few", {"replicates": 5}),
                        ("seed1", {"seed": 1, "replicates": 2})):
        sweeps.run({**base, "name": name, **extra}, out=out)
    return out


def test_compare_runs_bce_against_mse_pairs_every_network_by_seed(runs):
    a, b = analysis.load(runs / "bce"), analysis.load(runs / "mse")
    t = analysis.compare_runs(a, b, by=["lr"])
    assert t.attrs["differs"] == ["loss"]
    assert {"seed", "lr", "init_scale"} <= set(t.attrs["paired_on"])
    assert t.attrs["unpaired"] == (0, 0)
    assert t["n_pairs"].tolist() == [24, 24]
    rate = {name: df.groupby("lr")["converged_epoch"].apply(lambda e: (e >= 0).mean())
            for name, df in (("a", a), ("b", b))}
    assert t["a_rate"].tolist() == rate["a"].tolist()
    assert t["b_rate"].tolist() == rate["b"].tolist()
    m = a.merge(b, on=["seed", "lr", "init_scale"], suffixes=("_a", "_b"))
    ok_a, ok_b = m["converged_epoch_a"] >= 0, m["converged_epoch_b"] >= 0
    for lr, row in t.set_index("lr").iterrows():
        sel = m["lr"] == lr
        assert row["a_only"] == (ok_a & ~ok_b & sel).sum()
        assert row["b_only"] == (~ok_a & ok_b & sel).sum()


def test_compare_runs_float32_against_float64_over_the_replicates_of_both(runs):
    a, b = analysis.load(runs / "bce"), analysis.load(runs / "f32")
    t = analysis.compare_runs(a, b)
    assert t.attrs["differs"] == ["dtype"]  # no column holds it: analysis.load's attrs do
    assert len(t) == 1
    assert t["n_pairs"].iloc[0] == 48
    assert abs(t["diff"].iloc[0]) <= 0.1  # the same networks, rounded differently
    few = analysis.compare_runs(a, analysis.load(runs / "few"))
    assert few["n_pairs"].iloc[0] == 20
    assert few.attrs["unpaired"] == (28, 0)
    with pytest.raises(CompareError, match="share no seed"):
        analysis.compare_runs(a, analysis.load(runs / "seed1"))


def test_compare_command_prints_and_writes_the_table(runs, tmp_path, capsys):
    csv = tmp_path / "out" / "c.csv"
    assert main(["compare", str(runs / "bce"), str(runs / "mse"), "--by", "lr", "init_scale",
                 "--csv", str(csv)]) == 0
    out = capsys.readouterr().out
    assert "paired on seed, init_scale, lr: 48 pairs" in out
    assert "b's spec differs from a's: grid.loss: [\"bce\"] -> [\"mse\"]\n" in out
    assert "exact McNemar" in out
    got = pd.read_csv(csv)
    want = analysis.compare_runs(analysis.load(runs / "bce"), analysis.load(runs / "mse"),
                                 by=["lr", "init_scale"])
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    assert main(["compare", str(runs / "bce"), str(runs / "f32")]) == 0
    assert (runs / "compare-bce-vs-f32.csv").exists()  # default: beside RUN_A
    out = capsys.readouterr().out
    assert "written:" in out
    assert "b's spec differs from a's: dtype: \"float64\" -> \"float32\"\n" in out  # no column


def test_runs_that_differ_in_a_setting_outside_the_grid_say_so(runs, tmp_path):
    sweeps.run({"name": "short", "epochs": 60, "replicates": 12, "record_every": 30,
                "grid": GRID, "target_error": 0.2}, out=tmp_path)
    t = analysis.compare_runs(analysis.load(runs / "bce"), analysis.load(tmp_path / "short"))
    assert t.attrs["differs"] == ["epochs", "target_error"]
    assert analysis.compare_runs(analysis.load(runs / "bce"),
                                 analysis.load(runs / "mse")).attrs["differs"] == ["loss"]


def test_runs_with_no_value_of_a_varied_axis_in_common_are_told_so(runs, tmp_path):
    sweeps.run({"name": "other_lr", "epochs": 150, "replicates": 12, "record_every": 50,
                "grid": {**GRID, "lr": [0.7, 1.4]}}, out=tmp_path)
    with pytest.raises(analysis.CompareError, match="the runs share no value of lr, which run a "
                                                    "varies"):
        analysis.compare_runs(analysis.load(runs / "bce"), analysis.load(tmp_path / "other_lr"))


@pytest.mark.parametrize("order", ["by first", "by between"])
def test_compare_takes_by_before_or_between_the_runs(runs, tmp_path, capsys, order):
    a, b = str(runs / "bce"), str(runs / "mse")
    want = analysis.compare_runs(analysis.load(runs / "bce"), analysis.load(runs / "mse"),
                                 by=["lr", "init_scale"])
    args = (["--by", "lr", "init_scale", a, b] if order == "by first"
            else [a, "--by", "lr", "init_scale", b])
    csv = tmp_path / "c.csv"
    assert main(["compare", *args, "--csv", str(csv)]) == 0
    assert f"a: {a} " in capsys.readouterr().out
    pd.testing.assert_frame_equal(pd.read_csv(csv), want, check_dtype=False)


@pytest.mark.parametrize("args", [["--by", "lr"], ["bce"], ["--by", "bce", "mse"]])
def test_compare_without_two_runs_says_how_to_call_it(runs, capsys, args):
    assert main(["compare", *[str(runs / x) if x in ("bce", "mse") else x
                              for x in args]]) == 2
    err = capsys.readouterr().err
    assert err == ("xorsweep: error: compare needs two run directories: xorsweep compare "
                   "RUN_A RUN_B [--by AXIS ...]\n")


@pytest.mark.parametrize(("args", "message"), [
    (["nope", "mse"], "not a run directory"),
    (["bce", "seed1"], "share no seed"),
    (["bce", "mse", "--by", "speed"], "cannot compare by 'speed'"),
    (["bce", "mse", "--by", "loss"], "cannot compare by 'loss'"),
])
def test_compare_command_refuses_in_one_line_and_writes_nothing(runs, tmp_path, capsys,
                                                                 args, message):
    csv = tmp_path / "c.csv"
    argv = ["compare", *[str(runs / x) if i < 2 else x for i, x in enumerate(args)],
            "--csv", str(csv)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert message in err
    assert not csv.exists()


def test_compare_command_refuses_a_damaged_run_with_exit_1(runs, tmp_path, capsys):
    bad = tmp_path / "bce"
    shutil.copytree(runs / "bce", bad)
    part = sorted((bad / "networks").iterdir())[0]
    data = bytearray(part.read_bytes())
    data[len(data) // 2] ^= 0xFF
    part.write_bytes(bytes(data))
    csv = tmp_path / "c.csv"
    assert main(["compare", str(bad), str(runs / "mse"), "--csv", str(csv)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "damaged" in err
    assert not csv.exists()


def test_selections_take_numpy_arrays_as_lists():
    df = _grid({0.5: [1, -1], 2.0: [-1, 3]}, replicates=2)
    pd.testing.assert_frame_equal(analysis.compare(df, a={"lr": np.array([0.5])}, b={"lr": 2.0}),
                                  analysis.compare(df, a={"lr": [0.5]}, b={"lr": 2.0}))
