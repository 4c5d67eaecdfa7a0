from __future__ import annotations

import numpy as np
import pytest

import kernels

#: Tests of the generated and native kernels themselves (off with XORSWEEP_NATIVE=0).
needs_native = pytest.mark.skipif(not kernels.config.NATIVE,
                                  reason="XORSWEEP_NATIVE=0: no generated or native kernels")


@pytest.fixture
def xor():
    return kernels.tasks.xor()


def params_from_logits(logits, dtype=np.float64) -> kernels.Params:
    """XOR networks (ReLU hidden, H = 4) whose output logit on sample s is logits[..., s].

    Hidden unit s is an exact indicator of XOR input s (samples 00, 01, 10, 11),
    so z2 = logits[s] exactly, with no rounding.
    """
    logits = np.atleast_2d(np.asarray(logits, dtype=np.float64))
    n = logits.shape[0]
    # unit 0: relu(1 - x1 - x2) = [00]; unit 1: relu(x2 - x1) = [01];
    # unit 2: relu(x1 - x2) = [10];  unit 3: relu(x1 + x2 - 1) = [11]
    W1 = np.array([[-1.0, -1.0, 1.0, 1.0], [-1.0, 1.0, -1.0, 1.0]])
    b1 = np.array([1.0, 0.0, 0.0, -1.0])
    return kernels.Params(
        np.broadcast_to(W1, (n, 2, 4)).astype(dtype),
        np.broadcast_to(b1, (n, 4)).astype(dtype),
        logits.astype(dtype),
        np.zeros(n, dtype),
    )


# tests/cuda_sim runs in its own process with NUMBA_ENABLE_CUDASIM=1 (tests/test_cuda.py)
collect_ignore = [] if __import__("os").environ.get("NUMBA_ENABLE_CUDASIM") == "1" \
    else ["cuda_sim"]
