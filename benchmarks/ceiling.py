"""The host's ceiling for one network-epoch of the generated XOR kernel, measured.

Two halves, then the ceiling and a looser bound, all printed:

* **What an epoch costs.**  The generated kernel for XOR (``kernels._codegen``: 4
  samples, 2 inputs, H hidden units, sigmoid, bce, no momentum, inputs built in as
  0/1, the wide blocks that ``kernels.train`` uses from about 80 networks on) is
  read back from its module's source, and the statements of ``_sweep_lanes`` are
  counted, per pass of each lane loop, that is per network.  The loops that run
  every epoch make the per-epoch count; the loss loop, which runs only on the
  epochs that record, is reported apart.  Counting method: a walk over the
  syntax tree of each loop body with the types of the names (float, int, bool)
  propagated from their assignments; an operation counts only if an operand
  varies from lane to lane (reads ``st`` or a name that does), since LLVM hoists
  or folds the rest (``one - one``, ``(1023 + 55) << 52``, the polynomial's
  coefficients).  Classes: ``mul``, ``add`` (float + and -), ``div``, ``cmp``,
  ``select``, ``logic`` (abs, unary minus, & and | of masks), ``int`` (the
  exponent's integer add and shift), all of them in the mix below, and, in
  neither bound, ``load``/``store`` (rows of the block's state: L1).  ``exp``
  counts the expansions of the kernel's ``exp_neg`` (one ``f64_bits``/``f32_bits``
  each) and ``sigmoid`` the same in the per-epoch loops, where every exp is a
  sigmoid's (hidden layer and output); ``fma`` the calls of the ``fma`` primitive
  (the exp's multiply-adds).  The kernel is compiled without ``contract``
  (``config.FASTMATH_FLAGS``), so LLVM fuses no other multiply-add.
* **What the host does.**  The throughput of each resource, per lane (one lane
  is one network), on one thread and on every thread (``numba.get_num_threads()``,
  as ``kernels.train``; each thread its own arrays, nogil functions on a thread
  pool, as ``kernels._parallel``): the kernel's own ``exp_neg`` (of ``-|v|``, as the
  sigmoid calls it) and sigmoid (``_inline.expand`` of ``activate(z, 0, one)``), 4
  interleaved per pass of a 64-lane loop, as the kernel interleaves them, each
  result written back to its input so that no pass is invariant for LLVM to hoist;
  float multiply, add, divide and FMA (8 independent chains of 16 operations per
  lane, on values loaded once per pass: the units, not the memory; FMA by the
  kernel's ``fma`` primitive).  All compiled by numba with the kernel's options
  (``error_model="numpy"``, no fast-math).  Each figure is the median of
  ``--repeats`` timed calls after a warm-up.

**The ceiling: the kernel's arithmetic, measured as one mix.**  One pass of the
mix's lane loop (:func:`mix_source`, as many lanes as the kernel's blocks) does one
network-epoch's arithmetic: the kernel's sigmoids, 4 or 12 at a time, and after each
group its share of every operation outside them (:func:`outside_sigmoids`: the
multiplies, adds, compares, selects and abs of the forward and backward passes and
the checks) spread over 8, 12 or 16 independent chains whose values do not change.
What the kernel's data flow imposes is left out: the dependences between its steps
(forward, backward, update: each a few operations deep, the chains here about 20),
its four loops an epoch and the rows of state they pass on, and the block loop.
The mix still reads and writes one row per sigmoid and chain each pass, and LLVM
spills some of its values to the stack, as it does the kernel's.  The ceiling is the
rate of the fastest of the six shapes (no one shape is fastest on every core): a
measured reference, not a proof, which the kernel can exceed by a few percent
(noise, or a schedule better than the mix's).  llvm-mca agrees with it: on Zen 4
the mix's loops keep the busiest pipe (a multiply pipe) busy for 17.4-17.9 cycles
per network-epoch in float32 and 44.6-45.9 in float64 across the shapes, the
kernel's loops for 17.5 and 45.3.

**The least single-resource bound**, printed beside it: an epoch cannot run
faster than any one resource allows, its ``n`` sigmoids at the measured sigmoid
rate ``R`` take ``n / R``, and so on; the least of the ``R / n`` is a bound that
charges nothing for the operations outside the binding resource.  It is optimistic
wherever those share its pipes: on Zen 3 and Zen 4 the multiplications, FMAs,
divisions, compares and selects all go to the same two pipes, so the kernel's 59
multiplications, 16 selects and 8 compares outside its 12 sigmoids cost cycles that
this bound does not count (the sigmoid alone bounds float32 at about 640 M network-
epochs/s on the 2-core Zen 4 host, the mix at about 400 M).

    python benchmarks/ceiling.py                 # float32 and float64, H = 2
    python benchmarks/ceiling.py --quick         # a smoke run in seconds
"""

