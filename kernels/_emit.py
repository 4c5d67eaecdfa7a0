"""Compile the generated kernels' straight-line code to LLVM IR without numba's front end.

A generated kernel (``_codegen.py``) is a few loops over the lanes of a block,
each a few hundred statements of plain arithmetic.  numba compiles such code
slowly: type inference tries a dozen typing templates for every one of some two
thousand operations, and lowering goes through its generic machinery for each.
Yet the code holds only a few dozen distinct operations (float32 add, int64
shift, ...).  :func:`compile_lanes` turns a plain-Python function written in
that small language into a numba intrinsic that emits its LLVM IR directly,
resolving each distinct operation's type and implementation once, from numba
itself (``typing_context.resolve_function_type`` and
``target_context.get_function``): every operation compiles exactly as numba
compiles it (same promotions, same instructions, the fast-math flags numba
applies to the function), so the results stay bitwise those of the generic
kernel, and only the repeated work goes.

The language, which is all that ``_codegen`` writes:

* ``name = expression``; ``array[index] = expression`` (the index an integer
  expression, or a tuple of them); ``for j in range(constant):`` around
  statements; ``if name:`` around statements (a loop or an ``if`` may not assign
  a name defined before it: nothing is carried from one iteration to the next);
* expressions of names, numeric constants, ``+ - * / & | << >>``, unary ``-``,
  single comparisons, ``array[index]`` loads, calls of any function numba can
  call with these types (``abs``, ``select``, ``np.floor``, ``math.tanh``, the
  bit primitives), ``tuple[constant]`` on global tuples;
* names are the function's parameters, its own assignments, or globals of
  ``namespace`` (compile-time constants).

Anything else raises ``NotImplementedError`` naming the construct.
"""

from __future__ import annotations

import ast
import builtins
import functools
import inspect
import operator
import textwrap

import numpy as np
from numba.core import cgutils, types
from numba.extending import intrinsic
from numba.np import numpy_support

__all__ = ["compile_lanes"]

_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv, ast.BitAnd: operator.and_, ast.BitOr: operator.or_,
           ast.LShift: operator.lshift, ast.RShift: operator.rshift}
_COMPARE = {ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt,
            ast.GtE: operator.ge, ast.Eq: operator.eq, ast.NotEq: operator.ne}
_UNARY = {ast.USub: operator.neg}


def compile_lanes(fn, namespace: dict):
    """Return a numba intrinsic that runs plain-Python ``fn`` (see the module docstring).

    The intrinsic takes ``fn``'s parameters (arrays, scalars, booleans), returns
    nothing, and can be called only from compiled code.
    """
    code = fn.__code__
    params = list(code.co_varnames[:code.co_argcount])

    @functools.cache
    def body():  # parsed when first compiled: a process that loads the cache never needs it
        return ast.parse(textwrap.dedent(inspect.getsource(fn))).body[0].body

    def codegen(context, builder, sig, values):
        env = {p: (t, v) for p, t, v in zip(params, sig.args, values, strict=True)}
        _Emitter(context, builder, namespace, env).block(body())
        return context.get_dummy_value()

    # numba's intrinsics take named parameters (no *args): write the typer out
    ns = {"types": types, "codegen": codegen}
    names = ", ".join(params)
    exec(f"def {fn.__name__}(typingctx, {names}):\n"
         f"    return types.none({names}), codegen", ns)
    return intrinsic(ns[fn.__name__])


class _Const:
    """A compile-time Python value (a global tuple, say), not yet in the IR."""

    def __init__(self, value):
        self.value = value


