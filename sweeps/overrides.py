"""Changing a spec without editing it: ``--set KEY=VALUE`` overrides, and spec differences.

An override is ``KEY=VALUE``, split at the first ``=``.  KEY is a dotted TOML key
(``epochs``, ``grid.lr``, ``init_values."W1[0,1]"``: bare names, or quoted names for
those with brackets).  VALUE is a TOML value, read as the right-hand side of
``v = VALUE``: ``1000``, ``[0.5, 2.0]``, ``{ linspace = [0.5, 4, 8] }``, ``"text"``.
A bare word that TOML cannot read (letters, digits, ``_``, ``.`` and ``-``, starting
with a letter: ``float32``, ``right-side``, ``lr-wide``) is taken as a string, so
``name=lr-wide`` needs no quotes; a word TOML does read (``true``, ``inf``, a number
or a date) is that value, and needs quotes to be a string.

Overrides apply in order, each setting or replacing one key (tables on the way are
created); the merged data is then validated exactly as a spec file is, so a key the
spec does not know is refused there.  Hydra's override grammar is the model
(``foo.bar=value``), without its ``+``/``~`` prefixes: the validator, not the
grammar, says which keys exist.
"""

from __future__ import annotations

import copy
import json
import re
import tomllib
from collections.abc import Iterable
from typing import Any

from .errors import SpecError

__all__ = ["apply_overrides", "parse_override", "describe_changes"]

#: A word taken as a string when TOML cannot read it as a value.
_BARE_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _dotted(path) -> str:
    """Return a key path as TOML writes it: ``init_values."W1[0,1]"``."""
    return ".".join(k if _BARE_KEY.fullmatch(k) else json.dumps(k) for k in path)


def parse_override(text: str) -> tuple[tuple[str, ...], Any]:
    """Parse one ``KEY=VALUE`` override into its key path and value.

    Parameters
    ----------
    text : str
        ``KEY=VALUE``: a dotted TOML key, ``=``, a TOML value (or a bare word).

    Returns
    -------
    tuple of (tuple of str, object)
        The key path (``("grid", "lr")``) and the parsed value.

    Raises
    ------
    SpecError
        If there is no ``=``, the key is not a dotted TOML key, or the value is not TOML.

    Examples
    --------
    >>> parse_override("grid.init_scale={linspace=[0.5, 4, 8]}")
    (('grid', 'init_scale'), {'linspace': [0.5, 4, 8]})
    >>> parse_override("name=lr-wide")
    (('name',), 'lr-wide')
    """
    if not isinstance(text, str) or "=" not in text:
        raise SpecError(f"override {text!r} has no '='; write KEY=VALUE, e.g. epochs=1000")
    key, value = (part.strip() for part in text.split("=", 1))
    if not key or _CONTROL.search(key):
        raise SpecError(f"override {text!r} has no key before '='; write KEY=VALUE, e.g. "
                        "epochs=1000")
    bad_key = (f"override {text!r}: {key!r} is not a dotted key; write names such as epochs "
               "or grid.lr, quoting a name with brackets: 'init_values.\"W1[0,1]\"=0.5'")
    try:
        node = tomllib.loads(f"{key} = 0")
    except tomllib.TOMLDecodeError:
        raise SpecError(bad_key) from None
    path = []
    while isinstance(node, dict):  # a dotted key parses to a chain of one-key tables
        if len(node) != 1:
            raise SpecError(bad_key)
        k, node = next(iter(node.items()))
        path.append(k)
    if not value:
        raise SpecError(f"override {text!r} has no value; give a TOML value after '=': a "
                        "number, \"text\", [a, list] or { an = inline table }")
    try:
        parsed = tomllib.loads(f"v = {value}")
    except tomllib.TOMLDecodeError as exc:
        if _BARE_WORD.fullmatch(value):
            return tuple(path), value
        # the position TOML gives is in "v = VALUE", not in what the user typed
        why = re.sub(r" \(at (line \d+, column \d+|end of document)\)", "", str(exc))
        raise SpecError(f"override {text!r}: {value!r} is not a TOML value ({why}); quote "
                        "strings and close brackets, e.g. 'grid.init=[\"xavier\", \"he\"]'"
                        ) from None
    if set(parsed) != {"v"}:  # a value with a line break and another assignment in it
        raise SpecError(f"override {text!r}: the value holds more than one TOML value; give "
                        "one value per --set")
    return tuple(path), parsed["v"]


