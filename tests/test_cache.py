"""The kernel cache: never inside the package, trusted only when private, signed, and optional."""

from __future__ import annotations

import compileall
import hashlib
import json
import os
import pickle
import shutil
import stat
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import kernels
from kernels import _cache, _codegen, _native, config

ROOT = Path(__file__).resolve().parents[1]
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    """An empty private cache directory, and a process that has loaded no kernel yet."""
    path = tmp_path / "cache"
    monkeypatch.setenv("XORSWEEP_CACHE_DIR", str(path))
    monkeypatch.setattr(_codegen, "_modules", {})
    monkeypatch.setattr(_native, "_loaded", {})
    return path


def _tree(path: Path) -> dict[str, int]:
    return {str(p.relative_to(path)): p.stat().st_size for p in path.rglob("*")}


def test_nothing_is_written_into_the_installed_package(tmp_path):
    # installed as pip installs it: the packages and their bytecode, nothing else
    site = tmp_path / "site"
    for package in ("kernels", "sweeps", "analysis", "xorsweep"):
        shutil.copytree(ROOT / package, site / package,
                        ignore=shutil.ignore_patterns("__pycache__", "*.nb[ic]"))
    compileall.compile_dir(site, quiet=1)
    before = _tree(site)
    spec = tmp_path / "tiny.toml"
    spec.write_text('name = "tiny"\nepochs = 40\nreplicates = 6\n[grid]\nlr = [0.5, 2.0]\n')
    script = ("import sys, numpy as np, kernels, xorsweep.cli\n"
              "assert kernels.__file__.startswith(sys.argv[1]), kernels.__file__\n"
              "X, Y = kernels.tasks.xor()\n"
              "p = kernels.init_params(np.arange(5))\n"
              "kernels.forward(p, X)\n"  # numba's own cache (the generic kernel)
              "sys.exit(xorsweep.cli.main(['run', sys.argv[2], '--out', sys.argv[3], '--quiet']))")
    env = dict(os.environ, PYTHONPATH=str(site), XORSWEEP_CACHE_DIR=str(tmp_path / "cache"))
    env.pop("NUMBA_CACHE_DIR", None)
    out = subprocess.run([sys.executable, "-c", script, str(site), str(spec),
                          str(tmp_path / "runs")], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert _tree(site) == before  # nothing new, nothing changed
    assert list((tmp_path / "cache" / "numba").rglob("*.nbi"))  # numba's cache went here


def test_a_cache_writable_by_others_is_not_used(cache_dir):
    _cache.make_private_dir(cache_dir)
    os.chmod(cache_dir, 0o777)
    with pytest.warns(_cache.CacheWarning, match=f"{cache_dir}.*writable by others"):
        used = _cache.root()
    assert used != cache_dir
    st = used.stat()
    assert st.st_uid == os.getuid()
    assert stat.S_IMODE(st.st_mode) == 0o700


@pytest.mark.skipif(not IS_ROOT, reason="needs root to give a directory to another user")
def test_a_cache_owned_by_someone_else_is_not_used(cache_dir):
    _cache.make_private_dir(cache_dir)
    os.chown(cache_dir, 12345, 12345)
    with pytest.warns(_cache.CacheWarning, match="owned by uid 12345"):
        assert _cache.root() != cache_dir


def test_a_cache_below_a_directory_others_can_write_is_not_used(tmp_path, monkeypatch):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)  # anyone could swap the cache for a directory of their own
    monkeypatch.setenv("XORSWEEP_CACHE_DIR", str(shared / "cache"))
    with pytest.warns(_cache.CacheWarning, match="above it"):
        assert _cache.root() != shared / "cache"
    os.chmod(shared, 0o1777)  # sticky, as /tmp: only the owner may rename what is inside
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _cache.root() == shared / "cache"


