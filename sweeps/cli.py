"""The ``xorsweep`` command line: ``run``, ``status``, ``report``, ``specs``.

Exit status: 0 success, 2 usage or spec error (nothing written), 1 any other
failure (a damaged run directory or a full disk among them), 130 interrupted
(finished chunks are kept; the same command resumes).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
import warnings
from pathlib import Path

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
    p.add_argument("--jobs", type=int, default=None, help="workers (default: all cores)")
    p.add_argument("--backend", default="threads",
                   help="threads (default), loky, dask (a dask.distributed cluster: "
                        "pip install 'xorsweep[dask]'), or any joblib backend")
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

    p = sub.add_parser("status", help="describe a run directory")
    p.add_argument("run_dir", metavar="RUN_DIR")

    p = sub.add_parser("report", help="write a run's HTML report (RUN_DIR/report/index.html)")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--x", default=None, help="heatmap x axis (default: the axis with most values)")
    p.add_argument("--y", default=None, help="heatmap y axis (default: the next one)")
    p.add_argument("--metric", default="rate",
                   help="heatmap metric: rate (default), expected_epochs, epochs_median, "
                        "final_loss_median")

    sub.add_parser("specs", help="list the bundled specs")
    return parser


def cmd_run(args) -> int:
    """Run or resume a sweep."""
    import sweeps

    spec = sweeps.load_spec(args.spec)
    progress = not args.quiet and sys.stdout.isatty() and sys.stderr.isatty()
    # joblib reports the chunks it cancels on Ctrl-C; they are simply computed on resume
    warnings.filterwarnings("ignore", message=".*tasks which were still being processed")
    t0 = time.perf_counter()
    try:
        run = sweeps.run(spec, out=args.out, jobs=args.jobs, backend=args.backend,
                         chunk_size=args.chunk_size, force=args.force, progress=progress,
                         scheduler=args.scheduler, device=args.device)
    except KeyboardInterrupt:
        words = ["xorsweep", "run", args.spec, "--out", args.out]
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
    n = spec.n_networks
    print(f"{spec.name}: {n:,} networks x {spec.epochs:,} epochs done in {seconds:.1f} s; "
          f"results in {run.path}")
    return 0


def cmd_status(args) -> int:
    """Describe a run directory and check every finished part against its manifest.

    Exit status 0 for an intact run, complete or not; 1 (a :class:`StoreError`)
    when the manifest is damaged, or when a finished part is damaged or missing:
    those parts are listed, and the error line gives the command that recomputes
    them.  Needs no kernels.
    """
    from sweeps.store import StoreError, open_run, resume_command

    run = open_run(args.run_dir)
    m = run.manifest
    chunks = m["chunks"]
    done = run.done
    nets_done = sum(chunks[i][1] - chunks[i][0] for i in done)
    nets_total = m["n_networks"]
    rate = nets_done * m["epochs"] / m["elapsed_s"] if m["elapsed_s"] else 0.0
    bad = run.verify()
    print(f"run        {run.path}  ({m['name']})")
    print(f"chunks     {len(done)} of {len(chunks)} done, {len(chunks) - len(done)} to run")
    print(f"networks   {nets_done:,} of {nets_total:,}")
    print(f"elapsed    {m['elapsed_s']:.1f} s  ({rate / 1e6:.1f} M network-epochs/s)")
    for part in bad["damaged"]:
        print(f"damaged    {part}  (its SHA-256 does not match the manifest)")
    for part in bad["missing"]:
        print(f"missing    {part}")
    n_bad = len(bad["damaged"]) + len(bad["missing"])
    if n_bad:
        print(f"state      damaged: {n_bad} part{'s' if n_bad > 1 else ''} to compute again")
        sys.stdout.flush()
        raise StoreError(f"{run.path} has {len(bad['damaged'])} damaged and "
                         f"{len(bad['missing'])} missing parts; run "
                         f"`{resume_command(run.path)}` to recompute them")
    print(f"state      {'complete' if run.complete else 'incomplete: rerun the same command'}")
    return 0


def cmd_report(args) -> int:
    """Write a run's report and say where it is; a damaged run is refused (exit 1)."""
    from analysis.report import write_report

    path = write_report(args.run_dir, x=args.x, y=args.y, metric=args.metric)
    print(f"report written: {path}  (open it in a browser; figures and summary.csv beside it)")
    return 0


def cmd_specs(args) -> int:
    """List the bundled specs."""
    import sweeps

    bundled = sorted(sweeps.bundled_specs().items())
    width = max(len(name) for name, _ in bundled)
    for name, path in bundled:
        spec = sweeps.load_spec(path)
        print(f"{name:{width}s} {spec.n_networks:>9,} networks  {spec.description}")
    return 0


def _format_warning(message, category, filename, lineno, line=None) -> str:
    """Show xorsweep's own warnings as their one line; others as Python does."""
    if str(message).startswith("xorsweep: "):
        return f"{message}\n"
    return _python_format_warning(message, category, filename, lineno, line)


_python_format_warning = warnings.formatwarning


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    warnings.formatwarning = _format_warning
    parser = build_parser()
    try:
        args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as exc:  # argparse exits on --help, --version and usage errors
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help()
        return 0
    from analysis.report import ReportError
    from sweeps.cluster import ClusterError
    from sweeps.spec import SpecError
    from sweeps.store import RunError, StoreError

    try:
        commands = {"run": cmd_run, "status": cmd_status, "report": cmd_report,
                    "specs": cmd_specs}
        return commands[args.command](args)
    except ClusterError as exc:  # a failure of the environment, not of the command line
        if args.debug:
            raise
        print(f"xorsweep: error: {exc}", file=sys.stderr)
        return 1
    except StoreError as exc:  # damaged data or a full disk, not a usage error
        if args.debug:
            raise
        print(f"xorsweep: error: {exc}", file=sys.stderr)
        return 1
    except (SpecError, RunError, ReportError) as exc:
        if args.debug:
            raise
        print(f"xorsweep: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - one line for the user, traceback with --debug
        if args.debug:
            raise
        print(f"xorsweep: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
