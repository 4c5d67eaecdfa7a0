"""Paired statistics: Newcombe's interval against published examples, the tests against
statsmodels and SciPy."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
from statsmodels.stats.contingency_tables import mcnemar

from analysis.stats import (
    mcnemar_exact,
    paired_difference_interval,
    signed_rank_test,
    wilson_interval,
)

# Newcombe (1998), "Improved confidence intervals for the difference between binomial
# proportions based on paired data", Stat. Med. 17, 2635-2650, Table II, method 10:
# (e, f, g, h) = (both, first only, second only, neither) -> 95% limits for p1 - p2.
NEWCOMBE_TABLE_II = [
    ((36, 12, 2, 0), (0.0569, 0.3404)),
    ((18, 12, 2, 18), (0.0562, 0.3290)),   # phi > 0: the n/2 correction matters here
    ((53, 0, 0, 1), (-0.0729, 0.0729)),
    ((0, 30, 0, 0), (0.8395, 1.0)),
]


@pytest.mark.parametrize(("table", "limits"), NEWCOMBE_TABLE_II)
def test_newcombe_interval_reproduces_the_published_examples(table, limits):
    e, f, g, h = table
    # first = b, second = a: the interval is for b - a
    low, high = paired_difference_interval(both=e, b_only=f, a_only=g, neither=h)
    assert low == pytest.approx(limits[0], abs=5e-5)
    assert high == pytest.approx(limits[1], abs=5e-5)


def test_newcombe_interval_reproduces_a_textbook_example():
    # Fagerland, Lydersen & Laake, Statistical Analysis of Contingency Tables (2017),
    # chapter 8: complete response before and after consolidation therapy (Cavo et al.),
    # table [[59, 6], [16, 80]]: estimate -0.0621, 95% CI -0.1186 to -0.0046
    low, high = paired_difference_interval(both=59, b_only=6, a_only=16, neither=80)
    assert (low, high) == pytest.approx((-0.1186, -0.0046), abs=5e-5)


def test_newcombe_interval_is_elementwise_antisymmetric_and_nan_without_pairs():
    rng = np.random.default_rng(3)
    counts = rng.integers(0, 40, size=(4, 200))
    low, high = paired_difference_interval(*counts)
    n = counts.sum(axis=0)
    diff = (counts[1] - counts[2]) / n
    assert np.all(low <= diff + 1e-12)
    assert np.all(diff <= high + 1e-12)
    assert np.all((-1 <= low) & (high <= 1))
    swapped = paired_difference_interval(counts[0], counts[2], counts[1], counts[3])
    np.testing.assert_allclose(swapped[0], -high, atol=1e-12)
    np.testing.assert_allclose(swapped[1], -low, atol=1e-12)
    for i in range(5):  # one at a time gives the same as the arrays
        assert paired_difference_interval(*counts[:, i]) == pytest.approx((low[i], high[i]))
    assert all(np.isnan(paired_difference_interval(0, 0, 0, 0)))


def test_pairing_narrows_the_interval_when_outcomes_agree():
    # 90 vs 80 of 100 converged, every network of a that converged also converged in b:
    # the independent intervals overlap, the paired interval of the difference excludes 0
    low, high = paired_difference_interval(both=80, b_only=10, a_only=0, neither=10)
    assert low > 0
    a_low, a_high = wilson_interval(80, 100)
    b_low, b_high = wilson_interval(90, 100)
    assert b_low < a_high


def test_mcnemar_exact_agrees_with_statsmodels():
    rng = np.random.default_rng(7)
    tables = rng.integers(0, 30, size=(300, 2, 2))
    tables[:20, 0, 1] = 0   # one-sided and empty discordant cells
    tables[:10, 1, 0] = 0
    for t in tables:
        ref = mcnemar(t, exact=True).pvalue
        assert mcnemar_exact(t[0, 1], t[1, 0]) == pytest.approx(ref, rel=1e-12, abs=1e-300)
    ours = mcnemar_exact(tables[:, 0, 1], tables[:, 1, 0])
    assert ours == pytest.approx([mcnemar(t, exact=True).pvalue for t in tables], rel=1e-12)


def test_mcnemar_exact_by_hand():
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(0, 5) == 2 * 0.5 ** 5
    assert mcnemar_exact(3, 3) == 1.0
    assert mcnemar_exact(2, 12) == 2 * (1 + 14 + 91) / 2 ** 14  # 2 P(X <= 2), X ~ B(14, 1/2)


def test_signed_rank_agrees_with_scipy_and_handles_no_difference():
    rng = np.random.default_rng(11)
    for n in (3, 8, 30, 80, 300):
        d = rng.integers(-40, 60, size=n)
        if not np.any(d != 0):
            continue
        median, p = signed_rank_test(d)
        assert median == np.median(d)
        assert p == scipy.stats.wilcoxon(d).pvalue
    assert signed_rank_test([0, 0, 0]) == (0.0, 1.0)
    median, p = signed_rank_test([])
    assert np.isnan(median)
    assert np.isnan(p)
