"""Compiled CPU kernels: blocks of networks laid across SIMD lanes.

A block holds ``lanes`` networks (``config.LANES``) in structure-of-arrays form:
``par[p, j]`` is parameter ``p`` of lane ``j``, so every inner loop runs over the
lanes with unit stride and never mixes data between them.  One thread owns a
block for all of its epochs; nothing is allocated inside the epoch loop.

Parameter ``p`` of a network with D inputs and H hidden units, flat:
``W1[d, h] -> d*H + h``, ``b1[h] -> D*H + h``, ``W2[h] -> D*H + H + h``,
``b2 -> D*H + 2H``.

:func:`run_blocks` runs a range of blocks on the calling thread with the GIL
released; ``training.py`` spreads ranges over a pool of threads (or runs them
all on the caller's thread for callers, such as joblib workers, that own the
cores themselves).  Blocks never share data, so any split gives the same bits.
"""

from __future__ import annotations

from types import FunctionType

import numpy as np
from numba import njit, types
from numba.extending import overload

from . import _bits, _elementary, _numba_cache, _scalar, config
from ._native import sources_digest
from ._types import MODE_GRADIENTS, MODE_TRAIN

_FASTMATH = set(config.FASTMATH_FLAGS) or False
_inner = njit(nogil=True, error_model="numpy", fastmath=_FASTMATH)
_outer = {"nogil": True, "error_model": "numpy", "fastmath": _FASTMATH,
          "cache": _numba_cache.enabled()}  # (under the xorsweep cache, never in the package)


def compile_scalar_math(jit, primitives, target="cpu"):
    """Compile the plain-Python scalar math (``_elementary``, ``_scalar``) for one target.

    Each function is rebuilt over a shared namespace in which the names it calls
    (each other, the target's bit primitives) are bound to their compiled
    versions; the source stays free of any target.  ``exp_neg`` and ``log1p``
    become numba overloads for ``target`` that pick the float32 or float64 version
    by type; with ``target=None`` (the functions stay Python, ``jit`` the identity)
    they keep their pure-Python dispatch.
    """
    modules = (_elementary, _scalar)
    ns: dict = {}
    for mod in modules:
        ns.update({k: v for k, v in vars(mod).items() if not k.startswith("__")})
    ns.update(primitives)
    compiled = {}
    for mod in modules:
        for name in mod.__all__:
            f = getattr(mod, name)
            compiled[name] = jit(FunctionType(f.__code__, ns, name, f.__defaults__))
    ns.update(compiled)
    if target is not None:
        for name in ("exp_neg", "log1p"):
            ns[name] = _dtype_dispatch(compiled[f"{name}_f32"], compiled[f"{name}_f64"], target)
    return compiled


def _dtype_dispatch(f32, f64, target):
    """Return a stub that numba compiles, for ``target``, as ``f32`` or ``f64`` by type."""

    def stub(x):
        """Call the float32 or the float64 version (resolved at compile time)."""

    @overload(stub, target=target, inline="always")
    def _by_type(x):
        f = f32 if x == types.float32 else f64
        return lambda x: f(x)

    return stub


_math = compile_scalar_math(_inner, _bits.CPU_PRIMITIVES)


activate = _math["activate"]
activate_grad = _math["activate_grad"]
output = _math["output"]
loss_term = _math["loss_term"]
loss_log_acc = _math["loss_log_acc"]
loss_log = _math["loss_log"]
ends_log_group = _math["ends_log_group"]
loss_grad = _math["loss_grad"]
classify = _math["classify"]


def _depend_on_sources(dispatcher) -> bool:
    """Make ``dispatcher``'s on-disk cache stale whenever any kernel source file changes.

    numba checks only the file that defines a cached function; the kernels also
    inline code from ``_scalar.py``, ``_elementary.py``, ``_bits.py`` and
    ``config.py``, so their digest is folded into the cache stamp.  Returns False
    (leaving numba's own check) if numba's cache internals have changed.
    """
    cache_file = getattr(getattr(dispatcher, "_cache", None), "_cache_file", None)
    if cache_file is None or not hasattr(cache_file, "_source_stamp"):
        return False
    cache_file._source_stamp = (cache_file._source_stamp, sources_digest())
    return True


