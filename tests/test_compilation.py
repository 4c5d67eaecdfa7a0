"""Compiled-code caches: shared safely by processes that start together, and never stale."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import kernels
from kernels import _codegen, _cpu, _native, config


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    """An empty cache directory, and a process that has loaded no kernel yet."""
    monkeypatch.setenv("XORSWEEP_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(_codegen, "_modules", {})
    monkeypatch.setattr(_native, "_loaded", {})
    return tmp_path

SCRIPT = """
import sys, numpy as np, kernels
X, Y = kernels.tasks.xor()
p = kernels.init_params(np.arange(500), n_hidden=3)
r = kernels.train(p, X, Y, lr=1.5, epochs=300, activation="tanh", loss="mse")
np.save(sys.argv[1], r.loss)
"""


def test_processes_starting_together_on_cold_caches(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba"),
               XORSWEEP_CACHE_DIR=str(tmp_path / "gen"))
    procs = [subprocess.Popen([sys.executable, "-c", SCRIPT, str(tmp_path / f"out{i}.npy")],
                              env=env, stderr=subprocess.PIPE, text=True) for i in range(3)]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    results = [np.load(tmp_path / f"out{i}.npy") for i in range(3)]
    X, Y = kernels.tasks.xor()
    here = kernels.train(kernels.init_params(np.arange(500), n_hidden=3), X, Y, lr=1.5,
                         epochs=300, activation="tanh", loss="mse").loss
    for r in results:
        np.testing.assert_array_equal(r, here)
    generated = list((tmp_path / "gen").glob("xorsweep_train_*.py"))
    assert len(generated) == 1
    assert len(list((tmp_path / "gen").glob("xorsweep_train_*.o"))) == 1
    assert len(list((tmp_path / "gen").glob("xorsweep_init_*.o"))) == 1
    assert not list((tmp_path / "gen").glob(".*.tmp"))  # no half-written files left behind


WARM = """
import sys, numpy as np, kernels
X, Y = kernels.tasks.xor()
p = kernels.init_params(np.arange(300), scheme="normal", dtype=np.float32)
r = kernels.train(p, X, Y, lr=np.linspace(0.5, 4.0, 300), epochs=400, record_every=7)
np.savez(sys.argv[1], W1=r.params.W1, curve=r.curve, outputs=r.outputs, code=r.outcome,
         conv=r.converged_epoch, init=p.W1)
