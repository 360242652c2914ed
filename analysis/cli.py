"""``werbench score / compare / report / gate / log``: the analysis layer's commands."""

from __future__ import annotations

import typer
from werbench.analysis import gate_cli, report_cli, score_cli, tracking_cli


def register(app: typer.Typer) -> None:
    score_cli.register(app)
    report_cli.register(app)
    gate_cli.register(app)
    tracking_cli.register(app)
