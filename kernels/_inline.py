"""Expand calls to the scalar math into straight-line statements, for generated kernels.

The generated kernels (``_codegen.py``) evaluate the same formulas as the generic
kernel, but an out-of-order core runs them faster when independent work is
interleaved statement by statement: eight sigmoids of different samples side by
side rather than one after the other, each waiting for its own latency.  A
compiled call is an opaque block to that end, so :func:`expand` writes a call to
a function of ``_scalar.py`` or ``_elementary.py`` out as the statements of its
body (the same operations in the same order, so the results stay bitwise
identical), and :func:`interleave` merges the expansions of independent calls.

The expansion needs only what those modules promise anyway: straight-line code
whose ``if`` tests depend only on the integer codes (activation, loss), which
are constants in a generated kernel; conditional expressions stay selects.
"""

from __future__ import annotations

import ast
import copy
import functools
import inspect
import itertools
import textwrap

import numpy as np

from . import _bits, _elementary, _scalar

_MODULES = (_scalar, _elementary)
#: names that dispatch on the dtype (``exp_neg`` -> ``exp_neg_f32`` or ``exp_neg_f64``)
_BY_DTYPE = ("exp_neg", "log1p")


@functools.cache
def _definition(name: str) -> ast.FunctionDef:
    for module in _MODULES:
        if name in module.__all__:
            tree = ast.parse(textwrap.dedent(inspect.getsource(getattr(module, name))))
            return tree.body[0]
    raise KeyError(name)


def _expandable(name: str) -> bool:
    return any(name in m.__all__ for m in _MODULES) or name in _BY_DTYPE


def globals_used() -> dict[str, object]:
    """Return the module-level names that expanded code may refer to, with their values.

    A generated module must bind these (the bit primitives as the CPU build binds
    them, see ``_bits.CPU_PRIMITIVES``).
    """
    names = {k: v for m in _MODULES for k, v in vars(m).items()
             if isinstance(v, (int, float, tuple, np.generic))}
    names.update(_bits.CPU_PRIMITIVES)
    names["select"] = _bits.select_intrinsic
    return names


class _Expander:
    """Expands one call; ``counter`` numbers the nested expansions for unique names."""

    def __init__(self, suffix: str, counter: itertools.count):
        self.suffix = suffix
        self.counter = counter

    def expand(self, name: str, args: list[ast.expr], dtype: str) -> tuple[list[str], ast.expr]:
        """Return the statements of ``name(*args)`` and the expression of its result."""
        if name in _BY_DTYPE:  # the dtype dispatch, resolved here
            name = f"{name}_{dtype}"
        fn = _definition(name)
        tag = f"{self.suffix}_{next(self.counter)}"
        params = [a.arg for a in fn.args.args]
        if len(args) != len(params):
            raise TypeError(f"{name} takes {len(params)} arguments, got {len(args)}")
        stored = {n.id for n in ast.walk(fn)
                  if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        local = set(params) | stored
        # integer codes: folded into the branches; names and constants: used in place
        consts = {p: a for p, a in zip(params, args, strict=True)
                  if isinstance(a, ast.Constant) and isinstance(a.value, int)}
        out: list[str] = []
        for p, a in zip(params, args, strict=True):
            if p in consts:
                continue
            if isinstance(a, ast.Name | ast.Constant) and p not in stored:
                consts[p] = a  # a name or a constant: used in place, no copy
            else:
                out.append(f"{p}__{tag} = {ast.unparse(a)}")
        body = fn.body[1:] if isinstance(fn.body[0], ast.Expr) else fn.body
        result = self._statements(body, local, consts, tag, dtype, out)
        if result is None:
            raise ValueError(f"{name} does not return on every path")
        return out, result

    def _statements(self, body, local, consts, tag, dtype, out):
        for st in body:
            if isinstance(st, ast.If):
                taken = st.body if self._fold(st.test, consts, tag) else st.orelse
                result = self._statements(taken, local, consts, tag, dtype, out)
                if result is not None:
                    return result
                continue
            st = _Substitute(consts, local, tag).visit(copy.deepcopy(st))
            st = self._hoist_calls(st, dtype, out)
            if isinstance(st, ast.Return):
                return st.value
            out.append(ast.unparse(st))
        return None

    @staticmethod
    def _fold(test, consts, tag) -> bool:
        codes = {p: a for p, a in consts.items() if isinstance(a, ast.Constant)}
        expr = ast.Expression(_Substitute(codes, set(), tag).visit(copy.deepcopy(test)))
        try:
            return bool(eval(compile(ast.fix_missing_locations(expr), "<fold>", "eval"), {}))
        except NameError as exc:
            raise ValueError(f"cannot expand a branch on a runtime value: "
                             f"{ast.unparse(test)}") from exc

    def _hoist_calls(self, node, dtype, out):
        expander = self

        class Hoist(ast.NodeTransformer):
            def visit_Call(self, call):
                self.generic_visit(call)
                if isinstance(call.func, ast.Name) and _expandable(call.func.id):
                    stmts, result = expander.expand(call.func.id, call.args, dtype)
                    out.extend(stmts)
                    return result
                return call

        return Hoist().visit(node)


class _Substitute(ast.NodeTransformer):
    """Rename the locals of an expanded function; put the integer codes in as constants."""

    def __init__(self, consts, local, tag):
        self.consts, self.local, self.tag = consts, local, tag

    def visit_Name(self, node):
        if node.id in self.consts:
            return ast.copy_location(copy.deepcopy(self.consts[node.id]), node)
        if node.id in self.local:
            return ast.copy_location(ast.Name(f"{node.id}__{self.tag}", node.ctx), node)
        return node

    def visit_IfExp(self, node):
        # a select, not a branch (see _bits.select_intrinsic): every arm here is pure
        self.generic_visit(node)
        call = ast.Call(ast.Name("select", ast.Load()), [node.test, node.body, node.orelse], [])
        return ast.copy_location(call, node)


def expand(call: str, outs: str, tag: str, dtype: str) -> list[str]:
    """Return statements that compute ``outs = call`` with the called function's body.

    ``call`` is source text such as ``"activate(hz0_1, 0, one)"`` (integer literal
    arguments fold the function's branches); ``outs`` the target(s), e.g. ``"a, e"``;
    ``tag`` makes the expansion's local names unique; ``dtype`` (``"f32"`` or
    ``"f64"``) picks the precision of ``exp_neg`` and ``log1p``.
    """
    node = ast.parse(call, mode="eval").body
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
        raise ValueError(f"expected a call, got {call!r}")
    stmts, result = _Expander(tag, itertools.count()).expand(node.func.id, node.args, dtype)
    targets = [t.strip() for t in outs.split(",")]
    if isinstance(result, ast.Tuple) and len(result.elts) == len(targets) > 1:
        pairs = zip(targets, result.elts, strict=True)
        return stmts + [f"{t} = {ast.unparse(v)}" for t, v in pairs]
    return stmts + [f"{outs} = {ast.unparse(result)}"]


def interleave(expansions: list[list[str]]) -> list[str]:
    """Merge independent statement lists round-robin, each keeping its own order."""
    merged = []
    for group in itertools.zip_longest(*expansions):
        merged.extend(s for s in group if s is not None)
    return merged
