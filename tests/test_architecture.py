"""The package's shape: no import cycle (imports counted at any depth, as the shared tool counts
them), no module reading another module's private names, and imports inside functions only of the
optional dependencies (matplotlib, pyarrow, dask) and of SciPy's heavy submodules (scipy.optimize,
scipy.stats: together ~1.5 s and 40 MB at import, needed only by some analyses)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "python" / "mixedmodels"
OPTIONAL = {"matplotlib", "pyarrow", "dask"}
HEAVY = {"scipy.optimize", "scipy.stats"}


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(rel.parts)
        out[name.removesuffix(".__init__")] = path
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]):
    """(imported module, imported names, node) for every import in the module, at any depth."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, [], node
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                full = f"{target}.{alias.name}"
                if full in modules:  # `from . import x` imports the module x
                    yield full, [], node
                else:
                    yield target, [alias.name], node


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for target, _names, _node in _imports(name, path, modules):
            while target and target not in modules and "." in target:
                target = target.rsplit(".", 1)[0]
            if target in modules and target not in (name, "mixedmodels"):
                graph[name].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle():
    graph = _graph()
    assert "mixedmodels.model" in graph
    assert graph["mixedmodels.results"]
    assert _cycles(graph) == []


# docs/architecture.md's layers, lowest first: a module imports only from its own layer or lower ones
LAYERS = [
    {"exceptions", "names", "numderiv", "datasets", "splines", "plot_style"},
    {"formula", "expressions", "layout", "families", "rcoding"},
    {"structure", "data"},
    {"design", "checks", "optimize", "arguments"},
    {"model", "glmm"},
    {"stream", "stream_encode"},
    {"fitted"},
    {
        "inference",
        "anova_tables",
        "updates",
        "confint",
        "simulate",
        "tidy",
        "printing",
        "plots",
        "lmlist",
        "r2",
        "influence",
        "emmeans",
        "nesting",
        "multiplicity",
    },
    {"results", "glmer_result", "compare"},
    {"fit", "negbin", "cli", "__main__", ""},
]


def _layer(module: str) -> int:
    short = module.removeprefix("mixedmodels").removeprefix(".")
    for i, layer in enumerate(LAYERS):
        if short in layer:
            return i
    raise AssertionError(f"{module} is in no layer of docs/architecture.md (add it to LAYERS and the picture)")


def test_imports_go_down_the_layers():
    graph = _graph()
    up = [f"{a} -> {b}" for a, targets in graph.items() for b in targets if _layer(b) > _layer(a)]
    assert up == []


def test_the_cycle_finder_finds_cycles():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _private(name: str) -> bool:
    """A private name: a leading underscore, but not a dunder or sunder protocol name (``_repr_html_``)."""
    return name.startswith("_") and not name.endswith("_")


def test_no_module_reads_another_modules_private_names():
    """The extension module `_core` is the package's own binding, imported by name; everything
    else private stays in its module (attributes only through self or cls)."""
    modules = _modules()
    bad = []
    for name, path in modules.items():
        for target, names, node in _imports(name, path, modules):
            if target.startswith("mixedmodels"):
                bad.extend(f"{name}:{node.lineno} imports {target}.{n}" for n in names if _private(n) and n != "_core")
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and _private(node.attr):
                owner = node.value
                if not (isinstance(owner, ast.Name) and owner.id in ("self", "cls")):
                    bad.append(f"{name}:{node.lineno} reads .{node.attr}")
    assert bad == []


@pytest.mark.parametrize("name", sorted(_modules()))
def test_imports_inside_functions_are_of_optional_dependencies_only(name):
    path = _modules()[name]
    tree = ast.parse(path.read_text())
    top = set(map(id, tree.body))
    late = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in top:
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            else:  # `from scipy import stats` imports scipy.stats
                mods = [f"{node.module or '.'}.{a.name}" for a in node.names]
            if node.__class__ is ast.ImportFrom and node.level:
                late.append(f"line {node.lineno}: from {'.' * node.level}{node.module or ''}")
            late.extend(
                f"line {node.lineno}: {m}"
                for m in mods
                if m.split(".")[0] not in OPTIONAL and not any(m == h or m.startswith(h + ".") for h in HEAVY)
            )
    assert late == []


def test_importing_the_package_leaves_the_heavy_modules_unloaded():
    import subprocess
    import sys

    code = (
        "import sys, mixedmodels; "
        "print(sorted(m for m in ('scipy.stats', 'scipy.optimize', 'matplotlib', 'dask') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
