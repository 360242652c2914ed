"""Cache keys that cannot go stale: a hash of the source code that computes a cached value plus the
installed versions of the packages it relies on, so no one has to remember to bump a version number.

Computed once per process (the files are read on first use, a few milliseconds).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
from importlib import metadata
from pathlib import Path

from werbench.manifests.errors import ConfigError


def package_stamp(distribution: str) -> str:
    """``"<distribution>-<installed version>"``, or ``"<distribution>-absent"`` when it is not installed."""
    try:
        return f"{distribution}-{metadata.version(distribution)}"
    except metadata.PackageNotFoundError:
        return f"{distribution}-absent"


def _sources(module: str) -> list[tuple[str, Path]]:
    """``(name, file)`` of a module, or of every ``.py`` file below a package (names relative to it)."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise ConfigError(module, "no such module to key a cache on")
    if spec.submodule_search_locations is None:
        return [(module, Path(spec.origin))]
    return sorted(
        (f"{module}/{path.relative_to(folder).as_posix()}", path)
        for folder in map(Path, spec.submodule_search_locations)
        for path in folder.rglob("*.py")
    )


@functools.cache
def code_version(modules: tuple[str, ...], distributions: tuple[str, ...] = ()) -> str:
    """BLAKE2 of the named modules' (or packages') source files and the named distributions' versions."""
    digest = hashlib.blake2b(digest_size=16)
    for module in modules:
        for name, path in _sources(module):
            digest.update(f"{name}\0".encode())
            digest.update(path.read_bytes())
    for distribution in distributions:
        digest.update(f"\0{package_stamp(distribution)}".encode())
    return digest.hexdigest()
