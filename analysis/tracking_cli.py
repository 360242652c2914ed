"""``werbench log RESULTS --mlflow [URI]``: every system as an MLflow run (wraps ``analysis.tracking``)."""

from __future__ import annotations

from pathlib import Path

import typer
from werbench.manifests.normalize import NORMALIZE_HELP

_DEFAULT = (
    "-"  # ``--mlflow`` without a URI: MLflow's own default ($MLFLOW_TRACKING_URI, else its local store)
)


def log(
    results: Path = typer.Argument(..., help="Results directory RESULTS/<testset>/<system>/..."),
    mlflow_uri: str = typer.Option(
        ..., "--mlflow", flag_value=_DEFAULT, help="Log to MLflow: a tracking URI (http://host:5000, "
        "sqlite:///mlflow.db, a folder: MLflow 3 wants MLFLOW_ALLOW_FILE_STORE=true for one), or nothing for "
        "MLflow's default ($MLFLOW_TRACKING_URI)."
    ),
    experiment: str = typer.Option("werbench", "--experiment", help="MLflow experiment name."),
    normalize: str | None = typer.Option(None, "--normalize", "-n", help=NORMALIZE_HELP),
    costs: str = typer.Option("sclite", "--costs", help="sclite (4/3/3 weights) or kaldi (unit costs)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Neither read nor write the caches."),
) -> None:  # fmt: skip
    """Log every system of RESULTS as an MLflow run (params, metrics with CIs, HTML report, per-utterance
    CSV). Idempotent: logging the same results again updates the runs instead of adding new ones."""
    from werbench.analysis.table_cache import TableOptions
    from werbench.analysis.tracking import log_results

    uri = None if mlflow_uri == _DEFAULT else mlflow_uri
    options = TableOptions(normalize=normalize, costs=costs)
    runs = log_results(results, uri, experiment=experiment, options=options, use_cache=not no_cache)
    for run in runs:
        typer.echo(f"{'created' if run.created else 'updated'} {run.testset}/{run.system}: run {run.run_id}")


def register(app: typer.Typer) -> None:
    """Add ``werbench log`` to the root app."""
    app.command("log")(log)
