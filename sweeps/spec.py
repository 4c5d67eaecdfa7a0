"""Sweep specs: a TOML file (or dict) describing a grid of networks, validated up front.

A spec has top-level settings and a ``[grid]`` table of axes.  Every axis takes a
list of values or a range table: ``{ linspace = [start, stop, n] }``,
``{ logspace = [start_exp, stop_exp, n] }`` (base 10) or
``{ range = [start, stop, step] }`` (integers, stop excluded).  Every problem is
a :class:`SpecError` whose one-line message names the key and the fix.

Besides the axes of :data:`AXES`, a grid axis may be an initial parameter, named
as in :func:`kernels.param_names` (``"W1[0,1]"``, ``"b1[0]"``, ``"W2[1]"``,
``"b2"``): its values replace that parameter's initial value.  ``[init_values]``
fixes parameters to one value each; a parameter named in neither is drawn from
the network's seed by ``init`` and ``init_scale``.  Two parameter axes and fixed
values for the rest make an *init slice* (Kolen & Pollack 1990).

A ``[sample]`` table puts ``n`` points of a random, Sobol or Latin-hypercube design
over continuous axes (``lr``, ``momentum``, ``init_scale``, parameters) instead of
grid values, crossed with the grid's other axes: :mod:`sweeps.design` validates it
and draws the points; an axis is in one table or the other.

Limits, all checked before anything is written: at most :data:`MAX_NETWORKS`
(2**32) networks per spec, so that replicate seeds ``(seed << 32) + r`` stay
distinct and the chunk table stays small; at most :data:`MAX_AXIS_VALUES`
values per axis (the frozen spec lists every value); ``epochs`` up to
:data:`MAX_EPOCHS` (2**62, what :func:`kernels.train` accepts); at most
:data:`MAX_RECORDED` recorded epochs per network (the curve table has a column
for each); a name of at most :data:`MAX_NAME` characters; initial values,
learning rates, scales and momenta that the run's dtype holds (a learning rate
neither 0 nor infinite in it, float32 momentum below 1).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from kernels import ACTIVATIONS, LOSSES, SCHEMES, parse_param_name, tasks
from kernels.training import MAX_EPOCHS

from .design import Sample, parse_sample
from .errors import SpecError
from .errors import finite_float as _float
from .errors import show as _show
from .overrides import apply_overrides, parse_override
from .refine import Refine, Zoom, parse_refine, parse_zoom, spaced_values

__all__ = ["Spec", "SpecError", "load_spec", "bundled_specs", "AXES", "DEFAULTS", "CRITERIA",
           "MAX_NETWORKS", "MAX_AXIS_VALUES", "MAX_EPOCHS", "MAX_RECORDED", "MAX_NAME"]


#: Grid axes in cell order: the first axis varies slowest.  The axes that change
#: the compiled kernel come first, so each kernel's networks are one contiguous range.
#: Parameter axes (``"W1[0,1]"``, ``"b2"``, ...) follow them, in the spec's order.
AXES: tuple[str, ...] = ("task", "hidden", "activation", "loss", "init", "init_scale",
                         "momentum", "lr")
#: How many of the first AXES select the compiled kernel.
KERNEL_AXES = 4

#: Default value of every grid axis and top-level key.  ``task`` is a top-level key
#: (one task) or a grid axis (several), not both.
DEFAULTS: dict[str, Any] = {
    "task": "xor", "epochs": 5000, "replicates": 100, "seed": 0, "record_every": 50,
    "target_error": 0.1, "dtype": "float64",
    "grid": {"lr": [1.0], "momentum": [0.0], "init": ["uniform"], "init_scale": [1.0],
             "hidden": [2], "activation": ["sigmoid"], "loss": ["bce"]},
}

#: Convergence criteria: the threshold on max |output - target| each one means
#: (None: the spec's ``target_error``).  ``right-side``: every output on the right
#: side of 0.5 (Kolen & Pollack 1990); ``fahlman``: every output within 0.4 of its
#: target (Fahlman 1988's 40-20-40 criterion).
CRITERIA: dict[str, float | None] = {"target-error": None, "right-side": 0.5, "fahlman": 0.4}

#: The most networks one spec may hold (cells x replicates): replicate seeds are
#: ``(seed << 32) + r``, distinct across seeds only for r < 2**32; a run this size
#: already stores hundreds of GB.
MAX_NETWORKS = 2**32
#: The most values one grid axis may hold (the frozen spec lists every value).
MAX_AXIS_VALUES = 100_000
#: The most recorded epochs per network: the curve table has one column for each.
MAX_RECORDED = 10_000
#: The longest name: it is a directory name, and file systems allow 255 bytes.
MAX_NAME = 100
#: The longest description.
MAX_DESCRIPTION = 10_000
#: A bound on |base draw| / scale of each init scheme's parameters, for any D, H >= 1:
#: the normal draw is sqrt(-2 log(1 - u0)) cos(2 pi u1) with 1 - u0 >= 2**-53, so at
#: most sqrt(106 log 2) < 8.6; xavier's bound is sqrt(6 / (fan_in + fan_out)) <= sqrt(3)
#: and he's standard deviation sqrt(2 / fan_in) <= sqrt(2).
_DRAW_BOUND = {"uniform": 1.0, "normal": 8.6, "xavier": math.sqrt(3), "he": 8.6 * math.sqrt(2)}

_TOP_KEYS = ("name", "description", *(k for k in DEFAULTS if k != "grid"), "criterion",
             "grid", "init_values", "sample", "refine", "zoom")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_CHOICES = {"task": tasks.NAMES, "init": SCHEMES, "activation": ACTIVATIONS, "loss": LOSSES}


@dataclass(frozen=True)
class Spec:
    """A validated sweep spec.

    ``grid`` maps every axis in :data:`AXES` that is not sampled, then every
    parameter axis, to its values; ``init_values`` maps parameter names to fixed
    initial values; ``sample`` is the ``[sample]`` design (None for a grid alone),
    whose axes are absent from ``grid``; ``refine`` the ``[refine]`` table of a
    refined slice (None otherwise: see :mod:`sweeps.refine`), whose axes keep their
    level-0 values in ``grid``; ``zoom`` where a zoomed slice comes from (None
    otherwise).  ``target_error`` is the threshold of the chosen ``criterion``.
    """

    name: str
    epochs: int
    replicates: int
    seed: int
    record_every: int
    target_error: float
    dtype: str
    grid: dict[str, tuple]
    description: str = ""
    criterion: str = "target-error"
    init_values: dict[str, float] = field(default_factory=dict)
    sample: Sample | None = None
    refine: Refine | None = None
    zoom: Zoom | None = None

    @property
    def n_cells(self) -> int:
        """Number of cells: the product of the grid's axis lengths, times the design's points.

        For a refined slice, level 0's cells: later levels depend on the results.
        """
        return math.prod(len(v) for v in self.grid.values()) * (
            self.sample.n if self.sample else 1)

    @property
    def n_networks(self) -> int:
        """Number of networks: cells x replicates."""
        return self.n_cells * self.replicates

    @property
    def tasks(self) -> tuple[str, ...]:
        """The tasks of the sweep (the ``task`` axis)."""
        return self.grid["task"]

    @property
    def task(self) -> str | None:
        """The task when the sweep has one, else None."""
        return self.tasks[0] if len(self.tasks) == 1 else None

    @property
    def param_axes(self) -> tuple[str, ...]:
        """The grid axes that set an initial parameter (``"W1[0,1]"``, ...), in cell order."""
        return tuple(a for a in self.grid if a not in AXES)

    def values(self, axis: str) -> tuple:
        """Return the distinct values an axis takes: its grid values, or the design's, sorted."""
        if axis in self.grid:
            return self.grid[axis]
        if self.sample is not None and axis in self.sample.axes:
            return tuple(np.unique(self.sample.values(self.seed)[axis]).tolist())
        raise KeyError(axis)

    def to_dict(self) -> dict[str, Any]:
        """Return the spec as plain data, every axis as an explicit list.

        A single task is the top-level ``task``; defaults of the newer keys
        (``criterion``, ``init_values``) are left out, so a spec's digest does not
        change with the version that wrote it.
        """
        d = {"name": self.name, "description": self.description}
        if self.task is not None:
            d["task"] = self.task
        d |= {k: getattr(self, k) for k in ("epochs", "replicates", "seed", "record_every",
                                             "target_error", "dtype")}
        if self.criterion != "target-error":
            d["criterion"] = self.criterion
            del d["target_error"]
        d["grid"] = {a: list(v) for a, v in self.grid.items()
                     if not (a == "task" and self.task is not None)}
        if self.refine is not None:  # refined axes stay ranges: the finer grids need them
            for a, (kind, start, stop, n) in self.refine.ranges.items():
                d["grid"][a] = {kind: [start, stop, n]}
        if self.init_values:
            d["init_values"] = dict(self.init_values)
        if self.sample is not None:
            d["sample"] = self.sample.to_dict()
        if self.refine is not None:
            d["refine"] = self.refine.to_dict()
        if self.zoom is not None:
            d["zoom"] = self.zoom.to_dict()
        return d

    def to_toml(self) -> str:
        """Return the spec as TOML (explicit lists), which :func:`load_spec` reads back."""
        d = self.to_dict()
        tables = ("grid", "init_values", "sample", "refine", "zoom")
        lines = [f"{k} = {json.dumps(v)}" for k, v in d.items() if k not in tables]
        for table in tables:
            if table in d:
                lines += ["", f"[{table}]"]
                lines += [f"{_toml_key(a)} = {_toml_value(v)}" for a, v in d[table].items()]
        return "\n".join(lines) + "\n"

    def digest(self) -> str:
        """Return a hash of everything that determines the results (not name, description, zoom)."""
        d = self.to_dict()
        d.pop("name")
        d.pop("description")
        d.pop("zoom", None)
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def _toml_value(value) -> str:
    """Return a value as TOML: JSON for lists and scalars, ``{ k = v }`` for a table."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}"
                                for k, v in value.items()) + " }"
    return json.dumps(value)


def bundled_specs() -> dict[str, Path]:
    """Return the specs shipped with xorsweep, by name."""
    root = resources.files("sweeps") / "specs"
    return {Path(str(p)).stem: Path(str(p)) for p in root.iterdir() if str(p).endswith(".toml")}


def load_spec(source, *, overrides: Iterable[str] = ()) -> Spec:
    """Load and validate a spec from a TOML path, a bundled spec's name, a dict or a Spec.

    Parameters
    ----------
    source : path, str, dict or Spec
        The spec.
    overrides : iterable of str
        ``KEY=VALUE`` overrides (``"epochs=1000"``, ``"grid.lr=[0.5, 2.0]"``; VALUE is
        TOML), applied in order to the spec's data before it is validated: see
        :func:`sweeps.overrides.apply_overrides`.  The command line's ``--set``.
        Unless one sets ``description``, the description gains a note of those that
        set anything but ``name`` (``"... (--set epochs=100)"``), so that it does not
        describe the spec before them.

    Returns
    -------
    Spec
        The validated spec (the merged one, with overrides).

    Raises
    ------
    SpecError
        With a one-line message naming the key (or the override) and the fix.

    Examples
    --------
    >>> load_spec("quickstart", overrides=["epochs=100", "name=quick-100"]).epochs
    100
    """
    if isinstance(overrides, str):  # one override, not its characters
        overrides = [overrides]
    overrides = list(overrides)
    if overrides:
        data = source.to_dict() if isinstance(source, Spec) else _read(source)
        merged = apply_overrides(data, overrides)
        keys = [parse_override(o)[0][0] for o in overrides]
        noted = [o.strip() for o, k in zip(overrides, keys, strict=True) if k != "name"]
        if noted and "description" not in keys:
            before = str(merged.get("description", "")).rstrip()
            merged["description"] = (f"{before} " if before else "") + f"(--set {', '.join(noted)})"
        return _validate(merged)
    if isinstance(source, Spec):
        return source
    return _validate(_read(source))


def _plain(value):
    """Return ``value`` with NumPy scalars as Python scalars and arrays as lists, deeply."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    return value


