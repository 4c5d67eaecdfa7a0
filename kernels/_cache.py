"""The on-disk cache of compiled kernels: where it lives, when it is trusted, how files are signed.

Everything xorsweep compiles is cached under one directory, :func:`root`:
``$XORSWEEP_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/xorsweep`` (default
``~/.cache/xorsweep``).  That includes numba's own cache files for the functions
of this package and of the generated kernels (:func:`numba_cache` points numba
there), so nothing is ever written into the installed package: a leftover
``__pycache__`` of numba files in ``site-packages/kernels`` once turned into a
namespace package that hid a reinstall.

Trust model.  The cache holds code that is executed (object files, generated
modules, numba's pickled index and data files), so it is used only where only
this user could have written it, as ssh checks its keys:

- the root and every directory and file under it that is read are owned by this
  user and not writable by group or others;
- every directory above the root is owned by this user or by root and not
  writable by group or others, unless it is sticky (as ``/tmp`` is), so that
  nobody else can swap the root for a directory of their own.

A root that fails the check is not used: a warning names it and the fix, and the
process compiles into a fresh private directory instead (slower: nothing is
reused across processes).  Everything xorsweep creates there is 0700 (directories)
or 0600 (files), whatever the umask.

Signatures.  Every file that code is loaded from carries an HMAC-SHA256 under a
random key kept in the root (``key``, 0600): a file that is truncated, partly
written, from another version or host, damaged in any other way, or written by
anyone who cannot read the key does not match, and is compiled again and
replaced.  A plain checksum would not do: a file with a recomputed checksum would
be loaded and run (a random object file with a valid checksum crashed every
process that loaded it).
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import hmac
import logging
import os
import secrets
import shutil
import stat
import tempfile
import threading
import warnings
from pathlib import Path

log = logging.getLogger(__name__)

#: The signing key's file name in the root.
KEY_FILE = "key"
KEY_BYTES = 32


class CacheWarning(UserWarning):
    """The cache directory cannot be trusted; kernels are compiled privately instead."""


_lock = threading.RLock()
_fallback: Path | None = None


def configured() -> Path:
    """Return the cache directory the environment asks for (not checked, maybe absent)."""
    env = os.environ.get("XORSWEEP_CACHE_DIR")
    if env:
        return Path(env).expanduser().absolute()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser().absolute() / "xorsweep"


def root() -> Path:
    """Return the cache directory to use: :func:`configured` if it can be trusted.

    Creates it (0700) if needed.  If it is untrusted or cannot be created, warns
    once per directory (naming it and the fix) and returns a private directory
    made for this process.
    """
    path = configured()
    with _lock:
        problem = _prepare(str(path))
        if problem is None:
            return path
        _warn_once(str(path), problem)
        return private_fallback()


@functools.cache
def _warn_once(path: str, problem: str) -> None:
    warnings.warn(f"xorsweep: not using the kernel cache {path}: {problem}; compiling into a "
                  "private directory for this process instead (fix the directory, or set "
                  "XORSWEEP_CACHE_DIR to a directory only you can write)", CacheWarning,
                  stacklevel=4)


def private_fallback() -> Path:
    """Return this process's private cache directory, made (0700) on first use."""
    global _fallback
    if _fallback is None or not _fallback.is_dir():
        _fallback = Path(tempfile.mkdtemp(prefix="xorsweep-cache-"))  # 0700, new, ours
        atexit.register(_remove, _fallback, os.getpid())
    return _fallback


def _remove(path: Path, pid: int) -> None:
    if os.getpid() == pid:  # not in a forked child that inherited the handler
        shutil.rmtree(path, ignore_errors=True)


def _prepare(path: str) -> str | None:
    """Create ``path`` privately if missing; return why it cannot be trusted, or None."""
    p = Path(path)
    try:
        make_private_dir(p)
    except OSError as exc:
        return f"it cannot be created ({exc.strerror or exc})"
    if not p.is_dir() or p.is_symlink():
        return "it is not a directory" if not p.is_symlink() else f"{p} is a symbolic link"
    problem = untrusted(p)
    if problem is None:
        try:
            key(p)
        except OSError as exc:
            return str(exc)
    return problem


def make_private_dir(path: Path) -> None:
    """Create ``path`` and any missing parents; the directories created are 0700."""
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=0o700)
        except FileExistsError:
            continue  # another process made it: checked like any other directory
        os.chmod(d, 0o700)  # whatever the umask


