"""The web app: routes, JSON endpoints and clean errors, on Starlette.

Pages (``/``, ``/runs/<name>``, ``/compare``) and JSON (``/api/...``; see
``docs/serve.md``).  A run is found by name among the entries of the directory
(:class:`xorsweep.server.runs.Runs`), never by joining a request path to a
directory, so ``..``, encoded or not, finds nothing.  Errors a user can cause
(an unknown run, a damaged run, a bad comparison) answer 404, 500 or 400 with one
sentence, as JSON under ``/api/`` and as a page elsewhere; a traceback goes only to
the server's log.  Endpoints are plain functions: Starlette runs them in its
thread pool, so reading a large run does not hold up other requests.
"""

from __future__ import annotations

import functools
import importlib.resources
import logging

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sweeps.store import RunError

from . import pages, views
from .compare import CompareError, comparison, comparison_png
from .runs import RunNotFound, Runs

__all__ = ["LOOPBACK_HOSTS", "create_app"]

log = logging.getLogger(__name__)

#: What the pages may load: their own origin only (and inline data: images, favicons).
_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
_STATIC = {"serve.js": "text/javascript; charset=utf-8", "serve.css": "text/css; charset=utf-8"}


def _response(body: bytes | str, status: int = 200, media: str = "application/json",
              cache: str = "no-store") -> Response:
    return Response(body, status_code=status, media_type=media,
                    headers={"Cache-Control": cache, "X-Content-Type-Options": "nosniff",
                             "Content-Security-Policy": _CSP, "Referrer-Policy": "no-referrer"})


def _json(data, status: int = 200) -> Response:
    return _response(views.to_json(data), status)


def _error(request: Request, status: int, message: str) -> Response:
    if request.url.path.startswith("/api/"):
        return _json({"error": message, "status": status}, status)
    return _response(pages.error_page(status, message), status, "text/html; charset=utf-8")


def _handled(endpoint):
    """Answer the errors a request can meet with a status and one sentence."""
    @functools.wraps(endpoint)
    def wrapper(request: Request) -> Response:
        try:
            return endpoint(request)
        except RunNotFound as exc:
            return _error(request, 404, f"no run named {str(exc)[:100]!r} in this directory")
        except CompareError as exc:
            return _error(request, 400, str(exc))
        except RunError as exc:  # StoreError among them: a damaged run
            return _error(request, 500, f"this run cannot be read: {exc}")
    return wrapper


class _HostCheck:
    """Refuse requests whose Host header is not one of ``hosts`` (the loopback names).

    A page on another site cannot then read the runs through a name that it points
    at 127.0.0.1 (DNS rebinding).
    """

    def __init__(self, app, hosts: set[str]):
        self.app, self.hosts = app, hosts

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            host = dict(scope["headers"]).get(b"host", b"").decode("latin-1").lower()
            name = host[1:].split("]")[0] if host.startswith("[") else host.split(":")[0]
            if name not in self.hosts:
                response = _response(views.to_json({"error": "unknown Host header",
                                                    "status": 400}), 400)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


#: The Host names of a server bound to loopback.
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