def _read(source) -> dict:
    """Return the data of a spec given as a dict, a TOML path or a bundled spec's name.

    A dict may hold NumPy values: its scalars become Python numbers and its arrays
    lists, as TOML would give them.
    """
    if isinstance(source, dict):
        return _plain(source)
    text = str(source)
    path = Path(text)
    if not path.is_file():
        bundled = bundled_specs()
        if text not in bundled:
            raise SpecError(f"spec {text!r} is neither a TOML file nor a bundled spec "
                            f"({', '.join(sorted(bundled))}); check the path")
        path = bundled[text]
    try:
        text = path.read_bytes().decode("utf-8")
        if text.startswith("\ufeff"):
            raise SpecError(f"{path}: starts with a byte order mark (U+FEFF), which TOML does "
                            "not allow; save the spec as UTF-8 without one")
        data = tomllib.loads(text)
    except UnicodeDecodeError as exc:
        raise SpecError(f"{path}: not UTF-8 text (byte {exc.start}); save the spec as UTF-8"
                        ) from None
    except RecursionError:
        raise SpecError(f"{path}: nested too deeply to read; a spec needs a few levels "
                        "of tables and lists") from None
    except SpecError:
        raise
    except ValueError as exc:  # TOMLDecodeError, or an integer of thousands of digits
        if "digits" in str(exc) and not isinstance(exc, tomllib.TOMLDecodeError):
            raise SpecError(f"{path}: holds a number of thousands of digits; fix it") from None
        raise SpecError(f"{path}: not valid TOML ({exc}); fix the syntax") from None
    except OSError as exc:
        raise SpecError(f"{path}: cannot be read ({exc.strerror})") from None
    return data