def apply_overrides(data: dict, overrides: Iterable[str]) -> dict:
    """Return spec data with ``KEY=VALUE`` overrides applied in order (not validated).

    Parameters
    ----------
    data : dict
        Spec data as read from TOML (left unchanged).
    overrides : iterable of str
        ``KEY=VALUE`` strings (see :func:`parse_override`); a later one wins.

    Returns
    -------
    dict
        A new dict: ``data`` with each key set or replaced.  Pass it to
        :func:`sweeps.load_spec`, which validates it as it does a file.

    Raises
    ------
    SpecError
        If an override cannot be parsed (see :func:`parse_override`), or sets a key
        inside a value that is not a table (``grid.lr.x=1`` with ``grid.lr`` a list).

    Examples
    --------
    >>> apply_overrides({"name": "t", "grid": {"lr": [1.0]}},
    ...                 ["epochs=1000", "grid.lr=[0.5, 2.0]"])
    {'name': 't', 'grid': {'lr': [0.5, 2.0]}, 'epochs': 1000}
    """
    if isinstance(overrides, str):  # one override, not its characters
        overrides = [overrides]
    merged = copy.deepcopy(data)
    for text in overrides:
        path, value = parse_override(text)
        table = merged
        for i, k in enumerate(path[:-1]):
            node = table.setdefault(k, {})
            if not isinstance(node, dict):
                where = _dotted(path[:i + 1])
                raise SpecError(f"override {text!r}: {where} is {_show(node)}, not a table; "
                                f"set {where} itself, e.g. {where}=...")
            table = node
        table[path[-1]] = value
    return merged


def _show(value, width: int = 30) -> str:
    """Return a value as JSON (TOML-like), cut to ``width`` characters."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):  # dates and the like
        text = repr(value)
    return text if len(text) <= width else text[:width - 3] + "..."


def _flatten(d: dict, prefix: tuple = ()) -> dict[tuple, Any]:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out |= _flatten(v, (*prefix, k))
        else:
            out[(*prefix, k)] = v
    return out


def describe_changes(old: dict, new: dict, *, limit: int = 3) -> str:
    """Say which keys differ between two specs' data, in one line.

    Parameters
    ----------
    old, new : dict
        Spec data, best the ``to_dict()`` of validated specs (explicit lists).
    limit : int
        The most keys named; the rest are counted.

    Returns
    -------
    str
        ``"epochs: 3000 -> 1000, grid.lr: [1.0] -> [0.5, 2.0]"`` (long values cut,
        a missing key shown as ``(unset)``); ``name``, ``description`` and ``zoom`` are
        left out (they do not change results: the spec's digest leaves them out too).
        Empty if nothing else differs.

    Examples
    --------
    >>> describe_changes({"epochs": 3000, "grid": {"lr": [1.0]}},
    ...                  {"epochs": 1000, "grid": {"lr": [0.5, 2.0]}})
    'epochs: 3000 -> 1000, grid.lr: [1.0] -> [0.5, 2.0]'
    """
    a, b = _flatten(old), _flatten(new)
    missing = object()
    keys = [*b, *(k for k in a if k not in b)]
    changed = [k for k in keys if k[0] not in ("name", "description", "zoom")
               and a.get(k, missing) != b.get(k, missing)]
    words = [f"{_dotted(k)}: {_show(a[k]) if k in a else '(unset)'} -> "
             f"{_show(b[k]) if k in b else '(unset)'}" for k in changed[:limit]]
    if len(changed) > limit:
        words.append(f"and {len(changed) - limit} more")
    return ", ".join(words)
