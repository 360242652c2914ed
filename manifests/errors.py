"""werbench's errors by kind: each names the file (or option), the line or key path, and the field.

They live in the lowest layer so every layer raises them; the CLI prints any ``WerbenchError`` as one line
(``werbench.cli``), so a user never sees a traceback for a mistake that is theirs.
"""

from __future__ import annotations

from pathlib import Path


class WerbenchError(Exception):
    """Base of werbench's errors; ``str()`` is ``path:line: field: message``.

    ``path`` is the file (or the option, e.g. ``--decoder``) at fault; ``line`` its 1-based line when known;
    ``field`` the field or dotted key path inside it.
    """

    def __init__(
        self, path: str | Path, message: str, *, line: int | None = None, field: str | None = None
    ) -> None:
        super().__init__(message)
        self.path = str(path)
        self.line = line
        self.field = field
        self.message = message

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"

    def __reduce__(self) -> tuple[type, tuple[str, str], dict[str, object]]:
        """Pickled across decode worker processes, the error keeps its kind, line and field."""
        return type(self), (self.path, self.message), {"line": self.line, "field": self.field}


class ManifestError(WerbenchError, ValueError):
    """Bad input data: a manifest, prediction, hypothesis, trn, audio, model or LM file that is unusable."""


class ConfigError(WerbenchError, ValueError):
    """A bad setting: a command-line option, an experiment file, decoder parameters, a normaliser name."""


class MissingDependencyError(WerbenchError, ImportError):
    """An optional package or external tool the requested work needs is not installed."""


class ResultsDirError(WerbenchError):
    """A results directory used the wrong way: absent, empty, or a system that holds another configuration."""
