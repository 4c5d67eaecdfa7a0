"""Processes the runner starts do not outlive it: compilers of a killed driver exit too."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").is_file(),
                                reason="reads the process table from /proc")

# kernels that are not cached (an empty cache directory), compiled in two spawned processes
DRIVER = """
from sweeps import warmup
variants = [("xor", 2, "sigmoid", "bce"), ("xor", 3, "tanh", "mse"),
            ("xor", 4, "relu", "bce"), ("xor", 5, "sigmoid", "mse")]
warmup._warm_in_processes("float64", variants, 2, [7])
"""


def _stat(pid: int) -> tuple[int, int] | None:
    """Return (parent pid, start time) of a live process, or None once it has exited."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] in "ZX" else (int(fields[1]), int(fields[19]))


def _children(pid: int) -> dict[int, int]:
    """Return the live children of ``pid``: pid -> start time."""
    stats = {int(d): _stat(int(d)) for d in os.listdir("/proc") if d.isdigit()}
    return {c: st[1] for c, st in stats.items() if st is not None and st[0] == pid}


def _alive(children: dict[int, int]) -> list[int]:
    """Return the ``children`` still running (the same processes, not reused pids)."""
    return [c for c, start in children.items() if (st := _stat(c)) and st[1] == start]


def test_killed_driver_leaves_no_compiler_behind(tmp_path):
    env = dict(os.environ, XORSWEEP_CACHE_DIR=str(tmp_path / "gen"),
               NUMBA_CACHE_DIR=str(tmp_path / "numba"))
    driver = subprocess.Popen([sys.executable, "-c", DRIVER], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    children: dict[int, int] = {}
    try:
        deadline = time.monotonic() + 60
        # the two compilers (and multiprocessing's resource tracker)
        while len(children := _children(driver.pid)) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(children) == 3, "the compilers did not start"
        time.sleep(1.0)  # importing the kernels, then compiling
        assert driver.poll() is None, "the compilers finished before the driver was killed"
        driver.send_signal(signal.SIGKILL)
        driver.wait()
        deadline = time.monotonic() + 20
        while _alive(children) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _alive(children) == []
    finally:
        driver.kill()
        driver.wait()
        for child in _alive(children):
            os.kill(child, signal.SIGKILL)


def test_the_compilers_a_sweep_starts_do_not_run_the_callers_script(tmp_path):
    # spawned processes import __main__ by its file unless it is hidden: a script
    # without an `if __name__ == "__main__"` guard would run once per compiler
    script = tmp_path / "t.py"
    script.write_text("print('top-level code ran')\n"
                      "from sweeps.warmup import _warm_in_processes\n"
                      "variants = [('xor', 2, 'sigmoid', 'bce')] * 2\n"
                      "print('compiled', _warm_in_processes('float64', variants, 2))\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("top-level code ran") == 1, done.stdout
    assert "compiled 2" in done.stdout
    assert "failed" not in done.stderr
