"""The ``xorsweep`` command line: run, zoom, status, report, compare, specs, list, serve.

Exit status: 0 success, 2 usage or spec error (nothing written), 1 any other
failure (a damaged run directory or a full disk among them), 130 interrupted
(finished chunks are kept; the same command resumes), 141 the reader of the output
went away (``| head``), quietly.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
import warnings
from pathlib import Path

import kernels
from kernels import __version__


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``xorsweep`` command."""
    parser = argparse.ArgumentParser(
        prog="xorsweep",
        description="Train huge populations of tiny neural networks and study how they converge.")
    parser.add_argument("--version", action="version", version=f"xorsweep {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("run", help="run or resume a sweep")
    p.add_argument("spec", metavar="SPEC", help="a TOML spec file or a bundled spec's name")
    p.add_argument("--out", default="runs", help="parent directory of the run (default: runs)")
    _run_options(p)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="override a spec key, VALUE in TOML (repeatable): --set epochs=1000 "
                        "--set 'grid.lr=[0.5, 2.0]'; the run directory is still "
                        "OUT/<name>, so give a changed spec a new name with --set name=NEW")
    p.add_argument("--dry-run", action="store_true",
                   help="check and plan the run, print its networks, kernels, disk and "
                        "estimated time, and write nothing")

    p = sub.add_parser("zoom", help="run a slice again over a sub-box of its two axes "
                                    "(same base point, parent recorded)")
    p.add_argument("run_dir", metavar="RUN", help="the run directory of a slice (refined or not)")
    p.add_argument("--x", type=float, nargs=2, required=True, metavar=("LOW", "HIGH"),
                   help="the box on the slice's first axis, in its values")
    p.add_argument("--y", type=float, nargs=2, required=True, metavar=("LOW", "HIGH"),
                   help="the box on the slice's second axis")
    p.add_argument("--resolution", type=int, default=None, metavar="N",
                   help="values per axis (default: the parent's on its first axis)")
    p.add_argument("--name", default=None,
                   help="the new run's name (default: <root>-zoom<depth>)")
    p.add_argument("--out", default=None,
                   help="parent directory of the run (default: RUN's parent directory)")
    _run_options(p)
    p.add_argument("--dry-run", action="store_true",
                   help="check and plan the zoom's run and write nothing")

    p = sub.add_parser("status", help="describe a run directory")
    p.add_argument("run_dir", metavar="RUN_DIR",
                   help="a run directory (OUT/NAME of `xorsweep run`): its progress and state, "
                        "every finished part checked against its SHA-256")

    p = sub.add_parser("report", help="write a run's HTML report (RUN_DIR/report/index.html)")
    p.add_argument("run_dir", metavar="RUN_DIR",
                   help="a run directory (OUT/NAME of `xorsweep run`), complete or not")
    p.add_argument("--x", default=None, help="heatmap x axis (default: the axis with most values)")
    p.add_argument("--y", default=None, help="heatmap y axis (default: the next one)")
    p.add_argument("--metric", default="rate",
                   help="heatmap metric: rate (default), expected_epochs, epochs_median, "
                        "final_loss_median")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="write the report into DIR (default: RUN_DIR/report)")

    p = sub.add_parser("compare", help="compare two runs with the same seeds network by "
                                       "network: paired rates, interval and tests",
                       usage="xorsweep compare [-h] RUN_A RUN_B [--by AXIS [AXIS ...]] "
                             "[--csv PATH]")
    # optional here only so that `--by AXIS RUN_A RUN_B` parses: see _compare_runs
    p.add_argument("run_a", metavar="RUN_A", nargs="?", help="the first run directory (a)")
    p.add_argument("run_b", metavar="RUN_B", nargs="?",
                   help="the second run directory (b); diff = b - a")
    p.add_argument("--by", nargs="+", action="extend", default=[], metavar="AXIS",
                   help="compare within each value of these axes (default: one row, pooled)")
    p.add_argument("--csv", default=None, metavar="PATH",
                   help="write the table here (default: compare-A-vs-B.csv beside RUN_A)")

    sub.add_parser("specs", help="list the bundled specs")

    p = sub.add_parser("list", help="list the runs under a directory: state, size, progress")
    p.add_argument("dir", metavar="DIR", nargs="?", default="runs",
                   help="the --out of the runs (default: runs)")

    p = sub.add_parser("serve", help="browse the runs under a directory in a web browser: "
                                     "watch sweeps fill in, compare runs (read-only)")
    p.add_argument("dir", metavar="DIR", nargs="?", default="runs",
                   help="the --out of the runs (default: runs)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=_port, default=8000,
                   help="port to listen on (default: 8000; 0: a free one)")
    return parser


