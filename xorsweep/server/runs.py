"""What the server knows of the runs under its directory, cached chunk by chunk.

Every request reads the run's manifest (small, checked by the store) and looks at
the size and modification time of each done chunk's network part, without reading
it.  A part is read (through :meth:`sweeps.store.Run.networks`, which checks its
SHA-256 against the manifest) only when its key, ``(SHA-256 in the manifest, size,
mtime)``, is new: a page that polls a run of 10^6 networks while it runs reads only
the chunks that landed since the last poll.  Each chunk's counts and grid points
are kept beside its rows (:class:`ChunkStats`), so the progress a page polls for is
a sum over chunks, never a pass over the rows.  The tables and figures derived from
the network table are cached by the set of chunk keys (the run's *version*), so a
poll between two chunks computes nothing.  A part whose key changes is read and
checked again; a damaged part raises :class:`sweeps.store.StoreError` and never
reaches a page.  A part altered in place with its size and mtime restored is not
seen until the server restarts; ``xorsweep status`` checks every byte.

Nothing here writes: the server opens run files for reading only.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import tomllib
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

import kernels
from analysis.tables import GRID_AXES, is_param_axis
from sweeps import catalog
from sweeps.store import (
    MANIFEST,
    Run,
    StoreError,
    finish_advice,
    is_complete,
    levels_decided,
    levels_text,
    lock_held,
    open_run,
    part_name,
    resume_command,
    run_numerics,
)

__all__ = ["ChunkStats", "RunNotFound", "Runs", "RunData", "Snapshot", "chunk_stats", "concat",
           "lock_held", "progress", "read_spec"]

#: Runs whose network tables are kept in memory at once (least recently used dropped).
MAX_CACHED_RUNS = 6


class RunNotFound(LookupError):
    """No run of that name directly under the server's directory."""


@dataclass(frozen=True)
class ChunkStats:
    """What a page shows of one chunk without its rows: networks, converged, grid points."""

    n: int
    converged: int
    #: one row per distinct grid point of the chunk (its grid-axis columns)
    cells: pd.DataFrame
    #: of a refined run's level 0 grid (all networks of any other run)
    n0: int = 0
    converged0: int = 0


def chunk_stats(part: pd.DataFrame) -> ChunkStats:
    """Return a chunk's :class:`ChunkStats` from its network rows."""
    axes = [c for c in part.columns if c in GRID_AXES or is_param_axis(c)]
    ok = (part["converged_epoch"] >= 0).to_numpy()
    grid = (part["level"] == 0).to_numpy() if "level" in part else np.ones(len(part), bool)
    return ChunkStats(len(part), int(ok.sum()), part[axes].drop_duplicates(ignore_index=True),
                      int(grid.sum()), int((ok & grid).sum()))


@dataclass(frozen=True)
class Snapshot:
    """A run as read by one request: its manifest, version and what its chunks add up to.

    ``version`` names the set of chunk keys read ("empty" before the first chunk);
    ``n`` and ``converged`` count the networks of those chunks; ``cells`` has one
    row per distinct grid point among them, enough to choose a page's axes and
    figures without the rows (:meth:`RunData.frame` gives the rows).
    """

    path: Path
    manifest: dict
    version: str
    mtime: float
    n: int
    converged: int
    cells: pd.DataFrame
    columns: tuple[str, ...]
    #: networks and converged ones of a refined run's level 0 grid (as n, converged else)
    n0: int = 0
    converged0: int = 0


