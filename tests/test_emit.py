"""The generated kernels' lane loops compile to the same bits as numba compiles them."""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest
from numba import njit

from kernels import _emit
from kernels._bits import bits_f32_intrinsic as bits_f32
from kernels._bits import f32_bits_intrinsic as f32_bits
from kernels._bits import select_intrinsic as select

CONSTS = (np.float32(0.5), np.float32(3.0))
BIAS = 7
floor_f32 = np.floor


# Every construct the emitter accepts, with numba's promotions: float32 with
# float64 constants, int32 bits with int64 constants, a bool from a comparison.
def lanes(out, x, m, flag, one):
    zero = one - one
    scale = CONSTS[1]
    for j in range(16):
        v = x[j]
        k = (f32_bits(v) >> 3) + BIAS
        w = select(v < zero, -v, v * scale) / (one + abs(v))
        out[0 * 16 + j] = w + floor_f32(v) - bits_f32(k << 1 & 2147483647)
        out[1 * 16 + j] = select((v != zero) & (w >= CONSTS[0]), math.tanh(v), v * 1.5)
        out[2 * 16 + j] = (v - m[2, 1]) * (zero + one + one)
    if flag:
        for j in range(16):
            out[3 * 16 + j] = x[j] == x[j]


_emitted = _emit.compile_lanes(lanes, globals())


@njit
def _run_emitted(out, x, m, flag, one):
    _emitted(out, x, m, flag, one)


def _inputs():
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.normal(0, 5, 9), [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-42, -3e38]])
    return x.astype(np.float32), rng.normal(0, 1, (4, 2)).astype(np.float32)


@pytest.mark.parametrize("flag", [True, False])
def test_emitted_code_is_bitwise_what_numba_compiles(flag):
    x, m = _inputs()
    got = np.full(64, 9.0, np.float32)
    want = got.copy()
    _run_emitted(got, x, m, flag, np.float32(1.0))
    njit(lanes)(want, x, m, flag, np.float32(1.0))
    np.testing.assert_array_equal(got.view(np.int32), want.view(np.int32))
    assert (got[48:] == 9.0).all() != flag  # the `if` ran exactly when asked


@pytest.mark.parametrize(("body", "what"), [
    ("out[0] = one if one > 0 else -one", "expression not supported"),
    ("out[0] += one", "statement not supported"),
    ("while one:\n        out[0] = one", "statement not supported"),
    ("out[0.5] = one", "not an integer index"),
    ("out[0] = out[0, 1]", "index all 1 dimensions"),
    ("out[0] = nowhere", "name 'nowhere' is not defined"),
    ("for j in range(2):\n        one = one + one", "assigning 'one' in a loop or if"),
    ("for j in range(2):\n        t = one\n    out[0] = t", "name 't' is not defined"),
])
def test_what_the_emitter_does_not_compile_is_named(body, what, tmp_path):
    # compile_lanes reads the function's source from its file
    path = tmp_path / "bad_source.py"
    path.write_text(f"def bad(out, one):\n    {body}\n")
    spec = importlib.util.spec_from_file_location(f"bad_source_{tmp_path.name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    emitted = _emit.compile_lanes(module.bad, {})

    @njit
    def run(out, one):
        emitted(out, one)

    with pytest.raises(Exception, match=what):
        run(np.zeros(2), 1.0)
