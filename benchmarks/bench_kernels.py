"""Side-by-side kernel speed: xorsweep against NumPy, JAX and PyTorch on one workload.

Workload: N independent D-H-1 networks on XOR, sigmoid hidden layer, BCE loss,
full-batch gradient descent with one learning rate per network, no momentum.
Every implementation starts from the same parameters (``kernels.init_params``)
and the same learning rates, and is first checked to reach the same final
losses (float64, relative 1e-6) before anything is timed.

Throughput is network-epochs per second, the median of ``--repeats`` runs after
a warm-up run; the ratio to JAX is the median of the per-run ratios (each run
times xorsweep and JAX back to back), so that load from other processes cancels
out.  The cost of recording the loss (``--record-every``) is 1 - recording / not
recording, from runs timed back to back in alternating order (not recording first
in even repeats, recording first in odd ones): the median over consecutive pairs
of repeats of their summed times.  On this machine the second of two
back-to-back runs is slower, by about 5% (2026-12-01, N = 65,536, 2 threads,
float64: recording second 7-16%, recording first 0-4%), which one fixed order
would count as the cost of recording.  Compile time is
reported separately: xorsweep's is measured in fresh subprocesses with empty
caches (cold) and again with the caches they left (warm).  Slow peers train
fewer epochs than the workload asks for (throughput per epoch does not depend on
the epoch count); the JSON records the epochs each ran.

Every run allocates its results afresh.  Where writing to a fresh page is slow
(virtual machines that hand freed memory back to the host, like the one the
README's numbers come from), that cost, not the kernel's, dominates a run that
writes a large loss curve; ``--reuse-memory`` keeps freed memory in the process
(glibc) so that the kernels alone are compared.

    python benchmarks/bench_kernels.py                  # the full table
    python benchmarks/bench_kernels.py --quick          # a smoke run in seconds

JAX and PyTorch are used when importable (``pip install -e ".[bench]"`` brings
JAX; ``pip install torch==2.13.0`` is the CPU build of PyTorch on these machines).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import kernels

ROOT = Path(__file__).resolve().parents[1]


# --- peers --------------------------------------------------------------------------------

def numpy_loop(p, lr, X, Y, epochs):
    """One network at a time, as the paper's notebook trains."""
    S = X.shape[0]
    losses = np.empty(p.n_nets)
    for n in range(p.n_nets):
        W1, b1, W2, b2 = p.W1[n].copy(), p.b1[n].copy(), p.W2[n].copy(), p.b2[n].copy()
        for _ in range(epochs):
            a1 = 1 / (1 + np.exp(-(X @ W1 + b1)))
            a2 = 1 / (1 + np.exp(-(a1 @ W2 + b2)))
            dz2 = (a2 - Y) / S
            dz1 = np.outer(dz2, W2) * a1 * (1 - a1)
            W2 -= lr[n] * (a1.T @ dz2)
            b2 -= lr[n] * dz2.sum()
            W1 -= lr[n] * (X.T @ dz1)
            b1 -= lr[n] * dz1.sum(axis=0)
        z2 = (1 / (1 + np.exp(-(X @ W1 + b1)))) @ W2 + b2
        losses[n] = np.mean(Y * np.logaddexp(0, -z2) + (1 - Y) * np.logaddexp(0, z2))
    return losses


def numpy_batched(p, lr, X, Y, epochs):
    """All networks at once in NumPy, manual gradients."""
    W1, b1, W2, b2 = (a.copy() for a in p.arrays())
    S = X.shape[0]
    lr_ = lr.astype(W1.dtype)
    for _ in range(epochs):
        a1 = 1 / (1 + np.exp(-(np.einsum("sd,ndh->nsh", X, W1) + b1[:, None, :])))
        a2 = 1 / (1 + np.exp(-(np.einsum("nsh,nh->ns", a1, W2) + b2[:, None])))
        dz2 = (a2 - Y) / S
        dz1 = dz2[:, :, None] * W2[:, None, :] * a1 * (1 - a1)
        W2 -= lr_[:, None] * np.einsum("nsh,ns->nh", a1, dz2)
        b2 -= lr_ * dz2.sum(axis=1)
        W1 -= lr_[:, None, None] * np.einsum("sd,nsh->ndh", X, dz1)
        b1 -= lr_[:, None] * dz1.sum(axis=1)
    a1 = 1 / (1 + np.exp(-(np.einsum("sd,ndh->nsh", X, W1) + b1[:, None, :])))
    z2 = np.einsum("nsh,nh->ns", a1, W2) + b2[:, None]
    return np.mean(Y * np.logaddexp(0, -z2) + (1 - Y) * np.logaddexp(0, z2), axis=1)


