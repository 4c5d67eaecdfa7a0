from __future__ import annotations

import os
import subprocess
import sys

import pytest

import sweeps
from sweeps import plan
from sweeps.store import RunError
from xorsweep import cli
from xorsweep.cli import main


def test_help_without_arguments(capsys):
    assert main([]) == 0
    assert "usage: xorsweep" in capsys.readouterr().out


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("xorsweep 0.1.0")


def test_unknown_option_is_a_usage_error(capsys):
    assert main(["--frobnicate"]) == 2
    assert "unrecognized arguments" in capsys.readouterr().err


def test_console_script_module():
    out = subprocess.run([sys.executable, "-m", "xorsweep.cli", "--help"], capture_output=True,
                         text=True, check=True).stdout
    assert "xorsweep" in out


@pytest.mark.parametrize("command", ["specs", "run"])
def test_output_to_a_reader_that_went_away_ends_quietly(command, tmp_path):
    args = ["specs"] if command == "specs" else [
        "run", str(_tiny_spec(tmp_path)), "--out", str(tmp_path / "out"), "--quiet"]
    read, write = os.pipe()
    os.close(read)  # like `xorsweep specs | head -0`: every write to stdout fails
    try:
        done = subprocess.run([sys.executable, "-m", "xorsweep.cli", *args], stdout=write,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write)
    assert done.stderr == ""
    assert done.returncode == 141
    if command == "run":  # stopped by the closed pipe after its run, which is complete
        assert sweeps.open_run(tmp_path / "out" / "tiny").complete


@pytest.mark.parametrize("command", ["status", "report", "list", "specs"])
def test_ctrl_c_in_any_command_is_one_line_and_130(command, monkeypatch, tmp_path, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, f"cmd_{command}", interrupted)
    assert main([command] + ([str(tmp_path)] if command in ("status", "report") else [])) == 130
    captured = capsys.readouterr()
    assert captured.err == "xorsweep: interrupted\n"
    assert captured.out == ""


def _tiny_spec(tmp_path, replicates=1):
    path = tmp_path / "tiny.toml"
    path.write_text(f'name = "tiny"\nepochs = 1\nreplicates = {replicates}\n')
    return path


