"""The math of one network, one sample at a time, as plain-Python scalar functions.

This module is the single source of the formulas.  The CPU kernels compile these
functions with ``numba.njit`` (see ``_cpu.py``); a GPU build compiles the same
functions as device functions, so the targets cannot drift.  Rules that keep them
compilable for every target and exact in every precision:

* Call only ``math``, each other, and the elementary functions
  of ``_elementary.py`` (``exp_neg``, ``log1p``: vectorizable, unlike libm);
  no allocation, no exceptions.
* Never write a float literal: ``one`` is passed in the working dtype and every
  other constant is derived from it, so float32 networks are computed in float32
  rather than silently promoted to float64.
* Prefer selects to branches (``a if c else b`` on values), so that a loop over
  SIMD lanes stays vectorized; branch (``if``) only on the integer codes
  (activation, loss): the generated kernels write these bodies out with the
  codes as constants (``_inline.py``), keeping one arm of each such ``if``.

Activation codes: 0 sigmoid, 1 tanh, 2 relu.  Loss codes: 0 bce, 1 mse.
"""

from __future__ import annotations

import math

from ._elementary import exp_neg, log1p

__all__ = ["activate", "activate_grad", "output", "loss_term", "loss_log_acc", "ends_log_group",
           "loss_log", "loss_grad", "classify"]

#: Samples whose log terms share one log1p (see :func:`loss_log_acc`); 1 + u <= 2**32.
LOG_GROUP = 32


def activate(z, act, one):
    r"""Return the hidden activation :math:`a = \mathrm{act}(z)`.

    .. math::

        \sigma(z) = \frac{1}{1 + e^{-z}}, \qquad \tanh(z), \qquad \max(z, 0)

    The sigmoid is evaluated from :math:`e^{-|z|}`, which never overflows.
    """
    zero = one - one
    if act == 0:
        e = exp_neg(-abs(z))
        return (one if z >= zero else e) / (one + e)
    if act == 1:
        return math.tanh(z)
    return z if z > zero else zero


def activate_grad(z, a, act, one):
    r"""Return the hidden activation's derivative :math:`\mathrm{act}'(z)`, given :math:`a`.

    .. math::

        \sigma'(z) = a (1 - a), \qquad \tanh'(z) = 1 - a^2, \qquad
        \mathrm{relu}'(z) = [z > 0]
    """
    zero = one - one
    if act == 0:
        return a * (one - a)
    if act == 1:
        return one - a * a
    return one if z > zero else zero


def output(z2, one):
    r"""Return the sigmoid output :math:`a_2 = \sigma(z_2)` and :math:`e = e^{-|z_2|}`."""
    zero = one - one
    e = exp_neg(-abs(z2))
    return (one if z2 >= zero else e) / (one + e), e


def loss_term(z2, a2, y, loss, one):
    r"""Return the per-sample loss term, less its logarithm (see :func:`loss_log_acc`).

    .. math::

        \ell_\mathrm{bce} = y\,\mathrm{softplus}(-z_2) + (1 - y)\,\mathrm{softplus}(z_2),
        \qquad \ell_\mathrm{mse} = (a_2 - y)^2

    with :math:`\mathrm{softplus}(z) = \max(z, 0) + \log(1 + e^{-|z|})`: the
    log-sigmoid form of binary cross-entropy, finite for every finite :math:`z_2`
    and without cancellation for targets 0 and 1.  For bce this returns the part
    outside the logarithm, :math:`y \max(-z_2, 0) + (1 - y) \max(z_2, 0)`; the
    logarithms of a group of samples are summed by one call of :func:`loss_log`.
    The loss of a network is the mean of the terms over its samples.
    """
    zero = one - one
    if loss == 0:
        pos = z2 if z2 > zero else zero
        neg = zero - z2 if z2 < zero else zero
        return y * neg + (one - y) * pos
    d = a2 - y
    return d * d


def loss_log_acc(u, e, loss, one):
    r"""Fold one sample's :math:`e = e^{-|z_2|}` into a group's log accumulator :math:`u`.

    For bce, :math:`u \leftarrow u + e + u e`, so that after samples :math:`1..n`
    (from :math:`u = 0`) :math:`1 + u = \prod (1 + e_s)` and
    :math:`\sum \log(1 + e_s) = \mathrm{log1p}(u)`: one logarithm per group of
    up to :data:`LOG_GROUP` samples instead of one per sample.  All terms are
    nonnegative and no :math:`1 + u` is ever rounded, so the relative error of
    :math:`u` stays below :math:`3n` rounding errors (far less in practice) down to
    the subnormal range, like that of a sum of separate log1p terms.  For mse,
    :math:`u` stays 0.
    """
    if loss == 0:
        return u + e + u * e
    return u


def ends_log_group(s, n_samples):
    """Return whether sample ``s`` (from 0) is the last of its log group: add its ``loss_log``."""
    return (s + 1) % LOG_GROUP == 0 or s == n_samples - 1


def loss_log(u, loss, one):
    r"""Return the summed log terms of a group, :math:`\mathrm{log1p}(u)` (0 for mse)."""
    if loss == 0:
        return log1p(u)
    return one - one


def loss_grad(a2, y, inv_s, loss, one):
    r"""Return the gradient of the mean loss with respect to :math:`z_2` for one sample.

    .. math::

        \frac{\partial L}{\partial z_2} = \frac{\partial L}{\partial a_2}\, a_2 (1 - a_2)
        = \begin{cases}
            (a_2 - y) / S & \text{bce} \\
            2 (a_2 - y) a_2 (1 - a_2) / S & \text{mse}
          \end{cases}
    """
    if loss == 0:
        return (a2 - y) * inv_s
    return (one + one) * (a2 - y) * inv_s * (a2 * (one - a2))


def classify(min_margin, min_wrong_dist, max_half_dist, converged, alive, sat_tol, plat_tol):
    """Return the outcome code of a trained network from summaries of its final outputs.

    ``min_margin`` is the smallest signed margin over samples (a2 - 1/2 where
    y = 1, 1/2 - a2 where y = 0); ``min_wrong_dist`` the smallest distance of an
    output to its wrong target, |a2 - (1 - y)|; ``max_half_dist`` the largest
    |a2 - 1/2|.  Codes, checked in this order: 5 diverged (not ``alive``),
    0 converged (``converged``), 4 saturated (some output within ``sat_tol`` of
    its wrong target), 2 plateau (every output within ``plat_tol`` of 1/2),
    1 slow (every output strictly on the right side of 1/2), 3 stuck (otherwise).
    """
    if not alive:
        return 5
    if converged:
        return 0
    if min_wrong_dist < sat_tol:
        return 4
    if max_half_dist < plat_tol:
        return 2
    if min_margin > 0:
        return 1
    return 3
