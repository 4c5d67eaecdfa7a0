"""numba's on-disk cache of this package's functions, kept in the xorsweep cache and signed.

numba caches a function next to its source file (``__pycache__``) when it can
write there: for an installed xorsweep that is inside ``site-packages``, which
must never change.  :func:`enabled` puts a locator first in numba's list that
claims this package's files and the generated kernels, and keeps their cache
files under ``<cache>/numba`` (see ``_cache.py`` for the directory and its trust
model).  Loading one of those files first checks its owner, its permissions and
an HMAC over the function's index and data files (they are pickles: unpickling
an altered file runs code); anything damaged, unreadable or failing is compiled
again, never raised.  Saving signs them afresh.

This uses numba internals (``numba.core.caching``).  If they are not as
expected, :func:`enabled` returns False with one warning, and the kernels are
compiled in every process instead of cached.
"""

from __future__ import annotations

import functools
import logging
import os
import warnings
from pathlib import Path

from . import _cache, config

log = logging.getLogger(__name__)

_PACKAGE = Path(__file__).resolve().parent
_SIGNATURE_SUFFIX = ".sig"


def enabled() -> bool:
    """Return whether this package's numba functions may be cached (``cache=...``)."""
    return bool(config.CACHE) and _install()


def ours(py_file: str) -> bool:
    """Return whether numba functions defined in ``py_file`` are cached by this module."""
    path = Path(py_file)
    if path.name.startswith("xorsweep_train_") and path.suffix == ".py":
        return True  # a generated kernel (``_codegen``), wherever the cache is
    try:
        return path.resolve().parent == _PACKAGE
    except OSError:
        return False


@functools.cache
def _install() -> bool:
    try:
        from numba.core import caching
        from numba.core import config as numba_config

        if getattr(numba_config, "CACHE_LOCATOR_CLASSES", None):
            raise RuntimeError("NUMBA_CACHE_LOCATOR_CLASSES is set, so numba would not ask "
                               "xorsweep where to keep its cache")
        impl = getattr(caching, "CacheImpl", None) or caching._CacheImpl
        locator_classes = impl._locator_classes
        locator = _make_locator(caching)
        cache_class = caching.Cache
        original_load, original_save = cache_class.load_overload, cache_class.save_overload
    except Exception as exc:  # noqa: BLE001 - numba changed: compile in every process
        warnings.warn(f"xorsweep: numba's cache cannot be kept in the xorsweep cache "
                      f"({type(exc).__name__}: {exc}); kernels are compiled in every process",
                      _cache.CacheWarning, stacklevel=3)
        return False

    def load_overload(self, sig, target_context):
        where = _locator_of(self, locator)
        if where is None:
            return original_load(self, sig, target_context)
        try:
            if not _verify(self, where):
                return None
            return original_load(self, sig, target_context)
        except Exception as exc:  # noqa: BLE001 - damaged: compile it again
            log.info("numba cache of %s unusable (%s); compiling", self, exc)
            return None

    def save_overload(self, sig, data):
        where = _locator_of(self, locator)
        if where is None:
            return original_save(self, sig, data)
        try:
            if not _verify(self, where):  # numba would unpickle the old index to update it
                index, data_files = _files(self)
                for path in [index, *data_files]:
                    path.unlink(missing_ok=True)
            original_save(self, sig, data)
            _sign(self, where)
        except Exception as exc:  # noqa: BLE001 - the code runs; it is compiled next time
            log.info("numba cache of %s not saved (%s)", self, exc)
        return None

    locator_classes.insert(0, locator)
    cache_class.load_overload = load_overload
    cache_class.save_overload = save_overload
    return True


