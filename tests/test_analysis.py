from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import analysis
from analysis import curves


def _frame(rows):
    """Hand-built network table: (lr, converged_epoch, outcome, final_loss, outputs)."""
    return pd.DataFrame([{"lr": lr, "init_scale": 1.0 + i % 2, "hidden": 2, "loss": "bce",
                          "task": "xor", "epochs": 1000, "converged_epoch": ce,
                          "outcome": oc, "final_loss": fl,
                          **{f"out_{s}": o for s, o in enumerate(out)}}
                         for i, (lr, ce, oc, fl, out) in enumerate(rows)])


GOOD = (0.01, 0.99, 0.99, 0.01)
HALF4 = (0.5, 0.5, 0.5, 0.5)
HALF2 = (0.02, 0.97, 0.5, 0.52)          # 00 and 01 right; 10 (y=1) and 11 (y=0) at 1/2
THIRD3 = (0.01, 0.66, 0.68, 0.65)        # 00 right; the rest at 2/3, the mean of {1, 1, 0}
SATWRONG = (0.97, 0.99, 0.99, 0.01)      # 00 saturated at the wrong target
OTHER = (0.3, 0.7, 0.2, 0.4)


@pytest.mark.parametrize(("k", "n", "low", "high"), [
    (5, 10, 0.2366, 0.7634), (0, 10, 0.0, 0.2775), (10, 10, 0.7225, 1.0), (0, 0, 0.0, 1.0)])
def test_wilson_interval(k, n, low, high):
    lo, hi = analysis.wilson_interval(k, n)
    assert lo == pytest.approx(low, abs=1e-4)
    assert hi == pytest.approx(high, abs=1e-4)


def test_convergence_table_by_hand():
    df = _frame([
        (0.5, 100, "converged", 0.01, GOOD), (0.5, 300, "converged", 0.02, GOOD),
        (0.5, -1, "stuck", 0.4, HALF2), (0.5, -1, "plateau", 0.69, HALF4),
        (2.0, -1, "stuck", 0.5, THIRD3), (2.0, -1, "diverged", math.nan, OTHER),
    ])
    t = analysis.convergence_table(df, by=["lr"]).set_index("lr")
    assert t.attrs["pooled"] == ["init_scale"]
    assert list(t["n"]) == [4, 2]
    assert list(t["converged"]) == [2, 0]
    assert t.loc[0.5, "rate"] == 0.5
    lo, hi = analysis.wilson_interval(2, 4)
    assert t.loc[0.5, "rate_low"] == lo
    assert t.loc[0.5, "rate_high"] == hi
    assert t.loc[0.5, "epochs_median"] == 200
    assert t.loc[0.5, "epochs_q25"] == 150
    assert t.loc[0.5, "epochs_q75"] == 250
    assert t.loc[0.5, "expected_epochs"] == (100 + 300 + 2 * 1000) / 2
    assert t.loc[2.0, "expected_epochs"] == math.inf
    assert np.isnan(t.loc[2.0, "epochs_median"])
    assert (t.loc[0.5, ["n_converged", "n_stuck", "n_plateau", "n_diverged"]] == [2, 1, 1, 0]).all()
    assert t.loc[2.0, "n_diverged"] == 1
    assert t.loc[0.5, "final_loss_median"] == pytest.approx((0.02 + 0.4) / 2)
    pooled = analysis.convergence_table(df)
    assert len(pooled) == 1
    assert pooled["n"].iloc[0] == 6
    assert pooled.attrs["pooled"] == ["init_scale", "lr"]


def test_fraction_converged_censors_failures():
    df = _frame([(1.0, 0, "converged", 0, GOOD), (1.0, 10, "converged", 0, GOOD),
                 (1.0, 500, "converged", 0, GOOD), (1.0, -1, "stuck", 1, OTHER)])
    f = analysis.fraction_converged(df, epochs=[0, 9, 10, 499, 500, 1000])
    assert list(f["all"]) == [0.25, 0.25, 0.5, 0.5, 0.75, 0.75]
    by = analysis.fraction_converged(df, by=["init_scale"], epochs=[1000])
    assert by.loc[1000, 1.0] == 1.0   # networks 0 and 2 (scale 1) both converged
    assert by.loc[1000, 2.0] == 0.5


