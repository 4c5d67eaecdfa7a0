from __future__ import annotations

import math

import numpy as np
import pytest

import kernels
from tests import naive

SCHEMES = ["uniform", "normal", "xavier", "he"]


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize(("D", "H"), [(2, 2), (3, 1), (2, 4)])
def test_matches_reference_generator(scheme, D, H):
    seeds = [0, 1, 7, 12345, 2**40 + 3, -5]
    p = kernels.init_params(np.array(seeds, dtype=np.int64), n_inputs=D, n_hidden=H,
                            scheme=scheme, scale=1.5)
    for n, seed in enumerate(seeds):
        W1, b1, W2, b2 = naive.init_network(seed, D, H, scheme, 1.5)
        np.testing.assert_array_equal(p.W1[n], W1)
        np.testing.assert_array_equal(p.b1[n], b1)
        np.testing.assert_array_equal(p.W2[n], W2)
        assert p.b2[n] == b2


@pytest.mark.parametrize("scheme", SCHEMES)
def test_depends_on_seed_alone(scheme):
    rng = np.random.default_rng(0)
    seeds = rng.integers(0, 2**62, size=100_000)
    batch = kernels.init_params(seeds, n_inputs=2, n_hidden=3, scheme=scheme)
    picks = [0, 17, 99_999]
    for i in picks:
        alone = kernels.init_params(seeds[i:i + 1], n_inputs=2, n_hidden=3, scheme=scheme)
        for a, b in zip(alone.arrays(), batch.take([i]).arrays(), strict=True):
            np.testing.assert_array_equal(a, b)
    order = rng.permutation(seeds.size)
    shuffled = kernels.init_params(seeds[order], n_inputs=2, n_hidden=3, scheme=scheme)
    for a, b in zip(shuffled.arrays(), batch.take(order).arrays(), strict=True):
        np.testing.assert_array_equal(a, b)
    single = kernels.init_params(seeds[:1000], n_inputs=2, n_hidden=3, scheme=scheme,
                                 dtype=np.float32)
    for a, b in zip(single.arrays(), batch.take(slice(0, 1000)).arrays(), strict=True):
        assert a.dtype == np.float32
        np.testing.assert_array_equal(a, b.astype(np.float32))


@pytest.mark.parametrize("scheme", ["uniform", "normal"])
def test_scale_multiplies_the_base_draw(scheme):
    seeds = np.arange(1000)
    base = kernels.init_params(seeds, scheme=scheme, scale=1.0)
    for s in (0.25, 3.0, 10.0):
        scaled = kernels.init_params(seeds, scheme=scheme, scale=s)
        for a, b in zip(scaled.arrays(), base.arrays(), strict=True):
            np.testing.assert_array_equal(a, s * b)


def test_same_draw_for_every_hidden_width():
    seeds = np.arange(50)
    p2 = kernels.init_params(seeds, n_hidden=2)
    p4 = kernels.init_params(seeds, n_hidden=4)
    np.testing.assert_array_equal(p4.W1[:, :, :2], p2.W1)
    np.testing.assert_array_equal(p4.W2[:, :2], p2.W2)
    np.testing.assert_array_equal(p4.b2, p2.b2)


def test_distributions():
    n = 200_000
    seeds = np.arange(n)
    u = kernels.init_params(seeds, n_inputs=1, n_hidden=1, scheme="uniform", scale=2.0).W1.ravel()
    assert u.min() >= -2.0
    assert u.max() < 2.0
    assert abs(u.mean()) < 0.02
    assert abs(u.var() - 4.0 / 3.0) < 0.02
    g = kernels.init_params(seeds, n_inputs=1, n_hidden=1, scheme="normal", scale=2.0).W1.ravel()
    assert abs(g.mean()) < 0.02
    assert abs(g.std() - 2.0) < 0.02
    assert abs(np.mean(np.abs(g) < 2.0) - 0.6827) < 0.005    # one sigma
    x = kernels.init_params(seeds, n_inputs=2, n_hidden=3, scheme="xavier", scale=1.0)
    a1, a2 = math.sqrt(6 / 5), math.sqrt(6 / 4)
    assert np.abs(x.W1).max() <= a1
    assert np.abs(x.W1).max() > 0.99 * a1
    assert np.abs(x.W2).max() <= a2
    assert np.abs(x.W2).max() > 0.99 * a2
    assert not x.b1.any()
    assert not x.b2.any()
    h = kernels.init_params(seeds, n_inputs=2, n_hidden=4, scheme="he", scale=1.0)
    assert abs(h.W1.std() - 1.0) < 0.01
    assert abs(h.W2.std() - math.sqrt(2 / 4)) < 0.01
    assert not h.b1.any()
    assert not h.b2.any()
    # different parameters of one network are not the same draw
    p = kernels.init_params(seeds[:1000])
    assert np.corrcoef(p.W1[:, 0, 0], p.W1[:, 1, 1])[0, 1] ** 2 < 0.01


def test_seed_kinds():
    a = kernels.init_params([3, 4])
    b = kernels.init_params(np.array([3, 4], dtype=np.uint64))
    np.testing.assert_array_equal(a.W1, b.W1)
    assert kernels.init_params(np.array([], dtype=np.int64)).n_nets == 0
    z = kernels.init_params([1, 2], scale=0.0)
    assert not any(arr.any() for arr in z.arrays())


@pytest.mark.parametrize("scheme", SCHEMES)
def test_serial_and_parallel_draws_agree_bitwise(scheme):
    seeds = np.random.default_rng(5).integers(0, 2**62, 5000)
    serial = kernels.init_params(seeds, n_inputs=3, n_hidden=4, scheme=scheme, parallel=False)
    threaded = kernels.init_params(seeds, n_inputs=3, n_hidden=4, scheme=scheme, parallel=True)
    for a, b in zip(serial.arrays(), threaded.arrays(), strict=True):
        assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"seeds": [[1, 2]]}, "seeds must be a 1-D array"),
    ({"seeds": [1.5]}, "seeds must be integers"),
    ({"n_inputs": 0}, "n_inputs must be an integer"),
    ({"n_hidden": 2.0}, "n_hidden must be an integer"),
    ({"scheme": "glorot"}, "scheme must be one of 'uniform', 'normal', 'xavier', 'he'"),
    ({"scale": -1.0}, "scale must be a non-negative finite number"),
    ({"scale": float("nan")}, "scale must be a non-negative finite number"),
    ({"dtype": np.int32}, "dtype must be numpy.float32 or numpy.float64"),
    ({"parallel": "no"}, "parallel must be True or False"),
])
def test_bad_arguments(kwargs, message):
    args = {"seeds": [1, 2]} | kwargs
    with pytest.raises(ValueError, match=message):
        kernels.init_params(args.pop("seeds"), **args)


def test_take_one_integer_keeps_a_population_of_one():
    p = kernels.init_params(np.arange(5), n_inputs=2, n_hidden=3)
    one = p.take(3)
    assert one.n_nets == 1
    for a, b in zip(one.arrays(), p.take([3]).arrays(), strict=True):
        np.testing.assert_array_equal(a, b)
    X, Y = kernels.tasks.xor()
    np.testing.assert_array_equal(kernels.train(one, X, Y, epochs=5).loss,
                                  kernels.train(p, X, Y, epochs=5).loss[3:4])
