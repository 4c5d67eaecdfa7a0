"""``xorsweep serve`` on a 10^6-network run: request latency cold, warm, after one new chunk.

Runs (once; it is reused) a sweep of 32 x 32 cells x 1,024 replicates = 1,048,576 XOR
networks of 20 epochs (128 chunks of 8,192), then links it into a second run
directory whose manifest lacks the last chunk, as the run was just before its last
chunk landed.  A server (``xorsweep serve``, a subprocess on a free port) is timed
over HTTP on that run:

- cold: the first requests after the server starts (every part read and checked,
  the table computed, the figure drawn);
- warm: the same requests again, nothing changed (median of ``--repeats``);
- after one new chunk: the manifest gains the last chunk, as a sweep writes it,
  and the page's requests come again (one part read; the table and figure
  computed again over all the networks).

    python benchmarks/bench_serve.py [--out DIR] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import select
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

import sweeps
from sweeps.store import atomic_write

SPEC = {"name": "serve-1m", "epochs": 20, "replicates": 1024, "record_every": 10,
        "dtype": "float32",
        "grid": {"lr": {"logspace": [-1, 1.5, 32]}, "init_scale": {"linspace": [0.25, 4, 32]}}}
LIVE = "serve-1m-live"


def _live_copy(run_dir: Path) -> tuple[Path, bytes, bytes]:
    """Link the run's parts into LIVE; return it, its manifest without and with the last chunk."""
    live = run_dir.parent / LIVE
    shutil.rmtree(live, ignore_errors=True)
    shutil.copytree(run_dir, live, copy_function=os.link,
                    ignore=shutil.ignore_patterns(".lock", "report"))
    full = (run_dir / "manifest.json").read_bytes()
    m = json.loads(full)
    del m["done"][str(len(m["chunks"]) - 1)]
    before = json.dumps(m).encode()
    (live / "manifest.json").unlink()  # a link to the original's: replaced, never written
    atomic_write(live / "manifest.json", before)
    return live, before, full


def _timed(client: httpx.Client, path: str) -> float:
    t = time.perf_counter()
    r = client.get(path)
    elapsed = time.perf_counter() - t
    r.raise_for_status()
    return elapsed


def main() -> None:
    """Run the benchmark and print its table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/runs"))
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    t0 = time.perf_counter()
    run = sweeps.run(SPEC, out=args.out, chunk_size=8192)
    n = sweeps.load_spec(SPEC).n_networks
    print(f"sweep: {n:,} networks in {len(run.manifest['chunks'])} chunks ready in "
          f"{time.perf_counter() - t0:.1f} s ({run.path})")
    live, _, full = _live_copy(run.path)
    server = subprocess.Popen([sys.executable, "-m", "xorsweep.cli", "serve", str(args.out),
                               "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        select.select([server.stdout], [], [], 120)
        url = re.search(r"http://\S+/", server.stdout.readline()).group(0)
        paths = {"/api/runs": "/api/runs", f"/api/runs/{LIVE}": f"/api/runs/{LIVE}",
                 "/table": f"/api/runs/{LIVE}/table",
                 "/figures/heatmap.png": f"/api/runs/{LIVE}/figures/heatmap.png"}
        rows = {k: {} for k in paths}
        with httpx.Client(base_url=url, timeout=600) as client:
            for k, p in paths.items():
                rows[k]["cold"] = _timed(client, p)
            for k, p in paths.items():
                rows[k]["warm"] = statistics.median(_timed(client, p)
                                                    for _ in range(args.repeats))
            atomic_write(live / "manifest.json", full)  # the last chunk lands
            for k, p in paths.items():
                rows[k]["after one new chunk"] = _timed(client, p)
            d = client.get(f"/api/runs/{LIVE}").json()
            assert d["progress"]["networks_done"] == n, d["progress"]
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=30)
    print(f"\nrequest latency, ms ({n:,} networks, {os.cpu_count()} cores; warm: median of "
          f"{args.repeats}); endpoints under /api/runs/{LIVE} but the list")
    cols = ["cold", "warm", "after one new chunk"]
    print(f"| endpoint | {' | '.join(cols)} |")
    print("|---|" + "---:|" * len(cols))
    for k, r in rows.items():
        print(f"| `{k}` | " + " | ".join(f"{1e3 * r[c]:,.1f}" for c in cols) + " |")


if __name__ == "__main__":
    main()
