"""The spec's error, raised by the spec's validation and by its ``--set`` overrides.

It lives below them (``spec`` imports ``overrides`` and ``design``, and all raise it),
so that none imports another back; ``sweeps.spec.SpecError`` is the same class.  The
two helpers below shape the values its messages quote.
"""

from __future__ import annotations

import math
import sys

__all__ = ["SpecError", "show", "finite_float"]


class SpecError(ValueError):
    """A spec that cannot be run; the message says which key and how to fix it."""


def show(value) -> str:
    """Return ``repr(value)``, cut to 40 characters: messages stay one short line."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def finite_float(key: str, value, sep: str = ": ") -> float:
    """Return ``value`` as a finite float, or raise naming ``key`` (then ``sep``, the value)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SpecError(f"{key}{sep}{show(value)} must be a finite number")
    try:
        v = float(value)
    except OverflowError:  # an integer beyond the largest float
        raise SpecError(f"{key}{sep}{show(value)} is too large for a float; use a number of at "
                        f"most {sys.float_info.max:.4g} in size") from None
    if not math.isfinite(v):
        raise SpecError(f"{key}{sep}{show(value)} must be a finite number")
    return v