@dataclass
class RunData:
    """One run's cache: its network rows, the key and stats of every chunk, derived results.

    New chunks' rows wait in ``pending`` until :meth:`frame` needs the whole table:
    a poll that asks only for progress never copies the rows.
    """

    path: Path
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: held while a derived result is computed, so that it is computed once
    compute_lock: threading.Lock = field(default_factory=threading.Lock)
    keys: dict[int, tuple] = field(default_factory=dict)
    stats: dict[int, ChunkStats] = field(default_factory=dict)
    df: pd.DataFrame | None = None
    chunk_of_row: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    pending: dict[int, pd.DataFrame] = field(default_factory=dict)
    #: results derived from one version: {(what, *args): value}; cleared on a new version
    derived: dict = field(default_factory=dict)
    version: str = ""
    cells: pd.DataFrame = field(default_factory=pd.DataFrame)
    columns: tuple[str, ...] = ()
    #: how many parts this cache has read (the benchmark and the tests look at it)
    parts_read: int = 0

    def snapshot(self) -> Snapshot:
        """Read the manifest, then the chunks that are new or changed; return the run now.

        Raises
        ------
        RunError
            If the directory holds no manifest any more.
        StoreError
            If the manifest or a part read is damaged or missing, or the run's
            ``spec.toml`` was changed after the run began.
        """
        run = open_run(self.path)
        run.spec_text()  # an edited frozen spec: every view of the run is refused
        mtime = os.stat(self.path / MANIFEST).st_mtime
        keys = {}
        for i in run.done:
            p = run.path / "networks" / part_name(i)
            try:
                st = os.stat(p)
            except OSError:
                again = resume_command(run.path, name=run.manifest["name"])
                raise StoreError(f"{p} is missing; run `{again}` to recompute it") from None
            keys[i] = (run.manifest["done"][str(i)]["networks"], st.st_size, st.st_mtime_ns)
        with self.lock:
            gone = [i for i, k in self.keys.items() if keys.get(i) != k]
            new = sorted(i for i, k in keys.items() if self.keys.get(i) != k)
            if gone:
                if self.df is not None:
                    keep = ~np.isin(self.chunk_of_row, gone)
                    self.df = self.df[keep].reset_index(drop=True)
                    self.chunk_of_row = self.chunk_of_row[keep]
                for i in gone:
                    del self.keys[i], self.stats[i]
                    self.pending.pop(i, None)
            for i in new:
                part = run.networks(chunks=[i])
                self.parts_read += 1
                self.pending[i], self.stats[i], self.keys[i] = part, chunk_stats(part), keys[i]
                self.columns = tuple(part.columns)
            version = _version(self.keys)
            if version != self.version:
                self.derived.clear()
                self.version = version
                cells = [s.cells for s in self.stats.values()]
                self.cells = (concat(cells).drop_duplicates(ignore_index=True) if cells
                              else pd.DataFrame())
            stats = self.stats.values()
            return Snapshot(run.path, run.manifest, version, mtime, sum(s.n for s in stats),
                            sum(s.converged for s in stats), self.cells, self.columns,
                            sum(s.n0 for s in stats), sum(s.converged0 for s in stats))

    def frame(self) -> pd.DataFrame:
        """Return the network rows of every chunk read so far (in the order they were read)."""
        with self.lock:
            if self.pending:
                frames = ([] if self.df is None else [self.df]) + list(self.pending.values())
                self.chunk_of_row = np.concatenate(
                    [self.chunk_of_row] + [np.full(len(f), i, np.int64)
                                           for i, f in self.pending.items()])
                self.df = concat(frames)
                self.pending.clear()
            return pd.DataFrame() if self.df is None else self.df

    def cached(self, snap: Snapshot, what: tuple, compute):
        """Return ``compute()`` for ``snap``'s version, computed once per version and ``what``."""
        with self.compute_lock:
            with self.lock:
                if self.version == snap.version and what in self.derived:
                    return self.derived[what]
            value = compute()
            with self.lock:
                if self.version == snap.version:
                    self.derived[what] = value
            return value


