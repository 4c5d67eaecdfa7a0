"""Result arrays without transparent huge pages.

NumPy asks Linux for transparent huge pages on every allocation of 4 MiB or more
(``madvise(MADV_HUGEPAGE)``).  Where the kernel's policy is "madvise" (the usual
default) and defragmentation is allowed for such regions, a first write to those
pages can stall on compaction, and on virtual machines that hand free memory back
to the host (free page reporting) 2 MiB blocks are exactly the ones handed back,
so each must be faulted in again by the host.  On the 2-core benchmark VM (Linux
6.18, THP "madvise"), a first write to fresh NumPy arrays runs at 80-115 MB/s, the
same write to plain pages at 0.9-1.5 GB/s.  A loss curve
of 65,536 networks over 3,051 epochs recorded every 10 (160 MB in float64) cost
24% of the training time with huge pages and 5-7% without (medians of 8
alternating pairs in one process).

Training writes each result once, block by block, so huge pages buy it nothing:
:func:`fresh` takes the array from NumPy's allocator as usual (so that memory
freed by earlier results can be reused) and withdraws the request
(``MADV_NOHUGEPAGE``) before anything is written to it.  Elsewhere than Linux it
is ``np.empty``.
"""

from __future__ import annotations

import ctypes
import mmap
import sys

import numpy as np

#: NumPy's own threshold for asking for huge pages (``numpy/_core/src/multiarray/alloc.c``).
ADVISE_MIN_BYTES = 1 << 22
_MADV_NOHUGEPAGE = 15  # <linux/mman.h>


def _libc_madvise():
    if not sys.platform.startswith("linux"):
        return None
    try:
        madvise = ctypes.CDLL(None, use_errno=True).madvise
    except (OSError, AttributeError):
        return None
    madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    madvise.restype = ctypes.c_int
    return madvise


_madvise = _libc_madvise()


def fresh(shape: tuple[int, ...], dtype) -> np.ndarray:
    """Return a writable C-contiguous ``np.empty(shape, dtype)`` without huge pages.

    For arrays of ``ADVISE_MIN_BYTES`` or more on Linux, the whole pages inside
    the array are advised ``MADV_NOHUGEPAGE`` (a hint: if the call fails, the
    array is returned as it is).
    """
    a = np.empty(shape, dtype)
    if a.nbytes >= ADVISE_MIN_BYTES and _madvise is not None:
        start = a.ctypes.data
        first = -(-start // mmap.PAGESIZE) * mmap.PAGESIZE
        end = (start + a.nbytes) // mmap.PAGESIZE * mmap.PAGESIZE
        if end > first:
            _madvise(first, end - first, _MADV_NOHUGEPAGE)
    return a


def fresh_copy(a: np.ndarray) -> np.ndarray:
    """Return a C-contiguous copy of ``a`` in an array from :func:`fresh`."""
    out = fresh(a.shape, a.dtype)
    np.copyto(out, a)
    return out


def aligned(n: int, dtype, align: int = 64) -> np.ndarray:
    """Return an uninitialized 1-D array of ``n`` values whose data starts on ``align`` bytes.

    NumPy aligns to 16 bytes; a block's scratch state is read as whole SIMD vectors
    (32 bytes with AVX2), which would otherwise straddle cache lines.  From
    :func:`fresh`: a block's loss curves (scratch of K x lanes values) can be
    megabytes, written once per block.
    """
    dtype = np.dtype(dtype)
    raw = fresh((n * dtype.itemsize + align,), np.uint8)
    skip = -raw.ctypes.data % align
    return raw[skip:skip + n * dtype.itemsize].view(dtype)