def _validate(data: dict) -> Spec:
    unknown = [k for k in data if k not in _TOP_KEYS]
    if unknown:
        raise SpecError(f"unknown key {_show(unknown[0])}; valid keys are {', '.join(_TOP_KEYS)}")
    if "name" not in data:
        raise SpecError("missing key 'name'; give the sweep a name, e.g. name = \"my-sweep\"")
    name = data["name"]
    if not isinstance(name, str) or not _NAME.fullmatch(name) or ".." in name:
        raise SpecError(f"name = {_show(name)} is not a safe directory name; use letters, "
                        "digits, '.', '_' and '-' (no '/' or '..')")
    if len(name) > MAX_NAME:
        raise SpecError(f"name = {_show(name)} has {len(name)} characters; use at most "
                        f"{MAX_NAME}")
    description = data.get("description", "")
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
        raise SpecError(f"description must be a string of at most {MAX_DESCRIPTION:,} "
                        "characters")
    top = {k: data.get(k, v) for k, v in DEFAULTS.items() if k not in ("grid", "task")}
    for key in ("epochs", "replicates", "record_every"):
        v = top[key]
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise SpecError(f"{key} = {_show(v)} must be a positive integer")
    if top["epochs"] > MAX_EPOCHS:
        raise SpecError(f"epochs = {top['epochs']} is more than kernels.train accepts; use at "
                        f"most 2**62 = {MAX_EPOCHS}")
    recorded = top["epochs"] // top["record_every"] + 1 + (top["epochs"] % top["record_every"] > 0)
    if recorded > MAX_RECORDED:
        least = -(-top["epochs"] // (MAX_RECORDED - 2))
        raise SpecError(f"record_every = {top['record_every']} records {recorded:,} epochs per "
                        f"network, more than {MAX_RECORDED:,}; use record_every >= {least}")
    if isinstance(top["seed"], bool) or not isinstance(top["seed"], int) or not (
            0 <= top["seed"] < 2**31):
        raise SpecError(f"seed = {_show(top['seed'])} must be an integer from 0 to 2**31 - 1")
    criterion = data.get("criterion", "target-error")
    if not isinstance(criterion, str) or criterion not in CRITERIA:
        raise SpecError(f"criterion = {_show(criterion)} is unknown; use one of "
                        f"{', '.join(CRITERIA)}")
    if CRITERIA[criterion] is not None:
        if "target_error" in data:
            raise SpecError(f"criterion = {criterion!r} sets the threshold itself "
                            f"({CRITERIA[criterion]}); remove target_error")
        top["target_error"] = CRITERIA[criterion]
    te = top["target_error"]
    if isinstance(te, bool) or not isinstance(te, int | float) or not 0 < te <= 0.5:
        raise SpecError(f"target_error = {_show(te)} must be a number in (0, 0.5]")
    if top["dtype"] not in ("float32", "float64"):
        raise SpecError(f"dtype = {_show(top['dtype'])} is unknown; use \"float32\" or "
                        "\"float64\"")
    grid_in = data.get("grid", {})
    if not isinstance(grid_in, dict):
        raise SpecError("grid must be a table of axes, e.g. [grid] lr = [0.5, 1.0]")
    if "task" in data and "task" in grid_in:
        raise SpecError("task is given both as a top-level key and as a grid axis; keep one")
    task = data.get("task", DEFAULTS["task"])
    if "task" not in grid_in and (not isinstance(task, str) or task not in tasks.NAMES):
        raise SpecError(f"task = {_show(task)} is unknown; use one of "
                        f"{', '.join(tasks.NAMES)}")
    params = {}
    for a in grid_in:
        if a not in AXES:
            param = _param_name("grid", a)
            if param in params:
                raise SpecError(f"grid: parameter {param} is named twice (spaces are ignored); "
                                "keep one of them")
            params[param] = grid_in[a]
    sample = (parse_sample(data["sample"], {*(a for a in grid_in if a in AXES), *params})
              if "sample" in data else None)
    sampled = {} if sample is None else sample.axes
    grid = {a: _axis(a, grid_in.get(a, [task] if a == "task" else DEFAULTS["grid"].get(a)))
            for a in AXES if a not in sampled}
    grid |= {a: _axis(a, raw) for a, raw in params.items()}
    sampled_params = () if sample is None else sample.param_axes
    init_values = _init_values(data.get("init_values", {}),
                               dict.fromkeys(params, "grid") | dict.fromkeys(sampled_params,
                                                                              "sample"))
    _check_param_range([*params, *sampled_params, *init_values], grid)
    # what the checks of values need: each axis's values, or a sampled axis's bounds
    bounds = {a: (f"sample.{a}", sampled[a][1:]) for a in sampled}
    _check_sampled(bounds)
    _check_param_values(
        {**{a: (a, grid[a]) for a in params}, **{a: bounds[a] for a in sampled_params},
         **{a: (a, (v,)) for a, v in init_values.items()}}, top["dtype"])
    _check_in_dtype({a: bounds.get(a) or (f"grid.{a}", grid[a]) for a in ("lr", "init_scale",
                                                                          "momentum")},
                    grid["init"], top["dtype"])
    n_networks = math.prod(len(v) for v in grid.values()) * top["replicates"] * (
        sample.n if sample else 1)
    if n_networks > MAX_NETWORKS:
        raise SpecError(f"replicates: the spec has {n_networks:,} networks (cells x "
                        f"replicates), more than the limit of 2**32 = {MAX_NETWORKS:,}; use "
                        "fewer replicates or fewer axis values, or split the sweep")
    refine = None
    if "refine" in data:
        if sample is not None:
            raise SpecError("refine and sample cannot be combined: refinement splits the "
                            "cells of a grid; remove one of the two tables")
        refine = parse_refine(data["refine"], grid,
                              {**{a: grid_in[a] for a in grid_in if a in AXES}, **params})
        most = n_networks // math.prod(len(grid[a]) for a in refine.axes) * math.prod(
            refine.finest)
        if most > MAX_NETWORKS:
            raise SpecError(f"refine: refined everywhere the spec would have {most:,} "
                            f"networks, more than the limit of 2**32 = {MAX_NETWORKS:,}; use "
                            "fewer levels, replicates or axis values")
    zoom = parse_zoom(data["zoom"]) if "zoom" in data else None
    return Spec(name=name, description=description, grid=grid, criterion=criterion,
                init_values=init_values, sample=sample, refine=refine, zoom=zoom, **top)