def _run_options(p: argparse.ArgumentParser) -> None:
    """Add the options of how a sweep runs (``run`` and ``zoom`` share them)."""
    p.add_argument("--jobs", type=int, default=None,
                   help="workers (default: every core this process may use)")
    p.add_argument("--backend", default="threads",
                   help="threads (default), loky or processes (worker processes), dask "
                        "(a dask.distributed cluster: "
                        "pip install 'xorsweep[dask]'), or a joblib backend that hands "
                        "back results as they finish")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="with --backend dask: the scheduler, e.g. tcp://10.0.0.5:8786 "
                        "(default: $XORSWEEP_SCHEDULER; with neither, a local cluster)")
    p.add_argument("--chunk-size", type=int, default=None, help="networks per chunk")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                   help="train on the CPU (default) or an NVIDIA GPU "
                        "(pip install 'xorsweep[cuda]')")
    p.add_argument("--force", action="store_true",
                   help="start over, whatever the run directory holds (another spec's "
                        "run, a damaged manifest)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _port(text: str) -> int:
    """Parse a TCP port number, 0 .. 65535 (argparse's ``type``)."""
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0 .. 65535)")
    return port


def cmd_run(args) -> int:
    """Run or resume a sweep."""
    import sweeps

    spec = sweeps.load_spec(args.spec, overrides=args.overrides)
    if args.dry_run:
        return _dry_run(spec, args)
    words = ["xorsweep", "run", args.spec, "--out", args.out]
    for override in args.overrides:
        words += ["--set", override]
    return _run_spec(spec, args, words)


def cmd_zoom(args) -> int:
    """Zoom into a run's slice: make the spec of a sub-box (:func:`sweeps.zoom_spec`), run it.

    The run directory is ``OUT/<name>`` (OUT: RUN's parent by default).  A missing
    RUN, one that is not a slice over two axes, or a box that is empty or outside
    the parent's range is one line and exit 2, nothing written.
    """
    import sweeps

    spec = sweeps.zoom_spec(args.run_dir, x=tuple(args.x), y=tuple(args.y),
                            resolution=args.resolution, name=args.name)
    args.out = args.out or str(Path(args.run_dir).parent)
    if args.dry_run:
        return _dry_run(spec, args)
    words = ["xorsweep", "zoom", args.run_dir, "--x", *map(repr, args.x), "--y",
             *map(repr, args.y), "--out", args.out, "--name", spec.name]
    if args.resolution is not None:
        words += ["--resolution", str(args.resolution)]
    return _run_spec(spec, args, words)


