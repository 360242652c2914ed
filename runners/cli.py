"""``werbench decode / run / import-hyps / convert-legacy / lm / tune``: the runners' commands."""

from __future__ import annotations

import typer
from werbench.runners import decode_cli, lm_cli


def register(app: typer.Typer) -> None:
    decode_cli.register(app)
    lm_cli.register(app)
