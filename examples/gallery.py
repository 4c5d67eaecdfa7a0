"""Run the bundled studies and draw the README gallery.

    python examples/gallery.py [--out runs] [--dest docs/gallery] [--jobs N]

Runs (or resumes) kolen-pollack-slice, kolen-pollack-range, init-schemes,
hidden-width and parity into ``--out``, writes each study's HTML report, saves
one small PNG per study into ``--dest`` and prints the figures the README quotes.
A first run on 2 cores takes a few minutes, most of it compiling the parity
kernels (one per task and hidden width); the cache makes later runs fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from matplotlib.figure import Figure

import analysis
import sweeps
from analysis import plots, slices
from analysis.report import write_report

STUDIES = ("kolen-pollack-slice", "kolen-pollack-range", "init-schemes", "hidden-width",
           "parity")
DPI = 100


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


if __name__ == "__main__":
    main()