def test_a_cache_that_is_a_file_is_not_used(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("XORSWEEP_CACHE_DIR", str(tmp_path / "file"))
    with pytest.warns(_cache.CacheWarning, match="not a directory"):
        assert _cache.root() != tmp_path / "file"


def test_a_damaged_key_is_replaced_and_an_unusable_one_refused(cache_dir):
    assert _cache.root() == cache_dir
    key = cache_dir / _cache.KEY_FILE
    first = key.read_bytes()
    key.write_bytes(first[:10])  # truncated
    _cache._key.cache_clear()
    assert _cache.root() == cache_dir
    assert len(key.read_bytes()) == len(first)
    assert key.read_bytes() != first
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    key.unlink()
    key.mkdir()
    _cache._key.cache_clear()
    with pytest.warns(_cache.CacheWarning, match="key .* unusable"):
        assert _cache.root() != cache_dir


def test_untrusted_files_inside_the_cache(tmp_path):
    d = tmp_path / "c"
    _cache.make_private_dir(d)
    f = d / "f"
    f.write_bytes(b"x")
    os.chmod(f, 0o600)
    assert _cache.readable_trusted(f, d) == b"x"
    os.chmod(f, 0o602)
    assert _cache.readable_trusted(f, d) is None
    os.chmod(f, 0o600)
    (d / "link").symlink_to(f)
    assert _cache.readable_trusted(d / "link", d) is None
    sub = d / "sub"
    sub.mkdir(mode=0o777)
    os.chmod(sub, 0o777)
    (sub / "g").write_bytes(b"y")
    os.chmod(sub / "g", 0o600)
    assert _cache.readable_trusted(sub / "g", d) is None  # a directory on the way


def test_group_write_counts_unless_the_group_is_the_users_own(tmp_path, monkeypatch):
    import grp
    import pwd

    f = tmp_path / "f"
    f.write_bytes(b"x")
    os.chmod(f, 0o620)
    user = pwd.getpwuid(os.getuid())
    own = _cache._private_group(user.pw_gid)
    assert own == (grp.getgrgid(user.pw_gid).gr_name == user.pw_name
                   and set(grp.getgrgid(user.pw_gid).gr_mem) <= {user.pw_name})
    assert (_cache.untrusted(f, below=tmp_path) is None) == own
    monkeypatch.setattr(_cache, "_private_group", lambda gid: False)  # a shared group
    assert "writable by group" in _cache.untrusted(f, below=tmp_path)
    monkeypatch.setattr(_cache, "_private_group", lambda gid: True)  # the user's own
    assert _cache.untrusted(f, below=tmp_path) is None


UMASK_SCRIPT = """
import os, sys, numpy as np
os.umask(0)
import kernels
X, Y = kernels.tasks.xor()
p = kernels.init_params(np.arange(100))
kernels.forward(p, X)
kernels.train(p, X, Y, epochs=20)
"""


def test_everything_in_the_cache_is_private_whatever_the_umask(tmp_path):
    cache = tmp_path / "new" / "cache"
    env = dict(os.environ, XORSWEEP_CACHE_DIR=str(cache))
    subprocess.run([sys.executable, "-c", UMASK_SCRIPT], env=env, check=True, timeout=600,
                   capture_output=True)
    paths = [cache, *cache.rglob("*")]
    assert any(p.suffix == ".o" for p in paths)
    assert any(p.suffix == ".nbi" for p in paths)
    for p in paths:
        mode = stat.S_IMODE(p.stat().st_mode)
        assert mode == (0o700 if p.is_dir() else 0o600), (p, oct(mode))
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o700  # created by xorsweep


def _train(n=64, dtype=np.float64):
    X, Y = kernels.tasks.xor()
    p = kernels.init_params(np.arange(n), dtype=dtype)
    return kernels.train(p, X, Y, lr=np.linspace(0.5, 3, n), epochs=40, record_every=4)


def _same(a, b):
    for name in ("loss", "curve", "outputs", "converged_epoch", "outcome"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    for x, y in zip(a.params.arrays(), b.params.arrays(), strict=True):
        np.testing.assert_array_equal(x, y)


def _forget_loaded(monkeypatch):
    monkeypatch.setattr(_codegen, "_modules", {})
    monkeypatch.setattr(_native, "_loaded", {})


def test_an_object_file_with_a_recomputed_checksum_is_not_loaded(cache_dir, monkeypatch):
    want = _train()
    [path] = cache_dir.glob("xorsweep_train_*.o")
    [other] = cache_dir.glob("xorsweep_init_*.o")
    header = json.loads(path.read_bytes().partition(b"\n")[0])
    foreign = other.read_bytes().partition(b"\n")[2]  # valid code, but not this kernel's
    rng = np.random.default_rng(0)
    for obj in (foreign, rng.integers(0, 256, 4096, dtype=np.uint8).tobytes()):
        forged = dict(header, sha256=hashlib.sha256(obj).hexdigest())
        path.write_bytes(json.dumps(forged).encode() + b"\n" + obj)
        assert _native._load(path, cache_dir) is None
    _forget_loaded(monkeypatch)
    _same(_train(), want)  # compiled again (a forged file is never called) ...
    assert _native._load(path, cache_dir)  # ... and replaced by a signed one


def test_a_file_signed_with_another_key_is_not_loaded(cache_dir, monkeypatch):
    want = _train()
    [path] = cache_dir.glob("xorsweep_train_*.o")
    assert _native._load(path, cache_dir)
    (cache_dir / _cache.KEY_FILE).unlink()  # as another cache's file would be
    _cache._key.cache_clear()
    assert _native._load(path, cache_dir) is None
    [module] = cache_dir.glob("xorsweep_train_*.py")
    assert not _codegen._intact(module, cache_dir)
    _forget_loaded(monkeypatch)
    _same(_train(), want)
    assert _native._load(path, cache_dir)


def test_an_edited_generated_module_with_a_recomputed_stamp_is_rewritten(cache_dir, monkeypatch):
    want = _train()
    [module] = cache_dir.glob("xorsweep_train_*.py")
    good = module.read_text()
    rest = good.partition("\n")[2].replace("zero = one - one", "zero = one", 1)
    stamp = hashlib.sha256(rest.encode()).hexdigest()
    module.write_text(f"# sha256 of the rest of this file: {stamp}\n{rest}")
    for obj in cache_dir.glob("xorsweep_train_*.o"):
        obj.unlink()  # (else the module is not read: its compiled code is loaded)
    _forget_loaded(monkeypatch)
    _same(_train(), want)
    assert module.read_text() == good


def _numba_files(cache: Path, function: str) -> list[Path]:
    return sorted(cache.glob(f"numba/*/{function}-*"))


FORWARD = """
import sys, numpy as np, kernels
X, Y = kernels.tasks.xor()
np.save(sys.argv[1], kernels.forward(kernels.init_params(np.arange(10)), X))
"""


def test_numba_cache_files_are_unpickled_only_when_signed(tmp_path):
    import numba

    cache = tmp_path / "cache"
    env = dict(os.environ, XORSWEEP_CACHE_DIR=str(cache))
    subprocess.run([sys.executable, "-c", FORWARD, str(tmp_path / "a.npy")], env=env,
                   check=True, timeout=600, capture_output=True)
    [index] = [p for p in _numba_files(cache, "_cpu.run_blocks") if p.suffix == ".nbi"]
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    # numba's index format: its version, then a pickle of (stamp, overloads)
    index.write_bytes(pickle.dumps(numba.__version__) + pickle.dumps(Evil()))
    for data in index.parent.glob("_cpu.run_blocks-*.nbc"):
        data.write_bytes(data.read_bytes()[:100])  # truncated
    out = subprocess.run([sys.executable, "-c", FORWARD, str(tmp_path / "b.npy")], env=env,
                         timeout=600, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert not marker.exists()
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))
    # compiled again and saved, signed: a third process loads it
    signature = index.with_name(index.name + ".sig")
    assert signature.exists()
    assert pickle.loads(index.read_bytes()) == numba.__version__


def test_a_failing_loader_falls_back_to_compiling_with_one_warning(cache_dir, monkeypatch):
    want = _train()
    _forget_loaded(monkeypatch)
    _native._warn_once.cache_clear()

    def broken(header, obj):
        raise AttributeError("module 'llvmlite.binding' has no attribute 'ObjectFileRef'")

    monkeypatch.setattr(_native, "_link", broken)
    with pytest.warns(_cache.CacheWarning, match="AttributeError.*ObjectFileRef"):
        got = _train()
    _same(got, want)


def test_a_failing_code_generator_falls_back_to_the_generic_kernel(cache_dir, monkeypatch):
    want = _train()
    _forget_loaded(monkeypatch)
    _native._warn_once.cache_clear()
    for f in cache_dir.glob("xorsweep_*"):
        f.unlink()

    def broken(*args):
        raise ImportError("cannot import name 'cgutils' from 'numba.core'")

    monkeypatch.setattr(_codegen, "unrolled", broken)
    monkeypatch.setattr(_native, "entry", lambda *a: broken())  # the initializer too
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = _train()
        _train(n=100)
    assert len(caught) == 1  # once per cause
    assert caught[0].category is RuntimeWarning
    assert "ImportError: cannot import name 'cgutils'" in str(caught[0].message)
    _same(got, want)


def test_native_off_trains_with_the_generic_kernel_and_gets_the_same_bits(cache_dir,
                                                                          monkeypatch):
    want = _train(dtype=np.float32)
    _forget_loaded(monkeypatch)
    called = []
    monkeypatch.setattr(_codegen, "entry", lambda *a: called.append(a))
    monkeypatch.setattr(_native, "entry", lambda *a: called.append(a))
    monkeypatch.setattr(config, "NATIVE", False)
    _same(_train(dtype=np.float32), want)
    assert not called


def test_native_off_from_the_environment(tmp_path):
    cache = tmp_path / "cache"
    env = dict(os.environ, XORSWEEP_CACHE_DIR=str(cache), XORSWEEP_NATIVE="0")
    code = "import kernels; print(kernels.config.NATIVE)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == "False"
    env["XORSWEEP_NATIVE"] = "1"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == "True"


@pytest.mark.skipif(not config.NATIVE, reason="XORSWEEP_NATIVE=0: no native kernels")
def test_needed_kernels_says_which_are_cached_and_reads_only(tmp_path, monkeypatch):
    X, Y = kernels.tasks.xor()
    kernels.warmup(X, Y, sizes=[100])  # into the configured cache
    need = kernels.training.needed_kernels(X, sizes=[100])
    assert [k.kind for k in need] == ["init", "generated"]
    assert [k.cached for k in need] == [True, True]
    with_momentum = kernels.training.needed_kernels(X, sizes=[100], momentum=[0.0, 0.9])
    assert len({k.name for k in with_momentum} - {k.name for k in need}) == 1
    root = _cache.configured()
    name = need[1].name
    assert _native.cached(name, root)
    # a copy under another key is not usable: it would be compiled again
    other = tmp_path / "other"
    other.mkdir(mode=0o700)
    (other / _cache.KEY_FILE).write_bytes(b"k" * 32)
    os.chmod(other / _cache.KEY_FILE, 0o600)
    for path in root.glob(f"{name}.*.o"):
        (other / path.name).write_bytes(path.read_bytes())
        os.chmod(other / path.name, 0o600)
    assert not _native.cached(name, other)
    # an empty cache directory: nothing cached, and nothing made there
    monkeypatch.setenv("XORSWEEP_CACHE_DIR", str(tmp_path / "empty"))
    assert not any(k.cached for k in kernels.training.needed_kernels(X, sizes=[100]))
    assert not (tmp_path / "empty").exists()
