"""The entry points' argument lists: one declaration, and mismatches that raise."""

import ctypes

import numpy as np
import pytest
from numba import types

from kernels import _codegen, _native, _seeding
from kernels._signatures import INIT_ENTRY, TRAIN_ENTRY, EntrySignature

_CODE_OF_TYPE = {types.int64: "i", types.float32: "f", types.float64: "d"}


def _concrete_signatures():
    return [TRAIN_ENTRY.for_dtype(np.float32), TRAIN_ENTRY.for_dtype(np.float64), INIT_ENTRY]


@pytest.mark.parametrize("sig", _concrete_signatures(), ids=["train32", "train64", "init"])
def test_argcodes_and_cfunc_signature_agree(sig):
    numba_sig = sig.numba_type()
    assert numba_sig.return_type == types.void
    assert len(sig.argcodes) == len(numba_sig.args) == len(sig.names)
    for code, ty, kind in zip(sig.argcodes, numba_sig.args, sig.kinds, strict=True):
        if isinstance(ty, types.CPointer):
            assert code == "p"
            assert str(ty.dtype) == kind.removesuffix("*")
        else:
            assert code == _CODE_OF_TYPE[ty]
            assert str(ty) == kind


def test_training_entry_reads_the_dtype_where_declared_real():
    f32, f64 = TRAIN_ENTRY.for_dtype(np.float32), TRAIN_ENTRY.for_dtype(np.float64)
    real = [kind.removesuffix("*") == "real" for kind in TRAIN_ENTRY.kinds]
    assert any(real)
    for generic, a, b in zip(real, f32.kinds, f64.kinds, strict=True):
        assert (a != b) == generic
    assert f32.names == f64.names == TRAIN_ENTRY.names
    with pytest.raises(TypeError, match="for_dtype"):
        TRAIN_ENTRY.argcodes  # noqa: B018 - the property raises
    with pytest.raises(ValueError, match="float32 or float64"):
        TRAIN_ENTRY.for_dtype(np.int64)


def test_compiled_functions_take_the_declared_parameters():
    # the generated module's wrapper is written from the declaration ...
    module = _codegen.unrolled(4, 2, 2, 0, 0, lanes=4)
    TRAIN_ENTRY.check_parameters(module._entry)
    # ... and the initializer's is checked against it before it is compiled
    INIT_ENTRY.check_parameters(_seeding._entry)

    def swapped(start, stop, N, D, H, seeds, normal, w_scale2, w_scale1, b_scale, W1, b1, W2,
                b2):
        pass

    with pytest.raises(TypeError, match="w_scale2, w_scale1"):
        INIT_ENTRY.check_parameters(swapped)


def _init_values(n=3, d=2, h=2):
    return dict(start=0, stop=n, N=n, D=d, H=h, seeds=np.arange(n, dtype=np.uint64), normal=True,
                w_scale1=1.0, w_scale2=1.0, b_scale=0.5, W1=np.zeros((n, d, h)),
                b1=np.zeros((n, h)), W2=np.zeros((n, h)), b2=np.zeros(n))


def test_pack_orders_arguments_as_declared():
    values = _init_values()
    packed = INIT_ENTRY.pack(**dict(reversed(values.items())))
    assert packed[:5] == (0, 3, 3, 2, 2)
    assert packed[5] == values["seeds"].ctypes.data
    assert packed[6] == 1
    assert type(packed[6]) is int
    assert packed[7:10] == (1.0, 1.0, 0.5)
    assert packed[10:] == tuple(values[k].ctypes.data for k in ("W1", "b1", "W2", "b2"))


def test_pack_refuses_a_missing_or_unknown_name():
    values = _init_values()
    del values["w_scale2"]
    with pytest.raises(TypeError, match=r"missing arguments \['w_scale2'\]"):
        INIT_ENTRY.pack(**values)
    with pytest.raises(TypeError, match=r"unknown arguments \['w_scale3'\]"):
        INIT_ENTRY.pack(**values, w_scale3=1.0)
    with pytest.raises(TypeError, match="for_dtype"):
        TRAIN_ENTRY.pack()


def test_pack_refuses_arrays_of_another_dtype_or_layout():
    values = _init_values()
    with pytest.raises(TypeError, match="seeds must be a uint64 array, got int64"):
        INIT_ENTRY.pack(**{**values, "seeds": np.arange(3)})
    with pytest.raises(TypeError, match="W2 must be a float64 array, got float32"):
        INIT_ENTRY.pack(**{**values, "W2": np.zeros((3, 2), np.float32)})
    with pytest.raises(TypeError, match="b2 must be a float64 array, got int"):
        INIT_ENTRY.pack(**{**values, "b2": values["b2"].ctypes.data})
    with pytest.raises(ValueError, match="W1 must be C-contiguous"):
        INIT_ENTRY.pack(**{**values, "W1": np.zeros((3, 2, 2)).transpose(0, 2, 1)})
    with pytest.raises(TypeError):  # an int64 argument given a float
        INIT_ENTRY.pack(**{**values, "N": 3.0})


def test_declarations_refuse_duplicates_and_unknown_kinds():
    with pytest.raises(ValueError, match="appear twice: a"):
        EntrySignature("t", (("a", "int64"), ("a", "float64")))
    with pytest.raises(ValueError, match="unknown kind 'int32'"):
        EntrySignature("t", (("a", "int32"),))
    with pytest.raises(ValueError, match=r"unknown kind 'real\*\*'"):
        EntrySignature("t", (("a", "real**"),))


def test_a_declared_entry_point_runs_through_ctypes():
    """The declaration, numba's cfunc and ctypes agree on a small entry point of each kind."""
    from numba import carray, cfunc

    sig = EntrySignature("t", (("n", "int64"), ("scale", "real"), ("x", "real*"),
                               ("y", "float64"), ("out", "int64*"))).for_dtype(np.float32)

    def entry(n, scale, x, y, out):
        xs, o = carray(x, (n,)), carray(out, (n,))
        for i in range(n):
            o[i] = int(xs[i] * scale + y)

    compiled = cfunc(sig.numba_type())(entry)
    f = ctypes.CFUNCTYPE(None, *(_native._CTYPES[c] for c in sig.argcodes))(compiled.address)
    x, out = np.array([1.0, 2.0, 3.0], np.float32), np.zeros(3, np.int64)
    f(*sig.pack(out=out, y=0.5, x=x, scale=2.0, n=3))
    np.testing.assert_array_equal(out, [2, 4, 6])
