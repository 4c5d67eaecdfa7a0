"""The report in a real browser: headless Chromium (Debian's package), driven over its pipe.

Chromium's DevTools protocol runs over ``--remote-debugging-pipe``: JSON messages,
each ended by a NUL byte, read from file descriptor 3 and written to 4.  That needs
no client library, so this module drives the browser with the standard library:
it loads the page at 1400 x 1000 px, collects console errors and uncaught
exceptions, clicks table headers and measures the page's width.

The tests skip where Chromium is missing, except under CI (``CI`` set), where
``.ci/run`` installs it and a skip would hide a broken page.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import time

import pytest

import sweeps
from analysis.report import write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None and not os.environ.get("CI"):
    pytest.skip("chromium is not installed (apt-get install chromium)",
                allow_module_level=True)

WIDTH = 1400
# a long unbroken spec value: it must wrap, not widen the page
LONG = "runs/" + "very_long_unbroken_path_component_" * 12 + "end"
SPEC = {"name": "browser", "description": f"Written to {LONG}.", "epochs": 60,
        "replicates": 12, "record_every": 20,
        "grid": {"lr": [0.5, 2.0, 8.0, 16.0], "init_scale": [0.5, 2.0]}}


class Browser:
    """Headless Chromium with one page, spoken to in the DevTools protocol over a pipe."""

    def __init__(self, user_data_dir):
        to_browser_r, self._w = os.pipe()
        self._r, from_browser_w = os.pipe()
        args = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-extensions", "--hide-scrollbars",
                "--mute-audio", f"--user-data-dir={user_data_dir}",
                f"--window-size={WIDTH},1000", "--remote-debugging-pipe", "about:blank"]
        # the pipe's ends go to the descriptors Chromium reads (3) and writes (4)
        self.proc = subprocess.Popen(
            ["bash", "-c", f'exec "$@" 3<&{to_browser_r} 4>&{from_browser_w}', "chromium",
             *args], pass_fds=(to_browser_r, from_browser_w),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buf = b""
        self._id = 0
        self.events: list[dict] = []
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.send("Target.attachToTarget", targetId=target,
                                 flatten=True)["sessionId"]

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._r], [], [], left)[0]:
                raise TimeoutError("no answer from chromium")
            chunk = os.read(self._r, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed its pipe")
            self._buf += chunk
        message, self._buf = self._buf.split(b"\0", 1)
        return json.loads(message)

    def send(self, method: str, session: bool = False, timeout: float = 20, **params):
        """Send one command; return its result (events that arrive meanwhile are kept)."""
        self._id += 1
        message = {"id": self._id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self._w, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            m = self._read(deadline)
            if m.get("id") == self._id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m["result"]
            self.events.append(m)

    def wait_for(self, method: str, timeout: float = 20) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for m in self.events:
                if m.get("method") == method:
                    self.events.remove(m)
                    return m
            self.events.append(self._read(deadline))

    def open(self, url: str) -> None:
        """Load ``url`` at WIDTH px and wait for its load event."""
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable", session=True)
        self.send("Emulation.setDeviceMetricsOverride", session=True, width=WIDTH,
                  height=1000, deviceScaleFactor=1, mobile=False)
        self.events.clear()
        self.send("Page.navigate", session=True, url=url)
        self.wait_for("Page.loadEventFired")

    def js(self, expression: str):
        """Evaluate ``expression`` in the page; return its value (JSON-able)."""
        r = self.send("Runtime.evaluate", session=True, expression=expression,
                      returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expression}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and error log entries seen so far."""
        try:
            self.send("Runtime.evaluate", session=True, expression="0")  # flush events
        except RuntimeError:
            pass
        out = []
        for m in self.events:
            p = m.get("params", {})
            if m.get("method") == "Runtime.exceptionThrown":
                d = p["exceptionDetails"]
                out.append(f"{d.get('text', '')} {d.get('exception', {}).get('description', '')}")
            elif m.get("method") == "Runtime.consoleAPICalled" and p.get("type") in (
                    "error", "assert"):
                out.append(" ".join(str(a.get("value", a.get("description")))
                                    for a in p.get("args", [])))
            elif m.get("method") == "Log.entryAdded" and p["entry"]["level"] == "error":
                out.append(p["entry"]["text"])
        return out

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=5)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._r)
        os.close(self._w)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if CHROMIUM is None:
        pytest.fail("chromium is not installed; CI must install it (.ci/run does)")
    b = Browser(tmp_path_factory.mktemp("chromium-profile"))
    yield b
    b.close()


