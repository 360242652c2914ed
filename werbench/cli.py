"""The ``werbench`` console script: mounts each package's command group, nothing else.

Each package's ``cli`` module must stay light to import (no torch/NeMo at module level).
"""

from __future__ import annotations

import importlib

import typer

from werbench import __version__

GROUP_MODULES = (
    "werbench.manifests.cli",
    "werbench.analysis.cli",
    "werbench.runners.cli",
    "werbench.dashboard.cli",
    "werbench.demo.cli",
)

app = typer.Typer(
    name="werbench",
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