@_inner
def _evaluate(par, X, Y, H, act, loss, one, n_samples, inv_s, want_grad, want_loss,
              z1, a1, z2, dz1, dz2, out, g, loss_mean, log_acc, max_err, z_check):
    """Forward pass (and backward if ``want_grad``) of every lane of a block.

    Writes ``out[s, j]`` (outputs), ``max_err[j]`` (max |a2 - y|, NaN if any output
    is NaN), ``z_check[j]`` (sum of |z2|: finite iff the loss is), the mean loss
    ``loss_mean[j]`` if ``want_loss`` (``log_acc`` is its scratch) and the gradient
    ``g[p, j]`` if ``want_grad``.
    """
    S, D = X.shape
    L = par.shape[1]
    zero = one - one
    i_b1 = D * H
    i_w2 = i_b1 + H
    i_b2 = i_w2 + H
    for j in range(L):
        loss_mean[j] = zero
        log_acc[j] = zero
        max_err[j] = zero
        z_check[j] = zero
    if want_grad:
        g[:, :] = zero
    for s in range(S):
        y = Y[s]
        # z1 = x @ W1 + b1, a1 = act(z1)
        for h in range(H):
            for j in range(L):
                z1[h, j] = zero
            for d in range(D):
                x = X[s, d]
                w = d * H + h
                for j in range(L):
                    z1[h, j] += x * par[w, j]
            for j in range(L):
                z1[h, j] += par[i_b1 + h, j]
                a1[h, j] = activate(z1[h, j], act, one)
        # z2 = a1 @ W2 + b2, a2 = sigmoid(z2)
        for j in range(L):
            z2[j] = zero
        for h in range(H):
            for j in range(L):
                z2[j] += a1[h, j] * par[i_w2 + h, j]
        for j in range(L):
            z2[j] += par[i_b2, j]
            a2, e = output(z2[j], one)
            out[s, j] = a2
            z_check[j] += abs(z2[j])
            if want_loss:
                loss_mean[j] += loss_term(z2[j], a2, y, loss, one)
                log_acc[j] = loss_log_acc(log_acc[j], e, loss, one)
            err = abs(a2 - y)
            if not err <= max_err[j]:
                max_err[j] = err
            dz2[j] = loss_grad(a2, y, inv_s, loss, one)
        if want_loss and ends_log_group(s, S):
            for j in range(L):
                loss_mean[j] += loss_log(log_acc[j], loss, one)
                log_acc[j] = zero
        if want_grad:
            # dW2 = a1^T dz2, db2 = sum dz2, dz1 = (dz2 W2) * act'(z1), dW1 = X^T dz1, db1 = sum dz1
            for j in range(L):
                g[i_b2, j] += dz2[j]
            for h in range(H):
                for j in range(L):
                    g[i_w2 + h, j] += a1[h, j] * dz2[j]
                    dz1[j] = dz2[j] * par[i_w2 + h, j] * activate_grad(z1[h, j], a1[h, j], act, one)
                    g[i_b1 + h, j] += dz1[j]
                for d in range(D):
                    x = X[s, d]
                    w = d * H + h
                    for j in range(L):
                        g[w, j] += x * dz1[j]
    for j in range(L):
        loss_mean[j] = loss_mean[j] / n_samples


@_inner
def load_lanes(n0, nr, W1, b1, W2, b2, lr, mom, par, lr_l, mom_l, alive, curve):
    """Load networks n0 .. n0+nr-1 into lanes 0 .. nr-1 (``par[p, j]``); NaN their curves.

    Lanes past ``nr`` keep whatever the caller put there (zeros) and stay dead.
    """
    _, D, H = W1.shape
    i_b1 = D * H
    i_w2 = i_b1 + H
    i_b2 = i_w2 + H
    for j in range(nr):
        n = n0 + j
        for d in range(D):
            for h in range(H):
                par[d * H + h, j] = W1[n, d, h]
        for h in range(H):
            par[i_b1 + h, j] = b1[n, h]
            par[i_w2 + h, j] = W2[n, h]
        par[i_b2, j] = b2[n]
        lr_l[j] = lr[n]
        mom_l[j] = mom[n]
        alive[j] = 1
        for k in range(curve.shape[0]):
            curve[k, n] = np.nan


@_inner
def _scatter(src, j, n, W1, b1, W2, b2):
    """Store lane ``j`` of the flat parameter layout ``src[p, j]`` as network ``n``."""
    _, D, H = W1.shape
    for d in range(D):
        for h in range(H):
            W1[n, d, h] = src[d * H + h, j]
    for h in range(H):
        b1[n, h] = src[D * H + h, j]
        W2[n, h] = src[D * H + H + h, j]
    b2[n] = src[D * H + 2 * H, j]


