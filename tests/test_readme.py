"""The README's Python examples run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import kernels

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_examples():
    assert BLOCKS


@pytest.mark.parametrize("code", BLOCKS)
def test_readme_example_runs(code, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(code, str(README), "exec"), {})
    out = capsys.readouterr().out
    assert "converged" in out
    assert not re.search(r"\bnp\.\w+\(", out), f"NumPy 2 scalar reprs in the output:\n{out}"


def test_quick_start_demo_runs(capsys):
    import runpy

    runpy.run_path(str(README.parent / "examples" / "xor_demo.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "trained 10,000 XOR networks" in out
    assert re.search(r"converged: [\d,]+ of 10,000 = \d+\.\d%", out)


def test_readme_spec_example_is_a_valid_spec_with_every_key():
    import tomllib

    import sweeps
    from sweeps.spec import _TOP_KEYS, AXES

    toml, *_ = re.findall(r"```toml\n(.*?)```", README.read_text(), flags=re.S)
    data = tomllib.loads(toml)
    assert set(data) == set(_TOP_KEYS)  # every key the validator accepts
    assert set(data["grid"]) | {"task"} == set(AXES)  # one task: the top-level key
    spec = sweeps.load_spec(data)
    assert spec.n_cells == 11 * 16
    default = sweeps.load_spec({"name": data["name"]})
    for key in set(_TOP_KEYS) - {"name", "task", "grid"}:  # each shown with its default
        assert data[key] == getattr(default, key), key
    assert (data["task"],) == default.grid["task"]
    for axis, values in data["grid"].items():
        if isinstance(values, list):  # lr and init_scale show a range, the default beside it
            assert tuple(values) == default.grid[axis], axis


def test_quick_start_sweep_runs(tmp_path, capsys):
    from sweeps.cli import main

    assert "xorsweep run quickstart" in README.read_text()
    assert main(["run", "quickstart", "--out", str(tmp_path), "--quiet"]) == 0
    assert "8,800 networks" in capsys.readouterr().out
    assert main(["status", str(tmp_path / "quickstart")]) == 0
    assert "complete" in capsys.readouterr().out
    assert "xorsweep report runs/quickstart" in README.read_text()
    assert main(["report", str(tmp_path / "quickstart")]) == 0
    assert "index.html" in capsys.readouterr().out
    page = (tmp_path / "quickstart" / "report" / "index.html").read_text()
    assert "8,800" in page
    assert page.count("data:image/png;base64,") == 6


def test_readme_slice_example_is_a_valid_slice_spec():
    import tomllib

    import sweeps

    _, toml = re.findall(r"```toml\n(.*?)```", README.read_text(), flags=re.S)
    spec = sweeps.load_spec(tomllib.loads(toml))
    assert spec.param_axes == ("W1[0,1]", "W2[1]")
    assert spec.n_cells == 200 * 200
    assert spec.target_error == 0.5
    # the base point names every other parameter: nothing is drawn from the seed
    assert set(spec.init_values) | set(spec.param_axes) == set(kernels.param_names(2, 2))
