"""The argument lists of the C entry points, each declared once.

An entry point (see ``_native.py``) takes its arguments by position, as C does,
and trusts them: a pointer passed in another's place is no error, it is memory
corruption.  So each entry point's arguments are declared here, once, as an
ordered tuple of ``(name, kind)`` pairs, and everything that has to agree with
that order is derived from it:

- the ctypes argument codes ``_native.entry`` loads the entry point with
  (:attr:`EntrySignature.argcodes`);
- the numba ``cfunc`` signature it is compiled with
  (:meth:`EntrySignature.numba_type`) and the parameters of the Python function
  behind it (:attr:`EntrySignature.names`: generated into ``_codegen``'s modules,
  checked for ``_seeding._entry`` by :meth:`EntrySignature.check_parameters`);
- the arguments of every call (:meth:`EntrySignature.pack`), built from keyword
  arguments: a missing or unknown name, an array of another dtype or a
  non-contiguous one raises before anything is called.

Kinds: the scalars ``int64``, ``float32``, ``float64``, and ``real`` (the
kernel's float dtype); pointers to the data of a C-contiguous array, written with
a trailing ``*`` (``int8*``, ``int64*``, ``uint64*``, ``float64*``, ``real*``).  A
signature with ``real`` in it is generic: :meth:`EntrySignature.for_dtype` makes
the concrete one.

This module does not import numba: a process that loads cached entry points
never does (``numba_type`` imports it when called).
"""

from __future__ import annotations

import functools
import inspect
import operator
from dataclasses import dataclass

import numpy as np

__all__ = ["EntrySignature", "TRAIN_ENTRY", "INIT_ENTRY"]

#: ctypes argument codes of the scalar kinds (``_native.entry``: ``p`` for every pointer).
_SCALAR_CODES = {"int64": "i", "float32": "f", "float64": "d"}
_POINTEES = frozenset({"int8", "int64", "uint64", "float32", "float64"})
_REALS = frozenset({"float32", "float64"})


@dataclass(frozen=True)
class EntrySignature:
    """The ordered arguments of one C entry point, which returns nothing.

    Parameters
    ----------
    name : str
        What the entry point is, for messages.
    args : tuple of (str, str)
        ``(name, kind)`` in the order the entry point takes them (kinds: see the
        module docstring).

    Raises
    ------
    ValueError
        A name appears twice, or a kind is unknown.
    """

    name: str
    args: tuple[tuple[str, str], ...]

    def __post_init__(self) -> None:
        names = self.names
        if len(set(names)) != len(names):
            twice = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f"{self.name}: argument names appear twice: {', '.join(twice)}")
        for name, kind in self.args:
            base = kind.removesuffix("*")
            if base != "real" and base not in (_POINTEES if kind.endswith("*") else _SCALAR_CODES):
                raise ValueError(f"{self.name}: argument {name} has unknown kind {kind!r}")

    @property
    def names(self) -> tuple[str, ...]:
        """The argument names, in order."""
        return tuple(name for name, _ in self.args)

    @property
    def kinds(self) -> tuple[str, ...]:
        """The argument kinds, in order."""
        return tuple(kind for _, kind in self.args)

    @property
    def generic(self) -> bool:
        """Whether an argument's kind is ``real`` or ``real*`` (see :meth:`for_dtype`)."""
        return any(kind.removesuffix("*") == "real" for kind in self.kinds)

    def for_dtype(self, dtype) -> EntrySignature:
        """Return this signature with ``real`` read as ``dtype`` (float32 or float64)."""
        return _concrete(self, np.dtype(dtype).name)

    @property
    def argcodes(self) -> str:
        """The ``argcodes`` of ``_native.entry``: ``i`` int64, ``p`` pointer, ``f``, ``d``."""
        self._require_concrete()
        return "".join("p" if kind.endswith("*") else _SCALAR_CODES[kind] for kind in self.kinds)

    def numba_type(self):
        """Return numba's ``void(...)`` signature of the ``cfunc`` (imports numba)."""
        from numba import types

        self._require_concrete()
        return types.void(*(types.CPointer(getattr(types, kind[:-1])) if kind.endswith("*")
                            else getattr(types, kind) for kind in self.kinds))

    def check_parameters(self, function) -> None:
        """Raise ``TypeError`` unless ``function``'s parameters are :attr:`names`, in order."""
        params = tuple(inspect.signature(function).parameters)
        if params != self.names:
            raise TypeError(f"{self.name}: {function.__qualname__} takes ({', '.join(params)}), "
                            f"the declaration ({', '.join(self.names)})")

    def pack(self, **values) -> tuple:
        """Return the positional arguments of a call, from one keyword per argument.

        Pointers are given as arrays and passed as the address of their data, so
        the caller keeps the arrays referenced until the call returns; ``int64``
        arguments must be integers (``operator.index``), float ones are passed as
        ``float``.

        Raises
        ------
        TypeError
            A name is missing or unknown; an integer argument is not an integer;
            a pointer argument is not an array of the declared dtype.
        ValueError
            A pointer argument's array is not C-contiguous.
        """
        self._require_concrete()
        if values.keys() != set(self.names):
            missing = [n for n in self.names if n not in values]
            extra = sorted(set(values) - set(self.names))
            raise TypeError(f"{self.name}: missing arguments {missing}, unknown arguments {extra}")
        return tuple(_convert(self.name, name, kind, values[name]) for name, kind in self.args)

    def _require_concrete(self) -> None:
        if self.generic:
            raise TypeError(f"{self.name}: generic in its float dtype; call for_dtype first")


