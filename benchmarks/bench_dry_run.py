"""How good `xorsweep run --dry-run` is: its estimates against real runs of the same specs.

Each spec is planned with ``sweeps.dry_run`` and then run for real with ``sweeps.run``,
in a fresh process of its own (so that nothing is loaded beforehand), on the
configured kernel cache, or with ``--cold`` on an empty one (compile estimates are
then put to the test, training estimates fall back to the documented rate).  Prints
estimated and actual training time, compile time and disk, and their ratios
(estimate / actual); nothing is asserted.

    python benchmarks/bench_dry_run.py [--cold] [--jobs N] [SPEC ...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

#: Bundled specs and a tiny one (a dict), by default.
DEFAULT = ["quickstart", "hidden-width", "activations", "tiny"]
TINY = {"name": "tiny", "epochs": 500, "replicates": 50, "grid": {"lr": [0.5, 1.0, 2.0]}}


def one(name: str, jobs: int | None) -> dict:
    """Plan and run one spec in this process; return the figures."""
    import sweeps

    spec = TINY if name == "tiny" else name
    with tempfile.TemporaryDirectory() as out:
        est, _ = sweeps.dry_run(spec, out=out, jobs=jobs)
        run = sweeps.run(spec, out=out, jobs=jobs)
        disk = sum(p.stat().st_size for p in Path(run.path).rglob("*") if p.is_file())
        s = run.session
        return {"spec": est.name, "train_est": est.train_s, "train": s.training_s,
                "compile_est": est.compile_s, "compile": s.compile_s, "wall": s.wall_s,
                "disk_est": est.disk_bytes, "disk": disk, "method": est.method}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("specs", nargs="*", default=DEFAULT)
    ap.add_argument("--cold", action="store_true", help="an empty kernel cache per spec")
    ap.add_argument("--jobs", type=int, default=None)
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(one(args.one, args.jobs)))
        return 0
    print(f"{'spec':14s} {'train est/actual (s)':>22s} {'ratio':>6s} "
          f"{'compile est/actual (s)':>24s} {'ratio':>6s} {'disk est/actual (MB)':>22s} "
          f"{'ratio':>6s}")
    for name in args.specs:
        env = dict(os.environ)
        with tempfile.TemporaryDirectory() as cache:
            if args.cold:
                env["XORSWEEP_CACHE_DIR"] = cache
            cmd = [sys.executable, __file__, "--one", name]
            cmd += ["--jobs", str(args.jobs)] if args.jobs else []
            r = json.loads(subprocess.run(cmd, env=env, capture_output=True, text=True,
                                          check=True).stdout.splitlines()[-1])

        def ratio(a, b):
            return f"{a / b:6.2f}" if b else "     -"

        print(f"{r['spec']:14s} {r['train_est']:10.2f} / {r['train']:9.2f} "
              f"{ratio(r['train_est'], r['train'])} {r['compile_est']:11.1f} / "
              f"{r['compile']:10.1f} {ratio(r['compile_est'], r['compile'])} "
              f"{r['disk_est'] / 1e6:10.2f} / {r['disk'] / 1e6:9.2f} "
              f"{ratio(r['disk_est'], r['disk'])}")
        print(f"{'':14s} ({r['method']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
