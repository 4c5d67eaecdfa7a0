"""Side-by-side kernel speed: xorsweep against NumPy, JAX and PyTorch on one workload.

Workload: N independent D-H-1 networks on XOR, sigmoid hidden layer, BCE loss,
full-batch gradient descent with one learning rate per network, no momentum.
Every implementation starts from the same parameters (``kernels.init_params``)
and the same learning rates, and is first checked to reach the same final
losses (relative 1e-6 in float64, 1e-4 in float32: ``AGREEMENT_TOL``) before
anything is timed.

The peers, each in the fastest formulation we can write for it: a NumPy loop
over networks (the paper's notebook), batched NumPy; JAX in matrix form
(``jit(vmap(grad))`` of one network's loss) and on scalars in structure of arrays
(each network's code on scalars, every parameter its own (N,) array,
``jit(vmap(...))`` over the networks); PyTorch batched eager and ``torch.compile``
of the batched training step (Inductor's C++ backend); both JAX and both PyTorch
forms with the epochs in one call (``lax.fori_loop``; a Python loop of compiled
steps).  PyTorch runs on numba's thread count, as xorsweep; JAX on XLA's own pool.

Throughput is network-epochs per second, the median of ``--repeats`` runs after
a warm-up run; the ratio to the fastest peer (the highest median of that dtype
and N) is the median of the per-run ratios (each run times xorsweep and the peers
back to back, each after a pause of ``SETTLE_S`` so that no library's worker
threads still spin from the run before, then an untimed run of an eighth of its
epochs so that no core starts idle), so that load from other processes cancels out.
"% of ceiling" is the median over runs of xorsweep's speed against the host's ceiling for one
network-epoch (``benchmarks/ceiling.py``, on every thread; rows with fewer networks
per thread than a block has lanes show none: they cannot fill a block): the highest
of the ceilings measured before the table and next to each of the row's xorsweep
runs (after it in even repeats, before it in odd ones).  The highest, not the one
next to the run: a reading taken under a passing load would flatter xorsweep (on the
benchmark machine the ceiling once read 337-342 M three times in a row, against
389-410 M before and after, while xorsweep's runs beside them did not slow).  Those
runs alternate with the ceiling alone, after the race with the peers: on the 2-core
benchmark machine the first run after a long ``torch.compile`` run is 10-20% slower
than the next one
(N = 1,024, float32: 298-372 M network-epochs/s against 376-378 M), even after a
pause of a second, and not at all when PyTorch's OpenMP threads wait passively
(``OMP_WAIT_POLICY=passive``, which makes ``torch.compile`` 3x slower).  The race
keeps that cost: it counts against xorsweep.

The cost of recording the loss (``--record-every``) is 1 - recording / not
recording, from runs timed back to back in alternating order (not recording first
in even repeats, recording first in odd ones): the median over consecutive pairs
of repeats of their summed times.  On the 2-core benchmark machine the second of
two back-to-back runs is slower, by about 5% (N = 65,536, 2 threads, float64:
recording second 7-16%, recording first 0-4%), which one fixed order would count
as the cost of recording.  Compile time is
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

JAX and PyTorch are used when importable (``pip install -e ".[bench]"``; on these
machines install ``torch==2.13.0`` first, the CPU build on local disk, so that pip
does not fetch a CUDA build).
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
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


def _import_jax():
    """Return ``jax`` with float64 enabled (``jax_enable_x64``), or None if not installed."""
    try:
        import jax
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    return jax


def make_jax_matrix():
    """JAX in matrix form: ``jit(vmap(grad))`` of one network's loss, epochs in ``fori_loop``."""
    jax = _import_jax()
    if jax is None:
        return None
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


def _flat_index(D: int, H: int):
    """Index of W1[d, h], b1[h], W2[h] and b2 in a network's flat parameters (as the kernels)."""
    return (lambda d, h: d * H + h), (lambda h: D * H + h), (lambda h: D * H + H + h), D * H + 2 * H


