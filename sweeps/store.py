"""The results store: one directory per run, every file written atomically by the driver.

Layout of ``<out>/<name>/``::

    spec.toml                 the frozen spec (explicit lists)
    manifest.json             spec digest, epochs, networks, versions, machine, chunk table,
                              chunks done
    networks/part-NNNNN.parquet   one row per network (see DESIGN.md's columns)
    curves/part-NNNNN.parquet     network id and the loss at each recorded epoch
    .lock                     held (flock) by the one process running the sweep

A file is written to a temporary name (``.<name>.tmp-<pid>``), flushed, fsynced
and renamed; the manifest is replaced last, so a chunk counts as done only once
both of its parts are complete.  A temporary file left by an interrupted write is
removed when the run resumes.

The store is verified whenever it is read.  The manifest is checked against its
schema (:func:`read_manifest`), and every part read is checked against the SHA-256
recorded in the manifest: a reader refuses a missing, truncated or altered part
with a :class:`StoreError` that names it and the command that recomputes it; a
run that resumes computes such a part again.  Nothing is pickled and nothing is
evaluated.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import math
import mmap
import os
import re
import shlex
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["Run", "open_run", "RunError", "StoreError", "atomic_write", "RunLock",
           "read_manifest", "remove_orphan_temp_files", "remove_temp_files", "resume_command",
           "levels_decided", "levels_text", "is_complete", "lock_held", "edited_spec_message",
           "frozen_spec", "finish_advice", "run_numerics", "SPEC_FILE"]

MANIFEST = "manifest.json"
SPEC_FILE = "spec.toml"

#: The part directories of a run, one Parquet file per chunk in each.
PARTS = ("networks", "curves")

_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
_HEX64 = re.compile(r"[0-9a-f]{64}")


class RunError(RuntimeError):
    """A run directory that cannot be used as asked; the message says what to do."""


class StoreError(RunError):
    """A run directory whose files are damaged or missing, or a disk that is full.

    The command line exits with status 1 on it (a failure of the data or the
    machine, not of the command); on any other :class:`RunError` it exits with 2.
    """


def atomic_write(path: Path, data: bytes, *, direct: bool = False) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one.

    ``direct``: write around the page cache (``O_DIRECT``) where the file system
    allows it (:func:`_write_direct`); else, or where it refuses, as any file.

    Raises
    ------
    StoreError
        If the disk (or the user's quota) is full; the temporary file is removed.
    """
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        if not (direct and _write_direct(tmp, data)):
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.errno in _DISK_FULL:
            raise StoreError(f"disk full writing {path}; free space and run the same "
                             "command again") from None
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


#: Alignment of direct writes' memory, offsets and lengths: the page, which is also a
#: multiple of every disk's logical block (512 or 4,096 bytes).
_ALIGN = mmap.PAGESIZE
#: Direct writes up to this size reuse one aligned buffer per thread.
_KEEP_BUFFER = 64 << 20
_buffers = threading.local()
#: Folders whose file system refused a direct write: later writes there go through the
#: page cache without asking again (a refused open would repeat for every part).
_refused: set[str] = set()


