"""The store is verified whenever it is read: damaged runs are refused in one line or repaired."""

from __future__ import annotations

import errno
import io
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import sweeps
from sweeps import store
from sweeps.store import StoreError, open_run
from xorsweep.cli import main

SPEC = {"name": "tiny", "epochs": 40, "replicates": 3, "record_every": 10,
        "grid": {"lr": [0.5, 2.0], "init_scale": [0.5, 2.0]}}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """A complete run of four chunks of three networks; copy it before damaging it."""
    out = tmp_path_factory.mktemp("ref")
    sweeps.run(SPEC, out=out, jobs=1, chunk_size=3)
    return out / "tiny"


@pytest.fixture
def run_dir(reference, tmp_path):
    shutil.copytree(reference, tmp_path / "tiny")
    return tmp_path / "tiny"


def parts(run_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run_dir)): p.read_bytes()
            for sub in store.PARTS for p in sorted((run_dir / sub).glob("*.parquet"))}


def spec_file(run_dir: Path) -> str:
    path = run_dir.parent / "tiny.toml"
    path.write_text(sweeps.load_spec(SPEC).to_toml())
    return str(path)


def one_line(err: str) -> str:
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


def flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def test_a_flipped_byte_is_refused_by_every_reader_and_repaired_by_run(run_dir, capsys):
    before = parts(run_dir)
    flip_byte(run_dir / "networks" / "part-00001.parquet")
    flip_byte(run_dir / "curves" / "part-00002.parquet")
    again = f"`xorsweep run {run_dir}/spec.toml --out {run_dir.parent}` to recompute it"
    with pytest.raises(StoreError, match="networks/part-00001.parquet is damaged") as exc:
        open_run(run_dir).networks()
    assert again in str(exc.value)
    with pytest.raises(StoreError, match="curves/part-00002.parquet is damaged"):
        list(open_run(run_dir).curves())
    assert open_run(run_dir).verify() == {
        "missing": [], "damaged": ["networks/part-00001.parquet", "curves/part-00002.parquet"]}

    assert main(["status", str(run_dir)]) == 1
    out, err = capsys.readouterr()
    assert "damaged    networks/part-00001.parquet" in out
    assert "damaged    curves/part-00002.parquet" in out
    assert "complete" not in out
    assert "1 damaged" not in one_line(err)
    assert "has 2 damaged and 0 missing parts" in err

    assert main(["report", str(run_dir)]) == 1
    assert "networks/part-00001.parquet is damaged" in one_line(capsys.readouterr().err)
    assert not (run_dir / "report").exists()

    sweeps.run(SPEC, out=run_dir.parent, jobs=1)
    assert parts(run_dir) == before
    assert main(["status", str(run_dir)]) == 0


def test_a_damaged_first_part_is_refused_before_its_columns_are_read(run_dir):
    (run_dir / "networks" / "part-00000.parquet").write_bytes(b"PAR1")
    with pytest.raises(StoreError, match="part-00000.parquet is damaged"):
        open_run(run_dir).columns()


def test_missing_parts_are_listed_and_refused(run_dir, capsys):
    before = parts(run_dir)
    (run_dir / "curves" / "part-00003.parquet").unlink()
    shutil.rmtree(run_dir / "networks")
    with pytest.raises(StoreError, match=r"networks/part-00000.parquet is missing; run `xorsweep"):
        open_run(run_dir).networks()
    assert main(["status", str(run_dir)]) == 1
    out, err = capsys.readouterr()
    assert "missing    curves/part-00003.parquet" in out
    assert out.count("missing    networks/") == 4
    assert "0 damaged and 5 missing parts" in one_line(err)
    assert main(["report", str(run_dir)]) == 1
    assert "is missing" in one_line(capsys.readouterr().err)
    assert not (run_dir / "report").exists()
    sweeps.run(SPEC, out=run_dir.parent, jobs=1)
    assert parts(run_dir) == before


def _edit(change):
    def damage(run_dir):
        m = json.loads((run_dir / "manifest.json").read_text())
        change(m)
        (run_dir / "manifest.json").write_text(json.dumps(m))
    return damage


def _copy_part_over_another(run_dir):
    """Chunk 0's parts in chunk 1's place, with the manifest's hashes edited to match."""
    for sub in store.PARTS:
        shutil.copy(run_dir / sub / store.part_name(0), run_dir / sub / store.part_name(1))
    _edit(lambda m: m["done"].update({"1": m["done"]["0"]}))(run_dir)


