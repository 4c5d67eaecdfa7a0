"""Train 10,000 independent 2-2-1 XOR networks at once and report how many converge."""

from __future__ import annotations

import time

import numpy as np

import kernels


def main() -> None:
    X, Y = kernels.tasks.xor()
    n_nets, epochs = 10_000, 2_000
    p = kernels.init_params(np.arange(n_nets), n_inputs=2, n_hidden=2, scheme="uniform",
                            scale=1.0)
    # compile once (then cached on disk), outside the timing
    kernels.warmup(X, Y, n_hidden=2, sizes=n_nets)
    t0 = time.perf_counter()
    r = kernels.train(p, X, Y, lr=1.0, epochs=epochs, momentum=0.0, target_error=0.1)
    seconds = time.perf_counter() - t0
    ok = r.converged_epoch >= 0
    k, n = int(ok.sum()), n_nets
    # 95% Wilson interval for the convergence rate
    z = 1.959964
    centre = (k + z * z / 2) / (n + z * z)
    half = z * np.sqrt(k * (n - k) / n + z * z / 4) / (n + z * z)
    print(f"trained {n_nets:,} XOR networks x {epochs:,} epochs in {seconds:.2f} s "
          f"({n_nets * epochs / seconds / 1e6:.1f} M network-epochs/s)")
    print(f"converged: {k:,} of {n:,} = {k / n:.1%} "
          f"(95% CI {centre - half:.1%} to {centre + half:.1%}); "
          f"median epochs to converge {int(np.median(r.converged_epoch[ok]))}")
    labels, counts = np.unique(r.outcome, return_counts=True)
    print("outcomes: " + ", ".join(f"{lab} {c:,}" for lab, c in zip(labels, counts, strict=True)))


if __name__ == "__main__":
    main()