def _write_direct(tmp: Path, data: bytes) -> bool:
    """Write and fsync ``tmp`` with ``O_DIRECT``; return False where that is refused.

    The bytes go from an aligned buffer to the disk, padded to whole pages, and the
    file is then cut to their length.  Through the page cache, the copy into it and
    its writeback took 2.5% of a float32 sweep's CPU time (10^6 networks, 2 cores:
    `bench_sweep` ran at 92-93% of the bare kernel, written directly at 94-95%).  A
    file system without direct I/O (tmpfs, some FUSE ones; macOS and Windows have no
    ``O_DIRECT``) refuses the open or the write with EINVAL: the caller writes the
    file as any other, and so are later files in the same folder, without asking
    again.  Errors other than EINVAL (a full disk) are raised.
    """
    flag = getattr(os, "O_DIRECT", 0)
    folder = str(tmp.parent)
    if not flag or folder in _refused:
        return False
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | flag, 0o666)
    except OSError as exc:
        if exc.errno == errno.EINVAL:
            _refused.add(folder)
            return False
        raise
    try:
        n = len(data)
        padded = -(-n // _ALIGN) * _ALIGN or _ALIGN
        buffer = getattr(_buffers, "buffer", None)
        if buffer is None or len(buffer) < padded:
            # anonymous memory, page-aligned; private: a forked child gets its own copy
            buffer = mmap.mmap(-1, padded, flags=mmap.MAP_PRIVATE)
            if padded <= _KEEP_BUFFER:
                _buffers.buffer = buffer
        buffer[:n] = data
        buffer[n:padded] = bytes(padded - n)
        view = memoryview(buffer)[:padded]
        while view:
            view = view[os.write(fd, view):]
        os.ftruncate(fd, n)
        os.fsync(fd)
    except OSError as exc:
        if exc.errno == errno.EINVAL:
            _refused.add(folder)
            return False  # the caller's open truncates what was written
        raise
    finally:
        os.close(fd)
    return True


def remove_temp_files(run_dir: Path) -> list[Path]:
    """Remove the temporary files that interrupted writes left in a run; return them.

    Call it only while holding the run's :class:`RunLock` (a running writer's
    temporary file must not be taken from under it).  ``report/`` is not touched:
    ``xorsweep report`` takes no lock.
    """
    removed = []
    for folder in (Path(run_dir), *(Path(run_dir) / sub for sub in PARTS)):
        if folder.is_dir():
            for tmp in folder.glob(".*.tmp-*"):
                if tmp.is_file():
                    tmp.unlink(missing_ok=True)
                    removed.append(tmp)
    return removed


#: A temporary file whose writer is gone is left alone this long after its last write
#: (seconds): a writer on another machine sharing the folder has a PID this one cannot see.
ORPHAN_AGE_S = 600.0


def remove_orphan_temp_files(folder: Path) -> list[Path]:
    """Remove the temporary files that killed writers left in ``folder``; return them.

    For folders that writers share without a lock (``report/``): a file named as
    :func:`atomic_write` names its temporary files is removed only when no process of
    this machine has its PID and it was last written :data:`ORPHAN_AGE_S` ago or more.
    """
    removed = []
    for tmp in Path(folder).glob(".*.tmp-*"):
        pid = tmp.name.rpartition("-")[2]
        if not pid.isdigit() or _process_alive(int(pid)):
            continue
        try:
            if tmp.is_file() and time.time() - tmp.stat().st_mtime >= ORPHAN_AGE_S:
                tmp.unlink()
                removed.append(tmp)
        except FileNotFoundError:
            continue  # removed meanwhile
    return removed


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # another user's process (or a PID this OS cannot hold): keep its file
    return True


def frozen_spec(run_dir, manifest: dict) -> bytes | None:
    """Return a run's ``spec.toml`` (None if it cannot be read), checked against its manifest.

    Raises
    ------
    StoreError
        If the manifest records the file's SHA-256 and the file is not that file.
    """
    try:
        data = read_regular(Path(run_dir) / SPEC_FILE)
    except OSError:  # missing: the report says so, and a resume writes it again
        return None
    recorded = manifest.get("spec_sha256")
    if recorded is not None and hashlib.sha256(data).hexdigest() != recorded:
        raise StoreError(edited_spec_message(run_dir))
    return data


def edited_spec_message(run_dir) -> str:
    """Return the one line that refuses a run whose ``spec.toml`` was changed after it began."""
    run_dir = Path(run_dir)
    return (f"{run_dir / SPEC_FILE} was changed after the run began (it is not the file its "
            f"manifest records); undo the change, or start over with "
            f"`{resume_command(run_dir, force=True)}`")


def lock_held(run_dir) -> bool | None:
    """Return whether a process holds the run's lock (a sweep is running); None if unknown.

    Reads ``/proc/locks`` (Linux) rather than trying the lock: taking it, even for a
    moment, could make a sweep that starts at that instant refuse to run.
    """
    try:
        st = os.stat(Path(run_dir) / ".lock")
    except OSError:
        return False
    try:
        with open("/proc/locks") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    want = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    return any(len(w) > 5 and w[1] == "FLOCK" and w[5] == want
               for w in (line.split() for line in lines))


#: A spec's name, as ``sweeps.spec`` checks it: a safe directory name.
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def resume_command(run_dir, *, force: bool = False, name: str | None = None) -> str:
    """Return the ``xorsweep run`` command that resumes (or, ``force``, restarts) a run.

    A run lives in ``OUT/NAME``, NAME its spec's name (``name`` if given, else read
    from the manifest or the frozen spec).  In a directory of another name (copied
    or renamed), or where neither file says, the command sets the name to the
    directory's, so that it writes there and never into the run it was copied from;
    a directory name that no spec may take is renamed first (``mv A B && ...``).
    Without its frozen ``spec.toml`` (deleted), the command names ``SPEC``: the spec
    file the run was made from, which writes it again.
    """
    run_dir = Path(run_dir)
    if run_dir.name in ("", ".", ".."):  # `status .`: the folder by its own name
        run_dir = run_dir.resolve()
    try:
        frozen = stat.S_ISREG(os.stat(run_dir / SPEC_FILE).st_mode)
    except OSError:
        frozen = False
    name = name if name is not None else _recorded_name(run_dir)
    here, prefix, rename = run_dir.name, [], []
    if name != here:
        if not (_SAFE_NAME.fullmatch(here) and ".." not in here and len(here) <= 100):
            safe = re.sub(r"[^A-Za-z0-9._-]+", "-", here).strip("-._")[:100] or "run"
            prefix = ["mv", str(run_dir), str(run_dir.parent / safe)]
            run_dir, here = run_dir.parent / safe, safe
        rename = ["--set", f"name={_toml_string(here)}"]
    words = ["xorsweep", "run", str(run_dir / SPEC_FILE) if frozen else "SPEC", "--out",
             str(run_dir.parent), *rename, *(["--force"] if force else [])]
    command = " ".join(shlex.quote(w) for w in words)
    return " ".join(shlex.quote(w) for w in prefix) + " && " + command if prefix else command


def run_numerics(manifest: dict) -> int:
    """Return the kernel numerics a run was begun under (1 where it predates the record)."""
    return manifest.get("numerics", 1)


def finish_advice(run_dir, manifest: dict, numerics: int | None) -> str:
    """Return how to finish an incomplete run, to end a sentence ("resume it with ...").

    Its resume command in backquotes; for a run begun under other kernel numerics
    than ``numerics`` (this xorsweep's, ``kernels.NUMERICS``; None: not known, where
    the kernels are not loaded), which this xorsweep refuses to finish, the xorsweep
    that can, or the command that starts it over.
    """
    theirs = run_numerics(manifest)
    if numerics is None or theirs == numerics:
        return f"`{resume_command(run_dir, name=manifest['name'])}`"
    return (f"an xorsweep of kernel numerics {theirs} (this one's are {numerics}), or start "
            f"over with `{resume_command(run_dir, force=True, name=manifest['name'])}`")


def _recorded_name(run_dir: Path) -> str | None:
    """Return the run's name from its manifest, else its frozen spec; None if neither says."""
    import tomllib

    for path, parse in ((run_dir / MANIFEST, json.loads),
                        (run_dir / SPEC_FILE, lambda b: tomllib.loads(b.decode()))):
        try:
            name = parse(read_regular(path)).get("name")
        except (OSError, ValueError, AttributeError, RecursionError):
            continue
        if isinstance(name, str):
            return name
    return None


def _toml_string(text: str) -> str:
    """Return ``text`` as an override's value: a bare word where it reads back as itself."""
    from .errors import SpecError
    from .overrides import parse_override

    try:
        bare = parse_override(f"name={text}")[1] == text
    except SpecError:
        bare = False
    return text if bare else json.dumps(text)


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _seconds(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and v >= 0


#: Manifest keys that only reports read, and what each must be where present.
_OPTIONAL = (
    ("created", lambda v: _seconds(v) and v < 2**33, "a time (seconds since 1970)"),
    ("wall_s", _seconds, "a number of seconds >= 0"),
    ("compile_s", _seconds, "a number of seconds >= 0"),
    ("workers", lambda v: _is_int(v) and v >= 1, "an integer >= 1"),
    ("numerics", lambda v: _is_int(v) and v >= 1, "an integer >= 1"),
    ("versions", lambda v: isinstance(v, dict) and all(
        isinstance(x, str) for kv in v.items() for x in kv), "an object of version strings"),
    ("machine", lambda v: isinstance(v, dict), "an object"))


def _manifest_problem(m) -> str | None:
    """Return what is wrong with a parsed manifest, or None if it is well formed."""
    if not isinstance(m, dict):
        return "not a JSON object"
    for key, check, what in (
            ("format", lambda v: v == 1, "1"),
            ("name", lambda v: isinstance(v, str) and v != "", "a name"),
            ("spec_digest", lambda v: isinstance(v, str) and _HEX64.fullmatch(v), "a SHA-256"),
            ("epochs", lambda v: _is_int(v) and 0 <= v <= 2**62, "an integer 0 .. 2**62"),
            ("n_networks", lambda v: _is_int(v) and v >= 1, "an integer >= 1"),
            ("chunk_size", lambda v: _is_int(v) and v >= 1, "an integer >= 1"),
            ("elapsed_s", lambda v: isinstance(v, int | float) and not isinstance(v, bool)
             and math.isfinite(v) and v >= 0, "a number of seconds >= 0"),
            ("chunks", lambda v: isinstance(v, list) and v != [], "a list of [start, stop]"),
            ("done", lambda v: isinstance(v, dict), "an object"),
            ("device", lambda v: isinstance(v, str), "a device name")):
        if key not in m:
            if key == "device":  # older runs: the CPU
                continue
            return f"no {key!r}"
        if not check(m[key]):
            return f"{key!r} is {json.dumps(m[key])[:40]}, not {what}"
    start = 0
    for i, c in enumerate(m["chunks"]):
        if not (isinstance(c, list) and len(c) == 2 and all(map(_is_int, c))
                and c[0] == start and c[1] > start):
            return (f"chunk {i} is {json.dumps(c)[:40]}, not [{start}, stop > {start}]: the "
                    "chunks must cover the networks in order")
        start = c[1]
    if start != m["n_networks"]:
        return f"the chunks end at network {start}, not at n_networks = {m['n_networks']}"
    for key, entry in m["done"].items():
        if not (key.isdigit() and str(int(key)) == key and int(key) < len(m["chunks"])):
            return f"done chunk {key!r} is not a chunk index 0 .. {len(m['chunks']) - 1}"
        if not isinstance(entry, dict):
            return f"done chunk {key} is not an object"
        for sub in PARTS:
            if not (isinstance(entry.get(sub), str) and _HEX64.fullmatch(entry[sub])):
                return f"done chunk {key} has no SHA-256 of its {sub} part"
    if "param_axes" in m and not (isinstance(m["param_axes"], list)
                                  and all(isinstance(a, str) for a in m["param_axes"])):
        return f"'param_axes' is {json.dumps(m['param_axes'])[:40]}, not a list of axis names"
    for key in ("design_digest", "spec_sha256"):
        if key in m and not (isinstance(m[key], str) and _HEX64.fullmatch(m[key])):
            return f"{key!r} is {json.dumps(m[key])[:40]}, not a SHA-256"
    for key, check, what in _OPTIONAL:  # what the reports show: absent in older runs
        if key in m and not check(m[key]):
            return f"{key!r} is {json.dumps(m[key])[:40]}, not {what}"
    if "refine" in m:
        return _refine_problem(m)
    return None


def _refine_problem(m: dict) -> str | None:
    """Return what is wrong with a refined run's ``refine`` entry, or None."""
    r = m["refine"]
    if not (isinstance(r, dict) and _is_int(r.get("levels")) and r["levels"] >= 1
            and isinstance(r.get("decided"), list) and 1 <= len(r["decided"]) <= r["levels"] + 1):
        return "'refine' is not levels and a list of decided levels"
    network, chunk = 0, 0
    for i, rec in enumerate(r["decided"]):
        if not (isinstance(rec, dict) and _is_int(rec.get("points")) and rec["points"] >= 0
                and isinstance(rec.get("digest"), str) and _HEX64.fullmatch(rec["digest"])
                and all(isinstance(rec.get(k), list) and len(rec[k]) == 2
                        and all(map(_is_int, rec[k])) for k in ("networks", "chunks"))
                and rec["networks"][0] == network and rec["chunks"][0] == chunk
                and rec["networks"][1] >= network and rec["chunks"][1] >= chunk):
            return f"refine level {i} is not a record that follows level {i - 1}"
        network, chunk = rec["networks"][1], rec["chunks"][1]
        if chunk > len(m["chunks"]) or (rec["chunks"][0] < chunk
                                        and m["chunks"][chunk - 1][1] != network):
            return f"refine level {i}'s chunks do not end at its last network"
    if network != m["n_networks"] or chunk != len(m["chunks"]):
        return "the refine levels do not cover the chunks"
    return None


def levels_decided(manifest: dict) -> tuple[int, int] | None:
    """Return a refined run's ``(levels decided, levels in all)``, counting level 0; else None."""
    r = manifest.get("refine")
    return None if r is None else (len(r["decided"]), r["levels"] + 1)


def levels_text(manifest: dict) -> str | None:
    """Return a refined run's levels decided in words (``"2 of 4 levels decided"``), else None.

    The words of ``status``, ``list``, ``serve`` and a resumed run alike.
    """
    levels = levels_decided(manifest)
    if levels is None:
        return None
    return f"{levels[0]} of {levels[1]} levels decided"


def is_complete(manifest: dict) -> bool:
    """Return whether every chunk is done and, for a refined run, every level decided."""
    levels = levels_decided(manifest)
    return (len(manifest["done"]) == len(manifest["chunks"])
            and (levels is None or levels[0] == levels[1]))


def read_manifest(run_dir, *, fix: str | None = None) -> dict:
    """Read and check a run's ``manifest.json``.

    Parameters
    ----------
    run_dir : path
        The run directory.
    fix : str, optional
        What the error message tells the user to do (default: the ``xorsweep run
        ... --force`` command that starts the run over).

    Returns
    -------
    dict
        The manifest: chunk ranges that cover networks ``0 .. n_networks - 1`` in
        order, done chunks by index with the SHA-256 of both parts.

    Raises
    ------
    RunError
        If the directory holds no manifest.
    StoreError
        If the manifest cannot be read, is not JSON, or breaks the schema
        (missing keys, wrong types, values out of range, chunk ranges that do not
        cover the networks in order, done chunks that do not exist).
    """
    path = Path(run_dir) / MANIFEST
    if not path.exists():
        raise RunError(f"{Path(run_dir)} is not a run directory (no {MANIFEST}); "
                       "give the directory that `xorsweep run` created")
    try:
        problem = _manifest_problem(manifest := json.loads(read_regular(path)))
    except OSError as exc:
        problem = f"cannot be read: {exc.strerror or exc}"
    except ValueError:  # also UnicodeDecodeError
        problem = "not valid JSON"
    except RecursionError:
        problem = "nested too deeply"
    if problem is not None:
        fix = fix or f"start the run over with `{resume_command(run_dir, force=True)}`"
        raise StoreError(f"{path} is damaged ({problem}); {fix}")
    return manifest


def table_bytes(table: pa.Table) -> bytes:
    """Serialize an Arrow table as Parquet bytes (deterministic for equal input).

    Floats are written byte-stream-split and LZ4-compressed, integers delta-encoded
    and not compressed, dictionary columns dictionary-encoded, no column statistics.
    A loss or an output rarely repeats: Parquet's defaults (a dictionary per column,
    which it builds up to 1 MB of before giving up, and Snappy) wrote a chunk's
    curves (12,500 networks, 41 recorded epochs) 3.6x (float64) to 6x (float32)
    slower, into a file 1.4x to 1.7x larger.  Splitting the floats' bytes groups
    their shared exponents for the compressor; zstd at level 1 makes files 0-10%
    smaller than LZ4, and takes 1.5x as long.  Network ids, replicates and seeds
    count up: delta-encoded they take a few bytes per page, where LZ4 left half of
    their 8 bytes a row (a float32 chunk's files 13% smaller, its network table
    41%).  Statistics (each column's min and max) are a fifth of the encoding time
    and nothing here reads them: every reader takes whole parts.  Version 2 data
    pages (which compress the values, not the levels) written in batches of 65,536
    rows, not 1,024 (a chunk's column at a time), take a quarter less time to encode.
    Number columns without nulls are written required (``not null``): a nullable
    column's definition levels, one per value, took a third of a float32 chunk's
    curve encoding (16,384 networks: 4.8 ms -> 3.0 ms).  The file is written into
    one buffer sized for it, not a stream that grows by copying itself (a further
    0.2 to 0.4 ms a part).  Readers decode any encoding (pyarrow, pandas, DuckDB
    and Polars read version 2 pages).  pyarrow reads required columns as ``not
    null`` fields: joining a part written before they were required with a newer one
    takes ``pa.concat_tables(..., promote_options="default")``, as :meth:`Run.networks`
    does (pandas and ``pq.read_table`` on a directory join them as they are).
    """
    fields, encoding, compression, categorical = [], {}, {}, []
    for f, column in zip(table.schema, table.columns, strict=True):
        number = pa.types.is_floating(f.type) or pa.types.is_integer(f.type)
        fields.append(f.with_nullable(False) if number and column.null_count == 0 else f)
        if pa.types.is_floating(f.type):
            encoding[f.name], compression[f.name] = "BYTE_STREAM_SPLIT", "lz4"
        elif pa.types.is_integer(f.type):
            encoding[f.name], compression[f.name] = "DELTA_BINARY_PACKED", "none"
        else:
            compression[f.name] = "lz4"
            if pa.types.is_dictionary(f.type):
                categorical.append(f.name)
    table = pa.Table.from_arrays(table.columns, schema=pa.schema(fields, table.schema.metadata))
    options = dict(use_dictionary=categorical or False, column_encoding=encoding,
                   compression=compression, write_statistics=False, data_page_version="2.0",
                   write_batch_size=65_536)
    buffer = pa.allocate_buffer(_parquet_capacity(table))
    sink = pa.FixedSizeBufferWriter(buffer)
    try:
        pq.write_table(table, sink, **options)
    except OSError:
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, **options)
        return sink.getvalue().to_pybytes()
    return buffer[:sink.tell()].to_pybytes()


def _parquet_capacity(table: pa.Table) -> int:
    """Return room for ``table``'s Parquet file (:func:`table_bytes`).

    Every value uncompressed, LZ4's worst case and the pages' and footer's headers; a
    file that outgrows it anyway is written again into a growing stream.
    """
    return table.nbytes + table.nbytes // 64 + 4096 * (table.num_columns + 16)


def manifest_bytes(manifest: dict) -> bytes:
    """Return a manifest as compact JSON, from json's C encoder.

    The manifest is rewritten as chunks arrive; with ``indent`` json encodes in
    Python: half a second of the driver's time (under cProfile) in a sweep of 10^6
    networks in 62 chunks.
    """
    return json.dumps(manifest, separators=(",", ":")).encode()


def sha256(data: bytes) -> str:
    """Return the hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def read_regular(path) -> bytes:
    """Return the bytes of a regular file (a link to one is read).

    Anything else in a run directory (a FIFO, a device such as ``/dev/zero``, a
    directory) raises :class:`OSError` at once instead of blocking or filling memory:
    the file is opened without blocking and checked before it is read.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        with os.fdopen(os.dup(fd), "rb") as f:
            return f.read()
    finally:
        os.close(fd)


def check_folders(run_dir: Path) -> None:
    """Refuse a run directory whose part folders or lock are links or of the wrong kind.

    Writes into a run follow no link planted in it (an unpacked archive can carry
    them): a link ``networks -> ../other/networks`` would write into another run.

    Raises
    ------
    StoreError
        If ``networks/`` or ``curves/`` is a link or not a directory, or ``.lock``
        is a link or not a regular file.
    """
    for name, kind, ok in [(sub, "directory", stat.S_ISDIR) for sub in PARTS] + [
            (".lock", "regular file", stat.S_ISREG)]:
        path = Path(run_dir) / name
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            continue
        if not ok(mode):
            what = "a link" if stat.S_ISLNK(mode) else f"not a {kind}"
            raise StoreError(f"{path} is {what}; a run writes only into its own {kind}s: "
                             "move it out of the run directory and run again")


def check_part_rows(run_dir, manifest: dict, sub: str, index: int, n_rows: int,
                    ids=None, *, fix: str | None = None) -> None:
    """Refuse a manifest whose chunk range disagrees with its (intact) part.

    ``ids``, the part's ``network`` column where read, must be the chunk's range in
    order: a part copied over another's, with the manifest's hashes edited to match,
    holds another chunk's networks.  ``fix``: what the message tells the user to do
    (default: the ``--force`` command that starts the run over).

    Raises
    ------
    StoreError
        Naming the chunk, its range and what the part holds.
    """
    start, stop = manifest["chunks"][index]
    if n_rows != stop - start:  # the part is as written: the ranges were edited
        held = f"holds {n_rows} rows"
    elif ids is not None and not np.array_equal(ids, np.arange(start, stop)):
        held = f"holds networks {ids[0]} .. {ids[-1]}" if len(ids) else "holds none"
    else:
        return
    fix = fix or f"start the run over with `{resume_command(run_dir, force=True)}`"
    raise StoreError(f"{Path(run_dir) / MANIFEST} is damaged (chunk {index} is networks "
                     f"{start} .. {stop - 1}, but its {sub} part {held}); {fix}")


def part_rows(data: bytes) -> tuple[int, np.ndarray | None]:
    """Return a part's row count and ``network`` column (None if it has none), from its bytes.

    ``ParquetFile`` reads the one column for about a third of ``read_table``'s fixed
    cost per part (0.16 against 0.44 ms), which a status of thousands of chunks pays.
    """
    f = pq.ParquetFile(pa.BufferReader(data))
    if "network" not in f.schema_arrow.names:
        return f.metadata.num_rows, None
    return f.metadata.num_rows, f.read(columns=["network"]).column(0).to_numpy()


class RunLock:
    """An exclusive lock on a run directory, released by the OS if the holder dies."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / ".lock"
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        check_folders(self.path.parent)  # .lock itself: no link to follow, no directory
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        except OSError as exc:  # a link or directory put there since the check
            raise StoreError(f"{self.path} cannot be opened as the run's lock "
                             f"({exc.strerror or exc}); move it away and run again") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 100).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise RunError(f"{self.path.parent} is being run by {holder}; wait for it to "
                           "finish or stop it") from None
        try:  # the holder's pid is for the message above; the flock is the lock
            os.ftruncate(fd, 0)
            os.write(fd, f"pid {os.getpid()}".encode())
        except OSError as exc:
            if exc.errno not in _DISK_FULL:  # a full disk: the run still frees its leftovers
                os.close(fd)
                raise
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing releases the flock
            self._fd = None


class Run:
    """A run directory, read through its manifest.  Obtain one with :func:`open_run`.

    Every part read is checked against the SHA-256 in the manifest first.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.manifest = read_manifest(self.path)
        #: What the ``run()`` call that returned this store did (``runner.Session``), or None.
        self.session = None

    def spec_text(self) -> str | None:
        """Return the frozen ``spec.toml`` as text (None if it is missing or not text).

        Checked against the SHA-256 that the manifest records of it (runs begun before
        it was recorded: not checked).

        Raises
        ------
        StoreError
            If the file is not the one the run was made with (edited since).
        """
        data = frozen_spec(self.path, self.manifest)
        try:
            return None if data is None else data.decode()
        except UnicodeDecodeError:
            return None

    @property
    def done(self) -> list[int]:
        """Indices of the chunks whose parts are complete, ascending."""
        return sorted(int(k) for k in self.manifest["done"])

    @property
    def complete(self) -> bool:
        """Whether every chunk is done (by the manifest; :meth:`verify` checks the parts).

        A refined run is complete when every level is decided, too.
        """
        return is_complete(self.manifest)

    def _part_bytes(self, sub: str, index: int) -> bytes:
        """Return a done part's bytes, checked against the manifest's SHA-256."""
        path = self.path / sub / part_name(index)
        try:
            data = read_regular(path)
        except FileNotFoundError:
            raise StoreError(f"{path} is missing; {self._again()}") from None
        except OSError as exc:
            raise StoreError(f"{path} cannot be read ({exc.strerror or exc}); "
                             f"{self._again()}") from None
        if sha256(data) != self.manifest["done"][str(index)][sub]:
            raise StoreError(f"{path} is damaged (its SHA-256 does not match the manifest); "
                             f"{self._again()}")
        return data

    def _again(self) -> str:
        return f"run `{resume_command(self.path, name=self.manifest['name'])}` to recompute it"

    def _check_rows(self, sub: str, index: int, n_rows: int, ids=None) -> None:
        check_part_rows(self.path, self.manifest, sub, index, n_rows, ids)

    def _read_part(self, sub: str, index: int, columns=None) -> pa.Table:
        data = self._part_bytes(sub, index)
        if columns is None:
            table = pq.read_table(pa.BufferReader(data))
            ids = table.column("network").to_numpy() if "network" in table.column_names else None
        else:
            names = pq.read_schema(pa.BufferReader(data)).names  # the bytes in hand: no I/O
            unknown = [c for c in columns if c not in names]
            if unknown:
                raise ValueError(f"no column {unknown[0]!r} in the network table of "
                                 f"{self.path}; its columns: {', '.join(names)}")
            table = pq.read_table(pa.BufferReader(data), columns=columns)
            ids = table.column("network").to_numpy() if "network" in columns else \
                part_rows(data)[1]
        self._check_rows(sub, index, table.num_rows, ids)
        return table

    def networks(self, columns: list[str] | None = None, *,
                 chunks: list[int] | None = None) -> pd.DataFrame:
        """Return the network table of the done chunks, one row per network, by network id.

        Parameters
        ----------
        columns : list of str, optional
            Read only these columns (default: all).
        chunks : list of int, optional
            Read only these done chunks (default: every done chunk), e.g. the chunks
            that finished since a reader last looked.

        Raises
        ------
        StoreError
            If a chunk read is missing or does not match the manifest.
        RunError
            If a chunk of ``chunks`` is not done.
        ValueError
            If ``columns`` names a column the table does not have.
        """
        if chunks is None:
            chunks = self.done
        for i in chunks:
            if str(i) not in self.manifest["done"]:
                raise RunError(f"chunk {i} of {self.path} is not done")
        parts = [self._read_part("networks", i, columns) for i in chunks]
        if not parts:
            return pd.DataFrame(columns=columns or [])
        # parts written before number columns were required are nullable: one schema
        df = pa.concat_tables(parts, promote_options="default").to_pandas()
        return df.sort_values("network", ignore_index=True) if "network" in df else df

    def columns(self) -> list[str]:
        """Return the network table's column names (empty before the first chunk is done)."""
        done = self.done
        if not done:
            return []
        return pq.read_schema(pa.BufferReader(self._part_bytes("networks", done[0]))).names

    def curves(self) -> Iterator[pd.DataFrame]:
        """Yield the recorded loss curves chunk by chunk: ``network`` and one column per epoch.

        Raises
        ------
        StoreError
            If a done chunk's part is missing or does not match the manifest.
        """
        for i in self.done:
            yield self._read_part("curves", i).to_pandas()

    def verify(self) -> dict[str, list[str]]:
        """Check every done chunk's parts against the manifest, reading each once.

        Returns
        -------
        dict
            ``{"missing": [...], "damaged": [...]}``: the parts (``"networks/part-
            00003.parquet"``) that are missing, or whose SHA-256 differs from the
            manifest's; both empty for an intact run.

        Raises
        ------
        StoreError
            If an intact part holds another number of rows than its chunk range in
            the manifest (the manifest was edited).
        """
        found: dict[str, list[str]] = {"missing": [], "damaged": []}
        for i in self.done:
            for sub in PARTS:
                name = f"{sub}/{part_name(i)}"
                try:
                    data = read_regular(self.path / name)
                except FileNotFoundError:
                    found["missing"].append(name)
                    continue
                except OSError:
                    data = None
                if data is None or sha256(data) != self.manifest["done"][str(i)][sub]:
                    found["damaged"].append(name)
                else:
                    self._check_rows(sub, i, *part_rows(data))
        return found


def part_name(index: int) -> str:
    """Return the file name of chunk ``index``'s parts."""
    return f"part-{index:05d}.parquet"


def open_run(path) -> Run:
    """Open a run directory for reading.

    Raises
    ------
    RunError
        If ``path`` holds no manifest.
    StoreError
        If the manifest is damaged (see :func:`read_manifest`).
    """
    return Run(Path(path))