def _scalar_network(X, Y, H):
    """One network's training step and loss on scalars, for a fixed task (``X``, ``Y``).

    The parameters are a flat tuple of scalars, laid out as ``_flat_index``; the
    forward and backward passes are the paper's chain rule written out per sample:
    ``a = sigmoid(x W1 + b1)``, ``z = a W2 + b2``, ``dz = (sigmoid(z) - y) / S``,
    ``dW2 += dz a``, ``db2 += dz``, ``dh = dz W2 a (1 - a)``, ``db1 += dh``,
    ``dW1 += x dh``; the loss is bce from the logit, ``y softplus(-z) + (1 - y)
    softplus(z)``.  The task's inputs are Python constants in the trace, and those
    that are 0 or 1 are built in (x w is left out or is w), as xorsweep's generated
    kernel builds them in.
    """
    import jax

    S, D = X.shape
    xs = [[float(v) for v in row] for row in X]
    ys = [float(v) for v in Y]
    w1, b1, w2, b2 = _flat_index(D, H)

    def forward(q, s):
        a = []
        for h in range(H):
            z = q[b1(h)]
            for d in range(D):
                x = xs[s][d]
                z = z + (q[w1(d, h)] if x == 1 else 0 if x == 0 else x * q[w1(d, h)])
            a.append(jax.nn.sigmoid(z))
        z = q[b2]
        for h in range(H):
            z = z + a[h] * q[w2(h)]
        return a, z

    def step(q, lr):
        g = [0.0] * len(q)
        for s in range(S):
            a, z = forward(q, s)
            dz = (jax.nn.sigmoid(z) - ys[s]) / S
            g[b2] = g[b2] + dz
            for h in range(H):
                g[w2(h)] = g[w2(h)] + dz * a[h]
                dh = dz * q[w2(h)] * a[h] * (1 - a[h])
                g[b1(h)] = g[b1(h)] + dh
                for d in range(D):
                    x = xs[s][d]
                    if x != 0:
                        g[w1(d, h)] = g[w1(d, h)] + (dh if x == 1 else x * dh)
        return tuple(p - lr * gp for p, gp in zip(q, g, strict=True))

    def loss(q):
        total = 0.0
        for s in range(S):
            _, z = forward(q, s)
            total = total + ys[s] * jax.nn.softplus(-z) + (1 - ys[s]) * jax.nn.softplus(z)
        return total / S

    return step, loss


def make_jax_soa():
    """JAX on scalars, structure of arrays: every parameter its own (N,) array.

    Each network's code is written on scalars (``_scalar_network``); ``jit(vmap(...))``
    maps it over the networks, with the epochs inside ``lax.fori_loop``.  One compiled
    function per task and hidden size (and per dtype and N, by ``jit``'s own cache).
    """
    jax = _import_jax()
    if jax is None:
        return None
    import jax.numpy as jnp
    from jax import lax

    compiled = {}

    def trainer(X, Y, H):
        key = (X.tobytes(), Y.tobytes(), X.shape, H)
        if key not in compiled:
            step, loss = _scalar_network(X, Y, H)

            def train_one(q, lr, epochs):
                return loss(lax.fori_loop(0, epochs, lambda _, q: step(q, lr), q))

            compiled[key] = jax.jit(jax.vmap(train_one, in_axes=(0, 0, None)))
        return compiled[key]

    def run(p, lr, X, Y, epochs):
        W1, b1, W2, b2 = p.arrays()
        D, H = p.n_inputs, p.n_hidden
        q = ([W1[:, d, h] for d in range(D) for h in range(H)] + [b1[:, h] for h in range(H)]
             + [W2[:, h] for h in range(H)] + [b2])
        q = tuple(jnp.asarray(np.ascontiguousarray(a)) for a in q)
        lr_ = jnp.asarray(lr.astype(p.dtype))
        return np.asarray(trainer(X, Y, H)(q, lr_, epochs).block_until_ready())

    run.version = jax.__version__
    return run


