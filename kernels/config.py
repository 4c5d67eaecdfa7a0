"""Constants and tunables of the kernels, in one place so that tests can patch them.

Patching a value here affects kernels compiled afterwards only where noted; the
lane count is read at call time by the Python wrappers and passed to the
compiled code, so tests may change it freely.  The settings given by dtype (the
generated kernels' block widths) take a dict by dtype name or one int for both.
"""

from __future__ import annotations

import os

from ._validation import check_per_dtype

#: Networks trained together by one thread, laid across SIMD lanes (structure of
#: arrays: the innermost loop of every kernel runs over these networks with unit
#: stride).  A network's result never depends on this value or on its position in
#: a block: lanes never exchange data.
LANES: int = 32

#: Train with a generated straight-line kernel (``_codegen.py``) when
#: ``n_samples * n_hidden * (n_inputs + 1)`` is at most this; 0 disables it.  On 2
#: Zen 3 cores, up to 128 the generated kernel runs 1.4-1.9x as fast as the generic
#: one; from 144 to 256 it runs 0.7-1.4x as fast (slower for parity4 with 3 hidden
#: units).
UNROLL_LIMIT: int = 128

#: ... and when it has at most this many sigmoids per epoch, ``n_samples * (n_hidden
#: + 1)``: the generated kernel writes each one out inline, and its compile time
#: grows with them.  A new kernel, in a process that has compiled one before (Zen 3,
#: float32): XOR with H = 2, 12 sigmoids, 2.1 s (2.7 s float64); H = 8, 36, 4.0 s;
#: 8 samples with H = 4, 40, 4.9 s; 40 samples with H = 1, 80, 8.1 s (2.6x the
#: generic kernel's speed there).  44 keeps each compile to about 5 s, XOR up to
#: H = 10 and parity-3 up to H = 4.  The compile happens once per shape (it is cached
#: on disk), so any population, down to a single network, trains with a generated
#: kernel: one XOR network in a narrow block (its other lanes padding) runs 5.9-6.5 M
#: epochs/s against the generic kernel's 1.6 M in float32, and 4.0-5.1 M against
#: 1.3-1.4 M in float64 (Zen 3, 200,000 epochs).
UNROLL_MAX_SIGMOIDS: int = 44

def _host_has_avx512() -> bool:
    """Return whether this CPU has AVX-512F (read from Linux's /proc/cpuinfo; else False)."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("flags"):
                    return "avx512f" in line.split()
    except OSError:
        pass
    return False


#: Whether LLVM compiles the kernels' lane loops with 512-bit vectors here (16
#: float32 or 8 float64 lanes per instruction; 256-bit AVX2 vectors hold 8 or 4).
HOST_AVX512: bool = _host_has_avx512()

#: Lanes per block of the generated kernels (a compile-time constant there), by
#: dtype: enough that each lane loop runs 8 or more vector iterations, so that its
#: start and end cost less per network: 64, and 128 for float32 where vectors have
#: 512 bits.  float64, 64 against 32 lanes (Zen 3, XOR, alternating in one
#: process): H = 2, N = 65,536, 1.08-1.22x on one thread, 1.05-1.08x on two; H = 4
#: 1.06x, H = 8 1.15-1.18x; with momentum 0.5 1.0-1.04x (H = 2 and 8); 96 or 128
#: lanes 0.97-1.03x.  64 lanes pay because a block touches only part of its state: a
#: kernel without momentum leaves the velocities alone, and the hidden sums are kept
#: only where the activation's derivative reads them (``_codegen._layout``); a kernel
#: that touched the whole state would not fit 64 lanes of it in L1 at H = 8, where
#: such a kernel runs faster with 32 lanes.  float32 64 against 32 lanes 1.14x, 128:
#: 1.01-1.03x (Zen 3, AVX2).  With AVX-512 (Zen 4, XOR, N = 65,536, alternating),
#: float32 128 against 64 lanes: 1.02-1.05x on one thread (CPU time; N = 1,024 to
#: 65,536), 1.11x on two; float64 0.93-1.20x, no gain established, so it keeps 64.
UNROLLED_LANES: dict[str, int] = {"float32": 128 if HOST_AVX512 else 64, "float64": 64}

#: From this many networks on (by dtype), generated kernels use blocks of
#: ``UNROLLED_LANES``; below, down to a single network, blocks of
#: ``UNROLLED_NARROW_LANES``: one wide block would mostly compute padding, on one
#: thread.  Narrow against 64-lane blocks (Zen 3, XOR, 2 threads, alternating in one
#: process, medians of 4), M network-epochs/s: float32 (8 lanes) 64 networks 92
#: against 73, 72: 86 / 78, 80: 92 / 78, 88: 85 / 97, 96: 89 / 113; float64 (4
#: lanes) 64: 42 / 35, 72: 41 / 36, 80: 40 / 41, 88: 39 / 46, 96: 42 / 50.  Results
#: are identical either way.
#: With 128-lane float32 blocks (AVX-512, Zen 4, XOR, 2 threads, alternating,
#: medians of 6): wide against narrow blocks 0.98x at 96 networks, 1.24x at 128.
UNROLLED_WIDE_MIN_NETS: dict[str, int] = {"float32": 96 if HOST_AVX512 else 84, "float64": 80}

#: Lanes per narrow block, by dtype: one AVX2 vector.  Zen 3, XOR, alternating in
#: one process, 2 processes: float64 4 lanes against 8: 1 network 1.8-2.0x (4.0-5.1
#: against 2.2-2.5 M epochs/s), 16 networks 1.0x, 64 networks 1.16-1.24x; float32 4
#: lanes against 8: 1 network 1.05-1.14x, but 16 and 64 networks 0.4-0.6x (half a
#: vector).
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

#: Threads per block of the CUDA kernel (``_cuda.py``), read at each launch, so tests
#: patch it down to make tiny populations span several blocks.  Each thread trains one
#: network and its block shares nothing, so the size sets only how the networks are
#: scheduled: 128 is four 32-thread warps, a common default that leaves the GPU free
#: to keep several blocks resident per multiprocessor.  No other value is measured.
THREADS_PER_BLOCK: int = 128

#: Cache compiled kernels on disk, under the xorsweep cache directory (``_cache.py``).
CACHE: bool = True

#: Train with the generated kernels and load kernels as native code (``_codegen.py``,
#: ``_native.py``).  ``XORSWEEP_NATIVE=0`` in the environment (read when ``kernels`` is
#: imported) turns both off: every kernel is then numba's ordinary compiled function
#: (``_cpu.py``, ``_seeding.py``), which gives the same bits, more slowly.  This is the
#: plain path to compare against, and the one to use if numba or llvmlite internals
#: that the generated and native paths rely on change.
NATIVE: bool = os.environ.get("XORSWEEP_NATIVE", "1").strip().lower() not in (
    "0", "false", "no", "off")


def for_dtype(setting: str, dtype) -> int:
    """Return the value of the per-dtype ``setting`` (its name here) for ``dtype``, checked."""
    return check_per_dtype(f"config.{setting}", globals()[setting], dtype, low=1)