def _param_name(where: str, name: str) -> str:
    """Return the canonical name of an initial parameter; ``where`` is "grid" or "init_values"."""
    try:
        array, index = parse_param_name(name)
    except ValueError:
        if where == "grid":
            raise SpecError(f"unknown grid axis {_show(name)}; axes are {', '.join(AXES)}, or an "
                            "initial parameter: W1[i,j] (input i to hidden unit j), b1[j], "
                            "W2[j], b2") from None
        raise SpecError(f"init_values: {_show(name)} is not a parameter name; use W1[i,j] (input i "
                        "to hidden unit j), b1[j], W2[j] or b2, indices from 0") from None
    return array + (f"[{','.join(map(str, index))}]" if index else "")


def _init_values(table, axes: dict[str, str]) -> dict[str, float]:
    """Validate ``[init_values]``; ``axes`` maps the parameter axes to "grid" or "sample"."""
    if not isinstance(table, dict):
        raise SpecError('init_values must be a table of parameter values, e.g. '
                        '[init_values] "W1[0,0]" = 0.5')
    out = {}
    for raw, v in table.items():
        name = _param_name("init_values", raw)
        if name in out:
            raise SpecError(f"init_values: {name!r} is named twice; name it once")
        if name in axes:
            raise SpecError(f"init_values: {name!r} is also a {axes[name]} axis; remove one of "
                            "them")
        out[name] = _float(f"init_values.{name}", v, " = ")
    return out


