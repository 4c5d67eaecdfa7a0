"""Constants and tunables of the kernels, in one place so that tests can patch them.

Patching a value here affects kernels compiled afterwards only where noted; the
lane count is read at call time by the Python wrappers and passed to the
compiled code, so tests may change it freely.  The settings given by dtype (the
generated kernels' block widths) take a dict by dtype name or one int for both.
"""

from __future__ import annotations

from ._validation import check_per_dtype

#: Networks trained together by one thread, laid across SIMD lanes (structure of
#: arrays: the innermost loop of every kernel runs over these networks with unit
#: stride).  A network's result never depends on this value or on its position in
#: a block: lanes never exchange data.
LANES: int = 32

#: Train with a generated straight-line kernel (``_codegen.py``) when
#: ``n_samples * n_hidden * (n_inputs + 1)`` is at most this; 0 disables it.
#: Measured on 2 cores (2026-12-01): up to 128 the generated kernel is 1.4-1.9x
#: faster than the generic one; from 144 to 256 it gained 0.7-1.4x (parity4 with 3
#: hidden units was slower).
UNROLL_LIMIT: int = 128

#: ... and when it has at most this many sigmoids per epoch, ``n_samples * (n_hidden
#: + 1)``: the generated kernel writes each one out inline, and its compile time
#: grows with them.  A new kernel, in a process that has compiled one before
#: (2026-12-01, Zen 3, float32): XOR with H = 2, 12 sigmoids, 2.1 s (2.7 s float64);
#: H = 8, 36, 4.0 s; 8 samples with H = 4, 40, 4.9 s; 40 samples with H = 1, 80,
#: 8.1 s (2.6x the generic kernel's speed there).  44 keeps each compile to about
#: 5 s, XOR up to H = 10 and parity-3 up to H = 4.
UNROLL_MAX_SIGMOIDS: int = 44

#: Lanes per block of the generated kernels (a compile-time constant there), by
#: dtype; both are 256-byte rows of block state.  float64, 32 against 64 lanes
#: (2026-12-01, Zen 3, XOR, 65,536 networks, 2 threads, several compiled copies of
#: each in one process): H = 2, median 44 against 33 M network-epochs/s (6 copies
#: each), 56 against 53 M and 48 against 54 M (4 copies each, 30 minutes later);
#: H = 8, 11-14 against 9 M; H = 4 alike; 16 lanes slower.  This machine's float64
#: speed swings 1.5x between processes and hours, so the gain is uncertain at H =
#: 2; 32 lanes halve the block's state (12.8 KB at H = 2, 38 KB at H = 8, where 64
#: lanes, 75 KB, no longer fit in L1).  float32 keeps 64 lanes (32: 0.9x at H = 2
#: and 8; 128: 0.9-1.1x).
UNROLLED_LANES: dict[str, int] = {"float32": 64, "float64": 32}

#: Fewer networks than this train with the generic kernel, compiled once for every
#: shape, rather than with a generated kernel, one more compile per shape (2-5 s,
#: once: it is cached on disk).  1: even a single network trains in a narrow
#: block, its other lanes padding; measured (2026-12-01, Zen 3, XOR, 200,000
#: epochs), generic -> generated: 1.6 -> 5.9-6.5 M epochs/s (float32), 1.3-1.4 ->
#: 4.0-5.1 M (float64, 4-lane blocks).
UNROLLED_MIN_NETS: int = 1

#: From this many networks on (by dtype), generated kernels use blocks of
#: ``UNROLLED_LANES``; below (down to ``UNROLLED_MIN_NETS``), blocks of
#: ``UNROLLED_NARROW_LANES``: one wide block would mostly compute padding, on one
#: thread.  Measured (2026-12-01, Zen 3, XOR, 2 threads, alternating in one
#: process), 8-lane against 64-lane float64 blocks: 16 networks 34 against 7.3 M
#: network-epochs/s, 64 networks 33 against 29 M, 127 networks 43 against 54 M;
#: 4-lane against 32-lane float64 blocks: 33 networks 30 against 24 M, 40 networks
#: 29 against 28 M, 48 networks 30 against 33 M, 64 networks 33 against 46 M.
#: Results are identical either way.
UNROLLED_WIDE_MIN_NETS: dict[str, int] = {"float32": 65, "float64": 41}

#: Lanes per narrow block, by dtype: one AVX2 vector.  Measured (2026-12-01, Zen 3,
#: XOR, alternating in one process, 2 processes), float64 4 lanes against 8: 1
#: network 1.8-2.0x (4.0-5.1 against 2.2-2.5 M epochs/s), 16 networks 1.0x, 64
#: networks 1.16-1.24x; float32 4 lanes against 8: 1 network 1.05-1.14x, but 16 and
#: 64 networks 0.4-0.6x (half a vector).
UNROLLED_NARROW_LANES: dict[str, int] = {"float32": 8, "float64": 4}

#: LLVM fast-math flags for the compiled kernels (read when ``kernels`` is imported,
#: like ``CACHE``: set them before that).  Never numba's blanket fast-math switch: that
#: includes ``nnan``/``ninf``, which let LLVM delete the non-finite checks that
#: detect diverged networks, and ``reassoc``, which lets it fold exp's rounding step
#: ``(t + 1.5 * 2**52) - 1.5 * 2**52`` away.  Empty means strict IEEE arithmetic.
FASTMATH_FLAGS: frozenset[str] = frozenset()

#: Outcome thresholds (DESIGN.md): an output within this distance of the wrong
#: target is "saturated".
SATURATED_TOL: float = 0.1

#: Every output within this distance of 1/2 is a "plateau".
PLATEAU_TOL: float = 0.05

#: With ``parallel=True`` the blocks are cut into this many ranges per thread, so
#: that threads finishing early (e.g. on diverged blocks) pick up more work.
CHUNKS_PER_THREAD: int = 4

#: Cache compiled kernels on disk (numba ``cache=True``).
CACHE: bool = True


def for_dtype(setting: str, dtype) -> int:
    """Return the value of the per-dtype ``setting`` (its name here) for ``dtype``, checked."""
    return check_per_dtype(f"config.{setting}", globals()[setting], dtype, low=1)
