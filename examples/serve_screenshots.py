"""Redraw docs/images/serve-*.png: ``xorsweep serve`` in headless Chromium at 1400 px.

Runs three sweeps into a temporary directory (two complete ones to compare, and
one that is paused half-way, so that its page shows a sweep being watched),
serves them, and saves the list of runs, the run being watched and the
comparison.  Needs Chromium (``apt-get install chromium``); about a minute on
2 cores, most of it the sweeps.

    python examples/serve_screenshots.py [OUT_DIR]    # default docs/images
"""

from __future__ import annotations

import base64
import json
import re
import select
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the browser harness of the tests

from tests.test_report_browser import WIDTH, Browser  # noqa: E402

GRID = "lr = { logspace = [-0.5, 1.5, 7] }\ninit_scale = [0.25, 0.5, 1.0, 2.0, 4.0]\n"
SPECS = {
    "plain": ('description = "plain gradient descent"\nepochs = 2000\nreplicates = 60\n'
              f"[grid]\n{GRID}"),
    "momentum": ('description = "heavy-ball momentum 0.9"\nepochs = 2000\nreplicates = 60\n'
                 f"[grid]\n{GRID}momentum = [0.9]\n"),
    "watched": ('description = "a long sweep, watched while it runs"\nepochs = 200000\n'
                f"replicates = 8\nrecord_every = 20000\n[grid]\n{GRID}"),
}


def _sweep(root: Path, name: str, *args: str) -> subprocess.Popen:
    spec = root.parent / f"{name}.toml"
    spec.write_text(f'name = "{name}"\n' + SPECS[name])
    return subprocess.Popen([sys.executable, "-m", "xorsweep.cli", "run", str(spec), "--out",
                             str(root), "--quiet", *args], stdout=subprocess.DEVNULL)


def _shot(browser: Browser, url: str, path: Path, ready: str, max_height: int = 2600) -> None:
    browser.open(url)
    deadline = time.monotonic() + 60
    while not browser.js(ready):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url}: {ready}")
        time.sleep(0.2)
    time.sleep(0.5)
    height = min(max_height, browser.js("Math.ceil(document.body.getBoundingClientRect()"
                                        ".bottom) + 24"))
    browser.send("Emulation.setDeviceMetricsOverride", session=True, width=WIDTH,
                 height=height, deviceScaleFactor=1, mobile=False)
    time.sleep(0.3)
    png = browser.send("Page.captureScreenshot", session=True, format="png")["data"]
    path.write_bytes(base64.b64decode(png))
    errors = browser.errors()
    if errors:
        raise RuntimeError(f"{url}: {errors}")
    print(f"wrote {path} ({WIDTH} x {height})")


_IMAGES = ("Array.prototype.every.call(document.querySelectorAll('figure img'), function (i) "
           "{ return i.complete && i.naturalWidth > 0; }) && "
           "document.querySelectorAll('figure img').length > 0")


def main(out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "runs"
        root.mkdir()
        for name in ("plain", "momentum"):
            if _sweep(root, name).wait() != 0:
                raise RuntimeError(f"the {name} sweep failed")
        watched = _sweep(root, "watched", "--chunk-size", "8", "--jobs", "1")
        manifest = root / "watched" / "manifest.json"
        while True:  # pause it a little past a third of the way
            time.sleep(0.05)
            try:
                m = json.loads(manifest.read_text())
            except (OSError, ValueError):
                continue
            if len(m["done"]) >= 0.4 * len(m["chunks"]):
                watched.send_signal(signal.SIGSTOP)
                break
        server = subprocess.Popen([sys.executable, "-m", "xorsweep.cli", "serve", str(root),
                                   "--port", "0"], stdout=subprocess.PIPE, text=True)
        try:
            select.select([server.stdout], [], [], 60)
            url = re.search(r"http://\S+/", server.stdout.readline()).group(0)
            browser = Browser(Path(tmp) / "profile")
            try:
                _shot(browser, url, out / "serve-list.png",
                      "document.querySelectorAll('#runs tbody tr').length === 3")
                _shot(browser, f"{url}runs/watched", out / "serve-run.png", _IMAGES,
                      max_height=1560)
                _shot(browser, f"{url}compare?a=plain&b=momentum", out / "serve-compare.png",
                      _IMAGES)
            finally:
                browser.close()
        finally:
            server.send_signal(signal.SIGINT)
            server.communicate(timeout=20)
            watched.send_signal(signal.SIGCONT)
            watched.kill()
            watched.wait()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "images")
