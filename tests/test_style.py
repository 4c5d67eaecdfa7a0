"""Comments and docstrings say what is true now: no dates, clock times or diaries.

A measurement keeps its figure and its host ("on 2 Zen 3 cores, 64-lane blocks ran
1.05-1.22x faster than 32-lane ones"), not when it was taken; history belongs in
CHANGELOG.md.  Only comments (``tokenize``) and docstrings (``ast``) are scanned, so
code may still format dates and times.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DIRS = ("kernels", "sweeps", "analysis", "xorsweep", "tests", "benchmarks", "examples")

_MONTH = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
          r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?")
_YEAR = r"(?:19|20)\d\d"

#: What a comment or docstring must not contain, by what it is.
PATTERNS: dict[str, re.Pattern] = {
    "date": re.compile(r"\b" + _YEAR + r"[-/](?:0?[1-9]|1[0-2])[-/](?:0?[1-9]|[12]\d|3[01])\b"),
    "month and year": re.compile(rf"\b{_MONTH}\s+(?:\d{{1,2}}(?:st|nd|rd|th)?,?\s+)?{_YEAR}\b"),
    "day and month": re.compile(rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH}(?!\w)"),
    "month and day": re.compile(rf"\b{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?\b(?!\s*(?:[-:/x]|\d))"),
    # HH:MM (two-digit hour, so not a ratio like 1:10), not inside a slice or an address
    "clock time": re.compile(r"(?<![\w:.\[/])(?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d)?"
                             r"(?![\w\]:.])"),
    "clock time with zone": re.compile(r"\b(?:[01]?\d|2[0-3]):[0-5]\d\s*"
                                       r"(?:UTC|GMT|CET|CEST|[ap]\.?m\.?)(?!\w)", re.I),
    "diary": re.compile(r"\b(?:(?:last|to)night|(?:this|last|yesterday) (?:morning|afternoon|"
                        r"evening|night|week)|the (?:night|day|morning|evening) before|"
                        r"this session|(?:earlier|later) today|yesterday|today|"
                        r"previously|formerly|until recently|used to be)\b", re.I),
    "before and after": re.compile(r"\b(?:before|after|since|until) (?:the|those|these|this|that)"
                                   r" (?:change|fix|refactor|rewrite)s?\b", re.I),
    "was and now": re.compile(r"\bwas\s+(?:[^.;:]|\.\d){0,40}?\bnow\b"
                              r"|\bnow\b(?:[^.;:]|\.\d){0,60}?,\s*[\d.]+\s*\w*\s+before\b", re.I),
}


def _blocks(path: Path):
    """Yield ``(line, lines)`` for every docstring and run of comment lines in ``path``.

    ``lines`` are the text lines of one docstring, or of comments on consecutive lines
    (without their ``#``), so that a phrase broken across lines is still found.
    """
    source = path.read_text(encoding="utf-8")
    run: list[tuple[int, str]] = []
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type != tokenize.COMMENT:
            continue
        if run and tok.start[0] != run[-1][0] + 1:
            yield run[0][0], [text for _, text in run]
            run = []
        run.append((tok.start[0], tok.string.lstrip("#:")))
    if run:
        yield run[0][0], [text for _, text in run]
    for node in ast.walk(ast.parse(source, str(path))):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node, clean=False)
            if doc is not None:
                yield node.body[0].lineno, doc.splitlines()


def problems(text: str) -> list[tuple[str, int, str]]:
    """Return ``(pattern name, offset, match)`` for each pattern that ``text`` matches."""
    return [(name, m.start(), m.group(0)) for name, pattern in PATTERNS.items()
            if (m := pattern.search(text))]


def _found(path: Path, root: Path = ROOT) -> list[str]:
    found = []
    for start, lines in _blocks(path):
        text = " ".join(line.strip() for line in lines)
        for name, offset, match in problems(text):
            i = next(i for i in range(len(lines))
                     if len(" ".join(line.strip() for line in lines[:i + 1])) > offset)
            found.append(f"{path.relative_to(root)}:{start + i}: {name} {match!r}: "
                         f"{lines[i].strip()}")
    return found


def _files() -> list[Path]:
    return sorted(p for d in DIRS for p in (ROOT / d).rglob("*.py"))


@pytest.mark.parametrize("text", [
    "# measured 2026-12-01 on 2 Zen 3 cores",
    "(2026-12-01 evening, Zen 3)",
    "measured in Dec 2026",
    "on 1 December, 2 threads",
    "on Dec 1st, after the rebuild",
    "the run at 03:37 finished",
    "at 3:37 UTC",
    "at 9:41 pm",
    "ran last night",
    "as measured this session",
    "the night before it was slower",
    "(Before those changes 32 lanes measured faster)",
    "was 0.6 s, now 0.1 s",
    "now compiles in about 2 s, 6 s before",
    "until recently np.logspace did",
    "previously 32 lanes",
])
def test_history_is_found(text):
    assert problems(text)


@pytest.mark.parametrize("text", [
    "# On 2 Zen 3 cores (AVX2), 64-lane blocks ran 1.05-1.22x faster than 32-lane ones",
    "# a learning rate of 1:10 against the default",
    "# ratio 16:9, or 3:1",
    "# rows X[10:20] of the table",
    "# the scheduler at tcp://127.0.0.1:8786 or localhost:8786",
    "# 2**-55 (2**-25); 1e-9 relative after 1,000 epochs",
    "# may 2 workers share a node? no: one per core",
    "# March of the networks: May they converge",
    "# 65,536 networks over 3,051 epochs, 1.3-1.4 -> 4.0-5.1 M epochs/s",
    "# elapsed time as HH:MM:SS, e.g. 1:02:03",
    "# no longer overlap when the loop is too long",
    "# the sums are taken before the update",
])
def test_present_tense_passes(text):
    assert not problems(text)


def test_comments_and_docstrings_are_undated():
    found = [problem for path in _files() for problem in _found(path)]
    assert not found, "history in comments or docstrings (say what is true now):\n" + \
        "\n".join(found)


def test_a_phrase_across_comment_lines_is_found(tmp_path):
    path = tmp_path / "sample.py"
    path.write_text("x = 1  # the generated kernel now compiles in about 2 s,\n"
                    "# 6 s before\n\n\ndef f():\n    \"\"\"Measured\n\n    on 2026-12-01.\"\"\"\n")
    assert [f.split(": ")[0] for f in _found(path, tmp_path)] == ["sample.py:1", "sample.py:8"]


def test_every_directory_is_scanned():
    files = _files()
    for d in DIRS:
        assert any(p.parent.name == d or d in p.relative_to(ROOT).parts for p in files), d
    assert Path(__file__) in files