def _make_locator(caching):
    class XorsweepLocator(caching._SourceFileBackedLocatorMixin, caching._CacheLocator):
        """numba cache files of xorsweep's functions, under ``<cache>/numba``."""

        def __init__(self, py_func, py_file):
            self._py_file = py_file
            self._lineno = py_func.__code__.co_firstlineno
            self.place(_cache.root())

        def place(self, root: Path) -> None:
            self.root = root
            self._cache_path = str(root / "numba" / self.get_suitable_cache_subpath(self._py_file))

        def ensure_cache_path(self):
            path = Path(self._cache_path)
            _cache.make_private_dir(path)
            problem = _cache.untrusted(path, below=self.root)
            if problem:
                raise OSError(problem)

        def get_cache_path(self):
            return self._cache_path

        @classmethod
        def from_function(cls, py_func, py_file):
            if not ours(py_file):
                return None
            self = cls(py_func, py_file)
            try:
                self.ensure_cache_path()
            except OSError:  # never fall through to numba's locators (the package dir)
                self.place(_cache.private_fallback())
                self.ensure_cache_path()
            return self

    return XorsweepLocator


def _locator_of(cache, locator_class):
    where = getattr(getattr(cache, "_impl", None), "locator", None)
    return where if isinstance(where, locator_class) else None


def _files(cache) -> tuple[Path, list[Path]]:
    """Return a function's index file and its data files (numba's naming)."""
    index = Path(cache._cache_file._index_path)
    base = index.name[:-len(".nbi")]
    return index, sorted(index.parent.glob(f"{base}.*.nbc"))


def _contents(where, index: Path, data: list[Path]) -> list[bytes] | None:
    parts = []
    for path in [index, *data]:
        content = _cache.readable_trusted(path, where.root)
        if content is None:
            return None
        parts += [path.name.encode(), content]
    return parts


def _verify(cache, where) -> bool:
    """Return whether a function's cache files are there, trusted and signed by this cache."""
    index, data = _files(cache)
    if not index.exists():
        return False
    signature = _cache.readable_trusted(index.with_name(index.name + _SIGNATURE_SUFFIX),
                                        where.root)
    parts = _contents(where, index, data)
    return (signature is not None and parts is not None
            and _cache.signed(where.root, signature.decode(errors="replace"), *parts))


def _sign(cache, where) -> None:
    index, data = _files(cache)
    for path in [index, *data]:
        os.chmod(path, 0o600)  # numba writes with the umask
    parts = _contents(where, index, data)
    if parts is not None:
        _cache.write_private(index.with_name(index.name + _SIGNATURE_SUFFIX),
                             _cache.sign(where.root, *parts).encode())


def cached(py_file: Path, qualname: str, root: Path, dtype: str) -> bool:
    """Return whether numba's cache under ``root`` holds ``qualname`` of ``py_file`` for ``dtype``.

    What numba would load: a signed index (see :func:`_verify`) of this numba
    version, stamped with the file's current source (and the kernel sources'
    digest, see ``_cpu._depend_on_sources``), listing a compiled signature with
    arrays of ``dtype``.  Reads only (it imports numba, to read the index's
    types); a cache it cannot read holds nothing.
    """
    import pickle
    import sys

    from numba import __version__ as numba_version
    from numba.core import caching

    from ._native import sources_digest

    if not (Path(root) / _cache.KEY_FILE).is_file():  # (signing would make a key)
        return False
    py_file = Path(py_file).resolve()
    folder = Path(root) / "numba" / caching._CacheLocator.get_suitable_cache_subpath(
        str(py_file))
    python = f"py{sys.version_info.major}{sys.version_info.minor}"
    where = type("Where", (), {"root": Path(root)})
    for index in folder.glob(f"{py_file.stem}.{qualname}-*.{python}*.nbi"):
        base = index.name[:-len(".nbi")]
        data = sorted(index.parent.glob(f"{base}.*.nbc"))
        signature = _cache.readable_trusted(index.with_name(index.name + _SIGNATURE_SUFFIX),
                                            Path(root))
        parts = _contents(where, index, data)
        if signature is None or parts is None or not _cache.signed(
                Path(root), signature.decode(errors="replace"), *parts):
            continue
        try:
            with open(index, "rb") as f:
                if pickle.load(f) != numba_version:  # signed by this cache: trusted
                    continue
                stamp, overloads = pickle.loads(f.read())
            source = type("Source", (caching._SourceFileBackedLocatorMixin,),
                          {"_py_file": str(py_file)})()
            if stamp != (source.get_source_stamp(), sources_digest()):
                continue
        except Exception:  # noqa: BLE001 - unreadable: numba would compile it again
            continue
        if any(f"Array({dtype}," in str(key) for key in overloads):
            return True
    return False
