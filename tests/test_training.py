from __future__ import annotations

import ctypes
import math
import os
import re
import sys
import time
import warnings

import numba
import numpy as np
import pytest

import kernels
from kernels import _codegen, _cpu, _memory, config
from tests import naive
from tests.conftest import needs_native, params_from_logits

ACTIVATIONS = ["sigmoid", "tanh", "relu"]
LOSSES = ["bce", "mse"]


def _assert_results_identical(a: kernels.TrainResult, b: kernels.TrainResult):
    """Assert every result array equal to the bit (-0 differs from +0, NaN payloads count)."""
    def bits(x):
        x = np.ascontiguousarray(x)
        return x.view(np.uint8) if x.dtype.kind in "fiu" else x

    for x, y in zip(a.params.arrays(), b.params.arrays(), strict=True):
        np.testing.assert_array_equal(bits(x), bits(y))
    for name in ("loss", "outputs", "converged_epoch", "curve", "curve_epochs", "outcome",
                 "outcome_code"):
        np.testing.assert_array_equal(bits(getattr(a, name)), bits(getattr(b, name)),
                                      err_msg=name)


@pytest.fixture(params=["unrolled", "generic"])
def kernel_path(request, monkeypatch):
    """Run a test through the generated straight-line kernel and through the generic one."""
    if request.param == "unrolled" and not config.NATIVE:
        pytest.skip("XORSWEEP_NATIVE=0: no generated kernels")
    calls = []
    real = _codegen.entry
    monkeypatch.setattr(_codegen, "entry", lambda *a: calls.append(a) or real(*a))
    if request.param == "generic":
        monkeypatch.setattr(config, "UNROLL_LIMIT", 0)
    yield request.param
    assert bool(calls) == (request.param == "unrolled"), "the test ran the other kernel"


# --- agreement with the naive reference ---------------------------------------------------

@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("task", ["xor", "parity3"])
def test_train_matches_reference(activation, loss, task, kernel_path):
    rng = np.random.default_rng([ACTIVATIONS.index(activation), LOSSES.index(loss), len(task)])
    X, Y = kernels.tasks.by_name(task)
    n, epochs = 4, 1000
    H = int(rng.integers(1, 5))
    scheme = str(rng.choice(["uniform", "normal", "xavier", "he"]))
    p = kernels.init_params(rng.integers(0, 2**40, n), n_inputs=X.shape[1], n_hidden=H,
                            scheme=scheme, scale=float(rng.uniform(0.5, 2.0)))
    lr_max = 1.0 if activation == "relu" else 3.0
    lr = rng.uniform(0.1, lr_max, n)
    momentum = np.where(rng.random(n) < 0.5, 0.0, rng.uniform(0.0, 0.9, n))
    r = kernels.train(p, X, Y, lr=lr, momentum=momentum, epochs=epochs, activation=activation,
                      loss=loss, record_every=1, target_error=0.1)
    assert list(r.curve_epochs) == list(range(epochs + 1))
    for i in range(n):
        ref = naive.train(p.W1[i], p.b1[i], p.W2[i], p.b2[i], X, Y, lr=lr[i],
                          momentum=momentum[i], epochs=epochs, activation=activation, loss=loss,
                          target_error=0.1)
        np.testing.assert_allclose(r.curve[i], ref["loss"], rtol=1e-9, atol=0)
        np.testing.assert_allclose(r.loss[i], ref["loss"][-1], rtol=1e-9, atol=0)
        np.testing.assert_allclose(r.outputs[i], ref["outputs"], rtol=1e-9, atol=0)
        assert r.converged_epoch[i] == ref["converged_epoch"]
        for got, want in zip((r.params.W1[i], r.params.b1[i], r.params.W2[i], r.params.b2[i]),
                             ref["params"], strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-12)


