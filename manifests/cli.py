"""``werbench manifest ...``: import, validate and describe test-set manifests."""

from __future__ import annotations

import typer

manifest_app = typer.Typer(help="Import, validate and describe NeMo JSON-lines test-set manifests.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(manifest_app, name="manifest")
