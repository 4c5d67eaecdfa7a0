"""Straight-line training kernels for small networks, generated per shape and dtype.

For a network small enough (``S * H * (D + 1) <= config.UNROLL_LIMIT`` and
``S * (H + 1) <= config.UNROLL_MAX_SIGMOIDS``: XOR and the other 2-input gates
up to H = 10, parity-3 up to H = 4) an epoch of one
network (forward over all samples, backward, update) is written out as
straight-line code in a few loops over the lanes of a block (hidden layer,
output layer, gradient and step, loss).  LLVM vectorizes each loop: a SIMD
register holds one quantity of 4 to 16 networks, and the state of a block lives
in one flat array with constant row offsets (so the compiler can prove that
rows never overlap).

The code is the scalar functions' own bodies, written out by ``_inline.py`` with
the same operations in the same order as the compiled functions that the
generic kernel (``_cpu.py``) calls, so both give bitwise identical results
(tests check it; the exceptions, which no result can see, are the sign of a zero
sum, the inputs 0 and 1 built in, and a divergence check that sees W2 and b2
through the outputs only: see ``_sweep_source``); only the schedule
differs: independent work (the sigmoids of
different samples) is interleaved statement by statement, so that an
out-of-order core overlaps it rather than waiting out each one's latency, and
nothing in a loop is conditional (selects, no branches: a branch would come back
as masked loads and stores, which are slow on x86 without AVX-512).

The convergence check runs in the lane loops too, with the epoch number in the
kernel's dtype: runs longer than 2**24 epochs in float32 (2**53 in float64), where
that would not be exact, train with the generic kernel.

The lane loops are plain Python in the generated file, compiled by
``_emit.compile_lanes`` straight to LLVM IR with numba's own implementation of
each operation: the same machine code as numba's front end would produce from
them, without its per-operation typing and lowering, which would take most of
the compile time (on 2 Zen 3 cores, a new XOR kernel compiles in about 2 s this way
and in about 6 s through numba's front end).

Generated modules are plain files under a cache directory (see
:func:`code_dir`), written atomically and named by their parameters and a
digest of the kernel sources, so numba's on-disk cache works for them and goes
stale exactly when the sources change.  A module is generated once: later
processes import the file as long as it matches the checksum on its first line.
Training calls a module's kernel through a C entry point (:func:`entry`), whose
machine code ``_native.py`` caches as an object file next to the module: a
process that finds that file loads it and never imports the module, nor numba.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import itertools
import re
import sys
import textwrap
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import _cache, _native, config
from ._signatures import TRAIN_ENTRY

_modules: dict[str, object] = {}
# read once, at import, like the generic kernel's options (see config.py)
_FASTMATH_FLAGS = frozenset(config.FASTMATH_FLAGS)
_CACHE = config.CACHE
_lock = threading.Lock()


def eligible(n_samples: int, n_inputs: int, n_hidden: int) -> bool:
    """Return whether training networks of this shape uses a generated kernel."""
    return (n_samples * n_hidden * (n_inputs + 1) <= config.UNROLL_LIMIT
            and n_samples * (n_hidden + 1) <= config.UNROLL_MAX_SIGMOIDS)


def code_dir() -> Path:
    """Return the directory for generated kernels: the xorsweep cache (see ``_cache.py``).

    ``$XORSWEEP_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/xorsweep`` (default
    ``~/.cache/xorsweep``), if only this user can write it; else a private
    directory of this process's, with a warning.
    """
    return _cache.root()


def _sources_digest() -> str:
    return _native.sources_digest()[:16]


def input_pattern(X: np.ndarray) -> str:
    """Return which entries of ``X`` a generated kernel may build in, as a string.

    One character per entry, row by row: ``0`` (the value is zero, either sign),
    ``1`` (it is one) or ``v`` (any other value: read from ``X`` at run time).
    """
    return "".join("0" if x == 0 else "1" if x == 1 else "v" for x in np.ravel(X))


def unrolled(n_samples: int, n_inputs: int, n_hidden: int, act: int, loss: int,
             lanes: int | None = None, dtype=np.float64, inputs: str | None = None,
             momentum: bool = True):
    """Return the generated module for this shape, activation, loss, block width and dtype.

    ``lanes`` (networks per block, a compile-time constant of the module) defaults
    to ``config.UNROLLED_LANES`` for ``dtype``, float32 or float64.  ``inputs``,
    from :func:`input_pattern`, says which inputs are 0 or 1 in every ``X`` the
    module will be called with (default: none): their products are built in
    exactly (see ``_sweep_source``).  ``momentum`` False: a module for networks
    that all train without momentum (plain descent, no velocities).  Each module is
    generated once per process.
    """
    key, args = kernel_key(n_samples, n_inputs, n_hidden, act, loss, lanes, dtype, inputs, momentum)
    with _lock:  # one thread generates and imports; the others wait and reuse it
        if key in _modules:
            return _modules[key]
        directory = code_dir()
        path = directory / f"xorsweep_train_{key}.py"
        if not _intact(path, directory):  # else generated before: skip generating it again
            source = _module_source(*args)
            signature = _cache.sign(directory, path.name.encode(), source.encode())
            # atomic: other processes see no file or the whole file
            _cache.write_private(path, f"{_STAMP}{signature}\n{source}".encode())
        name = f"_xorsweep_generated_{key}"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        _modules[key] = module
        return module


def entry(n_samples: int, n_inputs: int, n_hidden: int, act: int, loss: int,
          lanes: int | None = None, dtype=np.float64, inputs: str | None = None,
          momentum: bool = True):
    """Return the C entry point of :func:`unrolled`'s module, and its scratch rows ``R``.

    A ctypes function (see ``_native.entry``) of the arguments that
    ``_signatures.TRAIN_ENTRY`` declares: build them with
    ``TRAIN_ENTRY.for_dtype(dtype).pack(...)``.  The scratch ``st`` (R * lanes
    values), ``conv_l`` (lanes int64) and ``curve_block`` (K * lanes values) are the
    caller's.  Loaded from the cache directory without generating or importing the
    module (nor numba) when an earlier process compiled it (with ``config.CACHE``).
    """
    key, args = kernel_key(n_samples, n_inputs, n_hidden, act, loss, lanes, dtype, inputs, momentum)
    f = _native.entry(f"xorsweep_train_{key}", TRAIN_ENTRY.for_dtype(dtype).argcodes,
                      lambda numba_cache: unrolled(n_samples, n_inputs, n_hidden, act, loss,
                                                   lanes, dtype, inputs,
                                                   momentum).make_entry(numba_cache),
                      code_dir if _CACHE else None)
    return f, _layout(n_samples, n_inputs, n_hidden)[2]


def kernel_key(n_samples, n_inputs, n_hidden, act, loss, lanes, dtype, inputs, momentum):
    """Return a module's name key and the arguments of :func:`_module_source`."""
    lanes = config.for_dtype("UNROLLED_LANES", dtype) if lanes is None else lanes
    dt = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}[np.dtype(dtype)]
    fast = "-".join(sorted(_FASTMATH_FLAGS)) or "ieee"
    inputs = "v" * (n_samples * n_inputs) if inputs is None else inputs
    if len(inputs) != n_samples * n_inputs or set(inputs) - set("01v"):
        raise ValueError(f"inputs must be {n_samples * n_inputs} characters 0, 1 or v "
                         f"(from input_pattern(X)), got {inputs!r}")
    # short patterns in the name as they are, long ones by digest (file names stay short)
    pattern = inputs if len(inputs) <= 16 else hashlib.sha256(inputs.encode()).hexdigest()[:16]
    key = (f"S{n_samples}_D{n_inputs}_H{n_hidden}_a{act}_l{loss}_L{lanes}_{dt}_X{pattern}_"
           f"{'m' if momentum else 'plain'}_"
           f"{fast}_{'c' if _CACHE else 'n'}_{_sources_digest()}")
    return key, (n_samples, n_inputs, n_hidden, act, loss, lanes, dt, inputs, momentum)