def _move_first_boundary(m):
    m["chunks"][0][1] = m["chunks"][1][0] = 2


DAMAGED_MANIFESTS = {
    "truncated": (lambda d: (d / "manifest.json").write_text(
        (d / "manifest.json").read_text()[:150]), "not valid JSON"),
    "not utf-8": (lambda d: (d / "manifest.json").write_bytes(b"\xff\xfe{"), "not valid JSON"),
    "a list": (lambda d: (d / "manifest.json").write_text("[]"), "not a JSON object"),
    "a directory": (lambda d: ((d / "manifest.json").unlink(), (d / "manifest.json").mkdir()),
                    "cannot be read"),
    "no done": (_edit(lambda m: m.pop("done")), "no 'done'"),
    "done out of range": (_edit(lambda m: m["done"].update({"7": m["done"]["0"]})),
                          "done chunk '7' is not a chunk index 0 .. 3"),
    "epochs a string": (_edit(lambda m: m.update(epochs="40")), "'epochs' is \"40\""),
    "elapsed NaN": (_edit(lambda m: m.update(elapsed_s=float("nan"))), "'elapsed_s' is NaN"),
    "hash not hex": (_edit(lambda m: m["done"]["1"].update(networks="x" * 64)),
                     "done chunk 1 has no SHA-256 of its networks part"),
    "chunk gap": (_edit(lambda m: m["chunks"][2].__setitem__(0, 7)), "chunk 2 is \\[7, 9\\]"),
    "fewer networks": (_edit(lambda m: m.update(n_networks=9)), "the chunks end at network 12"),
    "boundary moved": (_edit(_move_first_boundary),
                       "chunk 0 is networks 0 .. 1, but its networks part holds 3 rows"),
    "epochs absurd": (_edit(lambda m: m.update(epochs=10**30)), "'epochs' is 1000000000000"),
    "created far ahead": (_edit(lambda m: m.update(created=1e20)), "'created' is 1e\\+20"),
    "versions a list": (_edit(lambda m: m.update(versions=[1])), "'versions' is \\[1\\]"),
    "machine a string": (_edit(lambda m: m.update(machine="x")), "'machine' is \"x\""),
    "part copied over another": (_copy_part_over_another,
                                 "chunk 1 is networks 3 .. 5, but its (curves|networks) part "
                                 "holds networks 0 .. 2"),
}


@pytest.mark.parametrize("case", DAMAGED_MANIFESTS)
def test_a_damaged_manifest_is_one_line_and_force_starts_over(case, run_dir, reference, capsys):
    damage, why = DAMAGED_MANIFESTS[case]
    damage(run_dir)
    manifest = run_dir / "manifest.json"
    with pytest.raises(StoreError, match=f"{re.escape(str(manifest))} is damaged \\({why}") as exc:
        open_run(run_dir).networks()
    assert f"`xorsweep run {run_dir}/spec.toml --out {run_dir.parent} --force`" in str(exc.value)
    for command in (["status", str(run_dir)], ["report", str(run_dir)]):
        assert main(command) == 1
        assert f"{manifest} is damaged" in one_line(capsys.readouterr().err)
    assert not (run_dir / "report").exists()

    spec = spec_file(run_dir)
    assert main(["run", spec, "--out", str(run_dir.parent), "--quiet", "--jobs", "1"]) == 1
    err = one_line(capsys.readouterr().err)
    assert f"{manifest} is damaged" in err
    assert "run the same command with --force to start over" in err
    assert main(["run", spec, "--out", str(run_dir.parent), "--quiet", "--jobs", "1",
                 "--chunk-size", "5", "--force"]) == 0
    forced = open_run(run_dir)
    assert forced.complete
    assert forced.manifest["chunk_size"] == 5
    assert sorted(parts(run_dir)) == [f"{sub}/part-0000{i}.parquet"
                                      for sub in ("curves", "networks") for i in range(3)]
    pd.testing.assert_frame_equal(forced.networks(), open_run(reference).networks())


