"""The Dask backend on loopback: chunks train on workers only, tables as threads, bad addresses."""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

import sweeps
from sweeps import cluster, store
from xorsweep.cli import main

distributed = pytest.importorskip("distributed")

SPEC = {"name": "dsk", "epochs": 150, "replicates": 9, "record_every": 50,
        "grid": {"lr": [0.5, 2.0, 8.0], "init_scale": [0.5, 2.0], "hidden": [2, 3]}}


@pytest.fixture(scope="module")
def local_cluster():
    with cluster.local_cluster(2) as c:
        yield c


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The same spec on the default (threads) backend."""
    return sweeps.run(SPEC, out=tmp_path_factory.mktemp("ref"), jobs=2)


def _tables(run):
    curves = pd.concat(list(run.curves())).sort_values("network", ignore_index=True)
    return run.networks(), curves


def _assert_same(a, b):
    for x, y in zip(_tables(a), _tables(b), strict=True):
        pd.testing.assert_frame_equal(x, y)


def _parts_match_manifest(run_dir) -> None:
    m = json.loads((run_dir / store.MANIFEST).read_text())
    for key, entry in m["done"].items():
        for sub in ("networks", "curves"):
            blob = (run_dir / sub / store.part_name(int(key))).read_bytes()
            assert store.sha256(blob) == entry[sub], (key, sub)


def test_cluster_gives_the_same_tables_as_threads(local_cluster, reference, tmp_path, capsys):
    run = sweeps.run(SPEC, out=tmp_path, backend="dask", chunk_size=7,
                     scheduler=local_cluster.scheduler_address)
    assert run.complete
    _assert_same(run, reference)
    # the address may come from the environment too, and the command line reports the run
    spec_file = tmp_path / "dsk.toml"
    spec_file.write_text(sweeps.load_spec(SPEC).to_toml())
    os.environ[cluster.SCHEDULER_ENV] = local_cluster.scheduler_address
    try:
        assert main(["run", str(spec_file), "--out", str(tmp_path / "env"), "--backend",
                     "dask", "--quiet"]) == 0
    finally:
        del os.environ[cluster.SCHEDULER_ENV]
    assert "done" in capsys.readouterr().out
    _assert_same(sweeps.open_run(tmp_path / "env" / "dsk"), reference)


def test_warm_workers_compiles_on_every_worker(local_cluster):
    def n_generated():  # training kernels loaded or compiled in this worker
        loaded = importlib.import_module("kernels._native")._loaded
        return sum(name.startswith("xorsweep_train_") for name in loaded)

    with distributed.Client(local_cluster) as client:
        client.restart()  # fresh worker processes: nothing compiled or loaded yet
        assert sorted(client.run(n_generated).values()) == [0, 0]
        # chunks of 500 networks: the wide kernel of each shape, nothing else
        cluster.warm_workers(client, sweeps.load_spec(SPEC).to_dict(), sizes=[500])
        assert sorted(client.run(n_generated).values()) == [2, 2]  # hidden 2 and 3


def test_workers_of_other_numerics_are_refused_before_training(local_cluster, tmp_path,
                                                               monkeypatch):
    import kernels

    monkeypatch.setattr(kernels, "NUMERICS", kernels.NUMERICS + 1)  # the driver only
    with pytest.raises(store.RunError, match="install this xorsweep on every worker"):
        sweeps.run(SPEC, out=tmp_path, backend="dask", chunk_size=7,
                   scheduler=local_cluster.scheduler_address)
    assert json.loads((tmp_path / SPEC["name"] / store.MANIFEST).read_text())["done"] == {}


def test_backend_dask_without_address_starts_a_local_cluster(reference, tmp_path):
    run = sweeps.run(SPEC, out=tmp_path, backend="dask", jobs=2)
    _assert_same(run, reference)


def test_worker_killed_mid_run_leaves_a_store_that_resume_completes(local_cluster, tmp_path,
                                                                   monkeypatch):
    from sweeps import runner

    monkeypatch.setattr(runner, "MANIFEST_EVERY_S", 0.0)  # the killer watches it chunk by chunk
    spec = {**SPEC, "name": "dsk-kill", "epochs": 20000}
    ref = sweeps.run(spec, out=tmp_path / "ref", jobs=2)
    run_dir = tmp_path / "dsk-kill"
    with distributed.Client(local_cluster) as client:
        pids = sorted(client.run(os.getpid).values())
    killed = threading.Event()
    at_kill = {}

    def kill_after_a_few_chunks():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                done = json.loads((run_dir / store.MANIFEST).read_text())["done"]
            except (OSError, ValueError):
                done = {}
            if len(done) >= 3:
                os.kill(pids[0], signal.SIGKILL)
                at_kill["done"] = len(done)
                killed.set()
                return
            time.sleep(0.01)

    killer = threading.Thread(target=kill_after_a_few_chunks)
    killer.start()
    try:
        sweeps.run(spec, out=tmp_path, backend="dask", chunk_size=3,
                   scheduler=local_cluster.scheduler_address)
    except Exception:  # noqa: BLE001 - Dask may retry the chunk, or give it up: both are fine
        pass
    killer.join()
    assert killed.is_set()
    n_chunks = len(json.loads((run_dir / store.MANIFEST).read_text())["chunks"])
    assert at_kill["done"] < n_chunks  # killed mid-run
    _parts_match_manifest(run_dir)  # whatever was written is whole
    resumed = sweeps.run(spec, out=tmp_path, jobs=2)
    assert resumed.complete
    _assert_same(resumed, ref)


def test_unreachable_scheduler_is_one_line_and_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT_S", 2)
    address = "tcp://127.0.0.1:9"
    assert main(["run", "quickstart", "--out", str(tmp_path / "out"), "--backend", "dask",
                 "--scheduler", address]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"cannot reach the Dask scheduler at {address}" in err
    assert not (tmp_path / "out").exists()


def test_missing_extra_says_what_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    assert main(["run", "quickstart", "--out", str(tmp_path), "--backend", "dask"]) == 2
    assert "pip install 'xorsweep[dask]'" in capsys.readouterr().err
    assert not (tmp_path / "quickstart").exists()


def test_scheduler_without_workers_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT_S", 1)
    with distributed.LocalCluster(n_workers=0, host="127.0.0.1", scheduler_kwargs={
            "dashboard": False, "dashboard_address": "127.0.0.1:0"}) as empty:
        with pytest.raises(cluster.ClusterError, match="has no workers; start them"):
            sweeps.run(SPEC, out=tmp_path, backend="dask", scheduler=empty.scheduler_address)
    assert not (tmp_path / "dsk").exists()


def test_slice_with_several_tasks_on_dask_matches_threads(local_cluster, tmp_path):
    spec = {"name": "dsk-slice", "epochs": 60, "replicates": 2, "record_every": 30,
            "criterion": "fahlman", "init_values": {"b2": 0.5},
            "grid": {"task": ["xor", "parity3"], "hidden": [3],
                     "W1[0,1]": {"linspace": [-3, 3, 4]}, "W2[2]": [-1.0, 1.0]}}
    threads = sweeps.run(spec, out=tmp_path / "threads", jobs=2)
    dask = sweeps.run(spec, out=tmp_path / "dask", backend="dask", chunk_size=5,
                      scheduler=local_cluster.scheduler_address)
    _assert_same(dask, threads)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def no_training_here(monkeypatch):
    """Fail any chunk trained in this process: a Dask run's chunks belong to its workers."""
    import kernels

    def refuse(*args, **kwargs):
        raise AssertionError("a chunk was trained in the driver, not on the cluster")

    # the workers are other processes: they train with the real one
    monkeypatch.setattr(kernels, "train", refuse)


