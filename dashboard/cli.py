"""``werbench serve``: the dashboard's command."""

from __future__ import annotations

import typer
from werbench.dashboard import serve_cli


def register(app: typer.Typer) -> None:
    serve_cli.register(app)