from __future__ import annotations

import argparse
import ast
import functools
import itertools
import statistics
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import numpy as np

import kernels

# resources whose throughput bounds an epoch (see the module docstring)
CHARGED = ("sigmoid", "exp", "mul", "add", "div", "fma")
SHOWN = ("cmp", "select", "logic", "int", "load", "store")
LANES = 64          # lanes per pass of a measuring loop (the mix: the kernel's blocks')
INTERLEAVED = 4     # sigmoids (exps) per pass, as the kernel's lane loops
CHAINS, ROUNDS = 8, 16  # independent chains per lane, operations per chain per pass
#: the mix's shapes (mix_source): sigmoids interleaved, chains; the fastest is the ceiling
MIX_SHAPES = tuple(itertools.product((4, 12), (8, 12, 16)))
#: operations that are not memory accesses: what a sigmoid and the mix are made of
ARITHMETIC = ("mul", "add", "div", "fma", "cmp", "select", "logic", "int")


# --- what an epoch costs ------------------------------------------------------------------

def sweep_function(dtype, hidden: int = 2) -> ast.FunctionDef:
    """Return the syntax tree of ``_sweep_lanes`` of the generated XOR kernel."""
    X, _ = kernels.tasks.xor()
    module = kernels._codegen.unrolled(X.shape[0], X.shape[1], hidden, 0, 0, dtype=np.dtype(dtype),
                                       inputs=kernels._codegen.input_pattern(X), momentum=False)
    tree = ast.parse(Path(module.__file__).read_text())
    return next(n for n in ast.walk(tree)
                if isinstance(n, ast.FunctionDef) and n.name == "_sweep_lanes")


class _LoopCounter:
    """Counts the operations of one pass of a lane loop (see the module docstring)."""

    _BITS_TO_INT = {"f64_bits", "f32_bits"}
    _BITS_TO_FLOAT = {"bits_f64", "bits_f32"}

    def __init__(self, namespace: dict, outer: dict[str, str]):
        self.namespace, self.kinds = namespace, dict(outer)
        self.varying: set[str] = {"j"}
        self.counts: Counter = Counter()
        self.loads: set[str] = set()

    def count(self, loop: ast.For) -> Counter:
        for st in loop.body:
            if not (isinstance(st, ast.Assign) and len(st.targets) == 1):
                raise NotImplementedError(ast.unparse(st))
            target = st.targets[0]
            kind, varies = self.visit(st.value)
            if isinstance(target, ast.Subscript):
                self.counts["store"] += 1
            else:
                self.kinds[target.id] = kind
                if varies:
                    self.varying.add(target.id)
                else:
                    self.varying.discard(target.id)
        self.counts["load"] = len(self.loads)
        return self.counts

    def visit(self, node) -> tuple[str, bool]:
        """Return the kind (float, int, bool, tuple) of ``node`` and whether it varies."""
        if isinstance(node, ast.Constant):
            kind = ("bool" if isinstance(node.value, bool) else
                    "int" if isinstance(node.value, int) else "float")
            return kind, False
        if isinstance(node, ast.Name):
            if node.id in self.kinds:
                return self.kinds[node.id], node.id in self.varying
            value = self.namespace[node.id]
            kind = ("tuple" if isinstance(value, tuple) else
                    "int" if isinstance(value, int | np.integer) else "float")
            return kind, False
        if isinstance(node, ast.Subscript):
            if isinstance(node.value, ast.Name) and node.value.id == "st":
                self.loads.add(ast.unparse(node.slice))
                return "float", True
            return "float", self.visit(node.value)[1]  # a coefficient of a global tuple
        if isinstance(node, ast.BinOp):
            (a, va), (b, vb) = self.visit(node.left), self.visit(node.right)
            kind = a if a == b else "float"
            if va or vb:
                self.counts[self._binary(kind, node.op)] += 1
            return kind, va or vb
        if isinstance(node, ast.UnaryOp):
            kind, varies = self.visit(node.operand)
            if varies:
                self.counts["logic" if kind == "float" else "int"] += 1
            return kind, varies
        if isinstance(node, ast.Compare):
            (_, va), (_, vb) = self.visit(node.left), self.visit(node.comparators[0])
            if va or vb:
                self.counts["cmp"] += 1
            return "bool", va or vb
        if isinstance(node, ast.Call):
            name = node.func.id
            args = [self.visit(a) for a in node.args]
            varies = any(v for _, v in args)
            if name in self._BITS_TO_INT:
                self.counts["exp"] += varies  # one per expansion of exp_neg
                return "int", varies
            if name in self._BITS_TO_FLOAT:
                return "float", varies  # a reinterpretation: no instruction of its own
            if name == "fma":
                self.counts["fma"] += varies
                return "float", varies
            if varies:
                self.counts[{"select": "select", "abs": "logic"}[name]] += 1
            return (args[-1][0] if name == "select" else args[0][0]), varies
        raise NotImplementedError(ast.unparse(node))

    @staticmethod
    def _binary(kind: str, op) -> str:
        if kind == "bool":
            return "logic"
        if kind == "int":
            return "int"
        return {ast.Add: "add", ast.Sub: "add", ast.Mult: "mul", ast.Div: "div"}[type(op)]


