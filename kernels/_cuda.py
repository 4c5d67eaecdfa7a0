"""Training on an NVIDIA GPU with numba-cuda: one thread per network.

Each thread trains one network for all its epochs with its parameters,
velocities and gradient in thread-local arrays, in a grid-stride
loop over networks.  The math is the same plain-Python scalar source as the CPU
kernels (``_scalar.py``, ``_elementary.py``), compiled here as CUDA device
functions, and the epoch follows the generic CPU kernel (``_cpu.run_blocks``)
operation for operation, so the two agree to rounding (and the initial
parameters, drawn on the host by ``init_params``, are the same on any device).

Differences that rounding can make: the GPU compiler fuses ``a * b + c`` into
one FMA, the CPU build does not (except exp's, written as the ``fma`` primitive
on both), so results agree to rounding rather than bit for bit (expected,
unmeasured on a GPU: float64 within 1e-9 relative after 1,000 epochs, the
gpu-marked tests' bound); ``converged_epoch`` can
differ only when a network's largest error passes ``target_error`` within that
rounding of the threshold at some epoch.

Under ``NUMBA_ENABLE_CUDASIM=1`` (set before numba is imported) the same kernel
runs in numba's CUDA simulator on the CPU: that is how the tests check it
without a GPU.  This module is imported only when ``device="cuda"`` is asked for.
"""

from __future__ import annotations

import math

import numpy as np
from numba import config as numba_config
from numba import cuda

from . import _bits, _cpu, _scalar, config

#: Whether numba's CUDA simulator stands in for a GPU (``NUMBA_ENABLE_CUDASIM=1``).
SIMULATOR = bool(numba_config.ENABLE_CUDASIM)


def _device_math() -> dict:
    if SIMULATOR:
        # Device functions run as Python in the simulator anyway; its device-function
        # wrapper swaps module globals on every call (a hundred times per epoch here),
        # so the plain functions are used directly.
        primitives = {name: getattr(_bits, name) for name in _bits.CPU_PRIMITIVES}
        return _cpu.compile_scalar_math(lambda f: f, primitives, target=None)
    return _cpu.compile_scalar_math(cuda.jit(device=True), _bits.CPU_PRIMITIVES, target="cuda")


_math = _device_math()
_activate = _math["activate"]
_activate_grad = _math["activate_grad"]
_output = _math["output"]
_loss_term = _math["loss_term"]
_loss_log_acc = _math["loss_log_acc"]
_loss_log = _math["loss_log"]
_ends_log_group = _math["ends_log_group"]
_loss_grad = _math["loss_grad"]
_classify = _math["classify"]
assert set(_scalar.__all__) <= set(_math)

_kernels: dict = {}


def available() -> bool:
    """Return whether a CUDA GPU (or the simulator) can run the kernels."""
    try:
        return bool(cuda.is_available())
    except Exception:  # noqa: BLE001 - a broken driver install means "not available"
        return False