@pytest.mark.parametrize("args", [
    ["--backend", "bogus"], ["--backend", ""], ["--jobs", "0"], ["--chunk-size", "0"],
    ["--scheduler", "tcp://127.0.0.1:1"], ["--backend", "multiprocessing"],
])
def test_bad_run_options_are_refused_before_anything_is_written(tmp_path, capsys, args):
    out = tmp_path / "out"
    assert main(["run", str(_tiny_spec(tmp_path)), "--out", str(out), "--quiet", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("xorsweep: error: ")
    assert err.count("\n") == 1
    assert not out.exists()


def test_more_jobs_than_cores_runs_with_a_one_line_note(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(plan, "cores", lambda: 2)
    out = tmp_path / "out"
    assert main(["run", str(_tiny_spec(tmp_path, replicates=4)), "--out", str(out), "--quiet",
                 "--jobs", "3"]) == 0
    err = capsys.readouterr().err
    assert err == ("note: --jobs 3 is more than the 2 cores this process may use; the results "
                   "are the same, the run no faster than with --jobs 2\n")
    assert sweeps.open_run(out / "tiny").complete
    assert main(["run", str(_tiny_spec(tmp_path)), "--out", str(tmp_path / "two"), "--quiet",
                 "--jobs", "2"]) == 0
    assert capsys.readouterr().err == ""


def test_unknown_backend_names_the_accepted_ones(tmp_path):
    with pytest.raises(RunError, match="backend 'bogus' is unknown; use threads, loky, "
                                       "processes, dask, or a backend registered with joblib "
                                       r"\(.*threading"):
        sweeps.run(_tiny_spec(tmp_path), out=tmp_path / "out", backend="bogus")
    assert not (tmp_path / "out").exists()


def test_too_many_chunks_are_refused_before_planning_them(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(plan, "MAX_CHUNKS", 4)
    spec = sweeps.load_spec(_tiny_spec(tmp_path, replicates=10))
    assert plan.count_chunks(spec, 2) == 5
    assert len(plan.make_chunks(spec, 3)) == plan.count_chunks(spec, 3) == 4
    with pytest.raises(ValueError, match="cuts 10 networks into 5 chunks, more than 4"):
        plan.make_chunks(spec, 2)
    out = tmp_path / "out"
    assert main(["run", str(_tiny_spec(tmp_path, replicates=10)), "--out", str(out),
                 "--quiet", "--chunk-size", "2"]) == 2
    err = capsys.readouterr().err
    assert "chunk size 2 makes 5 chunks of 10 networks, more than 4; use --chunk-size" in err
    assert not out.exists()


def _files_under(path):
    return sorted(str(p) for p in path.rglob("*")) if path.exists() else []


def test_dry_run_plans_and_writes_nothing(tmp_path, capsys, monkeypatch):
    cache = tmp_path / "cache"  # an empty cache: nothing is compiled, and none is made
    monkeypatch.setenv("XORSWEEP_CACHE_DIR", str(cache))
    out = tmp_path / "out"
    spec = _tiny_spec(tmp_path, replicates=600)
    assert main(["run", str(spec), "--out", str(out), "--dry-run", "--jobs", "2"]) == 0
    text = capsys.readouterr().out
    assert "cells            1\n" in text
    assert "network-epochs   600 (600 networks x 1 epochs)" in text
    assert "kernels          2 needed, 0 cached, 2 to compile" in text
    assert "disk             about " in text
    assert "documented rate of 1.4 ns per sigmoid" in text
    assert "compiling        about " in text
    assert not out.exists()
    assert not cache.exists()


def test_dry_run_refuses_what_run_refuses(tmp_path, capsys):
    out = tmp_path / "out"
    for args in (["--jobs", "0"], ["--backend", "bogus"], ["--chunk-size", "0"],
                 ["--scheduler", "tcp://127.0.0.1:1"]):
        assert main(["run", str(_tiny_spec(tmp_path)), "--out", str(out), "--dry-run",
                     *args]) == 2
        assert capsys.readouterr().err.startswith("xorsweep: error: ")
    assert not out.exists()


def test_dry_run_refuses_a_changed_spec_as_run_does_naming_the_keys(tmp_path, capsys):
    out = tmp_path / "out"
    spec = _tiny_spec(tmp_path)
    assert main(["run", str(spec), "--out", str(out), "--quiet"]) == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    for extra in ([], ["--dry-run"]):
        assert main(["run", str(spec), "--out", str(out), "--quiet", "--set", "epochs=2",
                     *extra]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1
        assert "holds a run of a different spec (epochs: 1 -> 2)" in err
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_dry_run_calibrates_with_cached_kernels_and_creates_no_cache_file(tmp_path, capsys):
    from kernels import _cache

    spec = _tiny_spec(tmp_path, replicates=300)
    sweeps.run(spec, out=tmp_path / "warm", jobs=1, chunk_size=300)  # caches its kernels
    before = _files_under(_cache.configured())
    assert main(["run", str(spec), "--out", str(tmp_path / "out"), "--dry-run", "--jobs", "1",
                 "--chunk-size", "300"]) == 0
    text = capsys.readouterr().out
    assert "kernels          2 needed, 2 cached\n" in text
    assert "estimated " in text
    assert "(calibrated: 1 kernel group trained briefly on this machine, kernels cached; " \
           "1 chunk on 1 worker)" in text
    assert "compiling        " not in text
    assert _files_under(_cache.configured()) == before
    assert not (tmp_path / "out").exists()
    # a stored run: the estimate covers what is left
    assert main(["run", str(spec), "--out", str(tmp_path / "warm"), "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "chunks           0 to train" in text
    assert "(1 of 1 chunks stored; the estimate is for the rest)" in text


def test_resume_says_so_first_and_a_complete_run_says_it_is_complete(tmp_path, capsys):
    import json

    spec = _tiny_spec(tmp_path, replicates=30)
    out = tmp_path / "out"
    assert main(["run", str(spec), "--out", str(out), "--chunk-size", "10", "--jobs", "1"]) == 0
    first = capsys.readouterr().out.splitlines()
    assert len(first) == 1
    assert "wall time " in first[0]
    assert "compiling " in first[0]
    assert "training " in first[0]
    assert " on 1 worker)" in first[0]
    manifest = out / "tiny" / "manifest.json"
    m = json.loads(manifest.read_text())
    del m["done"]["1"]
    manifest.write_text(json.dumps(m))
    assert main(["run", str(spec), "--out", str(out), "--jobs", "1", "--chunk-size", "7"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == ("resuming: 2 of 3 chunks stored, 1 to train; in the run's chunks of 10 "
                        "networks (--chunk-size 7 applies to a new run)")
    assert json.loads(manifest.read_text())["chunk_size"] == 10
    assert "30 networks x 1 epochs done; wall time" in lines[1]
    assert main(["run", str(spec), "--out", str(out)]) == 0
    assert capsys.readouterr().out == (f"tiny: already complete (30 networks x 1 epochs); "
                                       f"results in {out / 'tiny'}\n")
    assert main(["status", str(out / "tiny")]) == 0
    status = capsys.readouterr().out
    for words in ("wall time  ", "compiling  ", "training   "):
        assert words in status
    assert " s on 1 worker  (" in status
    assert main(["report", str(out / "tiny")]) == 0  # the report states times in those words
    page = (out / "tiny" / "report" / "index.html").read_text()
    for words in ("wall time<b>", "compiling<b>", "training<b>", " s on 1 worker ("):
        assert words in page


def test_compile_phase_is_shown_with_progress(tmp_path, capsys, monkeypatch):
    import kernels

    real = kernels.training.needed_kernels

    def uncached(*args, **kw):  # as if the cache held none of them
        return [type(k)(k.name, k.kind, False, k.sigmoids) for k in real(*args, **kw)]

    monkeypatch.setattr(kernels.training, "needed_kernels", uncached)
    sweeps.run(_tiny_spec(tmp_path, replicates=3), out=tmp_path / "a", progress=True)
    err = capsys.readouterr().err
    assert "compiling 2 kernels, 0 cached: 2/2" in err
    sweeps.run(_tiny_spec(tmp_path, replicates=3), out=tmp_path / "b")
    assert capsys.readouterr().err == ""


def test_specs_wraps_to_the_terminal_and_shows_size_and_time(capsys, monkeypatch):
    import os
    import shutil

    monkeypatch.setattr(shutil, "get_terminal_size", lambda *a: os.terminal_size((60, 24)))
    assert main(["specs"]) == 0
    out = capsys.readouterr().out
    described = [line for line in out.splitlines() if line.startswith("    ")]
    assert max(len(line) for line in described) <= 60
    assert len(described) > len(sweeps.bundled_specs()) + 5  # long descriptions wrapped
    header, row = out.splitlines()[:2]
    for column in ("networks", "network-epochs", "estimated time"):
        assert column in header
    assert row.startswith("activations")
    for figure in ("6,000", "30 M", " s"):
        assert figure in row


def test_a_path_the_file_system_refuses_is_one_line_with_the_way_out(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(_tiny_spec(tmp_path)), "--out", str(out), "--quiet"]) == 0
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert main(["report", str(out / "tiny"), "--out", str(blocker / "report")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.endswith("; write the report elsewhere with --out DIR\n")
    assert main(["compare", str(out / "tiny"), str(out / "tiny"), "--csv",
                 str(blocker / "c.csv")]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""  # refused before the table is printed
    assert captured.err.endswith("; write the table elsewhere with --csv PATH\n")


def test_a_registered_backend_that_cannot_hand_back_each_result_is_refused(tmp_path, capsys,
                                                                          monkeypatch):
    import joblib

    class Batched(joblib.parallel.ThreadingBackend):
        supports_retrieve_callback = False  # results only when every task is done

    monkeypatch.setitem(joblib.parallel.BACKENDS, "batched", Batched)
    out = tmp_path / "out"
    assert main(["run", str(_tiny_spec(tmp_path)), "--out", str(out), "--quiet",
                 "--backend", "batched"]) == 2
    assert "backend 'batched' is unusable here" in capsys.readouterr().err
    assert not out.exists()