def make_jax():
    try:
        import jax
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    from jax import lax

    def net_loss(params, X, Y):
        W1, b1, W2, b2 = params
        a1 = jax.nn.sigmoid(X @ W1 + b1)
        z2 = a1 @ W2 + b2
        return jnp.mean(Y * jax.nn.softplus(-z2) + (1 - Y) * jax.nn.softplus(z2))

    grad = jax.grad(net_loss)

    def step(params, lr, X, Y):
        g = grad(params, X, Y)
        return tuple(w - lr * gw for w, gw in zip(params, g, strict=True))

    vstep = jax.vmap(step, in_axes=(0, 0, None, None))
    vloss = jax.vmap(net_loss, in_axes=(0, None, None))

    @jax.jit
    def train(params, lr, X, Y, epochs):
        params = lax.fori_loop(0, epochs, lambda _, q: vstep(q, lr, X, Y), params)
        return vloss(params, X, Y)

    def run(p, lr, X, Y, epochs):
        args = (tuple(jnp.asarray(a) for a in p.arrays()), jnp.asarray(lr.astype(p.dtype)),
                jnp.asarray(X), jnp.asarray(Y))
        return np.asarray(train(*args, epochs).block_until_ready())

    run.version = jax.__version__
    return run


def make_torch():
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(os.cpu_count() or 1)

    @torch.no_grad()
    def run(p, lr, X, Y, epochs):
        W1, b1, W2, b2 = (torch.from_numpy(a.copy()) for a in p.arrays())
        Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)
        lr_ = torch.from_numpy(lr.astype(p.dtype))
        S = X.shape[0]
        for _ in range(epochs):
            a1 = torch.sigmoid(torch.einsum("sd,ndh->nsh", Xt, W1) + b1[:, None, :])
            a2 = torch.sigmoid(torch.einsum("nsh,nh->ns", a1, W2) + b2[:, None])
            dz2 = (a2 - Yt) / S
            dz1 = dz2[:, :, None] * W2[:, None, :] * a1 * (1 - a1)
            W2 -= lr_[:, None] * torch.einsum("nsh,ns->nh", a1, dz2)
            b2 -= lr_ * dz2.sum(dim=1)
            W1 -= lr_[:, None, None] * torch.einsum("sd,nsh->ndh", Xt, dz1)
            b1 -= lr_[:, None] * dz1.sum(dim=1)
        a1 = torch.sigmoid(torch.einsum("sd,ndh->nsh", Xt, W1) + b1[:, None, :])
        z2 = torch.einsum("nsh,nh->ns", a1, W2) + b2[:, None]
        sp = torch.nn.functional.softplus
        return (Yt * sp(-z2) + (1 - Yt) * sp(z2)).mean(dim=1).numpy()

    run.version = torch.__version__
    return run


def make_xorsweep(record_every=None):
    def run(p, lr, X, Y, epochs):
        return kernels.train(p, X, Y, lr=lr, epochs=epochs, record_every=record_every).loss

    run.version = kernels.__version__
    return run


# --- measurement --------------------------------------------------------------------------

def workload(n, hidden, dtype, seed=0):
    X, Y = kernels.tasks.xor()
    p = kernels.init_params(np.arange(n), n_inputs=2, n_hidden=hidden, dtype=dtype)
    lr = np.random.default_rng(seed).uniform(0.5, 2.0, n)
    return p, lr, X.astype(dtype), Y.astype(dtype)


def check_agreement(peers, hidden):
    """Every peer computes the same final losses as xorsweep (float64)."""
    p, lr, X, Y = workload(64, hidden, np.float64)
    ref = make_xorsweep()(p, lr, X, Y, 300)
    report = {}
    for name, run in peers.items():
        got = run(p, lr, X, Y, 300)
        err = float(np.max(np.abs(got - ref) / np.abs(ref)))
        report[name] = err
        if not err < 1e-6:
            raise SystemExit(f"{name} disagrees with xorsweep: max relative loss error {err:.2e}")
    return report


def keep_freed_memory() -> None:
    """Make glibc keep freed memory for reuse instead of returning it to the OS.

    Each run allocates its results afresh (the loss curve of 10^6 networks is
    ~170 MB), and glibc hands large blocks back to the OS when they are freed.
    Writing to a fresh page costs a page fault, and on virtual machines that
    return freed guest memory to the host (free page reporting, as here) the host
    must fault it in again too: first touch then runs at well under 1 GB/s and
    varies run to run, which is a property of the machine, not of any kernel.
    (xorsweep's results avoid the worst of it, huge pages: see ``kernels/_memory.py``.)
    With mmap off and trimming raised, freed blocks are reused (for every peer).
    """
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        raise SystemExit("--reuse-memory needs glibc (mallopt); run without it") from None
    m_trim_threshold, m_mmap_max = -1, -4
    if not (mallopt(m_mmap_max, 0) and mallopt(m_trim_threshold, 2**31 - 1)):
        raise SystemExit("--reuse-memory: mallopt refused; run without it")