def _kernel(S: int, D: int, H: int, dtype: np.dtype):
    """Return the training kernel for this shape and dtype (compiled on first launch)."""
    key = (S, D, H, np.dtype(dtype).str)
    if key in _kernels:
        return _kernels[key]
    from numba import from_dtype

    T = from_dtype(np.dtype(dtype))
    P = D * H + 2 * H + 1
    i_b1, i_w2, i_b2 = D * H, D * H + H, D * H + 2 * H

    @cuda.jit
    def train_kernel(W1, b1, W2, b2, lr, mom, X, Y, epochs, curve_epochs, target, act, loss,
                     one, sat_tol, plat_tol, curve, loss_out, outputs, conv, outcome):
        par = cuda.local.array(P, T)
        vel = cuda.local.array(P, T)
        g = cuda.local.array(P, T)
        z1 = cuda.local.array(H, T)
        a1 = cuda.local.array(H, T)
        out = cuda.local.array(S, T)
        N = W1.shape[0]
        K = curve_epochs.shape[0]
        zero = one - one
        half = one / (one + one)
        n_samples = zero
        for _ in range(S):
            n_samples += one
        inv_s = one / n_samples
        for n in range(cuda.grid(1), N, cuda.gridsize(1)):
            for d in range(D):
                for h in range(H):
                    par[d * H + h] = W1[n, d, h]
            for h in range(H):
                par[i_b1 + h] = b1[n, h]
                par[i_w2 + h] = W2[n, h]
            par[i_b2] = b2[n]
            for p in range(P):
                vel[p] = zero
            for k in range(K):
                curve[k, n] = math.nan
            lr_n = lr[n]
            mom_n = mom[n]
            alive = True
            conv_n = -1
            loss_mean = zero
            k = 0
            for e in range(epochs + 1):
                record = k < K and curve_epochs[k] == e
                want_grad = e < epochs
                want_loss = record or e == epochs
                ls = zero
                lu = zero
                max_err = zero
                z_check = zero
                for p in range(P):
                    g[p] = zero
                for s in range(S):
                    y = Y[s]
                    for h in range(H):
                        z = zero
                        for d in range(D):
                            z += X[s, d] * par[d * H + h]
                        z += par[i_b1 + h]
                        z1[h] = z
                        a1[h] = _activate(z, act, one)
                    z2 = zero
                    for h in range(H):
                        z2 += a1[h] * par[i_w2 + h]
                    z2 += par[i_b2]
                    a2, ee = _output(z2, one)
                    out[s] = a2
                    z_check += abs(z2)
                    if want_loss:
                        ls += _loss_term(z2, a2, y, loss, one)
                        lu = _loss_log_acc(lu, ee, loss, one)
                        if _ends_log_group(s, S):
                            ls += _loss_log(lu, loss, one)
                            lu = zero
                    err = abs(a2 - y)
                    if not err <= max_err:
                        max_err = err
                    dz2 = _loss_grad(a2, y, inv_s, loss, one)
                    if want_grad:
                        g[i_b2] += dz2
                        for h in range(H):
                            g[i_w2 + h] += a1[h] * dz2
                            dz1 = dz2 * par[i_w2 + h] * _activate_grad(z1[h], a1[h], act, one)
                            g[i_b1 + h] += dz1
                            for d in range(D):
                                g[d * H + h] += X[s, d] * dz1
                loss_mean = ls / n_samples
                # divergence, as on the CPU: x - x and x * 0 are 0 only for finite x
                check = z_check - z_check
                for p in range(P):
                    check += par[p] * zero
                if check == zero:
                    if conv_n < 0 and max_err < target:
                        conv_n = e
                else:
                    alive = False
                if record:
                    curve[k, n] = loss_mean if alive else math.nan
                    k += 1
                if not alive:
                    break
                if e < epochs:
                    for p in range(P):
                        if mom_n == zero:  # plain descent, bit for bit
                            par[p] -= lr_n * g[p]
                        else:
                            v = mom_n * vel[p] - lr_n * g[p]
                            vel[p] = v
                            par[p] += v
            conv[n] = conv_n
            loss_out[n] = loss_mean if alive else math.nan
            min_margin = one
            min_wrong = one
            max_half = zero
            for s in range(S):
                a2 = out[s]
                outputs[n, s] = a2
                y = Y[s]
                margin = a2 - half if y > half else half - a2
                min_margin = min(min_margin, margin)
                min_wrong = min(min_wrong, abs(a2 - (one - y)))
                max_half = max(max_half, abs(a2 - half))
            outcome[n] = _classify(min_margin, min_wrong, max_half, conv_n >= 0, alive,
                                   sat_tol, plat_tol)
            for d in range(D):
                for h in range(H):
                    W1[n, d, h] = par[d * H + h]
            for h in range(H):
                b1[n, h] = par[i_b1 + h]
                W2[n, h] = par[i_w2 + h]
            b2[n] = par[i_b2]

    _kernels[key] = train_kernel
    return train_kernel


def run_train(W1, b1, W2, b2, lr, mom, X, Y, epochs, curve_epochs, target, act, loss, one,
              sat_tol, plat_tol, curve, loss_out, outputs, conv, outcome) -> None:
    """Copy the inputs to the GPU, train, and copy every result back into the given arrays."""
    N = W1.shape[0]
    kernel = _kernel(X.shape[0], W1.shape[1], W1.shape[2], W1.dtype)
    host = (W1, b1, W2, b2, curve, loss_out, outputs, conv, outcome)
    dev = [cuda.to_device(a) for a in host]
    args = (*dev[:4], cuda.to_device(lr), cuda.to_device(mom), cuda.to_device(X),
            cuda.to_device(Y), epochs, cuda.to_device(curve_epochs), target, act, loss, one,
            sat_tol, plat_tol, *dev[4:])
    tpb = config.THREADS_PER_BLOCK
    blocks = max(1, -(-N // tpb))
    kernel[blocks, tpb](*args)
    for h, d in zip(host, dev, strict=True):
        d.copy_to_host(h)
