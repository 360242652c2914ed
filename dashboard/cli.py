"""``werbench serve / demo``: the dashboard's commands."""

from __future__ import annotations

import typer

from dashboard import demo_cli, serve_cli


def register(app: typer.Typer) -> None:
    serve_cli.register(app)
    demo_cli.register(app)
