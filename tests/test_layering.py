"""The module map: no import cycles, layers import downward only, no private names shared.

The graph is read from the source with ``ast`` (nothing is imported): every
``import`` and ``from ... import`` of a project module counts, at module level or
inside a function, with relative imports resolved.  ``from pkg import name`` is an
edge to ``pkg.name`` when that is a module, else to ``pkg`` itself.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: The layers, bottom first: each may import only the ones before it.
LAYERS = ("kernels", "sweeps", "analysis", "xorsweep")


def _packages() -> list[str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return data["tool"]["setuptools"]["packages"]


def _modules() -> dict[str, Path]:
    """Return every module of the project's packages: dotted name -> file."""
    out = {}
    for package in _packages():
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


MODULES = _modules()


def _base(module: str, path: Path, node: ast.ImportFrom) -> str:
    """Return the absolute module a ``from ... import`` reads from."""
    if not node.level:
        return node.module or ""
    parts = module.split(".")
    if path.name != "__init__.py":
        parts.pop()  # a module's relative imports start from its package
    parts = parts[:len(parts) - (node.level - 1)]
    return ".".join(parts + ([node.module] if node.module else []))


def _owner(name: str) -> str | None:
    """Return the longest project module that ``name`` lies in, or None."""
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        if ".".join(parts[:i]) in MODULES:
            return ".".join(parts[:i])
    return None