@pytest.fixture
def one_thread_cluster(tmp_path_factory):
    """A `dask scheduler` and one `dask worker --nthreads 1` on loopback, as a user starts them."""
    tmp = tmp_path_factory.mktemp("cli-cluster")
    file = tmp / "scheduler.json"
    dask = [sys.executable, "-m", "dask"]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL,
             "start_new_session": True}
    procs = [subprocess.Popen([*dask, "scheduler", "--host", "127.0.0.1", "--port", "0",
                               "--no-dashboard", "--dashboard-address", "127.0.0.1:0",
                               "--scheduler-file", str(file)], **quiet)]
    try:
        deadline = time.monotonic() + 60
        while not file.is_file() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(file.read_text())["address"]
        procs.append(subprocess.Popen([*dask, "worker", address, "--nthreads", "1",
                                       "--host", "127.0.0.1", "--no-dashboard",
                                       "--local-directory", str(tmp)], **quiet))
        with distributed.Client(address, timeout=60) as client:  # up before the run starts
            client.wait_for_workers(1, timeout=60)
        yield address
    finally:
        for proc in procs:  # the worker's nanny and its worker share the session
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def test_one_thread_cluster_trains_every_chunk(one_thread_cluster, reference, tmp_path,
                                               no_training_here):
    # joblib runs n_jobs == 1 in the calling process: the cluster would execute nothing
    run = sweeps.run(SPEC, out=tmp_path, backend="dask", chunk_size=6,
                     scheduler=one_thread_cluster)
    n_chunks = len(run.manifest["chunks"])
    assert n_chunks == 18
    with distributed.Client(one_thread_cluster) as client:
        executed = client.run(lambda dask_worker: dask_worker.state.executed_count)
    assert len(executed) == 1
    assert next(iter(executed.values())) >= n_chunks
    _assert_same(run, reference)