def paired_median(times, a, b, f):
    """Median over runs of ``f(rate of a, rate of b)``, each pair timed back to back."""
    if b not in times:
        return None
    return statistics.median(f(x, y) for x, y in zip(times[a], times[b], strict=True))


def recording_cost(plain: list[float], rec: list[float]) -> float:
    """1 - recording / not recording, from rates timed in alternating order.

    The median over consecutive pairs of repeats (one of each order) of
    1 - (summed time not recording) / (summed time recording).  With an odd
    number of repeats the last one is left out; with a single repeat, that one
    ratio (recording timed second: it includes the second-run slowdown).
    """
    if len(plain) == 1:
        return 1 - rec[0] / plain[0]
    return statistics.median(
        1 - (1 / plain[i] + 1 / plain[i + 1]) / (1 / rec[i] + 1 / rec[i + 1])
        for i in range(0, len(plain) - 1, 2))


def time_once(run, p, lr, X, Y, epochs):
    t0 = time.perf_counter()
    run(p, lr, X, Y, epochs)
    return time.perf_counter() - t0


def epochs_for(name, n, full_epochs):
    """Slow peers run fewer epochs (their per-epoch rate does not depend on the count)."""
    budget = {"numpy-loop": 3e3, "numpy": 2e6, "torch": 6e6}.get(name)
    if budget is None:
        return full_epochs
    return int(max(2, min(full_epochs, budget / max(n, 1))))


