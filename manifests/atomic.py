"""Atomic file output: an interrupted write never leaves a half file where a good one is expected."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO


def _read_umask() -> int:
    """Read once at import: os.umask can only be read by setting it, which is unsafe once threads run."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# mkstemp creates 0600 files; finished outputs get the permissions a plain open() would give them.
_FILE_MODE = 0o666 & ~_read_umask()


def refuse_inputs(outputs: Mapping[str, str | Path | None], inputs: Iterable[str | Path]) -> None:
    """An output that is one of the command's own input files would replace what it reads: a ConfigError
    naming the option, before any work."""
    from werbench.manifests.errors import ConfigError

    read = {Path(p).resolve() for p in inputs if Path(p).is_file()}
    for option, path in outputs.items():
        if path is not None and Path(path).resolve() in read:
            raise ConfigError(option, f"{path} is an input of this command; give another file")


def check_output_path(path: str | Path) -> Path:
    """Make ``path``'s folder; an output path that is a folder, or below a file, is a ManifestError naming it
    (checked before any work where a command can, and again by ``atomic_write``)."""
    from werbench.manifests.errors import ManifestError

    path = Path(path)
    if path.is_dir():
        raise ManifestError(path, "output path is a folder; give a file name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ManifestError(path, "cannot create the output's folder: a file is in the way") from None
    except OSError as exc:
        raise ManifestError(path, f"cannot create the output's folder: {exc.strerror or exc}") from None
    return path


@contextlib.contextmanager
def atomic_write(
    path: str | Path, mode: str = "w", encoding: str | None = "utf-8", *, durable: bool = True
) -> Iterator[IO]:
    """Write to a temp file beside ``path`` and rename it into place only when the block succeeds.

    ``durable=False`` skips the fsync: for caches, where a file lost in a power cut is only a miss.
    """
    path = check_output_path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding) as handle:
            yield handle
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
