"""Boolean tasks: inputs ``X`` of shape (S, D) and 0/1 targets ``Y`` of shape (S,).

Rows of ``X`` enumerate every binary input in counting order with the most
significant bit first, so ``parity(2)`` equals ``xor()`` row for row.
"""

from __future__ import annotations

import numpy as np

__all__ = ["xor", "and_", "or_", "nand", "parity", "by_name", "NAMES"]

#: Task names accepted by :func:`by_name`.
NAMES: tuple[str, ...] = ("xor", "and", "or", "nand") + tuple(f"parity{n}" for n in range(2, 7))


def _inputs(n_inputs: int) -> np.ndarray:
    rows = np.arange(2**n_inputs)
    bits = (rows[:, None] >> np.arange(n_inputs - 1, -1, -1)[None, :]) & 1
    return bits.astype(np.float64)


def xor() -> tuple[np.ndarray, np.ndarray]:
    """Return the XOR task.

    Returns
    -------
    X : ndarray, shape (4, 2)
        ``[[0, 0], [0, 1], [1, 0], [1, 1]]``.
    Y : ndarray, shape (4,)
        ``[0, 1, 1, 0]``.
    """
    X = _inputs(2)
    return X, np.logical_xor(X[:, 0], X[:, 1]).astype(np.float64)


def and_() -> tuple[np.ndarray, np.ndarray]:
    """Return the AND task: ``X`` as in :func:`xor`, ``Y = [0, 0, 0, 1]``."""
    X = _inputs(2)
    return X, np.logical_and(X[:, 0], X[:, 1]).astype(np.float64)


def or_() -> tuple[np.ndarray, np.ndarray]:
    """Return the OR task: ``X`` as in :func:`xor`, ``Y = [0, 1, 1, 1]``."""
    X = _inputs(2)
    return X, np.logical_or(X[:, 0], X[:, 1]).astype(np.float64)


def nand() -> tuple[np.ndarray, np.ndarray]:
    """Return the NAND task: ``X`` as in :func:`xor`, ``Y = [1, 1, 1, 0]``."""
    X = _inputs(2)
    return X, np.logical_not(np.logical_and(X[:, 0], X[:, 1])).astype(np.float64)


def parity(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the n-bit parity task.

    Parameters
    ----------
    n : int
        Number of inputs, 2 to 6.

    Returns
    -------
    X : ndarray, shape (2**n, n)
    Y : ndarray, shape (2**n,)
        1 where the row has an odd number of ones.

    Raises
    ------
    ValueError
        If ``n`` is not an integer from 2 to 6.
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or not 2 <= n <= 6:
        raise ValueError(f"n must be an integer from 2 to 6, got {n!r}")
    X = _inputs(int(n))
    return X, (X.sum(axis=1) % 2).astype(np.float64)


def by_name(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Return a task by name: one of :data:`NAMES` (``"xor"``, ``"and"``, ``"parity3"``, ...).

    Raises
    ------
    ValueError
        If the name is unknown; the message lists the accepted names.
    """
    makers = {"xor": xor, "and": and_, "or": or_, "nand": nand}
    if not isinstance(name, str):
        raise ValueError(f"task must be one of {', '.join(NAMES)}; got {name!r}")
    if name in makers:
        return makers[name]()
    if name in NAMES:
        return parity(int(name.removeprefix("parity")))
    raise ValueError(f"task must be one of {', '.join(NAMES)}; got {name!r}")
