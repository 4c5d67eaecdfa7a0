"""Running chunks on a dask.distributed cluster, submitted through the Dask client.

Workers compute chunks (``chunk.compute_chunk``, a module-level function) and
send back their encoded parts; the driver alone writes the store, exactly as with
the local backends, so resume and invariance hold unchanged and workers need
no shared filesystem.  Each chunk runs on one worker thread: a worker with T
threads trains T chunks at once, one core each.  Chunks go to the cluster with
``client.submit`` (:func:`submit_chunks`), never through joblib: joblib runs a
``Parallel`` of ``n_jobs == 1`` in the calling process whatever the backend,
so a one-thread cluster would have trained nothing and the driver everything.

Before dispatching, every worker compiles the kernels the spec needs once
(``client.run``): one worker per host first, then the others, which load what
it cached, so a host's on-disk caches are never written by several processes
at once.
"""

from __future__ import annotations

import contextlib
import gc
import os
import time
from collections.abc import Iterable, Iterator

from . import plan
from .store import RunError

__all__ = ["ClusterError", "connect", "check_address", "local_cluster", "submit_chunks",
           "warm_workers", "SCHEDULER_ENV", "CONNECT_TIMEOUT_S"]

#: Environment variable read for the scheduler address when ``--scheduler`` is not given.
SCHEDULER_ENV = "XORSWEEP_SCHEDULER"
#: Seconds to wait for the scheduler and its first worker, together.  With Python's
#: start-up (about 1 s) an unreachable scheduler is reported within 15 s of wall time.
CONNECT_TIMEOUT_S = 12
#: The share of :data:`CONNECT_TIMEOUT_S` given to reaching the scheduler; the rest
#: (and whatever the connection did not use) is left for its first worker.
_CONNECT_SHARE = 0.8

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
    Reaching the scheduler and seeing its first worker share one deadline of
    :data:`CONNECT_TIMEOUT_S` seconds.

    Raises
    ------
    RunError
        If dask.distributed is not installed (says what to install).
    ClusterError
        If the address is malformed or its protocol unusable here, if the
        scheduler does not answer, or if it has no worker, within the deadline.
    """
    distributed = _distributed()
    # A client that failed to connect is freed by the garbage collector, and its __del__
    # closes its event loop runner: run inside the next Client's constructor, which holds
    # that runner's lock, it waits for the lock forever.  Free such clients first.
    gc.collect()
    address = scheduler or os.environ.get(SCHEDULER_ENV) or None
    if address is None:
        with local_cluster(jobs or plan.cores()) as cluster, \
                distributed.Client(cluster) as client:
            yield client
        return
    deadline = time.monotonic() + CONNECT_TIMEOUT_S
    scheme = check_address(address)
    fix = f"fix --scheduler / ${SCHEDULER_ENV}"
    try:  # the connection's share of the deadline leaves the rest to the first worker
        client = distributed.Client(address, timeout=_CONNECT_SHARE * CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError) as exc:
        raise ClusterError(f"cannot reach the Dask scheduler at {address} within "
                           f"{_CONNECT_SHARE * CONNECT_TIMEOUT_S:g} s ({type(exc).__name__}); "
                           f"start it with `dask scheduler`, or {fix}") from None
    except Exception as exc:  # noqa: BLE001 - e.g. tls:// without certificates, ucx:// without ucxx
        reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        setup = _SETUP.get(scheme, f"{scheme}:// needs setting up in Dask's configuration")
        raise ClusterError(f"cannot connect to the Dask scheduler at {address} ({reason}); "
                           f"{setup}, or use a tcp:// address") from None
    with client:
        try:  # a scheduler without workers would leave the run waiting with no message
            client.wait_for_workers(1, timeout=max(0.5, deadline - time.monotonic()))
        except (TimeoutError, OSError):
            raise ClusterError(f"the Dask scheduler at {address} has no workers; start them "
                               f"with `dask worker {address}`") from None
        yield client


#: What a protocol other than tcp:// needs before a client can use it.
_SETUP = {"tls": "tls:// needs certificates in Dask's configuration (distributed.comm.tls)",
          "wss": "wss:// needs certificates in Dask's configuration (distributed.comm.tls)",
          "ucx": "ucx:// needs the distributed-ucxx package on every machine"}


def check_address(address: str) -> str:
    """Return the protocol of a scheduler ``address``; raise ClusterError if it is malformed.

    Needs dask.distributed (a RunError says how to install it); contacts nothing.
    """
    distributed = _distributed()
    try:
        scheme, _ = distributed.comm.parse_address(address)
        distributed.comm.registry.get_backend(scheme)  # a known protocol
        if scheme in ("tcp", "tls", "ws", "wss"):
            _, port = distributed.comm.get_address_host_port(address)
            if not 0 < port < 65536:
                raise ValueError(f"port {port} is out of range")
    except ValueError as exc:
        raise ClusterError(f"{address!r} is not a Dask scheduler address ({exc}); give one "
                           f"like tcp://10.0.0.5:8786 with --scheduler or ${SCHEDULER_ENV}"
                           ) from None
    return scheme


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


#: Chunks submitted but not yet collected, per worker thread of the cluster: enough
#: to keep every thread busy while the driver stores results, few enough that a run
#: of a million chunks never floods the scheduler.
IN_FLIGHT_PER_THREAD = 2


def submit_chunks(client, func, calls: Iterable[tuple]) -> Iterator:
    """Run ``func(*args)`` on the cluster's workers for each ``args``; yield results as they come.

    Never runs ``func`` in this process, whatever the cluster's size.  At most
    :data:`IN_FLIGHT_PER_THREAD` tasks per worker thread are submitted at a time;
    the thread count is read again every second, so workers that join late get
    their share.  Closing the generator, or an error, cancels the tasks not
    collected yet.

    Parameters
    ----------
    client : distributed.Client
    func : callable
        Importable on the workers by name (e.g. ``chunk.compute_chunk``), or picklable.
    calls : iterable of tuple
        The positional arguments of each task; read lazily.

    Yields
    ------
    object
        Each task's return value, in the order the tasks finish.

    Raises
    ------
    Exception
        The first error a task raises (Dask's ``KilledWorker`` if it killed its workers).
    """
    distributed = _distributed()
    calls = iter(calls)
    pending: set = set()
    finished = distributed.as_completed()

    def top_up(limit: int) -> None:
        while len(pending) < limit and (args := next(calls, None)) is not None:
            future = client.submit(func, *args, pure=False)
            pending.add(future)
            finished.add(future)

    try:
        limit, checked = IN_FLIGHT_PER_THREAD * worker_threads(client), time.monotonic()
        top_up(limit)
        for future in finished:
            result = future.result()  # a failed chunk stays pending: cancelled below
            pending.discard(future)
            del future  # the cluster may forget the result once it is here
            if time.monotonic() - checked > 1.0:
                limit, checked = IN_FLIGHT_PER_THREAD * worker_threads(client), time.monotonic()
            top_up(limit)  # before the result is stored: the workers stay busy meanwhile
            yield result
    finally:
        if pending:
            client.cancel(list(pending))


def warm_workers(client, spec_data: dict, sizes=None) -> None:
    """Compile (or load from cache) the kernels ``spec_data`` needs on every worker, once.

    ``sizes``: the chunk sizes the workers will train (see :func:`kernels.warmup`).

    One worker per host compiles first, filling that host's on-disk caches; then
    the others load from them, so no cache is written by several processes at once.
    """
    import kernels

    from .warmup import warm_kernels

    # a lambda travels by value: a worker whose xorsweep predates NUMERICS answers 1
    numerics = client.run(lambda: getattr(__import__("kernels"), "NUMERICS", 1))
    for address, theirs in sorted(numerics.items()):
        if theirs != kernels.NUMERICS:
            raise RunError(f"the Dask worker {address} computes in kernel numerics {theirs} and "
                           f"this xorsweep in {kernels.NUMERICS} (results differ in the last "
                           "bits); install this xorsweep on every worker")
    workers = client.scheduler_info(n_workers=-1)["workers"]
    first: dict[str, str] = {}
    for address, info in sorted(workers.items()):
        first.setdefault(info.get("host", address), address)
    client.run(warm_kernels, spec_data, 1, sizes, workers=list(first.values()))
    rest = [a for a in workers if a not in first.values()]
    if rest:
        client.run(warm_kernels, spec_data, 1, sizes, workers=rest)
