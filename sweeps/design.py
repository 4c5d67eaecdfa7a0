"""Designs beyond grids: the ``[sample]`` table, its validation and its points.

A spec's ``[sample]`` table draws ``n`` points over continuous axes instead of
listing values on a grid::

    [sample]
    method = "sobol"                          # random | sobol | lhs
    n = 1024
    lr = { loguniform = [0.1, 30] }
    momentum = { uniform = [0, 0.95] }
    "W1[0,1]" = { uniform = [-10, 10] }       # an initial parameter, named as in the grid

The axes that may be sampled are ``init_scale``, ``momentum``, ``lr`` and the
initial parameters; the categorical ones (task, hidden, activation, loss, init)
stay on the grid, and each of their combinations is crossed with every point.

The points are a pure function of the spec: the whole design is drawn at once
from ``method``, ``n``, the axes and the spec's ``seed`` (:func:`unit_points`,
then :func:`design_values`), and a network looks its point up by index.  So a
network's settings, and with them the results, never depend on chunking, jobs,
backend, machine or resume.  Unit-cube dimension ``k`` is ``Sample.names[k]``:
the axes in the grid's cell order (``init_scale``, ``momentum``, ``lr``, then
parameters ``W1``, ``b1``, ``W2``, ``b2`` by index), whatever their order in the
spec, so reordering the table changes nothing.  ``sobol`` is SciPy's scrambled
Sobol' sequence (the first ``n`` points of the next power of two: balanced only
when ``n`` is a power of two, see :func:`warn_if_unbalanced`), ``lhs`` SciPy's
scrambled Latin hypercube, ``random`` independent uniform draws of a NumPy
``Generator`` (PCG64); each is seeded with ``np.random.default_rng(seed)``.

A unit value ``u`` in [0, 1) maps to ``low + u (high - low)`` (``uniform``) or
``exp(log low + u (log high - log low))`` (``loguniform``, with Python's ``math``:
NumPy's SIMD ``exp`` can differ in the last bit between CPUs, and a cluster's
workers must agree), clipped to [low, high] against rounding.
"""

from __future__ import annotations

import functools
import hashlib
import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from kernels import parse_param_name

from .errors import SpecError, finite_float, show

__all__ = ["Sample", "DesignWarning", "METHODS", "DISTRIBUTIONS", "SAMPLED_AXES",
           "MAX_POINTS", "parse_sample", "unit_points", "design_values", "warn_if_unbalanced"]

#: How points are drawn in the unit cube.
METHODS: tuple[str, ...] = ("random", "sobol", "lhs")
#: How a unit value maps onto an axis: evenly, or evenly in the logarithm.
DISTRIBUTIONS: tuple[str, ...] = ("uniform", "loguniform")
#: The named axes that may be sampled (with the initial parameters), in cell order.
SAMPLED_AXES: tuple[str, ...] = ("init_scale", "momentum", "lr")
#: The categorical axes, which only the grid takes.
_CATEGORICAL = ("task", "hidden", "activation", "loss", "init")
#: The most points one design may hold: every worker draws the whole design once
#: (2**20 points of five axes: 40 MB, a fraction of a second).
MAX_POINTS = 2**20
_ARRAYS = ("W1", "b1", "W2", "b2")


class DesignWarning(UserWarning):
    """A design that runs but is weaker than it could be (a Sobol ``n`` off a power of two)."""


@dataclass(frozen=True)
class Sample:
    """A validated ``[sample]`` table.

    ``axes`` maps each sampled axis (canonical name) to ``(distribution, low, high)``,
    in the spec's order; ``names`` gives them in design order (unit-cube dimension
    ``k`` is ``names[k]``), which is also their order in the network table.
    """

    method: str
    n: int
    axes: dict[str, tuple[str, float, float]]

    @property
    def names(self) -> tuple[str, ...]:
        """The sampled axes in design order: named axes in cell order, then parameters."""
        return tuple(sorted(self.axes, key=_design_key))

    @property
    def param_axes(self) -> tuple[str, ...]:
        """The sampled initial parameters (``"W1[0,1]"``, ...), in design order."""
        return tuple(a for a in self.names if a not in SAMPLED_AXES)

    def to_dict(self) -> dict[str, Any]:
        """Return the table as plain data, as a spec gives it (axes in the spec's order)."""
        return {"method": self.method, "n": self.n,
                **{a: {dist: [low, high]} for a, (dist, low, high) in self.axes.items()}}

    def values(self, seed: int) -> dict[str, np.ndarray]:
        """Return every point's value of each axis (see :func:`design_values`)."""
        return design_values(self, seed)