def _torch_grads(W1, b1, W2, b2, X, Y):
    """Gradients of the mean bce of every network, batched: tensors (N, ...), manual formulas.

    ``X`` (S, D) and ``Y`` (S,) are tensors; the sums over inputs are written out
    (D is 2 or 3: broadcast products, no batched matmul of 4 x 2 matrices).
    """
    import torch

    S, D = X.shape
    z1 = b1[:, None, :] + sum(X[None, :, d, None] * W1[:, None, d, :] for d in range(D))
    a1 = torch.sigmoid(z1)                                       # (N, S, H)
    z2 = (a1 * W2[:, None, :]).sum(dim=2) + b2[:, None]          # (N, S)
    dz2 = (torch.sigmoid(z2) - Y) / S
    dz1 = dz2[:, :, None] * W2[:, None, :] * a1 * (1 - a1)       # (N, S, H)
    gW1 = torch.stack([(X[None, :, d, None] * dz1).sum(dim=1) for d in range(D)], dim=1)
    return gW1, dz1.sum(dim=1), (a1 * dz2[:, :, None]).sum(dim=1), dz2.sum(dim=1)


def _torch_loss(W1, b1, W2, b2, X, Y):
    import torch

    D = X.shape[1]
    z1 = b1[:, None, :] + sum(X[None, :, d, None] * W1[:, None, d, :] for d in range(D))
    z2 = (torch.sigmoid(z1) * W2[:, None, :]).sum(dim=2) + b2[:, None]
    sp = torch.nn.functional.softplus
    return (Y * sp(-z2) + (1 - Y) * sp(z2)).mean(dim=1)