_STAMP = "# xorsweep signature (HMAC-SHA256 of the name and the rest of this file): "


def _intact(path: Path, directory: Path) -> bool:
    """Return whether ``path`` is a generated module signed by this cache, and trusted.

    Its name already pins what it must contain (shape, options, sources digest);
    the signature catches a file changed or damaged since it was written, or
    written by anyone who cannot read the cache's key (see ``_cache.py``).
    """
    data = _cache.readable_trusted(path, directory)
    if data is None:
        return False
    stamp, _, rest = data.partition(b"\n")
    return (stamp.startswith(_STAMP.encode())
            and _cache.signed(directory, stamp[len(_STAMP):].decode(errors="replace"),
                              path.name.encode(), rest))


def _layout(S: int, D: int, H: int) -> tuple[int, dict[str, int], int]:
    """Return a block's parameters per lane P, its state's first row by name, and its rows R.

    The block's state has one row of L lanes each: parameters, velocities (untouched
    in a kernel without momentum), per-lane settings and results, then what one phase
    of an epoch hands to the next (HZ only where the activation's derivative reads it).
    """
    P = D * H + 2 * H + 1
    sizes = {"PAR": P, "VEL": P, "LR": 1, "MOM": 1, "ALIVE": 1, "CONV": 1, "LOSS": 1, "OUT": S,
             "HZ": S * H, "HA": S * H, "ZZ": S, "EE": S}
    rows = dict(zip(sizes, itertools.accumulate(sizes.values(), initial=0), strict=False))
    return P, rows, sum(sizes.values())