@_inner
def store_lanes(n0, nr, mode, par, g, out, alive, conv_l, loss_mean, Y, one, sat_tol, plat_tol,
                W1, b1, W2, b2, G1, Gb1, G2, Gb2, outputs, conv, loss_out, outcome):
    """Store lanes 0 .. nr-1 back to networks n0 ..: results, outcome, and params or gradients."""
    S = out.shape[0]
    zero = one - one
    half = one / (one + one)
    for j in range(nr):
        n = n0 + j
        conv[n] = conv_l[j]
        loss_out[n] = loss_mean[j] if alive[j] else np.nan
        min_margin = one
        min_wrong = one
        max_half = zero
        for s in range(S):
            a2 = out[s, j]
            outputs[n, s] = a2
            y = Y[s]
            margin = a2 - half if y > half else half - a2
            wrong = abs(a2 - (one - y))
            dist_half = abs(a2 - half)
            min_margin = min(min_margin, margin)
            min_wrong = min(min_wrong, wrong)
            max_half = max(max_half, dist_half)
        outcome[n] = classify(min_margin, min_wrong, max_half, conv_l[j] >= 0, alive[j] != 0,
                              sat_tol, plat_tol)
        if mode == MODE_TRAIN:
            _scatter(par, j, n, W1, b1, W2, b2)
        elif mode == MODE_GRADIENTS:
            _scatter(g, j, n, G1, Gb1, G2, Gb2)


@njit(**_outer)
def run_blocks(b_start, b_stop, mode, W1, b1, W2, b2, lr, mom, X, Y, epochs, curve_epochs,
               target, act, loss, one, lanes, sat_tol, plat_tol, G1, Gb1, G2, Gb2, curve,
               loss_out, outputs, conv, outcome):
    """Run blocks ``b_start .. b_stop-1`` on the calling thread with the GIL released.

    Block ``b`` holds the ``lanes`` networks from ``b * lanes`` on.  (The block loop
    lives here rather than in a function of its own: numba re-optimizes every
    callee linked into a compiled function, so each level costs compile time.)
    """
    N, D, H = W1.shape
    S = X.shape[0]
    L = lanes
    P = D * H + 2 * H + 1
    zero = one - one
    n_samples = zero
    for _ in range(S):
        n_samples += one
    inv_s = one / n_samples

    dt = W1.dtype
    for b in range(b_start, b_stop):
        n0 = b * L
        nr = min(L, N - n0)
        par = np.zeros((P, L), dt)
        vel = np.zeros((P, L), dt)
        g = np.zeros((P, L), dt)
        z1 = np.zeros((H, L), dt)
        a1 = np.zeros((H, L), dt)
        out = np.zeros((S, L), dt)
        z2 = np.zeros(L, dt)
        dz1 = np.zeros(L, dt)
        dz2 = np.zeros(L, dt)
        z_check = np.zeros(L, dt)
        loss_mean = np.zeros(L, dt)
        log_acc = np.zeros(L, dt)
        max_err = np.zeros(L, dt)
        check = np.zeros(L, dt)
        lr_l = np.zeros(L, dt)
        mom_l = np.zeros(L, dt)
        alive = np.zeros(L, np.bool_)
        conv_l = np.full(L, -1, np.int64)

        load_lanes(n0, nr, W1, b1, W2, b2, lr, mom, par, lr_l, mom_l, alive, curve)
        K = curve_epochs.shape[0]
        k = 0
        for e in range(epochs + 1):
            record = k < K and curve_epochs[k] == e
            _evaluate(par, X, Y, H, act, loss, one, n_samples, inv_s,
                      e < epochs or mode == MODE_GRADIENTS,
                      record or e == epochs, z1, a1, z2, dz1, dz2, out, g, loss_mean, log_acc,
                      max_err, z_check)
            # Divergence: a parameter is non-finite, or the sum of |z2| over samples is
            # (then the loss can be too: each sample's loss is at most |z2| + ln 2).
            # x - x and x * 0 are 0 for finite x and NaN for inf or NaN.
            for j in range(L):
                check[j] = z_check[j] - z_check[j]
            for p in range(P):
                for j in range(L):
                    check[j] += par[p, j] * zero
            n_alive = 0
            for j in range(L):
                if alive[j]:
                    if check[j] == zero:
                        n_alive += 1
                        if conv_l[j] < 0 and max_err[j] < target:
                            conv_l[j] = e
                    else:
                        alive[j] = False
            if record:
                for j in range(nr):
                    curve[k, n0 + j] = loss_mean[j] if alive[j] else np.nan
                k += 1
            if n_alive == 0:
                break
            if e < epochs:
                # Heavy ball: v = momentum * v - lr * g; p += v.  Momentum 0 is plain
                # descent, p -= lr * g, bit for bit (0 v - lr g would turn p = -0 into +0
                # where lr g = 0).
                for p in range(P):
                    for j in range(L):
                        if alive[j]:
                            if mom_l[j] == zero:
                                par[p, j] -= lr_l[j] * g[p, j]
                            else:
                                v = mom_l[j] * vel[p, j] - lr_l[j] * g[p, j]
                                vel[p, j] = v
                                par[p, j] += v

        store_lanes(n0, nr, mode, par, g, out, alive, conv_l, loss_mean, Y, one, sat_tol,
                    plat_tol, W1, b1, W2, b2, G1, Gb1, G2, Gb2, outputs, conv, loss_out, outcome)


_depend_on_sources(run_blocks)
