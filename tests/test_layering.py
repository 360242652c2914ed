"""The architecture's rules on the source: data flows one way, heavy stacks stay in runners, the demo is the
top floor, and every layer is installed under the one name ``werbench``."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LAYERS = ("manifests", "aligner", "runners", "analysis", "dashboard", "demo")
HEAVY = ("torch", "nemo", "transformers", "kenlm", "pyctcdecode", "flashlight", "lightning", "ray")


def _imports(path: Path) -> set[str]:
    """Absolute module names this file imports (``from werbench.x import y`` gives ``werbench.x``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _layers_used(path: Path) -> set[str]:
    return {name.split(".")[1] for name in _imports(path) if name.startswith("werbench.") and "." in name}


def _roots(path: Path) -> set[str]:
    return {name.split(".")[0] for name in _imports(path)}


def _modules(package: str) -> list[Path]:
    return sorted(path for path in (REPO / package).rglob("*.py") if "assets" not in path.parts)


@pytest.mark.parametrize("package", LAYERS)
def test_lower_layers_never_import_higher_ones(package: str) -> None:
    higher = set(LAYERS[LAYERS.index(package) + 1 :])
    offenders = {
        str(path.relative_to(REPO)): sorted(_layers_used(path) & higher)
        for path in _modules(package)
        if _layers_used(path) & higher
    }
    assert offenders == {}


def test_no_layer_imports_the_demo() -> None:
    offenders = [
        str(path.relative_to(REPO))
        for package in (*LAYERS[:-1], "werbench")
        for path in _modules(package)
        if "demo" in _layers_used(path) and path.name != "cli.py"
    ]
    # werbench/cli.py mounts every group's commands by name (a string), so it imports no layer either.
    assert offenders == []


def test_dashboard_imports_no_runner() -> None:
    offenders = [
        str(path.relative_to(REPO)) for path in _modules("dashboard") if "runners" in _layers_used(path)
    ]
    assert offenders == []


@pytest.mark.parametrize("package", (*LAYERS, "werbench", "tests", "benchmarks"))
def test_code_imports_layers_only_through_the_werbench_namespace(package: str) -> None:
    """A bare ``import analysis`` works only from the source tree by accident; installed, it is not there."""
    offenders = {
        str(path.relative_to(REPO)): sorted(_roots(path) & set(LAYERS))
        for path in _modules(package)
        if _roots(path) & set(LAYERS)
    }
    assert offenders == {}


def test_installed_names_are_namespaced() -> None:
    for layer in LAYERS:
        spec = importlib.util.find_spec(f"werbench.{layer}")
        assert spec is not None and spec.origin is not None
        assert Path(spec.origin).resolve() == (REPO / layer / "__init__.py").resolve()


@pytest.mark.parametrize("package", ["aligner", "manifests", "analysis", "dashboard"])
def test_light_layers_never_import_torch_or_nemo(package: str) -> None:
    offenders = {
        str(path.relative_to(REPO)): sorted(_roots(path) & set(HEAVY))
        for path in _modules(package)
        if _roots(path) & set(HEAVY)
    }
    assert offenders == {}


def test_cli_and_light_layers_import_without_heavy_stacks() -> None:
    """Importing every light module and the whole CLI (runners' commands included) must stay fast."""
    modules = ["werbench.cli"] + [
        "werbench." + ".".join(path.relative_to(REPO).with_suffix("").parts)
        for package in ("aligner", "manifests", "analysis", "dashboard")
        for path in _modules(package)
        if path.name != "__main__.py"
    ]
    probe = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name.removesuffix('.__init__'))\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.strip() == "[]"
