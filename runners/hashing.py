"""SHA-256 of model, LM and rescorer files (or folders) for run.json and the logits cache key.

Hashes are memoised per (path, size, mtime) in memory and, when given, in a small JSON file so that a
multi-gigabyte LM is not re-read on every run.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from werbench.manifests.atomic import atomic_write

_CHUNK = 1 << 20
_memo: dict[str, str] = {}


def _stamp(path: Path) -> str:
    stat = path.stat()
    return f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"


def _hash_file(path: Path, digest: hashlib._Hash) -> None:
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)


def _compute(path: Path) -> str:
    digest = hashlib.sha256()
    if path.is_dir():
        for file in sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")):
            digest.update(str(file.relative_to(path)).encode() + b"\0")
            _hash_file(file, digest)
    else:
        _hash_file(path, digest)
    return digest.hexdigest()


def _folder_stamp(path: Path) -> str:
    parts = [_stamp(p) for p in sorted(path.rglob("*")) if p.is_file() and not p.name.startswith(".")]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def sha256_path(path: str | Path, memo_file: str | Path | None = None) -> str:
    """SHA-256 of a file, or of a folder's files (names and contents, sorted)."""
    path = Path(path)
    stamp = _folder_stamp(path) if path.is_dir() else _stamp(path)
    if stamp in _memo:
        return _memo[stamp]
    stored: dict[str, str] = {}
    if memo_file is not None and Path(memo_file).is_file():
        try:
            stored = json.loads(Path(memo_file).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            stored = {}
    value = stored.get(stamp) or _compute(path)
    _memo[stamp] = value
    if memo_file is not None and stored.get(stamp) != value:
        stored[stamp] = value
        try:
            with atomic_write(memo_file) as handle:
                json.dump(stored, handle)
        except OSError:
            pass  # the memo only saves time; a read-only cache folder must not stop a decode
    return value


def sha256_or_none(path: str | Path | None, memo_file: str | Path | None = None) -> str | None:
    """Hash for optional inputs (an LM that may be absent)."""
    if path is None or not os.path.exists(path):
        return None
    return sha256_path(path, memo_file)