@pytest.fixture(scope="module")
def page_url(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    sweeps.run(SPEC, out=out)
    return (write_report(out / "browser")).resolve().as_uri()


# the visible text of column `name` of the first sortable table (the outcome table), or of
# the convergence table when `table` is "last"
_COLUMN = """(function (name, which) {
  var tables = document.querySelectorAll("table.sortable");
  var t = which === "last" ? tables[tables.length - 1] : tables[0];
  var heads = Array.prototype.map.call(t.tHead.rows[0].cells,
                                       function (th) { return th.textContent; });
  var col = heads.indexOf(name);
  if (col < 0) { throw new Error("no column " + name + " in " + heads.join(",")); }
  return {col: col, values: Array.prototype.map.call(t.tBodies[0].rows, function (r) {
    return r.cells[col].textContent; })};
})"""


def _column(browser, name: str) -> list[str]:
    return browser.js(f"{_COLUMN}({json.dumps(name)}, 'last').values")


def _click(browser, name: str) -> None:
    col = browser.js(f"{_COLUMN}({json.dumps(name)}, 'last').col")
    browser.js("(function () { var t = document.querySelectorAll('table.sortable'); "
               f"t[t.length - 1].tHead.rows[0].cells[{col}].click(); }})()")


def _numbers(values: list[str]) -> list[float]:
    return [float("inf") if v == "never" else float(v.replace(",", "").rstrip("%"))
            for v in values]


def test_report_loads_without_errors_sorts_and_fits_1400_px(browser, page_url):
    browser.open(page_url)
    assert browser.errors() == []
    assert browser.js("document.title").startswith("xorsweep report")

    # sorting: a numeric column up, then down; "never" (infinite) after every number
    before = _column(browser, "rate")
    _click(browser, "rate")
    up = _numbers(_column(browser, "rate"))
    assert up == sorted(up)
    assert sorted(_column(browser, "rate")) == sorted(before)  # the rows moved, none lost
    _click(browser, "rate")
    down = _numbers(_column(browser, "rate"))
    assert down == sorted(up, reverse=True)
    assert down != up
    _click(browser, "expected_epochs")
    epochs = _numbers(_column(browser, "expected_epochs"))
    assert epochs == sorted(epochs)
    # rows stay whole: the lr of each row follows its rate
    lr_rate = list(zip(_column(browser, "lr"), _column(browser, "rate"), strict=True))
    _click(browser, "lr")
    assert sorted(zip(_column(browser, "lr"), _column(browser, "rate"), strict=True)) == \
        sorted(lr_rate)
    assert _numbers(_column(browser, "lr")) == sorted(_numbers(_column(browser, "lr")))

    # the header stays visible when the table scrolls inside its box
    stuck = browser.js("""(function () {
      var box = document.querySelectorAll('.scroll')[0];
      box.style.maxHeight = '8em';
      box.scrollTop = 200;
      var th = box.querySelector('th').getBoundingClientRect();
      return Math.abs(th.top - box.getBoundingClientRect().top) < 2 && box.scrollTop > 0;
    })()""")
    assert stuck

    # no sideways scrolling at 1400 px, the long spec value wrapped
    widths = browser.js("[window.innerWidth, document.documentElement.scrollWidth, "
                        "document.body.scrollWidth]")
    assert widths[0] == WIDTH
    assert max(widths[1:]) <= WIDTH, widths
    assert LONG in browser.js("document.body.textContent")
    assert browser.errors() == []


def test_the_harness_sees_errors_and_overflow(browser, tmp_path):
    # so that the test above can fail: a console error, an exception and a wide page are seen
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><html><body><div style='width: 3000px'>wide</div>"
                   "<script>console.error('boom'); undefined_function();</script>"
                   "</body></html>")
    browser.open(bad.as_uri())
    errors = browser.errors()
    assert any("boom" in e for e in errors)
    assert any("undefined_function" in e for e in errors)
    assert browser.js("document.body.scrollWidth") > WIDTH
