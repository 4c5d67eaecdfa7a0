"""Run the bundled studies and draw the README gallery.

    python examples/gallery.py [--out runs] [--dest docs/gallery] [--jobs N]

Runs (or resumes) kolen-pollack-slice, kolen-pollack-range, init-schemes,
hidden-width, parity, lr-momentum-sobol and kolen-pollack-zoom (with its zooms 10x,
100x and 1000x into one boundary region) into ``--out``, writes each study's HTML
report, saves one small PNG per study into ``--dest`` and prints the figures the
README and docs/science.md quote.
A first run on 2 cores takes a few minutes, most of it compiling the parity
kernels (one per task and hidden width); the cache makes later runs fast.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

import analysis
import sweeps
from analysis import boundary, plots, slices
from analysis.report import write_report

STUDIES = ("kolen-pollack-slice", "kolen-pollack-range", "init-schemes", "hidden-width",
           "parity", "lr-momentum-sobol", "kolen-pollack-zoom")
DPI = 100
#: Bins of the effective learning rate lr / (1 - momentum): quarter decades, 0.1 to 1000.
EFFECTIVE_EDGES = 10.0 ** np.arange(-1.0, 3.01, 0.25)
#: Momentum groups of the sampled study's second panel.
MOMENTUM_GROUPS = (0.0, 0.3, 0.6, 0.95)
#: Where kolen-pollack-zoom zooms in (W1[0,1], W2[1]): a ragged stretch of the boundary
#: between the central islands of non-convergence; each zoom is centred on the boundary
#: cell of its parent's finest level nearest this point.
ZOOM_TARGET = (-0.5, 1.0)
#: The zooms' magnifications over the root slice.
ZOOMS = (10, 100, 1000)
#: Values a side of each zoom: a plain grid, every cell of its box counted (a refined
#: grid misses boundary cells between corners of one label, docs/analysis.md).
ZOOM_RESOLUTION = 401


def _save(fig: Figure, path: Path) -> None:
    fig.savefig(path, dpi=DPI)
    print(f"  wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")


def _figure(width: float = 6.4, height: float = 4.2):
    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.add_subplot()


def slice_figure(df, dest: Path) -> None:
    """Epochs to converge over the 200 x 200 slice (about 2 px per network, not whole pixels)."""
    data = slices.slice_image(df, "W1[0,1]", "W2[1]")
    fig, ax = _figure(6.4, 5.4)
    slices.plot_slice(data, ax)
    _save(fig, dest / "kolen-pollack-slice.png")
    never = data.never.sum() / data.present.sum()
    print(f"  {never:.1%} of the slice never converged within {data.limit} epochs")


def range_figure(df, dest: Path) -> None:
    """Share not converged against the init range rho, one line per (lr, momentum)."""
    # learning rates as the paper gives them: on 1/2 sum of squares, half ours on the mean
    df = df.assign(paper=[f"lr {lr / 2:g}, momentum {m:g}" for lr, m in
                          zip(df["lr"], df["momentum"], strict=True)])
    table = analysis.convergence_table(df, by=["paper", "init_scale"])
    fig, ax = _figure()
    plots.plot_rate(table, "init_scale", ax, by="paper", failure=True)
    ax.set_xlabel("rho (initial weights uniform in +-rho)")
    ax.set_title("not converged within 10,000 epochs (right side of 0.5)", fontsize=10)
    _save(fig, dest / "kolen-pollack-range.png")
    fail = 1 - table.pivot(index="init_scale", columns="paper", values="rate")
    print("  share not converged (columns: paper's lr on 1/2 SSE, momentum)")
    print(fail.round(3).to_string())


def rate_figure(df, dest: Path, name: str, axis: str, by: str, title: str) -> None:
    """Convergence rate against one axis, one line per value of another."""
    table = analysis.convergence_table(df, by=[by, axis])
    fig, ax = _figure()
    plots.plot_rate(table, axis, ax, by=by)
    ax.set_title(title, fontsize=10)
    _save(fig, dest / f"{name}.png")
    print(table.pivot(index=axis, columns=by, values="rate").round(3).to_string())


def design_points(df: pd.DataFrame) -> pd.DataFrame:
    """One row per design point of a sampled run: its axes and its convergence rate."""
    ok = df.assign(ok=df["converged_epoch"] >= 0)
    return ok.groupby("point").agg(lr=("lr", "first"), momentum=("momentum", "first"),
                                   init_scale=("init_scale", "first"), rate=("ok", "mean"))


def effective_lr_table(df: pd.DataFrame) -> pd.DataFrame:
    """Convergence by effective learning rate lr / (1 - momentum) (binned) and momentum group."""
    effective = (df["lr"] / (1 - df["momentum"])).to_numpy()
    k = np.digitize(effective, EFFECTIVE_EDGES) - 1
    labels = [f"{a:g}-{b:g}" for a, b in itertools.pairwise(MOMENTUM_GROUPS)]
    binned = df.assign(lr_eff=np.sqrt(EFFECTIVE_EDGES[k] * EFFECTIVE_EDGES[k + 1]),
                       momentum=pd.cut(df["momentum"], MOMENTUM_GROUPS, labels=labels,
                                       include_lowest=True))
    table = analysis.convergence_table(binned, by=["momentum", "lr_eff"])
    return table[table["n"] >= 200]  # ~4 design points or more per bin


def sobol_figure(df, dest: Path) -> None:
    """The Sobol design over lr x momentum coloured by rate; rate against lr / (1 - momentum)."""
    points = design_points(df)
    fig = Figure(figsize=(11, 4.4), layout="constrained")
    left, right = fig.subplots(1, 2)
    dots = left.scatter(points["lr"], points["momentum"], c=points["rate"], s=12,
                        cmap="viridis", vmin=0, vmax=1)
    lr = np.geomspace(0.1, 30, 400)
    for c in (10, 100):  # dashed: constant effective learning rate
        m = 1 - lr / c
        keep = (m >= 0) & (m <= 0.95)
        left.plot(lr[keep], m[keep], "--", color="0.2", lw=1)
        left.annotate(f"{c}", (lr[keep][0], 0.95), xytext=(-3, 2), textcoords="offset points",
                      fontsize=8, ha="right", va="bottom")
    left.set_xscale("log")
    left.set_ylim(-0.03, 1.0)
    left.set(xlabel="learning rate", ylabel="momentum",
             title=f"{len(points):,} Sobol points x 50 networks; dashed: lr/(1-momentum) "
                   "= 10, 100")
    left.title.set_fontsize(10)
    fig.colorbar(dots, ax=left, label="convergence rate within 5,000 epochs")
    plots.plot_rate(effective_lr_table(df), "lr_eff", right, by="momentum")
    right.set_xlabel("effective learning rate lr / (1 - momentum), binned")
    right.set_title("below about 10 only lr / (1 - momentum) matters", fontsize=10)
    _save(fig, dest / "lr-momentum-sobol.png")
    ok = df["converged_epoch"] >= 0
    effective = df["lr"] / (1 - df["momentum"])
    print(f"  {ok.mean():.1%} converged overall")
    edges = [0.1, 0.3, 1, 3, 10, 30, 100, 1000]
    groups = pd.cut(effective, edges)
    by_m = pd.cut(df["momentum"], MOMENTUM_GROUPS, include_lowest=True)
    print("  rate and median epochs by lr / (1 - momentum) (rows) and momentum (columns)")
    print(ok.groupby([groups, by_m], observed=True).mean().unstack().round(3).to_string())
    epochs = df["converged_epoch"].where(ok)
    print(epochs.groupby([groups, by_m], observed=True).median().unstack().to_string())
    good = effective < 10
    print(f"  effective lr below 10: {ok[good].mean():.1%} of {good.sum():,} networks; by "
          "init_scale:")
    scale = pd.cut(df["init_scale"], [0.25, 0.5, 1, 2, 3, 4], include_lowest=True)
    print(ok[good].groupby(scale[good], observed=True).mean().round(3).to_string())
    print(df["outcome"][effective >= 30].value_counts(normalize=True).round(3).to_string())


def boundary_point(df, near) -> tuple[float, float]:
    """The centre of the finest-level boundary cell (corners converged and not) nearest ``near``."""
    lat = boundary.lattice(df)
    step = lat.steps[-1]
    finest = lat.level == len(lat.steps) - 1
    dx = (lat.x_range[1] - lat.x_range[0]) / (lat.nx - 1)
    dy = (lat.y_range[1] - lat.y_range[0]) / (lat.ny - 1)
    on = {(i, j): ok for i, j, ok in zip(lat.ix, lat.iy, lat.label, strict=True)}
    best, best_d = None, np.inf
    for i, j in zip(lat.ix[finest], lat.iy[finest], strict=True):
        corners = [on.get(c) for c in ((i, j), (i + step, j), (i, j + step),
                                       (i + step, j + step))]
        if None in corners or len(set(corners)) == 1:
            continue
        x, y = lat.x_range[0] + (i + step / 2) * dx, lat.y_range[0] + (j + step / 2) * dy
        d = (x - near[0]) ** 2 + (y - near[1]) ** 2
        if d < best_d:
            best, best_d = (x, y), d
    return best


def zoom_runs(root, out: str, jobs) -> list:
    """Zoom 10x, 100x and 1000x into the root slice, each box centred on a boundary cell.

    Each zoom is ``xorsweep zoom``'s spec (``sweeps.zoom_spec``) at ZOOM_RESOLUTION values a
    side, without the ``[refine]`` table it carries over from the root: a plain grid.
    """
    runs, parent, target = [root], root, ZOOM_TARGET
    width = 20.0  # the root slice's side in weight
    for zoom in ZOOMS:
        centre = boundary_point(parent.networks(), target)
        half = width / zoom / 2
        spec = sweeps.zoom_spec(parent.path, x=(centre[0] - half, centre[0] + half),
                                y=(centre[1] - half, centre[1] + half),
                                resolution=ZOOM_RESOLUTION)
        data = spec.to_dict()
        data.pop("refine", None)
        run = sweeps.run(data, out=out, jobs=jobs, progress=True)
        print(f"  zoom {zoom}x about ({centre[0]:.5g}, {centre[1]:.5g}): {run.path} (report "
              f"{write_report(run.path)})")
        runs.append(run)
        parent, target = run, centre
    return runs


def zoom_figure(runs, dest: Path) -> None:
    """The refined root slice, the 1000x zoom, and box counts at every scale."""
    frames = [analysis.load(r.path) for r in runs]
    table = analysis.zoom_dimensions(frames, names=["root"] + [f"{z}x" for z in ZOOMS])
    fig = Figure(figsize=(15, 4.6), layout="constrained")
    left, middle, right = fig.subplots(1, 3, width_ratios=[1, 1, 1.15])
    slices.plot_refined_slice(slices.refined_image(frames[0], max_side=800), left)
    left.set_title(f"refined slice: {len(frames[0]):,} networks, 5 levels; boxes: zooms",
                   fontsize=10)
    for (_, row), colour in zip(table.iloc[1:].iterrows(), plots.QUALITATIVE, strict=False):
        left.add_patch(Rectangle((row["x_low"], row["y_low"]), row["x_high"] - row["x_low"],
                                 row["y_high"] - row["y_low"], fill=False, ec=colour, lw=1.2))
    slices.plot_refined_slice(slices.refined_image(frames[-1], max_side=800), middle)
    wide = table["x_high"].iloc[-1] - table["x_low"].iloc[-1]
    middle.set_title(f"zoom {ZOOMS[-1]}x: a box {wide:.3g} wide, {len(frames[-1]):,} networks",
                     fontsize=10)
    boundary.plot_box_counts(table.attrs["fits"], right, labels=list(table["name"]),
                             root_units=True)
    right.set_title("boundary cells against cell size, each zoom in its box", fontsize=10)
    _save(fig, dest / "kolen-pollack-zoom.png")
    for name, f, zoom in zip(table["name"], frames, table["zoom"], strict=True):
        lat = boundary.lattice(f)
        uniform = ((lat.nx - 1) * zoom + 1) * ((lat.ny - 1) * zoom + 1)
        print(f"  {name}: {len(f):,} networks; a uniform grid over the root slice at its "
              f"finest resolution: {uniform:,.0f} ({uniform / len(f):,.0f}x)")
    cols = ["name", "zoom", "x_low", "x_high", "y_low", "y_high", "networks", "scales",
            "eps_min", "eps_max", "boundary", "estimate", "low", "high"]
    print(table[cols].to_string(float_format=lambda v: f"{v:.4g}"))
    for name, fit in zip(table["name"], table.attrs["fits"], strict=True):
        c = fit.counts
        print(f"  {name}: boundary cells per level {c['boundary'].tolist()}, known "
              f"{c['known'].tolist()}")


def main(argv: list[str] | None = None) -> None:
    """Run the studies, write their reports and the gallery PNGs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs", help="run directory parent (default: runs)")
    parser.add_argument("--dest", default="docs/gallery", help="where the PNGs go")
    parser.add_argument("--jobs", type=int, default=None, help="workers (default: every core)")
    args = parser.parse_args(argv)
    dest = Path(args.dest)
    dest.mkdir(parents=True, exist_ok=True)
    frames = {}
    for name in STUDIES:
        run = sweeps.run(name, out=args.out, jobs=args.jobs, progress=True)
        print(f"{name}: {run.path} (report {write_report(run.path)})")
        frames[name] = run.networks()
    print("kolen-pollack-slice")
    slice_figure(frames["kolen-pollack-slice"], dest)
    print("kolen-pollack-range")
    range_figure(frames["kolen-pollack-range"], dest)
    print("init-schemes")
    rate_figure(frames["init-schemes"], dest, "init-schemes", "init_scale", "init",
                "convergence rate by scheme and scale (sigmoid, bce, lr 1, 5,000 epochs)")
    print("hidden-width")
    rate_figure(frames["hidden-width"], dest, "hidden-width", "hidden", "lr",
                "convergence rate by hidden width (XOR, sigmoid, bce, 5,000 epochs)")
    print("parity")
    parity = frames["parity"]
    rate_figure(parity.assign(task=parity["task"].astype(str)), dest, "parity", "hidden",
                "task", "convergence rate by hidden width (sigmoid, bce, lr 2, 5,000 epochs)")
    print("lr-momentum-sobol")
    sobol_figure(frames["lr-momentum-sobol"], dest)
    print("kolen-pollack-zoom")
    root = sweeps.open_run(Path(args.out) / "kolen-pollack-zoom")
    zoom_figure(zoom_runs(root, args.out, args.jobs), dest)


if __name__ == "__main__":
    main()
