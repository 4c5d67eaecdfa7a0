"""Compiled-code caches: shared safely by processes that start together, and never stale."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import kernels
from kernels import _codegen, _cpu, config

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
    assert not list((tmp_path / "gen").glob("*.tmp"))  # no half-written files left behind


def test_a_changed_generated_kernel_is_written_again(tmp_path, monkeypatch):
    monkeypatch.setenv("XORSWEEP_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(_codegen, "_modules", {})
    X, Y = kernels.tasks.xor()
    p = kernels.init_params(np.arange(100))
    want = kernels.train(p, X, Y, epochs=20).loss
    [path] = tmp_path.glob("xorsweep_train_*.py")
    good = path.read_text()
    path.write_text(good.replace("zero = one - one", "zero = one", 1))  # wrong, same name
    monkeypatch.setattr(_codegen, "_modules", {})
    got = kernels.train(p, X, Y, epochs=20).loss
    assert path.read_text() == good
    np.testing.assert_array_equal(got, want)


def test_warmup_then_train(tmp_path, monkeypatch):
    monkeypatch.setenv("XORSWEEP_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(_codegen, "_modules", {})  # forget kernels other tests generated
    X, Y = kernels.tasks.xor()
    kernels.warmup(X, Y, n_hidden=2, activation="sigmoid", loss="bce", dtype=np.float32)
    assert list(tmp_path.glob("xorsweep_train_S4_D2_H2_a0_l0_*.py"))


def test_warmup_compiles_the_kernels_for_the_sizes_given(tmp_path, monkeypatch):
    monkeypatch.setenv("XORSWEEP_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(_codegen, "_modules", {})
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