def _run_spec(spec, args, words: list[str]) -> int:
    """Run or resume ``spec`` with the run options of ``args``; ``words``: the command so far."""
    import sweeps

    progress = not args.quiet and sys.stdout.isatty() and sys.stderr.isatty()
    # joblib reports the chunks it cancels on Ctrl-C; they are simply computed on resume
    warnings.filterwarnings("ignore", message=".*tasks which were still being processed")
    cores = sweeps.plan.cores()
    if args.jobs is not None and args.jobs > cores and not args.scheduler:
        print(f"note: --jobs {args.jobs} is more than the {cores} core{'s' * (cores > 1)} this "
              f"process may use; the results are the same, the run no faster than with "
              f"--jobs {cores}", file=sys.stderr)
    t0 = time.perf_counter()
    try:
        run = sweeps.run(spec, out=args.out, jobs=args.jobs, backend=args.backend,
                         chunk_size=args.chunk_size, force=args.force, progress=progress,
                         scheduler=args.scheduler, device=args.device,
                         say=lambda line: print(line, flush=True))
    except KeyboardInterrupt:
        if args.backend != "threads":
            words += ["--backend", args.backend]
        if args.scheduler:
            words += ["--scheduler", args.scheduler]
        if args.device != "cpu":
            words += ["--device", args.device]
        again = " ".join(shlex.quote(a) for a in words)
        print(f"interrupted; finished chunks are kept in {Path(args.out) / spec.name}. "
              f"Resume with: {again}", file=sys.stderr)
        return 130
    seconds = time.perf_counter() - t0
    n, done = run.manifest["n_networks"], run.session
    size = f"{n:,} networks x {spec.epochs:,} epochs"
    if spec.refine is not None:
        per_level = " + ".join(f"{b - a:,}" for a, b in
                               (r["networks"] for r in run.manifest["refine"]["decided"]))
        size = (f"{n:,} networks (levels 0-{spec.refine.levels}: {per_level}) x "
                f"{spec.epochs:,} epochs")
    if done is not None and done.trained == 0:
        print(f"{spec.name}: already complete ({size}); results in {run.path}")
        return 0
    times = "" if done is None else (f" ({TIME_WORDS['compile_s']} {done.compile_s:.1f} s, "
                                     f"{_training(done.training_s, done.workers)})")
    print(f"{spec.name}: {size} done; {TIME_WORDS['wall_s']} {seconds:.1f} s{times}; "
          f"results in {run.path}")
    return 0


#: The words for a run's times, the same in ``run``, ``status`` and the report:
#: the whole command, the kernels compiled before training, the training phase.
TIME_WORDS = {"wall_s": "wall time", "compile_s": "compiling", "elapsed_s": "training"}


def _training(seconds: float, workers: int) -> str:
    return f"{TIME_WORDS['elapsed_s']} {seconds:.1f} s on {workers} worker{'s' * (workers != 1)}"


def _duration(seconds: float) -> str:
    """Return ``seconds`` rounded for a person: 0.4 s, 42 s, 3 min 20 s, 2 h 5 min."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        m, s = divmod(round(seconds), 60)
        return f"{m} min {s} s"
    h, m = divmod(round(seconds / 60), 60)
    return f"{h} h {m} min"


def _size(n: float) -> str:
    """Return a byte count in kB, MB or GB (powers of 1,000)."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n:.0f} B"


