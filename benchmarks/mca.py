"""Cycles of the generated XOR kernel's lane loops on other CPUs, from llvm-mca.

A host runs its own ISA only; this script compiles the kernel for another CPU and
asks LLVM's machine-code analyzer how fast its loops would run there.  For each
target CPU, in a fresh process (``NUMBA_CPU_NAME`` set to the target and
``NUMBA_CPU_FEATURES`` empty, so LLVM takes that CPU's own features and tuning, and
a private cache directory), numba compiles the generated kernel for XOR (2-2-1,
sigmoid, BCE, no momentum, inputs built in) with the block width ``kernels.config``
would choose on that CPU (128 float32 lanes where it has AVX-512, else 64), and
writes its assembly.  Every loop of ``_sweep`` whose body is one basic block (the
lane loops: each iteration computes one SIMD vector of networks) goes to
``llvm-mca -mcpu=TARGET``: cycles per iteration over 200 simulated iterations, the
block's reciprocal throughput (the bound from its execution resources alone, every
operation spread over all the pipes that can take it), and the busiest pipe with the
cycles per iteration it was kept busy in the simulation, where operations went to
the pipes that the core's scheduler chose (a tighter bound: on Zen 4 a 512-bit
operation holds a 256-bit pipe for two cycles, and divisions, compares, blends and
max share the two multiply pipes).
The loops that run every epoch are all but the last (the loss, on recording epochs
only); a network-epoch costs the sum of their cycles per iteration divided by the
lanes of a vector.  The block loop's own bookkeeping (counting live lanes, the
epoch counter) is left out: about 1.5% of a run.

The same for ``benchmarks/ceiling.py``'s ceiling: its mix of the kernel's arithmetic
(each of its shapes, compiled for the target in a fresh process) goes to llvm-mca,
the longest single-block loop of each, and the fastest is the ceiling's cycles per
network-epoch there; "% of ceiling" is that against the kernel's: the share
``bench_kernels.py`` would print on that core, as the model sees it.

llvm-mca models the core's pipes, latencies and reorder buffer, not caches, the
front end beyond its width, or frequency: read its figures as ratios between
targets and dtypes, and compare with the host's measured speed on the host's own
target.  Needs llvm-mca (Debian: ``apt-get install llvm-19``).

    python benchmarks/mca.py                                 # znver3, znver4; both dtypes
    python benchmarks/mca.py --cpu skylake-avx512 --dtype float32
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

#: CPUs with AVX-512F, for the block width ``kernels.config`` picks on them.
AVX512 = {"znver4", "znver5", "skylake-avx512", "cascadelake", "icelake-server",
          "sapphirerapids", "emeraldrapids", "graniterapids", "tigerlake", "rocketlake"}
ITERATIONS = 200

_DUMP = """
import sys
import numpy as np
import kernels
from kernels import _codegen
dtype, lanes, out = np.dtype(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
X, _ = kernels.tasks.xor()
module = _codegen.unrolled(4, 2, 2, 0, 0, lanes=lanes, dtype=dtype,
                           inputs=_codegen.input_pattern(X), momentum=False)
open(out, "w").write(module.make_entry(False)._library.get_asm_str())
"""


def lanes_for(cpu: str, dtype: str) -> int:
    """Return the block width ``kernels.config`` chooses on ``cpu`` for ``dtype``."""
    return 128 if dtype == "float32" and cpu in AVX512 else 64


def assembly(cpu: str, dtype: str, lanes: int) -> str:
    """Compile the kernel for ``cpu`` in a fresh process; return its assembly."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "NUMBA_CPU_NAME": cpu, "NUMBA_CPU_FEATURES": "",
               "XORSWEEP_CACHE_DIR": str(Path(tmp) / "cache")}
        out = Path(tmp) / "kernel.s"
        subprocess.run([sys.executable, "-c", _DUMP, dtype, str(lanes), str(out)], env=env,
                       check=True)
        return out.read_text()


_DUMP_MIX = """
import importlib.util, sys
import numpy as np
dtype, lanes, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
spec = importlib.util.spec_from_file_location("ceiling", sys.argv[4])
ceiling = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ceiling)
for k, shape in enumerate(ceiling.MIX_SHAPES):
    loop = ceiling._compile("mix", dtype, 2, shape, lanes)
    loop.fn(np.ones(loop.rows * loop.lanes, dtype), 1, *ceiling.constants("mix", dtype))
    open(f"{out}.{k}", "w").write(next(iter(loop.fn.inspect_asm().values())))
"""


