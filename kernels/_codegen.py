"""Straight-line training kernels for small networks, generated per shape.

For a network small enough (``S * H * (D + 1) <= config.UNROLL_LIMIT``: XOR and
the other 2-input gates up to H = 10, parity-3 up to H = 4) the whole
epoch of one network (forward over all samples, backward, update) is written
out as straight-line code inside one loop over the lanes of a block.  LLVM then
vectorizes that loop: each SIMD register holds one quantity of 8 or 16
networks, every value stays in registers for the whole epoch, and the state of
a block lives in one flat array with constant row offsets (so the compiler can
prove that rows never overlap).

The generated code calls the same compiled scalar functions as the generic
kernel (``_cpu.py``) in the same order, so both give bitwise identical results
(tests check it); only the schedule differs.

Generated modules are plain files under a cache directory (see
:func:`code_dir`), written atomically and named by their parameters and a
digest of the kernel sources, so numba's on-disk cache works for them and goes
stale exactly when the sources change.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
import threading
from pathlib import Path

from . import config
from ._scalar import ends_log_group

_modules: dict[str, object] = {}
# read once, at import, like the generic kernel's options (see config.py)
_FASTMATH_FLAGS = frozenset(config.FASTMATH_FLAGS)
_CACHE = config.CACHE
_lock = threading.Lock()


def eligible(n_samples: int, n_inputs: int, n_hidden: int) -> bool:
    """Return whether training networks of this shape uses a generated kernel."""
    return n_samples * n_hidden * (n_inputs + 1) <= config.UNROLL_LIMIT


def code_dir() -> Path:
    """Return the directory for generated kernels (created if needed).

    ``$XORSWEEP_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/xorsweep`` (default
    ``~/.cache/xorsweep``); if that is not writable, a per-user directory in the
    temp directory, used only if this user owns it and nobody else can write to it
    (code is imported from there).
    """
    env = os.environ.get("XORSWEEP_CACHE_DIR")
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "xorsweep"
    shared = Path(tempfile.gettempdir()) / f"xorsweep-{os.getuid()}"
    for path in ([Path(env)] if env else []) + [base, shared]:
        try:
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
            if path == shared:
                st = path.stat()
                if st.st_uid != os.getuid() or st.st_mode & 0o022:
                    continue
            with tempfile.NamedTemporaryFile(dir=path):
                pass
            return path
        except OSError:
            continue
    raise OSError("no writable directory for generated kernels; set XORSWEEP_CACHE_DIR")


def _sources_digest() -> str:
    from ._cpu import sources_digest

    return sources_digest()[:16]


def unrolled(n_samples: int, n_inputs: int, n_hidden: int, act: int, loss: int,
             lanes: int | None = None):
    """Return the generated module for this shape, activation, loss and block width.

    ``lanes`` (networks per block, a compile-time constant of the module) defaults
    to ``config.UNROLLED_LANES``.  Each module is generated once per process.
    """
    lanes = config.UNROLLED_LANES if lanes is None else lanes
    fast = "-".join(sorted(_FASTMATH_FLAGS)) or "ieee"
    key = (f"S{n_samples}_D{n_inputs}_H{n_hidden}_a{act}_l{loss}_L{lanes}_{fast}_"
           f"{'c' if _CACHE else 'n'}_{_sources_digest()}")
    with _lock:  # one thread generates and imports; the others wait and reuse it
        if key in _modules:
            return _modules[key]
        source = _module_source(n_samples, n_inputs, n_hidden, act, loss, lanes)
        path = code_dir() / f"xorsweep_train_{key}.py"
        if not path.exists() or path.read_text() != source:
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
            with os.fdopen(fd, "w") as f:
                f.write(source)
            os.replace(tmp, path)  # atomic: other processes see no file or the whole file
        name = f"_xorsweep_generated_{key}"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        _modules[key] = module
        return module


def _module_source(S: int, D: int, H: int, act: int, loss: int, L: int) -> str:
    P = D * H + 2 * H + 1
    rows = {"VEL": P, "LR": 2 * P, "MOM": 2 * P + 1, "ALIVE": 2 * P + 2, "ME": 2 * P + 3,
            "LOSS": 2 * P + 4, "OUT": 2 * P + 5}
    R = rows["OUT"] + S
    sweeps = "\n\n".join([
        _sweep_source("_sweep_step", S, D, H, act, loss, L, rows, want_loss=False),
        _sweep_source("_sweep_loss", S, D, H, act, loss, L, rows, want_loss=True),
    ])
    fastmath = sorted(_FASTMATH_FLAGS)
    # One compiled function per level costs compile time: numba re-optimizes and re-emits
    # every callee linked into a function, so the block loop lives in run_blocks itself.
    return f'''# Generated by kernels/_codegen.py; do not edit.
# Training kernel for S={S} samples, D={D} inputs, H={H} hidden units, activation code {act},
# loss code {loss}, {L} lanes per block.  Kernel sources digest: {_sources_digest()}
import numpy as np
from numba import njit

from kernels._cpu import (_finish, _gather, activate, activate_grad, loss_grad, loss_log,
                          loss_log_acc, loss_term, output, MODE_TRAIN)

_OPTS = dict(nogil=True, error_model="numpy", fastmath={set(fastmath) if fastmath else False},
             cache={_CACHE})
P, L, R = {P}, {L}, {R}


{sweeps}


@njit(**_OPTS)
def run_blocks(b_start, b_stop, W1, b1, W2, b2, lr, mom, X, Y, epochs, curve_epochs, target,
               one, sat_tol, plat_tol, curve, loss_out, outputs, conv, outcome):
    N = W1.shape[0]
    K = curve_epochs.shape[0]
    for b in range(b_start, b_stop):
        n0 = b * L
        nr = min(L, N - n0)
        st = np.zeros(R * L, W1.dtype)
        par = st[:P * L].reshape((P, L))
        lr_l = st[{rows["LR"]} * L:{rows["LR"] + 1} * L]
        mom_l = st[{rows["MOM"]} * L:{rows["MOM"] + 1} * L]
        alive = st[{rows["ALIVE"]} * L:{rows["ALIVE"] + 1} * L]
        max_err = st[{rows["ME"]} * L:{rows["ME"] + 1} * L]
        loss_mean = st[{rows["LOSS"]} * L:{rows["LOSS"] + 1} * L]
        out = st[{rows["OUT"]} * L:R * L].reshape(({S}, L))
        conv_l = np.full(L, -1, np.int64)
        _gather(n0, nr, W1, b1, W2, b2, lr, mom, par, lr_l, mom_l, alive, curve[:, :0])
        # the block's curves, lane-contiguous: one cache line per record instead of 64
        curve_block = np.full((K, L), np.nan, W1.dtype)
        k = 0
        for e in range(epochs + 1):
            record = k < K and curve_epochs[k] == e
            if record or e == epochs:
                _sweep_loss(st, X, Y, one, e < epochs)
            else:
                _sweep_step(st, X, Y, one)
            n_alive = 0
            for j in range(L):
                if alive[j] != 0:
                    n_alive += 1
                    if conv_l[j] < 0 and max_err[j] < target:
                        conv_l[j] = e
            if record:
                for j in range(L):
                    curve_block[k, j] = loss_mean[j] if alive[j] != 0 else np.nan
                k += 1
            if n_alive == 0:
                if e < epochs:
                    # store the outputs of the frozen parameters: every lane is dead, so
                    # none steps (the flag is the same runtime bool as above, not a
                    # literal that numba would compile _sweep_loss for a second time)
                    _sweep_loss(st, X, Y, one, e < epochs)
                break
        for j in range(nr):
            for kk in range(K):
                curve[n0 + j, kk] = curve_block[kk, j]
        _finish(n0, nr, MODE_TRAIN, par, par, out, alive, conv_l, loss_mean, Y, one, sat_tol,
                plat_tol, W1, b1, W2, b2, W1, b1, W2, b2, outputs, conv, loss_out, outcome)
'''


def _sweep_source(name, S, D, H, act, loss, L, rows, *, want_loss) -> str:
    """One pass over the lanes of a block: evaluate and step every lane's network.

    With ``want_loss`` the function also stores the mean loss and the outputs, and
    takes a flag ``update``: False leaves parameters and velocities as they are
    (the final epoch; the gradient is computed and dropped).
    """
    P = D * H + 2 * H + 1

    def w1(d, h):
        return d * H + h

    def b1(h):
        return D * H + h

    def w2(h):
        return D * H + H + h

    b2 = D * H + 2 * H
    args = "st, X, Y, one, update" if want_loss else "st, X, Y, one"
    lines = [f"@njit(**_OPTS)\ndef {name}({args}):",
             "    zero = one - one",
             "    n_samples = zero" + " + one" * S,
             "    inv_s = one / n_samples"]
    for s in range(S):
        lines += [f"    x{s}_{d} = X[{s}, {d}]" for d in range(D)]
        lines.append(f"    y{s} = Y[{s}]")
    lines.append(f"    for j in range({L}):")
    body = [f"p{i} = st[{i * L} + j]" for i in range(P)]
    body.append(f"alive = st[{rows['ALIVE'] * L} + j]")
    body += [f"g{i} = zero" for i in range(P)]
    body += ["me = zero", "zc = zero"]
    if want_loss:
        body += ["ls = zero", "lu = zero"]
    for s in range(S):
        for h in range(H):
            z = "zero"
            for d in range(D):
                z = f"({z} + x{s}_{d} * p{w1(d, h)})"
            body.append(f"hz{h} = {z} + p{b1(h)}")
            body.append(f"ha{h} = activate(hz{h}, {act}, one)")
        z = "zero"
        for h in range(H):
            z = f"({z} + ha{h} * p{w2(h)})"
        body += [f"zz = {z} + p{b2}",
                 "out, ee = output(zz, one)",
                 "zc = zc + abs(zz)"]
        if want_loss:
            body += [f"ls = ls + loss_term(zz, out, y{s}, {loss}, one)",
                     f"lu = loss_log_acc(lu, ee, {loss}, one)",
                     f"st[{(rows['OUT'] + s) * L} + j] = out"]
            if ends_log_group(s, S):  # decided here, when the code is generated
                body += [f"ls = ls + loss_log(lu, {loss}, one)", "lu = zero"]
        body += [f"err = abs(out - y{s})", "me = me if err <= me else err",
                 f"d2 = loss_grad(out, y{s}, inv_s, {loss}, one)",
                 f"g{b2} = g{b2} + d2"]
        for h in range(H):
            body += [f"g{w2(h)} = g{w2(h)} + ha{h} * d2",
                     f"d1 = d2 * p{w2(h)} * activate_grad(hz{h}, ha{h}, {act}, one)",
                     f"g{b1(h)} = g{b1(h)} + d1"]
            body += [f"g{w1(d, h)} = g{w1(d, h)} + x{s}_{d} * d1" for d in range(D)]
    body.append("chk = zc - zc")
    body += [f"chk = chk + p{i} * zero" for i in range(P)]
    body += ["ok = alive != zero and chk == zero",
             f"st[{rows['ALIVE'] * L} + j] = one if ok else zero",
             f"st[{rows['ME'] * L} + j] = me"]
    if want_loss:
        body.append(f"st[{rows['LOSS'] * L} + j] = ls / n_samples")
    body += [f"lr = st[{rows['LR'] * L} + j]", f"mom = st[{rows['MOM'] * L} + j]",
             "step = ok and update" if want_loss else "step = ok"]
    for i in range(P):
        vel = f"st[{(rows['VEL'] + i) * L} + j]"
        body += [f"v_old = {vel}",
                 f"v = mom * v_old - lr * g{i}",
                 f"{vel} = v if step else v_old",
                 f"st[{i * L} + j] = p{i} + v if step else p{i}"]
    return "\n".join(lines + ["        " + line for line in body])