def untrusted(path: Path, *, below: Path | None = None) -> str | None:
    """Return why code under ``path`` cannot be trusted, or None if it can.

    ``path`` (a directory or file) must be owned by this user and not writable by
    group or others.  Without ``below``, every directory above it must be owned by
    this user or root and not writable by group or others unless sticky; with
    ``below`` (a trusted directory that contains ``path``), the components between
    the two are checked like ``path`` itself.
    """
    uid = os.getuid()
    try:
        st = os.lstat(path)
    except OSError as exc:
        return f"{path} cannot be read ({exc.strerror or exc})"
    if stat.S_ISLNK(st.st_mode):
        return f"{path} is a symbolic link"
    if st.st_uid != uid:
        return f"{path} is owned by uid {st.st_uid}, not by you (uid {uid})"
    if _writable_by_others(st):
        return (f"{path} is writable by {'others' if st.st_mode & 0o002 else 'group'} "
                f"(fix: chmod go-w {path})")
    if below is not None:
        p = Path(path).parent
        while p != below and below in p.parents:
            problem = untrusted(p, below=p)
            if problem:
                return problem
            p = p.parent
        return None
    for parent in Path(path).absolute().parents:
        try:
            pst = os.stat(parent)
        except OSError as exc:
            return f"{parent} cannot be read ({exc.strerror or exc})"
        if pst.st_uid not in (uid, 0):
            return f"{parent} (above it) is owned by uid {pst.st_uid}"
        if _writable_by_others(pst) and not pst.st_mode & stat.S_ISVTX:
            return f"{parent} (above it) is writable by others and not sticky"
    return None


def _writable_by_others(st: os.stat_result) -> bool:
    """Return whether anyone but the owner may write a file of this ``stat``.

    Group write counts unless the group is the user's own private group (the
    scheme of Debian and Ubuntu's umask 002: a group of the user's name, the
    user's primary group, with no other members).
    """
    if st.st_mode & 0o002:
        return True
    return bool(st.st_mode & 0o020) and not _private_group(st.st_gid)


@functools.cache
def _private_group(gid: int) -> bool:
    try:
        import grp
        import pwd

        user = pwd.getpwuid(os.getuid())
        group = grp.getgrgid(gid)
    except (ImportError, KeyError):
        return False
    return (gid == user.pw_gid and group.gr_name == user.pw_name
            and set(group.gr_mem) <= {user.pw_name})


def key(directory: Path) -> bytes:
    """Return the signing key of the cache directory ``directory``, made on first use."""
    return _key(str(directory))


@functools.cache
def _key(directory: str) -> bytes:
    path = Path(directory) / KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(KEY_BYTES))
    if path.is_file() and not path.is_symlink() and path.stat().st_size != KEY_BYTES:
        # damaged (truncated, partly written): a new key; what the old one signed is
        # compiled again, as any file not signed under the current key is
        write_private(path, secrets.token_bytes(KEY_BYTES))
    problem = untrusted(path, below=Path(directory))
    if problem is not None or not path.is_file():
        raise OSError(f"the cache key {path} is unusable ({problem or 'not a file'}; "
                      "remove it)")
    data = path.read_bytes()
    if len(data) != KEY_BYTES:  # another process is replacing it: read it again next time
        raise OSError(f"the cache key {path} is being replaced")
    return data


def sign(directory: Path, *parts: bytes) -> str:
    """Return the HMAC-SHA256 (hex) of ``parts`` under ``directory``'s key."""
    mac = hmac.new(key(directory), digestmod=hashlib.sha256)
    for part in parts:
        mac.update(len(part).to_bytes(8, "little"))
        mac.update(part)
    return mac.hexdigest()


def signed(directory: Path, signature: str, *parts: bytes) -> bool:
    """Return whether ``signature`` is :func:`sign`'s for ``parts`` (constant time)."""
    try:
        return hmac.compare_digest(signature, sign(directory, *parts))
    except (OSError, TypeError):
        return False


def readable_trusted(path: Path, directory: Path) -> bytes | None:
    """Return the bytes of ``path`` (a file under ``directory``) if it can be trusted."""
    if untrusted(path, below=directory) is not None:
        return None
    try:
        return path.read_bytes()
    except OSError:
        return None


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, as a 0600 file (readers see all or nothing)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