def _module_source(S: int, D: int, H: int, act: int, loss: int, L: int, dt: str,
                   inputs: str, momentum: bool) -> str:
    P, rows, R = _layout(S, D, H)
    sweep = _sweep_source(S, D, H, act, loss, L, dt, rows, inputs, momentum)
    fastmath = sorted(_FASTMATH_FLAGS)
    ftype = {"f32": "float32", "f64": "float64"}[dt]
    # the C entry point's parameters, in the order of the declaration
    entry_def = textwrap.fill(", ".join(TRAIN_ENTRY.names) + "):", width=95,
                              initial_indent="def _entry(", subsequent_indent=" " * 11,
                              break_long_words=False)
    # One compiled function per level costs compile time: numba re-optimizes and re-emits
    # every callee linked into a function, so the block loop lives in run_blocks itself.
    return f'''# Generated by kernels/_codegen.py; do not edit.
# Training kernel for S={S} samples, D={D} inputs, H={H} hidden units, activation code {act},
# loss code {loss}, {L} lanes per block, {dt}, inputs {inputs} (0, 1 or v: read from X),
# {"momentum" if momentum else "plain descent only"}.
# Kernel sources digest: {_sources_digest()}
import math

import numpy as np
from numba import carray, cfunc, njit

from kernels import _numba_cache
from kernels._cpu import MODE_TRAIN, load_lanes as _gather, store_lanes as _finish
from kernels._emit import compile_lanes
from kernels._inline import globals_used
from kernels._signatures import TRAIN_ENTRY

globals().update(globals_used())  # the constants and bit primitives of the expanded math

_OPTS = dict(nogil=True, error_model="numpy", fastmath={set(fastmath) if fastmath else False},
             cache={_CACHE} and _numba_cache.enabled())
P, L, R = {P}, {L}, {R}


{sweep}


@njit(**_OPTS)
def run_blocks(b_start, b_stop, W1, b1, W2, b2, lr, mom, X, Y, epochs, curve_epochs, target,
               one, sat_tol, plat_tol, curve, loss_out, outputs, conv, outcome, st, st2,
               conv_l, curve_block):
    # st (R * L,) and st2 (R, L): the same scratch memory, flat and by rows; conv_l (L,)
    # and curve_block (K, L) scratch too: the caller's, so nothing here allocates
    N = W1.shape[0]
    K = curve_epochs.shape[0]
    for b in range(b_start, b_stop):
        n0 = b * L
        nr = min(L, N - n0)
        for i in range(R * L):
            st[i] = 0
        par = st2[:P]
        lr_l = st2[{rows["LR"]}]
        mom_l = st2[{rows["MOM"]}]
        alive = st2[{rows["ALIVE"]}]
        conv_f = st2[{rows["CONV"]}]
        loss_mean = st2[{rows["LOSS"]}]
        out = st2[{rows["OUT"]}:{rows["OUT"] + S}]
        conv_f[:] = -one  # the epoch a lane converged at, as a float (exact), or -1
        _gather(n0, nr, W1, b1, W2, b2, lr, mom, par, lr_l, mom_l, alive, curve[:0])
        # the block's curves, lane-contiguous: one cache line per record instead of 64
        for kk in range(K):
            for j in range(L):
                curve_block[kk, j] = np.nan
        k = 0
        for e in range(epochs + 1):
            record = k < K and curve_epochs[k] == e
            _sweep(st, X, Y, one, record or e == epochs, e < epochs, np.{ftype}(e), target)
            n_alive = 0
            for j in range(L):  # no branch: a vector sum
                n_alive += alive[j] != 0
            if record:
                for j in range(L):
                    curve_block[k, j] = loss_mean[j] if alive[j] != 0 else np.nan
                k += 1
            if n_alive == 0:
                if e < epochs:
                    # store the outputs of the frozen parameters: every lane is dead, so
                    # none steps (runtime bools, not literals that numba would compile
                    # _sweep for a second time)
                    _sweep(st, X, Y, one, e < epochs, e < epochs, np.{ftype}(e), target)
                break
        for j in range(L):
            conv_l[j] = int(conv_f[j])
        for kk in range(K):  # each recorded epoch's row of the curve: contiguous
            for j in range(nr):
                curve[kk, n0 + j] = curve_block[kk, j]
        _finish(n0, nr, MODE_TRAIN, par, par, out, alive, conv_l, loss_mean, Y, one, sat_tol,
                plat_tol, W1, b1, W2, b2, W1, b1, W2, b2, outputs, conv, loss_out, outcome)


{entry_def}
    run_blocks(b_start, b_stop, carray(W1, (N, {D}, {H})), carray(b1, (N, {H})),
               carray(W2, (N, {H})), carray(b2, (N,)), carray(lr, (N,)), carray(mom, (N,)),
               carray(X, ({S}, {D})), carray(Y, ({S},)), epochs, carray(curve_epochs, (K,)),
               target, one, sat_tol, plat_tol, carray(curve, (K, N)), carray(loss_out, (N,)),
               carray(outputs, (N, {S})), carray(conv, (N,)), carray(outcome, (N,)),
               carray(st, (R * L,)), carray(st, (R, L)), carray(conv_l, (L,)),
               carray(curve_block, (K, L)))


def make_entry(cache):
    """Compile ``run_blocks`` behind a C entry point (numba ``cfunc``): see _native.py."""
    sig = TRAIN_ENTRY.for_dtype("{ftype}").numba_type()
    return cfunc(sig, **{{**_OPTS, "cache": cache}})(_entry)
'''


