"""``xorsweep list``: the runs under a directory, their state, size and progress."""

from __future__ import annotations

import datetime
import json
import os
import shutil

import pytest

import sweeps
from sweeps import catalog
from xorsweep.cli import main

SPEC = {"name": "tiny", "epochs": 1, "replicates": 3}


def _set_created(run_dir, created):
    path = run_dir / "manifest.json"
    m = json.loads(path.read_text())
    m["created"] = created
    path.write_text(json.dumps(m))
    return m


@pytest.fixture
def runs(tmp_path):
    """A runs directory: complete, partial, damaged (part, manifest) and non-run entries."""
    root = tmp_path / "runs"
    first = sweeps.run(SPEC, out=root, jobs=1, chunk_size=1).path      # 3 chunks
    _set_created(first, 3000.0)
    for name, created in (("partial", 1000.0), ("cut", 2000.0)):
        shutil.copytree(first, root / name)
        m = _set_created(root / name, created)
    m = json.loads((root / "partial" / "manifest.json").read_text())
    del m["done"]["1"]                                                 # 2 of 3 networks
    (root / "partial" / "manifest.json").write_text(json.dumps(m))
    part = root / "cut" / "curves" / "part-00002.parquet"
    part.write_bytes(part.read_bytes()[:-10])                          # truncated
    (root / "broken").mkdir()
    (root / "broken" / "manifest.json").write_text("{not json")
    (root / "notes").mkdir()                                           # not a run
    (root / "notes" / "todo.txt").write_text("x")
    (root / "README.txt").write_text("not a directory")
    return root


def test_list_shows_each_run_with_state_size_and_progress(runs, capsys):
    assert main(["list", str(runs)]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [line.split() for line in lines]
    assert rows[0] == ["name", "state", "networks", "epochs", "created", "size"]
    assert [r[0] for r in rows[1:]] == ["partial", "cut", "tiny", "broken"]  # by created
    assert [" ".join(r[1:3]) for r in rows[1:4]] == ["66% done", "damaged 3", "complete 3"]
    assert rows[4][1:5] == ["damaged", "-", "-", "-"]
    when = datetime.datetime.fromtimestamp(3000.0).strftime("%Y-%m-%d %H:%M")
    assert " ".join(rows[3][3:6]) == f"1 {when}"
    size = sum(p.stat().st_size for p in (runs / "tiny").rglob("*") if p.is_file())
    assert rows[3][6:] == [f"{size / 1e3:.3g}", "kB"]
    # aligned: every column starts where its header does
    starts = [lines[0].index(word) for word in ("state", "created")]
    for line, row in zip(lines[2:4], rows[2:4], strict=True):
        assert [line.index(row[1]), line.index(row[4])] == starts
    assert lines[0].index("networks") + len("networks") == lines[1].index("3") + 1


def test_list_runs_checks_parts_without_hashing(runs):
    by_name = {r.name: r for r in catalog.list_runs(runs)}
    assert set(by_name) == {"tiny", "partial", "cut", "broken"}
    assert by_name["tiny"].state == "complete"
    assert (by_name["tiny"].n_networks, by_name["tiny"].epochs) == (3, 1)
    assert by_name["broken"].created is None
    # altered bytes of the same length: list does not hash; status does
    part = runs / "tiny" / "networks" / "part-00000.parquet"
    data = bytearray(part.read_bytes())
    data[10] ^= 0xFF
    part.write_bytes(bytes(data))
    assert catalog.summarize_run(runs / "tiny").state == "complete"
    assert main(["status", str(runs / "tiny")]) == 1
    part.unlink()
    assert catalog.summarize_run(runs / "tiny").state == "damaged"


def test_list_marks_an_edited_spec_damaged_and_a_held_run_running(runs, capsys):
    from sweeps import store

    spec = runs / "tiny" / "spec.toml"
    spec.write_text(spec.read_text().replace("epochs = 1", "epochs = 2"))
    assert catalog.summarize_run(runs / "tiny").state == "damaged"
    with store.RunLock(runs / "partial"), store.RunLock(runs / "cut"):
        assert main(["list", str(runs)]) == 0
        states = {r[0]: " ".join(r[1:4]) for r in
                  (line.split() for line in capsys.readouterr().out.splitlines()[1:])}
    assert states["partial"] == "66% done, running"
    assert states["cut"].startswith("damaged ")  # held, but damaged all the same
    assert states["tiny"].startswith("damaged ")


def test_progress_rounds_down_so_a_run_nearly_done_is_not_100_percent(tmp_path):
    run = sweeps.run({"name": "big", "epochs": 1, "replicates": 200}, out=tmp_path, jobs=1,
                     chunk_size=199).path
    m = json.loads((run / "manifest.json").read_text())
    del m["done"]["1"]
    (run / "manifest.json").write_text(json.dumps(m))
    assert catalog.summarize_run(run).state == "99% done"


def test_list_of_an_empty_missing_or_file_dir(tmp_path, capsys, monkeypatch):
    assert main(["list", str(tmp_path)]) == 0
    assert capsys.readouterr().out == f"no runs in {tmp_path}\n"
    monkeypatch.chdir(tmp_path)  # the default: ./runs
    assert main(["list"]) == 2
    assert capsys.readouterr().err == ("xorsweep: error: runs does not exist; give the "
                                       "directory your runs are in (the --out of xorsweep run, "
                                       "default runs)\n")
    (tmp_path / "file").write_text("")
    assert main(["list", "file"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("xorsweep: error: file is not a directory;")
    assert err.count("\n") == 1
    assert not os.path.exists(tmp_path / "runs")