def _dry_run(spec, args) -> int:
    """Print what ``xorsweep run`` would do with these arguments; write nothing."""
    import math
    import re

    import sweeps

    est, state = sweeps.dry_run(spec, out=args.out, jobs=args.jobs, backend=args.backend,
                                chunk_size=args.chunk_size, force=args.force,
                                scheduler=args.scheduler, device=args.device)
    cached = est.n_cached
    print(f"{spec.name}: dry run, nothing written")
    print(f"cells            {est.n_cells:,}")
    if spec.sample is not None:  # cells: each grid combination at every design point
        k = est.n_cells // spec.sample.n
        print(f"design           {spec.sample.method}, {spec.sample.n:,} points over "
              f"{', '.join(spec.sample.axes)} (x {k:,} grid cell{'s' * (k != 1)})")
    if spec.refine is not None:  # the estimate is level 0's; later levels follow the results
        r = spec.refine
        most = est.n_networks // math.prod(len(spec.grid[a]) for a in r.axes) * math.prod(
            r.finest) - est.n_networks
        print(f"refine           {r.levels} level{'s' * (r.levels > 1)} by {r.factor} over "
              f"{r.axes[0]} x {r.axes[1]} (finest grid {r.finest[0]:,} x {r.finest[1]:,}); "
              "the counts and times below are level 0's")
        print(f"refined levels   depend on the results: at most {most:,} networks more "
              "(every cell refined)")
    print(f"networks         {est.n_networks:,}")
    print(f"network-epochs   {est.network_epochs:,} ({est.n_networks:,} networks x "
          f"{spec.epochs:,} epochs)")
    print(f"chunks           {est.n_chunks:,} to train")
    print(f"kernels          {len(est.kernels)} needed, {cached} cached"
          + ("" if cached == len(est.kernels) else f", {len(est.kernels) - cached} to compile"))
    for k in est.kernels[:12]:
        print(f"  {'cached  ' if k.cached else 'compile '} {re.sub(r'_[0-9a-f]{16}$', '', k.name)}")
    if len(est.kernels) > 12:
        print(f"  ... and {len(est.kernels) - 12} more")
    print(f"disk             about {_size(est.disk_bytes)} (estimated from the Parquet size "
          "of the run's columns)")
    if est.train_s is None:
        print(f"time             not estimated ({est.method})")
    else:
        print(f"time             estimated {_duration(est.train_s)} of training ({est.method})")
    if est.compile_s:
        todo = len(est.kernels) - cached
        print(f"compiling        about {_duration(est.compile_s)} more for {todo} "
              f"kernel{'s' * (todo != 1)} (documented compile times, not measured)")
    print(f"run directory    {state}")
    return 0


def cmd_status(args) -> int:
    """Describe a run directory and check every finished part against its manifest.

    Exit status 0 for an intact run, complete or not; 1 (a :class:`StoreError`)
    when the manifest is damaged, or when a finished part is damaged or missing:
    those parts are listed, and the error line gives the command that recomputes
    them.  Needs no kernels.
    """
    from sweeps.store import (
        StoreError,
        finish_advice,
        levels_text,
        lock_held,
        open_run,
        run_numerics,
    )

    run = open_run(args.run_dir)
    m = run.manifest
    chunks = m["chunks"]
    done = run.done
    nets_done = sum(chunks[i][1] - chunks[i][0] for i in done)
    nets_total = m["n_networks"]
    rate = nets_done * m["epochs"] / m["elapsed_s"] if m["elapsed_s"] else 0.0
    workers = m.get("workers") if isinstance(m.get("workers"), int) else None
    bad = run.verify()
    try:
        run.spec_text()
        edited = None
    except StoreError as exc:
        edited = exc
    print(f"run        {run.path}  ({m['name']})")
    print(f"chunks     {len(done)} of {len(chunks)} done, {len(chunks) - len(done)} to run")
    print(f"networks   {nets_done:,} of {nets_total:,}")
    if "refine" in m:  # a refined run: levels decided so far, and their networks
        decided = m["refine"]["decided"]
        per_level = ", ".join(f"{r['networks'][1] - r['networks'][0]:,}" for r in decided)
        print(f"levels     {levels_text(m)}; networks per level: {per_level}")
    for key in ("wall_s", "compile_s"):  # (not in the manifests of older runs)
        if isinstance(m.get(key), int | float):
            print(f"{TIME_WORDS[key]:11s}{m[key]:.1f} s")
    on = f" on {workers} worker{'s' * (workers != 1)}" if workers else ""
    print(f"{TIME_WORDS['elapsed_s']:11s}{m['elapsed_s']:.1f} s{on}  "
          f"({rate / 1e6:.1f} M network-epochs/s)")
    for part in bad["damaged"]:
        print(f"damaged    {part}  (its SHA-256 does not match the manifest)")
    for part in bad["missing"]:
        print(f"missing    {part}")
    if edited is not None:
        print("edited     spec.toml  (not the file the manifest records)")
    elif run.spec_text() is None:
        print("missing    spec.toml  (resuming needs SPEC, the spec file the run was made "
              "from)")
    numerics = run_numerics(m)
    if numerics != kernels.NUMERICS:
        print(f"numerics   {numerics}  (this xorsweep computes in {kernels.NUMERICS}: it "
              "reads the run, and trains none of it)")
    n_bad = len(bad["damaged"]) + len(bad["missing"])
    again = finish_advice(run.path, m, kernels.NUMERICS)
    if n_bad:
        print(f"state      damaged: {n_bad} part{'s' if n_bad > 1 else ''} to compute again")
        sys.stdout.flush()
        raise StoreError(f"{run.path} has {len(bad['damaged'])} damaged and "
                         f"{len(bad['missing'])} missing parts; "
                         + (f"run {again} to recompute them" if numerics == kernels.NUMERICS
                            else f"recompute them with {again}"))
    if edited is not None:
        print("state      damaged: its spec.toml was changed")
        sys.stdout.flush()
        raise edited
    if run.complete:
        print("state      complete")
    elif lock_held(run.path):
        print("state      running: `xorsweep status` again to follow it")
    else:
        print(f"state      incomplete: resume with {again}")
    return 0


