"""No import cycles, hidden ones included: the graph is built from the source with ``ast``, so imports inside
functions, ``from package import name`` (which runs the package's ``__init__``) and module names written as
strings (command groups, decoder registry entries: imported later by name) all count as edges."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# installed name -> source folder: pyproject.toml's package-dir mapping, so a new layer is checked too
PACKAGES: dict[str, str] = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
    "setuptools"
]["package-dir"]


def source_modules(repo: Path = REPO) -> dict[str, Path]:
    """Every installed module name and the file that defines it."""
    modules: dict[str, Path] = {}
    for package, folder in PACKAGES.items():
        for path in sorted((repo / folder).rglob("*.py")):
            if "assets" in path.parts:
                continue
            parts = path.relative_to(repo / folder).with_suffix("").parts
            modules[".".join((package, *parts)).removesuffix(".__init__")] = path
    return modules


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """``module -> modules it needs``, from every import statement anywhere in its file."""

    def known(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        needs: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                needs.update(filter(None, (known(alias.name) for alias in node.names)))
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parent, base] if base else parent)
                needs.update(filter(None, [known(base)]))
                needs.update(f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in modules)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                target = node.value.partition(":")[0]
                if "." in target and target in modules:  # a dotted module path, not the word "werbench"
                    needs.add(target)
        graph[name] = needs - {name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_module_import_graph_is_acyclic() -> None:
    graph = import_graph(source_modules())
    assert (
        len(graph) > 100 and "werbench.runners.decoders.greedy" in graph["werbench.runners.decoders.registry"]
    )
    assert cycles(graph) == []


def test_the_graph_sees_function_level_package_and_string_imports(tmp_path: Path) -> None:
    """Each hidden kind of edge closes a cycle the checker must report."""
    for folder in PACKAGES.values():
        (tmp_path / folder).mkdir(exist_ok=True)
        (tmp_path / folder / "__init__.py").write_text("")
    (tmp_path / "runners" / "a.py").write_text("def f():\n    from werbench.runners.b import g\n")
    (tmp_path / "runners" / "b.py").write_text("from werbench.runners.a import f\n")
    (tmp_path / "dashboard" / "__init__.py").write_text("from werbench.dashboard import page\n")
    (tmp_path / "dashboard" / "page.py").write_text("from werbench.dashboard import other\n")
    (tmp_path / "dashboard" / "other.py").write_text("")
    (tmp_path / "analysis" / "x.py").write_text("PLUGIN = 'werbench.analysis.y:run'\n")
    (tmp_path / "analysis" / "y.py").write_text("from . import x\n")
    found = cycles(import_graph(source_modules(tmp_path)))
    assert sorted(found) == [
        ["werbench.analysis.x", "werbench.analysis.y"],
        ["werbench.dashboard", "werbench.dashboard.page"],
        ["werbench.runners.a", "werbench.runners.b"],
    ]
