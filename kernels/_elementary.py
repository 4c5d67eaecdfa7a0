"""Vectorizable exp and log1p, written in plain arithmetic.

LLVM does not vectorize calls into libm, so the kernels use these instead of
``math.exp``/``math.log1p``: range reduction, a polynomial and exponent-bit
scaling, nothing else, so a loop over SIMD lanes that calls them stays a SIMD
loop.  Only the ranges the kernels need are covered:

* ``exp_neg(x)``: e**x for x <= 0 (and NaN -> NaN).  Cody-Waite reduction
  x = k ln2 + r, |r| <= ln2/2, with k = round(x / ln2) taken from the low bits
  of x / ln2 + 1.5 * 2**52 (2**23 for float32); a near-minimax polynomial of
  degree 11 (float64) or 6 (float32), 1 + r + r**2 q(r), with q as pairs
  c[i] + c[i+1] r combined by Horner's rule in r**2 (float32: c[6] r**2 alone
  on top) -- 11 (float64) or 6 (float32) multiplications, the fewest: the
  kernels run the sigmoids of many samples side by side and are bound by the
  multipliers, not by one chain's latency (Taylor polynomials as accurate on this
  range need degree 13 and 7, and as many); then scaling by
  2**k: p 2**(k + 55) (float32: 25) is a normal number for every k the input
  clamp allows, so that product is exact, and the multiplication by the
  constant 2**-55 (2**-25) rounds once, also where the result is subnormal.
  Every multiply-add before the scaling is one ``fma`` (rounded once, the same
  bits on every target): an FMA takes a multiplier pipe as the multiplication
  alone would, and the addition it absorbs is one instruction fewer (a fifth of
  the exp's, 1.2x the kernel's speed on Zen 4, docs/performance.md).
  Error at most 1.2 ulp of the exact value (1.02 seen: every float32 input, 71 M
  float64 ones); a subnormal result is within half a subnormal step plus that
  error (0.78 step seen); ``tests/test_elementary.py`` checks both on a dense
  sample of the range.
* ``log1p(u)``: log(1 + u) for finite u >= 0.  v = 1 + u is split as 2**k m
  with m in [1/sqrt2, sqrt2) by its exponent bits, log m = 2 atanh(f / (2 + f))
  with f = m - 1 by its series, k ln2 in two parts, plus the rounding correction
  err / v where 1 + u = v + err exactly.  Error at most 2.5 ulp (tested).

Like ``_scalar.py`` these are plain-Python scalar functions; the names
``f64_bits``, ``bits_f64``, ``f32_bits``, ``bits_f32`` and ``fma`` are target
primitives (``_bits.py``), and ``exp_neg``/``log1p`` dispatch on the dtype.
"""

from __future__ import annotations

import numpy as np

from ._bits import bits_f32, bits_f64, f32_bits, f64_bits, fma

__all__ = ["exp_neg_f64", "exp_neg_f32", "log1p_f64", "log1p_f32"]

# float64 constants (fdlibm's split of ln 2: k * LN2_HI is exact for |k| < 2**20)
_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_LOG_SHIFT = (0x3FF00000 - 0x3FE6A09E) << 32   # moves mantissas >= sqrt(2) up one binade
_MANT_MASK = (1 << 52) - 1
_SQRT_HALF_BITS = 0x3FE6A09E << 32             # high bits of sqrt(1/2)
_MAGIC = 6755399441055744.0            # 1.5 * 2**52: adding it leaves round(k) in the low bits
_MAGIC_BITS = 4843621399236968448      # its IEEE bits
_EXP_MIN = -746.0                      # e**x rounds to 0 below this
_EXP_UP = 55                           # x >= _EXP_MIN: p 2**(k + 55) > 2**-1022, normal
_TWO_M55 = 2.0**-_EXP_UP
# exp's polynomial p(r) = 1 + r + r**2 q(r), q = c[2] + c[3] r + ...: c[0] = c[1] = 1
# (exact, used as 1 + (r + r**2 q)); c[2:] fitted to q(r) = (e**r - 1 - r) / r**2 on
# |r| <= 0.35 (ln2/2 = 0.3466 plus the reduction's rounding) by Remez's algorithm in mpmath
# (50 digits), minimizing max |r**2 (q_fit - q)| / ulp(e**r): solve
# w(x_i) (sum_j c_j x_i**j - q(x_i)) = (-1)**i E at len(c) - 1 reference points, move them
# to the extrema of the error on a grid, repeat.  Rounding to the working precision: c[2],
# c[3] (and c[4] for float64) one at a time, refitting the higher ones after each; the rest
# rounded.  Error of p with these coefficients (exact arithmetic): 0.032 ulp (float64,
# optimum before rounding 0.028), 0.040 ulp (float32, 0.038); degree 10 / 5 would be 2.0 /
# 1.4 ulp.
_E64 = (1.0, 1.0, 0.5000000000000009, 0.1666666666666608, 0.04166666666653469,
        0.00833333333370453, 0.0013888888944165645, 0.00019841269057081112,
        2.4801491263035106e-05, 2.7557983275148375e-06, 2.7631250798226695e-07,
        2.4875894655872745e-08)
_A64 = tuple(1.0 / (2 * n + 1) for n in range(11))   # atanh series: 1, 1/3, 1/5, ...

