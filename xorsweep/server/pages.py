"""The HTML of the server's pages: small shells that ``static/serve.js`` fills from the JSON.

A page carries its first data inline (``<script type="application/json">``), so it
shows at once and without a second request; the script then polls the JSON
endpoints and updates the page in place.  Every page loads only ``/static/``
files of the package: nothing comes from the internet, and the Content Security
Policy of the responses says so to the browser.
"""

from __future__ import annotations

import html

__all__ = ["compare_page", "error_page", "list_page", "run_page"]


def _shell(title: str, page: str, body: str, data: bytes | None = None, **attrs: str) -> str:
    esc = html.escape
    extra = "".join(f" data-{k}='{esc(v)}'" for k, v in attrs.items())
    inline = ""
    if data is not None:  # JSON in a script element: only "</" could end it early
        inline = ("<script type='application/json' id='initial'>"
                  + data.decode().replace("</", "<\\/") + "</script>")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)}</title>
<link rel="stylesheet" href="/static/serve.css">
<link rel="icon" href="data:,">
</head>
<body data-page="{esc(page)}"{extra}>
<nav><a href="/">runs</a> <a href="/compare">compare</a>
<span class="where">xorsweep serve, read-only</span></nav>
{body}
{inline}
<script src="/static/serve.js"></script>
</body></html>
"""


def list_page(root: str, data: bytes) -> str:
    """Return the list of runs (filled and refreshed by the script)."""
    esc = html.escape
    body = f"""<h1>Runs</h1>
<p class="lead">Every run under <code>{esc(root)}</code>, oldest first, as
<code>xorsweep list</code> shows them; the list refreshes itself.</p>
<div id="runs" class="scroll"></div>
<p class="note" id="status"></p>"""
    return _shell("xorsweep: runs", "list", body, data)


def run_page(name: str, data: bytes) -> str:
    """Return a run's page: progress, headline, figures and table, refreshed as chunks land."""
    esc = html.escape
    body = f"""<h1 id="title">{esc(name)}</h1>
<p class="lead" id="description"></p>
<div id="error" class="warn" hidden></div>
<div id="progress"></div>
<div class="cards" id="cards"></div>
<h2>Figures</h2>
<p class="note" id="figures-note"></p>
<div id="figures" class="figures"></div>
<h2>Convergence table</h2>
<p class="note" id="table-note"></p>
<div id="table" class="scroll"></div>
<p class="note">The same data as JSON: <a id="api" href="/api/runs/{esc(name)}">/api/runs/{
esc(name)}</a>. Loss curves, failure-mode tables and init-slice images are in
<code>xorsweep report</code>'s page.</p>"""
    return _shell(f"xorsweep: {name}", "run", body, data, name=name)


def compare_page(data: bytes) -> str:
    """Return the comparison of two runs: their rates side by side and the difference."""
    body = """<h1>Compare two runs</h1>
<form id="pick" class="pick" method="get" action="/compare">
<label>run A <select name="a" id="pick-a"></select></label>
<label>run B <select name="b" id="pick-b"></select></label>
<button type="submit">compare</button></form>
<div id="error" class="warn" hidden></div>
<div id="sides" class="sides"></div>
<p class="note" id="method"></p>
<div id="figures" class="figures wide"></div>
<h2>By cell</h2>
<div id="table" class="scroll"></div>"""
    return _shell("xorsweep: compare", "compare", body, data)


def error_page(status: int, message: str) -> str:
    """Return a page that says what went wrong, in one sentence, and links back to the list."""
    esc = html.escape
    titles = {400: "Bad request", 404: "Not found", 500: "Cannot show this"}
    body = f"""<h1>{esc(titles.get(status, "Error"))}</h1>
<p class="warn" id="message">{esc(message)}</p>
<p><a href="/">All runs</a></p>"""
    return _shell(f"xorsweep: {titles.get(status, 'error')}", "error", body)