# Sigmoids per lane loop (hidden and output layers).  Each loop's sigmoids are
# interleaved for the out-of-order core to overlap; too many make an iteration longer
# than its window (Zen 3: 256 instructions), so that consecutive lanes no longer
# overlap; too few leave too little independent work.  On Zen 3 (XOR H = 2, N = 65,536,
# one thread, alternating processes), the hidden layer's 8 sigmoids in loops of 4 against
# one loop of 8: float32 1.08x, float64 1.16x; loops of 2 against 4: 0.99x, 0.90x.
_SIGMOIDS_PER_LOOP = 4


def _chunks(items: list, size: int) -> list[list]:
    """Return ``items`` cut into consecutive runs of ``size`` (the last may be shorter)."""
    return [items[i:i + size] for i in range(0, len(items), size)]


def _tree_sum(terms: list[str], name: str) -> list[str]:
    """Return statements that set ``name`` to the sum of ``terms`` added pairwise."""
    lines, level = [], 0
    while len(terms) > 1:
        pairs = [f"({terms[i]}) + ({terms[i + 1]})" for i in range(0, len(terms) - 1, 2)]
        lines += [f"{name}_{level}_{i} = {pair}" for i, pair in enumerate(pairs)]
        terms = [f"{name}_{level}_{i}" for i in range(len(pairs))] + terms[2 * len(pairs):]
        level += 1
    return lines + [f"{name} = {terms[0]}"]


