"""Report on a 10^6-network run: time and memory of ``write_report``.

Runs (once; it is reused) a sweep of 16 x 16 cells x 4,096 replicates = 1,048,576
XOR networks, 100 epochs, loss recorded every 2 epochs (51 records), then times the report
``--repeats`` times and measures the peak memory it allocates (tracemalloc,
which sees NumPy's and pandas' buffers) next to the size of the curves on disk
and in memory if they were all loaded at once.

    python benchmarks/bench_report.py [--out DIR] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc
from pathlib import Path

import sweeps
from analysis.report import write_report

SPEC = {"name": "report-1m", "epochs": 100, "replicates": 4096, "record_every": 2,
        "dtype": "float32",
        "grid": {"lr": {"logspace": [-1, 1.5, 16]}, "init_scale": {"linspace": [0.25, 4, 16]}}}


def main() -> None:
    """Run the benchmark and print its table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/runs"))
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    t0 = time.perf_counter()
    run = sweeps.run(SPEC, out=args.out)
    print(f"sweep: {sweeps.load_spec(SPEC).n_networks:,} networks ready in "
          f"{time.perf_counter() - t0:.1f} s ({run.path})")
    times = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        write_report(run.path)
        times.append(time.perf_counter() - t)
    tracemalloc.start()
    write_report(run.path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    n = sweeps.load_spec(SPEC).n_networks
    records = SPEC["epochs"] // SPEC["record_every"] + 1
    all_curves = n * records * 8
    print(f"report: median {statistics.median(times):.1f} s over {args.repeats} runs "
          f"(min {min(times):.1f}, max {max(times):.1f})")
    print(f"peak allocated while reporting: {peak / 2**20:.0f} MiB; all curves at once would "
          f"be {all_curves / 2**20:.0f} MiB (float64), the network table's needed columns "
          f"about {n * 17 * 8 / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
