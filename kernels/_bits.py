"""The target primitives behind the fast exp: float bits, and fused multiply-add.

Each operation has a plain-Python definition (used when the scalar math runs
uncompiled, e.g. in tests and in numba's CUDA simulator) and a numba intrinsic
that is a single LLVM instruction: ``bitcast`` for the bits (free, and
vectorizable), ``llvm.fma`` for ``fma`` (one ``vfmadd`` on x86-64 CPUs with FMA,
as every AVX2 CPU has; one ``fma.rn`` on a GPU).  ``_elementary.py`` calls them by
name; the CPU and GPU builds bind these names to the intrinsics.  ``fma`` is
rounded once on every target, so the results are the same bits everywhere,
which a ``a * b + c`` that the compiler may or may not fuse would not be.
"""

from __future__ import annotations

import math
import struct
from fractions import Fraction

import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic


def f64_bits(x):
    """Return the IEEE bits of a float64 as int64."""
    return struct.unpack("<q", struct.pack("<d", x))[0]


def bits_f64(i):
    """Return the float64 whose IEEE bits are the low 64 bits of ``i``."""
    return struct.unpack("<d", struct.pack("<Q", int(i) & (2**64 - 1)))[0]


def f32_bits(x):
    """Return the IEEE bits of a float32 as int32."""
    return struct.unpack("<i", struct.pack("<f", x))[0]


def bits_f32(i):
    """Return the float32 whose IEEE bits are the low 32 bits of ``i``."""
    return np.float32(struct.unpack("<f", struct.pack("<I", int(i) & (2**32 - 1)))[0])


def fma(a, b, c):
    """Return ``a * b + c`` rounded once: float32 if all three are, else float64.

    The reference for the compiled ``llvm.fma`` (numba widens mixed arguments to
    float64, as here): float64 by ``math.fma`` where Python has it (3.13+; it raises
    where the hardware gives inf or NaN, so those cases go on to the next way), else
    exactly in fractions; float32 from the float64 product (exact: 24 + 24 bits) and
    an error-free sum, rounded to odd in float64 and then to float32 (53 >= 24 + 2
    bits, so the second rounding is correct).
    """
    if isinstance(a, np.float32) and isinstance(b, np.float32) and isinstance(c, np.float32):
        ab = float(a) * float(b)
        s = ab + float(c)
        if not math.isfinite(s):
            return np.float32(s)
        t = s - ab  # TwoSum: ab + c == s + err exactly
        err = (ab - (s - t)) + (float(c) - t)
        if err != 0.0:
            bits = f64_bits(s)
            if (err > 0.0) != (s > 0.0):  # |s| > |exact|: truncate toward zero
                bits -= 1
            s = bits_f64(bits | 1)
        with np.errstate(over="ignore"):  # beyond float32's range: inf, as the hardware
            return np.float32(s)
    a, b, c = float(a), float(b), float(c)
    if hasattr(math, "fma"):
        try:
            return math.fma(a, b, c)
        except (ValueError, OverflowError):  # inf * 0, or a result beyond float64's range
            pass
    if not (math.isfinite(a) and math.isfinite(b)):
        return a * b + c
    if not math.isfinite(c):  # the exact product is finite, even where a * b overflows
        return c
    exact = Fraction(a) * Fraction(b) + Fraction(c)
    if exact == 0:  # the sign of an exact zero: -0 only for (-0) + (-0)
        return a * b + c if a * b == 0 else 0.0
    try:
        return float(exact)
    except OverflowError:
        return math.inf if exact > 0 else -math.inf


def _cast(builder, value, width):
    if value.type.width > width:
        return builder.trunc(value, ir.IntType(width))
    if value.type.width < width:
        return builder.sext(value, ir.IntType(width))
    return value


@intrinsic
def f64_bits_intrinsic(typingctx, x):
    if x != types.float64:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


@intrinsic
def bits_f64_intrinsic(typingctx, i):
    if not isinstance(i, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(_cast(builder, args[0], 64), ir.DoubleType())

    return types.float64(i), codegen


@intrinsic
def f32_bits_intrinsic(typingctx, x):
    if x != types.float32:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.IntType(32))

    return types.int32(types.float32), codegen


@intrinsic
def bits_f32_intrinsic(typingctx, i):
    if not isinstance(i, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(_cast(builder, args[0], 32), ir.FloatType())

    return types.float32(i), codegen


@intrinsic
def fma_intrinsic(typingctx, a, b, c):
    out = typingctx.unify_types(a, b, c)
    if not isinstance(out, types.Float):
        return None

    def codegen(context, builder, sig, args):
        args = [context.cast(builder, v, t, out) for v, t in zip(args, sig.args, strict=True)]
        ty = args[0].type
        f = builder.module.declare_intrinsic("llvm.fma", [ty], ir.FunctionType(ty, [ty] * 3))
        return builder.call(f, args)

    return out(a, b, c), codegen


#: What the CPU and GPU builds bind each primitive's name to.
CPU_PRIMITIVES = {
    "f64_bits": f64_bits_intrinsic,
    "bits_f64": bits_f64_intrinsic,
    "f32_bits": f32_bits_intrinsic,
    "bits_f32": bits_f32_intrinsic,
    "fma": fma_intrinsic,
}


@intrinsic
def select_intrinsic(typingctx, cond, a, b):
    """Return ``a if cond else b`` as one LLVM ``select``: no branch, both arms evaluated.

    The generated kernels use it for the conditional expressions of the scalar math
    (all of them pure), which numba would otherwise compile into branches: blocks
    that cost compile time and that LLVM may turn into masked loads and stores.
    """
    if not isinstance(cond, types.Boolean):
        return None
    out = a if a == b else typingctx.unify_pairs(a, b)
    if out is None or not isinstance(out, types.Number):
        return None

    def codegen(context, builder, sig, args):
        c, x, y = args
        x = context.cast(builder, x, sig.args[1], out)
        y = context.cast(builder, y, sig.args[2], out)
        return builder.select(c, x, y)

    return out(cond, a, b), codegen