def _version(keys: dict[int, tuple]) -> str:
    if not keys:
        return "empty"
    text = json.dumps(sorted(keys.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate network tables, keeping categorical columns categorical (union of values)."""
    frames = [f for f in frames if len(f.columns)]
    if len(frames) == 1:
        return frames[0]
    out = {}
    for c in frames[0].columns:
        cols = [f[c] for f in frames]
        if all(isinstance(s.dtype, pd.CategoricalDtype) for s in cols):
            out[c] = pd.Categorical(union_categoricals(cols))
        else:
            out[c] = pd.concat(cols, ignore_index=True)
    return pd.DataFrame(out)


class Runs:
    """The runs directly under a directory, found by name, and their caches.

    A name is looked up among the directory's entries, never joined into a path:
    ``..``, names with a slash and links that lead out of the directory are not
    runs.
    """

    def __init__(self, root):
        self.root = Path(root).resolve()
        self._cache: OrderedDict[str, RunData] = OrderedDict()
        self._lock = threading.Lock()

    def summaries(self) -> list[catalog.RunSummary]:
        """Return the runs' summaries, as :func:`sweeps.catalog.list_runs` gives them."""
        return [r for r in catalog.list_runs(self.root) if self._inside(r.path)]

    def _inside(self, path: Path) -> bool:
        try:
            return path.resolve().parent == self.root
        except OSError:
            return False

    def path(self, name: str) -> Path:
        """Return the directory of run ``name``.

        Raises
        ------
        RunNotFound
            If no run directory of that name lies directly under the root.
        """
        if not name or name in (".", "..") or "/" in name or "\0" in name or \
                name not in os.listdir(self.root):
            raise RunNotFound(name)
        path = self.root / name
        if not (self._inside(path) and path.is_dir() and (path / MANIFEST).is_file()):
            raise RunNotFound(name)
        return path

    def data(self, name: str) -> RunData:
        """Return the cache of run ``name`` (made on first use).  Raises :class:`RunNotFound`."""
        path = self.path(name)
        with self._lock:
            data = self._cache.pop(name, None)
            if data is None or data.path != path:
                data = RunData(path)
            self._cache[name] = data
            while len(self._cache) > MAX_CACHED_RUNS:
                self._cache.popitem(last=False)
            return data

    def summary(self, name: str) -> catalog.RunSummary:
        """Return ``xorsweep list``'s summary of one run.  Raises :class:`RunNotFound`."""
        return catalog.summarize_run(self.path(name))


def read_spec(path: Path) -> dict:
    """Return a run's frozen spec as data, or ``{}`` if it is missing or unreadable.

    Raises :class:`StoreError` if it was changed after the run began (``Run.spec_text``).
    """
    text = Run(path).spec_text()
    try:
        return {} if text is None else tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return {}


def progress(snap: Snapshot) -> dict:
    """Return a run's progress from its manifest: chunks, networks, rate, ETA, running.

    ``rate`` is network-epochs per second of training (the manifest's
    ``elapsed_s``); ``eta_s`` the training seconds left at that rate, given only
    while a sweep holds the run's lock; ``resume`` the command that resumes an
    incomplete run (absolute paths), None once it is complete or where this
    xorsweep cannot finish it (other kernel numerics); ``finish`` how to finish an
    incomplete run, in words (:func:`sweeps.store.finish_advice`).  A refined run's
    ``levels`` are ``[decided, in all]`` (counting level 0): its ``networks``, and
    the time left, are those of the levels decided so far, and it is complete when
    every level is decided and trained.
    """
    m = snap.manifest
    chunks = m["chunks"]
    done = [int(k) for k in m["done"]]
    nets = sum(chunks[i][1] - chunks[i][0] for i in done)
    total = m["n_networks"]
    rate = nets * m["epochs"] / m["elapsed_s"] if m["elapsed_s"] > 0 and nets else None
    running = lock_held(snap.path)
    levels = levels_decided(m)  # a refined run: its networks grow as levels are decided
    complete = is_complete(m)
    eta = ((total - nets) * m["epochs"] / rate if rate and running and nets < total
           else None)
    return {"chunks_done": len(done), "chunks": len(chunks), "networks_done": nets,
            "networks": total, "epochs": m["epochs"], "fraction": nets / total,
            "complete": complete, "running": running, "elapsed_s": m["elapsed_s"],
            "rate": rate, "eta_s": eta, "updated": snap.mtime,
            "levels": None if levels is None else list(levels), "levels_text": levels_text(m),
            "resume": None if complete or run_numerics(m) != kernels.NUMERICS
            else resume_command(snap.path.resolve(), name=m["name"]),
            "finish": None if complete else finish_advice(snap.path.resolve(), m,
                                                          kernels.NUMERICS),
            "created": m.get("created") if isinstance(m.get("created"), int | float) else None}

