"""The README's and docs/'s Python examples and specs work as written; the README stays short.

Every ```python block of ``README.md`` and of ``docs/*.md`` runs, in a fresh namespace,
in a temporary directory.  ``tests/test_readme_commands.py`` runs their shell commands.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import kernels

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS]
BLOCK = re.compile(r"```python\n(.*?)```", flags=re.S)
BLOCKS = BLOCK.findall(README.read_text())
DOC_BLOCKS = [pytest.param(page, code, id=f"{page.name}-{i}")
              for page in DOCS for i, code in enumerate(BLOCK.findall(page.read_text()))]

#: At most this many lines: the README is read in five minutes; depth lives in docs/.
README_MAX_LINES = 300
#: A clock time (hours and minutes), a time zone, a calendar date, or an issue number: the
#: docs say what is true now, undated; history is CHANGELOG.md's.
DATED = re.compile(r"(?<![\w.:/])\d{1,2}:\d{2}(?![\w:])|\bUTC\b|\b\d{4}-\d{2}-\d{2}\b"
                   r"|\b(?:last|the) night\b|\bissue #\d+|\(#\d+\)")


def _toml_blocks(page: Path) -> list[str]:
    return re.findall(r"```toml\n(.*?)```", page.read_text(), flags=re.S)


def test_readme_has_examples():
    assert BLOCKS
    assert DOC_BLOCKS


def test_readme_is_short():
    n = len(README.read_text().splitlines())
    assert n <= README_MAX_LINES, f"README.md has {n} lines; move depth into docs/"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_docs_are_undated(page):
    found = [m.group(0) for m in DATED.finditer(page.read_text())]
    assert not found, f"{page.name}: timestamps, dates or issue numbers {found}; see CHANGELOG.md"


def test_undated_rule():
    for dated in ("at 03:37 UTC", "on 2026-12-02", "(14:50)", "the night before",
                  "targets of issue #3", "(#22)"):
        assert DATED.search(dated), dated
    for fine in ("tcp://10.0.0.5:8786", "1.08-1.16x", "2**32", "W1[0,1]", "(N, S)"):
        assert not DATED.search(fine), fine


def test_docs_links_resolve():
    for page in PAGES:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" not in target:
                assert (page.parent / target).exists(), f"{page.name}: broken link {target}"


@pytest.mark.parametrize("code", BLOCKS)
def test_readme_example_runs(code, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(code, str(README), "exec"), {})
    out = capsys.readouterr().out
    assert "converged" in out
    assert not re.search(r"\bnp\.\w+\(", out), f"NumPy 2 scalar reprs in the output:\n{out}"


@pytest.mark.parametrize(("page", "code"), DOC_BLOCKS)
def test_docs_example_runs(page, code, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(code, str(page), "exec"), {})
    out = capsys.readouterr().out
    assert out.strip(), "an example shows what it did"
    assert not re.search(r"\bnp\.\w+\(", out), f"NumPy 2 scalar reprs in the output:\n{out}"


def test_quick_start_demo_runs(capsys):
    import runpy

    runpy.run_path(str(ROOT / "examples" / "xor_demo.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "trained 10,000 XOR networks" in out
    assert re.search(r"converged: [\d,]+ of 10,000 = \d+\.\d%", out)


def test_readme_spec_example_is_a_valid_spec_with_every_key():
    import tomllib

    import sweeps
    from sweeps.spec import _TOP_KEYS, AXES

    toml, *_ = _toml_blocks(README)
    data = tomllib.loads(toml)
    # every key the validator accepts; [sample] replaces grid axes and [refine] refines a
    # slice, so the text shows them, and `xorsweep zoom` writes [zoom]
    assert set(data) | {"sample", "refine", "zoom"} == set(_TOP_KEYS)
    assert '`[sample] method = "sobol"`' in README.read_text()
    assert "`[refine] levels = 3`" in README.read_text()
    assert "`xorsweep zoom`" in README.read_text()
    assert set(data["grid"]) | {"task"} == set(AXES)  # one task: the top-level key
    spec = sweeps.load_spec(data)
    assert spec.n_cells == 11 * 16
    default = sweeps.load_spec({"name": data["name"]})
    for key in set(_TOP_KEYS) - {"name", "task", "grid", "sample", "refine", "zoom"}:
        assert data[key] == getattr(default, key), key
    assert (data["task"],) == default.grid["task"]
    for axis, values in data["grid"].items():
        if isinstance(values, list):  # lr and init_scale show a range, the default beside it
            assert tuple(values) == default.grid[axis], axis


def test_quick_start_sweep_runs(tmp_path, capsys):
    from xorsweep.cli import main

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


def test_docs_slice_example_is_a_valid_slice_spec():
    import tomllib

    import sweeps

    (toml,) = [t for t in _toml_blocks(ROOT / "docs" / "sweeps.md") if "[init_values]" in t]
    spec = sweeps.load_spec(tomllib.loads(toml))
    assert spec.param_axes == ("W1[0,1]", "W2[1]")
    assert spec.n_cells == 200 * 200
    assert spec.target_error == 0.5
    # the base point names every other parameter: nothing is drawn from the seed
    assert set(spec.init_values) | set(spec.param_axes) == set(kernels.param_names(2, 2))
    # it is the bundled study, as the page says
    bundled = sweeps.load_spec("kolen-pollack-slice")
    assert (bundled.init_values, bundled.param_axes) == (spec.init_values, spec.param_axes)


def test_every_toml_block_is_a_valid_spec():
    import tomllib

    import sweeps

    for page in PAGES:
        for toml in _toml_blocks(page):
            sweeps.load_spec(tomllib.loads(toml))