@functools.cache
def _concrete(signature: EntrySignature, real: str) -> EntrySignature:
    if real not in _REALS:
        raise ValueError(f"{signature.name}: the float dtype must be float32 or float64, "
                         f"got {real}")
    return EntrySignature(signature.name, tuple(
        (name, real + kind[4:] if kind.removesuffix("*") == "real" else kind)
        for name, kind in signature.args))


def _convert(entry: str, name: str, kind: str, value):
    if kind.endswith("*"):
        if not isinstance(value, np.ndarray) or value.dtype != np.dtype(kind[:-1]):
            got = value.dtype if isinstance(value, np.ndarray) else type(value).__name__
            raise TypeError(f"{entry}: argument {name} must be a {kind[:-1]} array, got {got}")
        if not value.flags.c_contiguous:
            raise ValueError(f"{entry}: argument {name} must be C-contiguous")
        return value.ctypes.data
    if kind == "int64":
        return operator.index(value)
    return float(value)


#: The generated training kernels' entry point (``_codegen``'s ``_entry``): blocks
#: ``b_start .. b_stop - 1`` of ``N`` networks, ``K`` recorded epochs; results written to
#: ``curve`` .. ``outcome``; ``st`` (R * lanes values), ``conv_l`` (lanes) and
#: ``curve_block`` (K * lanes values) are the caller's scratch, one set per thread.
TRAIN_ENTRY = EntrySignature("training entry point", (
    ("b_start", "int64"), ("b_stop", "int64"), ("N", "int64"), ("K", "int64"),
    ("W1", "real*"), ("b1", "real*"), ("W2", "real*"), ("b2", "real*"),
    ("lr", "real*"), ("mom", "real*"), ("X", "real*"), ("Y", "real*"),
    ("epochs", "int64"), ("curve_epochs", "int64*"),
    ("target", "real"), ("one", "real"), ("sat_tol", "float64"), ("plat_tol", "float64"),
    ("curve", "real*"), ("loss_out", "real*"), ("outputs", "real*"), ("conv", "int64*"),
    ("outcome", "int8*"), ("st", "real*"), ("conv_l", "int64*"), ("curve_block", "real*"),
))

#: The initializer's entry point (``_seeding._entry``): networks ``start .. stop - 1`` of
#: ``N``, drawn in float64 from ``seeds``; ``normal`` nonzero: normal draws.
INIT_ENTRY = EntrySignature("initializer entry point", (
    ("start", "int64"), ("stop", "int64"), ("N", "int64"), ("D", "int64"), ("H", "int64"),
    ("seeds", "uint64*"), ("normal", "int64"),
    ("w_scale1", "float64"), ("w_scale2", "float64"), ("b_scale", "float64"),
    ("W1", "float64*"), ("b1", "float64*"), ("W2", "float64*"), ("b2", "float64*"),
))