def _check_param_range(names, grid) -> None:
    D, smallest = min((tasks.by_name(t)[0].shape[1], t) for t in grid["task"])
    H = min(grid["hidden"])
    for name in names:
        array, index = parse_param_name(name)
        if array == "W1" and index[0] >= D:
            raise SpecError(f"{name}: input {index[0]} does not exist in task {smallest!r} "
                            f"({D} inputs, numbered from 0); use an input index below {D}")
        if array != "b2" and index[-1] >= H:
            raise SpecError(f"{name}: hidden unit {index[-1]} does not exist with hidden = {H} "
                            f"(units are numbered from 0); use a unit below {H} or raise "
                            "the smallest hidden width")


def _check_param_values(values, dtype) -> None:
    """Refuse initial values the run's dtype cannot hold (they are cast to it).

    ``values`` maps each parameter to ``(key, values)``: its grid values, sampled
    bounds or fixed value, and the key a message names.
    """
    limit = float(np.finfo(dtype).max)
    for key, vals in values.values():
        big = next((v for v in vals if abs(v) > limit), None)
        if big is not None:
            raise SpecError(f"{key} = {big!r} does not fit in {dtype} (largest {limit:.3g}); "
                            "use a smaller value")


def _check_sampled(bounds) -> None:
    """Refuse sampled ranges of lr, init_scale and momentum that a grid axis would refuse.

    ``bounds`` maps each sampled axis to ``(key, (low, high))``; the design's values lie
    in [low, high].
    """
    for axis in ("lr", "init_scale"):
        if axis in bounds and bounds[axis][1][0] <= 0:
            key, (low, _) = bounds[axis]
            raise SpecError(f"{key}: low {low!r} must be > 0")
    if "momentum" in bounds:
        key, (low, high) = bounds["momentum"]
        if low < 0 or high >= 1:
            raise SpecError(f"{key}: momentum must be in [0, 1); use bounds from 0 to below 1, "
                            "e.g. { uniform = [0, 0.95] }")


