"""Plot data functions on hand-built frames; renderers for labels, colour bars and saving."""

from __future__ import annotations

import io
import math

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from analysis import curves, plots

matplotlib.use("Agg")

GOOD = (0.01, 0.99, 0.99, 0.01)
HALF4 = (0.5, 0.5, 0.5, 0.5)
THIRD3 = (0.01, 0.66, 0.68, 0.65)
OTHER = (0.3, 0.7, 0.2, 0.4)


def _frame(rows):
    """(lr, init_scale, converged_epoch, final_loss, outputs) -> a network table."""
    return pd.DataFrame([{"network": i, "lr": lr, "init_scale": sc, "hidden": 2, "loss": "bce",
                          "task": "xor", "epochs": 1000, "converged_epoch": ce,
                          "outcome": "converged" if ce >= 0 else "stuck", "final_loss": fl,
                          **{f"out_{s}": o for s, o in enumerate(out)}}
                         for i, (lr, sc, ce, fl, out) in enumerate(rows)])


DF = _frame([
    (0.1, 1.0, 100, 0.01, GOOD), (0.1, 1.0, -1, 0.69, HALF4),
    (1.0, 1.0, 300, 0.02, GOOD), (1.0, 1.0, 500, 0.02, GOOD),
    (10.0, 1.0, -1, 0.5, THIRD3), (10.0, 1.0, -1, 0.4, OTHER),
    (0.1, 2.0, -1, 0.69, HALF4), (1.0, 2.0, 200, 0.01, GOOD), (10.0, 2.0, -1, 0.7, HALF4),
])


def _ax():
    return Figure().add_subplot()


def _saves(ax) -> None:
    buf = io.BytesIO()
    ax.figure.savefig(buf, format="png")
    assert buf.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(("values", "expected"), [
    ([0.1, 1.0, 10.0], True), ([10.0, 0.1, 1.0, 0.1], True), ([1, 2, 3], False),
    ([1.0, 2.0], False), ([0.0, 1.0, 10.0], False), (["relu", "tanh", "x"], False),
    ([0.5, 1.0, 2.0, 4.0], True), ([1, 2, 4, 7], False)])
def test_is_log_spaced(values, expected):
    assert plots.is_log_spaced(values) is expected


def test_heatmap_data_by_hand():
    d = plots.heatmap_data(DF, "lr", "init_scale", "rate")
    assert d.x_values == [0.1, 1.0, 10.0]
    assert d.y_values == [1.0, 2.0]
    assert d.x_log
    assert not d.y_log
    np.testing.assert_array_equal(d.values, [[0.5, 1.0, 0.0], [0.0, 1.0, 0.0]])
    np.testing.assert_array_equal(d.n, [[2, 2, 2], [1, 1, 1]])
    assert d.pooled == []
    e = plots.heatmap_data(DF, "lr", "init_scale", "expected_epochs")
    np.testing.assert_array_equal(e.values, [[1100, 400, math.inf], [math.inf, 200, math.inf]])


def test_heatmap_data_pools_the_other_axes_and_leaves_empty_cells_blank():
    df = DF.assign(hidden=[2, 3] * 4 + [2])
    d = plots.heatmap_data(df[df["network"] != 7], "lr", "init_scale")
    assert d.pooled == ["hidden"]
    assert "pooled over hidden" in d.title
    assert d.n[1, 1] == 0
    assert np.isnan(d.values[1, 1])


@pytest.mark.parametrize(("args", "message"), [
    (("lr", "init_scale", "speed"), "unknown metric 'speed'"),
    (("lr", "momentum", "rate"), "unknown axis 'momentum'"),
    (("lr", "lr", "rate"), "choose two different axes")])
def test_heatmap_data_errors(args, message):
    with pytest.raises(ValueError, match=message):
        plots.heatmap_data(DF, *args)


def test_cell_edges_are_geometric_midpoints_on_a_log_axis():
    edges = plots.cell_edges([1.0, 10.0, 100.0], log=True)
    np.testing.assert_allclose(np.log10(edges), [-0.5, 0.5, 1.5, 2.5])
    np.testing.assert_allclose(plots.cell_edges([1, 2, 3], log=False), [0.5, 1.5, 2.5, 3.5])
    np.testing.assert_array_equal(plots.cell_edges(["a", "b"], log=False), [-0.5, 0.5, 1.5])


def test_failure_mode_shares_by_hand():
    s = plots.failure_mode_shares(DF, by="lr")
    assert list(s.columns) == list(plots.FAILURE_MODES)
    assert list(s.index) == [0.1, 1.0, 10.0]
    assert s.loc[0.1].tolist() == [1 / 3, 2 / 3, 0, 0, 0, 0]
    assert s.loc[1.0].tolist() == [1, 0, 0, 0, 0, 0]
    assert s.loc[10.0].tolist() == [0, 1 / 3, 0, 1 / 3, 0, 1 / 3]
    assert s.attrs["pooled"] == ["init_scale"]
    assert s.attrs["loss"] == ["bce"]
    pooled = plots.failure_mode_shares(DF)
    assert pooled.index.tolist() == ["all"]
    assert pooled.loc["all", "converged"] == 4 / 9