def cmd_report(args) -> int:
    """Write a run's report and say where it is; a damaged run is refused (exit 1)."""
    from analysis.report import write_report

    path = write_report(args.run_dir, x=args.x, y=args.y, metric=args.metric, out=args.out)
    print(f"report written: {path}  (open it in a browser; figures and summary.csv beside it)")
    return 0


def _compare_runs(args) -> tuple[Path, Path]:
    """Return RUN_A and RUN_B; ``--by`` takes every word after it, so take them back from it.

    ``--by lr RUN_A RUN_B`` gives ``by = [lr, RUN_A, RUN_B]`` and no runs: the last
    words of ``--by`` stand for the run directories missing.
    """
    from analysis.compare import CompareError

    runs = [r for r in (args.run_a, args.run_b) if r is not None]
    missing = 2 - len(runs)
    if missing and len(args.by) > missing:
        runs += args.by[-missing:]
        args.by = args.by[:-missing]
    if len(runs) < 2:
        raise CompareError("compare needs two run directories: xorsweep compare RUN_A RUN_B "
                           "[--by AXIS ...]")
    return Path(runs[0]), Path(runs[1])


def cmd_compare(args) -> int:
    """Compare two runs pair by pair; print the table and write it as CSV.

    Networks pair by seed and by every grid axis whose values the runs share
    (:func:`analysis.compare_runs`).  The CSV goes to ``--csv PATH``, by default
    ``compare-<A>-vs-<B>.csv`` in RUN_A's parent directory (``runs/`` for
    ``runs/A``).  A missing run, an unknown ``--by`` axis or runs with nothing to
    pair (different seeds) are one line and exit 2, a damaged run exit 1; nothing is
    written then.
    """
    from analysis.compare import CompareError, compare_runs
    from analysis.tables import load
    from sweeps.store import atomic_write

    a, b = _compare_runs(args)
    df_a, df_b = load(a), load(b)
    table = compare_runs(df_a, df_b, by=args.by)
    a_dir, b_dir = a.resolve(), b.resolve()
    out = Path(args.csv) if args.csv else a_dir.parent / f"compare-{a_dir.name}-vs-{b_dir.name}.csv"
    if out.is_dir():
        raise CompareError(f"--csv {out} is a directory; give a file name, e.g. "
                           f"{out / 'compare.csv'}")
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out, table.to_csv(index=False).encode())  # a path refused: before the table
    n_pairs = int(table["n_pairs"].sum())
    left_a, left_b = table.attrs["unpaired"]
    print(f"a: {a} ({len(df_a):,} networks)    b: {b} ({len(df_b):,} networks)")
    differs = table.attrs["differs"]
    on = [x for x in table.attrs["paired_on"]  # seed, and the axes that vary
          if x == "seed" or (x in df_a and df_a[x].nunique() > 1)]
    changes = _spec_changes(a, b)
    print(f"paired on {', '.join(on)}: {n_pairs:,} pairs "
          f"(unpaired: {left_a:,} of a, {left_b:,} of b)"
          + (f"; the runs differ in {', '.join(differs)}" if differs and not changes else ""))
    if changes:
        print(f"b's spec differs from a's: {changes}")
    _print_rows(_compare_rows(table, list(args.by)))
    print("b - a: Newcombe's paired score interval (95%); p: exact McNemar test; epochs: "
          "median of b - a over pairs converged in both, Wilcoxon signed-rank p")
    shown = os.path.relpath(out) if not os.path.relpath(out).startswith("..") else out
    print(f"written: {shown}")
    return 0


