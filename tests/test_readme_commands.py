"""The shell commands of the README and of docs/ work as printed: in order, in one shell, offline.

Which text is a command:

- every line of every ```bash (or ```sh, ```shell) block, a line ending in ``\\``
  continuing on the next, unless the line just before the block's fence is
  ``<!-- illustrative: REASON -->`` (an HTML comment, invisible on the rendered page:
  a command that needs a cluster, downloads from PyPI or runs for minutes);
- every inline code span that starts with ``xorsweep `` and is a whole command: no
  placeholder (an upper-case word such as ``SPEC`` or ``RUN_DIR``, ``...``, or
  alternatives ``a|b``), and not a bare reference such as ``xorsweep report`` that
  lacks a required argument.

They run verbatim, in document order, the README's first and then each page of
``docs/`` (by name), in one ``bash`` process (so the quick start's ``. .venv/bin/activate``
holds for everything after it, and the docs may use the run it made), in a copy of the
repository, and each must exit 0.  Mark a heavy command (a full benchmark, the gallery)
illustrative and show a small runnable one beside it.

The machine is offline, so ``python3`` is a shim: ``python3 -m venv DIR`` makes a venv
without pip that sees this test environment's packages (not xorsweep itself: links to
everything else in its site-packages, added with ``site.addsitedir`` by a ``.pth``
file), with a ``DIR/bin/pip`` that runs ``python -m pip``; ``pip install .`` then builds
and installs xorsweep into DIR with the setuptools installed here (no index, no build
isolation), and finds its dependencies installed.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))

FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```[ \t]*$", re.S | re.M)
ILLUSTRATIVE = re.compile(r"<!--\s*illustrative:\s*(.*?)\s*-->\s*$")
PLACEHOLDER = re.compile(r"^[A-Z][A-Z0-9_]*$|\.\.\.|\|")
SHELLS = ("bash", "sh", "shell")
MARK = "@@readme-command"


def _inline_command(span: str) -> str | None:
    """Return the span as a command line if it is a whole ``xorsweep`` command, else None."""
    from xorsweep.cli import build_parser

    words = span.split()
    if len(words) < 2 or words[0] != "xorsweep":
        return None
    try:
        args = shlex.split(" ".join(words))
    except ValueError:
        return None
    if any(PLACEHOLDER.search(w) for w in args):
        return None
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            build_parser().parse_args(args[1:])
        except SystemExit:
            pass
    if "the following arguments are required" in err.getvalue():
        return None  # a reference to the command ("`xorsweep report` writes ..."), not a call
    return " ".join(words)


def _block_lines(code: str) -> list[str]:
    """Logical command lines of a shell block: continuations joined, blanks and comments out."""
    lines, current = [], ""
    for line in code.splitlines():
        current += line
        if current.endswith("\\"):
            current = current[:-1]  # as bash reads it: backslash-newline vanishes
            continue
        if current.strip() and not current.lstrip().startswith("#"):
            lines.append(current)
        current = ""
    return lines


def readme_commands(text: str) -> list[tuple[str, str | None]]:
    """Return ``(command, reason)`` in document order; reason is None for commands run."""
    out: list[tuple[str, str | None]] = []

    def prose(chunk: str) -> None:
        for span in re.findall(r"(?<!`)`([^`]+)`(?!`)", chunk):
            command = _inline_command(span)
            if command:
                out.append((command, None))

    pos = 0
    for m in FENCE.finditer(text):
        before = text[pos:m.start()]
        prose(before)
        pos = m.end()
        if m.group(1).strip() not in SHELLS:
            continue
        previous = before.rstrip("\n").rsplit("\n", 1)[-1]
        marked = ILLUSTRATIVE.search(previous)
        reason = marked.group(1) if marked else None
        out += [(line, reason) for line in _block_lines(m.group(2))]
    prose(text[pos:])
    return out


def _deps_dir(tmp: Path) -> Path:
    """A directory of links to this environment's installed packages, xorsweep's left out."""
    deps = tmp / "deps"
    deps.mkdir()
    for sp in site.getsitepackages():
        for entry in sorted(Path(sp).iterdir()):
            if "xorsweep" in entry.name.lower() or entry.name == "__pycache__":
                continue
            link = deps / entry.name
            if not link.exists():
                link.symlink_to(entry)
    return deps


PYTHON3_SHIM = r"""#!/bin/sh
# python3 for tests/test_readme_commands.py: `python3 -m venv DIR` makes an offline venv
if [ "$#" -eq 3 ] && [ "$1" = "-m" ] && [ "$2" = "venv" ]; then
    "{real}" -m venv --without-pip "$3" || exit
    purelib=$("$3/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
    echo "import site; site.addsitedir('{deps}')" > "$purelib/_readme_test_deps.pth"
    printf '#!/bin/sh\nexec "$(dirname "$0")/python" -m pip "$@"\n' > "$3/bin/pip"
    chmod +x "$3/bin/pip"
    exit 0
fi
exec "{real}" "$@"
"""


def _shell_env(tmp: Path) -> dict[str, str]:
    """The test shell's environment: the python3 shim first, offline pip, no xorsweep on PATH."""
    shim = tmp / "shim"
    shim.mkdir()
    (shim / "python3").write_text(PYTHON3_SHIM.format(real=sys.executable, deps=_deps_dir(tmp)))
    (shim / "python3").chmod(0o755)
    # no directory with an xorsweep, nor another venv's bin: the README must provide them
    path = [str(shim)] + [d for d in os.environ.get("PATH", "").split(os.pathsep)
                          if d and not (Path(d) / "xorsweep").exists()
                          and not (Path(d) / "activate").exists()]
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PIP_") and k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    # pip reads PIP_NO_BUILD_ISOLATION into build_isolation: "0" turns isolation off
    env.update(PATH=os.pathsep.join(path), PIP_CONFIG_FILE=os.devnull, PIP_NO_INDEX="1",
               PIP_NO_BUILD_ISOLATION="0", PIP_DISABLE_PIP_VERSION_CHECK="1",
               PIP_ROOT_USER_ACTION="ignore", PIP_NO_INPUT="1")
    return env


def _copy_repository(dest: Path) -> Path:
    ignore = shutil.ignore_patterns(".git", ".venv", "runs", "build", "dist", "__pycache__",
                                    ".pytest_cache", ".ruff_cache", "*.egg-info")
    return Path(shutil.copytree(ROOT, dest, ignore=ignore, symlinks=True))


def test_quick_start_is_two_commands():
    section = README.read_text().split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = [code for lang, code in FENCE.findall(section) if lang.strip() == "bash"]
    assert [len(_block_lines(b)) for b in blocks] == [1, 1]
    setup, tests = (_block_lines(b)[0] for b in blocks)
    assert setup.startswith("python3 -m venv .venv && ")
    assert "xorsweep run quickstart" in setup
    assert tests == "bash .ci/run"


def test_command_extraction_rule():
    text = """
`xorsweep status runs/x` and `xorsweep specs` run; `xorsweep report` and
`xorsweep run SPEC --jobs N` and `xorsweep run ... --force` are references.

```bash
echo one && \\
  echo two   # a comment
# a comment line
```

<!-- illustrative: needs a cluster -->
```bash
dask scheduler
```

```python
print("not shell")
```
"""
    assert readme_commands(text) == [
        ("xorsweep status runs/x", None), ("xorsweep specs", None),
        ("echo one &&   echo two   # a comment", None),
        ("dask scheduler", "needs a cluster"),
    ]


def test_readme_commands_run_as_printed(tmp_path):
    from importlib.metadata import version

    setuptools = version("setuptools")
    assert tuple(int(x) for x in setuptools.split(".")[:2]) >= (70, 1), (
        f"setuptools {setuptools} cannot build a wheel without the `wheel` package; "
        "run `bash .ci/run` (the test extra needs setuptools>=70.1)")
    commands = readme_commands(README.read_text())
    run = [c for c, reason in commands if reason is None]
    assert run, "the README has no command to run"
    sources = {c: "README.md" for c in run}
    for page in DOCS:
        more = [c for c, reason in readme_commands(page.read_text()) if reason is None]
        sources.update({c: f"docs/{page.name}" for c in more if c not in sources})
        run += more
    assert "xorsweep run quickstart" in run[0], "the quick start runs first"
    assert "xorsweep status runs/quickstart" in run
    assert "bash .ci/run" not in run, "mark the block <!-- illustrative: ... -->: it runs pytest"

    repo = _copy_repository(tmp_path / "repo")
    script = ["cd " + shlex.quote(str(repo))]
    for i, command in enumerate(run):  # markers start a line whatever the output ended with
        script += [f"printf '\\n{MARK} {i}\\n'", command,
                   f"rc=$?; printf '\\n{MARK} exit %d\\n' $rc; [ $rc -eq 0 ] || exit $rc"]
    try:
        proc = subprocess.run(["bash", "-c", "\n".join(script) + "\n"], cwd=tmp_path,
                              env=_shell_env(tmp_path), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=300)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the README's and docs' commands took over {exc.timeout} s; mark a long "
                    "block <!-- illustrative: REASON --> or write its command with a placeholder")
    outputs: dict[int, str] = {}
    exits: dict[int, int] = {}
    current = None
    for line in proc.stdout.splitlines(keepends=True):
        if line.startswith(MARK):
            words = line.split()[1:]
            if words[0] == "exit":
                exits[current] = int(words[1])
            else:
                current = int(words[0])
                outputs[current] = ""
        elif current is not None:
            outputs[current] += line
    for i, command in enumerate(run):
        assert exits.get(i) == 0, (f"{sources[command]} command {command!r} failed "
                                   f"(exit {exits.get(i)}):\n{outputs.get(i, proc.stdout)[-3000:]}")

    def output(command: str) -> str:
        return "".join(outputs[i] for i, c in enumerate(run) if c == command)

    quick = output(run[0])  # the README: sweeps 8,800 networks and writes the report
    assert "8,800 networks" in quick
    assert "runs/quickstart/report/index.html" in quick
    assert (repo / "runs" / "quickstart" / "report" / "index.html").is_file()
    assert (repo / ".venv" / "bin" / "xorsweep").is_file()  # installed there, from the copy
    assert list((repo / ".venv" / "lib").glob("python3*/site-packages/xorsweep/cli.py"))
    status = output("xorsweep status runs/quickstart")  # describes the run, finished
    assert re.search(r"networks\s+8,800 of 8,800", status)
    assert re.search(r"state\s+complete", status)
    if "xorsweep specs" in run:
        import sweeps

        listing = output("xorsweep specs")
        assert all(name in listing for name in sweeps.bundled_specs())


def test_heavy_commands_are_illustrative():
    """The full benchmark and the gallery take minutes: shown, not run, with a reason."""
    shown = [(c, reason) for page in (README, *DOCS) for c, reason in
             readme_commands(page.read_text())]
    heavy = [(c, reason) for c, reason in shown
             if "benchmarks/bench_" in c or "examples/gallery.py" in c]
    assert any("benchmarks/bench_kernels.py" in c for c, _ in heavy), \
        "the README's performance table names the command that makes it"
    assert all(reason for _, reason in heavy), [c for c, reason in heavy if not reason]
