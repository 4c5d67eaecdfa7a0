"""Reinterpret floats as integers and back: the CPU primitives behind the fast exp.

Each operation has a plain-Python definition (used when the scalar math runs
uncompiled, e.g. in tests and in numba's CUDA simulator) and a numba intrinsic
that is a single LLVM ``bitcast`` (free, and vectorizable).  ``_elementary.py``
calls them by name; the CPU and GPU builds bind these names to the intrinsics.
"""

from __future__ import annotations

import struct

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


#: What the CPU and GPU builds bind each primitive's name to.
CPU_PRIMITIVES = {
    "f64_bits": f64_bits_intrinsic,
    "bits_f64": bits_f64_intrinsic,
    "f32_bits": f32_bits_intrinsic,
    "bits_f32": bits_f32_intrinsic,
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
