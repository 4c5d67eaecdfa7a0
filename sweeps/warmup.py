"""Compiling (or loading from the cache) the kernels a sweep needs, before it trains.

Numba compiles on one core and each kernel takes seconds, so a run warms every
kernel its spec needs first: in this process, and, once one turns out not to be
cached, the rest in worker processes at once (:func:`warm_kernels`).  On a Dask
cluster every worker runs :func:`warm_kernels` itself (``cluster.warm_workers``).
Where a kernel was compiled never changes a result.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time

import kernels

from .spec import Spec, load_spec

__all__ = ["warm_kernels", "warm_with_progress"]

log = logging.getLogger(__name__)


#: A kernel that took longer than this to warm was compiled, not loaded from the cache.
_COMPILED_S = 1.0


def warm_kernels(spec_data: dict, jobs: int = 1, sizes=None, on_warm=None) -> None:
    """Compile (or load from the cache) every kernel a spec needs, in this process.

    A spec needs one kernel per (task, hidden, activation, loss).  Numba compiles
    on one core, and each kernel takes seconds, so with ``jobs > 1`` and the disk
    cache on: as soon as one kernel turns out not to be cached, the remaining ones
    compile in up to ``jobs`` worker processes at once, and this process then
    loads them from the cache.  The shared code is compiled here first, so the
    workers only read it.  Results never depend on where a kernel was compiled.
    ``sizes``: the chunk sizes that will be trained (see :func:`kernels.warmup`).
    ``on_warm``: called with each ``(task, hidden, activation, loss)`` once its
    kernels are ready (maybe more than once).
    """
    on_warm = on_warm or (lambda variant: None)
    spec = load_spec(spec_data)
    todo = [(task, H, act, loss) for task in spec.tasks for H in spec.grid["hidden"]
            for act in spec.grid["activation"] for loss in spec.grid["loss"]]
    momenta = list(spec.values("momentum"))  # without momentum and with it: two kernels
    while todo:
        t0 = time.perf_counter()
        first = todo.pop(0)
        _warm_variant(spec.dtype, *first, sizes=sizes, momenta=momenta)
        on_warm(first)
        cold = time.perf_counter() - t0 > _COMPILED_S
        if cold and jobs > 1 and len(todo) > 1 and kernels.config.CACHE:
            _warm_in_processes(spec.dtype, todo, jobs, sizes, momenta)
            for variant in todo:  # now a load from the cache
                _warm_variant(spec.dtype, *variant, sizes=sizes, momenta=momenta)
                on_warm(variant)
            return


def _warm_variant(dtype: str, task: str, H: int, act: str, loss: str, sizes=None,
                  momenta=(0.0,)) -> None:
    X, Y = kernels.tasks.by_name(task)
    kernels.warmup(X, Y, n_hidden=H, activation=act, loss=loss, dtype=dtype, sizes=sizes,
                   momentum=momenta)


def _warm_batch(dtype: str, variants: list, sizes=None, momenta=(0.0,)) -> int:
    for variant in variants:
        _warm_variant(dtype, *variant, sizes=sizes, momenta=momenta)
    return len(variants)


def _warm_in_processes(dtype: str, variants: list, jobs: int, sizes=None,
                       momenta=(0.0,)) -> int:
    """Compile ``variants`` in up to ``jobs`` fresh processes; return how many compiled.

    A failure there only costs time: the caller compiles whatever is not cached.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    n = min(jobs, len(variants))
    batches = [variants[k::n] for k in range(n)]
    log.info("compiling %d kernels in %d processes", len(variants), n)
    try:  # spawn: forking a process that runs threads is unsafe
        with _caller_script_hidden(), ProcessPoolExecutor(
                n, mp_context=multiprocessing.get_context("spawn"),
                initializer=_exit_with_parent, initargs=(os.getpid(),)) as pool:
            return sum(pool.map(_warm_batch, [dtype] * n, batches, [sizes] * n,
                                [momenta] * n))
    except Exception as exc:  # noqa: BLE001 - the caller compiles them itself
        log.warning("compiling kernels in worker processes failed (%s); compiling here", exc)
        return 0


@contextlib.contextmanager
def _caller_script_hidden():
    """Start spawned processes without the script that called ``sweeps.run``.

    A spawned child imports the parent's ``__main__`` (by its file, or by its name
    under ``python -m``) and so runs the caller's top-level code again, unguarded by
    ``if __name__ == "__main__"``: the whole sweep, once per compiler.  The compilers
    need only ``sweeps.warmup``, so the main module's file and spec are hidden while
    they start.
    """
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    saved = {k: vars(main)[k] for k in ("__file__", "__spec__") if k in vars(main)}
    main.__spec__ = None
    vars(main).pop("__file__", None)
    try:
        yield
    finally:
        vars(main).pop("__spec__", None)
        vars(main).update(saved)


def _exit_with_parent(parent: int) -> None:
    """End this process as soon as ``parent`` is gone (pool initializer of the compilers).

    A driver killed outright (SIGKILL, SIGTERM) cannot stop its pool; its compilers
    would be left compiling and then waiting forever for work.  A daemon thread
    watches for the re-parenting instead, checking every 0.1 s.
    """
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.1)
        os._exit(1)

    threading.Thread(target=watch, name="xorsweep-exit-with-parent", daemon=True).start()


def warm_with_progress(spec: Spec, jobs: int, sizes: list[int], progress: bool) -> None:
    """Compile (or load) the kernels a run needs; on a terminal, a bar of those compiled.

    The bar ("compiling 4 kernels, 2 cached") appears only when some are not cached.
    """
    from tqdm import tqdm

    todo: dict[tuple, list[str]] = {}  # per (task, hidden, activation, loss): uncached names
    names = set()
    for task in spec.tasks:
        X, _ = kernels.tasks.by_name(task)
        for H in spec.grid["hidden"]:
            for act in spec.grid["activation"]:
                for loss in spec.grid["loss"]:
                    need = kernels.training.needed_kernels(
                        X, n_hidden=H, activation=act, loss=loss, dtype=spec.dtype,
                        sizes=sizes, momentum=list(spec.values("momentum")))
                    names |= {k.name for k in need}
                    todo[(task, H, act, loss)] = [k.name for k in need if not k.cached]
    uncached = {name for names_ in todo.values() for name in names_}
    bar = tqdm(total=len(uncached), unit="kernel", disable=not (progress and uncached),
               desc=f"compiling {len(names)} kernels, {len(names) - len(uncached)} cached",
               file=sys.stderr, bar_format="{desc}: {n}/{total} {bar} {elapsed}")
    counted = set()

    def warmed(variant) -> None:
        new = set(todo.get(tuple(variant), ())) - counted
        counted.update(new)
        bar.update(len(new))

    try:
        warm_kernels(spec.to_dict(), jobs, sizes, on_warm=warmed)
    finally:
        bar.close()