@dataclass(frozen=True)
class _Block:
    """What every piece of an epoch's source is written for: a block of ``L`` lanes.

    The shape (``S`` samples, ``D`` inputs, ``H`` hidden units), the activation and
    loss codes, the dtype (``"f32"`` or ``"f64"``), which inputs are built in
    (``inputs``, from :func:`input_pattern`), whether the module keeps velocities,
    and the block's state: ``rows`` by name (see :func:`_layout`), each row ``L``
    values of the flat array ``st``, lane ``j`` at ``st[row * L + j]``.
    """

    S: int
    D: int
    H: int
    act: int
    loss: int
    L: int
    dt: str
    rows: dict[str, int]
    inputs: str
    momentum: bool

    # a network's parameters, flat, as the generic kernel lays them out (see _cpu.py)
    @property
    def P(self) -> int:
        return _layout(self.S, self.D, self.H)[0]

    def w1(self, d: int, h: int) -> int:
        return d * self.H + h

    def b1(self, h: int) -> int:
        return self.D * self.H + h

    def w2(self, h: int) -> int:
        return self.D * self.H + self.H + h

    @property
    def b2(self) -> int:
        return self.D * self.H + 2 * self.H

    @property
    def hidden(self) -> list[tuple[int, int]]:
        """The (sample, hidden unit) pairs, sample-major."""
        return [(s, h) for s in range(self.S) for h in range(self.H)]

    def x(self, s: int, d: int) -> str:
        """Input ``d`` of sample ``s``: ``"0"``, ``"1"`` or ``"v"`` (read from ``X``)."""
        return self.inputs[s * self.D + d]

    def row(self, name: str, k: int = 0) -> str:
        """Return the expression for lane ``j`` of row ``k`` of the state's rows ``name``."""
        return f"st[{(self.rows[name] + k) * self.L} + j]"

    def loop(self, body: list[str], indent: str = "    ") -> list[str]:
        """Return ``body`` as a loop over the lanes (``j``)."""
        return [f"{indent}for j in range({self.L}):"] + [f"{indent}    {line}" for line in body]

    @functools.cached_property
    def act_grads(self) -> list[list[str]]:
        """The expansions of ``act'(hz)`` as ``ag{s}_{h}``, one per (sample, hidden unit)."""
        from ._inline import expand  # (it imports numba)

        return [expand(f"activate_grad(hz{s}_{h}, ha{s}_{h}, {self.act}, one)", f"ag{s}_{h}",
                       f"ag{s}_{h}", self.dt) for s, h in self.hidden]

    @functools.cached_property
    def keep_hz(self) -> bool:
        """Whether the activation's derivative reads ``hz`` (relu's does), so it is stored."""
        return any(re.search(rf"\bhz{s}_{h}\b", "\n".join(g))
                   for (s, h), g in zip(self.hidden, self.act_grads, strict=True))


def _sweep_source(S, D, H, act, loss, L, dt, rows, inputs, momentum) -> str:
    """One pass over the lanes of a block: evaluate and step every lane's network.

    ``_sweep(st, X, Y, one, want_loss, update, ef, target)``: with ``want_loss``
    it also stores each lane's mean loss; ``update`` False leaves parameters and
    velocities as they are (the final epoch: the gradient is computed and dropped);
    ``ef`` is the epoch and ``target`` the convergence threshold, in the dtype.

    The formulas are the scalar functions' own bodies (``_inline.expand``), in
    loops over the lanes, one piece per phase of the epoch:
    :func:`_sweep_prologue`, :func:`_hidden_layer`, :func:`_output_layer`, then one
    loop of :func:`_reload_state`, :func:`_local_gradients`, :func:`_output_checks`,
    :func:`_divergence_check`, :func:`_convergence_check`, :func:`_step_masks` and
    :func:`_backward_and_step`, and :func:`_mean_loss` when asked for.  In each
    loop the expansions for different samples are interleaved statement by
    statement, and each loop is short enough for an out-of-order core to overlap
    the iterations of neighbouring lanes: the sigmoids run side by side instead of
    each waiting out its own latency.  Values pass from loop to loop through the
    block's state (in L1).  Sums over samples keep their order, so the results are
    bitwise those of the generic kernel.

    Inputs known to be 0 or 1 (``inputs``, from :func:`input_pattern`: XOR's and
    the other truth tables' are all 0 or 1) are built in, exactly: x w is w for
    x = 1 (NaN included); for x = 0 it is 0, or NaN where w is not finite, and so
    is w - w, computed once per weight and shared by the samples (only the sign of
    a zero may differ, which the hidden sums may change anyway: see
    :func:`_hidden_layer`).  In the gradient, a term x d1 with x = 0 is a zero
    added to a sum that started from +0, so it is left out: d1 = d2 w2 act' is
    finite wherever the step is taken (parameters and output sums finite; |d2| <= 1
    because the targets are 0 or 1, which ``train`` checks, and |act'| <= 1), and
    elsewhere the gradient is discarded.
    """
    blk = _Block(S, D, H, act, loss, L, dt, rows, inputs, momentum)
    lines = _sweep_prologue(blk) + _hidden_layer(blk) + _output_layer(blk)
    lines += blk.loop(_reload_state(blk) + _local_gradients(blk) + _output_checks(blk)
                    + _divergence_check(blk) + _convergence_check(blk) + _step_masks(blk)
                    + _backward_and_step(blk))
    lines += ["    if want_loss:"] + blk.loop(_mean_loss(blk), indent="        ")
    lines += ["", "", "_sweep_ir = compile_lanes(_sweep_lanes, globals())", "", "",
              "@njit(**_OPTS)", "def _sweep(st, X, Y, one, want_loss, update, ef, target):",
              "    _sweep_ir(st, X, Y, one, want_loss, update, ef, target)"]
    return "\n".join(lines)


