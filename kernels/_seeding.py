"""The initializer's compiled code: the counter-based draws of ``initialization.py``."""

from __future__ import annotations

import math

import numpy as np
from numba import carray, cfunc, njit

from . import _numba_cache
from ._signatures import INIT_ENTRY

_G = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_ONE = np.uint64(1)
_TWO20 = np.uint64(1 << 20)
_TWO = np.uint64(2)
_TWO_M53 = 2.0**-53
_CACHE = _numba_cache.enabled()  # (under the xorsweep cache, never in the package)


@njit(nogil=True, cache=_CACHE, inline="always")
def _mix(z):
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(nogil=True, cache=_CACHE, inline="always")
def _uniform01(state, tensor, i, j, k):
    counter = ((np.uint64(tensor) * _TWO20 + np.uint64(i)) * _TWO20 + np.uint64(j)) * _TWO
    counter += np.uint64(k)
    return (_mix(state + (counter + _ONE) * _G) >> _S11) * _TWO_M53


@njit(nogil=True, cache=_CACHE, inline="always")
def _base_draw(state, tensor, i, j, normal):
    u0 = _uniform01(state, tensor, i, j, 0)
    if not normal:
        return 2.0 * u0 - 1.0
    u1 = _uniform01(state, tensor, i, j, 1)
    return math.sqrt(-2.0 * math.log(1.0 - u0)) * math.cos(2.0 * math.pi * u1)


@njit(nogil=True, cache=_CACHE)
def init_range(start, stop, seeds, normal, w_scale1, w_scale2, b_scale, W1, b1, W2, b2):
    """Draw the parameters of networks ``start .. stop-1`` from their seeds, in place."""
    _, D, H = W1.shape
    for n in range(start, stop):
        state = _mix(seeds[n] + _G)
        for d in range(D):
            for h in range(H):
                W1[n, d, h] = w_scale1 * _base_draw(state, 0, d, h, normal)
        for h in range(H):
            b1[n, h] = b_scale * _base_draw(state, 1, 0, h, normal)
            W2[n, h] = w_scale2 * _base_draw(state, 2, h, 0, normal)
        b2[n] = b_scale * _base_draw(state, 3, 0, 0, normal)


def _entry(start, stop, N, D, H, seeds, normal, w_scale1, w_scale2, b_scale, W1, b1, W2, b2):
    init_range(start, stop, carray(seeds, (N,)), normal != 0, w_scale1, w_scale2, b_scale,
               carray(W1, (N, D, H)), carray(b1, (N, H)), carray(W2, (N, H)), carray(b2, (N,)))


def make_entry(cache: bool):
    """Compile :func:`init_range` behind a C entry point (numba ``cfunc``): see _native.py.

    Its arguments are those ``_signatures.INIT_ENTRY`` declares, in that order
    (``_entry``'s parameters are checked against it).  ``cache``: numba caches it
    (see ``_native.entry``).
    """
    INIT_ENTRY.check_parameters(_entry)
    return cfunc(INIT_ENTRY.numba_type(), nogil=True, cache=cache)(_entry)
