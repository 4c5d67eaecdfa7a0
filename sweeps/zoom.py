"""Zooming into a slice: a new spec over a sub-box of a run's two slice axes (``xorsweep zoom``).

:func:`zoom_spec` reads a run's frozen spec, a slice over two axes (refined or
plain), and returns the spec of the same slice over ``[x_low, x_high] x [y_low,
y_high]``: every other value the same (the base point, the other grid axes,
epochs, seed, replicates, criterion), the two axes ``resolution`` values each,
spaced as the parent's (``linspace``, or ``logspace`` in the exponent), and the
parent's ``[refine]`` table, if any, carried over unchanged.  Its ``[zoom]``
table records the parent, the root slice of the chain, the box, the depth and
the magnification over the root, so that zooms of zooms descend 10x, 100x,
1000x.  The name defaults to ``<root>-zoom<depth>``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from . import store
from .refine import slice_axes
from .spec import MAX_NAME, Spec, load_spec
from .store import RunError

__all__ = ["zoom_spec", "slice_of"]


def slice_of(spec: Spec) -> tuple[tuple[str, str], dict[str, tuple[str, float, float]]]:
    """Return a slice's axes ``(x, y)`` and each one's ``(kind, start, stop)``.

    A refined spec's axes and ranges are its ``[refine]`` table's.  A plain spec's are
    its two continuous or parameter axes with more than one value, in grid order;
    their values are a ``logspace`` when positive with a constant ratio and not a
    constant step, else a ``linspace`` (``start`` and ``stop``: the first and last
    values, exponents for a logspace).

    Raises
    ------
    RunError
        If the spec is not a slice over two axes (a design, or not two such axes).
    """
    if spec.refine is not None:
        return spec.refine.axes, {a: r[:3] for a, r in spec.refine.ranges.items()}
    axes = slice_axes(spec.grid)
    if spec.sample is not None or len(axes) != 2:
        has = ("a [sample] design" if spec.sample else
               f"{len(axes)} continuous or parameter axes with more than one value")
        raise RunError(f"{spec.name} is not a slice over two axes (it has {has}); zoom into "
                       "a run whose grid varies two of them")
    ranges = {}
    for a in axes:
        v = np.asarray(spec.grid[a], dtype=np.float64)
        steps = np.diff(v)
        linear = np.allclose(steps, steps[0], rtol=1e-6, atol=0)
        if not linear and v.min() > 0 and np.allclose(np.diff(np.log10(v)),
                                                      np.log10(v[1] / v[0]), rtol=1e-6):
            ranges[a] = ("logspace", math.log10(v[0]), math.log10(v[-1]))
        else:
            ranges[a] = ("linspace", float(v[0]), float(v[-1]))
    return (axes[0], axes[1]), ranges


def zoom_spec(run_dir, *, x: tuple[float, float], y: tuple[float, float],
              resolution: int | None = None, name: str | None = None) -> Spec:
    """Return the spec of a zoom into a run's slice.

    Parameters
    ----------
    run_dir : path
        The parent run's directory (its ``spec.toml`` is read; the run need not be complete).
    x, y : (float, float)
        The box ``(low, high)`` on the slice's first and second axis, in axis values
        (a learning rate, not its exponent), inside the parent's range.
    resolution : int, optional
        Values per axis (default: the parent's values on its first axis, level 0's
        for a refined slice).
    name : str, optional
        The new spec's name (default ``<root>-zoom<depth>``).

    Returns
    -------
    Spec
        Validated; nothing is written.

    Raises
    ------
    RunError
        If ``run_dir`` holds no spec, is not a slice over two axes, or the box is empty
        or outside the parent's range.
    StoreError
        If the parent's ``spec.toml`` was changed after its run began.
    SpecError
        If the parent's spec or the new one is invalid (a name too long, say).

    Examples
    --------
    >>> spec = zoom_spec("runs/kolen-pollack-slice", x=(-1, 1), y=(-1, 1))  # doctest: +SKIP
    >>> spec.name, spec.zoom.magnification  # doctest: +SKIP
    ('kolen-pollack-slice-zoom1', (10.0, 10.0))
    """
    path = Path(run_dir) / "spec.toml"
    if not path.is_file():
        raise RunError(f"{run_dir} is not a run directory (no spec.toml); give the directory "
                       "`xorsweep run` created")
    if (Path(run_dir) / store.MANIFEST).is_file():
        store.Run(run_dir).spec_text()  # refuses a spec.toml edited since the run began
    parent = load_spec(path)
    axes, ranges = slice_of(parent)
    n = resolution if resolution is not None else len(parent.grid[axes[0]])
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise RunError(f"--resolution {n!r} must be an integer of at least 2")
    data = parent.to_dict()
    root = parent.zoom.root if parent.zoom else parent.name
    depth = parent.zoom.depth + 1 if parent.zoom else 1
    magnification = []
    for k, (axis, box, flag) in enumerate(zip(axes, (x, y), ("--x", "--y"), strict=True)):
        low, high = (float(b) for b in box)
        kind, start, stop = ranges[axis]
        values = np.asarray(parent.grid[axis], dtype=np.float64)
        lo_p, hi_p = float(values.min()), float(values.max())
        if not (math.isfinite(low) and math.isfinite(high)):
            raise RunError(f"{flag} {low!r} {high!r}: LOW and HIGH must be finite numbers")
        if not low < high:
            raise RunError(f"{flag} {low!r} {high!r}: LOW must be below HIGH")
        if low < lo_p or high > hi_p:
            raise RunError(f"{flag} {low!r} {high!r} is outside {parent.name}'s {axis} range "
                           f"[{lo_p!r}, {hi_p!r}]; give a box inside it")
        ends = (math.log10(low), math.log10(high)) if kind == "logspace" else (low, high)
        values = np.linspace(*ends, n)  # the values the zoom's grid will take
        if len(np.unique(10.0 ** values if kind == "logspace" else values)) < n:
            raise RunError(f"{flag} {low!r} {high!r} is too narrow for {n} distinct values "
                           "in float64; give a wider box or a lower --resolution")
        if start > stop:  # the parent's direction
            ends = ends[::-1]
        data["grid"][axis] = {kind: [ends[0], ends[1], n]}
        before = parent.zoom.magnification[k] if parent.zoom else 1.0
        magnification.append(before * abs(stop - start) / abs(ends[1] - ends[0]))
    name = name or f"{root}-zoom{depth}"
    if len(name) > MAX_NAME:
        raise RunError(f"the zoom's name {name[:40]!r}... is longer than {MAX_NAME} "
                       "characters; give one with --name")
    data["name"] = name
    data["description"] = (f"Zoom {depth} into {root} ({magnification[0]:.4g} x "
                           f"{magnification[1]:.4g}), from {parent.name}: {axes[0]} in "
                           f"[{x[0]:g}, {x[1]:g}], {axes[1]} in [{y[0]:g}, {y[1]:g}].")
    data["zoom"] = {"parent": parent.name, "root": root, "x": [float(v) for v in x],
                    "y": [float(v) for v in y], "depth": depth, "magnification": magnification}
    return load_spec(data)
