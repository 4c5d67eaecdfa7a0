"""Tables computed from the network table: pure functions of pandas frames."""

from __future__ import annotations

import math
import tomllib

import numpy as np
import pandas as pd

from sweeps.store import Run, open_run

from .axes import (
    GRID_AXES,
    bin_index,
    choose_bins,
    grid_axes,
    is_param_axis,
    sample_attrs,
    settings_attrs,
    slice_attrs,
    varying_axes,
    with_bin_columns,
)
from .compare import paired_p_values
from .stats import Z95, wilson_interval

__all__ = ["load", "wilson_interval", "convergence_table", "fraction_converged",
           "failure_modes", "failure_mode_table", "STATIONARY_LOSSES", "FAILURE_TOL",
           "GRID_AXES", "grid_axes", "is_param_axis", "varying_axes", "OUTCOMES",
           "FAILURE_MODES", "outcome_failure_table", "MIN_BEST_N", "TIE_ALPHA", "best_cells",
           "number_format", "table_formats", "Z95"]

#: Outcome labels (as in ``kernels.OUTCOMES``).
OUTCOMES = ("converged", "slow", "plateau", "stuck", "saturated", "diverged")

#: Labels of :func:`failure_modes`, in the order tables and bars show them.
FAILURE_MODES = ("converged", "half4", "half2", "third3", "satwrong", "other")

#: Fewest networks a cell needs before :func:`best_cells` may name it best: one
#: network out of one converged is a rate of 1 with a Wilson interval of 0.21 - 1.
MIN_BEST_N = 10

#: Significance level of the paired test in :func:`best_cells`: a cell is tied with
#: the best unless the exact McNemar test rejects equal rates at this level.
TIE_ALPHA = 0.05

#: Loss of each XOR stationary pattern at its exact outputs, by loss function.
#: ``satwrong`` (one output at its wrong target, three at their right targets) has
#: mse 1/4: an error of 1 on one sample of four.  Under bce it has no value: the
#: wrong sample's loss -ln(1 - a) grows without bound as the output saturates, and the
#: bce gradient on that sample's logit tends to 1/4, not 0, so the pattern is not a
#: stationary point of bce; it is NaN here.
STATIONARY_LOSSES = {
    "bce": {"half4": math.log(2), "half2": math.log(2) / 2,
            "third3": 0.75 * (math.log(3) - 2 / 3 * math.log(2)), "satwrong": math.nan},
    "mse": {"half4": 0.25, "half2": 0.125, "third3": 1 / 6, "satwrong": 0.25},
}

#: Tolerance of the XOR failure-mode patterns: an output is at a value when it is
#: closer than this to it.
FAILURE_TOL = 0.05

def load(run_dir, columns: list[str] | None = None) -> pd.DataFrame:
    """Return a run's network table (only ``columns``, if given).

    ``run_dir``: a run directory, or a :class:`sweeps.Run` (what ``sweeps.run`` returns).

    ``attrs["sampled"]`` maps each axis of the spec's ``[sample]`` table to its
    distribution (empty for a grid run) and ``attrs["sample_bounds"]`` to its
    bounds: :func:`convergence_table` bins those axes.  ``attrs["name"]``,
    ``attrs["refine"]`` and ``attrs["zoom"]`` hold the run's name and its
    ``[refine]`` and ``[zoom]`` tables (:func:`analysis.axes.slice_attrs`);
    ``attrs["settings"]`` its ``dtype`` and ``criterion``, which no column holds.
    """
    run = run_dir if isinstance(run_dir, Run) else open_run(run_dir)
    df = run.networks(columns=columns)
    text = run.spec_text()
    try:
        spec_data = {} if text is None else tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        spec_data = {}
    df.attrs.update(sample_attrs(spec_data))
    df.attrs.update(slice_attrs(spec_data))
    if spec_data:
        df.attrs.update(settings_attrs(spec_data))
    return df


