"""Public wrappers around the compiled kernels: validate, coerce, allocate, call.

The compiled code (``_cpu.py``) sees only contiguous arrays and scalars and never
raises on data; every check a user can trip lives here.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from . import _codegen, _native, config
from ._memory import aligned, fresh, fresh_copy
from ._parallel import launch
from ._signatures import TRAIN_ENTRY
from ._types import MODE_FORWARD, MODE_GRADIENTS, MODE_TRAIN, OUTCOMES, Params, TrainResult
from ._validation import (
    check_bool,
    check_choice,
    check_dtype,
    check_int,
    check_number,
    per_network,
)
from .initialization import init_params

__all__ = ["forward", "losses", "gradients", "train", "warmup", "needed_kernels", "Kernel",
           "ACTIVATIONS", "LOSSES"]

#: Hidden activations, in kernel code order.
ACTIVATIONS: tuple[str, ...] = ("sigmoid", "tanh", "relu")
#: Losses, in kernel code order.
LOSSES: tuple[str, ...] = ("bce", "mse")
#: Devices ``train`` runs on.
DEVICES: tuple[str, ...] = ("cpu", "cuda")

_OUTCOME_LABELS = np.array(OUTCOMES)


def _check_params(p) -> Params:
    if not isinstance(p, Params):
        raise ValueError(f"p must be a kernels.Params, got {type(p).__name__}")
    W1, b1, W2, b2 = (np.asarray(a) for a in p.arrays())
    if W1.ndim != 3:
        raise ValueError(f"p.W1 must have shape (n_nets, n_inputs, n_hidden), got {W1.shape}")
    N, D, H = W1.shape
    if D < 1 or H < 1:
        raise ValueError(f"p.W1 must have n_inputs >= 1 and n_hidden >= 1, got {W1.shape}")
    for name, arr, shape in (("b1", b1, (N, H)), ("W2", W2, (N, H)), ("b2", b2, (N,))):
        if arr.shape != shape:
            raise ValueError(f"p.{name} must have shape {shape} to match p.W1 {W1.shape}, "
                             f"got {arr.shape}")
    dt = W1.dtype
    if dt not in (np.float32, np.float64):
        raise ValueError(f"p.W1 must be float32 or float64, got {dt}; convert with "
                         "p.astype(np.float64) (or np.float32)")
    out = []
    for name, arr in (("W1", W1), ("b1", b1), ("W2", W2), ("b2", b2)):
        if arr.dtype != dt:
            raise ValueError(f"p.{name} has dtype {arr.dtype} but p.W1 has {dt}; "
                             f"use p.astype(...) to give them one dtype")
        if not np.isfinite(arr).all():
            raise ValueError(f"p.{name} contains NaN or inf; parameters must be finite")
        out.append(np.require(arr, dtype=dt, requirements=["C", "W"]))
    return Params(*out)


def _check_data(X, Y, p: Params, *, need_y: bool):
    Xa = np.asarray(X)
    if Xa.ndim != 2 or Xa.shape[0] < 1:
        raise ValueError(f"X must have shape (n_samples, n_inputs), got {Xa.shape}")
    if Xa.dtype.kind not in "biuf":
        raise ValueError(f"X must be numeric, got dtype {Xa.dtype}")
    if Xa.shape[1] != p.n_inputs:
        raise ValueError(f"X has {Xa.shape[1]} inputs per sample but the networks have "
                         f"n_inputs = {p.n_inputs} (p.W1.shape[1])")
    with np.errstate(over="ignore"):
        Xc = np.require(Xa, dtype=p.dtype, requirements=["C", "W"])
    if not np.isfinite(Xc).all():
        raise ValueError(f"X contains NaN or inf (in {p.dtype}); inputs must be finite")
    if not need_y:
        return Xc, np.zeros(Xa.shape[0], dtype=p.dtype)
    Ya = np.asarray(Y)
    if Ya.shape != (Xa.shape[0],):
        raise ValueError(f"Y must have shape ({Xa.shape[0]},) to match X, got {Ya.shape}")
    if Ya.dtype.kind not in "iufb":
        raise ValueError(f"Y must be numeric 0/1 targets, got dtype {Ya.dtype}")
    if not np.isin(Ya, (0, 1)).all():
        raise ValueError("Y must contain only the targets 0 and 1")
    return Xc, np.require(Ya, dtype=p.dtype, requirements=["C", "W"])


def _unrolled_lanes(n_nets: int, n_samples: int, n_inputs: int, n_hidden: int,
                    dtype) -> int | None:
    """Return the block width of the generated kernel that trains these networks.

    None means the generic kernel: the shape is too big to generate (see ``config``).
    Any number of networks, down to one, trains with a generated kernel otherwise.
    """
    if not _codegen.eligible(n_samples, n_inputs, n_hidden):
        return None
    if n_nets < config.for_dtype("UNROLLED_WIDE_MIN_NETS", dtype):
        return config.for_dtype("UNROLLED_NARROW_LANES", dtype)
    return config.for_dtype("UNROLLED_LANES", dtype)


def _generated_entry(*key) -> tuple[object, int]:
    """Return ``_codegen.entry(*key)``, or ``(None, 0)``: train with the generic kernel.

    The generic kernel gives the same bits.  It is used when ``config.NATIVE`` is off,
    and, with one warning naming the cause, when generating, compiling or loading the
    kernel fails (those steps use numba and llvmlite internals that may change).
    """
    if not config.NATIVE:
        return None, 0
    try:
        return _codegen.entry(*key)
    except Exception as exc:  # noqa: BLE001 - never fail train: the plain path gives the bits
        _native.failed(exc)
        return None, 0


def _least_at_least(dtype: np.dtype, t: float):
    """Return the least value of ``dtype`` >= ``t``: for x of that dtype, x < t iff x < it."""
    v = dtype.type(t)
    return v if float(v) >= t else np.nextafter(v, dtype.type(np.inf))


def _results(N: int, S: int, K: int, dt: np.dtype) -> tuple[np.ndarray, ...]:
    """Allocate a run's results: curve, loss, outputs, converged epoch, outcome code.

    The curve is (K, N), a row per recorded epoch: the kernels write a block's
    networks side by side, and the store writes a column per epoch with no
    transpose (:class:`TrainResult` shows it as (N, K)).
    """
    return (fresh((K, N), dt), fresh((N,), dt), fresh((N, S), dt), fresh((N,), np.int64),
            fresh((N,), np.int8))


def _run(mode, p: Params, X, Y, *, act, loss, lr, mom, epochs, curve_epochs, target,
         parallel: bool):
    """Allocate outputs and call the compiled kernel (train mode overwrites ``p``'s arrays)."""
    N, S = p.n_nets, X.shape[0]
    dt = p.dtype
    lanes = check_int("config.LANES", config.LANES, low=1)
    grads = Params(*(np.zeros_like(a) for a in p.arrays())) if mode == MODE_GRADIENTS \
        else Params(np.zeros((0, 1, 1), dt), np.zeros((0, 1), dt), np.zeros((0, 1), dt),
                    np.zeros(0, dt))
    curve, loss_out, outputs, conv, outcome = _results(N, S, curve_epochs.shape[0], dt)
    if N == 0:
        return grads, curve, loss_out, outputs, conv, outcome
    width = _unrolled_lanes(N, S, p.n_inputs, p.n_hidden, dt)
    entry = None
    # the generated kernel holds epoch numbers in the dtype: exact up to 2**24 in float32
    if mode == MODE_TRAIN and width is not None and epochs <= 2 ** (np.finfo(dt).nmant + 1):
        entry, R = _generated_entry(S, p.n_inputs, p.n_hidden, ACTIVATIONS.index(act),
                                    LOSSES.index(loss), width, dt, _codegen.input_pattern(X),
                                    bool(np.any(mom != 0)))
    if entry is not None:
        K = curve_epochs.shape[0]
        signature = TRAIN_ENTRY.for_dtype(dt)
        shared = dict(N=N, K=K, W1=p.W1, b1=p.b1, W2=p.W2, b2=p.b2, lr=lr, mom=mom,
                      X=np.ascontiguousarray(X, dt), Y=np.ascontiguousarray(Y, dt),
                      epochs=epochs, curve_epochs=curve_epochs,
                      target=_least_at_least(dt, target), one=1.0,
                      sat_tol=config.SATURATED_TOL, plat_tol=config.PLATEAU_TOL, curve=curve,
                      loss_out=loss_out, outputs=outputs, conv=conv, outcome=outcome)

        def run_range(b_start, b_stop):
            if b_stop > b_start:  # scratch of its own for each range (each thread)
                st, conv_l, curve_block = aligned(R * width, dt), aligned(width, np.int64), \
                    aligned(K * width, dt)
                # (the arrays stay referenced here: pack passes only their addresses)
                entry(*signature.pack(b_start=b_start, b_stop=b_stop, st=st, conv_l=conv_l,
                                      curve_block=curve_block, **shared))

        launch(run_range, -(-N // width), parallel, ())
    else:  # the generic kernel; a handful of networks get a block no wider than needed
        from . import _cpu  # (imports numba)

        lanes = min(lanes, N)
        launch(_cpu.run_blocks, -(-N // lanes), parallel,
                (mode, *p.arrays(), lr, mom, X, Y, epochs, curve_epochs, float(target),
                 ACTIVATIONS.index(act), LOSSES.index(loss), dt.type(1), lanes,
                 float(config.SATURATED_TOL), float(config.PLATEAU_TOL), *grads.arrays(), curve,
                 loss_out, outputs, conv, outcome))
    return grads, curve, loss_out, outputs, conv, outcome


def cuda_available() -> bool:
    """Return whether ``train(..., device="cuda")`` can run here.

    True with numba-cuda installed and a working NVIDIA GPU and driver (or under
    numba's CUDA simulator, ``NUMBA_ENABLE_CUDASIM=1``); never raises.
    """
    try:
        from . import _cuda
    except Exception:  # noqa: BLE001 - numba-cuda missing or broken: not available
        return False
    return _cuda.available()


class CudaUnavailableError(RuntimeError):
    """``device="cuda"`` where no GPU is usable; one line saying what is missing.

    ``str(exc)`` names the keyword (``device='cuda'``, ``device='cpu'``);
    :meth:`message` words the same line for another spelling of the choice, such
    as the command line's ``--device cuda`` and ``--device cpu``.
    """

    def __init__(self, template: str):
        self.template = template
        super().__init__(self.message())

    def message(self, cuda: str = "device='cuda'", cpu: str = "device='cpu'") -> str:
        """Return the message with ``cuda`` and ``cpu`` as the spellings of the two choices."""
        return self.template.format(cuda=cuda, cpu=cpu)


def require_cuda():
    """Return the CUDA module, or raise a one-line :class:`CudaUnavailableError`."""
    try:
        from . import _cuda
    except ImportError:
        raise CudaUnavailableError("{cuda} needs numba-cuda: pip install 'xorsweep[cuda]' "
                                   "(on a machine with an NVIDIA GPU and driver)") from None
    if not _cuda.available():
        raise CudaUnavailableError("{cuda} but no CUDA GPU is usable here "
                                   "(numba.cuda.is_available() is False); use {cpu}")
    return _cuda


def _run_cuda(p: Params, X, Y, *, act, loss, lr, mom, epochs, curve_epochs, target):
    """Train on the GPU, in place in ``p``; return curve, loss, outputs, converged, outcome."""
    _cuda = require_cuda()
    N, S = p.n_nets, X.shape[0]
    dt = p.dtype
    curve, loss_out, outputs, conv, outcome = _results(N, S, curve_epochs.shape[0], dt)
    if N:
        # thresholds in float64, as the CPU kernels compare them
        _cuda.run_train(*p.arrays(), lr, mom, X, Y, epochs, curve_epochs, float(target),
                        ACTIVATIONS.index(act), LOSSES.index(loss), dt.type(1),
                        float(config.SATURATED_TOL), float(config.PLATEAU_TOL), curve,
                        loss_out, outputs, conv, outcome)
    return curve, loss_out, outputs, conv, outcome


def _evaluate_once(mode, p, X, Y, activation, loss, parallel, *, need_y=True):
    """Validate, then evaluate every network once (forward, loss, gradients if asked).

    ``need_y`` False (the forward pass alone): ``Y`` is not read.
    """
    p = _check_params(p)
    act = check_choice("activation", activation, ACTIVATIONS)
    loss = check_choice("loss", loss, LOSSES)
    check_bool("parallel", parallel)
    Xc, Yc = _check_data(X, Y, p, need_y=need_y)
    zeros = np.zeros(p.n_nets, p.dtype)
    return _run(mode, p, Xc, Yc, act=act, loss=loss, lr=zeros, mom=zeros, epochs=0,
                curve_epochs=np.empty(0, np.int64), target=0.5, parallel=parallel)


def forward(
    p: Params,
    X,
    *,
    activation: Literal["sigmoid", "tanh", "relu"] = "sigmoid",
    parallel: bool = True,
) -> np.ndarray:
    r"""Compute the output of every network on every sample.

    .. math::

        a_1 = \mathrm{act}(X W_1 + b_1), \qquad a_2 = \sigma(a_1 W_2 + b_2)

    Parameters
    ----------
    p : Params
        Networks with ``n_inputs`` equal to ``X.shape[1]``.
    X : array_like, shape (n_samples, n_inputs)
        Finite inputs.
    activation : {"sigmoid", "tanh", "relu"}
        Hidden activation.
    parallel : bool
        Spread the work over ``numba.get_num_threads()`` threads (True) or run on
        the calling thread with the GIL released (False: for callers that own the
        cores themselves).

    Returns
    -------
    ndarray, shape (n_nets, n_samples)
        Outputs, in the dtype of ``p``.

    Raises
    ------
    ValueError
        On a wrong shape, non-finite value or unknown activation; the message names the argument.

    Examples
    --------
    >>> X, Y = kernels.tasks.xor()
    >>> kernels.forward(kernels.init_params(np.arange(5)), X).shape
    (5, 4)
    """
    _, _, _, outputs, _, _ = _evaluate_once(MODE_FORWARD, p, X, None, activation, "bce",
                                            parallel, need_y=False)
    return outputs


def losses(
    p: Params,
    X,
    Y,
    *,
    activation: Literal["sigmoid", "tanh", "relu"] = "sigmoid",
    loss: Literal["bce", "mse"] = "bce",
    parallel: bool = True,
) -> np.ndarray:
    """Compute the mean loss of every network (what :func:`train` reports at epoch 0).

    Parameters are as in :func:`gradients`.

    Returns
    -------
    ndarray, shape (n_nets,)
        Mean bce or mse over the samples, in the dtype of ``p``.

    Raises
    ------
    ValueError
        On a wrong shape, non-finite value or unknown name; the message names the argument.
    """
    _, _, loss_out, _, _, _ = _evaluate_once(MODE_FORWARD, p, X, Y, activation, loss,
                                             parallel)
    return loss_out


def gradients(
    p: Params,
    X,
    Y,
    *,
    activation: Literal["sigmoid", "tanh", "relu"] = "sigmoid",
    loss: Literal["bce", "mse"] = "bce",
    parallel: bool = True,
) -> Params:
    r"""Compute the gradient of each network's mean loss with respect to its parameters.

    Backpropagation as in the paper, storing :math:`\partial L / \partial z` per layer:

    .. math::

        dz_2 = \frac{\partial L}{\partial a_2} a_2 (1 - a_2), \quad
        dW_2 = a_1^\top dz_2, \quad db_2 = \textstyle\sum_s dz_2, \\
        dz_1 = (dz_2 \otimes W_2) \odot \mathrm{act}'(z_1), \quad
        dW_1 = X^\top dz_1, \quad db_1 = \textstyle\sum_s dz_1

    with :math:`dz_2 = (a_2 - y)/S` for bce.  These are exactly the gradients
    :func:`train` steps with.

    Parameters
    ----------
    p : Params
    X : array_like, shape (n_samples, n_inputs)
    Y : array_like, shape (n_samples,)
        Targets, 0 or 1.
    activation : {"sigmoid", "tanh", "relu"}
    loss : {"bce", "mse"}
    parallel : bool
        As in :func:`forward`.

    Returns
    -------
    Params
        Gradients, shaped like ``p``.

    Raises
    ------
    ValueError
        On a wrong shape, non-finite value or unknown name; the message names the argument.
    """
    grads, *_ = _evaluate_once(MODE_GRADIENTS, p, X, Y, activation, loss, parallel)
    return grads


def warmup(
    X,
    Y,
    *,
    n_hidden: int = 2,
    activation: Literal["sigmoid", "tanh", "relu"] = "sigmoid",
    loss: Literal["bce", "mse"] = "bce",
    dtype=np.float64,
    sizes=None,
    momentum=0.0,
) -> None:
    """Compile (or load from the on-disk caches) the kernels that :func:`train` will use.

    Call it once in a parent process before starting worker processes that train
    the same kind of network: the workers then load the compiled code instead of
    all compiling, and writing the caches, at the same time.

    Parameters
    ----------
    X, Y : array_like
        The task, as for :func:`train`.
    n_hidden, activation, loss, dtype
        The networks that will be trained.
    sizes : int or iterable of int, optional
        How many networks the later :func:`train` calls will get.  Fewer than
        ``config.UNROLLED_WIDE_MIN_NETS`` networks and more each train with a kernel
        of their own (when the shape is small enough to generate); by default both
        are compiled.
    momentum : float or iterable of float, optional
        The momenta the networks will train with.  A call in which no network has
        momentum trains with a kernel without velocities, any other with one that
        has them: the first is compiled if 0 is among these values (the default),
        the second if any other value is.
    """
    X = np.asarray(X)
    S, D = X.shape[0], X.shape[1] if X.ndim == 2 else 1
    dtype = check_dtype("dtype", dtype)
    wide = config.for_dtype("UNROLLED_WIDE_MIN_NETS", dtype)
    if sizes is None:
        sizes = (1, wide)
    elif isinstance(sizes, int | np.integer) or np.ndim(sizes) == 0:
        sizes = [sizes]  # (a non-integer is refused next, by name)
    sizes = [check_int("sizes", n, low=1) for n in sizes]
    momenta = np.atleast_1d(np.asarray(momentum, dtype=np.float64)).ravel()
    momenta = per_network("momentum", momenta, momenta.size, np.float64, low=0.0, high=1.0,
                          high_open=True)
    # one small call per kernel (no more networks than the widest kernel needs), without
    # momentum and with it (0.5: any nonzero value picks the same kernel)
    by_kernel = {_unrolled_lanes(n, S, D, n_hidden, dtype): min(n, wide) for n in sizes}
    kinds = sorted({0.0 if m == 0 else 0.5 for m in momenta})
    for n_nets in sorted(set(by_kernel.values())):
        p = init_params(np.arange(n_nets), n_inputs=D, n_hidden=n_hidden, dtype=dtype)
        for m in kinds:
            train(p, X, Y, lr=0.0, momentum=m, epochs=1, activation=activation, loss=loss,
                  record_every=1, parallel=False)


@dataclass(frozen=True)
class Kernel:
    """A compiled kernel that training needs: its name in the cache and whether it is there.

    ``kind``: ``"generated"`` (one per shape, activation, loss, dtype, block width and
    momentum: ``_codegen.py``), ``"generic"`` (numba's ordinary kernel, one per
    dtype) or ``"init"`` (the initializer).  ``sigmoids``: per network-epoch, a
    measure of a generated kernel's compile time (0 for the others).
    """

    name: str
    kind: Literal["generated", "generic", "init"]
    cached: bool
    sigmoids: int = 0


def _cache_root() -> Path | None:
    """Return the cache directory kernels would use, if it exists and is trusted (reads only)."""
    from . import _cache

    path = _cache.configured()
    if not config.CACHE or not path.is_dir() or _cache.untrusted(path) is not None:
        return None  # (an untrusted directory: a run compiles into a private one)
    return path


def needed_kernels(
    X,
    *,
    n_hidden: int = 2,
    activation: Literal["sigmoid", "tanh", "relu"] = "sigmoid",
    loss: Literal["bce", "mse"] = "bce",
    dtype=np.float64,
    sizes=None,
    momentum=0.0,
    epochs: int = 1,
) -> list[Kernel]:
    """Return the kernels that :func:`warmup` (with these arguments) and :func:`train` use.

    Says, for each, whether the on-disk cache holds it, as a later process would load
    it.  Reads only: nothing is compiled, loaded or written, and numba is imported
    only to read its cache when the generic kernel is needed.

    Parameters
    ----------
    X : array_like, shape (n_samples, n_inputs)
        The task's inputs.
    n_hidden, activation, loss, dtype, sizes, momentum
        As for :func:`warmup`.
    epochs : int
        The epochs of the later :func:`train` calls (float32 runs of more than 2**24
        epochs use the generic kernel).

    Returns
    -------
    list of Kernel
        The initializer first, then one per training kernel, without repeats.

    Examples
    --------
    >>> X, _ = kernels.tasks.xor()
    >>> [k.kind for k in kernels.training.needed_kernels(X, sizes=[1000])]
    ['init', 'generated']
    """
    from . import _numba_cache

    X = np.asarray(X)
    S, D = X.shape[0], X.shape[1] if X.ndim == 2 else 1
    H = check_int("n_hidden", n_hidden, low=1)
    act = ACTIVATIONS.index(check_choice("activation", activation, ACTIVATIONS))
    los = LOSSES.index(check_choice("loss", loss, LOSSES))
    dtype = check_dtype("dtype", dtype)
    wide = config.for_dtype("UNROLLED_WIDE_MIN_NETS", dtype)
    if sizes is None:
        sizes = (1, wide)
    elif isinstance(sizes, int | np.integer):
        sizes = [sizes]
    momenta = np.atleast_1d(np.asarray(momentum, dtype=np.float64)).ravel()
    root = _cache_root()
    generated = config.NATIVE and epochs <= 2 ** (np.finfo(dtype).nmant + 1)
    here = Path(__file__).parent
    if config.NATIVE:
        name = f"xorsweep_init_{_native.sources_digest()[:16]}"
        out = [Kernel(name, "init", root is not None and _native.cached(name, root))]
    else:
        out = [Kernel("_seeding.init_range", "init", root is not None and _numba_cache.cached(
            here / "_seeding.py", "init_range", root, "float64"))]
    for n in sorted({check_int("sizes", n, low=1) for n in sizes}):
        lanes = _unrolled_lanes(n, S, D, H, dtype) if generated else None
        if lanes is None:
            kernel = Kernel(f"_cpu.run_blocks[{dtype}]", "generic", root is not None
                            and _numba_cache.cached(here / "_cpu.py", "run_blocks", root,
                                                    str(dtype)))
            out += [] if kernel in out else [kernel]
            continue
        for m in sorted({bool(m != 0) for m in momenta}):
            key, _ = _codegen.kernel_key(S, D, H, act, los, lanes, dtype,
                                         _codegen.input_pattern(X), m)
            name = f"xorsweep_train_{key}"
            if all(k.name != name for k in out):
                out.append(Kernel(name, "generated", root is not None
                                  and _native.cached(name, root), S * (H + 1)))
    return out


#: The most epochs :func:`train` accepts: the kernels count epochs in int64 and
#: compare ``e <= epochs``, so ``epochs + 1`` must fit, with room to spare.
MAX_EPOCHS = 2**62


def _check_recording(epochs, record_every) -> tuple[int, int | None, int]:
    """Validate ``epochs`` and ``record_every``; return them and the number of recorded epochs."""
    epochs = check_int("epochs", epochs, low=0, high=MAX_EPOCHS)
    if record_every is None:
        return epochs, None, 0
    record_every = check_int("record_every", record_every, low=1)
    return epochs, record_every, epochs // record_every + 1 + (epochs % record_every != 0)


def curve_memory_limit() -> int | None:
    """Return the most bytes a loss curve may take: half the machine's physical memory.

    Half, because the curve shares the machine with everything else the caller
    holds; None where the operating system does not report its memory (no limit).
    """
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
    except (AttributeError, ValueError, OSError):
        return None


def _check_curve_memory(n_nets: int, n_recorded: int, itemsize: int) -> None:
    """Refuse a curve (and its epoch list) larger than :func:`curve_memory_limit`."""
    need = n_recorded * (n_nets * itemsize + 8)
    limit = curve_memory_limit()
    if limit is not None and need > limit:
        what = f"the loss curve of {n_nets:,} networks x " if n_nets else ""
        raise ValueError(
            f"record_every: {what}{n_recorded:,} recorded epochs need {need / 2**30:,.3g} GiB, "
            f"more than half this machine's memory "
            f"({limit / 2**30:,.3g} GiB); use a larger record_every (or None), or fewer "
            "networks per call")


def record_epochs(epochs: int, record_every: int | None) -> np.ndarray:
    """Return the epochs at which :func:`train` records the loss: 0, k, 2k, ... and ``epochs``.

    Raises
    ------
    ValueError
        If ``epochs`` is not an integer from 0 to :data:`MAX_EPOCHS`, ``record_every``
        not an integer >= 1 or None, or the list would not fit in memory
        (see :func:`curve_memory_limit`).
    """
    epochs, record_every, n_recorded = _check_recording(epochs, record_every)
    if record_every is None:
        return np.empty(0, np.int64)
    _check_curve_memory(0, n_recorded, 0)
    every = np.arange(0, epochs + 1, record_every, dtype=np.int64)
    # (np.unique would sort and hash 10^5 values for nothing: these are already sorted)
    return every if every[-1] == epochs else np.append(every, np.int64(epochs))


def train(
    p: Params,
    X,
    Y,
    *,
    lr=1.0,
    epochs: int = 5000,
    activation: Literal["sigmoid", "tanh", "relu"] = "sigmoid",
    loss: Literal["bce", "mse"] = "bce",
    momentum=0.0,
    record_every: int | None = None,
    target_error: float = 0.1,
    parallel: bool = True,
    device: Literal["cpu", "cuda"] = "cpu",
) -> TrainResult:
    r"""Train every network by full-batch gradient descent, all in compiled code.

    Epoch e = 0 .. epochs-1 evaluates the current parameters (the loss at
    epoch e), then steps::

        v = momentum * v - lr * g;  p += v          (v starts at 0)

    (momentum 0 is plain descent ``p -= lr * g``, bit for bit).  The final
    parameters are evaluated once more: the loss at epoch ``epochs``.

    Parameters
    ----------
    p : Params
        Initial parameters; not modified.
    X : array_like, shape (n_samples, n_inputs)
    Y : array_like, shape (n_samples,)
        Targets, 0 or 1.
    lr : float or array_like, shape (n_nets,)
        Learning rate(s), finite and >= 0.
    epochs : int
        Number of updates, >= 0.
    activation : {"sigmoid", "tanh", "relu"}
        Hidden activation (the output is always a sigmoid).
    loss : {"bce", "mse"}
        Mean binary cross-entropy or mean squared error.
    momentum : float or array_like, shape (n_nets,)
        Heavy-ball momentum in [0, 1).
    record_every : int or None
        Record the loss every k >= 1 epochs, plus the final epoch; None records nothing.
    target_error : float
        A network has converged at epoch e when every output is within this
        distance of its target; in (0, 0.5].  Checked at every epoch.
    parallel : bool
        Spread networks over ``numba.get_num_threads()`` threads (True), or run on
        the calling thread with the GIL released (False), for callers whose own
        workers own the cores.  Results are bitwise identical either way.
    device : {"cpu", "cuda"}
        Where to train: ``"cuda"`` runs one GPU thread per network (numba-cuda,
        ``pip install "xorsweep[cuda]"``); results agree with the CPU's to rounding
        (see ``kernels/_cuda.py``).  See :func:`cuda_available`.

    Returns
    -------
    TrainResult
        ``params``, ``loss``, ``outputs``, ``converged_epoch``, ``curve``,
        ``curve_epochs`` and ``outcome``.  Outcomes, checked in this order:
        ``diverged`` (a parameter, or the sum over samples of :math:`|z_2|`,
        which bounds the loss, became non-finite: the network stopped updating
        there and its loss reads NaN from that epoch on),
        ``converged`` (reached the criterion at some epoch), ``saturated`` (some
        final output within 0.1 of its wrong target), ``plateau`` (every output
        within 0.05 of 1/2), ``slow`` (every output on the right side of 1/2),
        ``stuck`` (otherwise).

    Raises
    ------
    ValueError
        On a wrong shape, non-finite input, out-of-range number or unknown name;
        the message names the argument and what it accepts.  Bad *training*
        (divergence) never raises: it is reported per network.

    Examples
    --------
    >>> X, Y = kernels.tasks.xor()
    >>> p = kernels.init_params(np.arange(1000))
    >>> r = kernels.train(p, X, Y, lr=1.0, epochs=2000)
    >>> r.converged_epoch.shape
    (1000,)
    """
    p = _check_params(p)
    act = check_choice("activation", activation, ACTIVATIONS)
    loss = check_choice("loss", loss, LOSSES)
    Xc, Yc = _check_data(X, Y, p, need_y=True)
    # validates both, and refuses a curve that cannot fit before allocating it
    _, _, n_recorded = _check_recording(epochs, record_every)
    _check_curve_memory(p.n_nets, n_recorded, p.dtype.itemsize)
    curve_epochs = record_epochs(epochs, record_every)
    epochs = int(epochs)
    target = check_number("target_error", target_error, low=0.0, high=0.5, low_open=True)
    check_bool("parallel", parallel)
    with np.errstate(over="ignore"):  # an lr beyond float32's range becomes inf: it diverges
        lr_arr = per_network("lr", lr, p.n_nets, p.dtype, low=0.0, high=math.inf)
    mom_arr = per_network("momentum", momentum, p.n_nets, p.dtype, low=0.0, high=1.0,
                          high_open=True)
    check_choice("device", device, DEVICES)
    work = Params(*(fresh_copy(a) for a in p.arrays()))
    if device == "cuda":
        curve, loss_out, outputs, conv, outcome = _run_cuda(
            work, Xc, Yc, act=act, loss=loss, lr=lr_arr, mom=mom_arr, epochs=epochs,
            curve_epochs=curve_epochs, target=target)
    else:
        _, curve, loss_out, outputs, conv, outcome = _run(
            MODE_TRAIN, work, Xc, Yc, act=act, loss=loss, lr=lr_arr, mom=mom_arr,
            epochs=epochs, curve_epochs=curve_epochs, target=target, parallel=parallel)
    return TrainResult(params=work, loss=loss_out, outputs=outputs, converged_epoch=conv,
                       curve=curve.T, curve_epochs=curve_epochs,
                       outcome=_OUTCOME_LABELS[outcome], outcome_code=outcome)
