"""Finding runs again: a summary of every run directory under a parent (``xorsweep list``).

A run directory is one that holds a ``manifest.json``; anything else under the
parent is skipped.  The summary reads each manifest and looks at the parts of the
done chunks without hashing them, so that listing many big runs stays quick: a part
counts as intact when it exists and ends with Parquet's end marker (a truncated
part does not).  :meth:`sweeps.store.Run.verify` (``xorsweep status``) checks every
byte.  Needs neither numba nor the kernels.
"""

from __future__ import annotations

import math
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from . import store

__all__ = ["RunSummary", "list_runs", "summarize_run"]

#: The last bytes of every Parquet file.
_PARQUET_END = b"PAR1"


@dataclass(frozen=True)
class RunSummary:
    """One run directory, as ``xorsweep list`` shows it.

    ``state`` is ``"complete"``, ``"N% done"`` (networks of the done chunks, rounded
    down; a refined run adds ``", level l of L"``, the last level decided, and its
    percentage is of the networks decided so far) or ``"damaged"`` (the manifest
    cannot be read, a done chunk's part is missing or truncated, or ``spec.toml`` was
    changed after the run began).  ``n_networks``,
    ``epochs``, ``created`` (seconds since the epoch) and ``n_done`` (networks of the
    done chunks) are None when the manifest is damaged; ``size`` is the bytes of all
    the directory's files.
    """

    name: str
    path: Path
    state: str
    n_networks: int | None
    epochs: int | None
    created: float | None
    size: int
    n_done: int | None = None


def _part_intact(path: Path) -> bool:
    try:  # not blocking on a FIFO, not reading a device: a part is a regular file
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:  # missing
        return False
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        os.lseek(fd, -len(_PARQUET_END), os.SEEK_END)
        return os.read(fd, len(_PARQUET_END)) == _PARQUET_END
    except OSError:  # shorter than the marker
        return False
    finally:
        os.close(fd)


def _spec_intact(path: Path, manifest: dict) -> bool:
    """Whether ``spec.toml`` is the file the manifest records (``store.frozen_spec``)."""
    try:
        store.frozen_spec(path, manifest)
    except store.StoreError:
        return False
    return True


def _size(path: Path) -> int:
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:  # removed meanwhile
                pass
    return total


def summarize_run(path) -> RunSummary:
    """Return the summary of one run directory (see :class:`RunSummary`); never raises on data.

    Parameters
    ----------
    path : path
        A directory that holds a ``manifest.json``.

    Returns
    -------
    RunSummary
    """
    path = Path(path)
    size = _size(path)
    try:
        m = store.read_manifest(path)
    except store.RunError:  # damaged (StoreError), or removed meanwhile
        return RunSummary(path.name, path, "damaged", None, None, None, size)
    created = m.get("created")
    if isinstance(created, bool) or not isinstance(created, int | float) or not math.isfinite(
            created):
        created = None
    done = [int(k) for k in m["done"]]
    nets = sum(m["chunks"][i][1] - m["chunks"][i][0] for i in done)
    intact = all(_part_intact(path / sub / store.part_name(i)) for i in done
                 for sub in store.PARTS)
    if not intact or not _spec_intact(path, m):
        state = "damaged"
    elif store.is_complete(m):
        state = "complete"
    else:
        state = f"{100 * nets // m['n_networks']}% done"  # down: 99.5% is not 100% done
        if (levels := store.levels_text(m)) is not None:  # of the networks decided so far
            state += f", {levels}"
    return RunSummary(path.name, path, state, m["n_networks"], m["epochs"], created, size,
                      nets)


def list_runs(parent="runs") -> list[RunSummary]:
    """Return the runs directly under ``parent``, oldest first (damaged manifests last).

    Parameters
    ----------
    parent : path
        The directory given to ``xorsweep run --out`` (default ``runs``).

    Returns
    -------
    list of RunSummary
        One per subdirectory that holds a ``manifest.json``, by creation time, then
        name.

    Raises
    ------
    RunError
        If ``parent`` does not exist or is not a directory.

    Examples
    --------
    >>> for r in list_runs("runs"):  # doctest: +SKIP
    ...     print(r.name, r.state)
    quickstart complete
    """
    parent = Path(parent)
    if not parent.is_dir():
        what = "is not a directory" if parent.exists() else "does not exist"
        raise store.RunError(f"{parent} {what}; give the directory your runs are in (the "
                             "--out of xorsweep run, default runs)")
    runs = [summarize_run(d) for d in sorted(parent.iterdir())
            if d.is_dir() and (d / store.MANIFEST).exists()]
    return sorted(runs, key=lambda r: (r.created is None, r.created or 0.0, r.name))