def _imports(module: str) -> list[tuple[str, str, int]]:
    """Return ``(imported module, name imported from it or "", line)`` for each import."""
    path = MODULES[module]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            out += [(a.name, "", node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _base(module, path, node)
            for a in node.names:
                full = f"{base}.{a.name}"
                out.append((full, "", node.lineno) if full in MODULES
                           else (base, a.name, node.lineno))
    return out


def _graph() -> dict[str, set[str]]:
    graph = {}
    for module in MODULES:
        deps = {_owner(name) for name, _, _ in _imports(module)}
        graph[module] = {d for d in deps if d is not None}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Return the strongly connected components of more than one module, and self-imports."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph[v]:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _cycle_path(graph: dict[str, set[str]], component: list[str]) -> str:
    """Return one cycle through a component's first module, as ``a -> b -> a``."""
    start, members = component[0], set(component)
    paths = {start: [start]}
    todo = [start]
    while todo:
        v = todo.pop(0)
        for w in sorted(graph[v] & members):
            if w == start:
                return " -> ".join([*paths[v], start])
            if w not in paths:
                paths[w] = [*paths[v], w]
                todo.append(w)
    return start


def test_the_graph_sees_the_project():
    graph = _graph()
    assert set(LAYERS) <= set(_packages())
    assert {"kernels.training", "sweeps.runner", "analysis.report", "xorsweep.cli"} <= set(graph)
    assert "sweeps.store" in graph["analysis.tables"]  # a module-level absolute import
    assert "kernels._cpu" in graph["kernels.training"]  # a relative one inside a function
    assert "sweeps.warmup" in graph["sweeps.cluster"]


def test_cycle_finder_finds_cycles():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"d"}, "e": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"], ["d"]]
    assert _cycle_path(graph, ["a", "b", "c"]) == "a -> b -> c -> a"
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles():
    graph = _graph()
    cycles = [_cycle_path(graph, c) for c in _cycles(graph)]
    assert cycles == [], "import cycles: " + "; ".join(cycles)


def test_layers_import_only_the_layers_below():
    bad = []
    for module in MODULES:
        layer = LAYERS.index(module.split(".")[0])
        for name, _, line in _imports(module):
            target = _owner(name)
            if target and LAYERS.index(target.split(".")[0]) > layer:
                bad.append(f"{module}:{line} imports {target}")
    assert bad == []


def test_analysis_reads_the_store_alone():
    # analysis needs neither the kernels (numba) nor the service's internals
    bad = [f"{module}:{line} imports {_owner(name)}"
           for module in MODULES if module.split(".")[0] == "analysis"
           for name, _, line in _imports(module)
           if (_owner(name) or "analysis").split(".")[0] != "analysis"
           and _owner(name) != "sweeps.store"]
    assert bad == []


def test_only_the_kernels_import_numba():
    bad = [f"{module}:{line} imports {name}" for module in MODULES
           if module.split(".")[0] != "kernels"
           for name, _, line in _imports(module) if name.split(".")[0] == "numba"]
    assert bad == []


#: Private names still shared, each to be promoted by its module's owner: an entry
#: fails here once its use is gone, so the list only shrinks.
STILL_SHARED: set[str] = set()


def test_no_private_names_across_modules():
    bad = []
    for module, path in MODULES.items():
        bound = {}  # local name -> the project module it stands for
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.name in MODULES:
                        bound[a.asname or a.name.split(".")[0]] = (
                            a.name if a.asname else a.name.split(".")[0])
            elif isinstance(node, ast.ImportFrom):
                base = _base(module, path, node)
                for a in node.names:
                    if f"{base}.{a.name}" in MODULES:
                        bound[a.asname or a.name] = f"{base}.{a.name}"
                    elif base in MODULES and base != module and _private(a.name):
                        bad.append(f"{module} imports {base}.{a.name}")
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and _private(node.attr):
                chain, value = [], node.value
                while isinstance(value, ast.Attribute):
                    chain.insert(0, value.attr)
                    value = value.value
                if isinstance(value, ast.Name) and value.id in bound:
                    target = ".".join([bound[value.id], *chain])
                    if target in MODULES and target != module:
                        bad.append(f"{module} uses {target}.{node.attr}")
    assert sorted(set(bad) - STILL_SHARED) == []
    assert sorted(STILL_SHARED - set(bad)) == [], "promoted: drop it from STILL_SHARED"


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


# analysis keeps its own copies of a few kernel and spec facts, so that reading a
# store needs neither numba nor the service; these tests pin them to the originals

def test_analysis_grid_axes_are_the_specs():
    from analysis.tables import GRID_AXES
    from sweeps.spec import AXES

    assert GRID_AXES == AXES


def test_analysis_outcomes_are_the_kernels():
    import kernels
    from analysis.tables import OUTCOMES

    assert OUTCOMES == kernels.OUTCOMES


@pytest.mark.parametrize("name", ["W1[0]", "W1[0,1,2]", "b1[0,1]", "b1", "W2", "W2[0,0]",
                                  "b2[0]", "W3[0,0]", "w1[0,0]", "W1[a,0]", "W1[-1,0]", "lr",
                                  "init_scale", "out_0", ""])
def test_analysis_refuses_what_the_kernels_refuse_as_parameter_names(name):
    import kernels
    from analysis.tables import is_param_axis

    with pytest.raises(ValueError, match="is not a parameter name"):
        kernels.parse_param_name(name)
    assert not is_param_axis(name)


@pytest.mark.parametrize(("D", "H"), [(1, 1), (2, 2), (3, 12), (12, 3)])
def test_analysis_knows_every_parameter_name(D, H):
    import kernels
    from analysis.tables import is_param_axis

    assert all(is_param_axis(name) for name in kernels.param_names(D, H))


def test_analysis_describes_every_criterion_with_its_threshold():
    import pandas as pd

    from analysis._page import criterion_text
    from sweeps.spec import CRITERIA

    df = pd.DataFrame({"target_error": [0.25]})
    texts = {}
    for criterion, threshold in CRITERIA.items():
        texts[criterion] = criterion_text({"criterion": criterion}, df)
        assert f"{0.25 if threshold is None else threshold:g}" in texts[criterion], criterion
    assert len(set(texts.values())) == len(CRITERIA)  # none falls back to another's words
    assert criterion_text({}, df) == texts["target-error"]  # the default criterion


def test_analysis_reads_the_sample_table_the_specs_write():
    import tomllib

    from analysis.axes import DISTRIBUTIONS, sample_attrs
    from sweeps.design import DISTRIBUTIONS as SPEC_DISTRIBUTIONS
    from sweeps.spec import load_spec

    assert DISTRIBUTIONS == SPEC_DISTRIBUTIONS
    spec = load_spec({"name": "pin", "sample": {
        "method": "lhs", "n": 4, "lr": {"loguniform": [0.1, 30]},
        "momentum": {"uniform": [0, 0.9]}, "W1[0, 1]": {"uniform": [-2, 2]}}})
    attrs = sample_attrs(tomllib.loads(spec.to_toml()))  # as analysis.load reads spec.toml
    assert attrs["sampled"] == {a: d for a, (d, _, _) in spec.sample.axes.items()}
    assert attrs["sample_bounds"] == {a: (lo, hi) for a, (_, lo, hi) in spec.sample.axes.items()}
    assert "W1[0,1]" in attrs["sampled"]
