"""Kernels as native code behind C entry points, cached as object files.

The training kernels (``_codegen``) and the initializer (``_seeding``) are
compiled by numba once, as a ``cfunc``: a C entry point that takes pointers and
sizes and calls the njit function.  Its machine code is written to the cache
directory as an object file.  Any later process loads that file with llvmlite
(numba's own LLVM binding, already installed with it) and calls the entry point
through ctypes, which releases the GIL for the call: it never imports numba.
That is what a warm start costs: on 2 Zen 3 cores, importing numba and the first
call of one of its cached functions take 0.6-0.7 s, most of it numba registering
its whole typing and lowering library; importing ``llvmlite.binding`` and loading
a kernel take 0.04-0.07 s.

The machine code is the one numba compiled (the same bits as calling the njit
function: tests check it), for this CPU: a file is named by the kernel, a digest
of the kernel sources (in the kernel's name) and a digest of everything the code
depends on besides (:func:`host_key`: numba and llvmlite versions, the CPU's
name and features, numba's settings in the environment).  Each file starts with
a header line giving its entry point, its undefined symbols, and an HMAC of the
file's name, header and object code under the cache's key (``_cache.py``): a
file that is damaged, written for another host or version, not written by this
user, or not owned by this user alone is compiled again and replaced
(atomically; several processes may do so at once and all write the same code).

An entry point refers to symbols outside its own code: the C library, the
Python C API (both in every Python process), and numba's runtime helpers, which
only its error paths call (building and raising an exception; the kernels raise
none: they allocate nothing and check no bounds).  Without numba loaded, those
resolve to a stub that aborts with a message.  A symbol that resolves nowhere
else means the file is not loaded (LLVM would abort the process).

Anything that stops the loader (not Linux ELF, llvmlite refusing the file, an
llvmlite without the calls used here) falls back to compiling with numba in the
process, as the first one did; if the loader itself fails rather than the file,
one warning names the cause.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import json
import os
import struct
import sys
import threading
import warnings
from collections.abc import Callable
from pathlib import Path

from . import _cache

#: Symbols of numba's runtime that entry points reference on error paths only.
RUNTIME_HELPERS: frozenset[str] = frozenset({
    "NRT_Free", "NRT_MemInfo_call_dtor", "numba_do_raise", "numba_gil_ensure",
    "numba_gil_release", "numba_runtime_build_excinfo_struct", "numba_unpickle"})

#: Environment variables of numba's that do not change the code it compiles.
_NEUTRAL_ENV = frozenset({
    "NUMBA_NUM_THREADS", "NUMBA_CACHE_DIR", "NUMBA_THREADING_LAYER", "NUMBA_DEBUG_CACHE",
    "NUMBA_COLOR_SCHEME", "NUMBA_DISABLE_PERFORMANCE_WARNINGS"})

#: ctypes types of the argument codes: int64, pointer, float32, float64.
_CTYPES = {"i": ctypes.c_int64, "p": ctypes.c_void_p, "f": ctypes.c_float, "d": ctypes.c_double}

_MAGIC = "xorsweep-native 2"
_lock = threading.Lock()
_loaded: dict[str, Callable] = {}
_engines: list = []  # keep every kernel's code mapped for the life of the process


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.Lock()  # a thread of the parent may have held it: nobody does here


os.register_at_fork(after_in_child=_after_fork_in_child)


@functools.cache
def sources_digest() -> str:
    """Return the SHA-256 of every kernel source file (``kernels/*.py``), as hex."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


@functools.cache
def _llvm():
    import llvmlite.binding as llvm

    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    return llvm


@functools.cache
def host_key() -> str:
    """Return a digest of what compiled code depends on besides its source."""
    from importlib.metadata import version

    llvm = _llvm()
    env = sorted((k, v) for k, v in os.environ.items()
                 if k.startswith("NUMBA_") and k not in _NEUTRAL_ENV)
    parts = [sys.platform, llvm.get_process_triple(), llvm.get_host_cpu_name(),
             llvm.get_host_cpu_features().flatten(), version("numba"), version("llvmlite"),
             repr(env)]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def entry(name: str, argcodes: str, build: Callable[[bool], object],
          cache_dir: Callable[[], Path] | None):
    """Return the C entry point ``name`` as a ctypes function of ``argcodes``.

    ``argcodes``: one character per argument (``i`` int64, ``p`` pointer, ``f``
    float32, ``d`` float64), from the entry point's declaration in ``_signatures.py``
    (:attr:`~kernels._signatures.EntrySignature.argcodes`); it returns nothing.
    ``build(numba_cache)`` compiles it with numba and returns the ``cfunc``; it is
    called only when the directory that ``cache_dir()`` returns (None: no cache) has
    no usable object file for ``name``, which it then gets.  Both are called only the
    first time ``name`` is asked for.  Where object files cannot be used (not Linux),
    ``numba_cache`` is True: the ``cfunc`` should then be cached by numba (whose
    cache keeps no object code that could be written here).
    """
    with _lock:
        if name in _loaded:
            return _loaded[name]
        directory = None if cache_dir is None else cache_dir()
        path = None if directory is None else _object_path(directory, name)
        address = _load(path, directory) if path is not None else None
        if address is None:
            compiled = build(cache_dir is not None and path is None)
            address = compiled.address
            _engines.append(compiled)  # its code lives as long as numba's library does
            if path is not None:
                _store(path, directory, compiled)
        f = ctypes.CFUNCTYPE(None, *(_CTYPES[c] for c in argcodes))(address)
        _loaded[name] = f
        return f


def _object_path(cache_dir: Path, name: str) -> Path | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return cache_dir / f"{name}.{host_key()}.o"
    except Exception as exc:  # noqa: BLE001 - no llvmlite or no metadata: no native cache
        _warn_once(f"compiled kernels cannot be cached as object files ({type(exc).__name__}: "
                   f"{exc}); numba caches them instead")
        return None


def _store(path: Path, directory: Path, compiled) -> None:
    """Write ``compiled``'s object code and signed header to ``path`` (best effort)."""
    try:
        lib = compiled._library  # numba's code library of the cfunc  # noqa: SLF001
        _, kind, (obj, _shared) = lib.serialize_using_object_code()
        if kind != "object":
            return
        header = {"magic": _MAGIC, "symbol": compiled.native_name,
                  "undefined": sorted(undefined_symbols(obj))}
        header["hmac"] = _cache.sign(directory, *_signed_parts(path.name, header, obj))
        _cache.write_private(path, json.dumps(header).encode() + b"\n" + obj)
    except Exception as exc:  # noqa: BLE001 - the kernel still runs; compiled next time
        _warn_once(f"compiled kernels cannot be cached ({type(exc).__name__}: {exc})")


def cached(name: str, cache_dir: Path) -> bool:
    """Return whether ``cache_dir`` holds a usable object file for the entry point ``name``.

    Usable as :func:`entry` would load it: the file exists, can be trusted and its
    signature verifies.  Reads only: nothing is compiled, linked or written (a
    directory without a signing key holds nothing usable, and gets none).
    """
    key = Path(cache_dir) / _cache.KEY_FILE
    if not key.is_file() or key.is_symlink() or key.stat().st_size != _cache.KEY_BYTES:
        return False
    path = _object_path(Path(cache_dir), name)
    return path is not None and path.is_file() and _verified(path, Path(cache_dir)) is not None


def _verified(path: Path, directory: Path) -> tuple[dict, bytes] | None:
    """Return the header and object code of the file at ``path`` if it is trusted and signed."""
    data = _cache.readable_trusted(path, directory)
    if data is None:
        return None
    line, _, obj = data.partition(b"\n")
    try:
        header = json.loads(line)
        if (not isinstance(header, dict) or header.get("magic") != _MAGIC
                or not _cache.signed(directory, str(header.get("hmac")),
                                     *_signed_parts(path.name, header, obj))):
            return None
    except (ValueError, KeyError, TypeError):
        return None
    return header, obj


def _load(path: Path, directory: Path) -> int | None:
    """Return the address of the entry point in the object file at ``path``, or None.

    None when there is no file, or it cannot be trusted (see ``_cache.py``), or its
    signature does not match (damaged, another version): it is compiled again.
    """
    verified = _verified(path, directory)
    if verified is None:
        return None
    header, obj = verified
    try:
        return _link(header, obj)
    except Exception as exc:  # noqa: BLE001 - llvmlite changed or refused: compile instead
        _warn_once(f"cached kernels cannot be loaded with llvmlite ({type(exc).__name__}: "
                   f"{exc}); compiling them with numba in this process")
        return None


def _signed_parts(name: str, header: dict, obj: bytes) -> tuple[bytes, bytes, bytes]:
    fields = json.dumps({k: header[k] for k in ("magic", "symbol", "undefined")},
                        sort_keys=True)
    return name.encode(), fields.encode(), obj


def _link(header: dict, obj: bytes) -> int | None:
    """Link a signed object file into this process; return its entry point's address."""
    llvm = _llvm()
    target = llvm.Target.from_default_triple().create_target_machine()
    # (creating an engine makes the process's own symbols visible to LLVM)
    engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""), target)
    for sym in header["undefined"]:
        if llvm.address_of_symbol(sym) is not None:
            continue
        if sym not in RUNTIME_HELPERS:
            return None  # LLVM would abort the process on an unresolved symbol
        llvm.add_symbol(sym, _abort_stub_address())
    engine.add_object_file(llvm.ObjectFileRef.from_data(obj))
    engine.finalize_object()
    address = engine.get_function_address(header["symbol"])
    if not address:
        return None
    _engines.append(engine)
    return address


def failed(exc: BaseException) -> None:
    """Warn (once per cause) that a generated or native kernel failed; the plain one runs."""
    _warn_once(f"the generated kernels are unavailable ({type(exc).__name__}: {exc}); using "
               "numba's ordinary kernels instead (same results, slower; XORSWEEP_NATIVE=0 "
               "skips them)", RuntimeWarning)


@functools.cache
def _warn_once(message: str, category: type[Warning] = _cache.CacheWarning) -> None:
    warnings.warn(f"xorsweep: {message}", category, stacklevel=5)


_STUB_TYPE = ctypes.CFUNCTYPE(None)


@_STUB_TYPE
def _abort_stub():
    sys.stderr.write("xorsweep: a native kernel reached numba's error handling, which this "
                     "process has not loaded (a bug in xorsweep: please report it)\n")
    sys.stderr.flush()
    os.abort()


def _abort_stub_address() -> int:
    return ctypes.cast(_abort_stub, ctypes.c_void_p).value


def undefined_symbols(obj: bytes) -> set[str]:
    """Return the names of the undefined symbols of an ELF64 little-endian object file."""
    if obj[:4] != b"\x7fELF" or obj[4] != 2 or obj[5] != 1:
        raise ValueError("not an ELF64 little-endian object file")
    shoff, = struct.unpack_from("<Q", obj, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", obj, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", obj, shoff + i * shentsize)
                for i in range(shnum)]
    names = set()
    for _, sh_type, _, _, offset, size, link, _, _, entsize in sections:
        if sh_type != 2:  # SHT_SYMTAB
            continue
        str_offset = sections[link][4]
        for k in range(1, size // entsize):  # entry 0 is the null symbol
            st_name, _, _, st_shndx, _, _ = struct.unpack_from("<IBBHQQ", obj,
                                                               offset + k * entsize)
            if st_shndx == 0 and st_name:  # SHN_UNDEF
                end = obj.index(b"\0", str_offset + st_name)
                names.add(obj[str_offset + st_name:end].decode())
    return names