def _sweep_prologue(blk: _Block) -> list[str]:
    """Return the lanes function's header and the values that every lane shares.

    Writes ``zero``, ``n_samples`` (``one`` added S times to zero, as the generic
    kernel counts), ``inv_s``, the inputs read from ``X`` (``x{s}_{d}``, only those
    not built in) and the targets ``y{s}``.  Reads no state.
    """
    lines = ["def _sweep_lanes(st, X, Y, one, want_loss, update, ef, target):",
             "    # compiled by compile_lanes below, not by numba's front end (see _emit.py)",
             "    zero = one - one",
             "    n_samples = zero" + " + one" * blk.S,
             "    inv_s = one / n_samples"]
    for s in range(blk.S):
        lines += [f"    x{s}_{d} = X[{s}, {d}]" for d in range(blk.D) if blk.x(s, d) == "v"]
        lines.append(f"    y{s} = Y[{s}]")
    return lines


def _hidden_layer(blk: _Block) -> list[str]:
    """Hidden layer, forward: ``hz = x W1 + b1``, ``ha = act(hz)``, in loops over the lanes.

    Reads the rows PAR (W1, b1); writes HA, and HZ where the activation's
    derivative reads it (:attr:`_Block.keep_hz`).  Each loop holds
    ``_SIGMOIDS_PER_LOOP`` (sample, unit) pairs, their activations interleaved.

    Each sum adds the terms in the generic kernel's order (inputs in order, then
    the bias) but starts from its first term where the generic kernel starts from
    0: that changes only the sign of a zero sum (0 + -0 = +0), which no result can
    see (every use of hz and zz treats -0 as +0; tanh(-0) = -0 reaches only zz and
    sums that start from 0), and saves an add per sum (float64: 1.2-1.3x faster,
    measured on Zen 3).
    A built-in input contributes ``w`` for x = 1 and ``zw = w - w`` for x = 0: the
    same sums, and the same NaNs (see :func:`_sweep_source`).
    """
    from ._inline import expand, interleave  # (they import numba)

    def product(s, d, h):
        return {"0": f"zw{d}_{h}", "1": blk.row("PAR", blk.w1(d, h))}.get(
            blk.x(s, d), f"x{s}_{d} * {blk.row('PAR', blk.w1(d, h))}")

    lines = []
    for part in _chunks(blk.hidden, _SIGMOIDS_PER_LOOP):
        zero_w = sorted({(d, h) for s, h in part for d in range(blk.D) if blk.x(s, d) == "0"})
        body = [f"zw{d}_{h} = {blk.row('PAR', blk.w1(d, h))} - {blk.row('PAR', blk.w1(d, h))}"
                for d, h in zero_w]
        for s, h in part:
            terms = [product(s, d, h) for d in range(blk.D)]
            body.append(f"hz{s}_{h} = {' + '.join(terms)} + {blk.row('PAR', blk.b1(h))}")
        body += interleave([expand(f"activate(hz{s}_{h}, {blk.act}, one)", f"ha{s}_{h}",
                                   f"a{s}_{h}", blk.dt) for s, h in part])
        if blk.keep_hz:
            body += [f"{blk.row('HZ', s * blk.H + h)} = hz{s}_{h}" for s, h in part]
        body += [f"{blk.row('HA', s * blk.H + h)} = ha{s}_{h}" for s, h in part]
        lines += blk.loop(body)
    return lines


def _output_layer(blk: _Block) -> list[str]:
    """Output layer, forward: ``zz = ha W2 + b2``, ``out = sigmoid(zz)``, ``ee = e**-|zz|``.

    Reads the rows HA and PAR (W2, b2); writes ZZ, OUT and EE, in loops of
    ``_SIGMOIDS_PER_LOOP`` samples.  Each sum adds the hidden units in order, then
    the bias, as the generic kernel does (starting from its first term: see
    :func:`_hidden_layer`); ``output`` is the generic kernel's function.
    """
    from ._inline import expand, interleave  # (they import numba)

    lines = []
    for part in _chunks(list(range(blk.S)), _SIGMOIDS_PER_LOOP):
        body = []
        for s in part:
            terms = [f"{blk.row('HA', s * blk.H + h)} * {blk.row('PAR', blk.w2(h))}"
                     for h in range(blk.H)]
            body.append(f"zz{s} = {' + '.join(terms)} + {blk.row('PAR', blk.b2)}")
        body += interleave([expand(f"output(zz{s}, one)", f"out{s}, ee{s}", f"o{s}", blk.dt)
                            for s in part])
        for s in part:
            body += [f"{blk.row('ZZ', s)} = zz{s}", f"{blk.row('OUT', s)} = out{s}",
                     f"{blk.row('EE', s)} = ee{s}"]
        lines += blk.loop(body)
    return lines