def test_converged_epoch_checked_every_epoch():
    X, Y = kernels.tasks.xor()
    p = kernels.init_params(np.arange(64))
    r = kernels.train(p, X, Y, lr=2.0, epochs=600, record_every=1000)
    assert list(r.curve_epochs) == [0, 600]
    ok = r.converged_epoch >= 0
    assert ok.sum() > 10
    assert (r.converged_epoch[ok] % 1000 != 0).any()
    for i in np.flatnonzero(ok)[:5]:
        ref = naive.train(p.W1[i], p.b1[i], p.W2[i], p.b2[i], X, Y, lr=2.0, momentum=0.0,
                          epochs=600, activation="sigmoid", loss="bce", target_error=0.1)
        assert r.converged_epoch[i] == ref["converged_epoch"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_convergence_threshold_in_the_kernel_dtype_compares_as_the_float64_target(dtype):
    # the generated kernel compares the largest error with the least value of its dtype
    # >= target_error: the same answer as the float64 comparison for every value
    rng = np.random.default_rng(3)
    for t in [0.1, 0.3, 0.45, 0.5, 1e-300, float(np.float32(0.2)), *rng.uniform(0, 0.5, 200)]:
        c = kernels.training._least_at_least(np.dtype(dtype), t)
        assert c.dtype == dtype
        x = np.array([dtype(t), c], dtype)
        for direction in (-np.inf, np.inf):
            for _ in range(3):
                x = np.append(x, np.nextafter(x[-2:], dtype(direction)))
        np.testing.assert_array_equal(x.astype(np.float64) < t, x < c)


@needs_native
def test_epochs_beyond_exact_float32_integers_train_with_the_generic_kernel(monkeypatch):
    # the generated kernel holds epoch numbers in the dtype (exact up to 2**24 in float32)
    calls = []
    real = _codegen.entry
    monkeypatch.setattr(_codegen, "entry", lambda *a: calls.append(a) or real(*a))
    X, Y = kernels.tasks.xor()
    # relu units of 1e30 times output weights of 1e30 overflow: diverged at epoch 0, so
    # both runs stop at once
    p = kernels.Params(np.full((1, 2, 2), 1e30, np.float32), np.zeros((1, 2), np.float32),
                       np.full((1, 2), -1e30, np.float32), np.zeros(1, np.float32))
    results = [kernels.train(p, X, Y, epochs=epochs, activation="relu", record_every=2**23)
               for epochs in (2**24, 2**24 + 1)]
    assert len(calls) == 1  # the first run only
    for r in results:
        assert r.outcome[0] == "diverged"
        np.testing.assert_array_equal(r.outputs, results[0].outputs)


@pytest.mark.parametrize(("epochs", "k", "expected"), [
    (10, 3, [0, 3, 6, 9, 10]), (9, 3, [0, 3, 6, 9]), (0, 5, [0]), (4, 100, [0, 4])])
def test_curve_records_final_epoch(epochs, k, expected):
    X, Y = kernels.tasks.xor()
    p = kernels.init_params(np.arange(3))
    r = kernels.train(p, X, Y, epochs=epochs, record_every=k)
    assert list(r.curve_epochs) == expected
    full = kernels.train(p, X, Y, epochs=epochs, record_every=1)
    np.testing.assert_array_equal(r.curve, full.curve[:, expected])
    np.testing.assert_array_equal(r.curve[:, -1], r.loss)
    none = kernels.train(p, X, Y, epochs=epochs)
    assert none.curve.shape == (3, 0)
    assert none.curve_epochs.shape == (0,)


def test_record_epochs_are_every_kth_epoch_and_the_last():
    for epochs in range(0, 25):
        for k in range(1, 30):
            got = kernels.record_epochs(epochs, k)
            assert got.dtype == np.int64
            assert list(got) == sorted(set(range(0, epochs + 1, k)) | {epochs}), (epochs, k)


# --- bitwise invariances ------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_serial_parallel_threads_lanes_and_chunks_agree_bitwise(dtype, monkeypatch):
    X, Y = kernels.tasks.xor()
    n = 203
    rng = np.random.default_rng(1)
    p = kernels.init_params(np.arange(n), scheme="normal", scale=2.0, dtype=dtype)
    lr = rng.uniform(0.1, 4.0, n)
    lr[::17] = 1e308                                  # a few diverging neighbours
    mom = rng.uniform(0.0, 0.9, n)
    kw = {"epochs": 300, "record_every": 7, "activation": "relu", "loss": "bce"}
    ref = kernels.train(p, X, Y, lr=lr, momentum=mom, **kw)
    assert (ref.outcome == "diverged").any()
    assert (ref.outcome == "converged").any()
    _assert_results_identical(ref, kernels.train(p, X, Y, lr=lr, momentum=mom, parallel=False,
                                                 **kw))
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        _assert_results_identical(ref, kernels.train(p, X, Y, lr=lr, momentum=mom, **kw))
    finally:
        numba.set_num_threads(before)
    with monkeypatch.context() as m:  # the generic kernel, any block width
        m.setattr(config, "UNROLL_LIMIT", 0)
        for lanes in (1, 3, 8, 64):
            m.setattr(config, "LANES", lanes)
            _assert_results_identical(ref, kernels.train(p, X, Y, lr=lr, momentum=mom, **kw))
    for lanes in (16, 128):  # the generated kernel, other block widths
        with monkeypatch.context() as m:
            m.setattr(config, "UNROLLED_LANES", lanes)
            _assert_results_identical(ref, kernels.train(p, X, Y, lr=lr, momentum=mom, **kw))
    # chunked and permuted: each network's result depends on that network alone (the
    # parts of 30 and 172 train in narrow and in wide blocks, that of 1 in a narrow block
    # whose other lanes are padding)
    order = rng.permutation(n)
    parts = [order[:30], order[30:31], order[31:]]
    for part in parts:
        sub = kernels.train(p.take(part), X, Y, lr=lr[part], momentum=mom[part], **kw)
        _assert_results_identical(sub, kernels.TrainResult(
            params=ref.params.take(part), loss=ref.loss[part], outputs=ref.outputs[part],
            converged_epoch=ref.converged_epoch[part], curve=ref.curve[part],
            curve_epochs=ref.curve_epochs, outcome=ref.outcome[part],
            outcome_code=ref.outcome_code[part]))
    # a result built by hand without the codes finds them from the names
    by_hand = kernels.TrainResult(params=ref.params, loss=ref.loss, outputs=ref.outputs,
                                  converged_epoch=ref.converged_epoch, curve=ref.curve,
                                  curve_epochs=ref.curve_epochs, outcome=ref.outcome)
    assert by_hand.outcome_code.dtype == np.int8
    np.testing.assert_array_equal(by_hand.outcome_code, ref.outcome_code)


def test_per_network_lr_equals_scalar_lr():
    X, Y = kernels.tasks.xor()
    p = kernels.init_params(np.arange(4))
    lrs = [0.3, 1.0, 2.5, 7.0]
    r = kernels.train(p, X, Y, lr=np.array(lrs), momentum=[0.0, 0.5, 0.9, 0.2], epochs=200)
    for i, (lr, m) in enumerate(zip(lrs, [0.0, 0.5, 0.9, 0.2], strict=True)):
        alone = kernels.train(p.take([i]), X, Y, lr=lr, momentum=m, epochs=200)
        np.testing.assert_array_equal(alone.loss, r.loss[[i]])
        np.testing.assert_array_equal(alone.params.W1, r.params.W1[[i]])


def test_python_threads_can_share_the_serial_kernel():
    from concurrent.futures import ThreadPoolExecutor

    X, Y = kernels.tasks.xor()
    p = kernels.init_params(np.arange(400))
    full = kernels.train(p, X, Y, lr=2.0, epochs=200)
    parts = [slice(0, 100), slice(100, 250), slice(250, 400)]
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(
            lambda s: kernels.train(p.take(s), X, Y, lr=2.0, epochs=200, parallel=False), parts))
    for s, r in zip(parts, results, strict=True):
        np.testing.assert_array_equal(r.loss, full.loss[s])
        np.testing.assert_array_equal(r.params.W1, full.params.W1[s])


