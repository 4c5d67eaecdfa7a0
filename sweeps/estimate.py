"""What a run will take before it runs: networks, kernels, disk and time (``--dry-run``).

:func:`estimate` writes nothing: no run directory, no lock, no cache file.  It
asks :func:`kernels.training.needed_kernels` which kernels the run needs and
which the cache holds, and estimates:

- **training time**, from a calibration on this machine: for each kernel group
  (task, hidden, activation, loss) whose kernels are all cached, a sample of the
  group's own networks (up to :data:`CALIBRATION_NETS`, same block width as the
  run's chunks) is trained for a few hundred epochs on one thread, and its
  seconds per network-epoch are scaled to the group's network-epochs.  A group
  whose kernels are not cached is never compiled for this: its rate is the
  measured seconds per sigmoid evaluation (``S * (H + 1)`` per network-epoch) of
  the groups measured, or, with none measured, the documented
  :data:`NS_PER_SIGMOID`.  The chunks are then laid out over the workers in order,
  each with the measured time to build its tables and :data:`CHUNK_OVERHEAD_S`
  for its writes, and the last to finish gives the time (so a run of few chunks
  is not credited with parallelism it lacks);
- **compile time**, of the kernels not cached, from documented per-kernel times
  (:data:`COMPILE_S`), stated separately;
- **disk**, from the Parquet size of the run's own columns (network rows and curve
  values of placeholder results) at two row counts, fitted as per-file plus
  per-row bytes and summed over the chunks.

``benchmarks/bench_dry_run.py`` compares these with real runs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

import kernels
from kernels.training import Kernel

from . import plan, store
from .chunk import curve_table, initial_params, network_table
from .spec import Spec

__all__ = ["Estimate", "estimate", "CALIBRATION_NETS", "NS_PER_SIGMOID", "COMPILE_S"]

#: The most networks trained per kernel group to calibrate.
CALIBRATION_NETS = 1024
#: Seconds of training to aim for per calibrated group (after one epoch to load it).
CALIBRATION_S = 0.02
#: Documented speed of the kernels where nothing could be measured: nanoseconds per
#: sigmoid evaluation (``S * (H + 1)`` per network-epoch) on one core, by kernel kind.
#: Measured with ``kernels.train(..., parallel=False)``, 1,024 networks, float64, one
#: core: generated kernels 1.3-1.5 ns from XOR H = 1 to parity-3 H = 4; the generic
#: kernel 3.4-4.1 ns from parity-3 H = 8 to parity-5 H = 8.
NS_PER_SIGMOID: dict[str, float] = {"generated": 1.4, "generic": 3.6}
#: Documented seconds to compile one kernel that is not cached (same core):
#: ``(fixed, per sigmoid)`` for a generated kernel (1.5 s for 8 sigmoids, 2.9 s for
#: 40), the initializer and generic kernel once each, and the first compile of a
#: process (numba's own start) once; ``process``: a compiler process's start, once
#: per run that compiles in several (spawn, imports, the shared code).
COMPILE_S: dict[str, tuple[float, float]] = {"generated": (1.2, 0.045), "init": (1.5, 0.0),
                                             "generic": (4.0, 0.0), "first": (1.0, 0.0),
                                             "process": (5.0, 0.0)}
#: Seconds per chunk besides training and building its tables (measured per network):
#: writing two Parquet parts and the manifest, each fsynced.
CHUNK_OVERHEAD_S = 0.01


@dataclass(frozen=True)
class Estimate:
    """What a run will take (see the module docstring for how each figure is made).

    ``train_s`` is None where no estimate is made (``--device cuda``); ``method``
    says how it was made, in words.  ``kernels``: every kernel the run needs, once.
    """

    name: str
    n_cells: int
    n_networks: int
    network_epochs: int
    n_chunks: int
    workers: int
    kernels: tuple[Kernel, ...]
    disk_bytes: int
    train_s: float | None
    compile_s: float
    method: str

    @property
    def n_cached(self) -> int:
        """Kernels the cache holds."""
        return sum(k.cached for k in self.kernels)


def _groups(spec: Spec) -> list[tuple[str, int, str, str]]:
    return [(task, H, act, loss) for task in spec.tasks for H in spec.grid["hidden"]
            for act in spec.grid["activation"] for loss in spec.grid["loss"]]


def estimate(spec: Spec, *, jobs: int, chunk_size: int, device: str = "cpu",
             calibrate: bool = True, done=()) -> Estimate:
    """Return what running ``spec`` with these options will take; write nothing.

    Parameters
    ----------
    spec : Spec
    jobs : int
        Workers (threads or processes, one core each).
    chunk_size : int
        Networks per chunk, as the run will cut them.
    device : {"cpu", "cuda"}
        No training time is estimated for ``"cuda"``.
    calibrate : bool
        Measure the cached kernels (default); False uses the documented rates only
        (fast: what ``xorsweep specs`` shows).
    done : iterable of int
        Chunks already stored: time and disk cover the others.

    Returns
    -------
    Estimate
    """
    done = set(done)
    workers = min(jobs, plan.cores())  # more jobs than cores only take turns
    chunks = [c for c in plan.make_chunks(spec, chunk_size) if c.index not in done]
    per_group = plan.networks_per_group(spec)  # the group size the chunks follow
    momenta = list(spec.values("momentum"))
    sizes = sorted({c.stop - c.start for c in chunks})
    needs, seen = {}, {}
    for group in _groups(spec):
        task, H, act, loss = group
        X, _ = kernels.tasks.by_name(task)
        needs[group] = kernels.training.needed_kernels(
            X, n_hidden=H, activation=act, loss=loss, dtype=spec.dtype, sizes=sizes,
            momentum=momenta, epochs=spec.epochs)
        for k in needs[group]:
            seen.setdefault(k.name, k)
    # seconds per network-epoch on one worker, per group: measured, or from a rate per sigmoid
    rates, measured = {}, []
    for g0, group in zip(range(0, spec.n_networks, per_group), _groups(spec), strict=True):
        if (calibrate and device == "cpu" and all(k.cached for k in needs[group])
                and spec.epochs <= 2 ** (np.finfo(spec.dtype).nmant + 1)):  # (same kernels)
            rates[group] = _calibrate(spec, g0, min(per_group, chunk_size, CALIBRATION_NETS))
            measured.append(rates[group] / _sigmoids(group))
    per_row, per_file, store_s = _part_sizes(spec)
    train_s, method = None, "no estimate of GPU time"
    if device == "cpu":
        per_sigmoid = {kind: ns * 1e-9 for kind, ns in NS_PER_SIGMOID.items()}
        if measured:  # the generic kernel keeps its documented ratio to the generated ones
            scale = float(np.median(measured)) / per_sigmoid["generated"]
            per_sigmoid = {kind: v * scale for kind, v in per_sigmoid.items()}
        for group in _groups(spec):
            if group not in rates:
                kind = "generic" if any(k.kind == "generic" for k in needs[group]) \
                    else "generated"
                rates[group] = per_sigmoid[kind] * _sigmoids(group)
        groups = _groups(spec)
        seconds = [(rates[groups[c.start // per_group]] * spec.epochs + store_s)
                   * (c.stop - c.start) + CHUNK_OVERHEAD_S for c in chunks]
        train_s = _makespan(seconds, workers)
        n_measured = len(measured)
        if n_measured == len(groups):
            method = (f"calibrated: {n_measured} kernel group{'s' * (n_measured > 1)} "
                      f"trained briefly on this machine, kernels cached")
        elif n_measured:
            method = (f"calibrated on {n_measured} of {len(groups)} kernel groups here; "
                      f"the rest scaled by size, their kernels not yet compiled")
        else:
            method = ("documented rate of " + f"{NS_PER_SIGMOID['generated']:g} ns per "
                      "sigmoid per network-epoch on one core, not measured here"
                      + (": kernels not yet compiled" if calibrate else ""))
        method += (f"; {len(chunks):,} chunk{'s' * (len(chunks) != 1)} on {workers} "
                   f"worker{'s' * (workers > 1)}")
    kernel_list = tuple(seen.values())
    return Estimate(
        name=spec.name, n_cells=spec.n_cells, n_networks=spec.n_networks,
        network_epochs=spec.n_networks * spec.epochs, n_chunks=len(chunks),
        workers=workers, kernels=kernel_list,
        disk_bytes=_disk(chunks, per_row, per_file), train_s=train_s,
        compile_s=_compile_s(kernel_list, workers), method=method)


def _sigmoids(group) -> int:
    task, H, _, _ = group
    X, _ = kernels.tasks.by_name(task)
    return X.shape[0] * (H + 1)


def _makespan(seconds: list[float], workers: int) -> float:
    """Return when the last chunk ends, each taken in order by the first free worker."""
    free = np.zeros(workers)
    for s in seconds:
        k = int(np.argmin(free))
        free[k] += s
    return float(free.max())


def _compile_s(kernel_list, workers: int) -> float:
    """Return the documented time to compile the kernels not cached (``workers`` processes)."""
    todo = [k for k in kernel_list if not k.cached]
    if not todo:
        return 0.0
    each = [COMPILE_S[k.kind][0] + COMPILE_S[k.kind][1] * k.sigmoids for k in todo]
    # the first kernel compiles here; the rest, when several, in up to `workers` processes
    first, rest = each[0], each[1:]
    parallel = min(workers, max(len(rest), 1))
    if parallel > 1 and len(rest) > 1:  # each process starts, imports and compiles its own
        return (COMPILE_S["first"][0] + first + COMPILE_S["process"][0]
                + sum(rest) / parallel)
    return COMPILE_S["first"][0] + first + sum(rest)


def _calibrate(spec: Spec, g0: int, n: int) -> float:
    """Return seconds per network-epoch of group ``g0``'s kernel, measured on this thread."""
    per_group = plan.networks_per_group(spec)
    ids = g0 + np.linspace(0, per_group - 1, n).astype(np.int64)  # across the group's cells
    cols = plan.columns_of(spec, ids)
    X, Y = kernels.tasks.by_name(str(cols["task"][0]))
    p = initial_params(spec, cols)
    args = {"lr": cols["lr"], "momentum": cols["momentum"],
            "activation": str(cols["activation"][0]), "loss": str(cols["loss"][0]),
            "target_error": spec.target_error, "parallel": False}
    kernels.train(p, X, Y, epochs=1, **args)  # loads the kernel
    epochs = min(spec.epochs, 20)
    t0 = time.perf_counter()
    kernels.train(p, X, Y, epochs=epochs, **args)
    first = max(time.perf_counter() - t0, 1e-6)
    epochs = int(np.clip(epochs * CALIBRATION_S / first, epochs, max(spec.epochs, 1)))
    t0 = time.perf_counter()
    kernels.train(p, X, Y, epochs=epochs, **args)
    return (time.perf_counter() - t0) / (n * max(epochs, 1))


