"""Accuracy of the vectorizable exp and log1p against an extended-precision reference."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from kernels import _elementary
from kernels._cpu import _math

pytestmark = pytest.mark.skipif(np.finfo(np.longdouble).eps >= np.finfo(np.float64).eps,
                                reason="needs an extended-precision long double")


def _apply(name):
    f = _math[name]

    @njit
    def apply(x, out):
        for i in range(x.size):
            out[i] = f(x[i])

    def run(x):
        out = np.empty_like(x)
        apply(x, out)
        return out

    return run


def _ulps(got, x, fn, dtype):
    exact = fn(x.astype(np.longdouble))
    spacing = np.spacing(exact.astype(dtype)).astype(np.longdouble)
    return np.abs(got.astype(np.longdouble) - exact) / spacing


@pytest.mark.parametrize(("dtype", "low"), [(np.float64, -745.0), (np.float32, -103.0)])
def test_exp_neg_within_1_2_ulp(dtype, low):
    rng = np.random.default_rng(0)
    x = np.concatenate([-rng.uniform(0, -low, 200_000), -rng.uniform(0, 1, 100_000),
                        -np.geomspace(1e-30, 1, 1000), [0.0]]).astype(dtype)
    got = _apply("exp_neg_f64" if dtype == np.float64 else "exp_neg_f32")(x)
    exact = np.exp(x.astype(np.longdouble))
    normal = exact > np.finfo(dtype).tiny
    assert normal.sum() > 250_000  # both ranges sampled
    assert (~normal).sum() > 5_000
    assert _ulps(got, x, np.exp, dtype)[normal].max() <= 1.2
    # subnormal results: p 2**k (p within 1.2 ulp) rounded once to a multiple of the
    # smallest subnormal step, so within half a step plus p's own error; a second
    # rounding or a flush to zero breaks this deep in the range, where it is 1/2
    step = np.longdouble(np.finfo(dtype).smallest_subnormal)
    err = np.abs(got.astype(np.longdouble) - exact)[~normal] / step
    bound = 0.5 + 1.2 * np.longdouble(np.finfo(dtype).eps) * exact[~normal] / step
    assert (err <= bound).all()
    # pure-Python source and compiled code agree bit for bit
    py = _elementary.exp_neg_f64 if dtype == np.float64 else _elementary.exp_neg_f32
    for i in range(200):
        assert py(x[i]) == got[i]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_exp_neg_edges(dtype):
    run = _apply("exp_neg_f64" if dtype == np.float64 else "exp_neg_f32")
    # the sigmoids pass -|z|: a NaN arrives with its sign bit set
    x = np.array([0.0, -0.0, -1e4, -np.inf, np.nan, -np.nan], dtype)
    assert np.signbit(x[5])
    got = run(x)
    assert got[0] == 1.0
    assert got[1] == 1.0
    assert got[2] == 0.0
    assert got[3] == 0.0
    assert np.isnan(got[4])
    assert np.isnan(got[5])
    # around the clamp and the bottom of the subnormal range, the pure-Python source
    # gives the same bits as the compiled code
    low = -745.2 if dtype == np.float64 else -103.98
    x = np.concatenate([np.linspace(low - 1, low + 1, 401), [-87.3, -708.4, -0.5, -0.0],
                        [np.nan, -np.nan]]).astype(dtype)  # NaNs: their sign bits kept alike
    got = run(x)
    py = _elementary.exp_neg_f64 if dtype == np.float64 else _elementary.exp_neg_f32
    want = np.array([py(v) for v in x], dtype)
    np.testing.assert_array_equal(got.view(f"u{got.itemsize}"), want.view(f"u{got.itemsize}"))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_log1p_within_2_5_ulp(dtype):
    rng = np.random.default_rng(1)
    # the kernels call it on 1 + u = prod(1 + e) over at most LOG_GROUP samples: u < 2**32
    u = np.concatenate([rng.uniform(0, 1, 200_000), rng.uniform(1, 16, 100_000),
                        np.exp(rng.uniform(0, np.log(2.0**40), 100_000)),
                        np.geomspace(1e-30, 1, 5000), [1.0, np.sqrt(2) - 1, 2.0**32 - 1]]
                       ).astype(dtype)
    name = "log1p_f64" if dtype == np.float64 else "log1p_f32"
    got = _apply(name)(u)
    assert _ulps(got, u, np.log1p, dtype).max() <= 2.5
    # pure-Python source and compiled code agree bit for bit
    py = getattr(_elementary, name)
    for i in range(0, u.size, 2000):
        assert py(u[i]) == got[i]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_log1p_edges(dtype):
    run = _apply("log1p_f64" if dtype == np.float64 else "log1p_f32")
    got = run(np.array([0.0, np.nan, np.finfo(dtype).tiny], dtype))
    assert got[0] == 0.0
    assert np.isnan(got[1])
    assert got[2] == np.finfo(dtype).tiny
    # the whole finite range: every binade up to the largest float, and its end
    big = np.concatenate([2.0 ** np.arange(41, np.finfo(dtype).maxexp) * 1.37,
                          [np.finfo(dtype).max]]).astype(dtype)
    assert _ulps(run(big), big, np.log1p, dtype).max() <= 2.5


def _fma_operands(dtype, rng, n):
    """Triples (a, b, c) where a * b + c rounds differently fused: near-cancellation, ties
    (c a multiple of a's ulp), huge and tiny products, signed zeros, infinities, NaN."""
    a = rng.standard_normal(n) * np.exp2(rng.integers(-20, 20, n))
    b = rng.standard_normal(n) * np.exp2(rng.integers(-20, 20, n))
    c = np.where(rng.random(n) < 0.5, -(a * b) * (1 + rng.standard_normal(n) * 1e-7),
                 rng.standard_normal(n))
    a, b, c = (v.astype(dtype) for v in (a, b, c))
    big, tiny = np.finfo(dtype).max, np.finfo(dtype).smallest_subnormal
    edge = np.array([[0.0, 1.0, -0.0], [-0.0, 1.0, -0.0], [-0.0, -1.0, 0.0], [big, 2.0, -big],
                     [big, 2.0, -np.inf], [np.inf, 0.0, 1.0], [np.nan, 1.0, 1.0],
                     [tiny, 0.5, 0.0], [tiny, -0.5, -0.0], [1.5, tiny, tiny], [3.0, 1 / 3, -1.0]],
                    dtype)
    return (np.concatenate([a, edge[:, 0]]), np.concatenate([b, edge[:, 1]]),
            np.concatenate([c, edge[:, 2]]))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fma_is_rounded_once_and_compiled_bit_for_bit(dtype):
    from fractions import Fraction

    from kernels._bits import fma, fma_intrinsic

    @njit
    def compiled(a, b, c, out):
        for i in range(a.size):
            out[i] = fma_intrinsic(a[i], b[i], c[i])

    a, b, c = _fma_operands(dtype, np.random.default_rng(2), 4000)
    got = np.empty_like(a)
    compiled(a, b, c, got)
    py = np.array([fma(x, y, z) for x, y, z in zip(a, b, c, strict=True)], dtype)
    uint = f"u{got.itemsize}"
    np.testing.assert_array_equal(got.view(uint), py.view(uint))  # NaN, -0 and inf included
    # each finite result is the float nearest the exact a b + c (ties to even)
    for x, y, z, r in zip(a, b, c, py, strict=True):
        if not (np.isfinite(x) and np.isfinite(y) and np.isfinite(z) and np.isfinite(r)):
            continue
        exact = Fraction(float(x)) * Fraction(float(y)) + Fraction(float(z))
        err = abs(Fraction(float(r)) - exact)
        with np.errstate(over="ignore"):
            neighbours = [np.nextafter(r, dtype(d)) for d in (-np.inf, np.inf)]
        for other in (abs(Fraction(float(v)) - exact) for v in neighbours if np.isfinite(v)):
            assert err <= other
            if err == other:  # a tie goes to the even neighbour
                assert int(r.view(uint)) % 2 == 0
    # and the edges by value: the exact product of big * 2 minus -inf is -inf, not NaN
    assert np.isneginf(py[-7])
    assert np.signbit(py[-10])  # (-0) 1 + (-0) = -0
    assert not np.signbit(py[-11])
    assert not np.signbit(py[-9])


def test_fma_mixed_types_widen_and_math_fma_errors_fall_back(monkeypatch):
    import math

    from kernels import _bits

    @njit
    def compiled(a, b, c):
        return _bits.fma_intrinsic(a, b, c)

    a, b, c = np.float32(3), 0.3333333532015483, np.float32(0)  # numba widens to float64
    assert _bits.fma(a, b, c) == compiled(a, b, c) == 1.0000000596046448
    # Python 3.13's math.fma raises where the hardware gives NaN or inf
    def raising(x, y, z):
        raise ValueError("invalid operation in fma") if x * y != x * y else OverflowError

    monkeypatch.setattr(math, "fma", raising, raising=False)
    assert np.isnan(_bits.fma(math.inf, 0.0, 1.0))
    assert _bits.fma(1.7976931348623157e308, 2.0, 0.0) == math.inf
    assert _bits.fma(1e308, 10.0, -math.inf) == -math.inf