def test_resume_refuses_chunk_ranges_that_are_not_the_specs(run_dir, capsys):
    _edit(lambda m: (_move_first_boundary(m), m["done"].pop("0"), m["done"].pop("1")))(run_dir)
    assert open_run(run_dir).verify() == {"missing": [], "damaged": []}  # nothing read is wrong
    with pytest.raises(StoreError, match="its chunk ranges are not the spec's.*--force"):
        sweeps.run(SPEC, out=run_dir.parent, jobs=1)


def test_resume_removes_the_temporary_files_of_interrupted_writes(run_dir, reference):
    left = [run_dir / ".manifest.json.tmp-4242", run_dir / "networks" / ".part-00002.parquet.tmp-1",
            run_dir / "curves" / ".part-00009.parquet.tmp-77"]
    for path in left:
        path.write_bytes(b"\0" * 245_000)
    (run_dir / "networks" / "part-00002.parquet").unlink()
    sweeps.run(SPEC, out=run_dir.parent, jobs=1)
    assert not [p for p in left if p.exists()]
    assert parts(run_dir) == parts(reference)



def test_a_directory_in_a_parts_place_is_listed_and_replaced(run_dir, reference, capsys):
    part = run_dir / "networks" / "part-00001.parquet"
    part.unlink()
    part.mkdir()
    assert main(["status", str(run_dir)]) == 1
    assert "damaged    networks/part-00001.parquet" in capsys.readouterr().out
    sweeps.run(SPEC, out=run_dir.parent, jobs=1)
    assert parts(run_dir) == parts(reference)


def test_resume_restores_a_damaged_frozen_spec(run_dir, reference):
    (run_dir / "spec.toml").write_text("name = [\n")
    sweeps.run(SPEC, out=run_dir.parent, jobs=1)
    assert (run_dir / "spec.toml").read_bytes() == (reference / "spec.toml").read_bytes()


def test_an_edited_spec_is_refused_by_every_reader_and_repaired_by_run(run_dir, reference,
                                                                       capsys):
    from analysis import load
    from xorsweep.server.runs import read_spec

    frozen = (run_dir / "spec.toml").read_text()
    (run_dir / "spec.toml").write_text(frozen.replace("epochs = 40", "epochs = 4"))
    edited = f"{run_dir / 'spec.toml'} was changed after the run began"
    force = f"`xorsweep run {run_dir}/spec.toml --out {run_dir.parent} --force`"
    assert main(["status", str(run_dir)]) == 1
    out, err = capsys.readouterr()
    assert "edited     spec.toml" in out
    assert "complete" not in out
    assert one_line(err).startswith(f"xorsweep: error: {edited}")
    assert force in err
    assert main(["report", str(run_dir)]) == 1
    assert edited in one_line(capsys.readouterr().err)
    assert not (run_dir / "report").exists()
    with pytest.raises(StoreError, match="was changed after the run began"):
        load(run_dir)
    with pytest.raises(StoreError, match="was changed after the run began"):
        read_spec(run_dir)
    # resuming from the edited file says what happened, not "a different spec"
    assert main(["run", str(run_dir / "spec.toml"), "--out", str(run_dir.parent),
                 "--quiet"]) == 2
    assert edited in one_line(capsys.readouterr().err)
    # the spec it was made with restores the file
    sweeps.run(SPEC, out=run_dir.parent, jobs=1)
    assert (run_dir / "spec.toml").read_text() == frozen
    assert main(["status", str(run_dir)]) == 0
    assert "state      complete" in capsys.readouterr().out


def test_a_run_begun_before_the_spec_was_recorded_is_read_and_records_it(run_dir):
    manifest = json.loads((run_dir / "manifest.json").read_text())
    recorded = manifest.pop("spec_sha256")
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    (run_dir / "spec.toml").write_text((run_dir / "spec.toml").read_text() + "# a note\n")
    assert open_run(run_dir).spec_text().endswith("# a note\n")  # not checked: no record
    sweeps.run(SPEC, out=run_dir.parent, jobs=1)
    assert json.loads((run_dir / "manifest.json").read_text())["spec_sha256"] == recorded
    assert not open_run(run_dir).spec_text().endswith("# a note\n")


