"""``xorsweep serve``: a real server on a free loopback port, read over HTTP and in Chromium.

The server runs as a subprocess (``python -m xorsweep.cli serve DIR --port 0``, the
port it prints); the API is read with httpx, raw paths (``..`` not normalized) with
http.client, the pages with headless Chromium over the DevTools pipe
(tests/test_report_browser.py's harness).  A live sweep is paused with SIGSTOP so
that the page is seen mid-sweep whatever the machine's speed.
"""

from __future__ import annotations

import doctest
import http.client
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

import sweeps
from analysis import plots
from analysis.tables import convergence_table, varying_axes
from sweeps.store import open_run, part_name
from xorsweep.cli import main
from xorsweep.server import compare as server_compare
from xorsweep.server import runs as server_runs

SPEC_A = {"name": "alpha", "description": "lr x init_scale, for the tests of xorsweep serve",
          "epochs": 150, "replicates": 10, "record_every": 50,
          "grid": {"lr": [0.5, 2.0, 8.0], "init_scale": [0.5, 2.0]}}
SPEC_B = {**SPEC_A, "name": "beta", "description": "alpha with momentum",
          "grid": {**SPEC_A["grid"], "momentum": [0.5]}}
SPEC_C = {**SPEC_A, "name": "gamma", "description": "alpha from other seeds", "seed": 7}
# long trainings in chunks of two networks: paused after its first chunk by the test
SPEC_LIVE = {"name": "live", "description": "a sweep watched in the browser",
             "epochs": 300_000, "replicates": 4, "record_every": 30_000,
             "grid": {"lr": [0.5, 2.0, 8.0], "init_scale": [0.5, 2.0]}}


