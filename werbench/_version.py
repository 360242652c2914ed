"""The one place the version is written (pyproject.toml reads it too); layers import it from here, never
from the ``werbench`` package itself, whose public API imports the layers (that would be a cycle)."""

__version__ = "0.1.0"