def test_an_incomplete_run_says_how_to_resume_it_and_a_running_one_that_it_runs(run_dir,
                                                                                capsys):
    from analysis.report import write_report

    manifest = json.loads((run_dir / "manifest.json").read_text())
    del manifest["done"]["3"]
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    resume = f"xorsweep run {run_dir}/spec.toml --out {run_dir.parent}"
    assert main(["status", str(run_dir)]) == 0
    assert f"state      incomplete: resume with `{resume}`" in capsys.readouterr().out
    page = write_report(run_dir).read_text()
    assert f"Resume it with <code>xorsweep run {run_dir.resolve()}/spec.toml --out " \
           f"{run_dir.resolve().parent}</code>" in page
    with store.RunLock(run_dir):
        assert store.lock_held(run_dir)
        assert main(["status", str(run_dir)]) == 0
        assert "state      running" in capsys.readouterr().out
        assert "It is running: report again when it has finished" in \
            write_report(run_dir).read_text()
    assert not store.lock_held(run_dir)


def test_a_lost_manifest_starts_over_without_stale_parts(run_dir, reference):
    (run_dir / "manifest.json").unlink()
    run = sweeps.run(SPEC, out=run_dir.parent, jobs=1, chunk_size=5)
    assert sorted(parts(run_dir)) == [f"{sub}/part-0000{i}.parquet"
                                      for sub in ("curves", "networks") for i in range(3)]
    pd.testing.assert_frame_equal(run.networks(), open_run(reference).networks())

@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
def test_a_full_disk_is_one_line_naming_the_path(code, run_dir, reference, monkeypatch, capsys):
    (run_dir / "networks" / "part-00001.parquet").unlink()

    def full(fd):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(store.os, "fsync", full)
    spec = spec_file(run_dir)
    command = ["run", spec, "--out", str(run_dir.parent), "--quiet", "--jobs", "1"]
    assert main(command) == 1
    part = run_dir / "networks" / "part-00001.parquet"
    assert one_line(capsys.readouterr().err) == (
        f"xorsweep: error: disk full writing {part}; free space and run the same command again\n")
    assert not list(run_dir.rglob(".*.tmp-*"))
    monkeypatch.undo()
    assert main(command) == 0
    assert parts(run_dir) == parts(reference)


def test_direct_writes_keep_every_byte_at_any_length(tmp_path):
    rng = np.random.default_rng(0)
    if not store._write_direct(tmp_path / "probe", b"x"):
        pytest.skip(f"{tmp_path}'s file system has no direct I/O")
    for n in (0, 1, 4095, 4096, 4097, 3 * 4096 + 5, 1_000_003):
        data = rng.bytes(n)
        path = tmp_path / f"f{n}"
        store.atomic_write(path, data, direct=True)
        assert path.read_bytes() == data, n
    store.atomic_write(path, b"shorter", direct=True)  # replaces a longer file
    assert path.read_bytes() == b"shorter"
    assert not list(tmp_path.glob(".*.tmp-*"))


@pytest.mark.parametrize("refuses", ["open", "write"])
def test_a_file_system_without_direct_io_gets_an_ordinary_write(refuses, tmp_path,
                                                                  monkeypatch):
    real_open, real_write = os.open, os.write
    calls = []

    def open_(path, flags, *args):
        direct = bool(flags & getattr(os, "O_DIRECT", 0))
        calls.append(direct)
        if direct and refuses == "open":
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_open(path, flags, *args)

    writes = []

    def write(fd, data):
        if refuses == "write" and calls and calls[-1]:
            writes.append(len(data))
            if len(writes) == 1:  # a short write: the first page lands, then a refusal
                return real_write(fd, data[:4096])
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_write(fd, data)

    monkeypatch.setattr(store.os, "open", open_)
    monkeypatch.setattr(store.os, "write", write)
    data = bytes(range(256)) * 100
    path = tmp_path / "f.bin"
    store.atomic_write(path, data, direct=True)
    assert path.read_bytes() == data
    assert not list(tmp_path.glob(".*.tmp-*"))
    if getattr(os, "O_DIRECT", 0):
        assert calls[0] is True  # it was tried
        if refuses == "write" and writes:  # (a file system without direct I/O: no write)
            assert len(writes) == 2  # a short write, then the refused one
        # the folder's next files go through the page cache without asking again
        tried = len(calls)
        store.atomic_write(tmp_path / "g.bin", data, direct=True)
        assert (tmp_path / "g.bin").read_bytes() == data
        assert True not in calls[tried:]


