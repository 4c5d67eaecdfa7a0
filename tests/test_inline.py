"""The generated kernels write the scalar math out inline: the same math, bit for bit."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numba import njit

from kernels import _codegen, _cpu, _inline

ARGS = "z, a, y, e, u, inv_s, one"

# every call the generated kernels expand, with each integer code they pass
CALLS = ([(f"activate(z, {c}, one)", "r") for c in range(3)]
         + [(f"activate_grad(z, a, {c}, one)", "r") for c in range(3)]
         + [("output(z, one)", "r, s")]
         + [(f"{f}, {c}, one)", "r") for c in range(2) for f in
            ("loss_term(z, a, y", "loss_log_acc(u, e", "loss_log(u", "loss_grad(a, y, inv_s")])


def _compile(lines, outs, ns):
    src = f"def f({ARGS}):\n" + "".join(f"    {line}\n" for line in lines) + f"    return {outs}\n"
    exec(src, ns)
    return njit(ns["f"])


def _inputs(dtype, n=300):
    rng = np.random.default_rng(7)
    z = np.concatenate([rng.normal(0, 4, n - 8), [0.0, -0.0, 40.0, -40.0, 800.0, -800.0, np.inf,
                                                   np.nan]])
    a = rng.uniform(0, 1, n)
    y = rng.integers(0, 2, n)
    e = np.exp(-np.abs(rng.normal(0, 3, n)))
    u = rng.exponential(3.0, n)
    return [v.astype(dtype) for v in (z, a, y, e, u)]


def _bits(x):
    x = np.asarray(x)
    return x.view(np.uint64 if x.dtype == np.float64 else np.uint32)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("call", "outs"), CALLS)
def test_expansion_computes_the_compiled_function_bit_for_bit(call, outs, dtype):
    dt = "f64" if dtype == np.float64 else "f32"
    inlined = _compile(_inline.expand(call, outs, "t", dt), outs,
                       {"math": math, **_inline.globals_used()})
    compiled = _compile([f"{outs} = {call}"], outs, dict(vars(_cpu)))
    one = dtype(1)
    inv_s = one / dtype(4)
    got, want = [], []
    for z, a, y, e, u in zip(*_inputs(dtype), strict=True):
        got.append(inlined(z, a, y, e, u, inv_s, one))
        want.append(compiled(z, a, y, e, u, inv_s, one))
    got, want = np.array(got, dtype), np.array(want, dtype)
    np.testing.assert_array_equal(_bits(got), _bits(want))


def test_expansion_renames_locals_apart():
    first = _inline.expand("output(z0, one)", "a0, e0", "o0", "f64")
    second = _inline.expand("output(z1, one)", "a1, e1", "o1", "f64")
    assigned = [{line.split(" = ")[0] for line in x[:-2]} for x in (first, second)]
    assert not assigned[0] & assigned[1]
    merged = _inline.interleave([first, second])
    assert merged[:2] == [first[0], second[0]]
    assert sorted(merged) == sorted(first + second)


def test_branch_on_a_runtime_value_is_refused():
    with pytest.raises(ValueError, match="runtime value"):
        _inline.expand("activate(z, act, one)", "a", "t", "f64")


@pytest.mark.parametrize("n", [1, 2, 3, 10, 17])
def test_tree_sum_adds_every_term_once(n):
    # a compound term, first: "a if c else b + t[1]" would drop t[1] without brackets
    terms = ["t[0] if True else 0.0"] + [f"t[{i}]" for i in range(1, n)]
    ns = {"t": [2.0**i for i in range(n)]}  # distinct bits: a lost or doubled term shows
    lines = _codegen._tree_sum(terms, "s")
    for line in lines:
        exec(line, ns)
    assert ns["s"] == 2.0**n - 1
    # pairwise: ceil(log2 n) levels of additions, not a running sum's n - 1
    levels = {line.split("_")[1] for line in lines if line.startswith("s_")}
    assert len(levels) == int(np.ceil(np.log2(n)))