# float32 constants
_F = np.float32
_LOG2E32 = _F(1.442695)
_LN2_HI32 = _F(0.693145751953125)       # 11 significant bits: k * LN2_HI32 exact
_LN2_LO32 = _F(1.4286068203094173e-06)
_LOG_SHIFT32 = 0x3F800000 - 0x3F3504F3
_MANT_MASK32 = (1 << 23) - 1
_SQRT_HALF_BITS32 = 0x3F3504F3
_MAGIC32 = _F(12582912.0)               # 1.5 * 2**23
_MAGIC32_BITS = 1262485504
_EXP_MIN32 = _F(-104.0)
_EXP_UP32 = 25                          # x >= _EXP_MIN32: p 2**(k + 25) > 2**-126, normal
_TWO_M25 = _F(2.0**-_EXP_UP32)
_ONE32 = _F(1.0)
_TWO32 = _F(2.0)
_E32 = (_ONE32, _ONE32, _F(0.49999988), _F(0.1666651), _F(0.04166963), _F(0.008369883),
       _F(0.0013746887))                 # fitted as _E64 above, see there
_A32 = tuple(_F(c) for c in _A64[:5])


def exp_neg_f64(x):
    """Return e**x for float64 x <= 0 (NaN for NaN), within 1.2 ulp."""
    x = _EXP_MIN if x < _EXP_MIN else x
    t = fma(x, _LOG2E, _MAGIC)  # round(x / ln2), ties to even, in the low bits
    kf = t - _MAGIC
    r = fma(kf, -_LN2_LO, fma(kf, -_LN2_HI, x))  # -kf would flip a NaN's sign
    c = _E64
    r2 = r * r
    q = fma(fma(c[11], r, c[10]), r2, fma(c[9], r, c[8]))
    q = fma(q, r2, fma(c[7], r, c[6]))
    q = fma(q, r2, fma(c[5], r, c[4]))
    q = fma(q, r2, fma(c[3], r, c[2]))
    p = c[0] + fma(r2, q, r)
    k = f64_bits(t) - _MAGIC_BITS
    return p * bits_f64((k + (1023 + _EXP_UP)) << 52) * _TWO_M55


def exp_neg_f32(x):
    """Return e**x for float32 x <= 0 (NaN for NaN), within 1.2 ulp."""
    x = _EXP_MIN32 if x < _EXP_MIN32 else x
    t = fma(x, _LOG2E32, _MAGIC32)
    kf = t - _MAGIC32
    r = fma(kf, -_LN2_LO32, fma(kf, -_LN2_HI32, x))  # -kf would flip a NaN's sign
    c = _E32
    r2 = r * r
    q = fma(fma(c[6], r2, fma(c[5], r, c[4])), r2, fma(c[3], r, c[2]))
    p = c[0] + fma(r2, q, r)
    k = f32_bits(t) - _MAGIC32_BITS
    return p * bits_f32((k + (127 + _EXP_UP32)) << 23) * _TWO_M25


def log1p_f64(u):
    """Return log(1 + u) for finite float64 u >= 0 (NaN for NaN), within 2.5 ulp."""
    v = 1.0 + u
    # 1 + u = v + err exactly (Fast2Sum, larger operand first)
    err = (1.0 - (v - u)) if u > 1.0 else (u - (v - 1.0))
    b = f64_bits(v) + _LOG_SHIFT
    k = (b >> 52) - 1023
    m = bits_f64((b & _MANT_MASK) + _SQRT_HALF_BITS)  # v = 2**k m, m in [sqrt(1/2), sqrt(2))
    kf = bits_f64(k + _MAGIC_BITS) - _MAGIC
    f = m - 1.0
    s = f / (2.0 + f)
    z = s * s
    a = _A64
    q = a[10]
    q = q * z + a[9]
    q = q * z + a[8]
    q = q * z + a[7]
    q = q * z + a[6]
    q = q * z + a[5]
    q = q * z + a[4]
    q = q * z + a[3]
    q = q * z + a[2]
    q = q * z + a[1]
    return kf * _LN2_HI + (((s + s) * (q * z) + (s + s)) + (kf * _LN2_LO + err / v))


def log1p_f32(u):
    """Return log(1 + u) for finite float32 u >= 0 (NaN for NaN), within 2.5 ulp."""
    v = _ONE32 + u
    err = (_ONE32 - (v - u)) if u > _ONE32 else (u - (v - _ONE32))
    b = f32_bits(v) + _LOG_SHIFT32
    k = (b >> 23) - 127
    m = bits_f32((b & _MANT_MASK32) + _SQRT_HALF_BITS32)
    kf = bits_f32(k + _MAGIC32_BITS) - _MAGIC32
    f = m - _ONE32
    s = f / (_TWO32 + f)
    z = s * s
    a = _A32
    q = a[4]
    q = q * z + a[3]
    q = q * z + a[2]
    q = q * z + a[1]
    return kf * _LN2_HI32 + (((s + s) * (q * z) + (s + s)) + (kf * _LN2_LO32 + err / v))


def exp_neg(x):
    """Return e**x for x <= 0 in the precision of x (pure-Python dispatch)."""
    return exp_neg_f32(x) if isinstance(x, np.float32) else exp_neg_f64(x)


def log1p(u):
    """Return log(1 + u) for finite u >= 0 in the precision of u (pure-Python dispatch)."""
    return log1p_f32(u) if isinstance(u, np.float32) else log1p_f64(u)
