"""Init-slice images: the data function on hand-built grids, the renderer, the report."""

from __future__ import annotations

import io

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

import sweeps
from analysis import slices
from analysis.report import choose_axes, write_report

matplotlib.use("Agg")


def _grid(ce: dict, epochs: int = 50, **extra) -> pd.DataFrame:
    """{(x, y): converged_epoch} -> network rows on parameter axes W1[0,1] and W2[1]."""
    return pd.DataFrame([{"W1[0,1]": x, "W2[1]": y, "converged_epoch": c, "epochs": epochs,
                          "lr": 1.0, "replicate": 0, **extra} for (x, y), c in ce.items()])


def test_slice_image_places_each_network_at_its_point():
    df = _grid({(-1.0, 0.0): 7, (0.0, 0.0): -1, (1.0, 0.0): 12,
                (-1.0, 5.0): 0, (0.0, 5.0): 30})  # (1, 5) missing
    data = slices.slice_image(df.sample(frac=1, random_state=0), "W1[0,1]", "W2[1]")
    np.testing.assert_array_equal(data.x_values, [-1.0, 0.0, 1.0])
    np.testing.assert_array_equal(data.y_values, [0.0, 5.0])
    np.testing.assert_array_equal(data.epochs, [[7, np.nan, 12], [0, 30, np.nan]])
    np.testing.assert_array_equal(data.present, [[True, True, True], [True, True, False]])
    np.testing.assert_array_equal(data.never, [[False, True, False], [False, False, False]])
    assert data.limit == 50


def test_slice_image_refuses_shared_points_and_unknown_axes():
    df = pd.concat([_grid({(0.0, 0.0): 1}), _grid({(0.0, 0.0): 2})])
    with pytest.raises(ValueError, match="1 networks share a .* point"):
        slices.slice_image(df, "W1[0,1]", "W2[1]")
    with pytest.raises(ValueError, match="unknown axis 'b2'"):
        slices.slice_image(df, "W1[0,1]", "b2")
    with pytest.raises(ValueError, match="x and y are both"):
        slices.slice_image(df, "W2[1]", "W2[1]")


def test_facets_split_by_replicate_and_other_varying_axes():
    pts = {(0.0, 0.0): 1, (1.0, 0.0): -1}
    df = pd.concat([_grid(pts, lr=lr, replicate=r) for lr in (0.5, 2.0) for r in (0, 1)])
    df["lr"] = np.repeat([0.5, 2.0], 4)
    facets = slices.slice_facets(df, "W1[0,1]", "W2[1]")
    assert [t for t, _ in facets] == ["lr = 0.5, replicate = 0", "lr = 0.5, replicate = 1",
                                      "lr = 2, replicate = 0", "lr = 2, replicate = 1"]
    assert all(len(rows) == 2 for _, rows in facets)
    assert slices.slice_facets(_grid(pts), "W1[0,1]", "W2[1]")[0][0] == ""


def test_plot_slice_labels_colours_and_saves():
    df = _grid({(-1.0, 0.0): 7, (0.0, 0.0): -1, (1.0, 0.0): 12, (-1.0, 5.0): 0})
    data = slices.slice_image(df, "W1[0,1]", "W2[1]", title="lr = 1")
    fig = Figure()
    ax = slices.plot_slice(data, fig.add_subplot())
    assert ax.get_xlabel() == "initial W1[0,1]"
    assert ax.get_ylabel() == "initial W2[1]"
    assert ax.get_title() == "lr = 1; 3 x 2 networks, 75.0% converged"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "never (within 50 epochs)", "not trained yet"]
    never_layer, epochs_layer = ax.collections
    assert ax.get_xlim() == (-1.5, 1.5)  # parameter units, cells centred on the values
    assert ax.get_ylim() == (-2.5, 7.5)
    assert epochs_layer.colorbar.ax.get_ylabel() == "epochs to converge"
    assert epochs_layer.get_array().mask.tolist() == [[False, True, False], [False, True, True]]
    assert never_layer.get_array().mask.tolist() == [[True, False, True], [True, True, True]]
    fig.savefig(io.BytesIO(), format="png")


def test_uneven_and_incomplete_grids_keep_every_point_in_place():
    df = _grid({(-10.0, 0.0): 3, (0.0, 0.0): 4, (10.0, 0.0): 5})
    data = slices.slice_image(df, "W1[0,1]", "W2[1]", x_values=[-10, -1, 0, 1, 10],
                              y_values=[0.0, 1.0])
    np.testing.assert_array_equal(data.epochs[0], [3, np.nan, 4, np.nan, 5])
    assert data.present.sum() == 3
    ax = slices.plot_slice(data, Figure().add_subplot())
    np.testing.assert_allclose(ax.collections[1].get_coordinates()[0, :, 0],
                               [-14.5, -5.5, -0.5, 0.5, 5.5, 14.5])  # midpoints
    with pytest.raises(ValueError, match="values that are not in the grid"):
        slices.slice_image(df, "W1[0,1]", "W2[1]", x_values=[-10.0, 0.0])
    with pytest.raises(ValueError, match="'lr' is not numeric|not numeric"):
        slices.slice_image(df.assign(lr="a"), "lr", "W2[1]")


@pytest.mark.parametrize(("side", "per"), [(200, 4), (30, 26), (1000, 1)])
def test_slice_figure_gives_every_network_whole_pixels(side, per):
    df = pd.DataFrame({"W1[0,1]": np.tile(np.arange(side, dtype=float), 2),
                       "W2[1]": np.repeat([0.0, 1.0], side), "converged_epoch": 5,
                       "epochs": 10})
    fig = slices.slice_figure(slices.slice_image(df, "W1[0,1]", "W2[1]"), dpi=110)
    width = fig.axes[0].get_window_extent().width
    assert width == pytest.approx(side * per)


