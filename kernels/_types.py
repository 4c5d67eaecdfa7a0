"""Result and parameter containers of the kernel API."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ._validation import check_int

#: What a kernel call computes: outputs (and losses), gradients, or a training run.
MODE_FORWARD, MODE_GRADIENTS, MODE_TRAIN = 0, 1, 2

#: Outcome labels, indexed by the kernels' outcome codes (see :func:`kernels.train`).
OUTCOMES: tuple[str, ...] = ("converged", "slow", "plateau", "stuck", "saturated", "diverged")


_PARAM = re.compile(r"^(W1)\[(\d+),(\d+)\]$|^(b1|W2)\[(\d+)\]$|^(b2)$")


def param_names(n_inputs: int, n_hidden: int) -> list[str]:
    """Return the names of a network's parameters, in ``Params`` order.

    Parameters
    ----------
    n_inputs, n_hidden : int
        D and H of the networks.

    Returns
    -------
    list of str
        ``W1[i,j]`` (the weight from input i to hidden unit j), ``b1[j]`` (hidden unit
        j's bias), ``W2[j]`` (the weight from hidden unit j to the output) and ``b2``
        (the output's bias), indices from 0; D * H + 2 * H + 1 names.

    Examples
    --------
    >>> param_names(2, 2)
    ['W1[0,0]', 'W1[0,1]', 'W1[1,0]', 'W1[1,1]', 'b1[0]', 'b1[1]', 'W2[0]', 'W2[1]', 'b2']

    Raises
    ------
    ValueError
        If ``n_inputs`` or ``n_hidden`` is not an integer >= 1.
    """
    n_inputs = check_int("n_inputs", n_inputs, low=1)
    n_hidden = check_int("n_hidden", n_hidden, low=1)
    return ([f"W1[{i},{j}]" for i in range(n_inputs) for j in range(n_hidden)]
            + [f"b1[{j}]" for j in range(n_hidden)] + [f"W2[{j}]" for j in range(n_hidden)]
            + ["b2"])


def parse_param_name(name: str) -> tuple[str, tuple[int, ...]]:
    """Split a parameter name into its array and index.

    Parameters
    ----------
    name : str
        ``W1[i,j]``, ``b1[j]``, ``W2[j]`` or ``b2``; spaces are ignored.

    Returns
    -------
    array : str
        ``"W1"``, ``"b1"``, ``"W2"`` or ``"b2"``.
    index : tuple of int
        The index into that array after the network axis (empty for ``b2``).

    Raises
    ------
    ValueError
        If ``name`` has none of these forms.

    Examples
    --------
    >>> parse_param_name("W1[0, 1]")
    ('W1', (0, 1))
    """
    m = _PARAM.match(name.replace(" ", "")) if isinstance(name, str) else None
    if m is None:
        raise ValueError(f"{name!r} is not a parameter name; use W1[i,j] (input i to hidden "
                         "unit j), b1[j], W2[j] or b2, indices from 0")
    if m.group(1):
        return "W1", (int(m.group(2)), int(m.group(3)))
    if m.group(4):
        return m.group(4), (int(m.group(5)),)
    return "b2", ()


@dataclass(frozen=True)
class Params:
    """Parameters of a population of 2-layer networks, network-major.

    Attributes
    ----------
    W1 : ndarray, shape (n_nets, n_inputs, n_hidden)
    b1 : ndarray, shape (n_nets, n_hidden)
    W2 : ndarray, shape (n_nets, n_hidden)
    b2 : ndarray, shape (n_nets,)

    All four share one floating dtype (float32 or float64).  The arrays are not
    copied (nested lists become arrays); kernels never modify the arrays they are given.
    """

    W1: np.ndarray
    b1: np.ndarray
    W2: np.ndarray
    b2: np.ndarray

    def __post_init__(self):
        for name in ("W1", "b1", "W2", "b2"):
            value = getattr(self, name)
            if not isinstance(value, np.ndarray):  # lists: as arrays, so the shape is known
                object.__setattr__(self, name, np.asarray(value))

    @property
    def n_nets(self) -> int:
        """Number of networks."""
        return int(self.W1.shape[0])

    @property
    def n_inputs(self) -> int:
        """Inputs per network (D)."""
        return int(self.W1.shape[1])

    @property
    def n_hidden(self) -> int:
        """Hidden units per network (H)."""
        return int(self.W1.shape[2])

    @property
    def dtype(self) -> np.dtype:
        """Floating dtype of the parameters."""
        return self.W1.dtype

    def take(self, index) -> Params:
        """Return the networks selected by ``index`` (integers, slice or mask) as new Params.

        One integer selects one network, kept as a population of one.
        """
        index = np.atleast_1d(np.arange(self.n_nets)[index])
        return Params(self.W1[index], self.b1[index], self.W2[index], self.b2[index])

    def astype(self, dtype) -> Params:
        """Return a copy cast to ``dtype``."""
        return Params(*(np.array(a, dtype=dtype) for a in self.arrays()))

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Return ``(W1, b1, W2, b2)``."""
        return self.W1, self.b1, self.W2, self.b2

    def get(self, name: str) -> np.ndarray:
        """Return one named parameter of every network (a view, so it can be assigned to).

        Parameters
        ----------
        name : str
            A name of :func:`param_names`, e.g. ``"W1[0,1]"``.

        Returns
        -------
        ndarray, shape (n_nets,)

        Raises
        ------
        ValueError
            If the name is malformed or its index is out of range for these networks.
        """
        array, index = parse_param_name(name)
        limits = {"W1": (self.n_inputs, self.n_hidden), "b1": (self.n_hidden,),
                  "W2": (self.n_hidden,), "b2": ()}[array]
        if any(not 0 <= i < n for i, n in zip(index, limits, strict=True)):
            raise ValueError(f"{name!r} is out of range for networks with n_inputs = "
                             f"{self.n_inputs} and n_hidden = {self.n_hidden}; the names are "
                             f"{', '.join(param_names(self.n_inputs, self.n_hidden))}")
        return getattr(self, array)[(slice(None), *index)]

    def with_values(self, values: dict) -> Params:
        """Return a copy with named parameters set.

        Parameters
        ----------
        values : dict
            Parameter name -> a scalar or one value per network (shape (n_nets,)),
            cast to the parameters' dtype.

        Returns
        -------
        Params
            New arrays; ``self`` is unchanged.

        Raises
        ------
        ValueError
            If a name is malformed or out of range (see :meth:`get`), or its values
            are neither a scalar nor one per network.

        Examples
        --------
        >>> p = Params(np.zeros((3, 2, 2)), np.zeros((3, 2)), np.zeros((3, 2)), np.zeros(3))
        >>> p.with_values({"W1[0,1]": [1.0, 2.0, 3.0], "b2": 0.5}).W1[:, 0, 1]
        array([1., 2., 3.])
        """
        out = Params(*(a.copy() for a in self.arrays()))
        for name, v in values.items():
            target = out.get(name)
            shape = np.shape(v)
            if shape not in ((), (self.n_nets,)):
                raise ValueError(f"{name}: got values of shape {shape} for {self.n_nets} "
                                 f"networks; give a scalar or one value per network, shape "
                                 f"({self.n_nets},)")
            target[...] = v
        return out


@dataclass(frozen=True)
class TrainResult:
    """What :func:`kernels.train` returns, one row per network.

    Attributes
    ----------
    params : Params
        Final parameters (those of a diverged network are frozen where it diverged).
    loss : ndarray, shape (n_nets,)
        Loss of the final parameters (the loss at epoch ``epochs``); NaN if diverged.
    outputs : ndarray, shape (n_nets, n_samples)
        Outputs of the final parameters.
    converged_epoch : ndarray of int64, shape (n_nets,)
        First epoch in 0..epochs at which every output was within ``target_error``
        of its target, or -1.
    curve : ndarray, shape (n_nets, n_recorded)
        Loss at the epochs in ``curve_epochs``; NaN from the epoch a network diverged.
        Column-major (the transpose of a C-ordered array): each recorded epoch's
        losses are contiguous.
    curve_epochs : ndarray of int64, shape (n_recorded,)
        0, k, 2k, ... and ``epochs`` for ``record_every=k``; empty when not recording.
    outcome : ndarray of str, shape (n_nets,)
        One of :data:`kernels.OUTCOMES` per network.
    outcome_code : ndarray of int8, shape (n_nets,)
        The same outcomes as indices into :data:`kernels.OUTCOMES` (what the kernels
        compute; ``np.bincount`` counts them, and they cost no string comparisons).
        Found from ``outcome`` when a result is built without it.
    """

    params: Params
    loss: np.ndarray
    outputs: np.ndarray
    converged_epoch: np.ndarray
    curve: np.ndarray
    curve_epochs: np.ndarray
    outcome: np.ndarray
    outcome_code: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.outcome_code is None:
            codes = np.full(np.shape(self.outcome), -1, np.int8)
            for code, name in enumerate(OUTCOMES):
                codes[np.asarray(self.outcome) == name] = code
            object.__setattr__(self, "outcome_code", codes)
