"""Initial-parameter axes (init slices), fixed initial values, criteria and task axes."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import kernels
import sweeps
from sweeps import plan

XOR_NAMES = ["W1[0,0]", "W1[0,1]", "W1[1,0]", "W1[1,1]", "b1[0]", "b1[1]", "W2[0]", "W2[1]",
             "b2"]


def test_parameter_names_follow_the_array_layout():
    assert kernels.param_names(2, 2) == XOR_NAMES
    rng = np.random.default_rng(0)
    p = kernels.Params(rng.normal(size=(5, 3, 4)), rng.normal(size=(5, 4)),
                       rng.normal(size=(5, 4)), rng.normal(size=5))
    names = kernels.param_names(3, 4)
    assert len(names) == 3 * 4 + 4 + 4 + 1
    flat = np.concatenate([p.W1.reshape(5, -1), p.b1, p.W2, p.b2[:, None]], axis=1)
    for k, name in enumerate(names):
        np.testing.assert_array_equal(p.get(name), flat[:, k])
    assert kernels.parse_param_name("W1[2, 3]") == ("W1", (2, 3))
    assert kernels.parse_param_name("b2") == ("b2", ())
    q = p.with_values({"W1[2,1]": 7.0, "b2": np.arange(5.0)})
    assert (q.W1[:, 2, 1] == 7).all()
    np.testing.assert_array_equal(q.b2, np.arange(5.0))
    assert not (p.W1[:, 2, 1] == 7).any()  # a copy


@pytest.mark.parametrize("name", ["W1[0]", "w1[0,0]", "b3", "W2[-1]", "W1[0,0,0]", "b2[0]", ""])
def test_bad_parameter_names(name):
    with pytest.raises(ValueError, match="is not a parameter name; use W1"):
        kernels.parse_param_name(name)


def test_out_of_range_parameter():
    p = kernels.init_params(np.arange(2), n_hidden=2)
    with pytest.raises(ValueError, match=r"'W2\[2\]' is out of range .* n_hidden = 2"):
        p.get("W2[2]")


SLICE = {"name": "slice", "epochs": 60, "replicates": 2, "record_every": 20,
         "grid": {"W1[0, 1]": {"linspace": [-4, 4, 5]}, "W2[1]": [-3.0, 0.5, 3.0],
                  "lr": [0.5, 2.0]},
         "init_values": {"b2": 0.25, "W1[1,1]": -1.5}}


def test_slice_expansion_and_naming():
    spec = sweeps.load_spec(SLICE)
    assert spec.param_axes == ("W1[0,1]", "W2[1]")
    assert spec.init_values == {"b2": 0.25, "W1[1,1]": -1.5}
    assert spec.n_cells == 2 * 5 * 3
    cols = plan.network_columns(spec, 0, spec.n_networks)
    # parameter axes follow the standard ones: lr slowest of these three, W2[1] fastest
    np.testing.assert_array_equal(cols["W2[1]"][::2][:3], [-3.0, 0.5, 3.0])
    np.testing.assert_array_equal(cols["W1[0,1]"][::6][:5], [-4, -2, 0, 2, 4])
    assert (cols["lr"][:30] == 0.5).all()
    # every (W1[0,1], W2[1]) pair once per lr and replicate
    pairs = set(zip(cols["W1[0,1]"][cols["replicate"] == 0][:15],
                    cols["W2[1]"][cols["replicate"] == 0][:15], strict=True))
    assert len(pairs) == 15


def test_slice_run_sets_the_named_parameters_and_draws_the_rest(tmp_path):
    spec = sweeps.load_spec(SLICE)
    df = sweeps.run(SLICE, out=tmp_path, jobs=1).networks()
    assert list(df.columns[:4]) == ["network", "cell", "hidden", "activation"]
    assert {"W1[0,1]", "W2[1]"} <= set(df.columns)
    X, Y = kernels.tasks.xor()
    p = kernels.init_params(df.seed.to_numpy(), n_hidden=2)
    p = p.with_values({"b2": 0.25, "W1[1,1]": -1.5, "W1[0,1]": df["W1[0,1]"].to_numpy(),
                       "W2[1]": df["W2[1]"].to_numpy()})
    r = kernels.train(p, X, Y, lr=df.lr.to_numpy(), epochs=spec.epochs)
    np.testing.assert_array_equal(df.final_loss.to_numpy(), r.loss)
    np.testing.assert_array_equal(df.converged_epoch.to_numpy(), r.converged_epoch)
    # the parameters named nowhere differ between replicates (drawn from the seed)
    assert df.groupby("replicate").final_loss.first().nunique() == 2


def test_slice_results_do_not_depend_on_chunking(tmp_path):
    a = sweeps.run(SLICE, out=tmp_path / "a", jobs=1, chunk_size=7).networks()
    b = sweeps.run(SLICE, out=tmp_path / "b", jobs=2, chunk_size=64).networks()
    pd.testing.assert_frame_equal(a, b)


SLICE_BAD = [
    ({"grid": {"W3[0]": [1.0]}}, r"unknown grid axis 'W3\[0\]'; axes are task, .* or an initial"),
    ({"grid": {"W1[0,2]": [1.0]}}, r"W1\[0,2\]: hidden unit 2 does not exist with hidden = 2"),
    ({"grid": {"W1[2,0]": [1.0]}}, r"W1\[2,0\]: input 2 does not exist in task 'xor' \(2"),
    ({"grid": {"W1[0,1]": [1.0], "hidden": [1, 2]}}, "unit 1 does not exist with hidden = 1"),
    ({"grid": {"b2": ["x"]}}, "grid.b2: 'x' must be a finite number"),
    ({"grid": {"b2": [1.0, 1.0]}}, "grid.b2: duplicate value 1.0"),
    ({"grid": {"W1[0,1]": [1.0], "W1[0, 1]": [2.0]}}, r"parameter W1\[0,1\] is named twice"),
    ({"grid": {"task": ["xor", "parity3"], "W1[2,0]": [1.0]}},
     r"input 2 does not exist in task 'xor' \(2 inputs.*use an input index below 2"),
    ({"dtype": "float32", "grid": {"b2": [1e39]}}, "b2 = 1e[+]?39 does not fit in float32"),
    ({"dtype": "float32", "init_values": {"b1[0]": -1e39}}, "b1.0. = -1e[+]?39 does not fit"),
    ({"criterion": ["right-side"]}, r"criterion = \['right-side'\] is unknown"),
    ({"criterion": "fahlman", "target_error": 0.7}, "sets the threshold itself"),
    ({"init_values": {"b9": 1.0}}, r"init_values: 'b9' is not a parameter name; use W1\[i,j\]"),
    ({"init_values": {"b2": math.inf}}, r"init_values.b2 = inf must be a finite number"),
    ({"init_values": {"b2": 1.0}, "grid": {"b2": [1.0]}}, "'b2' is also a grid axis"),
    ({"init_values": [1.0]}, "init_values must be a table of parameter values"),
    ({"criterion": "loose"}, "criterion = 'loose' is unknown; use one of target-error, right"),
    ({"criterion": "fahlman", "target_error": 0.2}, "sets the threshold itself .0.4.; remove"),
    ({"task": "xor", "grid": {"task": ["and"]}}, "task is given both as a top-level key and"),
    ({"grid": {"task": ["xor", "parity9"]}}, "grid.task: 'parity9' is unknown; use one of xor"),
]


@pytest.mark.parametrize(("extra", "message"), SLICE_BAD)
def test_bad_slice_specs(extra, message):
    with pytest.raises(sweeps.SpecError, match=message):
        sweeps.load_spec({"name": "bad"} | extra)


def test_new_keys_round_trip_through_toml(tmp_path):
    import tomllib

    spec = sweeps.load_spec(SLICE | {"criterion": "right-side",
                                     "grid": SLICE["grid"] | {"task": ["xor", "parity3"]}})
    again = sweeps.load_spec(tomllib.loads(spec.to_toml()))
    assert again == spec
    assert again.digest() == spec.digest()
    assert spec.digest() != sweeps.load_spec(SLICE).digest()


def _hand_set(k: float) -> dict:
    """A 2-2-1 network computing XOR: hidden OR and AND units, output sigmoid(+-k/2)."""
    return {"W1[0,0]": 20.0, "W1[1,0]": 20.0, "b1[0]": -10.0,
            "W1[0,1]": 20.0, "W1[1,1]": 20.0, "b1[1]": -30.0,
            "W2[0]": k, "W2[1]": -k, "b2": -k / 2}


@pytest.mark.parametrize(("high", "expected"), [
    # outputs about (1 - high, high, high, 1 - high): which criteria count it converged
    (0.55, {"target-error": False, "fahlman": False, "right-side": True}),
    (0.70, {"target-error": False, "fahlman": True, "right-side": True}),
    (0.95, {"target-error": True, "fahlman": True, "right-side": True}),
    (0.45, {"target-error": False, "fahlman": False, "right-side": False}),
])
def test_criteria_on_hand_set_networks(tmp_path, high, expected):
    k = 2 * math.log(high / (1 - high))
    X, Y = kernels.tasks.xor()
    p = kernels.init_params(np.arange(1), n_hidden=2).with_values(_hand_set(k))
    out = kernels.forward(p, X)[0]
    np.testing.assert_allclose(out, [1 - high, high, high, 1 - high], atol=1e-3)
    for criterion, converged in expected.items():
        spec = {"name": criterion, "epochs": 1, "replicates": 1, "grid": {"lr": [1e-12]},
                "criterion": criterion, "init_values": _hand_set(k)}
        df = sweeps.run(spec, out=tmp_path, jobs=1).networks()
        assert df.converged_epoch.iloc[0] == (0 if converged else -1), criterion
        assert df.target_error.iloc[0] == {"target-error": 0.1, "fahlman": 0.4,
                                           "right-side": 0.5}[criterion]


def test_task_axis_runs_each_task_with_its_own_kernel(tmp_path):
    spec = {"name": "tasks", "epochs": 80, "replicates": 3, "record_every": 40,
            "grid": {"task": ["xor", "parity3"], "hidden": [3], "lr": [1.0, 2.0]}}
    df = sweeps.run(spec, out=tmp_path, jobs=2, chunk_size=4).networks()
    assert list(df.task.cat.categories) == ["xor", "parity3"]
    assert [c for c in df if c.startswith("out_")] == [f"out_{s}" for s in range(8)]
    xor = df[df.task == "xor"]
    assert xor[[f"out_{s}" for s in range(4, 8)]].isna().all().all()
    assert df[df.task == "parity3"].filter(like="out_").notna().all().all()
    for task in ("xor", "parity3"):  # the same as a one-task run (replicates paired)
        alone = sweeps.run({**spec, "name": task, "task": task,
                            "grid": {"hidden": [3], "lr": [1.0, 2.0]}},
                           out=tmp_path, jobs=1).networks()
        np.testing.assert_array_equal(df[df.task == task].final_loss, alone.final_loss)


def test_slice_run_resumes_after_lost_parts(tmp_path):
    run = sweeps.run(SLICE, out=tmp_path, chunk_size=8)
    ref = run.networks()
    parts = sorted((run.path / "networks").glob("*.parquet"))
    parts[0].unlink()
    parts[2].write_bytes(parts[2].read_bytes()[:50])
    again = sweeps.run(SLICE, out=tmp_path)
    assert again.complete
    pd.testing.assert_frame_equal(again.networks(), ref)


def test_right_side_is_strict_an_output_of_one_half_is_on_neither_side(tmp_path):
    # all-zero weights: every output is exactly 1/2 and, for XOR, every gradient is 0
    zeros = dict.fromkeys(XOR_NAMES, 0.0)
    spec = {"name": "half", "epochs": 5, "replicates": 1, "criterion": "right-side",
            "init_values": zeros}
    df = sweeps.run(spec, out=tmp_path, jobs=1).networks()
    assert (df[[f"out_{s}" for s in range(4)]] == 0.5).all().all()
    assert df.converged_epoch.iloc[0] == -1