def test_atomic_write_keeps_the_old_file_and_no_temporary_one_on_a_full_disk(tmp_path,
                                                                             monkeypatch):
    path = tmp_path / "f.bin"
    path.write_bytes(b"old")

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store.os, "fsync", full)
    for direct in (False, True):
        with pytest.raises(StoreError, match=f"^disk full writing {path}; free space"):
            store.atomic_write(path, b"new" * 1000, direct=direct)
        assert path.read_bytes() == b"old"
        assert sorted(tmp_path.iterdir()) == [path]


def _column_chunks(path: Path) -> dict[str, object]:
    meta = pq.ParquetFile(path).metadata
    group = meta.row_group(0)
    return {group.column(i).path_in_schema: group.column(i) for i in range(group.num_columns)}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_parts_split_and_compress_floats_and_keep_the_runs_dtype(dtype, tmp_path):
    sweeps.run(SPEC | {"dtype": dtype}, out=tmp_path, jobs=1, chunk_size=6)
    run_dir = tmp_path / "tiny"
    nets = _column_chunks(run_dir / "networks" / store.part_name(0))
    curves = _column_chunks(run_dir / "curves" / store.part_name(0))
    for name in ("final_loss", "lr", "out_0"):
        assert "BYTE_STREAM_SPLIT" in nets[name].encodings, (name, nets[name].encodings)
    assert any("DICTIONARY" in e for e in nets["outcome"].encodings)
    assert not any("DICTIONARY" in e for e in nets["seed"].encodings)
    for name in ("network", "replicate", "seed", "converged_epoch"):
        assert "DELTA_BINARY_PACKED" in nets[name].encodings, (name, nets[name].encodings)
        assert nets[name].compression == "UNCOMPRESSED"
    assert {c.compression for name, c in [*nets.items(), *curves.items()]
            if name not in ("network", "cell", "hidden", "replicate", "seed", "epochs",
                            "converged_epoch")} == {"LZ4"}
    assert not any(c.is_stats_set for c in [*nets.values(), *curves.values()])
    assert "BYTE_STREAM_SPLIT" in curves["loss_10"].encodings
    # number columns are required (no definition levels); named ones stay optional
    for sub in store.PARTS:
        path = run_dir / sub / store.part_name(0)
        schema = pq.read_schema(path)
        for field in schema:
            assert field.nullable == pa.types.is_dictionary(field.type), (sub, field)
    chunk = next(open_run(run_dir).curves())
    assert chunk["loss_10"].dtype == dtype
    assert chunk["network"].dtype == "int64"


def test_table_bytes_keeps_nulls_and_writes_a_file_that_outgrows_its_buffer(monkeypatch):
    table = pa.table({"x": pa.array([1.5, None, 3.0]), "n": np.arange(3),
                      "name": pa.array(["a", None, "b"]).dictionary_encode()})
    data = store.table_bytes(table)
    back = pq.read_table(pa.BufferReader(data))
    assert back.to_pylist() == table.to_pylist()
    assert [f.nullable for f in back.schema] == [True, False, True]  # x has a null
    monkeypatch.setattr(store, "_parquet_capacity", lambda table: 64)
    assert store.table_bytes(table) == data  # written again, into a growing stream


def test_parts_written_with_parquet_defaults_still_read_and_resume(run_dir, reference):
    """A run begun by a version that wrote Parquet's defaults (and float64 curves)."""
    manifest = json.loads((run_dir / store.MANIFEST).read_text())
    for i in (0, 1):
        for sub in store.PARTS:
            path = run_dir / sub / store.part_name(i)
            frame = pd.read_parquet(path)
            if sub == "curves":
                frame = frame.astype({c: "float64" for c in frame.columns if c != "network"})
            blob = io.BytesIO()
            frame.to_parquet(blob, index=False)
            path.write_bytes(blob.getvalue())
            manifest["done"][str(i)][sub] = store.sha256(blob.getvalue())
    del manifest["done"]["3"]  # and one chunk still to train, in the current encoding
    (run_dir / store.MANIFEST).write_text(json.dumps(manifest))
    sweeps.run(SPEC, out=run_dir.parent, jobs=1, chunk_size=3)
    assert open_run(run_dir).verify() == {"missing": [], "damaged": []}
    pd.testing.assert_frame_equal(open_run(run_dir).networks(), open_run(reference).networks())
    for got, want in zip(open_run(run_dir).curves(), open_run(reference).curves(), strict=True):
        pd.testing.assert_frame_equal(got, want, check_dtype=False)


