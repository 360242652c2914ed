"""The wheel holds exactly the product: every module and asset, nothing generated; the core pulls no torch."""

from __future__ import annotations

import re
import tomllib
import zipfile
from email.parser import Parser
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement

from tests.packaging.conftest import GENERATED, REPO, tracked_files

_SETUPTOOLS = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
LAYERS = set(_SETUPTOOLS["package-dir"].values())  # the source folders installed under werbench.*
HEAVY = {"torch", "nemo-toolkit", "transformers", "kenlm", "lightning", "pytorch-lightning", "ray"}


def _names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def _requirements(wheel: Path) -> list[Requirement]:
    with zipfile.ZipFile(wheel) as archive:
        meta = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        message = Parser().parsestr(archive.read(meta).decode())
    return [Requirement(line) for line in message.get_all("Requires-Dist") or []]


def test_the_wheel_packs_every_module_and_asset_and_nothing_generated(wheel: Path) -> None:
    names = _names(wheel)
    expected = {
        name if name.startswith("werbench/") else f"werbench/{name}"
        for name in tracked_files()
        if name.split("/")[0] in LAYERS and not name.endswith("README.md")
    }
    assert expected - names == set()
    assert {n for n in expected if n.endswith((".nemo", ".flac", ".bin", ".safetensors"))}, "demo assets"
    product = {n for n in names if ".dist-info/" not in n}
    assert product - expected == set()  # nothing but tracked files: no demo-results, .work, build/ or caches
    assert not [n for n in names if any(part in n for part in ("demo-results", "/.work/", "__pycache__"))]
    assert all(Path(g).name not in {Path(n).name for n in names} for g in GENERATED)


def _key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _closure(requirements: list[Requirement], extras: set[str]) -> set[str]:
    """Every distribution the requirements pull in, transitively, by the metadata installed here."""
    env = default_environment()
    seen: set[str] = set()
    todo = [(r, "") for r in requirements]
    while todo:
        req, extra = todo.pop()
        if req.marker is not None and not req.marker.evaluate({**env, "extra": extra}):
            continue
        if _key(req.name) in seen:
            continue
        seen.add(_key(req.name))
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            continue  # not installed here: its own name is still counted
        for line in dist.requires or []:
            child = Requirement(line)
            for wanted in req.extras or {""}:
                todo.append((child, wanted))
    return seen


def test_the_core_install_pulls_no_torch_or_nemo(wheel: Path) -> None:
    requirements = _requirements(wheel)
    core = [r for r in requirements if r.marker is None]
    assert {"pandas", "dash", "numba"} <= {_key(r.name) for r in core}
    closure = _closure(core, set())
    assert closure & HEAVY == set(), sorted(closure & HEAVY)
    by_extra = {
        extra: {_key(r.name) for r in requirements if r.marker and r.marker.evaluate({"extra": extra})}
        for extra in ("runners", "tracking", "dev")
    }
    assert {"torch", "nemo-toolkit", "kenlm"} <= by_extra["runners"]
    assert "mlflow" in by_extra["tracking"] and {"nbclient", "ipykernel"} <= by_extra["dev"]
