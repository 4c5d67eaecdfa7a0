from __future__ import annotations

import numpy as np
import pytest

import kernels


@pytest.fixture
def setup():
    X, Y = kernels.tasks.xor()
    return kernels.init_params(np.arange(4)), X, Y


def _with(p, **arrays):
    fields = dict(zip(("W1", "b1", "W2", "b2"), p.arrays(), strict=True)) | arrays
    return kernels.Params(**fields)


@pytest.mark.parametrize(("change", "message"), [
    (lambda p, X, Y: (p, X[:, :1], Y),
     r"X has 1 inputs per sample but the networks have n_inputs = 2"),
    (lambda p, X, Y: (p, X[0], Y), r"X must have shape \(n_samples, n_inputs\)"),
    (lambda p, X, Y: (p, np.where(X == 1, np.nan, X), Y), "X contains NaN or inf"),
    (lambda p, X, Y: (p, X, Y[:3]), r"Y must have shape \(4,\) to match X"),
    (lambda p, X, Y: (p, X, Y * 0.5), "Y must contain only the targets 0 and 1"),
    (lambda p, X, Y: (p, X, np.full(4, np.nan)), "Y must contain only the targets 0 and 1"),
    (lambda p, X, Y: ("params", X, Y), "p must be a kernels.Params"),
    (lambda p, X, Y: (_with(p, b1=p.b1[:, :1]), X, Y), r"p.b1 must have shape \(4, 2\)"),
    (lambda p, X, Y: (_with(p, b2=p.b2[:3]), X, Y), r"p.b2 must have shape \(4,\)"),
    (lambda p, X, Y: (_with(p, W1=p.W1[0]), X, Y), r"p.W1 must have shape \(n_nets, n_inputs"),
    (lambda p, X, Y: (_with(p, W2=p.W2.astype(np.float32)), X, Y), "p.W2 has dtype float32"),
    (lambda p, X, Y: (_with(p, b2=np.array([0, 1, np.inf, 0])), X, Y), "p.b2 contains NaN"),
    (lambda p, X, Y: (p.astype(np.int64), X, Y), "p.W1 must be float32 or float64"),
])
def test_bad_data_and_params(setup, change, message):
    p, X, Y = change(*setup)
    with pytest.raises(ValueError, match=message):
        kernels.train(p, X, Y, epochs=1)
    with pytest.raises(ValueError, match=message):
        kernels.gradients(p, X, Y)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"epochs": -1}, "epochs must be an integer from 0 to"),
    ({"epochs": 10.0}, "epochs must be an integer"),
    ({"record_every": 0}, "record_every must be an integer >= 1"),
    ({"activation": "softmax"}, "activation must be one of 'sigmoid', 'tanh', 'relu'"),
    ({"loss": "hinge"}, "loss must be one of 'bce', 'mse'"),
    ({"lr": -0.1}, r"lr must be a finite number >= 0, got -0.1"),
    ({"lr": np.nan}, "lr must be a finite number >= 0, got nan"),
    ({"lr": np.ones(3)}, r"lr must be a scalar or an array of shape \(4,\)"),
    ({"lr": np.array([1, 1, np.inf, 1])},
     r"lr must be a finite number >= 0 for every network; lr\[2\] = inf"),
    ({"momentum": 1.0}, r"momentum must be a number in \[0, 1\)"),
    ({"momentum": [0.5, 0.5, -0.1, 0.5]}, r"momentum\[2\]"),
    ({"momentum": np.zeros(5)}, r"momentum must be a scalar or an array of shape \(4,\)"),
    ({"target_error": 0.0}, r"target_error must be a number in \(0, 0.5\]"),
    ({"target_error": 0.7}, r"target_error must be a number in \(0, 0.5\]"),
])
def test_bad_training_arguments(setup, kwargs, message):
    p, X, Y = setup
    with pytest.raises(ValueError, match=message):
        kernels.train(p, X, Y, **({"epochs": 1} | kwargs))


def test_bad_forward_and_gradient_names(setup):
    p, X, Y = setup
    with pytest.raises(ValueError, match="activation must be one of"):
        kernels.forward(p, X, activation="gelu")
    with pytest.raises(ValueError, match="loss must be one of"):
        kernels.gradients(p, X, Y, loss="l1")
    with pytest.raises(ValueError, match="X has 3 inputs"):
        kernels.forward(p, np.zeros((4, 3)))


def test_inputs_checked_in_the_working_dtype(setup):
    p, X, Y = setup
    with pytest.raises(ValueError, match="X contains NaN or inf"):
        kernels.train(p.astype(np.float32), X * 1e300, Y, epochs=1)
    with pytest.raises(ValueError, match=r"momentum = 0.9999999999 rounds to 1.0"):
        kernels.train(p.astype(np.float32), X, Y, epochs=1, momentum=0.9999999999)
    with pytest.raises(ValueError, match=r"momentum\[1\] = 0.9999999999 rounds to 1.0"):
        kernels.train(p.astype(np.float32), X, Y, epochs=1,
                      momentum=np.r_[0.5, 0.9999999999, np.zeros(p.n_nets - 2)])