@pytest.mark.parametrize("n", [30, 150])  # narrow (4/8-lane) and wide (64-lane) blocks
@pytest.mark.parametrize(("activation", "loss", "dtype", "H"), [
    ("sigmoid", "bce", np.float32, 2), ("sigmoid", "mse", np.float64, 3),
    ("tanh", "bce", np.float64, 1), ("relu", "bce", np.float64, 4)])
def test_unrolled_kernel_equals_generic_kernel_bitwise(activation, loss, dtype, H, n,
                                                       monkeypatch):
    X, Y = kernels.tasks.xor()
    rng = np.random.default_rng(5)
    p = kernels.init_params(np.arange(150), n_hidden=H, scheme="normal", scale=2.0,
                            dtype=dtype).take(slice(0, n))
    lr = rng.uniform(0.1, 4.0, 150)
    lr[::13] = 1e308
    mom = np.where(rng.random(150) < 0.5, 0.0, rng.uniform(0, 0.95, 150))
    kw = {"lr": lr[:n], "momentum": mom[:n], "epochs": 257, "record_every": 16,
          "activation": activation, "loss": loss}
    assert _codegen.eligible(4, 2, H)
    fast = kernels.train(p, X, Y, **kw)
    monkeypatch.setattr(config, "UNROLL_LIMIT", 0)
    generic = kernels.train(p, X, Y, **kw)
    _assert_results_identical(fast, generic)
    assert (fast.outcome == "diverged").any()
    assert (fast.outcome != "diverged").any()


@needs_native
@pytest.mark.parametrize(("activation", "loss", "dtype"), [
    ("sigmoid", "bce", np.float32), ("relu", "mse", np.float64)])
def test_kernel_without_momentum_equals_generic_kernel_bitwise(activation, loss, dtype,
                                                               monkeypatch):
    # no network has momentum: the generated kernel without velocities, with diverging
    # lanes (lr 1e308, inf in float32) among the others
    X, Y = kernels.tasks.xor()
    p = kernels.init_params(np.arange(150), n_hidden=3, scheme="normal", scale=2.0, dtype=dtype)
    lr = np.random.default_rng(6).uniform(0.1, 4.0, 150)
    lr[::13] = 1e308
    kw = {"lr": lr, "epochs": 120, "record_every": 16, "activation": activation, "loss": loss}
    calls = []
    real = _codegen.entry
    monkeypatch.setattr(_codegen, "entry", lambda *a: calls.append(a) or real(*a))
    fast = kernels.train(p, X, Y, **kw)
    assert calls
    assert calls[0][-1] is False  # the kernel without velocities
    monkeypatch.setattr(config, "UNROLL_LIMIT", 0)
    _assert_results_identical(fast, kernels.train(p, X, Y, **kw))
    assert (fast.outcome == "diverged").any()
    assert (fast.outcome != "diverged").any()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_negative_zero_sums_give_the_same_bits_in_both_kernels(activation, dtype, monkeypatch):
    # With XOR's input (0, 0), W1 < 0, W2 > 0 and b1 = b2 = -0, the hidden and output
    # sums are -0 in the generated kernel (sums from the first term) and +0 in the
    # generic one (sums from 0); tanh(-0) = -0.  No result may show it, to the bit.
    X, Y = kernels.tasks.xor()
    p = kernels.init_params(np.arange(40), n_hidden=3, scheme="normal", dtype=dtype)
    p.W1[:] = -np.abs(p.W1)
    p.W2[:] = np.abs(p.W2)
    p.b1[:] = -0.0
    p.b2[:] = -0.0
    for epochs in (0, 30):  # the forward pass alone, and the steps (the first from -0)
        kw = {"lr": 0.7, "epochs": epochs, "record_every": 1, "activation": activation}
        fast = kernels.train(p, X, Y, **kw)
        with monkeypatch.context() as m:
            m.setattr(config, "UNROLL_LIMIT", 0)
            generic = kernels.train(p, X, Y, **kw)
        _assert_results_identical(fast, generic)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_inputs_built_in_give_the_same_bits_as_inputs_read(activation, dtype, monkeypatch):
    # The generated kernel builds inputs 0 and 1 in (0 w as w - w, 1 w as w, x = 0 terms
    # of the gradient left out): against the generic kernel, with -0 and other values
    # among the inputs, and weights that are inf or NaN (0 inf is NaN: so must w - w be)
    X = np.array([[0.0, 1.0, -0.0], [1.0, 0.5, 0.0], [-0.0, 0.0, 2.0], [1.0, 1.0, -3.0]])
    Y = np.array([0.0, 1.0, 1.0, 0.0])
    assert _codegen.input_pattern(X.astype(dtype)) == "0101v000v11v"
    assert _codegen.eligible(4, 3, 2)
    p = kernels.init_params(np.arange(70), n_inputs=3, n_hidden=2, scheme="normal", scale=2.0,
                            dtype=dtype)
    # steps that overflow W1 to inf (and NaN: inf - inf), large W2 making its gradient large
    p.W2[1::2] *= 1e4
    lr = np.choose(np.arange(70) % 5, [0.8, 1e30, 1e307, 2.0, 1e300])
    for epochs in (0, 25):
        kw = {"lr": lr, "momentum": 0.5, "epochs": epochs, "record_every": 5,
              "activation": activation}
        fast = kernels.train(p, X, Y, **kw)
        with monkeypatch.context() as m:
            m.setattr(config, "UNROLL_LIMIT", 0)
            generic = kernels.train(p, X, Y, **kw)
        _assert_results_identical(fast, generic)
        if epochs:
            assert not np.isfinite(fast.params.W1).all()
            assert np.isnan(fast.outputs).any()  # a non-finite weight times 0 reached them
            assert (fast.outcome == "diverged").sum() >= 7
            assert (fast.outcome != "diverged").any()


