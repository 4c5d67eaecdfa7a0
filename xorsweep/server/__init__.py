"""``xorsweep serve``: a local, read-only web app over a directory of runs.

>>> from xorsweep import server
>>> app = server.create_app("runs", hosts=server.LOOPBACK_HOSTS)  # doctest: +SKIP
>>> sock = server.bind("127.0.0.1", 8000)                          # doctest: +SKIP
>>> server.run(app, sock)     # until Ctrl-C                       # doctest: +SKIP

The app is Starlette's, served by uvicorn (docs/serve.md says why); it sits on top
of ``sweeps`` (the store's verified readers, ``sweeps.catalog``) and ``analysis``
(tables and figures), and nothing below imports it.  Pages: the list of runs, a
run's page that follows a sweep as its chunks land, and a comparison of two runs.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import signal
import socket
import threading

from .app import LOOPBACK_HOSTS, create_app

__all__ = ["LOOPBACK_HOSTS", "ServeError", "bind", "create_app", "is_loopback", "run",
           "sigterm_interrupts"]


class ServeError(RuntimeError):
    """The server cannot start (the port is taken, the address is not this machine's)."""


def is_loopback(host: str) -> bool:
    """Return whether ``host`` names this machine only (127.0.0.0/8, ::1, ``localhost``)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """Return a listening TCP socket on ``host``:``port`` (port 0: one the system picks).

    Raises
    ------
    ServeError
        If the port is in use, not allowed, or ``host`` is not an address of this
        machine; the message says what to do.
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as exc:
        raise ServeError(f"cannot serve on {host!r}: {exc.strerror}; give an address of "
                         "this machine with --host (default 127.0.0.1)") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # not SO_REUSEPORT
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ServeError(f"port {port} on {host} is in use (another server?); choose "
                             "another with --port, or --port 0 for a free one") from None
        if exc.errno == errno.EACCES:
            raise ServeError(f"not allowed to listen on port {port}; choose one above "
                             "1023 with --port") from None
        raise ServeError(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def run(app, sock: socket.socket) -> None:
    """Serve ``app`` on ``sock`` with uvicorn until interrupted.

    Ctrl-C (or SIGTERM) stops the server gracefully: open requests get up to 2 s
    to finish.  uvicorn raises the signal again once it has stopped, to the handler
    that was there before it: Ctrl-C ends in ``KeyboardInterrupt`` here, for the
    caller to take as a normal end, and so does SIGTERM within
    :func:`sigterm_interrupts` (its default would kill the process).
    """
    import uvicorn

    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                            ws="none", http="h11", server_header=False,
                            timeout_graceful_shutdown=2)
    uvicorn.Server(config).run(sockets=[sock])


@contextlib.contextmanager
def sigterm_interrupts():
    """Within this context (main thread only), SIGTERM raises ``KeyboardInterrupt``."""
    def interrupted(signum, frame):
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, interrupted)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