@pytest.mark.parametrize("planted", [".lock", "curves"])
def test_a_link_planted_in_a_run_is_refused_and_nothing_outside_is_written(planted, run_dir,
                                                                            tmp_path, capsys):
    victim = tmp_path / "victim"
    victim.mkdir() if planted == "curves" else victim.write_text("precious")
    before = sorted(p.name for p in victim.iterdir()) if victim.is_dir() else victim.read_text()
    target = run_dir / planted
    shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
    target.symlink_to(victim)
    _edit(lambda m: m["done"].pop("1"))(run_dir)  # a chunk to train into the link
    assert main(["run", spec_file(run_dir), "--out", str(run_dir.parent), "--quiet"]) == 1
    assert f"{target} is a link; a run writes only into its own" in one_line(
        capsys.readouterr().err)
    after = sorted(p.name for p in victim.iterdir()) if victim.is_dir() else victim.read_text()
    assert after == before


def test_a_report_folder_that_is_a_link_is_refused(run_dir, tmp_path, capsys):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (run_dir / "report").symlink_to(elsewhere)
    assert main(["report", str(run_dir)]) == 1
    assert "report is a link; move it out of the run directory, or write the report " \
           "elsewhere with --out DIR" in one_line(capsys.readouterr().err)
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize("what", ["fifo spec", "fifo part", "device spec", "device manifest"])
def test_a_fifo_or_device_in_a_run_neither_hangs_nor_fills_memory(what, run_dir):
    import subprocess
    import sys

    path = run_dir / ("networks/part-00001.parquet" if "part" in what else
                      "manifest.json" if "manifest" in what else "spec.toml")
    path.unlink()
    if what.startswith("fifo"):
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")
    for command in (["status"], ["list"], ["report"]):
        target = run_dir.parent if command == ["list"] else run_dir
        done = subprocess.run([sys.executable, "-m", "xorsweep.cli", *command, str(target)],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode in (0, 1), done.stderr
        assert "Traceback" not in done.stderr
        if what == "device manifest" and command != ["list"]:
            assert "manifest.json is damaged (cannot be read: not a regular file)" in done.stderr


def test_a_refine_record_of_the_wrong_type_is_a_damaged_manifest(tmp_path, capsys):
    spec = {"name": "rf", "epochs": 20, "replicates": 1, "refine": {"levels": 1},
            "grid": {"W1[0,1]": {"linspace": [-4, 4, 3]}, "W2[1]": {"linspace": [-4, 4, 3]}}}
    sweeps.run(spec, out=tmp_path, jobs=1)
    for bad in (5, {"a": 1}, [3]):
        _edit(lambda m, bad=bad: m["refine"]["decided"][0].update(networks=bad))(tmp_path / "rf")
        assert main(["status", str(tmp_path / "rf")]) == 1
        assert "is damaged (refine level 0 is not a record" in one_line(capsys.readouterr().err)
        assert main(["list", str(tmp_path)]) == 0
        assert "damaged" in capsys.readouterr().out


def test_without_its_frozen_spec_a_run_is_resumed_from_the_spec_it_was_made_from(
        run_dir, reference, tmp_path, capsys):
    _edit(lambda m: m["done"].pop("2"))(run_dir)
    (run_dir / "spec.toml").unlink()
    assert main(["status", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "missing    spec.toml  (resuming needs SPEC, the spec file the run was made" in out
    command = out.split("`")[1]
    assert command == f"xorsweep run SPEC --out {run_dir.parent}"
    original = tmp_path / "original.toml"
    original.write_text(sweeps.load_spec(SPEC).to_toml())
    assert main(command.replace("SPEC", str(original)).split()[1:] + ["--quiet"]) == 0
    assert parts(run_dir) == parts(reference)
    assert (run_dir / "spec.toml").read_bytes() == (reference / "spec.toml").read_bytes()


def test_a_set_that_changes_nothing_leaves_a_complete_runs_frozen_spec_as_it_was(run_dir):
    before = (run_dir / "spec.toml").read_bytes()
    spec = spec_file(run_dir)
    assert main(["run", spec, "--out", str(run_dir.parent), "--set", "seed=0", "--quiet"]) == 0
    assert (run_dir / "spec.toml").read_bytes() == before
    assert open_run(run_dir).spec_text() == before.decode()
