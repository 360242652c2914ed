"""The one error type for bad user input: it always names the file, the line and the field."""

from __future__ import annotations

from pathlib import Path


class ManifestError(ValueError):
    """Bad input in a file werbench reads; ``str()`` is ``path:line: field: message``."""

    def __init__(
        self, path: str | Path, message: str, *, line: int | None = None, field: str | None = None
    ) -> None:
        self.path = str(path)
        self.line = line
        self.field = field
        self.message = message
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