def _import_torch():
    """Return ``torch`` using the benchmark's threads (those numba uses), or None."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(kernels._parallel.num_threads())
    return torch


def _torch_tensors(p, lr, X, Y):
    import torch

    params = [torch.from_numpy(a.copy()) for a in p.arrays()]
    return params, torch.from_numpy(lr.astype(p.dtype)), torch.from_numpy(X), torch.from_numpy(Y)


def make_torch():
    """PyTorch, batched eager: tensors (N, ...), manual gradients, in-place updates."""
    torch = _import_torch()
    if torch is None:
        return None

    @torch.no_grad()
    def run(p, lr, X, Y, epochs):
        (W1, b1, W2, b2), lr_, Xt, Yt = _torch_tensors(p, lr, X, Y)
        lr2, lr3 = lr_[:, None], lr_[:, None, None]
        for _ in range(epochs):
            gW1, gb1, gW2, gb2 = _torch_grads(W1, b1, W2, b2, Xt, Yt)
            W1.sub_(lr3 * gW1)
            b1.sub_(lr2 * gb1)
            W2.sub_(lr2 * gW2)
            b2.sub_(lr_ * gb2)
        return _torch_loss(W1, b1, W2, b2, Xt, Yt).numpy()

    run.version = torch.__version__
    return run


def make_torch_compile():
    """PyTorch, ``torch.compile`` (Inductor, CPU: C++ from g++) of the batched training step.

    The step (the gradients of ``_torch_grads`` and the update) is one compiled
    function, called once per epoch; Inductor fuses it into a few C++ loops over the
    networks.  It compiles once per dtype (and per N until it marks N dynamic).
    """
    torch = _import_torch()
    if torch is None:
        return None

    def step(W1, b1, W2, b2, lr, X, Y):
        gW1, gb1, gW2, gb2 = _torch_grads(W1, b1, W2, b2, X, Y)
        return (W1 - lr[:, None, None] * gW1, b1 - lr[:, None] * gb1,
                W2 - lr[:, None] * gW2, b2 - lr * gb2)

    compiled = torch.compile(step)

    @torch.no_grad()
    def run(p, lr, X, Y, epochs):
        params, lr_, Xt, Yt = _torch_tensors(p, lr, X, Y)
        for _ in range(epochs):
            params = compiled(*params, lr_, Xt, Yt)
        return _torch_loss(*params, Xt, Yt).numpy()

    run.version = torch.__version__
    return run


def make_xorsweep(record_every=None):
    def run(p, lr, X, Y, epochs):
        return kernels.train(p, X, Y, lr=lr, epochs=epochs, record_every=record_every).loss

    run.version = kernels.__version__
    return run


#: The peers, by name: functions that make a runner ``run(p, lr, X, Y, epochs) -> losses``
#: (or None when the library is not installed).
PEERS = {"numpy-loop": lambda: numpy_loop, "numpy": lambda: numpy_batched,
         "jax-matrix": make_jax_matrix, "jax-soa": make_jax_soa, "torch": make_torch,
         "torch-compile": make_torch_compile}


@functools.cache
def _ceiling_module():
    """Import ``benchmarks/ceiling.py`` (a script beside this one, not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("ceiling", Path(__file__).with_name("ceiling.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def host_name() -> str:
    return _ceiling_module().host_name()


def measure_ceiling(dtype, hidden, *, quick=False):
    """Return ``ceiling.ceiling(dtype)``, or None where XOR of this H has no generated kernel."""
    if not kernels._codegen.eligible(4, 2, hidden):
        return None
    seconds, repeats = (0.05, 1) if quick else (0.5, 5)
    return _ceiling_module().ceiling(dtype, hidden=hidden, seconds=seconds, repeats=repeats)


# --- measurement --------------------------------------------------------------------------

def workload(n, hidden, dtype, seed=0):
    X, Y = kernels.tasks.xor()
    p = kernels.init_params(np.arange(n), n_inputs=2, n_hidden=hidden, dtype=dtype)
    lr = np.random.default_rng(seed).uniform(0.5, 2.0, n)
    return p, lr, X.astype(dtype), Y.astype(dtype)


#: Largest relative error of a peer's final losses, by dtype (64 networks, 300 epochs):
#: float64 peers differ by rounding alone (4e-15 seen); float32 by 3e-6 (NumPy, JAX, PyTorch).
AGREEMENT_TOL = {"float64": 1e-6, "float32": 1e-4}


def agreement(peers, hidden, dtype) -> dict[str, float]:
    """Return each peer's largest relative final-loss error against xorsweep's."""
    p, lr, X, Y = workload(64, hidden, np.dtype(dtype))
    ref = make_xorsweep()(p, lr, X, Y, 300)
    return {name: float(np.max(np.abs(run(p, lr, X, Y, 300) - ref) / np.abs(ref)))
            for name, run in peers.items()}


def check_agreement(peers, hidden, dtypes=("float64", "float32")):
    """Every peer computes the same final losses as xorsweep, in every dtype timed."""
    report = {}
    for dtype in dtypes:
        report[dtype] = agreement(peers, hidden, dtype)
        for name, err in report[dtype].items():
            if not err < AGREEMENT_TOL[dtype]:
                raise SystemExit(f"{name} disagrees with xorsweep in {dtype}: max relative "
                                 f"loss error {err:.2e} (tolerance {AGREEMENT_TOL[dtype]:.0e})")
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


#: seconds to wait before each timed run.  A library's worker threads spin for a while
#: after its work (PyTorch's OpenMP), and a run that starts meanwhile shares the cores
#: with them: xorsweep at N = 1,024, float32, right after a short torch-compile run (300
#: epochs) ran at 345 M network-epochs/s against 381-384 M after a pause of 20 to 400
#: ms (Zen 4, 2 cores, medians of 5).
SETTLE_S = 0.1
#: Each timed run follows an untimed one of ``1 / WARM_FRACTION`` its epochs, on a copy
#: of its networks.  Cores that sat idle (the pause above, a slow peer's single thread)
#: take some milliseconds to come back to full speed, which a short run pays: xorsweep
#: at N = 1,024, float32 (a 60 ms run) ran at 354 M network-epochs/s after a second
#: idle, 376-378 M after a run of 20-60 ms, 385 M back to back (medians of 6); 50 ms of
#: hashing on every thread instead did not help (346 M).
WARM_FRACTION = 8


def share_of_ceiling(run, p, lr, X, Y, epochs, ceil, hidden, repeats):
    """Time ``run`` (xorsweep) alternating with the ceiling; return its shares and the runs.

    ``ceil``: ``ceiling.ceiling``'s result from before the table.  Returns the
    median share of the ceiling, the same of the least single-resource bound (each
    run against the highest of ``ceil``'s and every reading here), and the readings
    ({"x": rates, "ceiling": ..., "least": ...}).  The first run, right after the
    race with the peers, is not counted (see the module docstring).
    """
    n = p.n_nets
    runs = {"x": [], "ceiling": [], "least": []}

    def time_xorsweep():
        runs["x"].append(n * epochs / time_once(run, p.take(slice(0, n)), lr, X, Y, epochs))

    def measure_ceiling():
        again = _ceiling_module().ceiling(ceil["dtype"], hidden=hidden, seconds=0.2, repeats=1,
                                          one_thread=False,
                                          resources=(ceil["binding"]["all"],))
        for key in ("ceiling", "least"):
            runs[key].append(again[key]["all"])

    time_xorsweep()
    runs["x"].clear()
    for i in range(repeats):
        for step in ((time_xorsweep, measure_ceiling) if i % 2 == 0
                     else (measure_ceiling, time_xorsweep)):
            step()
    share, least = (statistics.median(x / max([ceil[key]["all"], *runs[key]])
                                      for x in runs["x"]) for key in ("ceiling", "least"))
    return share, least, runs


def time_once(run, p, lr, X, Y, epochs):
    time.sleep(SETTLE_S)
    run(p.take(slice(0, p.n_nets)), lr, X, Y, max(1, epochs // WARM_FRACTION))
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
    ap.add_argument("--peers", nargs="*", default=list(PEERS), choices=list(PEERS),
                    help="peers to race (none: xorsweep alone)")
    ap.add_argument("--no-ceiling", action="store_true",
                    help="skip measuring the host's ceiling (benchmarks/ceiling.py)")
    ap.add_argument("--record-every", type=int, default=None,
                    help="also time xorsweep recording the loss every K epochs")
    ap.add_argument("--reuse-memory", action="store_true",
                    help="keep freed memory in the process (glibc), so that no run pays the OS "
                         "for fresh pages: see keep_freed_memory")
    ap.add_argument("--quick", action="store_true",
                    help="N = 1024, 200 epochs, one repeat: a smoke run")
    ap.add_argument("--json", type=Path, default=None, help="where to write the JSON results")
    args = ap.parse_args(argv)
    if args.quick:
        args.n, args.repeats, args.epochs = [1024], 1, args.epochs or 200
    threads = kernels._parallel.num_threads()
    print(f"# host: {host_name()}, {threads} threads (numba's, torch's; JAX's own pool)")
    if args.reuse_memory:
        keep_freed_memory()
        print("# --reuse-memory: freed memory stays in the process (no fresh pages after warm-up)")

    peers = {}
    for name in args.peers:
        run = PEERS[name]()
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
                                args.hidden, args.dtype)
    for dtype, errs in agreement.items():
        print(f"# agreement with xorsweep (max relative final-loss error, {dtype}, 64 nets x 300"
              " epochs): " + ", ".join(f"{k} {v:.1e}" for k, v in errs.items()))
    ceilings = {}
    if not args.no_ceiling:
        for dtype in args.dtype:
            ceilings[dtype] = measure_ceiling(dtype, args.hidden, quick=args.quick)
            if ceilings[dtype]:
                c = ceilings[dtype]
                print(f"# ceiling {dtype} H={args.hidden} (benchmarks/ceiling.py): "
                      f"{c['ceiling']['all'] / 1e6:.3g} M network-epochs/s on {c['threads']} "
                      f"threads, {c['ceiling']['1'] / 1e6:.3g} M on 1 (the kernel's "
                      f"operations as one mix); least single-resource bound "
                      f"{c['least']['all'] / 1e6:.3g} M ({c['binding']['all']})")

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
            fastest = max((k for k in med if k in peers), key=med.get, default=None)
            ratio = paired_median(times, "xorsweep", fastest, lambda a, b: a / b)
            ceil = ceilings.get(dtype)
            # only where every thread fills a block: the ceiling assumes full blocks
            lanes = kernels.config.for_dtype("UNROLLED_LANES", dtype)
            gauge = ceil is not None and n >= lanes * ceil["threads"]
            share, share_least, shared = (share_of_ceiling(
                runners["xorsweep"], p, lr, X, Y, ep["xorsweep"], ceil, args.hidden,
                args.repeats) if gauge else (None, None, None))
            rec_cost = recording_cost(times["xorsweep"], times[rec_name]) if rec_name else None
            for name in runners:
                rows.append({"dtype": dtype, "n": n, "hidden": args.hidden, "impl": name,
                             "epochs": ep[name], "net_epochs_per_s": med[name],
                             "runs": times[name],
                             "x_vs_numpy_loop": (med[name] / med["numpy-loop"]
                                                 if "numpy-loop" in med else None),
                             "fastest_peer": fastest if name == "xorsweep" else None,
                             "xorsweep_over_fastest_peer": ratio if name == "xorsweep" else None,
                             "share_of_ceiling": share if name == "xorsweep" else None,
                             "share_of_least_bound": share_least if name == "xorsweep" else None,
                             "share_runs": shared if name == "xorsweep" else None,
                             "recording_cost": rec_cost if name == "xorsweep" else None})
            line = ", ".join(f"{k} {v / 1e6:.2f} M" for k, v in med.items())
            print(f"{dtype} N={n}: {line}" + (f"; xorsweep/{fastest} = {ratio:.2f}x"
                                               if ratio else "")
                  + (f"; {share:.0%} of the ceiling, {share_least:.0%} of the least "
                     "single-resource bound" if share else "")
                  + (f"; recording costs {rec_cost:.1%}" if rec_name else ""))
    print()
    print(table(rows))
    result = {"date": dt.datetime.now().isoformat(timespec="seconds"),
              "machine": {"cpu": host_name(), "cpu_count": os.cpu_count(), "threads": threads,
                          "platform": platform.platform(), "python": platform.python_version()},
              "versions": {k: getattr(v, "version", None) for k, v in runners.items()},
              "argv": sys.argv[1:], "agreement": agreement, "compile_s": compile_s,
              "ceiling": ceilings, "rows": rows}
    path = args.json or ROOT / "benchmarks" / "results" / f"kernels-{dt.date.today()}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1))
    print(f"\n# wrote {path}")
    return 0


def table(rows) -> str:
    impls = list(dict.fromkeys(r["impl"] for r in rows))
    keys = list(dict.fromkeys((r["dtype"], r["n"]) for r in rows))
    rec = any(r["recording_cost"] is not None for r in rows)
    head = ("| dtype | N | " + " | ".join(impls) + " | xorsweep vs fastest peer | "
            "% of ceiling | % of least single-resource bound | xorsweep / numpy-loop |"
            + (" recording cost |" if rec else ""))
    lines = [head, "|" + "---|" * (len(impls) + 6 + rec)]
    for dtype, n in keys:
        cells = {r["impl"]: r for r in rows if r["dtype"] == dtype and r["n"] == n}
        x = cells["xorsweep"]
        ratio, share, least, vs_loop = (x["xorsweep_over_fastest_peer"], x["share_of_ceiling"],
                                        x["share_of_least_bound"], x["x_vs_numpy_loop"])
        vs_peer = f"{ratio:.2f}x ({x['fastest_peer']})" if ratio else "-"
        lines.append(f"| {dtype} | {n:,} | " + " | ".join(
            f"{cells[i]['net_epochs_per_s'] / 1e6:.3g} M" for i in impls)
            + f" | {vs_peer} | {f'{share:.0%}' if share else '-'}"
            + f" | {f'{least:.0%}' if least else '-'}"
            + f" | {f'{vs_loop:,.0f}x' if vs_loop else '-'} |"
            + (f" {x['recording_cost']:.1%} |" if rec else ""))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
