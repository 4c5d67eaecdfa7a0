"""CUDA: the simulator suite (a separate process), the error without a GPU, real-GPU checks."""

from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import kernels
from xorsweep.cli import main

HERE = Path(__file__).resolve().parent


def _has_numba_cuda() -> bool:
    try:
        import numba.cuda  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.skipif(not _has_numba_cuda(), reason="numba-cuda is not installed")
def test_cuda_kernel_agrees_with_cpu_under_the_simulator():
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1"}  # must be set before numba is imported
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(HERE / "cuda_sim")], env=env, capture_output=True, text=True,
                          cwd=HERE.parent)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout
    assert "skipped" not in proc.stdout


@pytest.mark.parametrize("missing", ["gpu", "numba-cuda"])
def test_cuda_without_a_gpu_is_a_clear_error(missing, tmp_path, capsys, monkeypatch):
    # the GPU reported absent (or numba-cuda not installed), whatever this machine has
    stub = types.SimpleNamespace(available=lambda: False) if missing == "gpu" else None
    monkeypatch.setitem(sys.modules, "kernels._cuda", stub)
    monkeypatch.delattr(kernels, "_cuda", raising=False)
    assert not kernels.cuda_available()
    X, Y = kernels.tasks.xor()
    p = kernels.init_params(np.arange(3))
    with pytest.raises(RuntimeError, match="device='cuda'") as info:  # Python names the keyword
        kernels.train(p, X, Y, epochs=5, device="cuda")
    assert "\n" not in str(info.value)
    assert ("use device='cpu'" in str(info.value)) == (missing == "gpu")
    assert main(["run", "quickstart", "--out", str(tmp_path), "--device", "cuda"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("xorsweep: error: --device cuda ")  # the command line names the flag
    assert "device=" not in err
    if missing == "gpu":
        assert "use --device cpu" in err
    else:
        assert "pip install 'xorsweep[cuda]'" in err
    assert not (tmp_path / "quickstart").exists()


def test_unknown_device_is_refused():
    X, Y = kernels.tasks.xor()
    with pytest.raises(ValueError, match="device"):
        kernels.train(kernels.init_params(np.arange(2)), X, Y, epochs=1, device="tpu")


@pytest.mark.gpu
@pytest.mark.skipif(not kernels.cuda_available() or os.environ.get("NUMBA_ENABLE_CUDASIM") == "1",
                    reason="needs a real CUDA GPU")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_real_gpu_agrees_with_cpu(dtype):
    X, Y = kernels.tasks.xor()
    p = kernels.init_params(np.arange(10_000), scale=2.0, dtype=dtype)
    kw = {"lr": np.geomspace(0.1, 30, 10_000), "epochs": 1000, "record_every": 100,
          "momentum": 0.5}
    g = kernels.train(p, X, Y, device="cuda", **kw)
    c = kernels.train(p, X, Y, **kw)
    rtol = 1e-9 if dtype == np.float64 else 1e-3
    ok = np.isfinite(c.loss)
    np.testing.assert_array_equal(np.isfinite(g.loss), ok)  # diverged on both or neither
    np.testing.assert_allclose(g.loss[ok], c.loss[ok], rtol=rtol)
    np.testing.assert_allclose(g.outputs[ok], c.outputs[ok], rtol=rtol, atol=1e-12)
    # converged_epoch may differ only where the largest error sits within rounding of the
    # threshold (kernels/_cuda.py); count such networks rather than hide them
    assert (g.converged_epoch != c.converged_epoch).mean() < (1e-3 if dtype == np.float64
                                                              else 1e-2)
    assert (g.outcome != c.outcome).mean() < (1e-3 if dtype == np.float64 else 1e-2)


def _nvvm_available() -> bool:
    try:
        from numba import cuda, float64

        def k(a):
            a[0] = 1.0

        cuda.compile_ptx(k, (float64[:],), cc=(9, 0))
    except Exception:  # noqa: BLE001 - no NVVM/NVRTC libraries: nothing to compile with
        return False
    return True


@pytest.mark.skipif(os.environ.get("NUMBA_ENABLE_CUDASIM") == "1" or not _has_numba_cuda()
                    or not _nvvm_available(),
                    reason="needs numba-cuda with the NVVM libraries (pip install "
                           "'xorsweep[cuda]')")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_real_kernel_compiles_to_ptx_without_a_gpu(dtype, monkeypatch):
    """The GPU build, not the simulator: device functions, overloads and bit primitives."""
    import types

    import numba.cuda.dispatcher as dispatcher
    from numba import cuda, typeof

    from kernels import _cuda

    # device functions ask the current GPU for its compute capability; there is none here
    monkeypatch.setattr(dispatcher, "get_current_device",
                        lambda: types.SimpleNamespace(compute_capability=(9, 0)))
    N, S, K = 8, 4, 3
    args = (np.zeros((N, 2, 2), dtype), np.zeros((N, 2), dtype), np.zeros((N, 2), dtype),
            np.zeros(N, dtype), np.zeros(N, dtype), np.zeros(N, dtype),
            np.zeros((S, 2), dtype), np.zeros(S, dtype), 100, np.zeros(K, np.int64), 0.1, 0,
            0, dtype(1), 0.05, 0.05, np.zeros((N, K), dtype), np.zeros(N, dtype),
            np.zeros((N, S), dtype), np.zeros(N, np.int64), np.zeros(N, np.int8))
    kernel = _cuda._kernel(S, 2, 2, np.dtype(dtype))
    ptx, _ = cuda.compile_ptx(kernel.py_func, tuple(typeof(a) for a in args), cc=(9, 0))
    assert ".target sm_90" in ptx
    assert "call.uni" not in ptx  # every scalar function inlined, no libm calls