def test_epochs_histogram_by_hand():
    h = plots.epochs_histogram(DF, bins=4)
    assert h["left"].tolist() == [0, 250, 500, 750]
    assert h["right"].tolist() == [250, 500, 750, 1000]
    assert h["count"].tolist() == [2, 1, 1, 0]  # 100, 200 | 300 | 500
    assert (h.attrs["n_converged"], h.attrs["n"]) == (4, 9)


def _chunk(networks, losses, epochs=(0, 10, 20)):
    return pd.DataFrame({"network": networks,
                         **{f"loss_{e}": np.asarray(losses, float)[:, k]
                            for k, e in enumerate(epochs)}})


def test_loss_bands_match_exact_quantiles_within_half_a_bin():
    rng = np.random.default_rng(0)
    losses = 10.0 ** rng.uniform(-6, 0, size=(400, 3))
    losses[5, 1] = np.nan  # a diverged network: left out
    groups = pd.Series(np.where(np.arange(400) < 150, "a", "b"), index=np.arange(400))
    bands = curves.loss_bands([_chunk(np.arange(400), losses)], groups)
    assert bands.index.tolist() == [0, 10, 20]
    half_bin = 10 ** (0.5 / curves.BINS_PER_DECADE)
    for g, rows in (("a", slice(0, 150)), ("b", slice(150, 400))):
        sub = losses[rows]
        for k in range(3):
            col = sub[:, k][np.isfinite(sub[:, k])]
            assert bands.loc[[0, 10, 20][k], (g, "n")] == len(col)
            for q in (0.25, 0.5, 0.75):
                exact = np.quantile(col, q, method="inverted_cdf")
                got = bands.loc[[0, 10, 20][k], (g, f"q{round(q * 100):02d}")]
                assert exact / half_bin <= got <= exact * half_bin


def test_loss_bands_do_not_depend_on_chunking_and_ignore_unknown_networks():
    rng = np.random.default_rng(1)
    losses = 10.0 ** rng.uniform(-4, 1, size=(60, 3))
    groups = pd.Series([0.5] * 30 + [2.0] * 20, index=np.arange(50))  # 50..59: not grouped
    whole = curves.loss_bands([_chunk(np.arange(60), losses)], groups)
    parts = curves.loss_bands([_chunk(np.arange(k, min(k + 7, 60)), losses[k:k + 7])
                               for k in range(0, 60, 7)], groups)
    pd.testing.assert_frame_equal(whole, parts)
    assert whole[(0.5, "n")].tolist() == [30] * 3
    assert whole[(2.0, "n")].tolist() == [20] * 3


def test_loss_bands_refuse_mixed_epochs():
    groups = pd.Series(["a", "a"], index=[0, 1])
    with pytest.raises(ValueError, match="different epochs"):
        curves.loss_bands([_chunk([0], [[1, 1, 1]]), _chunk([1], [[1, 1]], epochs=(0, 5))],
                          groups)


def test_heatmap_renderer_labels_log_axis_colour_bar_and_annotations():
    ax = plots.plot_heatmap(plots.heatmap_data(DF, "lr", "init_scale"), _ax())
    assert ax.get_xlabel() == "learning rate"
    assert ax.get_ylabel() == "init scale"
    assert ax.get_xscale() == "log"
    assert ax.get_yscale() == "linear"
    assert "convergence rate" in ax.get_title()
    assert "nothing pooled" in ax.get_title()
    assert len(ax.figure.axes) == 2  # the colour bar
    texts = sorted(t.get_text() for t in ax.texts)
    assert texts == sorted(["0.50\nn=2", "1.00\nn=2", "0.00\nn=2", "0.00\nn=1", "1.00\nn=1",
                            "0.00\nn=1"])
    _saves(ax)
    assert ax.get_legend() is None  # every cell has networks and a rate
    e = plots.plot_heatmap(plots.heatmap_data(DF, "lr", "init_scale", "expected_epochs"), _ax())
    assert "never\nn=2" in [t.get_text() for t in e.texts]
    assert [t.get_text() for t in e.get_legend().get_texts()] == ["none converged"]
    _saves(e)


def test_heatmap_cells_without_networks_are_grey_and_named():
    d = plots.heatmap_data(DF[DF["network"] != 7], "lr", "init_scale", "expected_epochs")
    assert d.n[1, 1] == 0
    ax = plots.plot_heatmap(d, _ax())
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["none converged", "no network"]
    grey = [m for m in ax.collections[1:] if m.get_array() is not None]
    assert len(grey) == 2  # the black and the grey layers over the colour scale
    assert grey[1].get_array().count() == 1  # the one empty cell
    _saves(ax)