def create_app(root, *, hosts: set[str] | None = None) -> Starlette:
    """Return the web app over the runs directly under ``root`` (read-only).

    Parameters
    ----------
    root : path
        The directory of the runs (``xorsweep run --out``).
    hosts : set of str, optional
        The Host header names to answer (e.g. :data:`LOOPBACK_HOSTS`); default: any.

    Returns
    -------
    Starlette
        An ASGI app; serve it with :func:`xorsweep.server.run` or any ASGI server.
    """
    runs = Runs(root)

    @_handled
    def index(request: Request) -> Response:
        return _response(pages.list_page(str(runs.root), views.to_json(views.run_list(runs))),
                         media="text/html; charset=utf-8")

    @_handled
    def api_runs(request: Request) -> Response:
        return _json(views.run_list(runs))

    @_handled
    def run_page(request: Request) -> Response:
        name = request.path_params["name"]
        data = views.to_json(views.run_detail(runs, name))
        return _response(pages.run_page(name, data), media="text/html; charset=utf-8")

    @_handled
    def api_run(request: Request) -> Response:
        return _json(views.run_detail(runs, request.path_params["name"]))

    @_handled
    def api_table(request: Request) -> Response:
        return _response(views.run_table(runs, request.path_params["name"]))

    @_handled
    def api_heatmap(request: Request) -> Response:
        return _response(views.run_heatmap(runs, request.path_params["name"]))

    @_handled
    def api_figure(request: Request) -> Response:
        name, figure = request.path_params["name"], request.path_params["figure"]
        png = views.figure_png(runs, name, figure)
        if png is None:
            return _error(request, 404, f"run {name!r} has no figure {figure[:40]!r}")
        return _response(png, media="image/png", cache="no-cache")

    def _compare(request: Request) -> dict | None:
        q = request.query_params
        a, b = q.get("a"), q.get("b")
        if not a or not b:
            return None
        sides = []
        for name in (a, b):
            data = runs.data(name)
            sides.append((data, data.snapshot()))
        return comparison(sides[0], sides[1], q.getlist("by"))

    @_handled
    def compare_page(request: Request) -> Response:
        names = [r["name"] for r in views.run_list(runs)]
        try:
            data, status = {"runs": names, "comparison": _public(_compare(request))}, 200
        except CompareError as exc:  # the page still offers the runs to pick
            data, status = {"runs": names, "comparison": None, "error": str(exc)}, 400
        return _response(pages.compare_page(views.to_json(data)), status,
                         media="text/html; charset=utf-8")

    @_handled
    def api_compare(request: Request) -> Response:
        result = _compare(request)
        if result is None:
            raise CompareError("give two runs: /api/compare?a=RUN&b=RUN (and by=AXIS, "
                               "repeated, to choose the cells)")
        return _json(_public(result))

    @_handled
    def api_compare_figure(request: Request) -> Response:
        result = _compare(request)
        figure = request.path_params["figure"]
        if result is None:
            raise CompareError("give two runs: ?a=RUN&b=RUN")
        png = comparison_png(result, figure)
        if png is None:
            return _error(request, 404, f"no comparison figure {figure[:40]!r}")
        return _response(png, media="image/png", cache="no-cache")

    def static(request: Request) -> Response:
        name = request.path_params["file"]
        if name not in _STATIC:
            return _error(request, 404, "no such file")
        body = importlib.resources.files(__package__).joinpath("static", name).read_bytes()
        return _response(body, media=_STATIC[name], cache="no-cache")

    def not_found(request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 404:
            return _error(request, 404, "no such page; the runs are listed at /")
        return _error(request, exc.status_code, str(exc.detail))

    def failed(request: Request, exc: Exception) -> Response:
        return _error(request, 500, "the server failed on this request; its log says why")

    routes = [
        Route("/", index), Route("/runs/{name}", run_page), Route("/compare", compare_page),
        Route("/api/runs", api_runs), Route("/api/runs/{name}", api_run),
        Route("/api/runs/{name}/table", api_table),
        Route("/api/runs/{name}/heatmap", api_heatmap),
        Route("/api/runs/{name}/figures/{figure}.png", api_figure),
        Route("/api/compare", api_compare),
        Route("/api/compare/figures/{figure}.png", api_compare_figure),
        Route("/static/{file}", static),
    ]
    middleware = [Middleware(_HostCheck, hosts=hosts)] if hosts else []
    app = Starlette(routes=routes, middleware=middleware,
                    exception_handlers={HTTPException: not_found, Exception: failed})
    app.state.runs = runs
    return app


def _public(result: dict | None) -> dict | None:
    """Return a comparison without its DataFrame (the table is there as JSON)."""
    return None if result is None else {k: v for k, v in result.items() if k != "frame"}
