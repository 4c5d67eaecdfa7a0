"""Running chunks on a dask.distributed cluster, through joblib's Dask backend.

Workers compute chunks (``runner.compute_chunk``, a module-level function) and
send back compact arrays; the driver alone writes the store, exactly as with
the local backends, so resume and invariance hold unchanged and workers need
no shared filesystem.  Each chunk runs on one worker thread: a worker with T
threads trains T chunks at once, one core each.

Before dispatching, every worker compiles the kernels the spec needs once
(``client.run``): one worker per host first, then the others, which load what
it cached, so a host's on-disk caches are never written by several processes
at once.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from .store import RunError

__all__ = ["ClusterError", "connect", "local_cluster", "SCHEDULER_ENV", "CONNECT_TIMEOUT_S"]

#: Environment variable read for the scheduler address when ``--scheduler`` is not given.
SCHEDULER_ENV = "XORSWEEP_SCHEDULER"
#: Seconds to wait for the scheduler before giving up.
CONNECT_TIMEOUT_S = 15

_INSTALL = "--backend dask needs dask.distributed; install it with: pip install 'xorsweep[dask]'"


class ClusterError(RuntimeError):
    """The cluster cannot be reached (nothing was written)."""


def _distributed():
    try:
        import distributed
    except ImportError:
        raise RunError(_INSTALL) from None
    return distributed


@contextlib.contextmanager
def connect(scheduler: str | None, jobs: int | None) -> Iterator[object]:
    """Yield a ``distributed.Client``: to ``scheduler``, or to a new LocalCluster.

    The address is ``scheduler``, else ``$XORSWEEP_SCHEDULER``; with neither, a
    LocalCluster of ``jobs`` (default: every core) single-threaded worker
    processes on 127.0.0.1, without a dashboard, is started and closed afterwards.

    Raises
    ------
    RunError
        If dask.distributed is not installed (says what to install).
    ClusterError
        If the scheduler does not answer within :data:`CONNECT_TIMEOUT_S` seconds.
    """
    distributed = _distributed()
    address = scheduler or os.environ.get(SCHEDULER_ENV) or None
    if address is None:
        with local_cluster(jobs or os.cpu_count() or 1) as cluster, \
                distributed.Client(cluster) as client:
            yield client
        return
    try:
        client = distributed.Client(address, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ClusterError(f"cannot reach the Dask scheduler at {address} within "
                           f"{CONNECT_TIMEOUT_S} s ({type(exc).__name__}); start it with "
                           "`dask scheduler`, or fix --scheduler / $"
                           f"{SCHEDULER_ENV}") from None
    with client:
        try:  # a scheduler without workers would leave the run waiting with no message
            client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
        except (TimeoutError, OSError):
            raise ClusterError(f"the Dask scheduler at {address} has no workers; start them "
                               f"with `dask worker {address}`") from None
        yield client


def local_cluster(n_workers: int):
    """Return a LocalCluster of single-threaded worker processes on loopback, no dashboard.

    (The scheduler's HTTP server, which serves only health checks without the
    dashboard, listens on a free loopback port, so clusters never clash over 8787.)
    """
    distributed = _distributed()
    return distributed.LocalCluster(
        n_workers=n_workers, threads_per_worker=1, processes=True, host="127.0.0.1",
        scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"})


def worker_threads(client) -> int:
    """Return the total number of worker threads (at least 1)."""
    return max(1, sum(client.nthreads().values()))


def warm_workers(client, spec_data: dict, sizes=None) -> None:
    """Compile (or load from cache) the kernels ``spec_data`` needs on every worker, once.

    ``sizes``: the chunk sizes the workers will train (see :func:`kernels.warmup`).

    One worker per host compiles first, filling that host's on-disk caches; then
    the others load from them, so no cache is written by several processes at once.
    """
    from .runner import warm_kernels

    workers = client.scheduler_info(n_workers=-1)["workers"]
    first: dict[str, str] = {}
    for address, info in sorted(workers.items()):
        first.setdefault(info.get("host", address), address)
    client.run(warm_kernels, spec_data, 1, sizes, workers=list(first.values()))
    rest = [a for a in workers if a not in first.values()]
    if rest:
        client.run(warm_kernels, spec_data, 1, sizes, workers=rest)