def _spec_changes(a: Path, b: Path) -> str:
    """Return how run b's frozen spec differs from run a's (name and description aside).

    Settings that are no column of the tables (``dtype``, ``criterion``) differ here
    too.  Empty where the specs agree or one cannot be read as a spec.
    """
    import tomllib

    from sweeps import load_spec
    from sweeps.overrides import describe_changes
    from sweeps.spec import SpecError
    from sweeps.store import open_run

    try:
        a_spec, b_spec = (load_spec(tomllib.loads(open_run(d).spec_text() or "")).to_dict()
                          for d in (a, b))
    except (SpecError, tomllib.TOMLDecodeError, OSError):
        return ""
    return describe_changes(a_spec, b_spec, limit=4)


def _compare_rows(table, by: list[str]) -> list[tuple[str, ...]]:
    """Return the rows of a comparison as text: a header, then one row per group."""
    from analysis.plots import format_value

    def pct(v):
        return "-" if v != v else f"{v:.1%}"

    def num(v, spec):
        return "-" if v != v else format(v, spec)

    rows = [(*by, "pairs", "a rate", "b rate", "b - a [95% interval]", "p", "a only", "b only",
             "epochs b - a", "p (epochs)")]
    for _, r in table.iterrows():
        keys = tuple(f"{format_value(r[f'{x}_low'])}-{format_value(r[f'{x}_high'])}"
                     if f"{x}_low" in table else format_value(r[x]) for x in by)
        diff = ("-" if r["diff"] != r["diff"] else
                f"{100 * r['diff']:+.1f} [{100 * r['diff_low']:+.1f}, "
                f"{100 * r['diff_high']:+.1f}] pts")
        rows.append((*keys, f"{int(r['n_pairs']):,}", pct(r["a_rate"]), pct(r["b_rate"]), diff,
                     num(r["p_value"], ".3g"), f"{int(r['a_only']):,}", f"{int(r['b_only']):,}",
                     num(r["epochs_diff_median"], "+,.1f"), num(r["epochs_p_value"], ".3g")))
    return rows