def test_other_renderers_draw_and_save():
    bands = curves.loss_bands([_chunk(np.arange(9), np.full((9, 3), 0.1))],
                              DF.set_index("network")["lr"])
    ax = plots.plot_loss_bands(bands, _ax(), group_name="lr", pooled=["init_scale"])
    assert ax.get_yscale() == "log"
    assert ax.get_xlabel() == "epoch"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["lr = 0.1", "lr = 1", "lr = 10"]
    _saves(ax)
    from analysis import fraction_converged

    ax = plots.plot_fraction_converged(fraction_converged(DF, by=["lr"]), _ax())
    assert ax.get_ylabel() == "fraction converged"
    assert len(ax.lines) == 3
    _saves(ax)
    ax = plots.plot_failure_modes(plots.failure_mode_shares(DF, by="lr"), _ax())
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:2] == ["converged", f"half4 (loss {math.log(2):.3f})"]
    _saves(ax)
    ax = plots.plot_epochs_histogram(plots.epochs_histogram(DF), _ax())
    assert "4 of 9 networks converged" in ax.get_title()
    _saves(ax)
    from analysis import convergence_table

    ax = plots.plot_rate(convergence_table(DF, by=["lr"]), "lr", _ax())
    assert ax.get_xscale() == "log"
    assert ax.get_ylim() == (0, 1.02)
    _saves(ax)
    # one line per group; failure=True draws 1 - rate
    table = convergence_table(DF, by=["init_scale", "lr"])
    ax = plots.plot_rate(table, "lr", _ax(), by="init_scale", failure=True)
    lines = [c.lines[0] for c in ax.containers]  # the data line of each errorbar
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["init_scale = 1",
                                                                  "init_scale = 2"]
    np.testing.assert_allclose(lines[0].get_ydata(), [0.5, 0.0, 1.0])  # scale 1: 1/2, 2/2, 0/2
    np.testing.assert_allclose(lines[1].get_ydata(), [1.0, 0.0, 1.0])
    assert ax.get_ylabel() == "share not converged (95% Wilson interval)"
    _saves(ax)


def test_renderers_change_no_global_style_and_make_a_figure_without_ax():
    import matplotlib.pyplot as plt

    before = dict(matplotlib.rcParams)
    ax = plots.plot_heatmap(plots.heatmap_data(DF, "lr", "init_scale"))
    try:
        assert ax.figure in [plt.figure(n) for n in plt.get_fignums()]
        _saves(ax)
    finally:
        plt.close(ax.figure)
    assert dict(matplotlib.rcParams) == before
    assert plt.get_fignums() == []


def test_loss_bands_with_no_grouped_network_are_empty_not_an_error():
    bands = curves.loss_bands([_chunk([0, 1], [[1, 1, 1], [2, 2, 2]])],
                              pd.Series([], dtype=object))
    assert bands.shape == (3, 0)


def test_band_panels_overlay_a_few_groups_and_give_many_one_panel_each():
    few = plots.band_panels([0.1, 1.0, 10.0])
    assert few == plots.BandPanels(panels=[[0.1, 1.0, 10.0]],
                                   colours=[["#0072B2", "#D55E00", "#009E73"]],
                                   n_rows=1, n_cols=1)
    assert len(set(plots.QUALITATIVE)) == len(plots.QUALITATIVE)
    many = plots.band_panels(list(range(11)))
    assert many.panels == [[g] for g in range(11)]
    assert (many.n_rows, many.n_cols) == (3, 4)
    assert many.colours == [["#0072B2"]] * 11
    assert plots.band_panels(list(range(5)), max_cols=5).n_rows == 1
    assert len(plots.band_panels(list(range(3))).panels) == 1
    assert len(plots.band_panels(list(range(4))).panels) == 4
    assert plots.band_panels([]).panels == [[]]


def test_loss_band_panels_renderer_draws_small_multiples_on_shared_axes():
    lrs = [0.1 * 2 ** k for k in range(11)]
    networks = np.arange(22)
    groups = pd.Series(np.repeat(lrs, 2), index=networks)
    losses = np.outer(np.arange(1, 23), [1.0, 0.5, 0.25])
    bands = curves.loss_bands([_chunk(networks, losses)], groups)
    fig = plots.plot_loss_band_panels(bands, Figure(), group_name="lr", pooled=["init_scale"])
    shown = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in shown] == [f"lr = {plots.format_value(v)}" for v in lrs]
    assert len(fig.axes) == 12  # 3 x 4, the last hidden
    assert all(ax.get_yscale() == "log" for ax in shown)
    assert shown[0].get_shared_y_axes().joined(shown[0], shown[-1])
    # its own median in colour, the ten others in grey
    assert [line.get_color() for line in shown[0].lines].count("#0072B2") == 1
    assert len(shown[0].lines) == 11
    assert "pooled over init_scale" in fig._suptitle.get_text()
    assert shown[-1].get_xlabel() == "epoch"
    assert shown[-4].get_xlabel() == "epoch"  # above the empty place in the last row
    _saves(shown[0])
    few = plots.plot_loss_band_panels(bands[[c for c in bands.columns if c[0] in lrs[:3]]],
                                      Figure(), group_name="lr")
    (ax,) = few.axes
    assert [line.get_color() for line in ax.lines] == ["#0072B2", "#D55E00", "#009E73"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["lr = 0.1", "lr = 0.2",
                                                                  "lr = 0.4"]