def count_ops(dtype, hidden: int = 2) -> dict[str, Counter]:
    """Return the generated XOR kernel's operations per network: each epoch, and recording.

    ``{"epoch": ..., "record": ...}``: counts by class (see the module docstring);
    ``sigmoid`` is the per-epoch ``exp`` count.  Counted once per dtype and H (the
    module's source is read and walked); each call gets its own copies.
    """
    counted = _count_ops(str(np.dtype(dtype)), hidden)
    return {k: Counter(v) for k, v in counted.items()}


@functools.cache
def _count_ops(dtype: str, hidden: int) -> dict[str, Counter]:
    from kernels._inline import globals_used

    fn = sweep_function(dtype, hidden)
    namespace = globals_used()
    outer = {"one": "float", "ef": "float", "target": "float", "want_loss": "bool",
             "update": "bool"}
    for st in fn.body:  # the function's own locals, before the loops: zero, inv_s, y0, ...
        if isinstance(st, ast.Assign) and isinstance(st.targets[0], ast.Name):
            outer[st.targets[0].id] = "float"
    epoch, record = Counter(), Counter()
    for st in fn.body:
        if isinstance(st, ast.For):
            epoch += _LoopCounter(namespace, outer).count(st)
        elif isinstance(st, ast.If):
            for inner in st.body:
                record += _LoopCounter(namespace, outer).count(inner)
    epoch["sigmoid"] = epoch["exp"]
    record["log1p"] = record.pop("exp", 0)  # the loss loop's bit reads are log1p's
    return {"epoch": epoch, "record": record}


def _count_loop(source: str, outer: dict[str, str]) -> Counter:
    """Count the operations of one pass of the innermost loop (``for j``) in ``source``."""
    from kernels._inline import globals_used

    loop = [n for n in ast.walk(ast.parse(source))
            if isinstance(n, ast.For) and getattr(n.target, "id", None) == "j"][0]
    return _LoopCounter(globals_used(), outer).count(loop)


def sigmoid_ops(dtype) -> Counter:
    """Return the operations of one of the kernel's sigmoids (``activate(z, 0, one)``)."""
    from kernels._inline import expand

    body = ["v = st[j]", *expand("activate(v, 0, one)", "v", "s", _dt(dtype)), "st[j] = v"]
    counts = _count_loop("for j in range(1):\n" + "\n".join(f"    {s}" for s in body),
                         {"one": "float"})
    return Counter({k: v for k, v in counts.items() if k in ARITHMETIC})