def _design_key(name: str) -> tuple:
    if name in SAMPLED_AXES:
        return (0, SAMPLED_AXES.index(name))
    array, index = parse_param_name(name)
    return (1, _ARRAYS.index(array), index)


def parse_sample(table, grid_axes) -> Sample:
    """Validate a spec's ``[sample]`` table.

    Parameters
    ----------
    table : dict
        The table as read from TOML.
    grid_axes : collection of str
        The axes the spec's ``[grid]`` names (canonical names): an axis may not be in both.

    Returns
    -------
    Sample

    Raises
    ------
    SpecError
        With a one-line message naming the key and the fix: an unknown method, ``n``
        not an integer from 1 to :data:`MAX_POINTS`, no axis, an unknown or
        categorical axis, an axis named twice or also in the grid, or a bad
        distribution (unknown name, not two finite numbers, low >= high, a
        loguniform low <= 0, a range too wide for a float).
    """
    if not isinstance(table, dict):
        raise SpecError('sample must be a table, e.g. [sample] method = "sobol", n = 256, '
                        "lr = { loguniform = [0.1, 30] }")
    method = table.get("method")
    if not isinstance(method, str) or method not in METHODS:
        raise SpecError(f"sample.method = {show(method)} is unknown; use one of "
                        f"{', '.join(METHODS)}" if "method" in table else
                        f"sample.method is missing; use one of {', '.join(METHODS)}")
    if "n" not in table:
        raise SpecError("sample.n is missing; give the number of points, e.g. n = 256")
    n = table["n"]
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_POINTS:
        raise SpecError(f"sample.n = {show(n)} must be an integer from 1 to 2**20 = "
                        f"{MAX_POINTS:,}")
    axes: dict[str, tuple[str, float, float]] = {}
    for raw, value in table.items():
        if raw in ("method", "n"):
            continue
        name = _axis_name(raw)
        if name in axes:
            raise SpecError(f"sample: {name} is named twice (spaces are ignored); keep one")
        if name in grid_axes:
            raise SpecError(f"{name} is both a [grid] axis and a [sample] axis; keep it in one "
                            "of them")
        axes[name] = _distribution(f"sample.{name}", value)
    if not axes:
        raise SpecError("sample has no axes; add one, e.g. lr = { loguniform = [0.1, 30] }")
    return Sample(method=method, n=n, axes=axes)


def _axis_name(raw: str) -> str:
    if raw in SAMPLED_AXES:
        return raw
    if raw in _CATEGORICAL:
        raise SpecError(f"sample.{raw}: {raw} is categorical; give its values in [grid], "
                        "where they are crossed with the design")
    try:
        array, index = parse_param_name(raw)
    except ValueError:
        raise SpecError(f"unknown sample axis {show(raw)}; sampled axes are "
                        f"{', '.join(SAMPLED_AXES)}, or an initial parameter: W1[i,j], b1[j], "
                        "W2[j], b2 (besides method and n)") from None
    return array + (f"[{','.join(map(str, index))}]" if index else "")


