"""Overhead of the sweep service: `sweeps.run` on 10^6 networks against the bare kernel.

Both train the same 10^6 XOR networks (10 learning rates x 10 init scales x
10,000 replicates) for the same epochs with the same loss recording; the sweep
also expands the spec, dispatches chunks through joblib and writes the Parquet
store.  Reports network-epochs/s of each and their ratio (the median of the
per-run ratios; kernel and sweep alternate, the order swapped every run), in wall
time and in CPU time.  The sweep runs on threads in this process, so the process's
CPU time (every thread, user and system) is all the work each did: on a machine
that other processes load, the CPU-time ratio is the steadier measure of the
service's overhead, and the wall-time ratio also counts cores left idle (a worker
waiting for the last chunk).

    python benchmarks/bench_sweep.py [--epochs 2000] [--repeats 4] [--dtype float32]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np

import kernels
import sweeps
from sweeps import plan

SPEC = {"name": "overhead", "replicates": 10_000, "record_every": 50,
        "grid": {"lr": {"logspace": [-1, 1, 10]}, "init_scale": {"linspace": [0.5, 3.0, 10]}}}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=4)
    ap.add_argument("--dtype", default="float32")
    args = ap.parse_args(argv)
    spec = sweeps.load_spec(SPEC | {"epochs": args.epochs, "dtype": args.dtype})
    n = spec.n_networks
    cols = plan.network_columns(spec, 0, n)
    X, Y = kernels.tasks.xor()
    dtype = np.dtype(args.dtype)
    kernels.warmup(X, Y, dtype=dtype)

    def bare():  # the same networks, initialized and trained in one call (no store)
        p = kernels.init_params(cols["seed"], dtype=dtype)
        for field in p.arrays():  # scale each cell's base draw, as the sweep does
            field *= cols["init_scale"].reshape((-1,) + (1,) * (field.ndim - 1))
        kernels.train(p, X, Y, lr=cols["lr"], epochs=spec.epochs, record_every=spec.record_every)

    def sweep():
        with tempfile.TemporaryDirectory() as out:
            sweeps.run(spec, out=out)

    rates = {"kernel": [], "sweep": []}
    cpu = {"kernel": [], "sweep": []}
    for r in range(args.repeats):
        order = (("kernel", bare), ("sweep", sweep))
        for name, fn in order if r % 2 == 0 else order[::-1]:
            t0, c0 = time.perf_counter(), _cpu_seconds()
            fn()
            rates[name].append(n * spec.epochs / (time.perf_counter() - t0))
            cpu[name].append(n * spec.epochs / (_cpu_seconds() - c0))
    k, s = (statistics.median(rates[x]) for x in ("kernel", "sweep"))
    ratio = statistics.median(b / a for a, b in zip(rates["kernel"], rates["sweep"], strict=True))
    cpu_ratio = statistics.median(b / a for a, b in zip(cpu["kernel"], cpu["sweep"], strict=True))
    print(f"{n:,} networks x {spec.epochs} epochs, {args.dtype}, loss every "
          f"{spec.record_every} epochs")
    print(f"bare kernel  {k / 1e6:7.1f} M network-epochs/s")
    print(f"xorsweep run {s / 1e6:7.1f} M network-epochs/s  ({ratio:.0%} of the kernel)")
    print(f"in CPU time: the sweep ran at {cpu_ratio:.0%} of the kernel's network-epochs "
          "per CPU-second")
    return 0


def _cpu_seconds() -> float:
    """Return this process's CPU time so far: every thread, user and system."""
    t = os.times()
    return t.user + t.system


if __name__ == "__main__":
    sys.exit(main())
