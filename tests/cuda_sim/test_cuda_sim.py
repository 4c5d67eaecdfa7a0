"""The CUDA kernel under numba's simulator, against the CPU kernel.

Runs only with ``NUMBA_ENABLE_CUDASIM=1`` set before numba is imported:
``tests/test_cuda.py`` starts this file in a separate pytest process.  Populations
are tiny (the simulator runs each GPU thread in Python) but span several blocks
and a partial last block: threads per block are patched down to 4.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import kernels

pytestmark = pytest.mark.skipif(os.environ.get("NUMBA_ENABLE_CUDASIM") != "1",
                                reason="needs NUMBA_ENABLE_CUDASIM=1 before numba is imported")


@pytest.fixture(autouse=True)
def few_threads_per_block(monkeypatch):
    from kernels import _cuda

    assert _cuda.SIMULATOR
    # 11 networks: blocks of 4, 4, 3
    monkeypatch.setattr(kernels.config, "THREADS_PER_BLOCK", 4)


def _both(dtype, activation, loss, lr, epochs=200, momentum=0.5, task=kernels.tasks.xor,
          hidden=2, scale=2.0):
    X, Y = task()
    p = kernels.init_params(np.arange(11), n_inputs=X.shape[1], n_hidden=hidden, scale=scale,
                            dtype=dtype)
    kw = {"lr": lr, "epochs": epochs, "activation": activation, "loss": loss,
          "momentum": momentum, "record_every": 20, "target_error": 0.2}
    return kernels.train(p, X, Y, device="cuda", **kw), kernels.train(p, X, Y, **kw)


def _assert_agree(g, c, rtol):
    np.testing.assert_allclose(g.loss, c.loss, rtol=rtol, atol=0)
    np.testing.assert_allclose(g.curve, c.curve, rtol=rtol, atol=0)
    np.testing.assert_allclose(g.outputs, c.outputs, rtol=rtol, atol=0)
    for a, b in zip(g.params.arrays(), c.params.arrays(), strict=True):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=0)
    np.testing.assert_array_equal(g.converged_epoch, c.converged_epoch)
    np.testing.assert_array_equal(g.outcome, c.outcome)
    np.testing.assert_array_equal(g.curve_epochs, c.curve_epochs)


@pytest.mark.parametrize(("activation", "loss", "lr_max", "scale"), [
    ("sigmoid", "bce", 8.0, 2.0), ("tanh", "mse", 8.0, 2.0), ("relu", "bce", 1.5, 1.0)])
def test_float64_agrees_with_cpu(activation, loss, lr_max, scale):
    g, c = _both(np.float64, activation, loss, lr=np.linspace(0.1, lr_max, 11), scale=scale)
    _assert_agree(g, c, rtol=1e-9)
    assert (g.converged_epoch >= 0).any()  # the comparison covers converged networks too


def test_float32_agrees_with_cpu():
    g, c = _both(np.float32, "sigmoid", "bce", lr=np.linspace(0.5, 8.0, 11))
    assert g.loss.dtype == np.float32
    _assert_agree(g, c, rtol=1e-5)


# the simulator computes in NumPy scalars, which warn where a GPU silently gives inf
@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning",
                            "ignore:invalid value encountered:RuntimeWarning")
def test_divergence_and_wider_networks_agree():
    lr = np.where(np.arange(11) % 3 == 0, 1e300, 1.0)  # every third network overflows
    g, c = _both(np.float64, "relu", "mse", lr=lr, momentum=0.0, hidden=3, scale=4.0,
                 task=lambda: kernels.tasks.parity(3))
    assert (c.outcome == "diverged").sum() >= 3
    _assert_agree(g, c, rtol=1e-9)


def test_bce_over_several_log_groups_agrees():
    # 40 samples: one full group of LOG_GROUP = 32 log terms and a partial one
    X, Y = kernels.tasks.parity(6)
    g, c = _both(np.float64, "sigmoid", "bce", lr=np.linspace(0.1, 2.0, 11), epochs=20,
                 hidden=1, task=lambda: (X[:40], Y[:40]))
    _assert_agree(g, c, rtol=1e-9)


def test_launch_takes_threads_per_block_from_config(monkeypatch):
    from kernels import _cuda

    launches = []
    compile_kernel = _cuda._kernel

    class Spy:
        def __init__(self, kernel):
            self.kernel = kernel

        def __getitem__(self, launch):
            launches.append(launch)
            return self.kernel[launch]

    monkeypatch.setattr(_cuda, "_kernel", lambda *key: Spy(compile_kernel(*key)))
    g, c = _both(np.float64, "sigmoid", "bce", lr=np.linspace(0.1, 2.0, 11), epochs=20)
    assert launches == [(3, 4)]  # the fixture's 4 threads per block
    _assert_agree(g, c, rtol=1e-9)


def test_cuda_available_under_the_simulator():
    assert kernels.cuda_available()


def test_sweep_on_cuda_matches_the_cpu_sweep(tmp_path):
    import sweeps

    spec = {"name": "sim", "epochs": 100, "replicates": 5, "record_every": 25,
            "grid": {"lr": [0.5, 4.0], "init_scale": [1.0, 2.0]}}
    g = sweeps.run(spec, out=tmp_path / "gpu", device="cuda", chunk_size=7).networks()
    c = sweeps.run(spec, out=tmp_path / "cpu").networks()
    np.testing.assert_allclose(g["final_loss"], c["final_loss"], rtol=1e-9, atol=0)
    cols = [col for col in c.columns if col != "final_loss" and not col.startswith("out_")]
    assert g[cols].equals(c[cols])