def outside_sigmoids(dtype, hidden: int = 2) -> Counter:
    """Return the kernel's operations per network-epoch that are not its sigmoids'."""
    counts = count_ops(dtype, hidden)["epoch"]
    one = sigmoid_ops(dtype)
    rest = Counter({k: counts[k] - counts["sigmoid"] * one[k] for k in ARITHMETIC})
    if min(rest.values()) < 0:
        raise AssertionError(f"sigmoids count more operations than the kernel: {dict(rest)}")
    return +rest


# --- what the host does -------------------------------------------------------------------

def _dt(dtype) -> str:
    return {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}[np.dtype(dtype)]


def _interleaved_body(call: str, dt: str, first: int = 0, lanes: int = LANES,
                      count: int = INTERLEAVED) -> list[str]:
    """``count`` expansions of ``call`` (of ``v``) per pass, interleaved as the kernel's.

    Each reads its row of ``st`` (rows ``first`` on) and writes its result back
    there, so that every pass depends on the one before: nothing is invariant
    across passes for LLVM to hoist out of the loop of repeats.
    """
    from kernels._inline import expand, interleave

    rows = range(first, first + count)
    body = [f"v{k} = st[{k * lanes} + j]" for k in rows]
    body += interleave([expand(call.format(v=f"v{k}"), f"v{k}", f"s{k}", dt) for k in rows])
    body += [f"st[{k * lanes} + j] = v{k}" for k in rows]
    return body


def _chain_body(step: str) -> tuple[list[str], int]:
    """``CHAINS`` independent chains per lane, ``ROUNDS`` steps each, in registers."""
    body = [f"a{c} = st[{c * LANES} + j]" for c in range(CHAINS)]
    for r in range(ROUNDS):
        body += [f"a{c} = " + step.format(a=f"a{c}", r=r % 2) for c in range(CHAINS)]
    body += [f"st[{c * LANES} + j] = a{c}" for c in range(CHAINS)]
    return body, CHAINS * ROUNDS


# the chains' steps stay bounded: c0 c1 ~ 1; x + c - c; x -> 0.5 x + 1 (fixed point 2);
# x -> 3 / x (1.5, 2, 1.5, ...)
_STEPS = {"mul": ("{a} * c{r}", (0.75, 1 / 0.75)), "add": ("{a} + c{r}", (0.375, -0.375)),
          "fma": ("fma({a}, c0, c1)", (0.5, 1.0)), "div": ("c0 / {a}", (3.0, 0.0))}
_INIT = {"exp": (0.0, 10.0), "sigmoid": (-8.0, 8.0), "mul": (1.0, 2.0), "add": (1.0, 2.0),
         "fma": (1.0, 3.0), "div": (1.5, 1.5), "mix": (1.0, 2.0)}
# the mix's chains keep their values exactly: x * 1, x + 0, |x|, x < 2 ? x : 1, fma(x, 1, 0),
# 1 / x (x in [1, 2): 1 / (1 / x) may differ from x in its last bit, and stays in range)
_MIX_STEPS = {"mul": "{a} = {a} * c1", "add": "{a} = {a} + c0", "logic": "{a} = abs({a})",
              "fma": "{a} = fma({a}, c1, c0)", "div": "{a} = c1 / {a}"}