def _distribution(key: str, value) -> tuple[str, float, float]:
    if (not isinstance(value, dict) or len(value) != 1
            or next(iter(value)) not in DISTRIBUTIONS):
        raise SpecError(f"{key} must be a table of one distribution, uniform or loguniform, "
                        "e.g. { uniform = [0, 0.95] }")
    dist, bounds = next(iter(value.items()))
    if not isinstance(bounds, list) or len(bounds) != 2:
        raise SpecError(f"{key}.{dist} must be a list of two numbers [low, high]")
    low, high = (finite_float(f"{key}.{dist}", b) for b in bounds)
    if not low < high:
        raise SpecError(f"{key}.{dist}: low {low!r} must be below high {high!r}")
    if dist == "loguniform" and low <= 0:
        raise SpecError(f"{key}.loguniform: low {low!r} must be > 0 (it is spread in the "
                        "logarithm); use uniform for a range from 0 or below")
    if not math.isfinite(high - low):
        raise SpecError(f"{key}.{dist}: [{low!r}, {high!r}] is too wide a range for a float; "
                        "use smaller bounds")
    return dist, low, high


def unit_points(method: str, n: int, d: int, seed: int) -> np.ndarray:
    """Return a design's ``n`` points in the unit cube [0, 1)**d, drawn from ``seed`` alone.

    Parameters
    ----------
    method : {"random", "sobol", "lhs"}
        Independent uniform draws (NumPy's PCG64), SciPy's scrambled Sobol' sequence
        (its first ``n`` points) or SciPy's scrambled Latin hypercube.
    n, d : int
        Points and dimensions.
    seed : int
        Seeds ``np.random.default_rng(seed)``, which draws the points or the scrambling.

    Returns
    -------
    ndarray, shape (n, d)
        float64.

    Examples
    --------
    >>> unit_points("sobol", 4, 2, seed=0).shape
    (4, 2)
    """
    from scipy.stats import qmc

    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    rng = np.random.default_rng(seed)
    if method == "sobol":  # the next power of two, cut: the same points as random(n)
        return qmc.Sobol(d, scramble=True, rng=rng).random_base2((n - 1).bit_length())[:n]
    if method == "lhs":
        return qmc.LatinHypercube(d, scramble=True, rng=rng).random(n)
    return rng.random((n, d))


def design_values(sample: Sample, seed: int) -> dict[str, np.ndarray]:
    """Return the value of every sampled axis at every design point.

    Parameters
    ----------
    sample : Sample
    seed : int
        The spec's seed.

    Returns
    -------
    dict of str to ndarray, shape (n,)
        float64, read-only, keyed in design order (``sample.names``); drawn once per
        process and design.
    """
    axes = tuple((a, *sample.axes[a]) for a in sample.names)
    return _values(sample.method, sample.n, axes, seed)


def points_digest(sample: Sample, seed: int) -> str:
    """Return the SHA-256 of the design's points (every axis's values, in design order).

    A run records it, so that a resume under another SciPy (or NumPy) that would draw
    other points is refused rather than mixed into the run.
    """
    h = hashlib.sha256()
    for name, values in design_values(sample, seed).items():
        h.update(name.encode() + b"\0" + np.ascontiguousarray(values, "<f8").tobytes())
    return h.hexdigest()


@functools.lru_cache(maxsize=8)
def _values(method: str, n: int, axes: tuple, seed: int) -> dict[str, np.ndarray]:
    u = unit_points(method, n, len(axes), seed)
    out = {}
    for k, (name, dist, low, high) in enumerate(axes):
        if dist == "uniform":
            v = low + u[:, k] * (high - low)
        else:
            a, b = math.log(low), math.log(high)
            v = np.array([math.exp(a + x * (b - a)) for x in u[:, k].tolist()], dtype=np.float64)
        v = np.clip(v, low, high)
        v.setflags(write=False)
        out[name] = v
    return out


def warn_if_unbalanced(sample: Sample | None) -> None:
    """Warn (:class:`DesignWarning`) when a Sobol design's ``n`` is not a power of two.

    The first ``2**m`` points of a Sobol' sequence fill the cube evenly; a prefix of
    another length does not, so the design is still valid but less even than it could be.
    """
    if sample is None or sample.method != "sobol" or sample.n & (sample.n - 1) == 0:
        return
    low = 1 << (sample.n.bit_length() - 1)
    warnings.warn(f"xorsweep: sample.n = {sample.n:,} is not a power of two, so the Sobol "
                  f"design is less even than it could be; use n = {low:,} or {2 * low:,}",
                  DesignWarning, stacklevel=3)
