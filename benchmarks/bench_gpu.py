"""GPU kernel speed: network-epochs/s on CUDA for N = 10^3 .. 10^7, and the ratio to the CPU.

Workload as in ``bench_kernels.py``: 2-2-1 XOR, sigmoid, BCE, one learning rate
per network, no momentum, no curve.  Each size is timed ``--repeats`` times after
a warm-up launch (which compiles); the time includes copying parameters to the
GPU and results back.  The CPU kernel is timed on the same networks (fewer
epochs: its throughput per epoch does not depend on them) for the ratio.

    python benchmarks/bench_gpu.py                 # needs an NVIDIA GPU and xorsweep[cuda]
    python benchmarks/bench_gpu.py --n 1000 1000000 --epochs 2000 --json out.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

import kernels


def _rate(n, epochs, device, dtype, repeats):
    X, Y = kernels.tasks.xor()
    p = kernels.init_params(np.arange(n), dtype=dtype)
    lr = np.geomspace(0.1, 10, n).astype(dtype)
    kernels.train(p, X, Y, lr=lr, epochs=min(epochs, 10), device=device)  # compile
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        kernels.train(p, X, Y, lr=lr, epochs=epochs, device=device)
        times.append(time.perf_counter() - t)
    return n * epochs / statistics.median(times)


def main() -> None:
    """Run the benchmark and print (and optionally save) its table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[10**3, 10**4, 10**5, 10**6, 10**7])
    ap.add_argument("--dtype", nargs="+", default=["float32", "float64"])
    ap.add_argument("--epochs", type=int, default=2000)
    ap.add_argument("--cpu-epochs", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    if not kernels.cuda_available():
        sys.exit("no usable CUDA GPU here (kernels.cuda_available() is False); "
                 "run this on a machine with an NVIDIA GPU and `pip install '.[cuda]'`")
    from numba import cuda

    gpu = cuda.get_current_device().name
    gpu = gpu.decode() if isinstance(gpu, bytes) else gpu
    rows = []
    print(f"# {dt.date.today()}  GPU: {gpu}  epochs: {args.epochs}")
    print("| dtype | N | GPU net-epochs/s | CPU net-epochs/s | GPU / CPU |")
    print("|---|---|---|---|---|")
    for dtype in args.dtype:
        for n in args.n:
            g = _rate(n, args.epochs, "cuda", dtype, args.repeats)
            c = _rate(min(n, 10**6), args.cpu_epochs, "cpu", dtype, args.repeats)
            rows.append({"dtype": dtype, "n": n, "gpu": g, "cpu": c, "ratio": g / c})
            print(f"| {dtype} | {n:,} | {g:.3g} | {c:.3g} | {g / c:.1f}x |", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"date": str(dt.date.today()), "gpu": gpu,
                                         "epochs": args.epochs, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