def _check_in_dtype(values, init, dtype) -> None:
    """Refuse learning rates, init scales and momenta that the dtype does not hold.

    Learning rates that round to 0 or overflow it, init scales whose draws overflow
    it, float32 momenta that round to 1.  ``values`` maps ``lr``, ``init_scale`` and
    ``momentum`` to ``(key, values)``: the grid's values, or a sampled axis's bounds
    (its values lie between them).
    """
    limit = float(np.finfo(dtype).max)
    wider = ", or dtype = \"float64\"" if dtype == "float32" else ""
    key, rates = values["lr"]
    if max(rates) > limit:
        raise SpecError(f"{key}: {max(rates)!r} overflows {dtype} (largest {limit:.4g}); use "
                        f"a smaller lr{wider}")
    if np.dtype(dtype).type(min(rates)) == 0:
        least = float(np.finfo(dtype).smallest_subnormal)
        raise SpecError(f"{key}: {min(rates)!r} rounds to 0 in {dtype}; use lr >= "
                        f"{least:.4g}{wider}")
    bound = max(_DRAW_BOUND[s] for s in init)
    key, scales = values["init_scale"]
    scale = max(scales)
    if scale * bound > limit:
        raise SpecError(f"{key}: {scale!r} can overflow {dtype} with init "
                        f"{', '.join(init)} (draws up to {bound:.3g} x scale; largest "
                        f"{dtype} {limit:.4g}); use init_scale <= {limit / bound:.4g}")
    if dtype == "float32":
        key, momenta = values["momentum"]
        one = next((m for m in momenta if np.float32(m) >= 1), None)
        if one is not None:
            raise SpecError(f"{key}: {one!r} rounds to 1.0 in float32; use at most "
                            f"{float(np.nextafter(np.float32(1), np.float32(0)))!r}, or "
                            "dtype = \"float64\"")