def mix_assembly(cpu: str, dtype: str, lanes: int) -> list[str]:
    """Compile ``benchmarks/ceiling.py``'s mix for ``cpu``; return its assembly, by shape."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "NUMBA_CPU_NAME": cpu, "NUMBA_CPU_FEATURES": "",
               "XORSWEEP_CACHE_DIR": str(Path(tmp) / "cache")}
        out = Path(tmp) / "mix.s"
        subprocess.run([sys.executable, "-c", _DUMP_MIX, dtype, str(lanes), str(out),
                        str(Path(__file__).with_name("ceiling.py"))], env=env, check=True)
        return [p.read_text() for p in sorted(Path(tmp).glob("mix.s.*"))]


def longest_loop(asm: str) -> list[str]:
    """Return the longest single-block loop of ``asm``, as instructions (the mix's lane loop)."""
    return max((body for _, body in _loops(asm)), key=len)


def vector_lanes(body: list[str], dtype: str) -> int:
    """Return the lanes of the widest vectors in ``body``: networks per loop iteration."""
    text = "\n".join(body)
    bits = 512 if "zmm" in text else 256 if "ymm" in text else 128
    return bits // (32 if dtype == "float32" else 64)


def _loops(asm: str):
    """Yield ``(function, instructions)`` for each single-block loop of ``asm``, in order."""
    block, name, function = None, None, None
    for line in asm.splitlines():
        label = re.match(r"^([\w.$]+):", line)
        if label:
            if not label.group(1).startswith("."):  # a function's symbol
                function = label.group(1)
            name, block = label.group(1), []
            continue
        text = line.split("#")[0].strip()
        if block is None or not text or text.startswith("."):
            continue
        block.append(text)
        if re.fullmatch(r"j\w+\s+" + re.escape(name), text):  # jumps back to its own start
            yield function, block
            block = None


def sweep_loops(asm: str) -> list[list[str]]:
    """Return the single-block loops of the ``_sweep`` function, in order, as instructions."""
    return [body for function, body in _loops(asm) if function and "_sweepB" in function]


def mca(body: list[str], cpu: str, tool: str) -> tuple[float, float, str, float]:
    """Return llvm-mca's cycles per iteration, the block's reciprocal throughput, and the
    busiest pipe with its cycles per iteration (as the simulation assigned the operations).
    """
    report = subprocess.run([tool, f"-mcpu={cpu}", f"-iterations={ITERATIONS}",
                             "-resource-pressure"],
                            input="\n".join(body), capture_output=True, text=True,
                            check=True).stdout
    total = int(re.search(r"Total Cycles:\s+(\d+)", report).group(1))
    rthroughput = float(re.search(r"Block RThroughput:\s+([\d.]+)", report).group(1))
    pipe, busy = busiest_pipe(report)
    return total / ITERATIONS, rthroughput, pipe, busy


def busiest_pipe(report: str) -> tuple[str, float]:
    """Return the resource with the most cycles per iteration in llvm-mca's pressure table."""
    names = re.findall(r"^\[\d+(?:\.\d+)?\]\s+-\s+(\S+)", report, flags=re.MULTILINE)
    lines = report[report.index("Resource pressure per iteration:"):].splitlines()
    values = [0.0 if v == "-" else float(v) for v in lines[2].split()]
    k = max(range(len(values)), key=values.__getitem__)
    return names[k], values[k]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cpu", nargs="+", default=["znver3", "znver4"])
    ap.add_argument("--dtype", nargs="+", default=["float32", "float64"])
    ap.add_argument("--mca", default=None, help="the llvm-mca to run (default: the newest)")
    args = ap.parse_args(argv)
    tool = args.mca or next((t for t in ("llvm-mca-19", "llvm-mca-18", "llvm-mca")
                             if shutil.which(t)), None)
    if tool is None:
        sys.exit("mca.py: llvm-mca not found; install LLVM (Debian: apt-get install llvm-19)")
    print(f"# llvm-mca: {tool}; XOR 2-2-1, sigmoid, BCE, no momentum")
    print("| target | dtype | lanes | vector | loop | instructions | cycles / iteration "
          "| resource bound | busiest pipe |")
    print("|---|---|---|---|---|---|---|---|---|")
    totals = []
    for cpu in args.cpu:
        for dtype in args.dtype:
            lanes = lanes_for(cpu, dtype)
            loops = sweep_loops(assembly(cpu, dtype, lanes))
            per_epoch, bound, piped = 0.0, 0.0, 0.0
            for k, body in enumerate(loops):
                width = vector_lanes(body, dtype)
                bits = width * (32 if dtype == "float32" else 64)
                cycles, rthroughput, pipe, busy = mca(body, cpu, tool)
                kind = "loss (recording epochs)" if k == len(loops) - 1 else f"epoch {k + 1}"
                print(f"| {cpu} | {dtype} | {lanes} | {bits}-bit | {kind} | {len(body)} "
                      f"| {cycles:.1f} | {rthroughput:.1f} | {pipe} {busy:.0f} |")
                if k < len(loops) - 1:
                    per_epoch += cycles / width
                    bound += rthroughput / width
                    piped += busy / width
            mix = min(mca(body, cpu, tool)[0] / vector_lanes(body, dtype)
                      for body in map(longest_loop, mix_assembly(cpu, dtype, lanes)))
            totals.append((cpu, dtype, per_epoch, bound, piped, mix))
    print("\n| target | dtype | cycles / network-epoch | resource bound | busiest-pipe bound "
          "| M network-epochs/s per core per GHz | ceiling's mix | % of ceiling |")
    print("|---|---|---|---|---|---|---|---|")
    for cpu, dtype, per_epoch, bound, piped, mix in totals:
        print(f"| {cpu} | {dtype} | {per_epoch:.1f} | {bound:.1f} | {piped:.1f} "
              f"| {1e3 / per_epoch:.1f} | {mix:.1f} | {mix / per_epoch:.0%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
