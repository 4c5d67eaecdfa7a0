"""The README's Python examples run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_examples():
    assert BLOCKS


@pytest.mark.parametrize("code", BLOCKS)
def test_readme_example_runs(code, capsys):
    exec(compile(code, str(README), "exec"), {})
    assert "converged" in capsys.readouterr().out


def test_quick_start_demo_runs(capsys):
    import runpy

    runpy.run_path(str(README.parent / "examples" / "xor_demo.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "trained 10,000 XOR networks" in out
    assert re.search(r"converged: [\d,]+ of 10,000 = \d+\.\d%", out)
