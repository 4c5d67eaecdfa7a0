"""Continuous axes and their bins: which axes, the edges, the counts, the tables and figures."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import math  # noqa: E402
from io import BytesIO  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import analysis  # noqa: E402
from analysis import plots  # noqa: E402
from analysis.axes import (  # noqa: E402
    MAX_BINS,
    Bins,
    bin_index,
    choose_bins,
    continuous_axes,
    sample_attrs,
)


def _sampled(n_points=200, replicates=5, seed=0, loss=("bce",)):
    """A sampled-like network table: lr log-uniform on [0.1, 30], momentum uniform [0, 0.9]."""
    rng = np.random.default_rng(seed)
    lr = np.exp(rng.uniform(math.log(0.1), math.log(30), n_points))
    momentum = rng.uniform(0, 0.9, n_points)
    rows = []
    for lf in loss:
        for p in range(n_points):
            for r in range(replicates):
                ok = rng.random() < min(1.0, lr[p] / 10)
                rows.append({"loss": lf, "lr": lr[p], "momentum": momentum[p], "point": p,
                             "replicate": r, "seed": r, "epochs": 100,
                             "converged_epoch": int(rng.integers(5, 100)) if ok else -1,
                             "outcome": "converged" if ok else "stuck", "final_loss": 0.1})
    df = pd.DataFrame(rows)
    df.attrs.update(sample_attrs({"sample": {"method": "random", "n": n_points,
                                             "lr": {"loguniform": [0.1, 30.0]},
                                             "momentum": {"uniform": [0.0, 0.9]}}}))
    return df


def test_sample_attrs_read_the_frozen_spec_table():
    attrs = sample_attrs({"grid": {"lr": [1.0]}, "sample": {
        "method": "sobol", "n": 8, "lr": {"loguniform": [0.1, 30]},
        "W1[0,1]": {"uniform": [-10, 10]}}})
    assert attrs == {"sampled": {"lr": "loguniform", "W1[0,1]": "uniform"},
                     "sample_bounds": {"lr": (0.1, 30.0), "W1[0,1]": (-10.0, 10.0)}}
    assert sample_attrs({"grid": {"lr": [1.0]}}) == {"sampled": {}, "sample_bounds": {}}
    assert sample_attrs({}) == {"sampled": {}, "sample_bounds": {}}


def test_continuous_axes_from_the_spec_or_from_the_values():
    df = _sampled()
    assert continuous_axes(df) == {"lr": True, "momentum": False}
    bare = df.copy()
    bare.attrs.clear()  # no spec: the fallback rule on the values
    assert continuous_axes(bare) == {"lr": True, "momentum": False}
    # a grid run's table: the spec says no axis is sampled, whatever the values
    grid = bare.copy()
    grid.attrs["sampled"] = {}
    assert continuous_axes(grid) == {}
    # grid-like values are never continuous: few, evenly or geometrically spaced, not floats
    assert continuous_axes(pd.DataFrame({"lr": np.repeat(np.geomspace(0.1, 30, 40), 3),
                                         "init_scale": np.linspace(0.25, 4, 120),
                                         "momentum": np.tile([0.0, 0.5, 0.9], 40),
                                         "hidden": np.arange(120)})) == {}
    rng = np.random.default_rng(0)
    spread = pd.DataFrame({"W1[0,1]": rng.uniform(-10, 10, 50), "lr": rng.uniform(1, 50, 50)})
    assert continuous_axes(spread) == {"W1[0,1]": False, "lr": False}  # 50x: linear bins


def test_bins_edges_linear_log_and_spec_bounds():
    df = _sampled()
    bins = choose_bins(df, ["lr", "momentum"], bins=3)
    lr, m = bins["lr"], bins["momentum"]
    assert lr.log
    assert not m.log
    np.testing.assert_allclose(lr.edges, np.geomspace(0.1, 30, 4))   # the spec's bounds
    np.testing.assert_allclose(m.edges, [0.0, 0.3, 0.6, 0.9])
    np.testing.assert_allclose(lr.centres, np.sqrt(lr.edges[1:] * lr.edges[:-1]))
    np.testing.assert_allclose(m.centres, [0.15, 0.45, 0.75])
    bare = df.copy()
    bare.attrs.clear()
    b = choose_bins(bare, ["lr"], bins=4)["lr"]   # no spec: the values' range
    assert b.edges[0] == df["lr"].min()
    assert b.edges[-1] == df["lr"].max()
    np.testing.assert_allclose(np.diff(np.log(b.edges)), np.log(b.edges[1] / b.edges[0]))


def test_bin_index_half_open_with_the_last_edge_inside():
    b = Bins(np.array([0.0, 1.0, 2.0]), log=False)
    assert bin_index([0.0, 0.5, 1.0, 1.999, 2.0, -0.1, 2.1, np.nan], b).tolist() == \
        [0, 0, 1, 1, 1, -1, -1, -1]


def test_automatic_bin_count_keeps_about_100_networks_and_5_points_a_bin():
    # 200 points x 5 replicates = 1000 networks: 10 bins of 100 networks for one axis,
    # 3 x 3 bins (111 networks each on average) for two
    df = _sampled(n_points=200, replicates=5)
    assert choose_bins(df, ["lr"])["lr"].n_bins == 10
    two = choose_bins(df, ["lr", "momentum"])
    assert (two["lr"].n_bins, two["momentum"].n_bins) == (3, 3)
    # the categorical axis of the table divides the budget: 2 groups of 1000
    both = _sampled(n_points=200, replicates=5, loss=("bce", "mse"))
    assert choose_bins(both, ["loss", "lr"])["lr"].n_bins == 10
    assert choose_bins(both, ["lr"])["lr"].n_bins == 20
    # few points: 5 points a bin at least, whatever the replicates
    many = _sampled(n_points=20, replicates=100)
    assert choose_bins(many, ["lr"])["lr"].n_bins == 4
    # never more than MAX_BINS, never fewer than 1
    big = _sampled(n_points=3000, replicates=2)
    assert choose_bins(big, ["lr"])["lr"].n_bins == MAX_BINS
    assert choose_bins(_sampled(n_points=4, replicates=2), ["lr", "momentum"])["lr"].n_bins == 1


def test_convergence_table_bins_sum_to_the_whole_with_wilson_intervals():
    df = _sampled()
    t = analysis.convergence_table(df, by=["lr"])
    assert list(t.columns[:3]) == ["lr", "lr_low", "lr_high"]
    assert t["n"].sum() == len(df)
    b = t.attrs["bins"]["lr"]
    assert len(t) == b.n_bins == 10
    np.testing.assert_allclose(t["lr_low"], b.edges[:-1])
    np.testing.assert_allclose(t["lr_high"], b.edges[1:])
    np.testing.assert_allclose(t["lr"], np.sqrt(t["lr_low"] * t["lr_high"]))
    idx = bin_index(df["lr"], b)
    for i, row in t.iterrows():
        inside = df[idx == i]
        assert row["n"] == len(inside)
        assert row["converged"] == (inside["converged_epoch"] >= 0).sum()
        low, high = analysis.wilson_interval(row["converged"], row["n"])
        assert (row["rate_low"], row["rate_high"]) == (low, high)
    two = analysis.convergence_table(df, by=["momentum", "lr"], bins={"lr": 2, "momentum": 3})
    assert list(two.columns[:6]) == ["momentum", "momentum_low", "momentum_high", "lr",
                                     "lr_low", "lr_high"]
    assert two["n"].sum() == len(df)
    assert len(two) <= 6


def test_convergence_table_given_edges_leave_out_what_lies_outside():
    df = _sampled()
    t = analysis.convergence_table(df, by=["lr"], bins={"lr": [0.1, 1.0, 10.0]})
    assert t["lr_low"].tolist() == [0.1, 1.0]
    assert t["lr_high"].tolist() == [1.0, 10.0]
    outside = int((df["lr"] > 10).sum())
    assert outside > 0
    assert t.attrs["left_out"] == outside
    assert t["n"].sum() == len(df) - outside
    # a grid axis binned on request; by value otherwise
    g = analysis.convergence_table(df, by=["point"], bins={"point": 4})
    assert len(g) == 4
    assert g["n"].sum() == len(df)


@pytest.mark.parametrize(("bins", "message"), [
    ({"momentum": 2}, "not one of the table's axes"),
    ({"loss": 2}, "not numbers"),
    ({"lr": 0}, "at least 1"),
    ({"lr": [1.0, 0.5]}, "increasing"),
    ({"lr": [1.0]}, "at least two"),
])
def test_convergence_table_refuses_bad_bins(bins, message):
    with pytest.raises(ValueError, match=message):
        analysis.convergence_table(_sampled(n_points=20), by=["lr", "loss"], bins=bins)


def test_a_grid_table_is_not_binned():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"lr": np.repeat([0.5, 2.0, 8.0], 40), "init_scale": 1.0,
                       "replicate": np.tile(np.arange(40), 3), "epochs": 100,
                       "converged_epoch": rng.choice([-1, 20], 120), "outcome": "slow",
                       "final_loss": 0.1})
    t = analysis.convergence_table(df, by=["lr"])
    assert t.attrs["bins"] == {}
    assert t["lr"].tolist() == [0.5, 2.0, 8.0]
    assert "lr_low" not in t


def test_heatmap_data_over_bins_lists_every_bin_with_its_edges():
    df = _sampled()
    d = plots.heatmap_data(df, "lr", "momentum")
    t = analysis.convergence_table(df, by=["momentum", "lr"])
    bx, by_ = t.attrs["bins"]["lr"], t.attrs["bins"]["momentum"]
    np.testing.assert_array_equal(d.x_edges, bx.edges)
    np.testing.assert_array_equal(d.y_edges, by_.edges)
    assert d.x_values == bx.centres.tolist()
    assert d.y_values == by_.centres.tolist()
    assert d.x_log
    assert not d.y_log
    assert d.n.sum() == len(df)
    assert "in bins" in d.title
    fig, ax = plt.subplots()
    plots.plot_heatmap(d, ax)
    assert ax.get_xscale() == "log"
    assert ax.get_xlim() == pytest.approx((bx.edges[0], bx.edges[-1]))
    fig.savefig(BytesIO())
    plt.close(fig)


def test_design_points_one_row_per_point_and_drawn():
    df = _sampled(n_points=30, replicates=4)
    pts = plots.design_points(df, "lr", "momentum")
    assert len(pts) == 30
    assert pts["n"].tolist() == [4] * 30
    first = df[df["point"] == 0]
    assert pts.loc[0, "lr"] == first["lr"].iloc[0]
    assert pts.loc[0, "rate"] == (first["converged_epoch"] >= 0).mean()
    assert pts.attrs["x_log"]
    assert not pts.attrs["y_log"]
    fig, ax = plt.subplots()
    plots.plot_design_points(pts, ax)
    assert ax.get_xscale() == "log"
    assert ax.get_xlabel() == "learning rate"
    assert "30 design points" in ax.get_title()
    fig.savefig(BytesIO())
    plt.close(fig)