# The pieces from _reload_state to _backward_and_step make one loop over the lanes, in
# that order: the gradient, the checks and the step of one lane.  They pass values on in
# the loop's locals: p{i}, hz/ha/out, d2_{s}/ag{s}_{h}, me/zc, ok, step/lr/mom/plain.

def _reload_state(blk: _Block) -> list[str]:
    """Read back what the step needs: ``p{i}`` (PAR), ``hz`` (HZ, if kept), ``ha``, ``out``.

    The parameters are read before any is written: every gradient below is that
    of the parameters the outputs were computed from, as in the generic kernel.
    """
    body = [f"p{i} = {blk.row('PAR', i)}" for i in range(blk.P)]
    if blk.keep_hz:
        body += [f"hz{s}_{h} = {blk.row('HZ', s * blk.H + h)}" for s, h in blk.hidden]
    body += [f"ha{s}_{h} = {blk.row('HA', s * blk.H + h)}" for s, h in blk.hidden]
    body += [f"out{s} = {blk.row('OUT', s)}" for s in range(blk.S)]
    return body


def _local_gradients(blk: _Block) -> list[str]:
    """Backward, per sample: ``d2_{s}`` = dL/dzz (``loss_grad``) and ``ag{s}_{h}`` = act'(hz).

    The generic kernel's functions, interleaved; they write locals only.
    """
    from ._inline import expand, interleave  # (they import numba)

    return interleave(
        [expand(f"loss_grad(out{s}, y{s}, inv_s, {blk.loss}, one)", f"d2_{s}", f"d{s}", blk.dt)
         for s in range(blk.S)]
        + blk.act_grads)


def _output_checks(blk: _Block) -> list[str]:
    """Sum over samples: the largest error ``me`` = max |out - y|, ``zc`` = sum |zz| (row ZZ).

    In sample order from zero, as the generic kernel's ``max_err`` and ``z_check``:
    ``me = select(err <= me, me, err)`` is its ``if not err <= max_err: max_err =
    err``, NaN included.  ``me`` is for :func:`_convergence_check`, ``zc`` for
    :func:`_divergence_check`.
    """
    body = ["me = zero", "zc = zero"]
    for s in range(blk.S):
        body += [f"zc = zc + abs({blk.row('ZZ', s)})",
                 f"err = abs(out{s} - y{s})", "me = select(err <= me, me, err)"]
    return body


def _divergence_check(blk: _Block) -> list[str]:
    """Divergence: ``ok`` (alive and finite); writes row ALIVE (one or zero).

    ``chk`` is 0, or NaN if ``zc`` or a parameter is not finite: a sum of zeros and
    NaNs, the same in any order, so summed as a tree (every step below waits on
    it).  W2 and b2 need no term of their own: if one is inf or NaN, so is every
    zz (a product with an inf or NaN factor is inf or NaN, 0 inf included, and so
    is a sum with such a term), hence ``zc``, as the generic kernel's check of
    every parameter would find.  W1 and b1 do: a sigmoid or tanh of inf is finite.
    """
    implied = {blk.w2(h) for h in range(blk.H)} | {blk.b2}
    body = _tree_sum(["zc - zc"] + [f"p{i} * zero" for i in range(blk.P) if i not in implied],
                     "chk")
    return body + [f"ok = ({blk.row('ALIVE')} != zero) & (chk == zero)",
                   f"{blk.row('ALIVE')} = select(ok, one, zero)"]


def _convergence_check(blk: _Block) -> list[str]:
    """Convergence: row CONV becomes ``ef`` where ``ok``, not converged yet, and ``me < target``.

    ``ef`` is this epoch, exact in the dtype; ``target`` is the least value of the
    dtype >= the threshold, so ``me < target`` as for the float64 threshold itself.
    CONV holds -1 until then, as the generic kernel's ``conv_l``.
    """
    return [f"conv = {blk.row('CONV')}",
            f"{blk.row('CONV')} = select(ok & (conv < zero) & (me < target), ef, conv)"]


