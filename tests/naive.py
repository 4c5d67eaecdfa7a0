"""Slow, obviously correct references, written from the paper's chain rule.

Imports nothing from the project.  One network at a time, float64, NumPy for the
small matrix products; every formula is the textbook one (DESIGN.md, "The math").
"""

from __future__ import annotations

import math

import numpy as np


def sigmoid(z):
    # 1 / (1 + e^-z), evaluated from e^-|z| so that it never overflows
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def softplus(z):
    # log(1 + e^z), stably
    return np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))


def act(z, name):
    if name == "sigmoid":
        return sigmoid(z)
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0.0)
    raise ValueError(name)


def act_prime(z, name):
    if name == "sigmoid":
        s = sigmoid(z)
        return s * (1.0 - s)
    if name == "tanh":
        return 1.0 - np.tanh(z) ** 2
    if name == "relu":
        return (z > 0).astype(np.float64)
    raise ValueError(name)


def forward(W1, b1, W2, b2, X, activation):
    """Return z1, a1, z2, a2 for one network on all samples."""
    z1 = X @ W1 + b1            # (S, H)
    a1 = act(z1, activation)    # (S, H)
    z2 = a1 @ W2 + b2           # (S,)
    a2 = sigmoid(z2)            # (S,)
    return z1, a1, z2, a2


def loss_value(z2, a2, Y, loss):
    """Mean loss over samples: bce in log-sigmoid form, or mse."""
    if loss == "bce":
        # -[y log a2 + (1-y) log(1-a2)] with log a2 = -softplus(-z2), log(1-a2) = -softplus(z2)
        return float(np.mean(Y * softplus(-z2) + (1 - Y) * softplus(z2)))
    return float(np.mean((a2 - Y) ** 2))


def backward(W1, b1, W2, b2, X, Y, activation, loss):
    """Gradients by the chain rule, storing dL/dz per layer (the paper's scheme)."""
    S = X.shape[0]
    z1, a1, z2, a2 = forward(W1, b1, W2, b2, X, activation)
    if loss == "bce":
        # dL/da2 = (a2 - y) / (a2 (1 - a2) S); times a2 (1 - a2) leaves:
        dz2 = (a2 - Y) / S
    else:
        dL_da2 = 2.0 * (a2 - Y) / S
        dz2 = dL_da2 * a2 * (1 - a2)
    dW2 = a1.T @ dz2                              # (H,)
    db2 = dz2.sum()
    dz1 = np.outer(dz2, W2) * act_prime(z1, activation)   # (S, H)
    dW1 = X.T @ dz1                               # (D, H)
    db1 = dz1.sum(axis=0)
    return dW1, db1, dW2, db2


def train(W1, b1, W2, b2, X, Y, *, lr, momentum, epochs, activation, loss, target_error):
    """Train one network; return the loss at every epoch 0..epochs and the rest."""
    W1, b1, W2, b2 = (np.array(a, dtype=np.float64) for a in (W1, b1, W2, b2))
    b2 = float(b2)
    vW1, vb1, vW2, vb2 = np.zeros_like(W1), np.zeros_like(b1), np.zeros_like(W2), 0.0
    losses = []
    converged_epoch = -1
    for e in range(epochs + 1):
        _, _, z2, a2 = forward(W1, b1, W2, b2, X, activation)
        losses.append(loss_value(z2, a2, Y, loss))
        if converged_epoch < 0 and np.max(np.abs(a2 - Y)) < target_error:
            converged_epoch = e
        if e == epochs:
            break
        gW1, gb1, gW2, gb2 = backward(W1, b1, W2, b2, X, Y, activation, loss)
        vW1 = momentum * vW1 - lr * gW1
        vb1 = momentum * vb1 - lr * gb1
        vW2 = momentum * vW2 - lr * gW2
        vb2 = momentum * vb2 - lr * gb2
        W1, b1, W2, b2 = W1 + vW1, b1 + vb1, W2 + vW2, b2 + vb2
    return {"loss": np.array(losses), "outputs": a2, "converged_epoch": converged_epoch,
            "params": (W1, b1, W2, b2)}


# --- the counter-based generator of DESIGN.md, in Python integers -------------------------

MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def mix64(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def uniform01(seed, tensor, i, j, k):
    state = mix64((seed + GOLDEN) & MASK)
    counter = ((tensor * 2**20 + i) * 2**20 + j) * 2 + k
    return (mix64((state + (counter + 1) * GOLDEN) & MASK) >> 11) * 2.0**-53


def base_draw(seed, tensor, i, j, normal):
    u0 = uniform01(seed & MASK, tensor, i, j, 0)
    if not normal:
        return 2.0 * u0 - 1.0
    u1 = uniform01(seed & MASK, tensor, i, j, 1)
    return math.sqrt(-2.0 * math.log(1.0 - u0)) * math.cos(2.0 * math.pi * u1)


def init_network(seed, n_inputs, n_hidden, scheme, scale):
    """Initial (W1, b1, W2, b2) of one network, straight from DESIGN.md's definitions."""
    normal = scheme in ("normal", "he")
    if scheme in ("uniform", "normal"):
        s1 = s2 = sb = scale
    elif scheme == "xavier":
        s1 = scale * math.sqrt(6.0 / (n_inputs + n_hidden))
        s2 = scale * math.sqrt(6.0 / (n_hidden + 1))
        sb = 0.0
    else:
        s1 = scale * math.sqrt(2.0 / n_inputs)
        s2 = scale * math.sqrt(2.0 / n_hidden)
        sb = 0.0
    W1 = np.array([[s1 * base_draw(seed, 0, d, h, normal) for h in range(n_hidden)]
                   for d in range(n_inputs)])
    b1 = np.array([sb * base_draw(seed, 1, 0, h, normal) for h in range(n_hidden)])
    W2 = np.array([s2 * base_draw(seed, 2, h, 0, normal) for h in range(n_hidden)])
    b2 = sb * base_draw(seed, 3, 0, 0, normal)
    return W1, b1, W2, b2