def _print_rows(rows: list[tuple[str, ...]]) -> None:
    """Print rows as columns: text left, the rest right-aligned."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def cmd_specs(args) -> int:
    """List the bundled specs: size, estimated time, and the description wrapped to the terminal.

    The time is :func:`sweeps.estimate.estimate` without calibration (the documented
    kernel speeds, all cores, plus compiling the kernels not cached), so that the
    list comes at once; ``run SPEC --dry-run`` measures this machine.
    """
    import shutil
    import textwrap

    import sweeps
    from sweeps import estimate, plan

    columns = max(shutil.get_terminal_size().columns, 40)
    bundled = sorted(sweeps.bundled_specs().items())
    width = max(len(name) for name, _ in bundled)
    jobs = plan.cores()
    print(f"{'spec':{width}s}  {'networks':>9s}  {'network-epochs':>14s}  estimated time "
          f"({jobs} core{'s' * (jobs > 1)})")
    refined = False
    for name, path in bundled:
        spec = sweeps.load_spec(path)
        est = estimate.estimate(spec, jobs=jobs, chunk_size=plan.default_chunk_size(spec, jobs),
                                calibrate=False)
        when = _duration(est.train_s) + (f" + {_duration(est.compile_s)} compiling"
                                         if est.compile_s else "")
        plus = "+" if spec.refine is not None else ""  # level 0; the boundary decides the rest
        refined = refined or bool(plus)
        print(f"{name:{width}s}  {f'{spec.n_networks:,}{plus}':>9s}  "
              f"{_count(est.network_epochs) + plus:>14s}  {when}{' (level 0)' * bool(plus)}")
        for line in textwrap.wrap(spec.description, columns - 4):
            print(f"    {line}")
    print(textwrap.fill("Times use the documented kernel speeds; `xorsweep run SPEC --dry-run` "
                        "measures them on this machine."
                        + (" +: a refined spec's grid (level 0); the levels it refines add "
                           "networks, as many as its convergence boundary needs."
                           if refined else ""), columns))
    return 0


def cmd_list(args) -> int:
    """List the runs directly under a directory, one line each, oldest first.

    State: ``complete``, ``N% done`` (of the networks; ``, running`` while a sweep
    holds the run), or ``damaged`` (a manifest that cannot be read, a done chunk's part
    missing or of the wrong size, or an edited ``spec.toml``).  Parts are not hashed,
    so the list stays quick for big runs; ``xorsweep status RUN_DIR`` checks every byte.
    """
    import datetime

    from sweeps import catalog
    from sweeps.store import lock_held

    runs = catalog.list_runs(args.dir)
    if not runs:
        print(f"no runs in {args.dir}")
        return 0
    rows = [("name", "state", "networks", "epochs", "created", "size")]
    for r in runs:
        created = ("-" if r.created is None else
                   datetime.datetime.fromtimestamp(r.created).strftime("%Y-%m-%d %H:%M"))
        running = r.state not in ("complete", "damaged") and lock_held(r.path)
        state = r.state + (", running" if running else "")
        rows.append((r.name, state, "-" if r.n_networks is None else f"{r.n_networks:,}",
                     "-" if r.epochs is None else f"{r.epochs:,}", created, _size(r.size)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    right = {2, 3, 5}  # numbers
    for row in rows:
        print("  ".join(f"{c:>{w}s}" if i in right else f"{c:{w}s}"
                        for i, (c, w) in enumerate(zip(row, widths, strict=True))).rstrip())
    return 0


def cmd_serve(args) -> int:
    """Serve the runs under a directory as a local web app until Ctrl-C (exit 0).

    The directory must exist (else a :class:`RunError`, exit 2); a port in use or
    an address that is not this machine's is one line and exit 1.  Serving on an
    address other than loopback warns in one line: anyone who reaches it can read
    every run.
    """
    from sweeps import catalog
    from xorsweep import server

    catalog.list_runs(args.dir)  # the directory exists and is one (RunError otherwise)
    loopback = server.is_loopback(args.host)
    app = server.create_app(args.dir, hosts=server.LOOPBACK_HOSTS if loopback else None)
    try:
        sock = server.bind(args.host, args.port)
    except server.ServeError as exc:
        print(f"xorsweep: error: {exc}", file=sys.stderr)
        return 1
    host, port = sock.getsockname()[:2]
    try:
        with server.sigterm_interrupts():  # SIGTERM stops it as Ctrl-C does
            if not loopback:
                print(f"xorsweep: warning: serving on {args.host}, not loopback: anyone who "
                      f"can reach this machine can read every run under {args.dir}",
                      file=sys.stderr)
            shown = f"[{host}]" if ":" in host else host
            print(f"serving the runs under {args.dir} at http://{shown}:{port}/ (read-only; "
                  "Ctrl-C to stop)", flush=True)
            server.run(app, sock)
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    print("stopped", flush=True)
    return 0


def _count(n: int) -> str:
    """Return a large count in thousands, millions or billions: 26.4 M."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n:,}"


