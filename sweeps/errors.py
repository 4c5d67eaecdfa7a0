"""The spec's error, raised by the spec's validation and by its ``--set`` overrides.

It lives below both (``spec`` imports ``overrides``, and both raise it), so that
neither imports the other back; ``sweeps.spec.SpecError`` is the same class.
"""

from __future__ import annotations

__all__ = ["SpecError"]


class SpecError(ValueError):
    """A spec that cannot be run; the message says which key and how to fix it."""
