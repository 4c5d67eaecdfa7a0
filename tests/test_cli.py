from __future__ import annotations

import subprocess
import sys

import pytest

import sweeps
from sweeps import plan
from sweeps.cli import main
from sweeps.store import RunError


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
    out = subprocess.run([sys.executable, "-m", "sweeps.cli", "--help"], capture_output=True,
                         text=True, check=True).stdout
    assert "xorsweep" in out


def _tiny_spec(tmp_path, replicates=1):
    path = tmp_path / "tiny.toml"
    path.write_text(f'name = "tiny"\nepochs = 1\nreplicates = {replicates}\n')
    return path


@pytest.mark.parametrize("args", [
    ["--backend", "bogus"], ["--backend", ""], ["--jobs", "0"], ["--chunk-size", "0"],
    ["--scheduler", "tcp://127.0.0.1:1"],
])
def test_bad_run_options_are_refused_before_anything_is_written(tmp_path, capsys, args):
    out = tmp_path / "out"
    assert main(["run", str(_tiny_spec(tmp_path)), "--out", str(out), "--quiet", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("xorsweep: error: ")
    assert err.count("\n") == 1
    assert not out.exists()


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
