"""The results store: one directory per run, every file written atomically by the driver.

Layout of ``<out>/<name>/``::

    spec.toml                 the frozen spec (explicit lists)
    manifest.json             spec digest, epochs, networks, versions, machine, chunk table,
                              chunks done
    networks/part-NNNNN.parquet   one row per network (see DESIGN.md's columns)
    curves/part-NNNNN.parquet     network id and the loss at each recorded epoch
    .lock                     held (flock) by the one process running the sweep

A file is written to a temporary name, flushed, fsynced and renamed; the manifest
is replaced last, so a chunk counts as done only once both of its parts are
complete.  Parts are checked against the SHA-256 recorded in the manifest before
a run resumes; a missing, truncated or altered part is computed again.  Nothing
is pickled and nothing is evaluated.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["Run", "open_run", "RunError", "atomic_write", "RunLock"]

MANIFEST = "manifest.json"


class RunError(RuntimeError):
    """A run directory that cannot be used as asked; the message says what to do."""


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def table_bytes(df: pd.DataFrame) -> bytes:
    """Serialize a frame as Parquet bytes (deterministic for equal frames)."""
    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), sink)
    return sink.getvalue().to_pybytes()


def sha256(data: bytes) -> str:
    """Return the hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


class RunLock:
    """An exclusive lock on a run directory, released by the OS if the holder dies."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / ".lock"
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 100).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise RunError(f"{self.path.parent} is being run by {holder}; wait for it to "
                           "finish or stop it") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}".encode())
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing releases the flock
            self._fd = None


class Run:
    """A run directory, read through its manifest.  Obtain one with :func:`open_run`."""

    def __init__(self, path: Path):
        self.path = Path(path)
        manifest = self.path / MANIFEST
        if not manifest.is_file():
            raise RunError(f"{self.path} is not a run directory (no {MANIFEST}); "
                           "give the directory that `xorsweep run` created")
        self.manifest = json.loads(manifest.read_text())

    @property
    def done(self) -> list[int]:
        """Indices of the chunks whose parts are complete, ascending."""
        return sorted(int(k) for k in self.manifest["done"])

    @property
    def complete(self) -> bool:
        """Whether every chunk is done."""
        return len(self.manifest["done"]) == len(self.manifest["chunks"])

    def networks(self, columns: list[str] | None = None) -> pd.DataFrame:
        """Return the network table of the done chunks, one row per network, by network id."""
        parts = [pq.read_table(self.path / "networks" / part_name(i), columns=columns)
                 for i in self.done]
        if not parts:
            return pd.DataFrame(columns=columns or [])
        df = pa.concat_tables(parts).to_pandas()
        return df.sort_values("network", ignore_index=True) if "network" in df else df

    def columns(self) -> list[str]:
        """Return the network table's column names (empty before the first chunk is done)."""
        done = self.done
        if not done:
            return []
        return pq.read_schema(self.path / "networks" / part_name(done[0])).names

    def curves(self) -> Iterator[pd.DataFrame]:
        """Yield the recorded loss curves chunk by chunk: ``network`` and one column per epoch."""
        for i in self.done:
            yield pq.read_table(self.path / "curves" / part_name(i)).to_pandas()


def part_name(index: int) -> str:
    """Return the file name of chunk ``index``'s parts."""
    return f"part-{index:05d}.parquet"


def open_run(path) -> Run:
    """Open a run directory for reading.

    Raises
    ------
    RunError
        If ``path`` holds no manifest.
    """
    return Run(Path(path))