def _start_server(root: Path, *args: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "xorsweep.cli", "serve", str(root),
                             "--port", "0", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    line = ""
    while time.monotonic() < deadline and "http://" not in line:
        if select.select([proc.stdout], [], [], 1)[0]:
            line = proc.stdout.readline()
            if not line:
                break
    match = re.search(r"http://\S+/", line)
    if not match:
        proc.kill()
        pytest.fail(f"the server did not start: {line!r} {proc.stderr.read()}")
    return proc, match.group(0).rstrip("/")


def _stop(proc: subprocess.Popen) -> tuple[int, str, str]:
    proc.send_signal(signal.SIGINT)  # Ctrl-C
    out, err = proc.communicate(timeout=20)
    return proc.returncode, out, err


def _tree(root: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_sigterm_stops_the_server_as_ctrl_c_does(tmp_path):
    (tmp_path / "runs").mkdir()
    proc, _ = _start_server(tmp_path / "runs")
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert out.rstrip().endswith("stopped")


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    base = tmp_path_factory.mktemp("serve")
    root = base / "runs"
    sweeps.run(SPEC_A, out=root, chunk_size=16)
    sweeps.run(SPEC_B, out=root, chunk_size=16)
    sweeps.run(SPEC_C, out=root, chunk_size=16)
    # a damaged run: a copy of alpha with a truncated network part
    shutil.copytree(root / "alpha", root / "broken")
    part = root / "broken" / "networks" / part_name(1)
    part.write_bytes(part.read_bytes()[:100])
    # outside the directory: a secret, and a run reached through a link from inside
    (base / "secret.txt").write_text("SECRET-OUTSIDE-THE-RUNS")
    shutil.copytree(root / "alpha", base / "elsewhere")
    (root / "linked").symlink_to(base / "elsewhere")
    return root


@pytest.fixture(scope="module")
def server(root):
    proc, url = _start_server(root)
    yield url
    code, out, err = _stop(proc)
    assert code == 0, err
    assert "Traceback" not in err, err
    assert out.rstrip().endswith("stopped")


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server, timeout=60) as c:
        yield c


def _raw(url: str, path: str) -> tuple[int, bytes]:
    """GET ``path`` exactly as written (no dot-segment removal, no re-encoding)."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def test_api_lists_the_runs_with_the_facts_of_xorsweep_list(client, root):
    runs = {r["name"]: r for r in client.get("/api/runs").json()}
    assert set(runs) == {"alpha", "beta", "gamma", "broken"}  # "linked" leads out: not a run
    a = runs["alpha"]
    assert (a["state"], a["networks"], a["networks_done"], a["epochs"], a["progress"]) == \
        ("complete", 60, 60, 150, 1.0)
    assert a["size"] > 0
    assert a["created"] > 0
    assert a["running"] is False
    assert runs["broken"]["state"] == "damaged"


def test_api_run_detail_table_and_heatmap_are_the_reports(client, root):
    d = client.get("/api/runs/alpha").json()
    df = open_run(root / "alpha").networks()
    p = d["progress"]
    assert (p["chunks_done"], p["chunks"], p["networks_done"], p["networks"]) == (4, 4, 60, 60)
    assert p["complete"]
    assert p["eta_s"] is None
    assert p["rate"] > 0
    assert d["summary"]["networks"] == 60
    assert d["summary"]["converged"] == int((df["converged_epoch"] >= 0).sum())
    assert (d["axes"]["x"], d["axes"]["y"]) == ("lr", "init_scale")
    assert [f["name"] for f in d["figures"]] == ["heatmap", "heatmap_expected_epochs",
                                                  "fraction_converged", "failure_modes",
                                                  "epochs"]
    t = client.get(d["table"]).json()
    expected = convergence_table(df, by=varying_axes(df))
    assert t["total_rows"] == len(expected) == 6
    rate = t["columns"].index("rate")
    assert [row[rate][1] for row in t["rows"]] == pytest.approx(expected["rate"].tolist())
    h = client.get(d["heatmap"]).json()
    want = plots.heatmap_data(df, "lr", "init_scale", "rate")
    assert h["x_values"] == want.x_values
    assert h["y_values"] == want.y_values
    np.testing.assert_allclose(np.array(h["rate"], dtype=float), want.values)
    for f in d["figures"]:
        r = client.get(f["url"])
        assert r.status_code == 200
        assert r.headers["content-type"] == "image/png"
        assert r.content.startswith(b"\x89PNG")
    page = client.get("/runs/alpha")
    assert page.status_code == 200
    assert "alpha" in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]


def test_unknown_runs_and_pages_are_404(client):
    for path in ("/runs/nope", "/api/runs/nope", "/api/runs/nope/table",
                 "/api/runs/alpha/figures/nope.png", "/nope", "/static/nope.js"):
        r = client.get(path)
        assert r.status_code == 404, path
        assert "Traceback" not in r.text
    assert client.get("/api/runs/nope").json()["error"].startswith("no run named 'nope'")
    assert "Not found" in client.get("/runs/nope").text


@pytest.mark.parametrize("path", [
    "/runs/../../etc/passwd", "/runs/..%2f..%2fetc%2fpasswd", "/runs/%2e%2e/%2e%2e/etc/passwd",
    "/runs/%2e%2e", "/api/runs/%2e%2e", "/api/runs/..", "/api/runs/%2e%2e%2fsecret.txt",
    "/api/runs/..%2felsewhere", "/runs/..%2Felsewhere", "/api/runs/linked",
    "/api/runs/alpha%2f..%2f..%2fsecret.txt", "/api/runs/alpha/figures/..%2f..%2fspec.png",
    "/static/..%2fapp.py", "/static/../app.py", "/static/%2e%2e%2f__init__.py",
    "//etc/passwd", "/runs/%00", "/api/runs/alpha%00", "/../secret.txt",
])
def test_paths_out_of_the_directory_find_nothing(server, path):
    status, body = _raw(server, path)
    assert status in (400, 404), (path, status)
    for leak in (b"root:", b"SECRET-OUTSIDE", b"Traceback", b"import ", b"spec_digest"):
        assert leak not in body, (path, leak)


def test_a_damaged_run_is_an_error_page_not_a_traceback(client, root):
    r = client.get("/api/runs/broken")
    assert r.status_code == 500
    error = r.json()["error"]
    assert "part-00001.parquet" in error
    assert "xorsweep run" in error
    assert "Traceback" not in r.text
    page = client.get("/runs/broken")
    assert page.status_code == 500
    assert "part-00001.parquet" in page.text
    assert "Traceback" not in page.text
    for path in ("/api/runs/broken/table", "/api/runs/broken/heatmap",
                 "/api/runs/broken/figures/heatmap.png", "/api/compare?a=alpha&b=broken"):
        r = client.get(path)
        assert r.status_code == 500, path
        assert "error" in r.json(), path


def test_an_edited_spec_refuses_every_view_of_the_run_and_an_incomplete_run_says_how_to_resume(
        tmp_path):
    root = tmp_path / "runs"
    sweeps.run({**SPEC_A, "name": "edited"}, out=root, chunk_size=16)
    sweeps.run({**SPEC_A, "name": "part"}, out=root, chunk_size=16)
    spec = root / "edited" / "spec.toml"
    spec.write_text(spec.read_text().replace("epochs = 150", "epochs = 500"))
    manifest = root / "part" / "manifest.json"
    m = json.loads(manifest.read_text())
    del m["done"]["3"]
    manifest.write_text(json.dumps(m))
    proc, url = _start_server(root)
    try:
        with httpx.Client(base_url=url, timeout=60) as c:
            for path in ("/api/runs/edited", "/api/runs/edited/table",
                         "/api/runs/edited/heatmap", "/api/runs/edited/figures/heatmap.png"):
                r = c.get(path)
                assert r.status_code == 500, path
                assert "spec.toml was changed after the run began" in r.json()["error"], path
            states = {r["name"]: r["state"] for r in c.get("/api/runs").json()}
            assert states["edited"] == "damaged"
            progress = c.get("/api/runs/part").json()["progress"]
            assert progress["resume"] == (f"xorsweep run {(root / 'part').resolve()}/spec.toml "
                                          f"--out {root.resolve()}")
            assert c.get("/api/runs/edited/../part").status_code in (200, 404)
    finally:
        code, _, err = _stop(proc)
    assert code == 0, err


def test_a_part_damaged_after_it_was_read_is_seen(tmp_path):
    # the cache's key is the part's size and mtime: a changed part is read and checked again
    sweeps.run({**SPEC_A, "name": "cached"}, out=tmp_path, chunk_size=16)
    runs = server_runs.Runs(tmp_path)
    data = runs.data("cached")
    assert data.snapshot().n == 60
    assert data.parts_read == 4
    assert data.snapshot().version == data.version
    assert data.parts_read == 4
    part = tmp_path / "cached" / "networks" / part_name(2)
    raw = bytearray(part.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # same size, new mtime
    part.write_bytes(bytes(raw))
    with pytest.raises(sweeps.store.StoreError, match="part-00002.parquet is damaged"):
        data.snapshot()


def test_the_cache_reads_only_new_chunks(tmp_path):
    run = sweeps.run({**SPEC_A, "name": "growing"}, out=tmp_path, chunk_size=16)
    manifest = tmp_path / "growing" / "manifest.json"
    full = manifest.read_bytes()
    m = json.loads(full)
    del m["done"]["3"]  # as the run was before its last chunk landed
    manifest.write_text(json.dumps(m))
    data = server_runs.Runs(tmp_path).data("growing")
    first = data.snapshot()
    assert (first.n, data.parts_read, len(data.frame())) == (48, 3, 48)
    manifest.write_bytes(full)  # the last chunk lands
    second = data.snapshot()
    assert (second.n, data.parts_read) == (60, 4)
    assert second.converged == int((run.networks()["converged_epoch"] >= 0).sum())
    assert len(second.cells) == 6  # one row per grid point
    assert second.version != first.version
    assert data.frame().sort_values("network", ignore_index=True).equals(run.networks())


def test_compare_two_runs(client):
    c = client.get("/api/compare", params={"a": "alpha", "b": "beta"}).json()
    assert c["by"] == ["lr", "init_scale"]
    assert c["cells"] == 6
    cols = c["table"]["columns"]
    rows = c["table"]["rows"]
    for row in rows:
        a, b, diff = (row[cols.index(k)][1] for k in ("a_rate", "b_rate", "diff"))
        assert diff == pytest.approx(b - a)
        low, high = row[cols.index("diff_low")][1], row[cols.index("diff_high")][1]
        assert low <= diff <= high
    for f in c["figures"]:
        r = client.get(f["url"])
        assert r.status_code == 200
        assert r.content.startswith(b"\x89PNG")
    one = client.get("/api/compare", params={"a": "alpha", "b": "beta", "by": "lr"}).json()
    assert one["by"] == ["lr"]
    assert one["cells"] == 3
    bad = client.get("/api/compare", params={"a": "alpha", "b": "beta", "by": "nope"})
    assert bad.status_code == 400
    assert "not an axis of both runs" in bad.json()["error"]
    assert client.get("/api/compare", params={"a": "alpha"}).status_code == 400
    assert client.get("/api/compare", params={"a": "alpha", "b": "nope"}).status_code == 404
    page = client.get("/compare", params={"a": "alpha", "b": "beta"})
    assert page.status_code == 200
    assert "Compare two runs" in page.text
    # a comparison that cannot be made: the page says why and still offers the runs
    page = client.get("/compare", params={"a": "alpha", "b": "beta", "by": "nope"})
    assert page.status_code == 400
    assert 'id="pick-a"' in page.text
    assert "not an axis of both runs" in page.text


def test_runs_of_other_seeds_are_compared_unpaired(client):
    c = client.get("/api/compare", params={"a": "alpha", "b": "gamma"}).json()
    assert c["method"].startswith("unpaired, as independent samples (the runs share no seed")
    assert c["cells"] == 6
    assert c["difference"] == "b_rate - a_rate"
    cols = c["table"]["columns"]
    assert cols[:4] == ["lr", "init_scale", "a_n", "b_n"]
    for row in c["table"]["rows"]:
        a, b, diff = (row[cols.index(k)][1] for k in ("a_rate", "b_rate", "diff"))
        assert diff == pytest.approx(b - a)


def test_the_unpaired_difference():
    assert doctest.testmod(server_compare).failed == 0
    a = pd.DataFrame({"lr": [1.0] * 20 + [2.0] * 20,
                      "converged_epoch": [5] * 16 + [-1] * 4 + [5] * 10 + [-1] * 10})
    b = a.assign(converged_epoch=[5] * 4 + [-1] * 16 + [5] * 10 + [-1] * 10)
    t = server_compare.unpaired_difference(a, b, ["lr"])
    assert t["diff"].tolist() == pytest.approx([-0.6, 0.0])
    assert (t["diff_low"] < t["diff"]).all()
    assert (t["diff"] < t["diff_high"]).all()
    assert t["diff_high"][0] < 0  # the first interval excludes 0
    assert t["p_value"][0] < 0.001
    assert t["p_value"][1] == pytest.approx(1.0)


def test_the_server_never_writes_into_the_directory(client, root):
    before = _tree(root)
    paths = ["/", "/api/runs", "/compare", "/compare?a=alpha&b=beta",
             "/api/compare?a=alpha&b=beta", "/api/compare?a=beta&b=alpha&by=lr",
             "/static/serve.js", "/static/serve.css", "/runs/nope"]
    for name in ("alpha", "beta", "gamma", "broken"):
        paths += [f"/runs/{name}", f"/api/runs/{name}", f"/api/runs/{name}/table",
                  f"/api/runs/{name}/heatmap"]
        paths += [f"/api/runs/{name}/figures/{f}.png" for f in
                  ("heatmap", "heatmap_expected_epochs", "fraction_converged",
                   "failure_modes", "epochs")]
    for _ in range(2):  # cold, then warm
        for path in paths:
            assert client.get(path).status_code in (200, 400, 404, 500), path
    assert _tree(root) == before


def test_a_host_name_that_is_not_loopback_is_refused(server):
    host, port = server.removeprefix("http://").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.request("GET", "/api/runs", headers={"Host": "attacker.example"})
    r = conn.getresponse()
    assert r.status == 400
    assert b"Host" in r.read()
    conn.close()


def test_port_taken_and_missing_directory_are_one_line(root, tmp_path, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", str(root), "--port", str(port)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"port {port} on 127.0.0.1 is in use" in err
    assert main(["serve", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "does not exist" in err
    assert main(["serve", str(root), "--port", "70000"]) == 2
    assert "not a port number" in capsys.readouterr().err


def test_serving_beyond_loopback_warns_in_one_line(root):
    proc, url = _start_server(root, "--host", "0.0.0.0")
    try:
        with httpx.Client(base_url=url.replace("0.0.0.0", "127.0.0.1"), timeout=30) as c:
            assert c.get("/api/runs").status_code == 200  # any Host name is answered
    finally:
        code, _, err = _stop(proc)
    assert code == 0
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("xorsweep: warning: serving on 0.0.0.0")


# --- in the browser -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from tests.test_report_browser import CHROMIUM, Browser

    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; CI must install it (.ci/run does)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    b = Browser(tmp_path_factory.mktemp("chromium-profile"))
    yield b
    b.close()


def _wait(browser, expression: str, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = browser.js(expression)
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {expression}")


_NETWORKS = "(function () { var c = document.querySelector('[data-card=networks] b'); " \
            "return c ? parseInt(c.textContent.replace(/,/g, ''), 10) : -1; })()"
_HEATMAP = "(function () { var i = document.querySelector('#fig-heatmap img'); " \
           "return !!i && i.complete && i.naturalWidth > 0 && " \
           "i.getBoundingClientRect().width > 0; })()"


def test_the_run_page_follows_a_sweep_as_it_runs(server, root, browser):
    from tests.test_report_browser import WIDTH

    spec = root.parent / "live.toml"
    spec.write_text("\n".join(f"{k} = {json.dumps(v)}" for k, v in SPEC_LIVE.items()
                              if k != "grid") + "\n[grid]\n" +
                    "\n".join(f"{k} = {v}" for k, v in SPEC_LIVE["grid"].items()) + "\n")
    sweep = subprocess.Popen([sys.executable, "-m", "xorsweep.cli", "run", str(spec), "--out",
                              str(root), "--chunk-size", "2", "--jobs", "1", "--quiet"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    manifest = root / "live" / "manifest.json"
    try:
        deadline = time.monotonic() + 120  # the first run may compile its kernels
        while time.monotonic() < deadline:
            if manifest.exists():
                try:
                    if json.loads(manifest.read_text())["done"]:
                        break
                except ValueError:  # replaced between exists() and read: read again
                    pass
            time.sleep(0.01)
        sweep.send_signal(signal.SIGSTOP)  # hold the sweep mid-way
        done = len(json.loads(manifest.read_text())["done"])
        assert 0 < done < 12, "the sweep finished before the test could watch it"
        browser.open(f"{server}/runs/live")
        first = _wait(browser, f"{_NETWORKS} > 0 && {_NETWORKS}")
        assert first == 2 * done
        assert "running" in browser.js("document.getElementById('progress').textContent")
        assert "null" not in browser.js("document.getElementById('figures-note').textContent")
        sweep.send_signal(signal.SIGCONT)
        second = _wait(browser, f"{_NETWORKS} > {first} && {_NETWORKS}")
        assert second > first
        _, err = sweep.communicate(timeout=120)
        assert sweep.returncode == 0, err
        _wait(browser, f"{_NETWORKS} === 24")  # the last chunk lands on the page, no reload
        assert _wait(browser, _HEATMAP)
        # figures that appear as chunks land take their place: the heatmaps first
        assert browser.js("document.getElementById('figures').firstElementChild.id") == \
            "fig-heatmap"
        assert "null" not in browser.js("document.getElementById('figures-note').textContent")
        assert _wait(browser, "document.querySelectorAll('#table tbody tr').length === 6")
        # a number in the table stays on one line
        assert browser.js("getComputedStyle(document.querySelector('#table tbody td:not(.t)'))"
                          ".whiteSpace") == "nowrap"
        assert browser.js("document.querySelector('[data-card=state] b').textContent") == \
            "complete"
        assert browser.js("document.documentElement.scrollWidth") <= WIDTH
        assert browser.errors() == []
    finally:
        if sweep.poll() is None:
            sweep.send_signal(signal.SIGCONT)
            sweep.kill()
        sweep.communicate()


def test_the_list_and_compare_pages_in_the_browser(server, browser):
    from tests.test_report_browser import WIDTH

    browser.open(f"{server}/")
    names = _wait(browser, "Array.prototype.map.call(document.querySelectorAll("
                           "'#runs tbody tr'), function (r) { return r.dataset.name; })")
    assert {"alpha", "beta", "gamma", "broken"} <= set(names)
    assert browser.js("document.documentElement.scrollWidth") <= WIDTH
    browser.open(f"{server}/compare?a=alpha&b=beta")
    for figure in ("rates", "difference"):
        assert _wait(browser, f"(function () {{ var i = document.querySelector('#fig-{figure} "
                              "img'); return !!i && i.complete && i.naturalWidth > 0; })()")
    assert browser.js("document.querySelectorAll('#table tbody tr').length") == 6
    assert browser.js("document.getElementById('pick-b').value") == "beta"
    # sorting by a column orders its values
    browser.js("document.querySelectorAll('#table th')[4].click()")
    values = browser.js("Array.prototype.map.call(document.querySelectorAll('#table tbody tr')"
                        ", function (r) { return parseFloat(r.cells[4].textContent); })")
    assert values == sorted(values)
    assert browser.js("document.documentElement.scrollWidth") <= WIDTH
    browser.open(f"{server}/runs/broken")
    assert "part-00001.parquet" in browser.js("document.getElementById('message').textContent")
    errors = [e for e in browser.errors() if "500" not in e]  # the page's own status
    assert errors == []


#: A small Kolen & Pollack slice to refine (5 x 5 points at level 0).
KP_SLICE = {"epochs": 40, "replicates": 1, "criterion": "right-side",
            "grid": {"loss": ["mse"], "lr": [2.0], "momentum": [0.9],
                     "W1[0,1]": {"linspace": [-10, 10, 5]}, "W2[1]": {"linspace": [-10, 10, 5]}},
            "init_values": {"W1[0,0]": 0.30, "W1[1,0]": 0.36, "W1[1,1]": 0.05, "b1[0]": 0.26,
                            "b1[1]": 0.54, "W2[0]": -0.71, "b2": -0.25}}


def test_a_refined_slice_is_drawn_as_the_report_draws_it(tmp_path):
    from xorsweep.server import views

    spec = {**KP_SLICE, "name": "ref", "refine": {"levels": 1}}
    sweeps.run(spec, out=tmp_path, jobs=1)
    runs = server_runs.Runs(tmp_path)
    detail = views.run_detail(runs, "ref")
    names = [f["name"] for f in detail["figures"]]
    assert names[0] == "refined"
    assert "heatmap" not in names  # a grid of the finest level's cells, mostly empty
    assert "refinement level" in detail["figures"][0]["caption"]
    png = views.figure_png(runs, "ref", "refined")
    assert png.startswith(b"\x89PNG")
    # the headline: every level pooled (crowding the boundary) and level 0's grid apart
    df = sweeps.open_run(tmp_path / "ref").networks()
    grid = df[df["level"] == 0]
    assert detail["summary"]["networks"] == len(df) > len(grid)
    assert detail["summary"]["level0"]["networks"] == len(grid) == 25
    assert detail["summary"]["level0"]["rate"] == (grid["converged_epoch"] >= 0).mean()
    sweeps.run({**spec, "name": "plain", "refine": {"levels": 1}, "epochs": 1}, out=tmp_path,
               jobs=1)  # one epoch: nothing converges, so nothing is refined
    assert views.run_detail(runs, "plain")["summary"]["level0"] is None


def test_a_sampled_run_has_the_reports_axes_bins_and_table(tmp_path):
    from analysis import convergence_table, load
    from analysis.report import choose_axes
    from analysis.tables import varying_axes
    from xorsweep.server import views

    spec = {"name": "sob", "epochs": 40, "replicates": 2,
            "sample": {"method": "sobol", "n": 64, "lr": {"loguniform": [0.1, 30]},
                       "momentum": {"uniform": [0, 0.95]},
                       "init_scale": {"uniform": [0.25, 4]}}}
    sweeps.run(spec, out=tmp_path, jobs=1)
    df = load(tmp_path / "sob")
    runs = server_runs.Runs(tmp_path)
    detail = views.run_detail(runs, "sob")
    assert (detail["axes"]["x"], detail["axes"]["y"]) == choose_axes(df)
    table = json.loads(views.run_table(runs, "sob"))
    want = convergence_table(df, by=varying_axes(df))
    assert [row[table["columns"].index("n")][1] for row in table["rows"]] == \
        want["n"].astype(float).tolist()


def test_compare_bins_a_sampled_run_as_the_report_and_skips_axes_without_common_values(
        tmp_path):
    from analysis import compare_runs, load

    spec = {"name": "sob", "epochs": 40, "replicates": 2,
            "sample": {"method": "sobol", "n": 64, "lr": {"loguniform": [0.1, 30]},
                       "init_scale": {"uniform": [0.25, 4]}}}
    sweeps.run(spec, out=tmp_path, jobs=1)
    grid = {"name": "g", "epochs": 40, "replicates": 4, "grid": {"lr": [0.5, 2.0],
                                                                 "init_scale": [0.5, 1.0]}}
    sweeps.run(grid, out=tmp_path, jobs=1)
    sweeps.run({**grid, "name": "g_zoom", "grid": {"lr": [0.7, 1.4], "init_scale": [0.5, 1.0]}},
               out=tmp_path, jobs=1)
    runs = server_runs.Runs(tmp_path)

    def sides(*names):
        return [(runs.data(n), runs.data(n).snapshot()) for n in names]

    c = server_compare.comparison(*sides("sob", "sob"), None)
    want = compare_runs(load(tmp_path / "sob"), load(tmp_path / "sob"), by=c["by"])
    cols = c["table"]["columns"]
    for k in ("n_pairs", f"{c['by'][0]}_low", f"{c['by'][0]}_high"):
        assert [row[cols.index(k)][1] for row in c["table"]["rows"]] == \
            pytest.approx(want[k].astype(float).tolist())
    # the zoom shares no lr value with its parent: by default it is compared by init_scale
    z = server_compare.comparison(*sides("g", "g_zoom"), None)
    assert z["by"] == ["init_scale"]
    assert z["method"].startswith("unpaired, as independent samples (the runs share no value "
                                  "of lr")
    assert z["cells"] == 2
    # runs that differ in a setting outside the grid say so
    sweeps.run({**grid, "name": "g_long", "epochs": 80}, out=tmp_path, jobs=1)
    assert server_compare.comparison(*sides("g", "g_long"), None)["method"] == \
        "paired by seed; the runs differ in epochs"


def test_a_refined_grid_of_lr_and_init_scale_has_the_reports_heatmaps(tmp_path):
    from xorsweep.server import views

    spec = {"name": "gr", "epochs": 60, "replicates": 3, "refine": {"levels": 1},
            "grid": {"lr": {"logspace": [-0.5, 1, 4]}, "init_scale": {"linspace": [0.5, 3, 4]}}}
    sweeps.run(spec, out=tmp_path, jobs=1)
    from analysis.report import write_report

    names = {f.stem for f in write_report(tmp_path / "gr").parent.glob("*.png")}
    detail = views.run_detail(server_runs.Runs(tmp_path), "gr")
    shown = [f["name"] for f in detail["figures"]]
    assert "refined" not in shown  # not a slice of initial values: one replicate of many
    assert {"heatmap", "heatmap_expected_epochs"} <= set(shown) & names


def test_runs_whose_names_hold_url_characters_are_linked_by_quoted_urls(tmp_path):
    sweeps.run(SPEC_A, out=tmp_path, chunk_size=16)
    names = ("q?x=1", "h#x", "p%20c")
    for name in names:
        shutil.copytree(tmp_path / SPEC_A["name"], tmp_path / name)
    proc, url = _start_server(tmp_path)
    try:
        with httpx.Client(base_url=url, timeout=60) as c:
            listed = {r["name"]: r for r in c.get("/api/runs").json()}
            for name in names:
                assert c.get(listed[name]["url"]).status_code == 200, name
                detail = c.get(listed[name]["api"]).json()
                assert detail["name"] == name
                for f in detail["figures"]:
                    assert c.get(f["url"]).status_code == 200, f["url"]
                assert c.get(detail["table"]).status_code == 200
            cmp = c.get("/api/compare", params={"a": "q?x=1", "b": "h#x"}).json()
            assert cmp["a"]["url"] == "/runs/q%3Fx%3D1"
            for f in cmp["figures"]:
                assert c.get(f["url"]).status_code == 200, f["url"]
    finally:
        _stop(proc)


def test_a_refined_run_stopped_between_levels_is_not_complete(tmp_path, monkeypatch):
    from sweeps import levels

    spec = {**KP_SLICE, "name": "lv", "refine": {"levels": 2}}
    monkeypatch.setattr(levels, "next_points", lambda *a: (_ for _ in ()).throw(
        KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        sweeps.run(spec, out=tmp_path, jobs=1)
    monkeypatch.undo()
    runs = server_runs.Runs(tmp_path)
    p = server_runs.progress(runs.data("lv").snapshot())
    assert p["levels"] == [1, 3]
    assert p["levels_text"] == "1 of 3 levels decided"  # status's and list's words
    assert p["chunks_done"] == p["chunks"]  # level 0 is trained, levels 1-2 undecided
    assert not p["complete"]
    assert p["resume"] is not None
    sweeps.run({**spec, "name": "other", "refine": {"levels": 2}}, out=tmp_path, jobs=1)
    c = server_compare.comparison(*[(runs.data(n), runs.data(n).snapshot())
                                    for n in ("lv", "other")], None)
    assert c["a"]["complete"] is False  # the compare page's sides say so too


def test_a_run_of_other_kernel_numerics_offers_no_resume_command_but_says_how(tmp_path):
    import json

    import kernels
    from sweeps import store

    sweeps.run({"name": "num", "epochs": 20, "replicates": 4}, out=tmp_path, chunk_size=2)
    path = tmp_path / "num" / store.MANIFEST
    m = json.loads(path.read_text())
    del m["done"]["1"]  # incomplete
    path.write_text(json.dumps(m))
    p = server_runs.progress(server_runs.Runs(tmp_path).data("num").snapshot())
    assert p["resume"] is not None  # this xorsweep can finish it
    assert p["finish"] == f"`{p['resume']}`"
    m["numerics"] = kernels.NUMERICS + 1  # begun by another xorsweep
    path.write_text(json.dumps(m))
    p = server_runs.progress(server_runs.Runs(tmp_path).data("num").snapshot())
    assert p["resume"] is None  # its command would be refused
    assert p["finish"].startswith(f"an xorsweep of kernel numerics {kernels.NUMERICS + 1} ")
    assert "--force`" in p["finish"]
