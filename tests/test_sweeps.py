from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import kernels
import sweeps
from sweeps import plan, store
from xorsweep.cli import main

SPEC = {"name": "small", "epochs": 200, "replicates": 7, "record_every": 40,
        "grid": {"lr": [0.5, 2.0], "init_scale": [0.5, 2.0], "hidden": [1, 2],
                 "init": ["uniform", "he"], "activation": ["sigmoid"]}}


def test_expansion_order_and_seeding():
    spec = sweeps.load_spec(SPEC)
    assert spec.n_cells == 16
    assert spec.n_networks == 112
    cols = plan.network_columns(spec, 0, spec.n_networks)
    np.testing.assert_array_equal(cols["network"], np.arange(112))
    np.testing.assert_array_equal(cols["cell"], np.arange(112) // 7)
    np.testing.assert_array_equal(cols["replicate"], np.arange(112) % 7)
    # the first axis (hidden) varies slowest, the last (lr) fastest
    assert (cols["hidden"][:56] == 1).all()
    assert (cols["hidden"][56:] == 2).all()
    np.testing.assert_array_equal(cols["lr"][::7][:4], [0.5, 2.0, 0.5, 2.0])
    # replicate r has the same seed in every cell; seeds differ across spec seeds
    assert len(set(cols["seed"][cols["replicate"] == 3])) == 1
    other = plan.network_columns(sweeps.load_spec(SPEC | {"seed": 1}), 0, 7)
    assert not set(other["seed"]) & set(cols["seed"])
    # chunks never mix kernels and cover every network once
    for size in (1, 5, 50, 1000):
        chunks = plan.make_chunks(spec, size)
        covered = np.concatenate([np.arange(c.start, c.stop) for c in chunks])
        np.testing.assert_array_equal(covered, np.arange(112))
        for c in chunks:
            assert len(set(cols["hidden"][c.start:c.stop])) == 1


def test_results_match_the_kernel_directly(tmp_path):
    run = sweeps.run(SPEC, out=tmp_path, jobs=1)
    df = run.networks()
    X, Y = kernels.tasks.xor()
    spec = sweeps.load_spec(SPEC)
    sel = df[(df.hidden == 2) & (df.init == "he") & (df.init_scale == 2.0) & (df.lr == 0.5)]
    p = kernels.init_params(sel.seed.to_numpy(), n_hidden=2, scheme="he", scale=2.0)
    r = kernels.train(p, X, Y, lr=0.5, epochs=spec.epochs, record_every=40)
    np.testing.assert_array_equal(sel.final_loss.to_numpy(), r.loss)
    np.testing.assert_array_equal(sel.converged_epoch.to_numpy(), r.converged_epoch)
    np.testing.assert_array_equal(sel[["out_0", "out_1", "out_2", "out_3"]].to_numpy(), r.outputs)
    curves = pd.concat(list(run.curves())).set_index("network").loc[sel.network]
    np.testing.assert_array_equal(curves.to_numpy(), r.curve)
    assert list(curves.columns) == [f"loss_{e}" for e in r.curve_epochs]


def test_invariant_to_jobs_chunking_and_backend(tmp_path):
    ref = sweeps.run(SPEC, out=tmp_path / "a", jobs=1, chunk_size=1000).networks()
    for i, kw in enumerate([{"jobs": 2, "chunk_size": 5}, {"jobs": 3, "chunk_size": 13},
                            {"jobs": 2, "chunk_size": 9, "backend": "loky"}]):
        other = sweeps.run(SPEC, out=tmp_path / f"b{i}", **kw).networks()
        pd.testing.assert_frame_equal(ref, other)


def test_rerun_is_a_no_op_and_spec_change_is_refused(tmp_path, capsys):
    run = sweeps.run(SPEC, out=tmp_path)
    before = {p: p.read_bytes() for p in run.path.rglob("*.parquet")}
    sweeps.run(SPEC, out=tmp_path)
    assert {p: p.read_bytes() for p in run.path.rglob("*.parquet")} == before
    changed = SPEC | {"epochs": 201}
    with pytest.raises(sweeps.RunError, match=r"different spec \(epochs: 200 -> 201\); give the "
                       r"new one another name \(--set name=NEW\) or another --out, or use --force"):
        sweeps.run(changed, out=tmp_path)
    assert {p: p.read_bytes() for p in run.path.rglob("*.parquet")} == before
    spec_file = tmp_path / "changed.toml"
    spec_file.write_text(sweeps.load_spec(changed).to_toml())
    assert main(["run", str(spec_file), "--out", str(tmp_path), "--quiet"]) == 2
    assert "--force" in capsys.readouterr().err
    forced = sweeps.run(changed, out=tmp_path, force=True)
    assert (forced.networks().epochs == 201).all()


def test_corrupt_or_missing_part_is_recomputed(tmp_path):
    run = sweeps.run(SPEC, out=tmp_path, chunk_size=20)
    ref = run.networks()
    parts = sorted((run.path / "networks").glob("*.parquet"))
    parts[1].write_bytes(parts[1].read_bytes()[:100])          # truncated
    (run.path / "curves" / parts[2].name).unlink()            # missing
    data = bytearray(parts[3].read_bytes())
    data[len(data) // 2] ^= 0xFF                              # altered
    parts[3].write_bytes(bytes(data))
    again = sweeps.run(SPEC, out=tmp_path)
    pd.testing.assert_frame_equal(again.networks(), ref)
    assert again.complete


def test_lock_held_refuses_and_stale_lock_does_not_block(tmp_path):
    run_dir = tmp_path / "small"
    run_dir.mkdir()
    with store.RunLock(run_dir), pytest.raises(sweeps.RunError, match="is being run by pid"):
        sweeps.run(SPEC, out=tmp_path)
    # a lock file left behind by a process that died holds nothing
    (run_dir / ".lock").write_text("pid 999999")
    assert sweeps.run(SPEC, out=tmp_path).complete


KILL_SPEC = {"name": "kill", "epochs": 60000, "replicates": 400, "record_every": 1000,
             "grid": {"lr": [0.5, 1.0, 2.0, 4.0], "init_scale": [0.5, 1.0, 2.0]}}


def test_sigkill_mid_run_then_resume_equals_uninterrupted(tmp_path):
    spec_file = tmp_path / "kill.toml"
    spec_file.write_text(sweeps.load_spec(KILL_SPEC).to_toml())
    cmd = [sys.executable, "-m", "xorsweep.cli", "run", str(spec_file), "--out",
           str(tmp_path / "killed"), "--jobs", "1", "--chunk-size", "200", "--quiet"]
    proc = subprocess.Popen(cmd)
    manifest = tmp_path / "killed" / "kill" / "manifest.json"
    deadline = time.time() + 120
    while time.time() < deadline:  # wait until some, not all, chunks are done
        if manifest.exists():
            try:
                done = len(json.loads(manifest.read_text())["done"])
            except json.JSONDecodeError:  # pragma: no cover - atomic writes make this impossible
                pytest.fail("manifest was read half-written")
            if done >= 2:
                break
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed = sweeps.open_run(tmp_path / "killed" / "kill")
    assert not killed.complete, "the run finished before it could be killed"
    assert subprocess.run(cmd).returncode == 0
    resumed = sweeps.open_run(tmp_path / "killed" / "kill")
    clean = sweeps.run(KILL_SPEC, out=tmp_path / "clean", jobs=2, chunk_size=999)
    pd.testing.assert_frame_equal(resumed.networks(), clean.networks())
    assert not list(Path(resumed.path).rglob(".*.tmp-*"))


def test_ctrl_c_keeps_finished_chunks_and_says_how_to_resume(tmp_path):
    spec_file = tmp_path / "kill.toml"
    spec_file.write_text(sweeps.load_spec(KILL_SPEC).to_toml())
    cmd = [sys.executable, "-m", "xorsweep.cli", "run", str(spec_file), "--out", str(tmp_path),
           "--jobs", "1", "--chunk-size", "50"]  # 96 chunks: seconds of work after the first
    # A shell that starts this suite in the background makes its children ignore SIGINT,
    # and Python then never turns it into KeyboardInterrupt: catch it again in the child.
    catch = ("import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler);"
             " sys.argv = ['xorsweep'] + sys.argv[1:]; runpy.run_module('xorsweep.cli', "
             "run_name='__main__')")
    proc = subprocess.Popen([sys.executable, "-c", catch, *cmd[3:]], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    manifest = tmp_path / "kill" / "manifest.json"
    deadline = time.time() + 120
    while time.time() < deadline and not (
            manifest.exists() and json.loads(manifest.read_text())["done"]):
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert err.strip().count("\n") == 0
    assert "Resume with: xorsweep run" in err
    run = sweeps.open_run(tmp_path / "kill")
    assert run.done
    assert not run.complete
    assert subprocess.run(cmd, capture_output=True).returncode == 0
    assert sweeps.open_run(tmp_path / "kill").complete


def test_status_and_specs_commands(tmp_path, capsys):
    sweeps.run(SPEC, out=tmp_path)
    assert main(["status", str(tmp_path / "small")]) == 0
    out = capsys.readouterr().out
    assert "chunks" in out
    assert "complete" in out
    assert "112 of 112" in out
    assert main(["specs"]) == 0
    out = capsys.readouterr().out
    assert "quickstart" in out
    # a refined spec's size is its level 0 grid's, marked as such
    assert re.search(r"kolen-pollack-zoom +10,201\+ +2\.04 M\+ .*\(level 0\)", out)
    assert "+: a refined spec's grid (level 0)" in " ".join(out.split())
    assert main(["status", str(tmp_path)]) == 2
    assert "not a run directory" in capsys.readouterr().err


def test_a_copied_run_is_repaired_in_place_by_the_command_status_gives(tmp_path, capsys):
    import shlex
    import shutil

    sweeps.run(SPEC, out=tmp_path, chunk_size=40)
    original = {p.name: p.read_bytes() for p in (tmp_path / "small" / "networks").iterdir()}
    shutil.copytree(tmp_path / "small", tmp_path / "copy")
    (tmp_path / "copy" / "networks" / "part-00001.parquet").unlink()
    assert main(["status", str(tmp_path / "copy")]) == 1
    command = capsys.readouterr().err.split("`")[1]
    assert "--set name=copy" in command
    assert main(shlex.split(command)[1:]) == 0
    assert store.open_run(tmp_path / "copy").complete
    assert {p.name: p.read_bytes() for p in (tmp_path / "small" / "networks").iterdir()} \
        == original
    assert store.resume_command(tmp_path / "small") == \
        f"xorsweep run {tmp_path / 'small' / 'spec.toml'} --out {tmp_path}"


def test_example_script_runs(tmp_path, monkeypatch, capsys):
    import runpy

    monkeypatch.chdir(tmp_path)
    runpy.run_path(str(Path(__file__).parents[1] / "examples" / "sweep_script.py"),
                   run_name="__main__")
    assert "converged" in capsys.readouterr().out


def test_progress_bar_only_when_asked(tmp_path, capsys):
    sweeps.run(SPEC, out=tmp_path / "a", progress=True)
    err = capsys.readouterr().err
    assert "22.4k/22.4k" in err  # network-epochs: 112 networks x 200 epochs
    assert "net-ep/s" in err
    sweeps.run(SPEC, out=tmp_path / "b")
    assert capsys.readouterr().err == ""
    # the command line shows it only on a terminal: under pytest stdout is captured
    assert main(["run", "quickstart", "--out", str(tmp_path / "c")]) == 0
    assert "net-ep/s" not in capsys.readouterr().err


def test_finishing_a_run_begun_under_other_numerics_is_refused(tmp_path, capsys):
    spec = {"name": "num", "epochs": 20, "replicates": 3}
    sweeps.run(spec, out=tmp_path, chunk_size=10)
    path = tmp_path / "num" / store.MANIFEST
    m = json.loads(path.read_text())
    assert m["numerics"] == kernels.NUMERICS
    del m["numerics"]  # a run from before numerics were recorded: numerics 1
    path.write_text(json.dumps(m))
    assert sweeps.run(spec, out=tmp_path).complete  # complete: nothing to train, not refused
    entry = m["done"].pop("0")  # its first chunk still to train
    path.write_text(json.dumps(m))
    with pytest.raises(store.RunError, match=r"finish it with an xorsweep of kernel numerics 1 "
                                             rf"\(this one's are {kernels.NUMERICS}\)") as info:
        sweeps.run(spec, out=tmp_path)
    assert "--force" in str(info.value)
    assert "0" not in json.loads(path.read_text())["done"]  # nothing trained
    assert main(["run", str(tmp_path / "num" / "spec.toml"), "--out", str(tmp_path),
                 "--dry-run"]) == 2
    capsys.readouterr()
    assert main(["status", str(tmp_path / "num")]) == 0  # status says how it can be finished
    out = capsys.readouterr().out
    assert f"numerics   1  (this xorsweep computes in {kernels.NUMERICS}" in out
    assert ("incomplete: resume with an xorsweep of kernel numerics 1 (this one's are "
            f"{kernels.NUMERICS}), or start over") in out
    assert "--force" in out
    m["done"]["0"] = entry  # complete again, but
    path.write_text(json.dumps(m))
    (tmp_path / "num" / "networks" / store.part_name(0)).unlink()  # a part lost: work left
    with pytest.raises(store.RunError, match="kernel numerics 1"):
        sweeps.run(spec, out=tmp_path)
    assert main(["status", str(tmp_path / "num")]) == 1
    assert "recompute them with an xorsweep of kernel numerics 1" in capsys.readouterr().err
    assert sweeps.run(spec, out=tmp_path, force=True).complete
    assert json.loads(path.read_text())["numerics"] == kernels.NUMERICS


def test_resume_on_another_device_and_stray_scheduler_are_refused(tmp_path):
    spec = {"name": "dev", "epochs": 20, "replicates": 3}
    sweeps.run(spec, out=tmp_path)
    path = tmp_path / "dev" / store.MANIFEST
    m = json.loads(path.read_text())
    assert m["device"] == "cpu"
    m["device"] = "cuda"
    path.write_text(json.dumps(m))
    with pytest.raises(store.RunError, match="was run with --device cuda"):
        sweeps.run(spec, out=tmp_path)
    with pytest.raises(store.RunError, match="--scheduler needs --backend dask"):
        sweeps.run(spec, out=tmp_path / "other", scheduler="tcp://127.0.0.1:9")
    assert not (tmp_path / "other").exists()


@pytest.mark.parametrize("jobs", [1, 2, 3, 8, 64])
@pytest.mark.parametrize(("grid", "replicates"), [
    ({"lr": {"logspace": [-1, 1, 10]}, "init_scale": {"linspace": [0.5, 3.0, 10]}}, 10_000),
    ({"hidden": [2, 3], "lr": [0.5, 1.0, 2.0]}, 30_001), ({"lr": [1.0]}, 100),
    ({"activation": ["sigmoid", "tanh", "relu"], "lr": [0.5, 1.0]}, 1_000),
    ({"hidden": [1, 2, 3, 4], "lr": [1.0]}, 400)])
def test_default_chunks_are_near_equal_and_a_multiple_of_the_workers_per_group(grid, replicates,
                                                                               jobs):
    spec = sweeps.load_spec({"name": "c", "replicates": replicates, "grid": grid})
    size = plan.default_chunk_size(spec, jobs)
    assert 256 <= size <= 16_384
    per_group = plan.networks_per_group(spec)
    for g0 in range(0, spec.n_networks, per_group):
        sizes = [c.stop - c.start for c in plan.make_chunks(spec, size)
                 if g0 <= c.start < g0 + per_group]
        if per_group > 16_384:  # cut evenly: only the last chunk is short, by a few networks
            assert len(sizes) % jobs == 0
            assert max(sizes) - min(sizes) < len(sizes)


def test_compute_chunk_runs_on_the_calling_thread_alone(monkeypatch):
    import numba

    from kernels import _parallel
    from sweeps.chunk import compute_chunk

    def refuse(*args, **kwargs):
        raise AssertionError("a chunk started threads: the workers own the cores")

    # numba.get_num_threads would start numba's threading layer; a pool, threads of ours
    monkeypatch.setattr(numba, "get_num_threads", refuse)
    monkeypatch.setattr(numba, "set_num_threads", refuse)
    monkeypatch.setattr(_parallel, "ThreadPoolExecutor", refuse)
    spec = sweeps.load_spec({"name": "t", "epochs": 5, "replicates": 300,
                             "grid": {"init": ["uniform", "normal"]}})
    result = compute_chunk(spec.to_dict(), 0, spec.n_networks)
    networks = pq.read_table(pa.BufferReader(result["parts"]["networks"]))
    assert networks.num_rows == 600


def test_warm_kernels_compiles_the_rest_in_processes_once_one_was_not_cached(monkeypatch):
    from sweeps import warmup

    spec = {"name": "w", "grid": {"task": ["xor", "parity3"], "hidden": [1, 2]}}
    warmed, dispatched = [], []
    monkeypatch.setattr(warmup, "_warm_variant",
                        lambda dtype, *v, sizes=None, momenta=None: warmed.append(v))
    monkeypatch.setattr(warmup, "_warm_in_processes",
                        lambda dtype, todo, jobs, sizes, momenta: dispatched.append(
                            (list(todo), jobs)))
    variants = [("xor", 1, "sigmoid", "bce"), ("xor", 2, "sigmoid", "bce"),
                ("parity3", 1, "sigmoid", "bce"), ("parity3", 2, "sigmoid", "bce")]
    monkeypatch.setattr(warmup, "_COMPILED_S", -1.0)  # every kernel "was compiled"
    warmup.warm_kernels(spec, jobs=2)
    assert dispatched == [(variants[1:], 2)]
    assert warmed == variants  # the first here, then the rest loaded here from the cache
    warmed.clear()
    dispatched.clear()
    warmup.warm_kernels(spec, jobs=1)  # one job: everything here, in order
    assert (warmed, dispatched) == (variants, [])
    warmed.clear()
    monkeypatch.setattr(warmup, "_COMPILED_S", float("inf"))  # all cached: no processes
    warmup.warm_kernels(spec, jobs=2)
    assert (warmed, dispatched) == (variants, [])


def test_run_warms_the_kernels_for_its_chunk_sizes(tmp_path, monkeypatch):
    from sweeps import warmup

    seen = []
    monkeypatch.setattr(warmup, "_warm_variant", lambda dtype, *v, sizes=None, momenta=None:
                        seen.append((sizes, momenta)))
    spec = {"name": "sizes", "epochs": 5, "replicates": 100, "grid": {"momentum": [0.0, 0.9]}}
    sweeps.run(spec, out=tmp_path, chunk_size=40)
    # 200 networks in chunks of 40 (x 5); both momenta: the kernels without and with them
    assert seen == [([40], [0.0, 0.9])]


def test_warm_in_processes_compiles_in_fresh_processes():
    from sweeps import warmup

    variants = [("xor", 1, "sigmoid", "bce"), ("xor", 2, "sigmoid", "bce")]
    assert warmup._warm_in_processes("float64", variants, 2) == 2


@pytest.mark.parametrize("max_runs", [64, 1])  # runs of one (scheme, scale); grouped by sorting
def test_a_chunk_initializes_each_network_from_its_own_seed_scheme_and_scale(monkeypatch,
                                                                            max_runs):
    from sweeps import chunk

    monkeypatch.setattr(chunk, "_MAX_RUNS", max_runs)
    spec = sweeps.load_spec({"name": "i", "replicates": 3, "dtype": "float32",
                             "grid": {"init": ["uniform", "normal", "xavier"],
                                      "init_scale": [0.5, 1.0, 2.0]}})
    for start, stop in [(0, spec.n_networks), (2, 7), (8, 20)]:
        cols = chunk._columns(spec, start, stop, None)
        names = {k: v for k, v in cols.items() if not k.endswith(":code")}  # schemes by name
        for p in (chunk.initial_params(spec, cols), chunk.initial_params(spec, names)):
            for i in range(stop - start):
                one = kernels.init_params(cols["seed"][i:i + 1], scheme=str(cols["init"][i]),
                                          scale=float(cols["init_scale"][i]), dtype=np.float32)
                for got, want in zip(p.arrays(), one.arrays(), strict=True):
                    np.testing.assert_array_equal(got[i], want[0])


@pytest.mark.parametrize("spec", [
    {"name": "g", "replicates": 7, "grid": {"init": ["normal", "uniform"], "lr": [0.5, 1, 2],
                                            "hidden": [2, 3]}},
    {"name": "one", "replicates": 1, "grid": {"lr": [0.5, 1.0]}},
    {"name": "s", "replicates": 3, "grid": {"hidden": [2, 3], "loss": ["bce", "mse"]},
     "sample": {"method": "sobol", "n": 16, "lr": {"loguniform": [0.1, 30]}}}])
def test_a_range_of_networks_has_the_columns_of_its_ids(spec):
    """Cells found once and repeated (a chunk's range) give each network's own values."""
    spec = sweeps.load_spec(spec)
    n = spec.n_networks
    for a, b in [(0, n), (3, 10), (5, 6), (0, 1), (n - 1, n), (7, 14), (6, 15), (2, 2)]:
        a, b = min(a, n), min(b, n)
        got, want = plan.network_columns(spec, a, b), plan.columns_of(spec, np.arange(a, b))
        assert got.keys() == want.keys()
        for key, values in want.items():
            assert got[key].dtype == values.dtype, key
            np.testing.assert_array_equal(got[key], values, err_msg=key)


@pytest.mark.parametrize("refine", [False, True])
def test_network_table_from_codes_equals_the_table_from_names(refine):
    """Named axes and outcomes written from their indices, as from comparing names."""
    from sweeps import chunk

    grid = {"activation": ["tanh", "sigmoid"], "init": ["normal", "uniform", "xavier"],
            "lr": {"linspace": [0.5, 8.0, 5]}, "init_scale": {"linspace": [0.5, 4.0, 5]}}
    combos = 2 * 3
    spec = sweeps.load_spec({"name": "c", "replicates": 4, "epochs": 30, "grid": grid} | (
        {"refine": {"levels": 1}} if refine else {}))
    points = len(spec.refine.level0_keys()) if refine else 5 * 5
    n = combos * points * 4  # the whole grid, or refinement's level 0
    cols = chunk._columns(spec, 0, n, None)
    assert {"activation:code", "init:code"} <= set(cols)
    X, Y = kernels.tasks.xor()
    r = kernels.train(chunk.initial_params(spec, cols), X, Y, lr=cols["lr"], epochs=30,
                      activation="tanh")
    assert r.outcome_code.dtype == np.int8
    np.testing.assert_array_equal(np.asarray(kernels.OUTCOMES)[r.outcome_code], r.outcome)
    assert len(set(r.outcome)) > 1
    result = {"start": 0, "stop": n, "loss": r.loss, "converged_epoch": r.converged_epoch,
              "outcome": r.outcome, "outputs": r.outputs}
    names = {k: v for k, v in cols.items() if not k.endswith(":code")}
    by_codes = chunk.network_table(spec, result | {"outcome_code": r.outcome_code}, cols)
    by_names = chunk.network_table(spec, result, names)
    assert by_codes.equals(by_names)
    assert store.table_bytes(by_codes) == store.table_bytes(by_names)
    assert set(by_codes.column("init").to_pylist()) == set(grid["init"])


def _slice_toml(path: Path, axes: list[str]) -> Path:
    values = {"W1[0,1]": "[-1.0, 0.0, 1.0]", "W2[1]": "[-2.0, 2.0]"}
    path.write_text('name = "order"\nepochs = 20\nreplicates = 2\n\n[grid]\n'
                    + "".join(f'"{a}" = {values[a]}\n' for a in axes))
    return path


@pytest.mark.parametrize("recorded", ["manifest", "frozen spec"])
def test_a_run_is_not_resumed_with_its_parameter_axes_reordered(tmp_path, capsys, recorded):
    """The digest sorts keys; the order of two parameter axes numbers the cells."""
    first = _slice_toml(tmp_path / "a.toml", ["W1[0,1]", "W2[1]"])
    swapped = _slice_toml(tmp_path / "b.toml", ["W2[1]", "W1[0,1]"])
    assert sweeps.load_spec(first).digest() == sweeps.load_spec(swapped).digest()
    out = tmp_path / "runs"
    sweeps.run(first, out=out, jobs=1, chunk_size=4)
    run_dir = out / "order"
    manifest = json.loads((run_dir / store.MANIFEST).read_text())
    assert manifest["param_axes"] == ["W1[0,1]", "W2[1]"]
    del manifest["done"]["2"]  # one chunk still to train
    if recorded == "frozen spec":  # a run begun before the manifest recorded the order
        del manifest["param_axes"]
    (run_dir / store.MANIFEST).write_text(json.dumps(manifest))
    before = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    assert main(["run", str(swapped), "--out", str(out), "--quiet"]) == 2
    err = one_line(capsys.readouterr().err)
    assert "order W1[0,1], W2[1], and the spec lists them W2[1], W1[0,1]" in err
    assert "--force" in err
    assert {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()} == before
    assert main(["run", str(swapped), "--out", str(out), "--dry-run"]) == 2
    assert one_line(capsys.readouterr().err) == err
    resumed = sweeps.run(first, out=out, jobs=1)  # in the run's order it resumes
    assert resumed.complete
    assert resumed.session.trained == 1
    assert resumed.manifest["param_axes"] == ["W1[0,1]", "W2[1]"]  # recorded from now on


def one_line(err: str) -> str:
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


def test_the_manifest_is_saved_at_most_every_interval_and_after_the_last_chunk(tmp_path,
                                                                               monkeypatch):
    from sweeps import runner

    saves = []
    real = runner._save_manifest
    monkeypatch.setattr(runner, "_save_manifest",
                        lambda run_dir, m: saves.append(len(m["done"])) or real(run_dir, m))
    monkeypatch.setattr(runner, "MANIFEST_EVERY_S", 3600.0)
    spec = {"name": "m", "epochs": 5, "replicates": 40, "grid": {"lr": [0.5, 1.0]}}
    run = sweeps.run(spec, out=tmp_path, jobs=1, chunk_size=8)
    assert saves == [1, 10]  # after the first chunk, then the rest at the end
    assert run.complete
    assert len(run.done) == 10
    monkeypatch.setattr(runner, "MANIFEST_EVERY_S", 0.0)
    saves.clear()
    sweeps.run(spec, out=tmp_path, jobs=1, chunk_size=8, force=True)
    assert saves == list(range(1, 11))


def test_a_copys_commands_never_touch_the_original_whatever_is_damaged(tmp_path, capsys,
                                                                        monkeypatch):
    import shutil

    from sweeps.store import resume_command

    sweeps.run(SPEC, out=tmp_path, chunk_size=40)
    shutil.copytree(tmp_path / "small", tmp_path / "copy")
    (tmp_path / "copy" / "manifest.json").write_text("{")  # damaged: its name unreadable
    assert main(["status", str(tmp_path / "copy")]) == 1
    assert "--set name=copy --force`" in capsys.readouterr().err  # from the frozen spec's name
    (tmp_path / "copy" / "spec.toml").unlink()  # neither file names the run
    assert resume_command(tmp_path / "copy", force=True).endswith(" --set name=copy --force")
    # a directory name no spec may take: renamed first
    shutil.copytree(tmp_path / "small", tmp_path / "my copy")
    command = resume_command(tmp_path / "my copy")
    assert command.startswith(f"mv '{tmp_path / 'my copy'}' {tmp_path / 'my-copy'} && xorsweep "
                              f"run {tmp_path / 'my-copy' / 'spec.toml'} --out {tmp_path} "
                              "--set name=my-copy")
    # `status .` names the folder by its own name
    monkeypatch.chdir(tmp_path / "small")
    assert resume_command(Path(".")) == \
        f"xorsweep run {tmp_path / 'small' / 'spec.toml'} --out {tmp_path}"