SLICE = {"name": "tiny-slice", "epochs": 40, "replicates": 1, "record_every": 20,
         "criterion": "right-side",
         "grid": {"loss": ["mse"], "lr": [2.0], "W1[0,1]": {"linspace": [-6, 6, 40]},
                  "W2[1]": {"linspace": [-6, 6, 30]}},
         "init_values": {"W1[0,0]": 0.3, "W1[1,0]": 0.36, "W1[1,1]": 0.05, "b1[0]": 0.26,
                         "b1[1]": 0.54, "W2[0]": -0.71, "b2": -0.25}}


def test_report_of_a_slice_draws_the_image_and_keeps_the_page_small(tmp_path):
    run = sweeps.run(SLICE, out=tmp_path, chunk_size=128)
    df = run.networks()
    assert choose_axes(df) == ("W1[0,1]", "W2[1]")
    (run.path / "report").mkdir()
    (run.path / "report" / "heatmap.png").write_bytes(b"from an earlier report")
    page = write_report(run.path).read_text()
    pngs = {p.stem for p in (run.path / "report").glob("*.png")}
    assert "slice_0" in pngs
    assert "heatmap" not in pngs  # one network per point: the image says it all (stale removed)
    assert "Converged means every output on the right side of 0.5 (Kolen &amp; Pollack" in page
    assert "class=full" in page
    # 1,200 cells: the page pools the parameter axes, summary.csv has every cell
    assert "is in <code>summary.csv</code> (1,200 rows)" in page
    assert "initial-parameter axes (W1[0,1], W2[1]) are pooled" in page
    assert len(pd.read_csv(run.path / "report" / "summary.csv")) == 1200
    assert "<th>W1[0,1]</th>" not in page
    assert f"<b>{(df.converged_epoch >= 0).mean():.1%}</b>" in page


def test_report_of_an_incomplete_slice_draws_missing_points_grey(tmp_path, monkeypatch):
    import json

    from sweeps import store

    run = sweeps.run(SLICE, out=tmp_path, chunk_size=100)
    manifest = json.loads((run.path / store.MANIFEST).read_text())
    del manifest["done"]["5"]  # a middle chunk: 100 networks not trained yet
    (run.path / store.MANIFEST).write_text(json.dumps(manifest))
    drawn = []
    real = slices.plot_slice
    monkeypatch.setattr(slices, "plot_slice", lambda data, *a, **k: drawn.append(data)
                        or real(data, *a, **k))
    page = write_report(run.path).read_text()
    (data,) = drawn
    assert data.epochs.shape == (30, 40)  # the spec's grid, not the values present
    assert (~data.present).sum() == 100
    assert "This run is incomplete" in page


def test_report_of_slices_with_other_varying_axes(tmp_path):
    spec = SLICE | {"name": "faceted", "replicates": 2,
                    "grid": SLICE["grid"] | {"lr": [1.0, 4.0], "W1[0,1]": [-2.0, 0.0, 2.0],
                                             "W2[1]": [-1.0, 1.0]}}
    run = sweeps.run(spec, out=tmp_path)
    page = write_report(run.path).read_text()
    pngs = {p.stem for p in (run.path / "report").glob("*.png")}
    assert {f"slice_{k}" for k in range(4)} <= pngs  # lr x replicate
    assert "slice_4" not in pngs
    assert "heatmap" in pngs  # several networks per point: the pooled rate too
    assert "pooled over lr" in page  # the heatmap caption


def test_long_tables_without_parameter_axes_are_cut_and_say_so():
    from analysis import convergence_table
    from analysis._page import _table_section

    n = 1100
    df = pd.DataFrame({"lr": np.arange(1, n + 1, dtype=float), "converged_epoch": 3,
                       "epochs": 10, "outcome": "converged", "final_loss": 0.1})
    table = convergence_table(df, by=["lr"])
    intro, shown = _table_section(df, table)
    assert len(shown) == 1000
    assert "(1,100 rows)" in intro
    assert "first 1,000 of 1,100 rows" in intro
    assert "pooled" not in intro


def test_report_of_a_run_over_several_tasks(tmp_path):
    spec = {"name": "two-tasks", "epochs": 50, "replicates": 4, "record_every": 25,
            "grid": {"task": ["xor", "parity3"], "hidden": [3], "lr": [1.0, 3.0]}}
    run = sweeps.run(spec, out=tmp_path)
    page = write_report(run.path).read_text()
    pngs = {p.stem for p in (run.path / "report").glob("*.png")}
    assert "failure_modes" not in pngs  # XOR's stationary points only
    assert "heatmap" in pngs  # task x lr
    assert "parity3" in page


def test_bundled_kolen_pollack_slice_then_report_shows_the_map(tmp_path, capsys):
    from xorsweep.cli import main

    assert main(["run", "kolen-pollack-slice", "--out", str(tmp_path), "--quiet"]) == 0
    assert main(["report", str(tmp_path / "kolen-pollack-slice")]) == 0
    report = tmp_path / "kolen-pollack-slice" / "report"
    page = (report / "index.html").read_text()
    assert "slice_0" in page
    df = sweeps.open_run(tmp_path / "kolen-pollack-slice").networks()
    data = slices.slice_image(df, "W1[0,1]", "W2[1]")
    assert data.epochs.shape == (200, 200)
    assert data.present.all()
    assert 0 < data.never.sum() < 200 * 200  # some of the slice converges, some does not