def _disk(chunks, per_row: float, per_file: float) -> int:
    """Return the bytes of the run's parts: per-file and per-row Parquet sizes, summed."""
    return int(sum(per_file + per_row * (c.stop - c.start) for c in chunks)) + 4096 * (
        len(chunks) // 8 + 2)  # the manifest and the frozen spec


def _part_sizes(spec: Spec) -> tuple[float, float, float]:
    """Return the Parquet bytes per network (row and curve) and per chunk of a spec's parts.

    And the seconds per network of building and serializing them (measured).
    """
    curve_epochs = kernels.record_epochs(spec.epochs, spec.record_every)
    K = len(curve_epochs)
    sizes, seconds = [], []
    rng = np.random.default_rng(0)  # placeholder results: as incompressible as real losses
    N = spec.n_networks
    n1 = max(1, min(64, N // 2))
    n2 = min(N, n1 + min(1024, max(64, 200_000 // K)))
    for n in (n1, n2):
        S = max(len(kernels.tasks.by_name(t)[1]) for t in spec.tasks)
        codes = rng.integers(0, len(kernels.OUTCOMES), n).astype(np.int8)
        result = {"start": 0, "stop": n, "loss": rng.random(n),
                  "converged_epoch": rng.integers(-1, spec.epochs + 1, n),
                  # as a chunk's: names and the kernels' codes, which the store writes
                  "outcome": np.array(kernels.OUTCOMES)[codes], "outcome_code": codes,
                  "outputs": rng.random((n, S)), "curve": rng.random((n, K)),
                  "curve_epochs": curve_epochs}
        t0 = time.perf_counter()
        sizes.append(len(store.table_bytes(network_table(spec, result)))
                     + len(store.table_bytes(curve_table(result))))
        seconds.append(time.perf_counter() - t0)
    store_s = seconds[-1] / n2  # what a worker spends per network encoding its parts
    b1, b2 = sizes
    if n2 == n1:  # one network: all of it per row
        return b1 / n1, 0.0, store_s
    per_row = (b2 - b1) / (n2 - n1)
    return per_row, max(b1 - per_row * n1, 0.0), store_s