@pytest.mark.parametrize(("call", "message"), [
    (lambda p, X, Y: kernels.train(p, X, Y, epochs=2**63), "epochs must be an integer from 0"),
    (lambda p, X, Y: kernels.train(p, X, Y, parallel="no"), "parallel must be True or False"),
    (lambda p, X, Y: kernels.forward(p, X, parallel=1), "parallel must be True or False"),
    (lambda p, X, Y: kernels.record_epochs(10, 0), "record_every must be an integer >= 1"),
    (lambda p, X, Y: kernels.record_epochs(-1, 1), "epochs must be an integer from 0"),
    (lambda p, X, Y: kernels.record_epochs(3.5, 1), "epochs must be an integer"),
    (lambda p, X, Y: kernels.tasks.by_name(["xor"]), "task must be one of"),
    (lambda p, X, Y: kernels.init_params([1], dtype=None), "dtype must be numpy.float32"),
    (lambda p, X, Y: kernels.init_params([1], scale=1e300, dtype=np.float32),
     "scale = 1e[+]?300 overflows float32"),
])
def test_more_bad_arguments(setup, call, message):
    with pytest.raises(ValueError, match=message):
        call(*setup)


def test_a_curve_that_cannot_fit_in_memory_is_refused_before_allocating(setup):
    p, X, Y = setup
    # 2**40 recorded epochs: terabytes for the epoch list alone, on any machine
    with pytest.raises(ValueError, match=r"record_every: .* recorded epochs need .* GiB, more "
                                         r"than half this machine's memory .* larger "
                                         r"record_every"):
        kernels.train(p, X, Y, epochs=2**40, record_every=1)
    with pytest.raises(ValueError, match="more than half this machine's memory"):
        kernels.record_epochs(kernels.training.MAX_EPOCHS, 1)
    assert list(kernels.record_epochs(2**40, 2**39)) == [0, 2**39, 2**40]


def test_the_curve_memory_rule_counts_networks_times_recorded_epochs(setup, monkeypatch):
    p, X, Y = setup  # 4 networks, float64: 101 recorded epochs need 101 * (4 * 8 + 8) bytes
    monkeypatch.setattr(kernels.training, "curve_memory_limit", lambda: 101 * 40)
    assert kernels.train(p, X, Y, epochs=100, record_every=1).curve.shape == (4, 101)
    monkeypatch.setattr(kernels.training, "curve_memory_limit", lambda: 101 * 40 - 1)
    with pytest.raises(ValueError, match=r"4 networks x 101 recorded epochs"):
        kernels.train(p, X, Y, epochs=100, record_every=1)
    kernels.train(p, X, Y, epochs=100, record_every=None)  # nothing recorded: no limit
    monkeypatch.setattr(kernels.training, "curve_memory_limit", lambda: None)
    assert kernels.train(p, X, Y, epochs=100, record_every=1).curve.shape == (4, 101)


def test_with_values_of_the_wrong_length_names_the_parameter(setup):
    p, _, _ = setup
    with pytest.raises(ValueError, match=r"W1\[0,1\]: got values of shape \(3,\) for 4 "
                                         r"networks; give a scalar or one value per network"):
        p.with_values({"W1[0,1]": [1.0, 2.0, 3.0]})
    with pytest.raises(ValueError, match=r"b2: got values of shape \(4, 1\)"):
        p.with_values({"b2": np.zeros((4, 1))})
    q = p.with_values({"W1[0,1]": np.arange(4.0), "b2": 0.5})
    np.testing.assert_array_equal(q.W1[:, 0, 1], np.arange(4.0))
    np.testing.assert_array_equal(q.b2, 0.5)


@pytest.mark.parametrize("evaluate", [kernels.losses, kernels.gradients])
def test_losses_and_gradients_need_the_targets(setup, evaluate):
    p, X, _ = setup
    with pytest.raises(ValueError, match=r"Y must have shape \(4,\) to match X, got \(\)"):
        evaluate(p, X, None)


def test_zero_dimensional_arrays_are_numbers(setup):
    p, X, Y = setup
    a = kernels.train(p, X, Y, epochs=20, lr=np.array(1.5), momentum=np.array(0.5))
    b = kernels.train(p, X, Y, epochs=20, lr=1.5, momentum=0.5)
    np.testing.assert_array_equal(a.loss, b.loss)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"momentum": 2.0}, r"momentum must be a number in \[0, 1\)"),
    ({"momentum": [0.0, float("nan")]}, r"momentum\[1\] = nan"),
    ({"sizes": 2.5}, "sizes must be an integer, got 2.5"),
])
def test_warmup_checks_what_train_checks(kwargs, message):
    X, Y = kernels.tasks.xor()
    with pytest.raises(ValueError, match=message):
        kernels.warmup(X, Y, **kwargs)


@pytest.mark.parametrize(("args", "message"), [
    ((0, 2), "n_inputs must be an integer >= 1, got 0"),
    ((2, "a"), "n_hidden must be an integer, got 'a'"),
])
def test_param_names_refuses_impossible_shapes(args, message):
    with pytest.raises(ValueError, match=message):
        kernels.param_names(*args)


def test_params_of_another_dtype_are_told_how_to_convert(setup):
    p, X, Y = setup
    with pytest.raises(ValueError, match=r"float16; convert with p.astype\(np.float64\)"):
        kernels.train(p.astype(np.float16), X, Y, epochs=1)


def test_params_from_lists_and_boolean_inputs(setup):
    p, X, Y = setup
    listed = kernels.Params(*(a.tolist() for a in p.arrays()))
    assert listed.n_nets == p.n_nets
    np.testing.assert_array_equal(kernels.train(listed, X.astype(bool), Y, epochs=5).loss,
                                  kernels.train(p, X, Y, epochs=5).loss)