def test_input_pattern_names_the_module_and_is_checked():
    X, _ = kernels.tasks.xor()
    assert _codegen.input_pattern(X) == "00011011"
    assert _codegen.input_pattern(np.array([[0.25, -0.0], [1.0, 3.0]])) == "v01v"
    module = _codegen.unrolled(4, 2, 2, 0, 0, 8, np.float64, "00011011")
    assert "_X00011011_" in module.__file__
    assert module is not _codegen.unrolled(4, 2, 2, 0, 0, 8, np.float64)  # all read: "v" * 8
    with pytest.raises(ValueError, match="inputs must be 8 characters 0, 1 or v"):
        _codegen.unrolled(4, 2, 2, 0, 0, 8, np.float64, "0001101")


@needs_native
def test_block_width_follows_the_population_size(monkeypatch):
    widths = []
    real = _codegen.entry
    monkeypatch.setattr(_codegen, "entry", lambda *a: widths.append(a[5]) or real(*a))
    X, Y = kernels.tasks.xor()
    wide = config.UNROLLED_WIDE_MIN_NETS
    for n, dtype in [(1, np.float64), (15, np.float64), (wide["float64"] - 1, np.float64),
                     (wide["float64"], np.float64), (1, np.float32),
                     (wide["float32"] - 1, np.float32), (wide["float32"], np.float32)]:
        kernels.train(kernels.init_params(np.arange(n), dtype=dtype), X, Y, epochs=1)
    lanes = config.UNROLLED_LANES
    assert widths == [4, 4, 4, lanes["float64"], 8, 8, lanes["float32"]]  # one network: narrow
    assert config.UNROLLED_NARROW_LANES == {"float32": 8, "float64": 4}
    # 512-bit vectors hold 16 float32: 128 lanes keep 8 vector iterations per lane loop
    assert lanes == {"float32": 128 if config.HOST_AVX512 else 64, "float64": 64}
    assert wide == {"float32": 96 if config.HOST_AVX512 else 84, "float64": 80}