def test_one_axis_by_name_and_an_unknown_axis_in_one_line():
    df = _frame([(0.5, 100, "converged", 0.01, GOOD), (2.0, -1, "stuck", 0.5, THIRD3)])
    pd.testing.assert_frame_equal(analysis.convergence_table(df, by="lr"),
                                  analysis.convergence_table(df, by=["lr"]))
    pd.testing.assert_frame_equal(analysis.fraction_converged(df, by="lr"),
                                  analysis.fraction_converged(df, by=["lr"]))
    for table in (analysis.convergence_table, analysis.fraction_converged,
                  analysis.failure_mode_table):
        with pytest.raises(ValueError, match=r"by: 'lrr' is not an axis of the table; its "
                                             r"varying axes: init_scale, lr$"):
            table(df, by=["lrr"])


@pytest.mark.parametrize(("k", "n"), [(5, 3), (-1, 3), ([1, 4], [3, 3]), (math.nan, 3)])
def test_wilson_interval_refuses_counts_outside_0_to_n(k, n):
    with pytest.raises(ValueError, match="k must be from 0 to n"):
        analysis.wilson_interval(k, n)


def test_failure_modes_by_hand():
    df = _frame([(1.0, 5, "converged", 0, GOOD), (1.0, -1, "plateau", 0, HALF4),
                 (1.0, -1, "stuck", 0, HALF2), (1.0, -1, "stuck", 0, THIRD3),
                 (1.0, -1, "saturated", 0, SATWRONG), (1.0, -1, "stuck", 0, OTHER),
                 (1.0, -1, "stuck", 0, (0.5, 0.99, 0.99, 0.5))])  # same-target pair: not half2
    assert list(analysis.failure_modes(df)) == ["converged", "half4", "half2", "third3",
                                                "satwrong", "other", "other"]
    t = analysis.failure_mode_table(df).set_index("failure_mode")
    assert t.loc["other", "count"] == 2
    assert t["share"].sum() == pytest.approx(1.0)
    assert t.loc["half2", "theoretical_loss"] == pytest.approx(math.log(2) / 2)
    assert t.loc["third3", "theoretical_loss"] == pytest.approx(0.477386, abs=1e-6)
    with pytest.raises(ValueError, match="XOR runs only"):
        analysis.failure_modes(df.assign(task="parity3"))


def test_failure_mode_table_has_the_observed_median_loss_beside_the_theoretical():
    df = _frame([(1.0, -1, "plateau", 0.70, HALF4), (1.0, -1, "plateau", 0.68, HALF4),
                 (1.0, -1, "plateau", 0.60, HALF4), (1.0, -1, "stuck", 0.35, HALF2),
                 (1.0, 5, "converged", 0.01, GOOD)])
    t = analysis.failure_mode_table(df).set_index("failure_mode")
    assert t["observed_median_loss"].to_dict() == {"half2": 0.35, "half4": 0.68}
    assert "observed_median_loss" not in analysis.failure_mode_table(df.drop(columns="final_loss"))


def test_reads_a_run_without_numba(tmp_path):
    import sweeps

    sweeps.run({"name": "tiny", "epochs": 50, "replicates": 5}, out=tmp_path)
    code = ("import sys; sys.modules['numba'] = None; sys.modules['kernels'] = None; "
            "import analysis; df = analysis.load(sys.argv[1]); "
            "print(len(df), analysis.convergence_table(df)['n'].iloc[0])")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "tiny")],
                         capture_output=True, text=True, check=True).stdout
    assert out.split() == ["5", "5"]
    run = sweeps.open_run(tmp_path / "tiny")  # a Run as well as its directory
    pd.testing.assert_frame_equal(analysis.load(run), analysis.load(tmp_path / "tiny"))


def test_wilson_interval_ends_are_exact():
    lo, hi = analysis.wilson_interval(np.array([0, 7, 3]), np.array([7, 7, 3]))
    assert lo[0] == 0.0
    assert hi[1] == 1.0
    assert hi[2] == 1.0
    assert 0 < lo[1] < 1
    assert 0 < hi[0] < 1