def _axis(axis: str, raw) -> tuple:
    key = f"grid.{axis}"
    if isinstance(raw, dict):
        values = _range_table(key, raw)
    elif isinstance(raw, list):
        values = list(raw)
    else:
        raise SpecError(f"{key} must be a list or a range table such as "
                        "{ linspace = [0.1, 2.0, 20] }")
    if not values:
        raise SpecError(f"{key} is empty; give at least one value")
    if len(values) > MAX_AXIS_VALUES:
        raise SpecError(f"{key} has {len(values):,} values; use at most {MAX_AXIS_VALUES:,}")
    if axis in _CHOICES:
        for v in values:
            if not isinstance(v, str) or v not in _CHOICES[axis]:
                raise SpecError(f"{key}: {_show(v)} is unknown; use one of "
                                f"{', '.join(_CHOICES[axis])}")
    elif axis == "hidden":
        for v in values:
            if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 1024:
                raise SpecError(f"{key}: {_show(v)} must be an integer from 1 to 1024")
    else:
        values = [_float(key, v) for v in values]
        if axis == "lr" and min(values) <= 0:
            raise SpecError(f"{key}: {min(values)!r} must be > 0")
        if axis == "momentum" and not all(0 <= v < 1 for v in values):
            raise SpecError(f"{key}: momentum must be in [0, 1)")
        if axis == "init_scale" and min(values) <= 0:
            raise SpecError(f"{key}: {min(values)!r} must be > 0")
    seen = set()
    for v in values:
        if v in seen:
            raise SpecError(f"{key}: duplicate value {v!r}; list each value once")
        seen.add(v)
    return tuple(values)


def _range_table(key: str, table: dict) -> list:
    if len(table) != 1 or next(iter(table)) not in ("linspace", "logspace", "range"):
        raise SpecError(f"{key} range table must have exactly one of linspace, logspace, "
                        "range; e.g. { logspace = [-1, 1, 9] }")
    kind, args = next(iter(table.items()))
    if (not isinstance(args, list) or len(args) != 3
            or not all(isinstance(a, int | float) and not isinstance(a, bool) for a in args)):
        third = "step" if kind == "range" else "n"
        raise SpecError(f"{key}.{kind} must be a list of three numbers [start, stop, {third}]")
    start, stop, n = args
    if kind == "range":
        if not all(isinstance(a, int) for a in args) or n == 0:
            raise SpecError(f"{key}.range must be three integers [start, stop, step], step != 0")
        count = max(0, (stop - start + n - (1 if n > 0 else -1)) // n)
        if count > MAX_AXIS_VALUES:
            raise SpecError(f"{key}.range gives {count:,} values; use at most "
                            f"{MAX_AXIS_VALUES:,} (a larger step or a shorter range)")
        return list(range(start, stop, n))
    if not isinstance(n, int) or not 1 <= n <= MAX_AXIS_VALUES:
        raise SpecError(f"{key}.{kind}: the count {_show(n)} must be an integer from 1 to "
                        f"{MAX_AXIS_VALUES:,}")
    start, stop = _float(f"{key}.{kind}", start), _float(f"{key}.{kind}", stop)
    # np.linspace, then (logspace) Python's 10.0 ** e (C pow, rounded correctly in practice),
    # not np.logspace: numpy's SIMD power differs in the last bit on some CPUs (seen with
    # AVX-512), and grid values and spec digests must be the same on every machine.  A
    # refined slice's finer grids are computed by the same function.
    try:
        values = spaced_values(kind, start, stop, n)
    except OverflowError:
        raise SpecError(f"{key}.logspace: 10**{max(start, stop)!r} overflows a float; use "
                        "exponents up to 308") from None
    if not all(math.isfinite(v) for v in values):
        raise SpecError(f"{key}.{kind}: [{start!r}, {stop!r}] is too wide a range for a "
                        "float; use smaller bounds")
    return values