def test_host_avx512_is_read_from_the_cpu_flags(monkeypatch, tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    real_open = open

    def fake_open(path, *args, **kwargs):
        return real_open(cpuinfo if path == "/proc/cpuinfo" else path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", fake_open)
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma avx512f avx512dq\n")
    assert config._host_has_avx512()
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma avx512_bf16x\n")
    assert not config._host_has_avx512()
    cpuinfo.unlink()
    assert not config._host_has_avx512()


def test_block_widths_take_one_int_for_every_dtype_or_a_dict(monkeypatch):
    X, Y = kernels.tasks.xor()
    p = kernels.init_params(np.arange(100), scheme="normal", scale=2.0)
    default = kernels.train(p, X, Y, epochs=40)
    monkeypatch.setattr(config, "UNROLLED_LANES", 16)  # an int: every dtype
    assert kernels.training._unrolled_lanes(100, 4, 2, 2, np.float32) == 16
    assert kernels.training._unrolled_lanes(100, 4, 2, 2, np.float64) == 16
    _assert_results_identical(kernels.train(p, X, Y, epochs=40), default)
    monkeypatch.setattr(config, "UNROLLED_LANES", {"float32": 64})
    with pytest.raises(ValueError, match=r"config.UNROLLED_LANES has no entry for float64: add"):
        kernels.train(p, X, Y, epochs=1)
    monkeypatch.setattr(config, "UNROLLED_LANES", {"float64": 0})
    with pytest.raises(ValueError, match=r"UNROLLED_LANES\['float64'\] must be an integer >= 1"):
        kernels.train(p, X, Y, epochs=1)


def test_kernels_release_the_gil():
    assert _cpu.run_blocks.targetoptions["nogil"] is True
    assert _codegen.unrolled(4, 2, 2, 0, 0).run_blocks.targetoptions["nogil"] is True
    entry, _ = _codegen.entry(4, 2, 2, 0, 0)  # called through ctypes, which releases the GIL
    assert not entry._flags_ & ctypes._FUNCFLAG_PYTHONAPI
    assert "nnan" not in config.FASTMATH_FLAGS
    assert "ninf" not in config.FASTMATH_FLAGS
    assert "fast" not in config.FASTMATH_FLAGS
    assert "reassoc" not in config.FASTMATH_FLAGS  # exp's (t + 1.5 * 2**52) - 1.5 * 2**52


# --- edge cases ---------------------------------------------------------------------------

def test_epochs_zero_evaluates_initial_parameters():
    X, Y = kernels.tasks.xor()
    p = kernels.init_params(np.arange(10))
    r = kernels.train(p, X, Y, epochs=0, record_every=1)
    for a, b in zip(r.params.arrays(), p.arrays(), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(r.outputs, kernels.forward(p, X))
    np.testing.assert_array_equal(r.curve[:, 0], r.loss)
    assert set(r.converged_epoch) <= {-1, 0}


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_zero_learning_rate_leaves_parameters_unchanged(momentum):
    X, Y = kernels.tasks.xor()
    p = kernels.init_params(np.arange(40), scheme="normal")
    r = kernels.train(p, X, Y, lr=0.0, momentum=momentum, epochs=50, record_every=1)
    for a, b in zip(r.params.arrays(), p.arrays(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert (r.curve == r.curve[:, :1]).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_momentum_zero_is_plain_descent_exactly(dtype, activation):
    X, Y = kernels.tasks.xor()
    p = kernels.init_params(np.arange(37), scheme="normal", dtype=dtype)
    lr = np.linspace(0.1, 3.0, 37).astype(dtype)
    q = p
    for _ in range(25):
        g = kernels.gradients(q, X, Y, activation=activation, loss="mse")
        q = kernels.Params(*(w - lr.reshape((-1,) + (1,) * (w.ndim - 1)) * gw
                             for w, gw in zip(q.arrays(), g.arrays(), strict=True)))
    r = kernels.train(p, X, Y, lr=lr, momentum=0.0, epochs=25, activation=activation, loss="mse")
    for a, b in zip(r.params.arrays(), q.arrays(), strict=True):
        np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("momentum", ["none", "mixed"])
def test_momentum_zero_keeps_negative_zero_parameters_as_plain_descent(momentum, dtype,
                                                                       kernel_path):
    # All parameters -0: every gradient is 0, and p - lr g keeps -0, where the heavy-ball
    # form p + (0 v - lr g) gives +0.  Plain descent, to the bit, in lanes with momentum
    # 0, whether or not other lanes of the block have momentum.
    X, Y = kernels.tasks.xor()
    n = 40
    p = kernels.Params(*(np.full(shape, -0.0, dtype) for shape in [(n, 2, 2), (n, 2), (n, 2),
                                                                   (n,)]))
    mom = np.zeros(n) if momentum == "none" else np.where(np.arange(n) % 2, 0.5, 0.0)
    r = kernels.train(p, X, Y, lr=0.5, momentum=mom, epochs=3)
    plain = mom == 0
    for a in r.params.arrays():
        assert np.signbit(a[plain]).all()
        assert not np.signbit(a[~plain]).any()  # heavy ball: v = 0.5 (+0) - 0.5 (+0) = +0


def _all_finite(p: kernels.Params) -> np.ndarray:
    return np.all([np.isfinite(a.reshape(p.n_nets, -1)).all(axis=1) for a in p.arrays()], axis=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_overflowing_learning_rate_diverges_quietly(dtype):
    X, Y = kernels.tasks.xor()
    n = 200
    p = kernels.init_params(np.arange(n), scheme="normal", dtype=dtype)
    big = np.arange(n) % 2 == 0
    lr = np.where(big, 1e308, 1.0)       # float32: 1e308 rounds to inf, which also overflows
    mom = np.where(big, 0.9, 0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            r = kernels.train(p, X, Y, lr=lr, momentum=mom, epochs=200, record_every=10)
    diverged = r.outcome == "diverged"
    assert diverged[big].mean() > 0.5
    assert not diverged[~big].any()
    # diverged exactly where the parameters, or the sum of |z2| that bounds the loss,
    # went non-finite
    np.testing.assert_array_equal(diverged, np.isnan(r.loss))
    assert _all_finite(r.params)[~diverged].all()
    assert np.isfinite(r.loss[~diverged]).all()
    with np.errstate(all="ignore"):
        for i in np.flatnonzero(diverged & _all_finite(r.params)):
            q = r.params.take([i]).astype(np.float64)
            _, _, z2, _ = naive.forward(q.W1[0], q.b1[0], q.W2[0], q.b2[0], X, "sigmoid")
            assert not np.isfinite(np.abs(z2).sum())
    # once diverged, the rest of the curve reads NaN; before, it is finite
    for row in r.curve[diverged]:
        k = int(np.argmax(np.isnan(row)))
        assert np.isfinite(row[:k]).all()
        assert np.isnan(row[k:]).all()
    # diverged neighbours do not change anyone else's result
    alone = kernels.train(p.take(~big), X, Y, lr=1.0, epochs=200, record_every=10)
    np.testing.assert_array_equal(alone.curve, r.curve[~big])
    np.testing.assert_array_equal(alone.params.W1, r.params.W1[~big])


def test_diverged_networks_stay_frozen():
    X, Y = kernels.tasks.xor()
    p = kernels.init_params(np.arange(64), scheme="normal")
    short = kernels.train(p, X, Y, lr=1e308, momentum=0.9, epochs=50)
    long = kernels.train(p, X, Y, lr=1e308, momentum=0.9, epochs=500)
    diverged = short.outcome == "diverged"
    assert diverged.sum() > 10
    assert (long.outcome[diverged] == "diverged").all()
    for a, b in zip(short.params.arrays(), long.params.arrays(), strict=True):
        np.testing.assert_array_equal(a[diverged], b[diverged])
    np.testing.assert_array_equal(short.outputs[diverged], long.outputs[diverged])


def test_finite_parameters_with_overflowing_loss_diverge_at_epoch_zero():
    X, Y = kernels.tasks.xor()
    # relu units of size 1e200 times output weights of 1e200 overflow z2 to inf
    p = kernels.Params(np.full((1, 2, 2), 1e200), np.zeros((1, 2)), np.full((1, 2), -1e200),
                       np.zeros(1))
    r = kernels.train(p, X, Y, lr=1.0, epochs=30, activation="relu", record_every=10)
    assert r.outcome[0] == "diverged"
    assert np.isnan(r.curve).all()
    for a, b in zip(r.params.arrays(), p.arrays(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_nonfinite_parameters_with_finite_outputs_diverge(kernel_path):
    # sigmoid units saturate on W1 = -inf, so z2 stays finite: only the parameter check sees it
    X, Y = np.array([[1.0], [2.0]]), np.array([0.0, 0.0])
    p = kernels.Params(np.zeros((1, 1, 1)), np.zeros((1, 1)), np.full((1, 1), 1e4), np.zeros(1))
    r = kernels.train(p, X, Y, lr=1e306, epochs=3, record_every=1)
    assert np.isneginf(r.params.W1).all()
    assert np.isfinite(r.params.W2).all()
    assert np.isfinite(r.params.b2).all()
    assert r.outcome[0] == "diverged"
    assert np.isfinite(r.curve[0, 0])
    assert np.isnan(r.curve[0, 1:]).all()


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("loss", LOSSES)
def test_all_zero_parameters_sit_at_one_half(activation, loss):
    X, Y = kernels.tasks.xor()
    p = kernels.init_params(np.arange(5), n_hidden=3, scale=0.0)
    assert (kernels.forward(p, X, activation=activation) == 0.5).all()
    g = kernels.gradients(p, X, Y, activation=activation, loss=loss)
    assert all((a == 0).all() for a in g.arrays())
    r = kernels.train(p, X, Y, lr=1.0, epochs=100, activation=activation, loss=loss)
    assert all((a == 0).all() for a in r.params.arrays())
    assert (r.outputs == 0.5).all()
    assert (r.outcome == "plateau").all()
    assert (r.converged_epoch == -1).all()


def test_single_hidden_unit():
    X, Y = kernels.tasks.xor()
    p = kernels.init_params(np.arange(6), n_hidden=1)
    r = kernels.train(p, X, Y, lr=0.5, epochs=300, record_every=1)
    for i in range(6):
        ref = naive.train(p.W1[i], p.b1[i], p.W2[i], p.b2[i], X, Y, lr=0.5, momentum=0.0,
                          epochs=300, activation="sigmoid", loss="bce", target_error=0.1)
        np.testing.assert_allclose(r.curve[i], ref["loss"], rtol=1e-9)
    assert (r.converged_epoch == -1).all()  # one hidden unit cannot represent XOR


def test_bce_over_several_log_groups_matches_reference():
    # bce sums the log terms of up to LOG_GROUP samples with one log1p: 40 samples make a
    # full group and a partial one, on inputs that give both tiny and large terms.  Only
    # the generic kernel sees more than one group: a generated one has at most
    # UNROLL_MAX_SIGMOIDS = S * (H + 1) sigmoids, so S <= 22 < LOG_GROUP.
    from kernels._scalar import LOG_GROUP

    n_samples = 40
    assert LOG_GROUP < n_samples < 2 * LOG_GROUP
    assert config.UNROLL_MAX_SIGMOIDS < 2 * LOG_GROUP
    assert not _codegen.eligible(n_samples, 1, 1)
    rng = np.random.default_rng(n_samples)
    X = rng.normal(0.0, 2.0, (n_samples, 1))
    Y = (rng.random(n_samples) < 0.5).astype(np.float64)
    p = kernels.init_params(np.arange(3), n_inputs=1, n_hidden=1, scale=3.0)
    r = kernels.train(p, X, Y, lr=0.5, epochs=60, record_every=1)
    for i in range(3):
        ref = naive.train(p.W1[i], p.b1[i], p.W2[i], p.b2[i], X, Y, lr=0.5, momentum=0.0,
                          epochs=60, activation="sigmoid", loss="bce", target_error=0.1)
        np.testing.assert_allclose(r.curve[i], ref["loss"], rtol=1e-9, atol=0)
    # float32: the same rounded inputs in float64 give the loss to within a few ulps
    p32, X32 = p.astype(np.float32), X.astype(np.float32)
    got = kernels.train(p32, X32, Y, epochs=0).loss
    want = kernels.train(p32.astype(np.float64), X32.astype(np.float64), Y, epochs=0).loss
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=0)


def test_float32_tracks_float64():
    X, Y = kernels.tasks.xor()
    p = kernels.init_params(np.arange(256))
    r64 = kernels.train(p, X, Y, lr=1.0, epochs=300)
    r32 = kernels.train(p.astype(np.float32), X, Y, lr=1.0, epochs=300)
    assert r32.loss.dtype == np.float32
    assert r32.outputs.dtype == np.float32
    assert r32.params.W1.dtype == np.float32
    assert r32.curve.dtype == np.float32
    np.testing.assert_allclose(r32.loss, r64.loss, rtol=1e-3, atol=1e-5)
    assert np.mean(r32.converged_epoch == r64.converged_epoch) > 0.95


def test_empty_population():
    X, Y = kernels.tasks.xor()
    r = kernels.train(kernels.init_params(np.array([], np.int64)), X, Y, epochs=10,
                      record_every=5)
    assert r.loss.shape == (0,)
    assert r.curve.shape == (0, 3)
    assert r.outcome.shape == (0,)


def test_inputs_are_not_modified():
    X, Y = kernels.tasks.xor()
    p = kernels.init_params(np.arange(20))
    before = [a.copy() for a in p.arrays()]
    kernels.train(p, X, Y, epochs=20)
    for a, b in zip(p.arrays(), before, strict=True):
        np.testing.assert_array_equal(a, b)
    ro = kernels.Params(*(a.copy() for a in p.arrays()))
    for a in ro.arrays():
        a.setflags(write=False)
    np.testing.assert_array_equal(kernels.forward(ro, X), kernels.forward(p, X))


def _vm_flags(address: int) -> list[str]:
    """The VmFlags of the mapping that holds ``address`` (Linux: /proc/self/smaps)."""
    inside = False
    with open("/proc/self/smaps") as f:
        for line in f:
            head = line.split(maxsplit=1)[0]
            if re.fullmatch(r"[0-9a-f]+-[0-9a-f]+", head):
                lo, hi = (int(x, 16) for x in head.split("-"))
                inside = lo <= address < hi
            elif inside and head == "VmFlags:":
                return line.split()[1:]
    raise AssertionError(f"no mapping holds {address:#x}")


@pytest.mark.skipif(not (os.path.exists("/proc/self/smaps")
                         and os.path.exists("/sys/kernel/mm/transparent_hugepage")),
                    reason="needs Linux /proc and a kernel with transparent huge pages")
def test_fresh_arrays_ask_for_no_huge_pages():
    n = 3 * _memory.ADVISE_MIN_BYTES // 8
    big = _memory.fresh((3, n // 3), np.float64)
    assert big.shape == (3, n // 3)
    assert big.dtype == np.float64
    assert big.flags.c_contiguous
    assert big.flags.writeable
    middle = big.ctypes.data + big.nbytes // 2
    assert "nh" in _vm_flags(middle)
    assert "hg" not in _vm_flags(middle)
    big[:] = 7.0
    assert np.all(big == 7.0)
    copy = _memory.fresh_copy(np.arange(2.0 * n).reshape(2, n)[:, ::2])  # not contiguous
    assert copy.flags.c_contiguous
    assert "nh" in _vm_flags(copy.ctypes.data + copy.nbytes // 2)
    np.testing.assert_array_equal(copy, np.arange(2.0 * n).reshape(2, n)[:, ::2])
    small = _memory.fresh((4, 5), np.int8)  # below the threshold: as NumPy gives it
    assert small.shape == (4, 5)
    assert small.dtype == np.int8
    r = kernels.train(kernels.init_params(np.arange(2**18)), *kernels.tasks.xor(), epochs=0)
    assert "nh" in _vm_flags(r.params.W1.ctypes.data + r.params.W1.nbytes // 2)



def test_aligned_scratch_starts_on_a_cache_line():
    assert _memory.aligned(0, np.float32).shape == (0,)  # (nothing to align)
    for n, dtype in [(1, np.int64), (51 * 64, np.float32), (999, np.float64)]:
        for _ in range(5):  # NumPy's own arrays start on 16 bytes: some of these would not
            a = _memory.aligned(n, dtype)
            assert a.ctypes.data % 64 == 0
            assert a.shape == (n,)
            assert a.dtype == dtype
            assert a.flags.c_contiguous
            assert a.flags.writeable
    assert _memory.aligned(10, np.float64, align=256).ctypes.data % 256 == 0

# --- known answers ------------------------------------------------------------------------

def test_hand_set_xor_solution():
    X, Y = kernels.tasks.xor()
    # h1 = OR, h2 = NAND, output = AND(h1, h2), with large weights
    p = kernels.Params(np.array([[[40.0, -40.0], [40.0, -40.0]]]), np.array([[-20.0, 60.0]]),
                       np.array([[40.0, 40.0]]), np.array([-60.0]))
    r = kernels.train(p, X, Y, epochs=0)
    assert r.loss[0] < 1e-6
    assert r.converged_epoch[0] == 0
    assert r.outcome[0] == "converged"
    np.testing.assert_allclose(r.outputs[0], Y, atol=1e-8)


LN2 = math.log(2.0)


@pytest.mark.parametrize(("name", "logits", "bce", "mse"), [
    # samples in order 00, 01, 10, 11 with targets 0, 1, 1, 0
    ("half4", [0.0, 0.0, 0.0, 0.0], LN2, 1 / 4),
    ("half2", [-40.0, 40.0, 0.0, 0.0], LN2 / 2, 1 / 8),
    ("third3", [-40.0, LN2, LN2, LN2], 0.477386, 1 / 6),
])
def test_stationary_pattern_losses(name, logits, bce, mse):
    X, Y = kernels.tasks.xor()
    p = params_from_logits(logits)
    for loss, want in (("bce", bce), ("mse", mse)):
        r = kernels.train(p, X, Y, epochs=0, activation="relu", loss=loss)
        np.testing.assert_allclose(r.loss[0], want, rtol=1e-6, err_msg=f"{name} {loss}")


@pytest.mark.parametrize(("logits", "outcome"), [
    ([-5.0, 5.0, 5.0, -5.0], "converged"),         # every output within 0.1
    ([-1.0, 1.0, 1.0, -1.0], "slow"),              # right side, not within 0.1
    ([-0.1, 0.1, -0.05, 0.0], "plateau"),          # all within 0.05 of 1/2
    ([-5.0, 5.0, -0.5, -5.0], "stuck"),            # one wrong side, none saturated
    ([-5.0, 5.0, 5.0, 0.0], "stuck"),              # exactly 1/2 is not the right side
    ([-5.0, 5.0, -3.0, -5.0], "saturated"),        # 10 -> 0.047, within 0.1 of wrong target 0
])
def test_outcome_labels(logits, outcome):
    X, Y = kernels.tasks.xor()
    for dtype in (np.float64, np.float32):
        r = kernels.train(params_from_logits(logits, dtype), X, Y, epochs=0, activation="relu")
        assert r.outcome[0] == outcome


def test_thread_count_is_numbas_even_before_numba_is_imported(monkeypatch):
    from kernels import _parallel

    assert _parallel.num_threads() == numba.get_num_threads()  # numba loaded: its count
    monkeypatch.delitem(sys.modules, "numba")  # as in a process that loaded kernels from cache
    monkeypatch.setenv("NUMBA_NUM_THREADS", "3")
    assert _parallel.num_threads() == 3
    monkeypatch.delenv("NUMBA_NUM_THREADS")
    assert _parallel.num_threads() == numba.config.NUMBA_DEFAULT_NUM_THREADS


def test_the_thread_pool_is_kept_and_an_error_drops_the_ranges_not_started(monkeypatch):
    import threading

    from kernels import _parallel

    monkeypatch.setattr(_parallel, "num_threads", lambda: 2)
    ran, threads = [], set()

    def record(start, stop):
        if stop > start:
            time.sleep(0.01)  # long enough that both threads take ranges
            ran.append((int(start), int(stop)))
            threads.add(threading.current_thread())  # objects: idents are reused

    _parallel.launch(record, 64, True, ())
    assert sorted(ran) == [(8 * i, 8 * i + 8) for i in range(8)]  # 2 threads x 4 ranges each
    first = set(threads)
    _parallel.launch(record, 64, True, ())
    assert threads == first  # the same two threads: the pool is kept between calls
    assert len(first) == 2

    ran.clear()

    def failing(start, stop):
        if stop > start:
            ran.append(int(start))
            time.sleep(0.05)
            if start == 0:
                raise ValueError("range 0 failed")

    with pytest.raises(ValueError, match="range 0 failed"):
        _parallel.launch(failing, 64, True, ())
    assert 0 in ran
    assert len(ran) < 8  # the ranges not yet started were dropped
    ran.clear()
    _parallel.launch(record, 64, True, ())  # and the pool still works
    assert len(ran) == 8


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_trains_on_threads_of_its_own():
    X, Y = kernels.tasks.xor()
    p = kernels.init_params(np.arange(300), dtype=np.float64)
    want = kernels.train(p, X, Y, epochs=20, parallel=True).loss  # the parent's pool is up
    r, w = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fork of a threaded process: Python 3.12+ and JAX warn
        pid = os.fork()
    if pid == 0:  # the child: its parent's pool threads do not exist here
        said = b"no answer"
        try:
            with warnings.catch_warnings():  # whatever other tests left behind, not ours
                warnings.simplefilter("ignore")
                got = kernels.train(p, X, Y, epochs=20, parallel=True).loss
            said = b"ok" if np.array_equal(got, want) else b"differ"
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            said = repr(exc).encode()[:400]
        finally:
            os.write(w, said)
            os._exit(0)
    os.close(w)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        pytest.fail("the forked child hung in train(parallel=True)")
    assert os.read(r, 512) == b"ok"
    os.close(r)
