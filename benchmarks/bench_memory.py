"""Peak memory of training 10^6 networks, against the size of what it returns.

Runs in this process: the peak resident set (ru_maxrss) grows by what training
allocates; it is compared with params + outputs + recorded curve of the result.
Per-epoch allocation shows up as growth with the epoch count, so two epoch
counts are measured in separate processes.

    python benchmarks/bench_memory.py
"""

from __future__ import annotations

import subprocess
import sys

CODE = """
import resource, sys, numpy as np, kernels
n, epochs = 1_000_000, int(sys.argv[1])
X, Y = kernels.tasks.xor()
kernels.warmup(X, Y, sizes=n)
p = kernels.init_params(np.arange(n))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
r = kernels.train(p, X, Y, lr=1.0, epochs=epochs, record_every=10)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
size = sum(a.nbytes for a in r.params.arrays()) + r.outputs.nbytes + r.curve.nbytes
print(epochs, (peak - before) / 2**20, size / 2**20)
"""


def main() -> int:
    print("epochs | peak growth MiB | params+outputs+curve MiB | ratio")
    for epochs in (100, 1000):
        out = subprocess.run([sys.executable, "-c", CODE, str(epochs)], check=True,
                             capture_output=True, text=True).stdout.split()
        e, grown, size = int(out[0]), float(out[1]), float(out[2])
        print(f"{e} | {grown:.0f} | {size:.0f} | {grown / size:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