def _nets(rows):
    """Hand-built XOR network table: (loss, lr, converged_epoch, outputs) per network."""
    return pd.DataFrame([{"loss": loss, "lr": lr, "task": "xor", "converged_epoch": ce,
                          **{f"out_{s}": o for s, o in enumerate(out)}}
                         for loss, lr, ce, out in rows])


@pytest.mark.parametrize(("out", "mode"), [
    ((0.0001, 1.0, 1.0, 1.0), "satwrong"),     # 11 at its wrong target 1, the rest right
    ((0.9999, 1.0, 1.0, 0.0), "satwrong"),     # 00 at its wrong target 1
    ((0.0, 0.0, 1.0, 0.0), "satwrong"),        # 01 at its wrong target 0
    ((0.9999, 1.0, 1.0, 1.0), "other"),        # two wrong (00 and 11): mse 0.49995, not 1/4
    ((1.0, 0.0, 0.0, 1.0), "other"),           # all four wrong
    ((0.97, 0.5, 0.99, 0.01), "other"),        # one wrong, one at 1/2
    ((0.97, 0.7, 0.99, 0.01), "other"),        # one wrong, one away from every value
    ((0.0001, 1.0, 1.0, 0.0), "other"),        # all right but not converged: no pattern
    ((0.951, 1.0, 1.0, 0.0), "satwrong"),      # wrong output just inside the tolerance
    ((0.949, 1.0, 1.0, 0.0), "other"),         # ... just outside
    ((1.0, 0.951, 0.951, 0.049), "satwrong"),  # right outputs just inside
    ((1.0, 0.949, 1.0, 0.0), "other"),         # one right output just outside
])
def test_satwrong_is_one_output_at_its_wrong_target_and_three_right(out, mode):
    df = _nets([("mse", 1.0, -1, out)])
    assert analysis.failure_modes(df).tolist() == [mode]


def test_failure_mode_tolerance_is_strict():
    # 0.9375 and 0.0625 are exact in binary: distance 0.0625 is not closer than tol = 0.0625
    df = _nets([("mse", 1.0, -1, (0.9375, 1.0, 1.0, 0.0)),
                ("mse", 1.0, -1, (1.0, 0.9375, 1.0, 0.0)),
                ("mse", 1.0, -1, (1.0, 1.0, 1.0, 0.0625))])
    assert analysis.failure_modes(df, tol=0.0625).tolist() == ["other", "other", "other"]
    assert analysis.failure_modes(df, tol=0.0626).tolist() == ["satwrong"] * 3


@pytest.mark.parametrize("tol", [0.0, -0.05, 0.26, 0.5])
def test_failure_modes_reject_a_tolerance_that_confuses_targets(tol):
    df = _nets([("mse", 1.0, -1, (0.0001, 1.0, 1.0, 1.0))])
    with pytest.raises(ValueError, match="tol must be in"):
        analysis.failure_modes(df, tol=tol)


def test_satwrong_theoretical_loss_is_a_quarter_under_mse_only():
    # one output off by 1 on one sample of four: mse 1/4; bce -ln(1 - a) has no limit
    assert analysis.STATIONARY_LOSSES["mse"]["satwrong"] == 0.25
    assert math.isnan(analysis.STATIONARY_LOSSES["bce"]["satwrong"])


SAT = (0.0001, 1.0, 1.0, 1.0)
TWO_WRONG = (0.9999, 1.0, 1.0, 1.0)
MIXED_LOSSES = _nets([
    ("mse", 0.5, -1, SAT), ("mse", 0.5, -1, TWO_WRONG), ("mse", 0.5, -1, HALF4),
    ("mse", 0.5, 10, GOOD), ("mse", 2.0, -1, HALF4),
    ("bce", 2.0, -1, SAT), ("bce", 2.0, -1, HALF4), ("bce", 2.0, -1, HALF4),
])