class _Emitter:
    """Emits the IR of statements; ``env`` maps names to (numba type, LLVM value)."""

    def __init__(self, context, builder, namespace, env):
        self.context, self.builder = context, builder
        self.namespace, self.env = namespace, env
        self.outer: set[str] = set()  # names the current loop or if may not assign
        # (function, argument types) -> (signature, implementation); per compilation,
        # as the implementations belong to this context (error model, fast-math flags)
        self._resolved = {}

    def block(self, body):
        for st in body:
            if isinstance(st, ast.Expr) and isinstance(st.value, ast.Constant):
                continue  # a docstring
            if isinstance(st, ast.Assign) and len(st.targets) == 1:
                target = st.targets[0]
                if isinstance(target, ast.Name):
                    if target.id in self.outer:
                        raise NotImplementedError(
                            f"assigning {target.id!r} in a loop or if that it was defined "
                            f"before: {ast.unparse(st)}")
                    self.env[target.id] = self.expr(st.value)
                    continue
                if isinstance(target, ast.Subscript):
                    ty, value = self.value(st.value)
                    aryty, ptr = self.pointer(target)
                    value = self.context.cast(self.builder, value, ty, aryty.dtype)
                    self.builder.store(value, ptr)
                    continue
            if isinstance(st, ast.For) and not st.orelse and isinstance(st.target, ast.Name):
                it = st.iter
                if (isinstance(it, ast.Call) and isinstance(it.func, ast.Name)
                        and it.func.id == "range" and len(it.args) == 1):
                    stop = self.constant(it.args[0])
                    with cgutils.for_range(self.builder, self.context.get_constant(
                            types.intp, stop)) as loop:
                        self.nested(st.body, {st.target.id: (types.intp, loop.index)})
                    continue
            if isinstance(st, ast.If) and not st.orelse:
                ty, pred = self.value(st.test)
                pred = self.context.cast(self.builder, pred, ty, types.boolean)
                with self.builder.if_then(pred):
                    self.nested(st.body, {})
                continue
            raise NotImplementedError(f"statement not supported: {ast.unparse(st)}")

    def nested(self, body, names):
        """Emit the body of a loop or an ``if``: straight-line code, no carried values.

        Names it assigns are its own (gone after it), and it may not assign the
        names defined before it: that would need a value carried from one
        iteration (or branch) to the next, which this emitter does not build.
        """
        env, outer = self.env, self.outer
        self.outer = set(env)
        self.env = {**env, **names}
        try:
            self.block(body)
        finally:
            self.env, self.outer = env, outer

    def constant(self, node):
        value = self.expr(node)
        if not isinstance(value, _Const):
            raise NotImplementedError(f"not a compile-time constant: {ast.unparse(node)}")
        return value.value

    def value(self, node):
        """Return (numba type, LLVM value) of an expression."""
        result = self.expr(node)
        if isinstance(result, _Const):
            value = result.value
            if isinstance(value, bool):
                ty = types.boolean
            elif isinstance(value, int):
                ty = types.int64
            elif isinstance(value, float):
                ty = types.float64
            elif isinstance(value, np.generic):
                ty = numpy_support.from_dtype(value.dtype)
            else:
                raise NotImplementedError(f"not a number: {ast.unparse(node)}")
            return ty, self.context.get_constant(ty, value)
        return result

    def expr(self, node):
        """Return (numba type, LLVM value), or a :class:`_Const` for compile-time values."""
        if isinstance(node, ast.Constant):
            return _Const(node.value)
        if isinstance(node, ast.Name):
            if node.id in self.env:
                return self.env[node.id]
            if node.id in self.namespace:
                return _Const(self.namespace[node.id])
            if hasattr(builtins, node.id):
                return _Const(getattr(builtins, node.id))
            raise NameError(f"name {node.id!r} is not defined")
        if isinstance(node, ast.Attribute):
            owner = self.constant(node.value)
            return _Const(getattr(owner, node.attr))
        if isinstance(node, ast.Subscript):
            base = self.expr(node.value)
            if isinstance(base, _Const):  # a global tuple indexed by a constant
                return _Const(base.value[self.constant(node.slice)])
            aryty, ptr = self.pointer(node)
            return aryty.dtype, self.builder.load(ptr)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            return self.call(_BINARY[type(node.op)], [node.left, node.right])
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            return self.call(_UNARY[type(node.op)], [node.operand])
        if (isinstance(node, ast.Compare) and len(node.ops) == 1
                and type(node.ops[0]) in _COMPARE):
            return self.call(_COMPARE[type(node.ops[0])], [node.left, node.comparators[0]])
        if isinstance(node, ast.Call) and not node.keywords:
            return self.call(self.constant(node.func), node.args)
        raise NotImplementedError(f"expression not supported: {ast.unparse(node)}")

    def pointer(self, node):
        """Return (array type, element pointer) of ``array[index]``."""
        aryty, ary = self.expr(node.value)
        if not isinstance(aryty, types.Array):
            raise NotImplementedError(f"not an array: {ast.unparse(node.value)}")
        index = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if len(index) != aryty.ndim:
            raise NotImplementedError(f"index all {aryty.ndim} dimensions: {ast.unparse(node)}")
        inds = []
        for i in index:
            ty, v = self.value(i)
            if not isinstance(ty, types.Integer):
                raise NotImplementedError(f"not an integer index: {ast.unparse(i)}")
            inds.append(self.context.cast(self.builder, v, ty, types.intp))
        array = self.context.make_array(aryty)(self.context, self.builder, ary)
        return aryty, cgutils.get_item_pointer(self.context, self.builder, aryty, array, inds)

    def call(self, fn, arg_nodes):
        """Emit ``fn(*args)`` as numba compiles it; return (type, value)."""
        args = [self.value(a) for a in arg_nodes]
        argtys = tuple(t for t, _ in args)
        key = (fn, argtys)
        if key not in self._resolved:
            typing = self.context.typing_context
            fnty = typing.resolve_value_type(fn)
            sig = typing.resolve_function_type(fnty, argtys, {})
            if sig is None:
                raise TypeError(f"no implementation of {fn} for {argtys}")
            self._resolved[key] = sig, self.context.get_function(fnty, sig)
        sig, impl = self._resolved[key]
        values = [self.context.cast(self.builder, v, t, want)
                  for (t, v), want in zip(args, sig.args, strict=True)]
        return sig.return_type, impl(self.builder, values)

