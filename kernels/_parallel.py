"""Spread a compiled range function over a pool of threads.

The compiled kernels release the GIL (``nogil=True``) and work on disjoint
slices, so plain Python threads run them in parallel, and the split never
changes a bit.  This costs far less compile time than numba's ``parallel=True``
(its parfor pipeline) and lets Ctrl-C drop the work not yet started.
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import config


def launch(run_range, n_items: int, parallel: bool, args: tuple) -> None:
    """Call ``run_range(start, stop, *args)`` over ``[0, n_items)``, split across threads.

    Which level owns the cores: with ``parallel`` this call does, with
    ``numba.get_num_threads()`` threads (``NUMBA_NUM_THREADS`` sets it); without,
    the caller does and the whole range runs on the calling thread.
    """
    threads = num_threads() if parallel else 1
    run_range(0, 0, *args)  # compile (or load from cache) once, on this thread
    if threads <= 1 or n_items <= 1:
        run_range(0, n_items, *args)
        return
    n_chunks = min(n_items, threads * config.CHUNKS_PER_THREAD)
    bounds = np.linspace(0, n_items, n_chunks + 1).astype(np.int64)
    pool = ThreadPoolExecutor(threads)
    try:
        list(pool.map(lambda i: run_range(bounds[i], bounds[i + 1], *args), range(n_chunks)))
    finally:  # on Ctrl-C, drop the ranges not yet started instead of running them all
        pool.shutdown(wait=True, cancel_futures=True)


def num_threads() -> int:
    """Return ``numba.get_num_threads()``, without importing numba if it is not loaded.

    Until numba is imported nobody can have changed its count with
    ``numba.set_num_threads``, so it is numba's default: ``NUMBA_NUM_THREADS``, else
    the CPUs this process may run on.
    """
    if "numba" in sys.modules:
        import numba

        return numba.get_num_threads()
    env = os.environ.get("NUMBA_NUM_THREADS", "").strip()
    if env:
        return max(1, int(env))
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
               else os.cpu_count() or 1)
