from __future__ import annotations

import numpy as np
import pytest

from kernels import tasks


def test_xor_truth_table():
    X, Y = tasks.xor()
    np.testing.assert_array_equal(X, [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(Y, [0, 1, 1, 0])


@pytest.mark.parametrize(("maker", "table"), [
    (tasks.and_, [0, 0, 0, 1]), (tasks.or_, [0, 1, 1, 1]), (tasks.nand, [1, 1, 1, 0])])
def test_two_input_gates(maker, table):
    X, Y = maker()
    np.testing.assert_array_equal(X, tasks.xor()[0])
    np.testing.assert_array_equal(Y, table)


@pytest.mark.parametrize("n", range(2, 7))
def test_parity(n):
    X, Y = tasks.parity(n)
    assert X.shape == (2**n, n)
    assert Y.shape == (2**n,)
    assert len({tuple(r) for r in X}) == 2**n          # every input exactly once
    for row, y in zip(X, Y, strict=True):
        assert y == sum(int(b) for b in row) % 2


def test_parity2_is_xor():
    for a, b in zip(tasks.parity(2), tasks.xor(), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("n", [1, 7, 2.0, "3", True])
def test_parity_rejects_bad_n(n):
    with pytest.raises(ValueError, match="n must be an integer from 2 to 6"):
        tasks.parity(n)


def test_by_name():
    for name in tasks.NAMES:
        X, Y = tasks.by_name(name)
        assert X.shape[0] == Y.shape[0]
    np.testing.assert_array_equal(tasks.by_name("parity3")[1], tasks.parity(3)[1])
    np.testing.assert_array_equal(tasks.by_name("and")[1], tasks.and_()[1])
    with pytest.raises(ValueError, match="task must be one of xor, and"):
        tasks.by_name("xnor")
