"""Initial parameters as a pure function of each network's integer seed.

Every parameter is drawn from a counter-based generator: a SplitMix64 stream
keyed by the seed, read at a position given by the parameter's name and index::

    state = mix(seed + G)
    bits(counter) = mix(state + (counter + 1) * G)        (uint64 arithmetic)
    counter = ((tensor * 2**20 + i) * 2**20 + j) * 2 + k

with ``mix`` the SplitMix64 finalizer, ``G = 0x9E3779B97F4A7C15``, tensor
0 = W1[i, j], 1 = b1[j] (i = 0), 2 = W2[i] (j = 0), 3 = b2 (i = j = 0), and
k = 0, 1 the two uniforms a normal draw needs.  A uniform is
``(bits >> 11) * 2**-53`` in [0, 1); the base uniform draw is ``2u - 1`` in
[-1, 1); the base normal draw is Box-Muller, ``sqrt(-2 log(1 - u0)) cos(2 pi u1)``.

So a parameter depends on (seed, its name, its index) alone: not on the other
networks in the batch, their order, the chunking, the device, the dtype (draws
are made in float64, then cast), nor even on D and H beyond the scheme's scale
factor.  For ``uniform`` and ``normal`` the value is ``scale`` times the base
draw, so replicate r points the same way in every cell of a sweep.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from . import _codegen, _native, config
from ._parallel import launch
from ._signatures import INIT_ENTRY
from ._types import Params
from ._validation import check_bool, check_choice, check_dtype, check_int

__all__ = ["init_params", "SCHEMES"]

#: Initialization schemes accepted by :func:`init_params`.
SCHEMES: tuple[str, ...] = ("uniform", "normal", "xavier", "he")

def init_params(
    seeds,
    *,
    n_inputs: int = 2,
    n_hidden: int = 2,
    scheme: Literal["uniform", "normal", "xavier", "he"] = "uniform",
    scale: float = 1.0,
    dtype=np.float64,
    parallel: bool = True,
) -> Params:
    r"""Draw initial parameters, one network per seed.

    Parameters
    ----------
    seeds : array_like of int, shape (n_nets,)
        One integer seed per network (any int64 or uint64 value).
    n_inputs : int
        Inputs per network, D >= 1.
    n_hidden : int
        Hidden units per network, H >= 1.
    scheme : {"uniform", "normal", "xavier", "he"}
        ``uniform``: every weight and bias U(-scale, scale).
        ``normal``: every weight and bias N(0, scale^2).
        ``xavier``: weights U(-a, a), a = s sqrt(6 / (fan_in + fan_out)), biases 0.
        ``he``: weights N(0, 2 s^2 / fan_in), biases 0.
        Fan-in/fan-out are (D, H) for W1 and (H, 1) for W2.
    scale : float
        Non-negative scale s (0 gives all-zero parameters).
    dtype : {numpy.float64, numpy.float32}
        Dtype of the result; draws are made in float64 and cast.
    parallel : bool
        Spread the networks over ``numba.get_num_threads()`` threads (True), or draw
        them all on the calling thread (False: the caller owns the cores).  The
        draws are the same either way.

    Returns
    -------
    Params
        ``W1`` (n_nets, D, H), ``b1`` (n_nets, H), ``W2`` (n_nets, H), ``b2`` (n_nets,).

    Raises
    ------
    ValueError
        If an argument is out of range or of the wrong kind; the message names it.

    Examples
    --------
    >>> p = init_params(np.arange(3), n_inputs=2, n_hidden=2, scheme="uniform", scale=1.0)
    >>> p.W1.shape
    (3, 2, 2)
    """
    seeds_u64 = _seeds_as_uint64(seeds)
    D = check_int("n_inputs", n_inputs, low=1, high=(1 << 20) - 1)
    H = check_int("n_hidden", n_hidden, low=1, high=(1 << 20) - 1)
    check_choice("scheme", scheme, SCHEMES)
    if isinstance(scale, bool) or not isinstance(scale, int | float | np.integer | np.floating):
        raise ValueError(f"scale must be a non-negative finite number, got {scale!r}")
    scale = float(scale)
    if not (math.isfinite(scale) and scale >= 0):
        raise ValueError(f"scale must be a non-negative finite number, got {scale!r}")
    dtype = check_dtype("dtype", dtype)
    check_bool("parallel", parallel)

    if scheme == "uniform" or scheme == "normal":
        w_scale1 = w_scale2 = b_scale = scale
    elif scheme == "xavier":
        w_scale1 = scale * math.sqrt(6.0 / (D + H))
        w_scale2 = scale * math.sqrt(6.0 / (H + 1))
        b_scale = 0.0
    else:  # he
        w_scale1 = scale * math.sqrt(2.0 / D)
        w_scale2 = scale * math.sqrt(2.0 / H)
        b_scale = 0.0
    normal = scheme in ("normal", "he")

    N = seeds_u64.shape[0]
    W1 = np.empty((N, D, H))
    b1 = np.empty((N, H))
    W2 = np.empty((N, H))
    b2 = np.empty(N)
    init = _native_init()
    if init is not None:
        shared = dict(N=N, D=D, H=H, seeds=seeds_u64, normal=normal, w_scale1=w_scale1,
                      w_scale2=w_scale2, b_scale=b_scale, W1=W1, b1=b1, W2=W2, b2=b2)
        launch(lambda start, stop: init(*INIT_ENTRY.pack(start=start, stop=stop, **shared)),
               N, parallel, ())
    else:  # numba's ordinary compiled function: the same draws
        from ._seeding import init_range

        launch(lambda start, stop: init_range(start, stop, seeds_u64, normal, w_scale1, w_scale2,
                                              b_scale, W1, b1, W2, b2), N, parallel, ())
    if dtype != np.float64:
        with np.errstate(over="ignore"):
            W1, b1, W2, b2 = (a.astype(dtype) for a in (W1, b1, W2, b2))
    if not all(np.isfinite(a).all() for a in (W1, b1, W2, b2)):
        raise ValueError(f"scale = {scale!r} overflows {dtype} for scheme {scheme!r}; "
                         "use a smaller scale")
    return Params(W1, b1, W2, b2)


def _seeds_as_uint64(seeds) -> np.ndarray:
    arr = np.asarray(seeds)
    if arr.ndim != 1:
        raise ValueError(f"seeds must be a 1-D array of integers, got shape {arr.shape}")
    if arr.size == 0:
        return np.empty(0, np.uint64)
    if arr.dtype.kind == "u":
        return np.ascontiguousarray(arr, dtype=np.uint64)
    if arr.dtype.kind == "i":
        return np.ascontiguousarray(arr, dtype=np.int64).view(np.uint64)
    raise ValueError(f"seeds must be integers (int64 or uint64), got dtype {arr.dtype}")


def _native_init():
    """Return the initializer's C entry point, or None for numba's ordinary function.

    None when ``config.NATIVE`` is off, or (with one warning) when building or
    loading the entry point fails.
    """
    if not config.NATIVE:
        return None
    try:
        return _native.entry(f"xorsweep_init_{_native.sources_digest()[:16]}",
                             INIT_ENTRY.argcodes, _make_entry,
                             _codegen.code_dir if config.CACHE else None)
    except Exception as exc:  # noqa: BLE001 - never fail: the plain function gives the bits
        _native.failed(exc)
        return None


def _make_entry(numba_cache: bool):
    from ._seeding import make_entry  # numba: only when no process has compiled it yet

    return make_entry(numba_cache)