def test_failure_mode_table_theoretical_loss_per_loss():
    t = analysis.failure_mode_table(MIXED_LOSSES, by=["loss"])
    want = pd.DataFrame({
        "loss": ["bce", "bce", "mse", "mse", "mse"],
        "failure_mode": ["half4", "satwrong", "half4", "other", "satwrong"],
        "count": [2, 1, 2, 1, 1],
        "share": [2 / 3, 1 / 3, 2 / 4, 1 / 4, 1 / 4],
        "theoretical_loss": [math.log(2), math.nan, 0.25, math.nan, 0.25],
    }).astype({"loss": t["loss"].dtype, "failure_mode": t["failure_mode"].dtype})
    pd.testing.assert_frame_equal(t, want)


def test_failure_mode_table_pooled_over_losses_gives_no_theoretical_loss():
    t = analysis.failure_mode_table(MIXED_LOSSES, by=["lr"])
    # lr 0.5 is all mse; lr 2.0 pools mse and bce in half4, bce alone in satwrong
    want = pd.DataFrame({
        "lr": [0.5, 0.5, 0.5, 2.0, 2.0],
        "failure_mode": ["half4", "other", "satwrong", "half4", "satwrong"],
        "count": [1, 1, 1, 3, 1],
        "share": [1 / 3, 1 / 3, 1 / 3, 3 / 4, 1 / 4],
        "theoretical_loss": [0.25, math.nan, 0.25, math.nan, math.nan],
    }).astype({"failure_mode": t["failure_mode"].dtype})
    pd.testing.assert_frame_equal(t, want)
    pooled = analysis.failure_mode_table(MIXED_LOSSES)
    assert pooled["failure_mode"].tolist() == ["half4", "other", "satwrong"]
    assert pooled["count"].tolist() == [4, 1, 2]
    assert pooled["theoretical_loss"].isna().all()       # every row pools bce and mse


@pytest.mark.parametrize("by", [[], ["loss"], ["lr"], ["lr", "loss"]])
def test_failure_mode_table_does_not_depend_on_row_order(by):
    want = analysis.failure_mode_table(MIXED_LOSSES, by=by)
    rng = np.random.default_rng(21)
    for _ in range(5):
        shuffled = MIXED_LOSSES.iloc[rng.permutation(len(MIXED_LOSSES))]
        pd.testing.assert_frame_equal(analysis.failure_mode_table(shuffled, by=by), want)


def test_the_usual_mistakes_with_a_network_table_are_one_line_naming_the_fix(tmp_path):
    import sweeps

    sweeps.run({"name": "m", "epochs": 20, "replicates": 3, "grid": {"lr": [0.5, 2.0]}},
               out=tmp_path, jobs=1)
    df = analysis.load(tmp_path / "m")
    with pytest.raises(TypeError, match="must be a DataFrame, not ndarray; read a run's with "
                                        "analysis.load"):
        analysis.convergence_table(df.to_numpy(), by=["lr"])
    pd.testing.assert_frame_equal(analysis.convergence_table(df, by=None),
                                  analysis.convergence_table(df))
    with pytest.raises(ValueError, match="the network table has no rows"):
        analysis.fraction_converged(df.iloc[:0], by=["lr"])
    with pytest.raises(ValueError, match="no column 'lrr' in the network table of .*; its "
                                         "columns: network, "):
        sweeps.open_run(tmp_path / "m").networks(columns=["lrr"])
    assert df.attrs["settings"] == {"dtype": "float64", "criterion": "target-error"}
    with pytest.raises(ValueError, match="by: 'lr' is missing in 2 rows; drop or fill them"):
        analysis.convergence_table(df.assign(lr=df["lr"].where(df.index % 3 != 0)), by=["lr"])
    with pytest.raises(ValueError, match="epochs must lie in 0 .. 20, the run's last epoch"):
        analysis.fraction_converged(df, epochs=[5000])
    assert analysis.fraction_converged(df, epochs=10).index.tolist() == [10]
    run = sweeps.open_run(tmp_path / "m")
    lr = df.set_index("network")["lr"]
    with pytest.raises(ValueError, match="quantile 1.5 is outside 0 .. 1"):
        curves.loss_bands(run.curves(), lr, quantiles=(1.5,))
    with pytest.raises(TypeError, match="groups must be a Series of labels indexed by network"):
        curves.loss_bands(run.curves(), lr.tolist())
    pd.testing.assert_frame_equal(curves.loss_bands(pd.concat(list(run.curves())), lr),
                                  curves.loss_bands(run.curves(), lr))