def mix_source(dtype, hidden: int = 2, shape: tuple[int, int] = (4, 12),
               lanes: int = LANES) -> str:
    """Return the source of ``run(st, reps, one, c0, c1)``: the kernel's operations as a mix.

    One pass of its lane loop is one network-epoch's arithmetic: the kernel's
    sigmoids, ``shape[0]`` at a time (interleaved, as the kernel interleaves 4),
    and after each group its share of the operations outside the sigmoids (counted by
    :func:`outside_sigmoids`) on ``shape[1]`` independent chains (each value loaded
    once and stored once per pass): multiplies, adds, abs, FMAs and divisions that
    keep their value, and each
    compare a mask that one or more selects use.  Rows of ``st``: the sigmoids' then
    the chains', each read once and written back once per pass.
    """
    interleaved, chains = shape
    rest = outside_sigmoids(dtype, hidden)
    n = count_ops(dtype, hidden)["epoch"]["sigmoid"]
    if rest["int"] or rest["select"] < rest["cmp"]:
        raise NotImplementedError(f"a mix for {n} sigmoids and {dict(rest)}")
    # each compare with the selects that use its mask, as one step; then the others
    steps = [("select", rest["select"] // rest["cmp"] + (i < rest["select"] % rest["cmp"]))
             for i in range(rest["cmp"])]
    steps += [(kind, 0) for kind in ("mul", "add", "logic", "fma", "div")
              for _ in range(rest[kind])]
    # every kind spread evenly over the pass, each step to the next chain in turn
    order = Counter()
    total = Counter(kind for kind, _ in steps)

    def position(step):
        order[step[0]] += 1
        return order[step[0]] / total[step[0]]

    steps.sort(key=position)
    extra: list[str] = []
    for i, (kind, uses) in enumerate(steps):
        a = f"a{i % chains}"
        if kind == "select":
            extra.append(f"m{i} = {a} < two")
            extra += [f"a{(i + u) % chains} = select(m{i}, a{(i + u) % chains}, c1)"
                      for u in range(uses)]
        else:
            extra.append(_MIX_STEPS[kind].format(a=a))
    body = [f"a{c} = st[{(n + c) * lanes} + j]" for c in range(chains)]
    groups = -(-n // interleaved)  # the last one may be smaller
    share = -(-len(extra) // groups)
    for g in range(groups):
        first = g * interleaved
        body += _interleaved_body("activate({v}, 0, one)", _dt(dtype), first, lanes,
                                  min(interleaved, n - first))
        body += extra[g * share:(g + 1) * share]
    body += [f"st[{(n + c) * lanes} + j] = a{c}" for c in range(chains)]
    return "\n".join(["def run(st, reps, one, c0, c1):", "    two = one + one",
                      "    for _ in range(reps):", f"        for j in range({lanes}):"]
                     + [f"            {s}" for s in body])


class _Loop(NamedTuple):
    """A compiled measuring loop ``fn(st, reps, one, c0, c1)`` and the state it takes."""

    fn: object
    lanes: int      # lanes per pass
    per: int        # operations per lane-pass (the mix: one network-epoch)
    rows: int       # rows of ``lanes`` values in ``st``
    sigmoids: int   # the mix's first rows: the sigmoids' inputs (0: none)


@functools.cache
def _compile(resource: str, dtype: str, hidden: int = 2, shape: tuple[int, int] = (0, 0),
             lanes: int | None = None) -> _Loop:
    """Compile ``resource``'s measuring loop (nogil) in ``dtype``.

    ``resource`` "mix" is :func:`mix_source` of ``shape`` (one network-epoch per
    lane-pass), on ``lanes`` (default: the kernel's blocks on this host).
    """
    import numba

    from kernels._inline import globals_used

    dt = _dt(dtype)
    sigmoids = 0
    if resource == "mix":
        lanes = lanes or kernels.config.for_dtype("UNROLLED_LANES", dtype)
        src, per = mix_source(dtype, hidden, shape, lanes), 1
        sigmoids = count_ops(dtype, hidden)["epoch"]["sigmoid"]
        rows = sigmoids + shape[1]
    else:
        if resource in ("exp", "sigmoid"):
            call = "exp_neg(-abs({v}))" if resource == "exp" else "activate({v}, 0, one)"
            body, per = _interleaved_body(call, dt), INTERLEAVED
        else:
            body, per = _chain_body(_STEPS[resource][0])
        lanes, rows = LANES, 2 * max(CHAINS, INTERLEAVED)
        src = "\n".join(["def run(st, reps, one, c0, c1):", "    for _ in range(reps):",
                         f"        for j in range({LANES}):"] + [f"            {s}" for s in body])
    namespace = dict(globals_used(), np=np)
    exec(compile(src, f"<ceiling {resource} {dt}>", "exec"), namespace)
    fastmath = set(kernels.config.FASTMATH_FLAGS) or False  # the kernel's flags
    fn = numba.njit(nogil=True, error_model="numpy", fastmath=fastmath)(namespace["run"])
    return _Loop(fn, lanes, per, rows, sigmoids)


def constants(resource: str, dtype) -> tuple:
    """Return the arguments ``(one, c0, c1)`` that :func:`measure` passes ``resource``'s loop."""
    dtype = np.dtype(dtype)
    c0, c1 = _STEPS.get(resource, ("", (0.0, 1.0)))[1]
    return dtype.type(1), dtype.type(c0), dtype.type(c1)


def _state(resource: str, dtype, rng, loop: _Loop) -> np.ndarray:
    """Return a thread's ``st`` for ``loop``: its values in their measuring range.

    The mix: the sigmoids' first inputs across the sigmoid's range (then near its
    fixed point), then the chains' values in [1, 2) (see :func:`mix_source`).
    """
    lo, hi = _INIT[resource]
    st = rng.uniform(lo, hi, loop.rows * loop.lanes)
    st[:loop.sigmoids * loop.lanes] = rng.uniform(-8.0, 8.0, loop.sigmoids * loop.lanes)
    return st.astype(dtype)


def measure(resource: str, dtype, threads: int, *, hidden: int = 2,
            shape: tuple[int, int] = (4, 12), seconds: float = 0.2, repeats: int = 3) -> float:
    """Return ``resource``'s throughput on ``threads`` threads, operations per second.

    One operation is one lane's: a multiply of one float, one sigmoid of one float;
    for "mix" (:func:`mix_source` of ``shape``) one network-epoch's arithmetic.
    """
    dtype = np.dtype(dtype)
    loop = _compile(resource, str(dtype), hidden, shape if resource == "mix" else (0, 0))
    fn, lanes, per = loop.fn, loop.lanes, loop.per
    one, c0, c1 = constants(resource, dtype)
    rng = np.random.default_rng(0)
    states = [_state(resource, dtype, rng, loop) for _ in range(threads)]
    fn(states[0], 1, one, c0, c1)  # compile
    reps = 16
    while True:  # calibrate on one thread: a call of about `seconds`
        t0 = time.perf_counter()
        fn(states[0], reps, one, c0, c1)
        dt_ = time.perf_counter() - t0
        if dt_ > seconds / 4:
            break
        reps *= 4
    reps = max(1, int(reps * seconds / dt_))
    rates = []
    with ThreadPoolExecutor(threads) as pool:
        for _ in range(repeats):
            t0 = time.perf_counter()
            list(pool.map(lambda s: fn(s, reps, one, c0, c1), states))
            rates.append(threads * reps * lanes * per / (time.perf_counter() - t0))
    if not all(np.isfinite(s).all() for s in states):
        raise AssertionError(f"the {resource} measurement left its range")
    return statistics.median(rates)


def fma_is_fused(dtype) -> bool:
    """Return whether the FMA measurement compiled to fused multiply-adds (x86 ``vfmadd``)."""
    dtype = np.dtype(dtype)
    loop = _compile("fma", str(dtype), 2, (0, 0))  # (measure's cache key)
    loop.fn(np.ones(loop.rows * loop.lanes, dtype), 1, *constants("fma", dtype))
    return any("fmadd" in asm for asm in loop.fn.inspect_asm().values())


# --- the ceiling --------------------------------------------------------------------------

def host_name() -> str:
    """Return the CPU's model name (``/proc/cpuinfo``), else the platform's processor."""
    import platform

    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def ceiling(dtype, *, hidden: int = 2, threads: int | None = None, seconds: float = 0.2,
            repeats: int = 3, resources=CHARGED, shapes=MIX_SHAPES,
            one_thread: bool = True) -> dict:
    """Measure the ceiling of the XOR kernel in ``dtype``: network-epochs per second.

    The ceiling is the mix's rate (:func:`mix_source`), the fastest of ``shapes``.
    Returns a dict: ``ceiling`` ({"1": ..., "all": ...}: network-epochs per second
    on one thread, unless not ``one_thread``, and on ``threads``), ``shape`` (the
    fastest mix's on all threads, "sigmoids at a time/chains"), ``mix`` (the rates by
    shape), ``counts`` (per network-epoch;
    ``record``: per recording epoch, extra), ``outside`` (the operations outside
    the sigmoids), ``rates`` (by resource of ``resources``, operations per second),
    ``bounds`` (the same, network-epochs per second), ``least`` and ``binding`` (the
    least of ``bounds`` and its resource), ``threads``, ``host``.
    """
    threads = threads or kernels._parallel.num_threads()
    ops = count_ops(dtype, hidden)
    counts = ops["epoch"]
    kinds = {"1": 1, "all": threads} if one_thread else {"all": threads}

    def rate(resource, k, shape=(4, 12)):
        return measure(resource, dtype, kinds[k], hidden=hidden, shape=shape, seconds=seconds,
                       repeats=repeats)

    mix = {k: {"{}/{}".format(*sh): rate("mix", k, tuple(sh)) for sh in shapes} for k in kinds}
    rates = {k: {r: rate(r, k) for r in resources} for k in kinds}
    bounds = {k: {r: rates[k][r] / counts[r] for r in resources if counts[r]} for k in rates}
    binding = {k: min(b, key=b.get) if b else None for k, b in bounds.items()}
    return {"dtype": str(np.dtype(dtype)), "hidden": hidden, "threads": threads,
            "host": host_name(), "counts": dict(counts), "record": dict(ops["record"]),
            "outside": dict(outside_sigmoids(dtype, hidden)),
            "mix": mix, "shape": max(mix["all"], key=mix["all"].get),
            "ceiling": {k: max(m.values()) for k, m in mix.items()},
            "rates": rates, "bounds": bounds, "binding": binding,
            "least": {k: bounds[k][b] if b else None for k, b in binding.items()}}


def table(result: dict) -> str:
    """Return ``result`` (from :func:`ceiling`) as Markdown."""
    c, t = result["counts"], result["threads"]
    lines = [f"| resource | ops / network-epoch | 1 thread: G ops/s | M net-epochs/s "
             f"| {t} threads: G ops/s | M net-epochs/s |", "|---|---|---|---|---|---|"]
    for r in result["rates"]["1"]:
        b1, ba = result["bounds"]["1"].get(r), result["bounds"]["all"].get(r)
        lines.append(f"| {r} | {c.get(r, 0)} | {result['rates']['1'][r] / 1e9:.3g} | "
                     f"{f'{b1 / 1e6:.3g}' if b1 else '-'} | "
                     f"{result['rates']['all'][r] / 1e9:.3g} | "
                     f"{f'{ba / 1e6:.3g}' if ba else '-'} |")
    mix = result["mix"]
    for shape, r1 in mix["1"].items():
        interleaved, chains = shape.split("/")
        lines.append(f"| mix, sigmoids {interleaved} at a time, {chains} chains | 1 | - | "
                     f"{r1 / 1e6:.3g} | - | {mix['all'][shape] / 1e6:.3g} |")
    shown = ", ".join(f"{k} {c.get(k, 0)}" for k in SHOWN)
    outside = ", ".join(f"{k} {v}" for k, v in result["outside"].items())
    rec = ", ".join(f"{k} {v}" for k, v in sorted(result["record"].items()))
    ceil, least, binding = result["ceiling"], result["least"], result["binding"]
    lines += ["", f"Counted per network-epoch but not charged alone: {shown}.",
              f"Outside the sigmoids, per network-epoch (in the mix): {outside}.",
              f"A recording epoch adds: {rec}.",
              f"Ceiling ({result['dtype']}, H = {result['hidden']}, the mix): "
              f"{ceil['1'] / 1e6:.3g} M network-epochs/s on 1 thread, "
              f"{ceil['all'] / 1e6:.3g} M on {t}."]
    if binding["all"]:
        lines.append(f"Least single-resource bound: {least['1'] / 1e6:.3g} M on 1 thread "
                     f"({binding['1']}), {least['all'] / 1e6:.3g} M on {t} ({binding['all']}).")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dtype", nargs="+", default=["float32", "float64"])
    ap.add_argument("--hidden", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=0.5, help="length of one timed call")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="short calls, one repeat: a smoke run")
    args = ap.parse_args(argv)
    if args.quick:
        args.seconds, args.repeats = 0.05, 1
    print(f"# host: {host_name()}, {kernels._parallel.num_threads()} threads")
    for dtype, first in zip(args.dtype, itertools.chain([True], itertools.repeat(False)),
                            strict=False):
        if not first:
            print()
        print(f"## {dtype}: FMA compiles fused: {fma_is_fused(dtype)}")
        print(table(ceiling(dtype, hidden=args.hidden, seconds=args.seconds,
                            repeats=args.repeats)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