def _binned(df: pd.DataFrame, by: list[str], bins=None
            ) -> tuple[pd.DataFrame, dict, int]:
    """Return ``df`` with its continuous ``by`` axes as bin indexes, the bins, rows left out.

    As :func:`convergence_table` groups them; rows outside every bin are left out.
    """
    chosen = choose_bins(df, by, bins)
    if not chosen:
        return df, chosen, 0
    d = df.assign(**{a: bin_index(df[a], b) for a, b in chosen.items()})
    inside = (d[list(chosen)] >= 0).all(axis=1)
    return d[inside], chosen, int((~inside).sum())


def _pooled(df: pd.DataFrame, by: list[str]) -> list[str]:
    return varying_axes(df, exclude=by)


def grouping_axes(df: pd.DataFrame, by) -> list[str]:
    """Return ``by`` as a list of the table's columns: one name or a sequence of names.

    Raises
    ------
    TypeError
        If ``df`` is not a DataFrame (a NumPy array, a path).
    ValueError
        If an axis is not a column of ``df`` (the message lists the varying axes).
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"the network table must be a DataFrame, not {type(df).__name__}; "
                        "read a run's with analysis.load(run_dir)")
    by = [] if by is None else [by] if isinstance(by, str) else list(by)
    for axis in by:
        if axis not in df.columns:
            choices = ", ".join(varying_axes(df)) or "none vary"
            raise ValueError(f"by: {axis!r} is not an axis of the table; its varying axes: "
                             f"{choices}")
        missing = int(df[axis].isna().sum())
        if missing:  # a group of them would be dropped without a word
            raise ValueError(f"by: {axis!r} is missing in {missing:,} rows; drop or fill "
                             "them first")
    return by


def convergence_table(df: pd.DataFrame, by: list[str] | tuple = (), *,
                      bins=None) -> pd.DataFrame:
    """Summarize convergence per group of ``by`` axes; every other axis is pooled.

    Continuous axes of ``by`` (the sampled axes of a run's ``[sample]`` design,
    :func:`analysis.axes.continuous_axes`) are grouped into bins, each other axis
    by value; a grid run's table has no bins.

    Parameters
    ----------
    df : DataFrame, shape (n_nets, ...)
        Network table (:func:`load`).
    by : str or list of str
        Grouping axes (one name, or a list of names).
    bins : None, int or dict
        None: automatic bins for the continuous axes of ``by``, as many per axis
        as keep an average bin at 100 networks or more (rule and log bins:
        :mod:`analysis.axes`).  An int: that many bins for each of them.  A dict
        ``{axis: count or edges}``: those bins for those axes of ``by`` (a numeric
        grid axis too), automatic ones for the other continuous axes.  Networks
        outside given edges are left out (``attrs["left_out"]`` counts them).

    Returns
    -------
    DataFrame
        One row per group present, sorted by ``by``: the ``by`` axes, where a
        binned axis's column holds the bin's centre (geometric for log bins),
        followed by ``<axis>_low`` and ``<axis>_high``, its edges; ``n``,
        ``converged``, ``rate`` with its 95% Wilson interval (``rate_low``,
        ``rate_high``); median and quartiles of ``converged_epoch`` among converged
        networks (``epochs_median``, ``epochs_q25``, ``epochs_q75``);
        ``expected_epochs``, the expected epochs to a solution when failed networks
        are restarted and each failure costs the epoch limit (Fahlman 1988): (sum
        of converged epochs + failures x limit) / converged, inf when none
        converged; one ``n_<outcome>`` column per outcome; the median and mean of
        ``final_loss``.  ``attrs``: ``pooled``, the varying axes that were pooled;
        ``by``; ``bins``, ``{axis: analysis.axes.Bins}`` of the binned axes;
        ``left_out``.

    Raises
    ------
    ValueError
        If an axis of ``by`` is not a column of ``df``; if ``bins`` names an axis
        not in ``by`` or not numeric, or gives a count below 1 or edges that do not
        increase.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> df = pd.DataFrame({"lr": 10 ** rng.uniform(-1, 2, 400), "epochs": 100,
    ...                    "converged_epoch": rng.choice([-1, 50], 400), "outcome": "slow",
    ...                    "final_loss": 0.1})
    >>> df.attrs.update(sampled={"lr": "loguniform"}, sample_bounds={"lr": (0.1, 100.0)})
    >>> t = convergence_table(df, by=["lr"], bins=2)
    >>> t[["lr", "lr_low", "lr_high", "n"]].round(2).to_dict("list")  # log bins
    {'lr': [0.56, 17.78], 'lr_low': [0.1, 3.16], 'lr_high': [3.16, 100.0], 'n': [210, 190]}
    """
    by = grouping_axes(df, by)
    d, chosen, left_out = _binned(df.assign(_ok=df["converged_epoch"] >= 0, _one=0), by, bins)
    keys = by or ["_one"]
    grouped = d.groupby(keys, observed=True, sort=True)
    out = pd.DataFrame({"n": grouped.size(), "converged": grouped["_ok"].sum()})
    out["rate"] = out["converged"] / out["n"]
    out["rate_low"], out["rate_high"] = wilson_interval(out["converged"], out["n"])
    conv = d[d["_ok"]].groupby(keys, observed=True)["converged_epoch"]
    out["epochs_median"] = conv.median()
    out["epochs_q25"] = conv.quantile(0.25)
    out["epochs_q75"] = conv.quantile(0.75)
    success_sum = conv.sum().reindex(out.index, fill_value=0)
    limit = grouped["epochs"].max()
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = (success_sum + (out["n"] - out["converged"]) * limit) / out["converged"]
    out["expected_epochs"] = expected.where(out["converged"] > 0, np.inf)
    counts = d.groupby(keys + ["outcome"], observed=True).size().unstack(fill_value=0)
    for name in OUTCOMES:
        out[f"n_{name}"] = counts[name].reindex(out.index, fill_value=0) if name in counts \
            else 0
    out["final_loss_median"] = grouped["final_loss"].median()
    out["final_loss_mean"] = grouped["final_loss"].mean()
    out = with_bin_columns(out.reset_index(), chosen)
    if not by:
        out = out.drop(columns="_one")
    out.attrs["pooled"] = _pooled(df, by)
    out.attrs["by"] = by
    out.attrs["bins"] = chosen
    out.attrs["left_out"] = left_out
    return out


def fraction_converged(df: pd.DataFrame, by: list[str] | tuple = (),
                       epochs=None, bins=None) -> pd.DataFrame:
    """Fraction of networks converged by epoch e, per group (index: e; one column per group).

    Networks that never converged are censored at the epoch limit: they count in
    the denominator at every e.  ``epochs`` defaults to 0 .. limit in 101 steps.
    A continuous axis of ``by`` (a sampled run's) is grouped into bins as by
    :func:`convergence_table` (``bins`` likewise), each column named by its bin's
    centre.
    """
    by = grouping_axes(df, by)
    if df.empty:
        raise ValueError("fraction_converged: the network table has no rows (an empty "
                         "selection?)")
    limit = int(df["epochs"].max())
    grid = np.unique(np.linspace(0, limit, 101).round().astype(np.int64)) if epochs is None \
        else np.atleast_1d(np.asarray(epochs, dtype=np.int64))
    if len(grid) and (grid.min() < 0 or grid.max() > limit):
        raise ValueError(f"epochs must lie in 0 .. {limit}, the run's last epoch (networks "
                         "not converged by then are censored there)")
    df, chosen, _ = _binned(df, by, bins)
    df = df.assign(**{a: b.centres[df[a].to_numpy(dtype=np.int64)] for a, b in chosen.items()})
    groups = df.groupby(by, observed=True, sort=True) if by else [((), df)]
    cols = {}
    for key, g in groups:
        ce = np.sort(g["converged_epoch"].to_numpy())
        ce = ce[ce >= 0]
        name = "all" if not by else key[0] if len(by) == 1 else key
        cols[name] = np.searchsorted(ce, grid, side="right") / len(g)
    out = pd.DataFrame(cols, index=pd.Index(grid, name="epoch"))
    if len(by) > 1:
        out.columns = pd.MultiIndex.from_tuples(out.columns, names=by)
    elif by:
        out.columns.name = by[0]
    out.attrs["pooled"] = _pooled(df, by)
    return out


def failure_modes(df: pd.DataFrame, tol: float = FAILURE_TOL) -> pd.Series:
    """Name the XOR stationary point each network's final outputs sit at.

    An output is *at* a value when it is closer than ``tol`` to it.  XOR's targets
    are y = (0, 1, 1, 0) for the samples 00, 01, 10, 11; an output's *wrong target*
    is 1 - y.  Labels, checked in this order:

    ``converged``
        ``converged_epoch >= 0``.
    ``half4``
        all four outputs at 1/2.
    ``half2``
        two outputs at their targets and the other two, whose targets differ,
        at 1/2.
    ``third3``
        one output at its target and the other three at the mean of their
        targets (1/3 or 2/3).
    ``satwrong``
        exactly one output at its wrong target and the other three at their
        targets.
    ``other``
        none of these: for instance two outputs at their wrong targets, one at
        its wrong target beside an output away from its target, or all four at
        their targets in a network that did not meet its convergence criterion.

    Parameters
    ----------
    df : DataFrame, shape (n_nets, ...)
        Network table with ``converged_epoch`` and the final outputs ``out_0`` ..
        ``out_3``; a ``task`` column, if present, must be ``"xor"`` throughout.
    tol : float
        Distance below which an output counts as at a value; in (0, 1/4] the
        values 0, 1/2 and 1 are never confused.

    Returns
    -------
    Series, shape (n_nets,)
        The label of each network, named ``failure_mode``, on ``df``'s index.

    Raises
    ------
    ValueError
        If ``df`` holds networks of another task, or ``tol`` is outside (0, 1/4].

    Examples
    --------
    >>> df = pd.DataFrame({"converged_epoch": [-1, -1], "out_0": [1e-4, 0.9999],
    ...                    "out_1": [1, 1], "out_2": [1, 1], "out_3": [1, 1]})
    >>> list(failure_modes(df))
    ['satwrong', 'other']
    """
    if "task" in df and not (df["task"].astype(str) == "xor").all():
        raise ValueError("failure modes are defined for XOR runs only (task = 'xor')")
    if not 0 < tol <= 0.25:
        raise ValueError(f"tol must be in (0, 0.25] so 0, 1/2 and 1 stay apart; got {tol!r}")
    out = df[["out_0", "out_1", "out_2", "out_3"]].to_numpy(dtype=np.float64)
    y = np.array([0.0, 1.0, 1.0, 0.0])
    correct = np.abs(out - y) < tol
    half = np.abs(out - 0.5) < tol
    wrong = np.abs(out - (1 - y)) < tol
    n_correct = correct.sum(axis=1)
    half4 = half.all(axis=1)
    # the two non-correct outputs have different targets: one of {0, 3} and one of {1, 2}
    rest_half = (correct | half).all(axis=1)
    mixed = ((~correct[:, [0, 3]]).sum(axis=1) == 1) & ((~correct[:, [1, 2]]).sum(axis=1) == 1)
    half2 = (n_correct == 2) & rest_half & mixed
    third3 = np.zeros(len(df), bool)
    for s in range(4):
        others = [t for t in range(4) if t != s]
        mean = y[others].mean()
        third3 |= correct[:, s] & (np.abs(out[:, others] - mean) < tol).all(axis=1)
    # correct and wrong are disjoint for tol <= 1/2: one wrong and three correct is all four
    satwrong = (wrong.sum(axis=1) == 1) & (n_correct == 3)
    labels = np.select([df["converged_epoch"].to_numpy() >= 0, half4, half2, third3, satwrong],
                       ["converged", "half4", "half2", "third3", "satwrong"], "other")
    return pd.Series(labels, index=df.index, name="failure_mode")


def failure_mode_table(df: pd.DataFrame, by: list[str] | tuple = (),
                       tol: float = FAILURE_TOL, bins=None) -> pd.DataFrame:
    """Count the failure modes of non-converged XOR networks per group.

    Parameters
    ----------
    df : DataFrame, shape (n_nets, ...)
        Network table, as for :func:`failure_modes`, with a ``loss`` column (a
        table without one is read as bce).
    by : str or list of str
        Grouping axes; every other axis is pooled.  A continuous one (a sampled
        run's) is grouped into bins as by :func:`convergence_table` (``bins``
        likewise), with ``<axis>_low`` and ``<axis>_high`` columns.
    tol : float
        Pattern tolerance, as for :func:`failure_modes`.

    Returns
    -------
    DataFrame, shape (n_rows, len(by) + 4 or 5)
        One row per group and mode present, sorted by ``by`` then mode: ``count``;
        ``share`` of the group's non-converged networks; ``theoretical_loss``, the
        pattern's loss (:data:`STATIONARY_LOSSES`) under the loss function of the
        networks counted in the row.  It is NaN for ``other``, for ``satwrong``
        under bce, and for a row whose networks were trained under more than one
        loss function (group by ``loss`` to have it per loss).  The table does not
        depend on the order of ``df``'s rows.  ``attrs["pooled"]`` lists the
        varying axes that were pooled.  With a ``final_loss`` column, also
        ``observed_median_loss``: the median final loss of the row's networks.

    Examples
    --------
    >>> df = pd.DataFrame({"loss": ["mse", "bce"], "converged_epoch": [-1, -1],
    ...                    "out_0": [1e-4, 1e-4], "out_1": [1, 1], "out_2": [1, 1],
    ...                    "out_3": [1, 1]})
    >>> failure_mode_table(df, by=["loss"])["theoretical_loss"].tolist()
    [nan, 0.25]
    >>> failure_mode_table(df)["theoretical_loss"].tolist()    # bce and mse pooled
    [nan]
    """
    by = grouping_axes(df, by)
    modes = failure_modes(df, tol)
    loss = df["loss"].astype(str) if "loss" in df else pd.Series("bce", index=df.index)
    d, chosen, _ = _binned(df.assign(failure_mode=modes, _loss=loss), by, bins)
    d = d[d["failure_mode"] != "converged"]
    keys = by + ["failure_mode"]
    grouped = d.groupby(keys, observed=True, sort=True)
    counts = grouped.size().rename("count").reset_index()
    totals = counts.groupby(by, observed=True)["count"].transform("sum") if by \
        else counts["count"].sum()
    counts["share"] = counts["count"] / totals
    # one loss function per row, or no theoretical loss: never one row's loss for all
    n_losses = grouped["_loss"].nunique().to_numpy()
    first = grouped["_loss"].min().to_numpy()
    counts["theoretical_loss"] = [
        STATIONARY_LOSSES.get(lf, {}).get(m, math.nan) if k == 1 else math.nan
        for k, lf, m in zip(n_losses, first, counts["failure_mode"], strict=True)]
    if "final_loss" in df:
        counts["observed_median_loss"] = grouped["final_loss"].median().to_numpy()
    counts = with_bin_columns(counts, chosen)
    counts.attrs["pooled"] = _pooled(df, by)
    return counts


def outcome_failure_table(df: pd.DataFrame, tol: float = FAILURE_TOL) -> pd.DataFrame:
    """Count networks by outcome and, for XOR, by the failure mode within each outcome.

    The outcome is the kernel's label at the end of training (:data:`OUTCOMES`);
    the failure mode names the stationary pattern of an XOR network's final
    outputs (:func:`failure_modes`).  Each network is counted once, so the table
    says which outcome each failure mode belongs to.

    Parameters
    ----------
    df : DataFrame, shape (n_nets, ...)
        Network table with ``outcome``; for the failure-mode columns an XOR table
        (``task`` all ``"xor"`` or absent, ``out_0`` .. ``out_3``, ``converged_epoch``).
    tol : float
        Pattern tolerance, as for :func:`failure_modes`.

    Returns
    -------
    DataFrame
        One row per outcome present, in :data:`OUTCOMES` order (others after, sorted),
        index named ``outcome``; one column per failure mode present, in
        :data:`FAILURE_MODES` order (none for another task), then ``total`` and
        ``share`` (of all networks).

    Examples
    --------
    >>> df = pd.DataFrame({"outcome": ["stuck", "converged"], "converged_epoch": [-1, 7],
    ...                    "out_0": [0.5, 0], "out_1": [0.5, 1], "out_2": [0.5, 1],
    ...                    "out_3": [0.5, 0]})
    >>> outcome_failure_table(df)[["converged", "half4", "total"]].to_dict("index")
    {'converged': {'converged': 1, 'half4': 0, 'total': 1}, 'stuck': {'converged': 0, \
'half4': 1, 'total': 1}}
    """
    outcome = df["outcome"].astype(str)
    order = [o for o in OUTCOMES if (outcome == o).any()] + sorted(set(outcome) - set(OUTCOMES))
    xor = ("task" not in df or (df["task"].astype(str) == "xor").all()) and \
        all(f"out_{s}" in df for s in range(4)) and "out_4" not in df
    if xor and len(df):
        modes = failure_modes(df, tol)
        counts = pd.crosstab(outcome.rename("outcome"), modes.rename("failure_mode"))
        counts = counts[[m for m in FAILURE_MODES if m in counts.columns]]
    else:
        counts = pd.DataFrame(index=pd.Index(sorted(set(outcome)), name="outcome"))
    counts = counts.reindex(order).astype(np.int64)
    counts.columns = pd.Index(list(counts.columns), name="failure_mode")
    counts["total"] = outcome.value_counts().reindex(order).to_numpy(dtype=np.int64)
    counts["share"] = counts["total"] / max(len(df), 1)
    return counts


def best_cells(table: pd.DataFrame, df: pd.DataFrame | None = None, *,
               min_n: int = MIN_BEST_N, alpha: float = TIE_ALPHA) -> pd.DataFrame:
    """Return the best cell of a convergence table and the cells statistically tied with it.

    The best: among cells of at least ``min_n`` networks, the one with the highest
    lower end of its 95% Wilson interval (``rate_low``; fewer expected epochs break
    ties).  A small cell with a perfect rate has a wide interval and so ranks below
    a large cell with a slightly lower rate.

    Tied, given the network table ``df``: the exact McNemar test of the cell
    against the best, on their paired networks (replicate r of one with replicate r
    of the other, as :func:`analysis.compare` pairs them), does not reject equal
    rates at level ``alpha``.  The pairs share their initial draws, so this test
    tells apart cells whose independent intervals overlap.  Without ``df`` (a table
    alone), a cell is tied when its interval reaches the best cell's lower end
    (``rate_high >= rate_low`` of the best), i.e. the two intervals overlap.

    Parameters
    ----------
    table : DataFrame
        :func:`convergence_table`'s output (``n``, ``rate_low``, ``rate_high``,
        ``expected_epochs``; its ``attrs["by"]`` and ``attrs["bins"]`` say how
        networks fall into its cells).
    df : DataFrame, optional
        The network table the table was made from, with ``replicate`` and
        ``converged_epoch``: ties by the paired test.
    min_n : int
        Fewest networks a cell needs to be ranked.
    alpha : float
        Level of the paired test.

    Returns
    -------
    DataFrame
        The best cell first, then the tied cells by the same ranking, with a bool
        column ``tied`` (False for the best); with ``df``, also ``n_pairs`` and
        ``p_value`` of the paired test against the best (NaN on the best's row).
        Empty when no cell has ``min_n`` networks.

    Examples
    --------
    >>> t = pd.DataFrame({"lr": [1, 2, 3], "n": [1, 100, 100], "rate_low": [0.21, 0.6, 0.5],
    ...                   "rate_high": [1.0, 0.8, 0.65], "expected_epochs": [5, 9, 9]})
    >>> best_cells(t)[["lr", "tied"]].to_dict("list")
    {'lr': [2, 3], 'tied': [False, True]}
    """
    ranked = table[table["n"] >= min_n].sort_values(["rate_low", "expected_epochs"],
                                                    ascending=[False, True], kind="stable")
    if ranked.empty:
        return ranked.assign(tied=pd.Series(dtype=bool))
    by = list(table.attrs.get("by", [a for a in grid_axes(table)]))
    if df is None or "replicate" not in df or any(a not in df for a in by):
        top_low = ranked["rate_low"].iloc[0]
        out = ranked[ranked["rate_high"] >= top_low].copy()
        out["tied"] = [False] + [True] * (len(out) - 1)
        return out
    cells = _cell_positions(df, ranked, by, table.attrs.get("bins", {}))
    tests = paired_p_values(df, cells, by, 0, range(1, len(ranked)))
    out = ranked.assign(n_pairs=[np.nan] + tests["n_pairs"].tolist(),
                        p_value=[np.nan] + tests["p_value"].tolist())
    out = out[np.r_[True, tests["p_value"].to_numpy() >= alpha]].copy()
    out["tied"] = [False] + [True] * (len(out) - 1)
    return out


def _cell_positions(df: pd.DataFrame, rows: pd.DataFrame, by: list[str], bins: dict
                    ) -> np.ndarray:
    """Return the position in ``rows`` of each network's cell, or -1, shape (n_nets,)."""
    if not by:
        return np.zeros(len(df), dtype=np.int64)

    def keys(frame):
        return pd.DataFrame({a: bin_index(frame[a], bins[a]) if a in bins else
                             frame[a].astype(object).to_numpy() for a in by})

    right = keys(rows).assign(_pos=np.arange(len(rows)))
    pos = keys(df).merge(right, on=by, how="left")["_pos"]
    return pos.fillna(-1).to_numpy(dtype=np.int64)


def number_format(values) -> str | None:
    """Return one format spec that shows every number of a column the same way.

    Integers: ``",.0f"`` (also whole floats); numbers from 0.001 to under 10^6:
    fixed decimals, the fewest that show every value to three significant digits
    (at most those of the smallest nonzero magnitude, at most 4); others:
    ``".2e"``.  Infinite and NaN
    values are left to the caller.  None for a column that is not numeric.

    Examples
    --------
    >>> number_format([0.1, 0.178, 31.6]), number_format([2, 3]), number_format([1e-5, 0.7])
    ('.3f', ',.0f', '.2e')
    """
    v = pd.Series(values)
    if v.dtype == bool or not pd.api.types.is_numeric_dtype(v):
        return None
    x = v.to_numpy(dtype=np.float64)
    x = np.abs(x[np.isfinite(x)])
    if not len(x) or np.all(x == np.round(x)):
        return ",.0f"
    small, large = x[x > 0].min(), x.max()
    if small < 1e-3 or large >= 1e6:
        return ".2e"
    most = min(4, max(0, 2 - math.floor(math.log10(small))))
    three = np.array([float(f"{v:.3g}") for v in x])
    for decimals in range(most):  # fewer decimals where they lose none of 3 digits
        if np.allclose(np.round(x, decimals), three, rtol=1e-9, atol=0):
            return f".{decimals}f"
    return f".{most}f"


def table_formats(table: pd.DataFrame) -> dict[str, str | None]:
    """Return one format spec per column of a table shown on the report page.

    Rates and their interval (``rate``, ``rate_low``, ``rate_high``, ``share``) are
    percentages with one decimal; p values (``p_value``, ``epochs_p_value``) two
    significant digits in scientific notation; counts (``n``, ``converged``,
    ``n_<outcome>``, ``count``, ``total``) and epochs whole numbers; every other
    column :func:`number_format` (None: shown as text).
    """
    out: dict[str, str | None] = {}
    for c in table.columns:
        name = str(c)
        if name.endswith("p_value"):  # small numbers, whatever their prefix
            out[c] = ".2e"
        elif name in ("rate", "rate_low", "rate_high", "share"):
            out[c] = ".1%"
        elif name in ("n", "converged", "count", "total") or name.startswith("n_") \
                or name.startswith("epochs_") or name == "expected_epochs":
            out[c] = ",.0f"
        else:
            out[c] = number_format(table[c])
    return out
