from __future__ import annotations

import subprocess
import sys

from sweeps.cli import main


def test_help_without_arguments(capsys):
    assert main([]) == 0
    assert "usage: xorsweep" in capsys.readouterr().out


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("xorsweep 0.1.0")


def test_unknown_option_is_a_usage_error(capsys):
    assert main(["--frobnicate"]) == 2
    assert "unrecognized arguments" in capsys.readouterr().err


def test_console_script_module():
    out = subprocess.run([sys.executable, "-m", "sweeps.cli", "--help"], capture_output=True,
                         text=True, check=True).stdout
    assert "xorsweep" in out
