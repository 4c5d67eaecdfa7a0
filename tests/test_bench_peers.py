"""The benchmark's peers (benchmarks/bench_kernels.py) train the same networks as xorsweep,
and the host's ceiling (benchmarks/ceiling.py) measures the kernel's own arithmetic.

Tiny populations and few epochs: agreement only.  Each peer's test skips when its
library (JAX, PyTorch) is not installed.  The ceiling's tests check what it counts and
compiles; the one that measures asserts nothing about speed.
"""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench():
    return _load("bench_kernels")


PEER_LIBRARY = {"numpy-loop": None, "numpy": None, "jax-matrix": "jax", "jax-soa": "jax",
                "torch": "torch", "torch-compile": "torch"}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("peer", [p for p in PEER_LIBRARY if p != "torch-compile"])
def test_peer_agrees_with_xorsweep(bench, peer, dtype):
    if PEER_LIBRARY[peer]:
        pytest.importorskip(PEER_LIBRARY[peer])
    run = bench.PEERS[peer]()
    p, lr, X, Y = bench.workload(8, 2, np.dtype(dtype))
    ref = bench.make_xorsweep()(p, lr, X, Y, 50)
    got = run(p, lr, X, Y, 50)
    if peer != "numpy-loop":  # (which keeps its losses in float64)
        assert got.dtype == np.dtype(dtype)
    np.testing.assert_allclose(got, ref, rtol=bench.AGREEMENT_TOL[dtype], atol=0)


@pytest.mark.slow
# raised inside torch's own compile machinery (torch 2.13), not by the peer's code
@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
def test_torch_compile_agrees_with_xorsweep(bench):
    pytest.importorskip("torch")
    run = bench.make_torch_compile()
    p, lr, X, Y = bench.workload(8, 2, np.float64)
    ref = bench.make_xorsweep()(p, lr, X, Y, 20)
    np.testing.assert_allclose(run(p, lr, X, Y, 20), ref, rtol=bench.AGREEMENT_TOL["float64"],
                               atol=0)


def test_jax_soa_has_one_array_per_parameter(bench):
    """XOR's 2-2-1 network: 9 parameters, each its own (N,) array."""
    pytest.importorskip("jax")
    X, Y = bench.kernels.tasks.xor()
    step, loss = bench._scalar_network(X, Y, 2)
    q = tuple(np.full(3, 0.1 * (i + 1)) for i in range(9))
    out = step(q, np.full(3, 0.5))
    assert len(out) == 9
    assert all(np.shape(a) == (3,) for a in out)


def test_ceiling_counts_the_generated_kernel():
    """12 sigmoids per XOR epoch (8 hidden, 4 output), one division each; the exp's FMAs."""
    ceiling = _load("ceiling")
    # exp_neg: k (1), the two-part reduction (2), then the polynomial: float32 q in 4 and
    # p in 1; float64 q in 3 + 3 * 2 and p in 1
    per_exp = {"float32": 1 + 2 + 4 + 1, "float64": 1 + 2 + 9 + 1}
    for dtype in ("float32", "float64"):
        counts = ceiling.count_ops(dtype)["epoch"]
        assert counts["sigmoid"] == counts["exp"] == counts["div"] == 12
        assert counts["fma"] == 12 * per_exp[dtype]
        assert counts["mul"] > 12 * 3  # r**2 and the scaling's two per exp, and the rest
    assert ceiling.count_ops("float64")["epoch"]["mul"] == ceiling.count_ops("float32")[
        "epoch"]["mul"]  # the polynomials' degrees differ only in FMAs
    for dtype in ("float32", "float64"):
        one = ceiling.sigmoid_ops(dtype)
        assert (one["fma"], one["div"], one["int"]) == (per_exp[dtype], 1, 3)


@pytest.mark.parametrize(("dtype", "hidden"), [("float32", 2), ("float64", 2), ("float32", 4)])
def test_the_mix_is_the_kernels_arithmetic(dtype, hidden):
    """One pass of the mix's lane loop holds every operation of a network-epoch but memory's."""
    ceiling = _load("ceiling")
    kernel = ceiling.count_ops(dtype, hidden)["epoch"]
    outer = {"one": "float", "two": "float", "c0": "float", "c1": "float"}
    for shape in ceiling.MIX_SHAPES:
        mix = ceiling._count_loop(ceiling.mix_source(dtype, hidden, shape), outer)
        assert {k: mix[k] for k in ceiling.ARITHMETIC} == {
            k: kernel[k] for k in ceiling.ARITHMETIC}
        assert mix["exp"] == kernel["sigmoid"] == 4 * (hidden + 1)
    assert ceiling.outside_sigmoids(dtype, hidden)["mul"] > 0


@pytest.mark.parametrize(("dtype", "shape"), [("float64", (4, 8)), ("float32", (12, 16))])
def test_the_mix_keeps_its_values(dtype, shape):
    """With measure's constants its chains end each pass where they began (no drift to
    denormals or inf); its sigmoids stay in (0, 1)."""
    ceiling = _load("ceiling")
    loop = ceiling._compile("mix", dtype, 2, shape)
    lanes = loop.lanes
    assert (loop.per, loop.sigmoids, loop.rows) == (1, 12, 12 + shape[1])
    st = ceiling._state("mix", dtype, np.random.default_rng(1), loop)
    assert (st[:12 * lanes] < 0).any()  # the sigmoids' inputs on both sides of 0
    assert ((st[12 * lanes:] >= 1) & (st[12 * lanes:] < 2)).all()  # the chains' in [1, 2)
    start = st.copy()
    loop.fn(st, 3, *ceiling.constants("mix", dtype))
    np.testing.assert_array_equal(st[12 * lanes:], start[12 * lanes:])
    assert ((st[:12 * lanes] > 0) & (st[:12 * lanes] < 1)).all()


@pytest.mark.parametrize("resource", ["exp", "sigmoid"])
def test_each_pass_depends_on_the_one_before(resource):
    """The exp and sigmoid loops feed their results back: no pass is invariant to hoist."""
    ceiling = _load("ceiling")
    loop = ceiling._compile(resource, "float32")
    fn, lanes = loop.fn, loop.lanes
    start = np.random.default_rng(2).uniform(0.5, 8.0, loop.rows * lanes)
    start = start.astype(np.float32)
    once, twice = start.copy(), start.copy()
    fn(once, 1, *ceiling.constants(resource, np.float32))
    fn(twice, 2, *ceiling.constants(resource, np.float32))
    rows = slice(0, ceiling.INTERLEAVED * lanes)
    assert not np.array_equal(once[rows], start[rows])
    assert not np.array_equal(twice[rows], once[rows])


def test_the_ceiling_is_the_fastest_mix_and_saves_as_json():
    """bench_kernels writes the ceiling into its JSON; the ceiling is its fastest shape's rate."""
    import json

    ceiling = _load("ceiling")
    shapes = ((4, 8), (12, 8))
    got = json.loads(json.dumps(ceiling.ceiling("float64", seconds=0.01, repeats=1, threads=1,
                                                resources=("div",), shapes=shapes)))
    assert set(got["mix"]["1"]) == {"4/8", "12/8"}
    assert got["ceiling"]["1"] == max(got["mix"]["1"].values()) > 0
    assert got["mix"]["all"][got["shape"]] == got["ceiling"]["all"]
    assert got["binding"]["1"] == "div"
    assert got["least"]["1"] == got["bounds"]["1"]["div"] == got["rates"]["1"]["div"] / 12
