"""Where the logits cache and results live: a local folder, or any fsspec URL every node sees.

``file://`` and plain paths are local folders (temp file + rename, as everywhere else); ``s3://``,
``gs://``, ``memory://`` and the rest go through fsspec, where one object PUT is the atomic unit: an object
appears whole or not at all, so every write here is one object. fsspec is the well-kept library for this
(s3fs, gcsfs plug into it); nothing here retries or caches on its own.
"""

from __future__ import annotations

import contextlib
import posixpath
from pathlib import Path
from typing import Any

from werbench.manifests.atomic import atomic_write
from werbench.manifests.errors import ConfigError, MissingDependencyError
from werbench.manifests.results import is_url

Location = str | Path


def local_path(location: Location) -> Path | None:
    """The folder a plain path or ``file://`` URL names; None for remote storage."""
    if not is_url(location):
        return Path(location)
    text = str(location)
    return Path(text.removeprefix("file://")) if text.startswith("file://") else None


def scratch_dir(cache: Location | None) -> Path:
    """The local folder for what stays on this machine (sha256 memo, staging of remote results): the
    cache folder when it is local, else ``.werbench-cache``."""
    local = local_path(cache) if cache is not None else None
    return local if local is not None else Path(".werbench-cache")


class Store:
    """Byte objects under one root (a folder or a URL), named by ``/``-separated relative keys."""

    def __init__(self, root: Location) -> None:
        self.root = str(root).rstrip("/")
        self.local = local_path(root)
        self.fs: Any = None
        if self.local is None:
            try:
                import fsspec

                self.fs, self.base = fsspec.core.url_to_fs(self.root)
            except ImportError as exc:  # s3fs, gcsfs, ...: the URL's own fsspec backend
                raise MissingDependencyError(
                    self.root,
                    f"{exc}: install the fsspec backend for this URL (s3fs for s3://, gcsfs for gs://)",
                ) from None
            except ValueError as exc:
                raise ConfigError(self.root, f"not a storage URL fsspec knows: {exc}") from None

    def url(self, key: str) -> str:
        return f"{self.root}/{key}"

    def _remote(self, key: str) -> str:
        return posixpath.join(self.base, key)

    def read(self, key: str) -> bytes | None:
        """The object's bytes, or None when there is none."""
        if self.local is not None:
            path = self.local / key
            return path.read_bytes() if path.is_file() else None
        try:
            return self.fs.cat_file(self._remote(key))
        except FileNotFoundError:
            return None

    def write(self, key: str, data: bytes, *, durable: bool = True) -> None:
        """Replace the object atomically: rename into place locally, one PUT on an object store."""
        if self.local is not None:
            with atomic_write(self.local / key, "wb", durable=durable) as handle:
                handle.write(data)
            return
        self.fs.pipe_file(self._remote(key), data)

    def keys(self, prefix: str, pattern: str = "*") -> list[str]:
        """Keys of ``prefix/pattern`` (one level), sorted."""
        if self.local is not None:
            return sorted(
                str(p.relative_to(self.local)) for p in (self.local / prefix).glob(pattern) if p.is_file()
            )
        self.fs.invalidate_cache()  # other nodes write here too: never list from a stale listing
        found = self.fs.glob(self._remote(posixpath.join(prefix, pattern)))
        return sorted(posixpath.relpath(f, self.base) for f in found)

    def remove(self, key: str, recursive: bool = False) -> None:
        """Delete an object (or everything under a prefix); a missing one is not an error."""
        if self.local is not None:
            import shutil

            path = self.local / key
            if recursive and path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            return
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm(self._remote(key), recursive=recursive)
