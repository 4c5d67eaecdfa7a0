"""Running a sweep: expand, dispatch chunks through joblib, store results as they arrive.

Which level owns the cores: the joblib workers.  Each worker trains its chunk
on its own thread (``chunk.compute_chunk``: ``parallel=False``, GIL released), so
``jobs`` workers use ``jobs`` cores and numba never adds threads of its own.
The default backend is joblib's ``threading``: the kernels release the GIL, so
threads share the cores with no pickling or process start-up; ``"dask"`` sends
chunks to a dask.distributed cluster through the Dask client, not joblib
(``cluster.py``), so every chunk trains on a worker.  Only the driver (this
process) writes to the store.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import math
import os
import platform
import shutil
import sys
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import joblib
import numpy as np

import kernels

from . import design, levels, plan, store
from .chunk import compute_chunk
from .spec import AXES, Spec, load_spec
from .warmup import warm_with_progress

__all__ = ["run", "compute_chunk", "BACKENDS"]

log = logging.getLogger(__name__)

#: The manifest is written at most this often while chunks arrive (and after the last
#: one, or on an interruption): it lists every chunk, so writing it after each would cost
#: O(chunks^2) bytes, 4.2 GB (and 38 s of JSON encoding) for the 6,104 chunks of
#: 10^8 networks.  A chunk stored but not yet listed when the process is killed is
#: trained again on resume.
MANIFEST_EVERY_S = 1.0

#: Backend names accepted besides any joblib knows; "threads" is joblib's "threading".
BACKENDS = {"threads": "threading", "loky": "loky", "processes": "loky"}


def _versions(spec: Spec) -> dict[str, str]:
    versions = {"xorsweep": kernels.__version__, "numba": metadata.version("numba"),
                "numpy": np.__version__, "python": platform.python_version()}
    if spec.sample is not None:  # SciPy draws the Sobol and Latin-hypercube designs
        versions["scipy"] = metadata.version("scipy")
    return versions


def _prepare(run_dir: Path, spec: Spec, chunk_size: int, force: bool, device: str = "cpu"
             ) -> dict:
    """Create or reopen the run directory; return the manifest (chunks done verified).

    Called under the run's lock.  Temporary files of interrupted writes are removed
    first.  A damaged manifest is refused unless ``force``, which always starts over.
    """
    manifest_path = run_dir / store.MANIFEST
    for tmp in store.remove_temp_files(run_dir):
        log.info("removed %s, left by an interrupted write", tmp)
    if manifest_path.exists() and not force:
        manifest = store.read_manifest(
            run_dir, fix="run the same command with --force to start over")
        if refusal := resume_refusal(run_dir, spec, manifest, device):
            raise store.RunError(refusal)
        _record_order_and_design(spec, manifest)  # a run begun before they were recorded
        if spec.refine is not None:
            _check_level0(run_dir, spec, manifest)
        elif manifest["chunks"] != [[c.start, c.stop] for c in
                                    plan.make_chunks(spec, manifest["chunk_size"])]:
            raise store.StoreError(f"{manifest_path} is damaged (its chunk ranges are not the "
                                   "spec's); run the same command with --force to start over")
        _verify(run_dir, manifest)
        if refusal := numerics_message(run_dir, manifest):  # a lost part is work left too
            raise store.RunError(refusal)
        for sub in store.PARTS:  # a deleted part directory: its parts are computed again
            (run_dir / sub).mkdir(exist_ok=True)
        spec_path = run_dir / store.SPEC_FILE
        try:
            kept = store.read_regular(spec_path)
        except OSError:
            kept = None
        if kept is None or manifest.get("spec_sha256") != hashlib.sha256(kept).hexdigest():
            # missing, edited, or from before its hash was recorded: frozen again; an intact
            # one stays as the run began (a --set that changes nothing notes nothing in it)
            frozen = spec.to_toml().encode()
            if kept != frozen:
                store.atomic_write(spec_path, frozen)
            manifest["spec_sha256"] = hashlib.sha256(frozen).hexdigest()
            _save_manifest(run_dir, manifest)
        return manifest
    for sub in store.PARTS:  # parts of an earlier run (or of a lost manifest's) are stale
        shutil.rmtree(run_dir / sub, ignore_errors=True)
    if manifest_path.is_dir() and not manifest_path.is_symlink():
        shutil.rmtree(manifest_path)
    manifest_path.unlink(missing_ok=True)
    chunks = plan.make_chunks(spec, chunk_size)
    manifest = {"format": 1, "name": spec.name, "spec_digest": spec.digest(), "device": device,
                "epochs": spec.epochs, "n_networks": spec.n_networks,
                "versions": _versions(spec), "numerics": kernels.NUMERICS,
                "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
                "chunk_size": chunk_size, "chunks": [[c.start, c.stop] for c in chunks],
                "done": {}, "created": time.time(), "elapsed_s": 0.0}
    _record_order_and_design(spec, manifest)
    if spec.refine is not None:  # level 0 now; later levels as the results decide them
        manifest["refine"], chunks = levels.manifest_entry(spec, chunk_size)
        manifest["chunks"] = chunks
        manifest["n_networks"] = manifest["refine"]["decided"][0]["networks"][1]
    for sub in store.PARTS:
        (run_dir / sub).mkdir(exist_ok=True)
    frozen = spec.to_toml().encode()
    manifest["spec_sha256"] = hashlib.sha256(frozen).hexdigest()
    store.atomic_write(run_dir / store.SPEC_FILE, frozen)
    store.atomic_write(manifest_path, store.manifest_bytes(manifest))
    return manifest


def _check_level0(run_dir: Path, spec: Spec, manifest: dict) -> None:
    """Refuse a refined run's manifest whose level 0 or refinement is not the spec's."""
    entry = manifest.get("refine")
    fix = "run the same command with --force to start over"
    if not isinstance(entry, dict):
        raise store.StoreError(f"{run_dir / store.MANIFEST} is damaged (it has no refine "
                               f"levels, and the spec refines); {fix}")
    expected, chunks = levels.manifest_entry(spec, manifest["chunk_size"])
    c0, c1 = expected["decided"][0]["chunks"]
    if ({k: v for k, v in entry.items() if k != "decided"}
            != {k: v for k, v in expected.items() if k != "decided"}
            or entry["decided"][0] != expected["decided"][0]
            or manifest["chunks"][c0:c1] != chunks):
        raise store.StoreError(f"{run_dir / store.MANIFEST} is damaged (its level 0 is not the "
                               f"spec's); {fix}")


def resume_refusal(run_dir: Path, spec: Spec, manifest: dict, device: str) -> str | None:
    """Return why ``spec`` cannot resume the run of ``manifest`` on ``device``, or None.

    Another spec (:func:`changed_spec_message`), its parameter axes in another order,
    another sampled design, another device, or other kernel numerics.
    """
    if manifest["spec_digest"] != spec.digest():
        return changed_spec_message(run_dir, spec, manifest)
    return (axis_order_message(run_dir, spec, manifest)
            or design_message(run_dir, spec, manifest)
            or device_message(run_dir, manifest, device)
            or numerics_message(run_dir, manifest))


def numerics_message(run_dir: Path, manifest: dict) -> str | None:
    """Return the refusal of finishing a run begun under other kernel numerics, or None.

    A run records ``kernels.NUMERICS`` (absent: 1, every run before it was recorded).
    Its chunks trained under other numerics differ from this xorsweep's in the last
    bits, so finishing it would mix two arithmetics in one table; a complete run has
    nothing left to train and is not refused (one with a lost or damaged part has:
    :func:`_prepare` asks again after checking the parts).
    """
    if store.run_numerics(manifest) == kernels.NUMERICS or store.is_complete(manifest):
        return None
    versions = manifest.get("versions")
    began = versions.get("xorsweep", "?") if isinstance(versions, dict) else "?"
    return (f"{run_dir} was begun by xorsweep {began}, whose kernels compute otherwise "
            "(results differ in the last bits), so this xorsweep cannot train the rest; "
            f"finish it with {store.finish_advice(run_dir, manifest, kernels.NUMERICS)}")


def device_message(run_dir: Path, manifest: dict, device: str) -> str | None:
    """Return the refusal of resuming on another device (results differ in rounding), or None."""
    if manifest.get("device", "cpu") == device:
        return None
    return (f"{run_dir} was run with --device {manifest.get('device', 'cpu')}; resume it with "
            "that device, or --force to start over")


def changed_spec_message(run_dir: Path, spec: Spec, manifest: dict) -> str:
    """Return the one-line refusal of ``spec`` on a run directory that holds another spec's run.

    It names up to three keys that differ from the run's frozen ``spec.toml``, old and
    new value (none when that file is missing or unreadable), and the ways out; or, if
    that file was edited after the run began, says so (:func:`store.edited_spec_message`).
    """
    from .overrides import describe_changes
    from .spec import SpecError

    try:
        frozen = store.frozen_spec(run_dir, manifest)
        changes = "" if frozen is None else describe_changes(
            load_spec(tomllib.loads(frozen.decode())).to_dict(), spec.to_dict())
    except store.StoreError as exc:
        return str(exc)
    except (SpecError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        changes = ""
    rename = "--name NEW" if spec.zoom is not None else "--set name=NEW"  # zoom has no --set
    return (f"{run_dir} holds a run of a different spec{f' ({changes})' if changes else ''}; "
            f"give the new one another name ({rename}) or another --out, or use --force "
            "to start over")


def _record_order_and_design(spec: Spec, manifest: dict) -> None:
    """Record what a resume checks besides the digest, where the manifest lacks it.

    The order of two or more parameter axes (it numbers the cells: see
    :func:`axis_order_message`) and the SHA-256 of a sampled design's points (see
    :func:`design_message`).
    """
    if len(spec.param_axes) > 1 and "param_axes" not in manifest:
        manifest["param_axes"] = list(spec.param_axes)
    if spec.sample is not None and "design_digest" not in manifest:
        manifest["design_digest"] = design.points_digest(spec.sample, spec.seed)


def axis_order_message(run_dir: Path, spec: Spec, manifest: dict) -> str | None:
    """Return the refusal of a spec whose parameter axes come in another order than the run's.

    The cells are numbered over the grid's axes in their order, and the spec's digest
    sorts keys, so it cannot see the order: resumed under another, a run would train
    the cells of one numbering for some chunks and of the other for the rest.  The
    run's order is the manifest's ``param_axes``, or, for runs begun before the
    manifest recorded it, the frozen ``spec.toml``'s.  None: the same order (or none
    to compare with).
    """
    recorded = manifest.get("param_axes")
    if recorded is None:
        try:
            grid = tomllib.loads(store.read_regular(run_dir / store.SPEC_FILE).decode()).get("grid")
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            return None
        if not isinstance(grid, dict):
            return None
        recorded = [a for a in grid if a not in AXES]
    if recorded == list(spec.param_axes):
        return None
    return (f"{run_dir} numbers its cells over the parameter axes in the order "
            f"{', '.join(recorded)}, and the spec lists them {', '.join(spec.param_axes)}; "
            "list them in the run's order, or use --force to start over")


def design_message(run_dir: Path, spec: Spec, manifest: dict) -> str | None:
    """Return the refusal of a sampled run whose design this SciPy would draw otherwise.

    The manifest records the SHA-256 of the design's points; a run begun before it
    did is checked by the SciPy version that drew it.  None: the same points (or
    nothing recorded to compare with).
    """
    if spec.sample is None:
        return None
    versions = manifest.get("versions")
    versions = versions if isinstance(versions, dict) else {}
    then = f"SciPy {versions.get('scipy', '?')} and NumPy {versions.get('numpy', '?')}"
    now = f"SciPy {metadata.version('scipy')} and NumPy {np.__version__}"
    recorded = manifest.get("design_digest")
    if recorded is not None:
        if recorded == design.points_digest(spec.sample, spec.seed):
            return None
        verb = "draw other points"
    elif versions.get("scipy", metadata.version("scipy")) == metadata.version("scipy"):
        return None
    else:
        verb = "may draw other points"
    return (f"{run_dir}'s design points were drawn with {then}, and {now} {verb} for this "
            "spec; resume it with the versions that drew them, or use --force to start over")


def _verify(run_dir: Path, manifest: dict) -> None:
    """Forget the done chunks whose parts are missing or differ from the manifest."""
    for key, info in list(manifest["done"].items()):
        ok = True
        for sub in store.PARTS:
            path = run_dir / sub / store.part_name(int(key))
            data = path.read_bytes() if path.is_file() else None
            if data is None or store.sha256(data) != info[sub]:
                ok = False
            else:  # intact: it must hold its chunk's networks (else the manifest lies)
                store.check_part_rows(run_dir, manifest, sub, int(key), *store.part_rows(data),
                                      fix="run the same command with --force to start over")
        if not ok:
            log.warning("chunk %s of %s is missing or corrupt; computing it again", key, run_dir)
            del manifest["done"][key]
            for sub in store.PARTS:  # a directory in a part's place would block its rename
                path = run_dir / sub / store.part_name(int(key))
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)


def run(spec, *, out="runs", jobs: int | None = None, backend: str = "threads",
        chunk_size: int | None = None, force: bool = False, progress: bool = False,
        scheduler: str | None = None, device: str = "cpu",
        say: Callable[[str], None] | None = None) -> store.Run:
    """Run (or resume) a sweep and return its store.

    Parameters
    ----------
    spec : path, bundled spec name, dict or Spec
    out : path
        The run directory is ``out/<spec name>``.
    jobs : int, optional
        Workers (default: every core this process may use, :func:`plan.cores`).
    backend : str
        ``"threads"`` (default), ``"loky"``/``"processes"``, ``"dask"`` (a
        dask.distributed cluster, see ``scheduler``), or a joblib backend name of one
        that hands back each result as it is done (not ``multiprocessing``).
    chunk_size : int, optional
        Networks per chunk (default: about eight chunks per worker).  Only a new
        run uses it; a resumed run keeps its chunk table.  Results never depend on it.
    force : bool
        Start over, whatever the directory holds (another spec's run, a damaged
        manifest).  Without it, a resumed run recomputes missing or damaged parts.
    progress : bool
        Show progress on stderr: a bar of the kernels being compiled (when some are
        not cached), then a bar of network-epochs trained.
    scheduler : str, optional
        With ``backend="dask"``: the scheduler address (default
        ``$XORSWEEP_SCHEDULER``; with neither, a LocalCluster of ``jobs`` worker
        processes).  ``jobs`` is ignored for an existing cluster: its worker
        threads are the workers.
    device : {"cpu", "cuda"}
        Train on the CPU cores or on the GPU (``"cuda"``: chunks go to the GPU one
        at a time, from this process; the table agrees with the CPU's to rounding).
    say : callable, optional
        Called with a one-line message before a resumed run starts ("resuming: 12 of
        40 chunks stored, 28 to train").

    Returns
    -------
    Run
        The store; its ``session`` (a :class:`Session`) says what this call did and
        how long each phase took.

    Raises
    ------
    SpecError
        If the spec is invalid (nothing is written).
    RunError
        If an option is invalid (device, backend, jobs, chunk size, or more than
        :data:`plan.MAX_CHUNKS` chunks; nothing is written), or the directory holds
        another spec's run or another process is running it.
    StoreError
        If the manifest is damaged (without ``force``) or the disk is full; the
        message names the file.
    ClusterError
        If the Dask scheduler address is malformed or unusable here, or the scheduler
        cannot be reached or has no worker (nothing is written).
    RuntimeError
        If ``device="cuda"`` and no GPU is usable (nothing is written).

    Warns
    -----
    DesignWarning
        If the spec's ``[sample]`` design is Sobol with ``n`` not a power of two
        (:func:`sweeps.design.warn_if_unbalanced`); the run goes ahead.
    """
    spec = load_spec(spec)  # every check below comes before anything touches the disk
    jobs, joblib_backend, _ = _check_options(spec, jobs, backend, chunk_size, scheduler, device)
    design.warn_if_unbalanced(spec.sample)
    if backend == "dask":  # connect first: an unreachable cluster writes nothing
        from . import cluster

        with cluster.connect(scheduler, jobs) as client:
            return _run(spec, out, cluster.worker_threads(client), "dask", chunk_size, force,
                        progress, client, say=say)
    return _run(spec, out, jobs, joblib_backend, chunk_size, force, progress, device=device,
                say=say)


@dataclass(frozen=True)
class Session:
    """What one :func:`run` call did: chunks found stored and trained, and its times.

    ``wall_s`` is the whole call; ``compile_s`` the kernels compiled or loaded before
    training; ``training_s`` the training phase (chunks trained and stored) on
    ``workers`` workers.  The manifest keeps the totals over every session of a run
    (``wall_s``, ``compile_s``, and ``elapsed_s`` for training).
    """

    chunks: int
    stored: int
    trained: int
    workers: int
    wall_s: float
    compile_s: float
    training_s: float


def dry_run(spec, *, out="runs", jobs: int | None = None, backend: str = "threads",
            chunk_size: int | None = None, force: bool = False, scheduler: str | None = None,
            device: str = "cpu"):
    """Check the options as :func:`run` does and return what the run would take.

    Writes nothing: no run directory, no lock, no cache file (kernels that are not
    cached are not compiled: see :mod:`sweeps.estimate`).  A run directory that
    already holds this spec's run is read: the estimate covers the chunks left; one
    that :func:`run` would refuse to resume is refused here with the same message.

    Returns
    -------
    tuple of (Estimate, str)
        The estimate, and the state of the run directory in words.

    Raises
    ------
    SpecError, RunError, ClusterError, RuntimeError
        As :func:`run` for its options and for resuming the run directory (a Dask
        scheduler address is checked, not contacted; the estimate assumes ``jobs``
        workers there).
    """
    from . import estimate

    spec = load_spec(spec)
    jobs, _, size = _check_options(spec, jobs, backend, chunk_size, scheduler, device)
    design.warn_if_unbalanced(spec.sample)
    if backend == "dask":
        from . import cluster

        address = scheduler or os.environ.get(cluster.SCHEDULER_ENV)
        if address:
            cluster.check_address(address)
    run_dir = Path(out) / spec.name
    size = size or plan.default_chunk_size(spec, jobs)
    done, state = set(), f"{run_dir} (new)"
    if (run_dir / store.MANIFEST).exists():
        if force:
            state = f"{run_dir} (holds a run: --force starts it over)"
        else:
            m = store.read_manifest(run_dir, fix="run the same command with --force to start "
                                                 "over")
            if refusal := resume_refusal(run_dir, spec, m, device):
                raise store.RunError(refusal)
            size, done = m["chunk_size"], {int(k) for k in m["done"]}
            state = (f"{run_dir} ({len(done)} of {len(m['chunks'])} chunks stored; the "
                     "estimate is for the rest)")
    return estimate.estimate(spec, jobs=jobs, chunk_size=size, device=device,
                             done=done), state


def _hands_back_each(cls) -> bool:
    """Whether a joblib backend class can hand back results as they finish.

    joblib's own say so with ``supports_return_generator``: a class attribute where a
    backend cannot (multiprocessing), else a property that reads
    ``supports_retrieve_callback``.
    """
    flag = getattr(cls, "supports_return_generator", False)
    if isinstance(flag, property):
        return bool(getattr(cls, "supports_retrieve_callback", False))
    return bool(flag)


def _check_options(spec: Spec, jobs, backend, chunk_size, scheduler, device
                   ) -> tuple[int | None, str, int | None]:
    """Check :func:`run`'s options; return the workers, joblib backend and chunk size.

    The chunk size is None for a Dask cluster without ``chunk_size`` (its workers are
    counted once connected).  Raises as :func:`run` documents; touches nothing.
    """
    if device not in kernels.DEVICES:
        raise store.RunError(f"device {device!r} is not one of {', '.join(kernels.DEVICES)}")
    # joblib's own and any registered with it that hand back each result as it is done,
    # so that chunks are stored as they finish (not multiprocessing); sequential work is
    # handed back in order
    known = {n for n, cls in joblib.parallel.BACKENDS.items()
             if n == "sequential" or _hands_back_each(cls)}
    if not isinstance(backend, str) or (backend != "dask"
                                        and BACKENDS.get(backend, backend) not in known):
        unusable = "" if BACKENDS.get(backend, backend) not in joblib.parallel.BACKENDS else \
            " here (it hands back no chunk before the last, so none could be stored as it finishes)"
        raise store.RunError(f"backend {backend!r} is {'unknown' if not unusable else 'unusable'}"
                             f"{unusable}; use threads, loky, processes, dask, or a backend "
                             f"registered with joblib ({', '.join(sorted(known))})")
    if scheduler is not None and backend != "dask":
        raise store.RunError("--scheduler needs --backend dask")
    if device == "cuda":  # one GPU, fed from this process; checked before anything is written
        kernels.training.require_cuda()
        if backend != "threads":
            raise store.RunError("--device cuda runs chunks from this process; "
                                 "use the default backend (threads)")
        jobs = 1
    jobs = plan.cores() if jobs is None else jobs
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise store.RunError(f"jobs = {jobs!r} must be a positive integer")
    if chunk_size is not None and (isinstance(chunk_size, bool) or not isinstance(chunk_size, int)
                                   or chunk_size < 1):
        raise store.RunError(f"chunk size {chunk_size!r} must be a positive integer")
    size = chunk_size or (None if backend == "dask" else plan.default_chunk_size(spec, jobs))
    if size is not None and plan.count_chunks(spec, size) > plan.MAX_CHUNKS:
        least = -(-spec.n_networks // (plan.MAX_CHUNKS // 2))  # leaves room for groups
        raise store.RunError(f"chunk size {size} makes {plan.count_chunks(spec, size):,} chunks "
                             f"of {spec.n_networks:,} networks, more than {plan.MAX_CHUNKS:,}; "
                             f"use --chunk-size {least} or more"
                             + ("" if chunk_size else ", or fewer --jobs"))
    return jobs, BACKENDS.get(backend, backend), size


def _run(spec, out, jobs, joblib_backend, chunk_size, force, progress, client=None,
         device="cpu", say=None):
    t0 = time.perf_counter()
    run_dir = Path(out) / spec.name
    run_dir.mkdir(parents=True, exist_ok=True)
    times = {"compile_s": 0.0, "training_s": 0.0}
    with store.RunLock(run_dir):
        manifest = _prepare(run_dir, spec, chunk_size or plan.default_chunk_size(spec, jobs),
                            force, device)
        todo = [(i, a, b) for i, (a, b) in enumerate(manifest["chunks"])
                if str(i) not in manifest["done"]]
        n_chunks, stored = len(manifest["chunks"]), len(manifest["chunks"]) - len(todo)
        undecided = spec.refine is not None and (len(manifest["refine"]["decided"])
                                                 <= spec.refine.levels)
        if (todo or undecided) and stored and say is not None:
            kept = manifest["chunk_size"]  # a resume keeps the run's chunks
            say(f"resuming: {stored:,} of {n_chunks:,} chunks stored, {len(todo):,} to train"
                + (f"; {store.levels_text(manifest)}" if spec.refine is not None else "")
                + (f"; in the run's chunks of {kept:,} networks (--chunk-size {chunk_size:,} "
                   "applies to a new run)" if chunk_size not in (None, kept) else ""))

        wall = (manifest.get("wall_s", 0.0), t0)  # earlier calls' wall time; this call's start

        def train(todo, **how):
            _execute(run_dir, spec, manifest, todo, jobs, joblib_backend, progress, client,
                     device, times=times, wall=wall, **how)

        if spec.refine is not None:
            trained = _run_levels(run_dir, spec, manifest, train)
        elif todo:
            train(todo)
            trained = len(todo)
        else:
            trained = 0
    run = store.open_run(run_dir)
    run.session = Session(chunks=len(manifest["chunks"]), stored=stored, trained=trained,
                          workers=jobs, wall_s=time.perf_counter() - t0, **times)
    return run


def _run_levels(run_dir: Path, spec: Spec, manifest: dict, train: Callable) -> int:
    """Train a refined run level by level, deciding each next level; return the chunks trained.

    Level ``l``'s missing chunks are trained, then level ``l + 1``'s points are decided
    from the stored results of levels 0 .. ``l``: a level already in the manifest
    must match them (else :class:`StoreError`), a new one is recorded, with its
    chunks, before any of them is trained.
    """
    trained = 0
    keys, rows = [], []
    key = spec.refine.level0_keys()
    for level in range(spec.refine.levels + 1):
        rec = manifest["refine"]["decided"][level]
        c0, c1 = rec["chunks"]
        todo = [(i, *manifest["chunks"][i]) for i in range(c0, c1)
                if str(i) not in manifest["done"]]
        if todo:
            train(todo, placement=functools.partial(levels.placement, spec, rec, key, level),
                  desc=f"{spec.name} level {level}")
            trained += len(todo)
        if level == spec.refine.levels:
            break
        keys.append(key)
        rows.append(levels.level_labels(spec, run_dir, manifest, level))
        key = levels.next_points(spec, level, keys, rows)
        decided = manifest["refine"]["decided"]
        if level + 1 < len(decided):  # decided before: the results must decide it again
            new, chunks = levels.record(spec, key, rec["networks"][1], c1,
                                        manifest["chunk_size"])
            levels.check_level(run_dir, manifest, level + 1, new, chunks)
        else:
            levels.append_level(spec, manifest, key)
            if len(manifest["chunks"]) > plan.MAX_CHUNKS:
                raise store.RunError(f"level {level + 1} makes {len(manifest['chunks']):,} "
                                     f"chunks, more than {plan.MAX_CHUNKS:,}; start over with "
                                     "a larger --chunk-size")
            store.atomic_write(run_dir / store.MANIFEST, store.manifest_bytes(manifest))
    return trained


def _save_manifest(run_dir: Path, manifest: dict) -> float:
    """Write the manifest; return when (``time.perf_counter``)."""
    store.atomic_write(run_dir / store.MANIFEST, store.manifest_bytes(manifest))
    return time.perf_counter()


def _chunk_sizes(todo) -> list[int]:
    """Return the distinct sizes of the chunks still to run."""
    return sorted({b - a for _, a, b in todo})


def _execute(run_dir, spec, manifest, todo, jobs, backend, progress, client=None,
             device="cpu", times=None, wall=None, placement=None, desc=None) -> None:
    """Train the chunks ``todo`` and store each as it arrives; add to ``times``.

    ``wall``: the run's wall time before the current ``run`` call, and when that call
    began, so that a call that trains level by level counts its time once.

    ``placement(start, stop)``, for a refined run, gives each chunk's levels-side
    layout (:func:`sweeps.levels.placement`), sent to the worker with the chunk.
    """
    from tqdm import tqdm

    times = {} if times is None else times
    t_compile = time.perf_counter()
    if device == "cpu" and client is None:
        # compile once, before any worker needs them
        warm_with_progress(spec, jobs, _chunk_sizes(todo), progress)
    if client is not None:  # each worker process compiles once, before the chunks arrive
        from . import cluster

        cluster.warm_workers(client, spec.to_dict(), _chunk_sizes(todo))
    compile_s = time.perf_counter() - t_compile
    times["compile_s"] = times.get("compile_s", 0.0) + compile_s
    manifest["compile_s"] = manifest.get("compile_s", 0.0) + compile_s
    manifest["workers"] = jobs
    wall_before, wall0 = (manifest.get("wall_s", 0.0), t_compile) if wall is None else wall
    done_nets = sum(b - a for i, (a, b) in enumerate(manifest["chunks"])
                    if str(i) in manifest["done"])
    # network-epochs, not networks: a run's networks can differ a hundredfold in cost
    bar = tqdm(total=manifest["n_networks"] * spec.epochs, initial=done_nets * spec.epochs,
               unit="net-ep", unit_scale=True, disable=not progress, desc=desc or spec.name,
               file=sys.stderr, smoothing=0.1)
    index = {a: i for i, a, _ in todo}
    data = spec.to_dict()
    t0 = time.perf_counter()
    elapsed0 = manifest["elapsed_s"]
    calls = ((data, a, b, device) + (() if placement is None else (placement(a, b),))
             for _, a, b in todo)
    saved, unsaved = -math.inf, False  # when the manifest was last written; chunks since
    try:
        with contextlib.ExitStack() as stack:
            if client is not None:  # not joblib's Dask backend: with n_jobs == 1 joblib
                # trains in this process, so a one-thread cluster would get no chunk
                results = stack.enter_context(contextlib.closing(
                    cluster.submit_chunks(client, compute_chunk, calls)))
            else:  # with jobs == 1 joblib trains here, in this thread, whatever the backend
                stack.enter_context(joblib.parallel_config(backend=backend, n_jobs=jobs))
                results = joblib.Parallel(return_as="generator_unordered")(
                    joblib.delayed(compute_chunk)(*args) for args in calls)
            for result in results:
                i = index[result["start"]]
                entry = {"seconds": result["seconds"]}
                for sub, blob in result["parts"].items():
                    store.atomic_write(run_dir / sub / store.part_name(i), blob, direct=True)
                    entry[sub] = store.sha256(blob)
                manifest["done"][str(i)] = entry
                manifest["elapsed_s"] = elapsed0 + time.perf_counter() - t0
                manifest["wall_s"] = wall_before + time.perf_counter() - wall0
                unsaved = True
                if time.perf_counter() - saved >= MANIFEST_EVERY_S:
                    saved, unsaved = _save_manifest(run_dir, manifest), False
                bar.update((result["stop"] - result["start"]) * spec.epochs)
    finally:
        if unsaved:  # the chunks stored since the last save, also when interrupted
            _save_manifest(run_dir, manifest)
        bar.close()
        times["training_s"] = times.get("training_s", 0.0) + time.perf_counter() - t0