def _format_warning(message, category, filename, lineno, line=None) -> str:
    """Show xorsweep's own warnings as their one line; others as Python does."""
    if str(message).startswith("xorsweep: "):
        return f"{message}\n"
    return _python_format_warning(message, category, filename, lineno, line)


_python_format_warning = warnings.formatwarning


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status.

    A reader of the output that goes away (``xorsweep list | head``) ends the command
    quietly with status 141, as a Unix tool killed by SIGPIPE; a run stopped so keeps
    its finished chunks, as on Ctrl-C.  Ctrl-C is one line and status 130 (a run's
    line says how to resume it); every file is written whole or not at all, so it
    leaves nothing half-written.
    """
    try:
        status = _main(argv)
        sys.stdout.flush()  # here, where a closed pipe can be caught
        return status
    except KeyboardInterrupt:
        print("xorsweep: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the interpreter flushes stdout at exit: into nothing now, not a closed pipe
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 141


def _main(argv: list[str] | None) -> int:
    warnings.formatwarning = _format_warning
    parser = build_parser()
    try:
        args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as exc:  # argparse exits on --help, --version and usage errors
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help()
        return 0
    from analysis.compare import CompareError
    from analysis.report import ReportError
    from kernels.training import CudaUnavailableError
    from sweeps.cluster import ClusterError
    from sweeps.spec import SpecError
    from sweeps.store import RunError, StoreError

    try:
        commands = {"run": cmd_run, "zoom": cmd_zoom, "status": cmd_status, "report": cmd_report,
                    "specs": cmd_specs, "list": cmd_list, "compare": cmd_compare,
                    "serve": cmd_serve}
        return commands[args.command](args)
    except ClusterError as exc:  # a failure of the environment, not of the command line
        if args.debug:
            raise
        print(f"xorsweep: error: {exc}", file=sys.stderr)
        return 1
    except CudaUnavailableError as exc:  # no GPU here; the line names the flag, not the keyword
        if args.debug:
            raise
        print(f"xorsweep: error: {exc.message('--device cuda', '--device cpu')}", file=sys.stderr)
        return 1
    except StoreError as exc:  # damaged data or a full disk, not a usage error
        if args.debug:
            raise
        print(f"xorsweep: error: {exc}", file=sys.stderr)
        return 1
    except (SpecError, RunError, ReportError, CompareError) as exc:
        if args.debug:
            raise
        print(f"xorsweep: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        raise  # see main
    except OSError as exc:  # the file system refused: a read-only folder, a file in the way
        if args.debug:
            raise
        where = Path(exc.filename) if exc.filename else None
        if where is not None and where.name.startswith(".") and ".tmp-" in where.name:
            where = where.parent  # a write's temporary file: the folder is what refused
        hint = "check the path and its permissions"
        for command, option, into, way in (
                ("report", "out", getattr(args, "run_dir", None), "write the report elsewhere "
                                                                  "with --out DIR"),
                ("compare", "csv", None, "write the table elsewhere with --csv PATH"),
                ("run", "out", None, "give another --out DIR")):
            base = getattr(args, option, None) or into  # where the command writes
            if args.command == command and where is not None and base is not None and (
                    Path(os.path.abspath(where)).is_relative_to(os.path.abspath(base))
                    or Path(os.path.abspath(base)).is_relative_to(os.path.abspath(where))):
                hint = way
        print(f"xorsweep: error: {exc.strerror or exc}"
              + (f": {where}" if where is not None else "") + f"; {hint}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - one line for the user, traceback with --debug
        if args.debug:
            raise
        print(f"xorsweep: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