def _step_masks(blk: _Block) -> list[str]:
    """Who steps (``step``: ok and ``update``) and the step's settings, from rows LR and MOM.

    A lane that does not step keeps its parameters through identities rather than
    a conditional store (x86 without AVX-512 has only slow masked stores):
    ``lr`` is 0 there, and with momentum ``mom`` is 1 (see
    :func:`_backward_and_step`).  ``plain``: the lane's momentum is 0.
    """
    body = ["step = ok & update", f"lr = select(step, {blk.row('LR')}, zero)"]
    if blk.momentum:
        body += [f"mom = select(step, {blk.row('MOM')}, one)", f"plain = {blk.row('MOM')} == zero",
                 "neg_zero = -zero"]
    return body


def _backward_and_step(blk: _Block) -> list[str]:
    """Backward and update: each parameter's gradient summed over the samples, then its step.

    Order: b2, W2 by unit, then per hidden unit ``d1 = d2 w2 act'``, b1 and W1 by
    input.  One parameter at a time, so that one sum is live at a time rather than
    all P (fewer registers spilled).  Each gradient starts from zero and adds the
    samples in order, the terms the generic kernel adds (less x d1 for an input
    built in as 0: see :func:`_sweep_source`).  Writes PAR, and VEL with momentum.

    Without momentum in the module: ``p - lr g``, and a lane that does not step
    gets ``p - 0 * 0 = p``.  With it: ``v = momentum v - lr g; p + v``, where
    momentum 0 is plain descent bit for bit (``v = -0 - lr g`` is ``-(lr g)``
    exactly, and ``p + -(lr g)`` is ``p - lr g``), and a lane that does not step
    gets ``v * 1 - 0 * 0 = v`` (or -0 in a momentum-0 lane) and ``p + -0 = p``:
    bitwise, NaN and -0 included.
    """
    def descend(i, terms):
        total = ["g = zero"] + [f"g = g + {t}" for t in terms]
        if not blk.momentum:
            return total + [f"{blk.row('PAR', i)} = p{i} - lr * select(step, g, zero)"]
        return total + [f"v = select(plain, neg_zero, mom * {blk.row('VEL', i)})"
                        " - lr * select(step, g, zero)",
                        f"{blk.row('VEL', i)} = v",
                        f"{blk.row('PAR', i)} = p{i} + select(step, v, neg_zero)"]

    S = blk.S
    body = descend(blk.b2, [f"d2_{s}" for s in range(S)])
    for h in range(blk.H):
        body += descend(blk.w2(h), [f"ha{s}_{h} * d2_{s}" for s in range(S)])
    for h in range(blk.H):
        body += [f"d1_{s}_{h} = d2_{s} * p{blk.w2(h)} * ag{s}_{h}" for s in range(S)]
        body += descend(blk.b1(h), [f"d1_{s}_{h}" for s in range(S)])
        for d in range(blk.D):  # x = 0: its zero term left out; x = 1: d1 itself
            body += descend(blk.w1(d, h), [f"d1_{s}_{h}" if blk.x(s, d) == "1" else
                                         f"x{s}_{d} * d1_{s}_{h}"
                                         for s in range(S) if blk.x(s, d) != "0"])
    return body


def _mean_loss(blk: _Block) -> list[str]:
    """Mean loss (row LOSS), in a loop of its own so that epochs that do not record skip it.

    Reads ZZ, OUT and EE.  As the generic kernel: ``loss_term`` of each sample added
    in order from zero, the log terms gathered by ``loss_log_acc`` and added at the
    end of each group (``ends_log_group``, decided here, when the code is generated),
    then divided by ``n_samples``.
    """
    from ._inline import expand, interleave  # (they import numba)
    from ._scalar import ends_log_group

    S = blk.S
    body = [f"{v}{s} = {blk.row(r, s)}" for s in range(S)
            for v, r in (("zz", "ZZ"), ("out", "OUT"), ("ee", "EE"))]
    body += interleave([expand(f"loss_term(zz{s}, out{s}, y{s}, {blk.loss}, one)", f"lt{s}",
                               f"lt{s}", blk.dt) for s in range(S)])
    body += ["ls = zero", "lu = zero"]
    for s in range(S):
        body += [f"ls = ls + lt{s}",
                 *expand(f"loss_log_acc(lu, ee{s}, {blk.loss}, one)", "lu", f"la{s}", blk.dt)]
        if ends_log_group(s, S):
            body += [*expand(f"loss_log(lu, {blk.loss}, one)", f"lg{s}", f"lg{s}", blk.dt),
                     f"ls = ls + lg{s}", "lu = zero"]
    body.append(f"{blk.row('LOSS')} = ls / n_samples")
    return body
