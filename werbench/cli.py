"""The ``werbench`` console script: mounts each package's command group, nothing else.

Each package's ``cli`` module must stay light to import (no torch/NeMo at module level).
"""

from __future__ import annotations

import importlib
from typing import Any

import typer
from typer.core import TyperGroup

from werbench._version import __version__
from werbench.manifests.errors import WerbenchError

GROUP_MODULES = (
    "werbench.manifests.cli",
    "werbench.analysis.cli",
    "werbench.runners.cli",
    "werbench.dashboard.cli",
    "werbench.demo.cli",
)


class _Commands(TyperGroup):
    """The one place user errors are printed: every command of every group runs inside ``invoke``."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (WerbenchError, OSError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None


app = typer.Typer(
    name="werbench",
    cls=_Commands,
    help="WER error analysis and benchmark dashboard for speech recognition.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"werbench {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """WER error analysis and benchmark dashboard for speech recognition."""


for _module in GROUP_MODULES:
    importlib.import_module(_module).register(app)


def main() -> None:
    app()
