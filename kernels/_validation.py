"""Argument checks shared by the public wrappers; each raises a one-line ValueError."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

DTYPES = (np.float32, np.float64)


def check_choice(name: str, value, choices: Sequence[str]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise naming the accepted values."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def check_bool(name: str, value) -> bool:
    """Return ``value`` if it is True or False (a numpy bool too), else raise."""
    if not isinstance(value, bool | np.bool_):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_int(name: str, value, *, low: int, high: int | None = None) -> int:
    """Return ``value`` as int if it is an integer in [low, high], else raise."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"from {low} to {high}"
        raise ValueError(f"{name} must be an integer {bound}, got {value}")
    return value


def check_per_dtype(name: str, value, dtype, *, low: int) -> int:
    """Return the integer setting ``value`` for ``dtype``, else raise.

    ``value`` is an int for every dtype or a mapping from dtype name ("float32",
    "float64") to int, like the block widths in ``config``.
    """
    if isinstance(value, Mapping):
        key = np.dtype(dtype).name
        if key not in value:
            raise ValueError(f"{name} has no entry for {key}: add one ({name}[{key!r}] = ...) "
                             f"or set one int for every dtype")
        return check_int(f"{name}[{key!r}]", value[key], low=low)
    return check_int(name, value, low=low)


def check_dtype(name: str, dtype) -> np.dtype:
    """Return ``dtype`` as a numpy dtype if it is float32 or float64, else raise."""
    try:
        dt = None if dtype is None else np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt not in [np.dtype(t) for t in DTYPES]:
        raise ValueError(f"{name} must be numpy.float32 or numpy.float64, got {dtype!r}")
    return dt


def _describe(low: float, high: float, low_open: bool, high_open: bool) -> str:
    if math.isinf(high):
        return f"a finite number {'>' if low_open else '>='} {low:g}"
    return f"a number in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"


def check_number(name: str, value, *, low: float, high: float, low_open=False,
                 high_open=False) -> float:
    """Return ``value`` as float if it is a finite number in the interval, else raise."""
    interval = _describe(low, high, low_open, high_open)
    if isinstance(value, np.ndarray) and value.ndim == 0:  # np.array(0.5): a number
        value = value[()]
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(f"{name} must be {interval}, got {value!r}")
    v = float(value)
    ok = math.isfinite(v) and (v > low if low_open else v >= low) and (
        v < high if high_open else v <= high)
    if not ok:
        raise ValueError(f"{name} must be {interval}, got {v!r}")
    return v


def per_network(name: str, value, n_nets: int, dtype, *, low: float, high: float,
                high_open: bool = False) -> np.ndarray:
    """Broadcast a scalar or (n_nets,) array to a contiguous (n_nets,) array of ``dtype``."""
    interval = _describe(low, high, False, high_open)
    scalar = np.ndim(value) == 0
    if scalar:
        value = np.full(n_nets, check_number(name, value, low=low, high=high,
                                             high_open=high_open))
    arr = np.asarray(value)
    if arr.ndim != 1 or arr.shape[0] != n_nets:
        raise ValueError(
            f"{name} must be a scalar or an array of shape ({n_nets},) (one per network), "
            f"got shape {arr.shape}")
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    bad = ~(np.isfinite(arr) & (arr >= low) & ((arr < high) if high_open else (arr <= high)))
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"{name} must be {interval} for every network; "
                         f"{name}[{i}] = {float(arr[i])!r}")
    out = np.ascontiguousarray(arr, dtype=dtype)
    if high_open and (out >= high).any():  # e.g. 0.99999999 rounds to 1 in float32
        i = int(np.argmax(out >= high))
        what = name if scalar else f"{name}[{i}]"
        raise ValueError(f"{what} = {float(arr[i])!r} rounds to {float(out[i])!r} in "
                         f"{np.dtype(dtype)}, outside {interval}; use a smaller value")
    return out
