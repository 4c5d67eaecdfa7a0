"""Loss-curve bands aggregated chunk by chunk, never holding all curves at once.

A run of 10^6 networks recording 100 epochs holds 10^8 losses; the median and
quartiles per group and epoch are computed from a histogram of log10(loss)
accumulated over the chunks instead (:data:`BINS_PER_DECADE` bins per decade).
Quantile q is the ceil(q n)-th smallest loss of a group and epoch (an order
statistic: the lower median for even n, not ``np.quantile``'s interpolation between
two losses, which differs where the losses are far apart, as between converged and
stuck networks), to within half a bin: 2.9% relative, for losses between 1e-12 and
1e2; smaller or larger ones are counted in the end bins.  Memory is
groups x epochs x bins counters, whatever the number of networks.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

__all__ = ["loss_bands", "BINS_PER_DECADE", "LOG10_RANGE"]

#: Resolution of the streaming quantiles (bins per decade of loss).
BINS_PER_DECADE = 40
#: Losses are binned over 10**low .. 10**high; smaller or larger ones fall in the end bins.
LOG10_RANGE = (-12.0, 2.0)
_N_BINS = int((LOG10_RANGE[1] - LOG10_RANGE[0]) * BINS_PER_DECADE)


def _epochs_of(columns) -> tuple[list[str], np.ndarray]:
    names = [c for c in columns if c.startswith("loss_")]
    return names, np.array([int(c[len("loss_"):]) for c in names], dtype=np.int64)


def loss_bands(chunks: Iterable[pd.DataFrame], groups: pd.Series,
               quantiles: tuple[float, ...] = (0.25, 0.5, 0.75)) -> pd.DataFrame:
    """Return quantiles of the recorded loss per group and epoch, streaming over chunks.

    Parameters
    ----------
    chunks : iterable of DataFrame, or one DataFrame
        Curve chunks as ``Run.curves()`` yields them: a ``network`` column and one
        ``loss_<epoch>`` column per recorded epoch (the same in every chunk).
    groups : Series
        Group label of each network, indexed by network id; networks absent from it
        are ignored.
    quantiles : tuple of float
        Which quantiles to report.

    Returns
    -------
    DataFrame
        Index ``epoch``; columns a MultiIndex (group, ``q25`` / ``q50`` / ``q75`` ...)
        plus, per group, ``n``: the networks with a finite loss at that epoch
        (diverged networks have NaN losses and are left out of the quantiles).
        Quantile q is the ceil(q n)-th smallest loss, to within half a histogram bin
        (see the module notes).

    Raises
    ------
    TypeError
        If ``groups`` is not a Series indexed by network id.
    ValueError
        If a quantile is outside 0 .. 1, or chunks record different epochs.

    Examples
    --------
    >>> from sweeps import open_run
    >>> run = open_run("runs/quickstart")  # doctest: +SKIP
    >>> lr = run.networks(columns=["network", "lr"]).set_index("network")["lr"]  # doctest: +SKIP
    >>> bands = loss_bands(run.curves(), lr)  # doctest: +SKIP
    """
    if not isinstance(groups, pd.Series):
        raise TypeError(f"groups must be a Series of labels indexed by network id, not "
                        f"{type(groups).__name__}; e.g. df.set_index('network')['lr']")
    bad = [q for q in quantiles if not 0 <= q <= 1]
    if bad:
        raise ValueError(f"quantile {bad[0]!r} is outside 0 .. 1; e.g. quantiles=(0.25, 0.5)")
    if isinstance(chunks, pd.DataFrame):  # the curves in one table
        chunks = [chunks]
    labels = pd.Categorical(groups.to_numpy())
    cats = list(labels.categories)
    code_of = pd.Series(labels.codes, index=groups.index)
    hist = None
    epochs = None
    for chunk in chunks:
        names, ep = _epochs_of(chunk.columns)
        if epochs is None:
            epochs = ep
            hist = np.zeros((len(cats), len(ep), _N_BINS), np.int64)
        elif not np.array_equal(ep, epochs):
            raise ValueError("curve chunks record different epochs; they are not from one run")
        codes = code_of.reindex(chunk["network"].to_numpy()).to_numpy()
        keep = ~np.isnan(codes) & (codes >= 0)
        if not keep.any():
            continue
        codes = codes[keep].astype(np.int64)
        loss = chunk[names].to_numpy(dtype=np.float64)[keep]
        finite = np.isfinite(loss) & (loss >= 0)
        with np.errstate(divide="ignore"):
            b = np.floor((np.log10(np.where(finite, loss, 1.0)) - LOG10_RANGE[0])
                         * BINS_PER_DECADE)
        b = np.clip(b, 0, _N_BINS - 1).astype(np.int64)
        flat = (codes[:, None] * len(epochs) + np.arange(len(epochs))) * _N_BINS + b
        hist += np.bincount(flat[finite], minlength=hist.size).reshape(hist.shape)
    if epochs is None:
        return pd.DataFrame(index=pd.Index([], name="epoch", dtype=np.int64))
    return _bands_from_histogram(hist, cats, epochs, quantiles)


def _bands_from_histogram(hist, cats, epochs, quantiles) -> pd.DataFrame:
    n = hist.sum(axis=2)
    cum = np.cumsum(hist, axis=2)
    edges = LOG10_RANGE[0] + np.arange(_N_BINS + 1) / BINS_PER_DECADE
    centres = 10.0 ** ((edges[:-1] + edges[1:]) / 2)
    cols = {}
    for g, cat in enumerate(cats):
        for q in quantiles:
            # the bin holding the ceil(q * n)-th smallest value (the lower median for even n)
            rank = np.maximum(np.ceil(q * n[g]), 1)
            idx = np.array([np.searchsorted(cum[g, k], rank[k]) for k in range(len(epochs))])
            vals = centres[np.minimum(idx, _N_BINS - 1)]
            cols[(cat, f"q{round(q * 100):02d}")] = np.where(n[g] > 0, vals, np.nan)
        cols[(cat, "n")] = n[g]
    out = pd.DataFrame(cols, index=pd.Index(epochs, name="epoch"))
    out.columns = (pd.MultiIndex.from_tuples(out.columns, names=["group", "stat"]) if cols
                   else pd.MultiIndex.from_arrays([[], []], names=["group", "stat"]))
    return out