def compile_times(dtype, hidden):
    """Cold and warm start of xorsweep in fresh processes, in seconds.

    ``cold_s``: import, compile and first train of 128 networks (the kernel for
    large populations), empty caches; ``narrow_s``: then compiling the kernel for
    small ones, below ``config.UNROLLED_WIDE_MIN_NETS`` (narrower blocks; about 0
    when the shape is too big to generate, since both then use the generic
    kernel); ``warm_s``: the first of these again in a second process, with the
    caches the first one left.
    """
    code = ("import json, time, numpy as np; t0 = time.perf_counter(); import kernels; "
            "X, Y = kernels.tasks.xor(); "
            f"p = kernels.init_params(np.arange(128), n_hidden={hidden}, dtype=np.{dtype}); "
            "kernels.train(p, X, Y, epochs=1); t1 = time.perf_counter(); "
            "kernels.train(p.take(slice(0, 16)), X, Y, epochs=1); "
            "print(json.dumps([t1 - t0, time.perf_counter() - t1]))")
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, NUMBA_CACHE_DIR=str(Path(tmp) / "numba"),
                   XORSWEEP_CACHE_DIR=str(Path(tmp) / "xorsweep"))
        out = [json.loads(subprocess.run([sys.executable, "-c", code], env=env, check=True,
                                         capture_output=True, text=True).stdout)
               for _ in range(2)]
    return {"cold_s": out[0][0], "narrow_s": out[0][1], "warm_s": out[1][0]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, nargs="+", default=[1, 1024, 65536, 1048576])
    ap.add_argument("--dtype", nargs="+", default=["float32", "float64"])
    ap.add_argument("--hidden", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=None,
                    help="epochs per run (default: about 2e8 network-epochs per run)")
    ap.add_argument("--repeats", type=int, default=4)
    ap.add_argument("--peers", nargs="*", default=["numpy-loop", "numpy", "jax", "torch"],
                    help="peers to race (none: xorsweep alone)")
    ap.add_argument("--record-every", type=int, default=None,
                    help="also time xorsweep recording the loss every K epochs")
    ap.add_argument("--reuse-memory", action="store_true",
                    help="keep freed memory in the process (glibc), so that no run pays the OS "
                         "for fresh pages: see keep_freed_memory")
    ap.add_argument("--quick", action="store_true", help="small sizes, one repeat: a smoke run")
    ap.add_argument("--json", type=Path, default=None, help="where to write the JSON results")
    args = ap.parse_args(argv)
    if args.quick:
        args.n, args.repeats = [1024], 1
    if args.reuse_memory:
        keep_freed_memory()
        print("# --reuse-memory: freed memory stays in the process (no fresh pages after warm-up)")

    makers = {"numpy-loop": lambda: numpy_loop, "numpy": lambda: numpy_batched,
              "jax": make_jax, "torch": make_torch}
    peers = {}
    for name in args.peers:
        run = makers[name]()
        if run is None:
            print(f"# {name}: not installed, skipped")
        else:
            peers[name] = run
    runners = {"xorsweep": make_xorsweep()}
    rec_name = None
    if args.record_every:
        rec_name = f"xorsweep rec/{args.record_every}"
        runners[rec_name] = make_xorsweep(args.record_every)
    runners.update(peers)

    agreement = check_agreement({k: v for k, v in runners.items() if k != "xorsweep"},
                                args.hidden)
    print("# agreement with xorsweep (max relative final-loss error, float64, 64 nets x 300"
          " epochs): " + ", ".join(f"{k} {v:.1e}" for k, v in agreement.items()))

    rows = []
    compile_s = {}
    for dtype in args.dtype:
        ct = compile_times(dtype, args.hidden)
        compile_s[dtype] = ct
        small = kernels.config.for_dtype("UNROLLED_WIDE_MIN_NETS", dtype) - 1
        narrow = (f"the kernel for N <= {small} {ct['narrow_s']:.1f} s more"
                  if kernels._codegen.eligible(4, 2, args.hidden) else "the generic kernel")
        print(f"# xorsweep {dtype} H={args.hidden}: cold start {ct['cold_s']:.1f} s (import, "
              f"compile, first train; {narrow}), "
              f"warm start {ct['warm_s']:.2f} s (fresh process, cached)")
        for n in args.n:
            full = args.epochs or int(min(20000, max(200, 2e8 / n)))
            p, lr, X, Y = workload(n, args.hidden, np.dtype(dtype))
            times: dict[str, list[float]] = {}
            ep = {name: epochs_for(name, n, full) for name in runners}
            for name, run in runners.items():  # warm-up (and JIT compile)
                sub = min(n, 64) if name == "numpy-loop" else n
                run(p.take(slice(0, sub)), lr[:sub], X, Y, min(ep[name], 5))
            for i in range(args.repeats):
                order = list(runners)
                if i % 2 and rec_name:  # recording first in odd repeats (recording_cost)
                    order[:2] = order[1::-1]
                for name in order:
                    run = runners[name]
                    sub = min(n, 16) if name == "numpy-loop" else n
                    t = time_once(run, p.take(slice(0, sub)), lr[:sub], X, Y, ep[name])
                    times.setdefault(name, []).append(sub * ep[name] / t)
            med = {k: statistics.median(v) for k, v in times.items()}
            ratio_jax = paired_median(times, "xorsweep", "jax", lambda a, b: a / b)
            rec_cost = recording_cost(times["xorsweep"], times[rec_name]) if rec_name else None
            for name in runners:
                rows.append({"dtype": dtype, "n": n, "hidden": args.hidden, "impl": name,
                             "epochs": ep[name], "net_epochs_per_s": med[name],
                             "runs": times[name],
                             "x_vs_numpy_loop": (med[name] / med["numpy-loop"]
                                                 if "numpy-loop" in med else None),
                             "xorsweep_over_jax": ratio_jax if name == "xorsweep" else None,
                             "recording_cost": rec_cost if name == "xorsweep" else None})
            line = ", ".join(f"{k} {v / 1e6:.2f} M" for k, v in med.items())
            print(f"{dtype} N={n}: {line}" + (f"; xorsweep/jax = {ratio_jax:.2f}x"
                                               if ratio_jax else "")
                  + (f"; recording costs {rec_cost:.1%}" if rec_name else ""))
    print()
    print(table(rows))
    result = {"date": dt.datetime.now().isoformat(timespec="seconds"),
              "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(),
                          "python": platform.python_version()},
              "versions": {k: getattr(v, "version", None) for k, v in runners.items()},
              "argv": sys.argv[1:], "agreement": agreement, "compile_s": compile_s,
              "rows": rows}
    path = args.json or ROOT / "benchmarks" / "results" / f"kernels-{dt.date.today()}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1))
    print(f"\n# wrote {path}")
    return 0


def table(rows) -> str:
    impls = list(dict.fromkeys(r["impl"] for r in rows))
    keys = list(dict.fromkeys((r["dtype"], r["n"]) for r in rows))
    rec = any(r["recording_cost"] is not None for r in rows)
    head = ("| dtype | N | " + " | ".join(impls) + " | xorsweep / JAX | xorsweep / numpy-loop |"
            + (" recording cost |" if rec else ""))
    lines = [head, "|" + "---|" * (len(impls) + 4 + rec)]
    for dtype, n in keys:
        cells = {r["impl"]: r for r in rows if r["dtype"] == dtype and r["n"] == n}
        ratio = cells["xorsweep"]["xorsweep_over_jax"]
        vs_loop = cells["xorsweep"]["x_vs_numpy_loop"]
        loop_ratio = f"{vs_loop:,.0f}x" if vs_loop else "-"
        lines.append(f"| {dtype} | {n:,} | " + " | ".join(
            f"{cells[i]['net_epochs_per_s'] / 1e6:.3g} M" for i in impls)
            + f" | {f'{ratio:.2f}x' if ratio else '-'} | {loop_ratio} |"
            + (f" {cells['xorsweep']['recording_cost']:.1%} |" if rec else ""))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
