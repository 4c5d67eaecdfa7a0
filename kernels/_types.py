"""Result and parameter containers of the kernel API."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Outcome labels, indexed by the kernels' outcome codes (see :func:`kernels.train`).
OUTCOMES: tuple[str, ...] = ("converged", "slow", "plateau", "stuck", "saturated", "diverged")


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
    copied; kernels never modify the arrays they are given.
    """

    W1: np.ndarray
    b1: np.ndarray
    W2: np.ndarray
    b2: np.ndarray

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
        """Return the networks selected by ``index`` (integers, slice or mask) as new Params."""
        index = np.arange(self.n_nets)[index]
        return Params(self.W1[index], self.b1[index], self.W2[index], self.b2[index])

    def astype(self, dtype) -> Params:
        """Return a copy cast to ``dtype``."""
        return Params(*(np.array(a, dtype=dtype) for a in self.arrays()))

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Return ``(W1, b1, W2, b2)``."""
        return self.W1, self.b1, self.W2, self.b2


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
    curve_epochs : ndarray of int64, shape (n_recorded,)
        0, k, 2k, ... and ``epochs`` for ``record_every=k``; empty when not recording.
    outcome : ndarray of str, shape (n_nets,)
        One of :data:`kernels.OUTCOMES` per network.
    """

    params: Params
    loss: np.ndarray
    outputs: np.ndarray
    converged_epoch: np.ndarray
    curve: np.ndarray
    curve_epochs: np.ndarray
    outcome: np.ndarray
