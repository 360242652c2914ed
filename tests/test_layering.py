"""The architecture's rules on the source: data flows one way, heavy stacks stay in runners."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LAYERS = ("manifests", "runners", "analysis", "dashboard")
HEAVY = ("torch", "nemo", "transformers", "kenlm", "pyctcdecode", "flashlight", "lightning")


def _imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def _modules(package: str) -> list[Path]:
    return sorted((REPO / package).rglob("*.py"))


@pytest.mark.parametrize("package", LAYERS)
def test_lower_layers_never_import_higher_ones(package: str) -> None:
    higher = set(LAYERS[LAYERS.index(package) + 1 :])
    offenders = {
        str(path.relative_to(REPO)): sorted(_imported_roots(path) & higher)
        for path in _modules(package)
        if _imported_roots(path) & higher
    }
    assert offenders == {}


@pytest.mark.parametrize("package", ["manifests", "analysis", "dashboard"])
def test_light_layers_never_import_torch_or_nemo(package: str) -> None:
    offenders = {
        str(path.relative_to(REPO)): sorted(_imported_roots(path) & set(HEAVY))
        for path in _modules(package)
        if _imported_roots(path) & set(HEAVY)
    }
    assert offenders == {}


def test_cli_and_light_layers_import_without_heavy_stacks() -> None:
    """Importing every light module and the whole CLI (runners' commands included) must stay fast."""
    modules = ["werbench.cli"] + [
        ".".join(path.relative_to(REPO).with_suffix("").parts)
        for package in ("manifests", "analysis", "dashboard")
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
