"""Result arrays mapped straight from the OS, without transparent huge pages.

NumPy asks Linux for transparent huge pages on every allocation of 4 MiB or more
(``madvise(MADV_HUGEPAGE)``).  Where the kernel's policy is "madvise" (the usual
default) and defragmentation is allowed for such regions, a first write to those
pages can stall on compaction, and on virtual machines that hand free memory back
to the host (free page reporting) 2 MiB blocks are exactly the ones handed back,
so each must be faulted in again by the host.  Measured on the 2-core benchmark
VM (2026-12-01, Linux 6.18, THP "madvise"): a first write to fresh NumPy arrays
ran at 80-115 MB/s, the same write to plain anonymous pages at 0.9-1.5 GB/s.  A
loss curve of 65,536 networks over 3,051 epochs recorded every 10 (160 MB in
float64) then cost 24% of the training time through NumPy's allocation and 6%
through this one (medians of 8 alternating pairs in one process).

Training writes each result once, block by block, so huge pages buy it nothing.
Arrays below NumPy's threshold come from NumPy as usual.
"""

from __future__ import annotations

import math
import mmap

import numpy as np

#: NumPy's own threshold for asking for huge pages (``numpy/_core/src/multiarray/alloc.c``).
MAPPED_MIN_BYTES = 1 << 22


def fresh(shape: tuple[int, ...], dtype) -> np.ndarray:
    """Return a writable C-contiguous array of ``shape`` and ``dtype``, contents unspecified.

    Arrays of ``MAPPED_MIN_BYTES`` or more are backed by an anonymous memory map
    (zero-filled, returned to the OS when the array is freed); smaller ones are
    ``np.empty``.
    """
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes < MAPPED_MIN_BYTES:
        return np.empty(shape, dtype)
    return np.ndarray(shape, dtype, buffer=mmap.mmap(-1, nbytes))


def fresh_copy(a: np.ndarray) -> np.ndarray:
    """Return a C-contiguous copy of ``a`` in an array from :func:`fresh`."""
    out = fresh(a.shape, a.dtype)
    np.copyto(out, a)
    return out
