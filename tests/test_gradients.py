from __future__ import annotations

import numpy as np
import pytest

import kernels
from tests import naive

ACTIVATIONS = ["sigmoid", "tanh", "relu"]
LOSSES = ["bce", "mse"]


def _flat(p: kernels.Params) -> np.ndarray:
    return np.concatenate([a.reshape(p.n_nets, -1) for a in p.arrays()], axis=1)


def _unflat(flat: np.ndarray, D: int, H: int) -> kernels.Params:
    n = flat.shape[0]
    i, j, k = D * H, D * H + H, D * H + 2 * H
    return kernels.Params(flat[:, :i].reshape(n, D, H).copy(), flat[:, i:j].copy(),
                          flat[:, j:k].copy(), flat[:, k].copy())


def _finite_difference(p, X, Y, activation, loss, eps=1e-6):
    """Central differences of the kernel's own loss, one perturbed network per direction."""
    base = _flat(p)
    n, P = base.shape
    plus = np.repeat(base, P, axis=0)
    minus = plus.copy()
    idx = np.arange(n * P)
    plus[idx, idx % P] += eps
    minus[idx, idx % P] -= eps
    D, H = p.n_inputs, p.n_hidden
    lp = kernels.losses(_unflat(plus, D, H), X, Y, activation=activation, loss=loss)
    lm = kernels.losses(_unflat(minus, D, H), X, Y, activation=activation, loss=loss)
    return ((lp - lm) / (2 * eps)).reshape(n, P)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("H", [1, 2, 4])
def test_gradients_match_finite_differences_xor(activation, loss, H):
    X, Y = kernels.tasks.xor()
    p = kernels.init_params(np.arange(8), n_inputs=2, n_hidden=H, scheme="normal", scale=1.5)
    g = _flat(kernels.gradients(p, X, Y, activation=activation, loss=loss))
    fd = _finite_difference(p, X, Y, activation, loss)
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-8)
    assert np.abs(g).max() > 1e-3  # the check is not vacuous


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("loss", LOSSES)
def test_gradients_match_finite_differences_parity3(activation, loss):
    X, Y = kernels.tasks.parity(3)
    assert X.shape == (8, 3)
    p = kernels.init_params(np.arange(6), n_inputs=3, n_hidden=3, scheme="normal", scale=1.0)
    g = _flat(kernels.gradients(p, X, Y, activation=activation, loss=loss))
    fd = _finite_difference(p, X, Y, activation, loss)
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("loss", LOSSES)
def test_gradients_and_forward_match_reference(activation, loss):
    X, Y = kernels.tasks.parity(3)
    p = kernels.init_params(np.arange(5), n_inputs=3, n_hidden=4, scheme="he", scale=1.0)
    g = kernels.gradients(p, X, Y, activation=activation, loss=loss)
    a2 = kernels.forward(p, X, activation=activation)
    for n in range(p.n_nets):
        ref = naive.backward(p.W1[n], p.b1[n], p.W2[n], p.b2[n], X, Y, activation, loss)
        for got, want in zip((g.W1[n], g.b1[n], g.W2[n], g.b2[n]), ref, strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
        want_a2 = naive.forward(p.W1[n], p.b1[n], p.W2[n], p.b2[n], X, activation)[3]
        np.testing.assert_allclose(a2[n], want_a2, rtol=1e-13)


def test_float32_gradients_close_to_float64():
    X, Y = kernels.tasks.xor()
    p = kernels.init_params(np.arange(64), scheme="normal")
    g64 = kernels.gradients(p, X, Y)
    g32 = kernels.gradients(p.astype(np.float32), X, Y)
    for a, b in zip(g32.arrays(), g64.arrays(), strict=True):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("loss", LOSSES)
def test_losses_match_reference_and_train(activation, loss):
    X, Y = kernels.tasks.parity(3)
    p = kernels.init_params(np.arange(7), n_inputs=3, n_hidden=2, scheme="normal")
    got = kernels.losses(p, X, Y, activation=activation, loss=loss)
    for n in range(p.n_nets):
        _, _, z2, a2 = naive.forward(p.W1[n], p.b1[n], p.W2[n], p.b2[n], X, activation)
        np.testing.assert_allclose(got[n], naive.loss_value(z2, a2, Y, loss), rtol=1e-13)


def test_losses_equal_train_at_epoch_zero():
    X, Y = kernels.tasks.xor()
    p = kernels.init_params(np.arange(100), scheme="normal")
    np.testing.assert_array_equal(kernels.losses(p, X, Y), kernels.train(p, X, Y, epochs=0).loss)