print("numba" in sys.modules)
"""


def test_a_warm_process_trains_without_numba_and_gets_the_same_bits(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba"),
               XORSWEEP_CACHE_DIR=str(tmp_path / "gen"))
    imported = []
    for i in range(2):
        out = subprocess.run([sys.executable, "-c", WARM, str(tmp_path / f"r{i}.npz")],
                             env=env, capture_output=True, text=True, timeout=300, check=True)
        imported.append(out.stdout.split())
    assert imported == [["True"], ["False"]]  # the first compiles with numba, the second loads
    cold, warm = np.load(tmp_path / "r0.npz"), np.load(tmp_path / "r1.npz")
    for name in cold.files:  # bits, in C order (the curve is column-major)
        a, b = (np.ascontiguousarray(x[name]) for x in (cold, warm))
        np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8), err_msg=name)


def test_a_changed_generated_kernel_is_written_again(cache_dir, monkeypatch):
    X, Y = kernels.tasks.xor()
    p = kernels.init_params(np.arange(100))
    want = kernels.train(p, X, Y, epochs=20).loss
    [path] = cache_dir.glob("xorsweep_train_*.py")
    [obj] = cache_dir.glob("xorsweep_train_*.o")
    good = path.read_text()
    path.write_text(good.replace("zero = one - one", "zero = one", 1))  # wrong, same name
    obj.unlink()  # (else the module is not read: its compiled code is loaded)
    monkeypatch.setattr(_codegen, "_modules", {})
    monkeypatch.setattr(_native, "_loaded", {})
    got = kernels.train(p, X, Y, epochs=20).loss
    assert path.read_text() == good
    np.testing.assert_array_equal(got, want)


def test_a_damaged_object_file_is_compiled_again(cache_dir, monkeypatch):
    X, Y = kernels.tasks.xor()
    p = kernels.init_params(np.arange(100), dtype=np.float32)
    want = kernels.train(p, X, Y, epochs=30, record_every=3)
    [path] = cache_dir.glob("xorsweep_train_*.o")
    good = path.read_bytes()
    assert _native._load(path, cache_dir)
    header, _, obj = good.partition(b"\n")
    flipped = header + b"\n" + obj[:-100] + bytes([obj[-100] ^ 1]) + obj[-99:]
    for bad in (flipped, good[:len(good) // 2], b"garbage\n" + obj, b""):
        path.write_bytes(bad)
        assert _native._load(path, cache_dir) is None
    path.write_bytes(flipped)
    monkeypatch.setattr(_native, "_loaded", {})
    compiled = []
    real = _codegen.unrolled
    monkeypatch.setattr(_codegen, "unrolled", lambda *a: compiled.append(a) or real(*a))
    got = kernels.train(p, X, Y, epochs=30, record_every=3)
    assert compiled  # not loaded: compiled again
    assert _native._load(path, cache_dir)  # and written again, whole
    for name in ("loss", "curve", "outputs"):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name))


def test_object_files_are_named_by_the_host(cache_dir, monkeypatch):
    X, Y = kernels.tasks.xor()
    kernels.train(kernels.init_params(np.arange(10)), X, Y, epochs=3)
    [path] = cache_dir.glob("xorsweep_train_*.o")
    assert path.name.endswith(f".{_native.host_key()}.o")
    # another CPU (or numba, llvmlite, numba settings): another file, compiled afresh
    monkeypatch.setattr(_native, "host_key", lambda: "another-host")
    monkeypatch.setattr(_native, "_loaded", {})
    kernels.train(kernels.init_params(np.arange(10)), X, Y, epochs=3)
    assert len(list(cache_dir.glob("xorsweep_train_*.another-host.o"))) == 1


def test_host_key_follows_numba_settings(monkeypatch):
    before = _native.host_key.__wrapped__()
    monkeypatch.setenv("NUMBA_OPT", "0")
    assert _native.host_key.__wrapped__() != before
    monkeypatch.delenv("NUMBA_OPT")
    monkeypatch.setenv("NUMBA_NUM_THREADS", "1")  # not a code generation setting
    assert _native.host_key.__wrapped__() == before


def test_undefined_symbols_of_an_object_file(cache_dir):
    X, Y = kernels.tasks.xor()
    kernels.train(kernels.init_params(np.arange(10)), X, Y, epochs=3)
    [path] = cache_dir.glob("xorsweep_train_*.o")
    obj = path.read_bytes().partition(b"\n")[2]
    undefined = _native.undefined_symbols(obj)
    assert "PyErr_SetString" in undefined  # numba's error path in the entry point
    assert "numba_gil_ensure" in undefined
    assert not any("run_blocks" in name for name in undefined)  # defined in the file
    with pytest.raises(ValueError, match="not an ELF64"):
        _native.undefined_symbols(b"\x7fELF\x01\x01" + obj[6:])


def test_warmup_then_train(cache_dir):
    X, Y = kernels.tasks.xor()
    kernels.warmup(X, Y, n_hidden=2, activation="sigmoid", loss="bce", dtype=np.float32)
    assert list(cache_dir.glob("xorsweep_train_S4_D2_H2_a0_l0_*.o"))


def test_warmup_compiles_the_kernels_for_the_sizes_given(cache_dir):
    tmp_path = cache_dir
    X, Y = kernels.tasks.xor()

    def generated():
        return sorted(p.name.split("_")[7] for p in tmp_path.glob("xorsweep_train_S4_*.py"))

    wide = config.UNROLLED_WIDE_MIN_NETS["float64"]
    kernels.warmup(X, Y, sizes=[1, 20, wide - 1])  # narrow blocks (float64)
    assert generated() == [f"L{config.UNROLLED_NARROW_LANES['float64']}"]
    kernels.warmup(X, Y, sizes=[wide])  # and wide ones
    assert generated() == sorted([f"L{config.UNROLLED_NARROW_LANES['float64']}",
                                  f"L{config.UNROLLED_LANES['float64']}"])
    # without momentum (the default) and with it: one kernel each
    assert all("_plain_" in p.name for p in tmp_path.glob("xorsweep_train_S4_*.py"))
    kernels.warmup(X, Y, sizes=[wide], momentum=[0.0, 0.9])
    assert len(list(tmp_path.glob("xorsweep_train_S4_*_m_*.py"))) == 1
    with pytest.raises(ValueError, match="sizes"):
        kernels.warmup(X, Y, sizes=[0])
    with pytest.raises(ValueError, match="dtype must be numpy.float32 or numpy.float64"):
        kernels.warmup(X, Y, dtype=np.int64)


def test_cache_stamp_covers_every_kernel_source():
    # numba's own stamp, paired with the digest of every kernel source file
    _, digest = _cpu.run_blocks._cache._cache_file._source_stamp
    assert digest.startswith(_codegen._sources_digest())
    # the generated kernels' file names carry the digest of all kernel sources
    assert _codegen._sources_digest() in Path(_codegen.unrolled(4, 2, 2, 0, 0).__file__).name


def test_threads_generating_one_kernel_at_once(tmp_path, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setenv("XORSWEEP_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(_codegen, "_modules", {})
    with ThreadPoolExecutor(8) as pool:
        modules = list(pool.map(lambda _: _codegen.unrolled(4, 2, 2, 0, 0), range(16)))
    assert all(m is modules[0] for m in modules)
    assert len(list(tmp_path.glob("xorsweep_train_*.py"))) == 1
    assert not list(tmp_path.glob(".*.tmp"))


def test_entry_compiles_once_then_loads_and_asks_numba_to_cache_only_without_files(
        tmp_path, monkeypatch):
    from numba import cfunc, types

    built = []

    def build(numba_cache):
        built.append(numba_cache)

        @cfunc(types.void(types.int64, types.CPointer(types.int64)))
        def squares(n, out):
            for i in range(n):
                out[i] = i * i

        return squares

    def squares_via(f):
        a = np.full(5, -1, np.int64)
        f(4, a.ctypes.data)
        return a.tolist()

    monkeypatch.setattr(_native, "_loaded", {})
    assert squares_via(_native.entry("t_squares", "ip", build, lambda: tmp_path)) == \
        [0, 1, 4, 9, -1]
    assert built == [False]
    assert len(list(tmp_path.glob("t_squares.*.o"))) == 1
    monkeypatch.setattr(_native, "_loaded", {})  # as in a new process: loaded from the file
    assert squares_via(_native.entry("t_squares", "ip", build, lambda: tmp_path)) == \
        [0, 1, 4, 9, -1]
    assert built == [False]
    monkeypatch.setattr(_native, "_loaded", {})  # where object files cannot be used
    monkeypatch.setattr(_native, "_object_path", lambda cache_dir, name: None)
    _native.entry("t_squares", "ip", build, lambda: tmp_path)
    assert built == [False, True]
    monkeypatch.setattr(_native, "_loaded", {})  # no cache at all (config.CACHE False)
    _native.entry("t_squares", "ip", build, None)
    assert built == [False, True, False]