def test_submitted_chunks_are_bounded_and_cancelled_when_the_driver_stops(local_cluster):
    def n_tasks(dask_scheduler):
        return len(dask_scheduler.tasks)

    def sleep_or_fail(seconds):
        if seconds < 0:
            raise ValueError("a failed chunk")
        time.sleep(seconds)

    def wait_until_no_tasks(client):
        deadline = time.monotonic() + 10
        while client.run_on_scheduler(n_tasks) and time.monotonic() < deadline:
            time.sleep(0.05)
        return client.run_on_scheduler(n_tasks)

    with distributed.Client(local_cluster) as client:
        chunks = cluster.submit_chunks(client, sleep_or_fail, [(0.2,)] * 50)
        assert next(chunks) is None
        # two single-threaded workers: at most two tasks each in flight, not fifty
        assert client.run_on_scheduler(n_tasks) <= 2 * cluster.IN_FLIGHT_PER_THREAD
        chunks.close()  # as when the driver stops early
        assert wait_until_no_tasks(client) == 0
        # a failed chunk: its error reaches the driver, the others are cancelled even
        # while the traceback (which holds the generator) is alive
        chunks = cluster.submit_chunks(client, sleep_or_fail, [(-1,)] + [(0.2,)] * 49)
        with pytest.raises(ValueError, match="a failed chunk") as failure:
            for _ in chunks:  # Dask does not promise the order: the failure comes early
                pass
        assert wait_until_no_tasks(client) == 0
        del failure, chunks


def test_local_cluster_of_one_worker_trains_every_chunk(reference, tmp_path, no_training_here):
    run = sweeps.run(SPEC, out=tmp_path, backend="dask", jobs=1, chunk_size=20)
    _assert_same(run, reference)


def test_unreachable_scheduler_is_reported_within_15_s(tmp_path):
    # the whole command, Python's start-up included, as the README promises
    address = f"tcp://127.0.0.1:{_closed_port()}"
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "xorsweep.cli", "run", "quickstart", "--out",
                           str(tmp_path / "out"), "--backend", "dask", "--scheduler", address],
                          capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).parents[1])
    seconds = time.monotonic() - t0
    assert proc.returncode == 1, proc.stderr
    assert f"cannot reach the Dask scheduler at {address}" in proc.stderr
    assert seconds < 15
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("address", ["tls://127.0.0.1:9", "ucx://127.0.0.1:9",
                                     "127.0.0.1:abc", "tcp://127.0.0.1:99999",
                                     "foo://x", "not an address"])
def test_unusable_or_malformed_address_is_the_cluster_message(address, tmp_path, capsys,
                                                              monkeypatch):
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT_S", 2)
    assert main(["run", "quickstart", "--out", str(tmp_path / "out"), "--backend", "dask",
                 "--scheduler", address]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith((f"xorsweep: error: cannot connect to the Dask scheduler at {address} ",
                           f"xorsweep: error: {address!r} is not a Dask scheduler address"))
    assert not (tmp_path / "out").exists()
