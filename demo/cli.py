"""``werbench demo``: the whole product on shipped models and audio, offline, then the dashboard on it."""

from __future__ import annotations

from pathlib import Path

import typer


def demo(
    results: Path = typer.Option(
        Path("demo-results"), "--results", help="Results directory to fill (reused)."
    ),
    serve: bool = typer.Option(
        True, "--serve/--no-serve", help="Serve the dashboard on 127.0.0.1 afterwards."
    ),
    port: int = typer.Option(8050, "--port", min=1, max=65535, help="Dashboard TCP port."),
    subset: int | None = typer.Option(
        None, "--subset", min=1, help="Only the first N utterances of each test set (a quick look)."
    ),
    smollm2: bool = typer.Option(
        False, "--smollm2", help="Also rescore the tuned model's business n-best with SmolLM2-135M (slow)."
    ),
) -> None:
    """Decode the demo test sets (real and synthetic speech) with the demo's base and tuned models x greedy,
    KenLM beam (pyctcdecode and beam-fast) and BERT rescoring, plus pocketsphinx; write the HTML/CSV
    reports and RESULTS/leaderboard.csv; then serve the dashboard. A second run reuses every result."""
    from werbench.demo.run import format_leaderboard, run_demo

    run = run_demo(results, subset=subset, smollm2=smollm2, echo=typer.echo)
    typer.echo("")
    typer.echo(format_leaderboard(run.rows))
    typer.echo("")
    typer.echo(f"leaderboard: {run.leaderboard}\nHTML report: {run.html}\nCSV tables:  {run.csv}")
    for note in run.notes:
        typer.secho(f"note: {note}", fg="yellow")
    typer.echo(f"demo ready in {run.seconds:.1f} s")
    if serve:
        from werbench.dashboard.serve_cli import serve as serve_dashboard
        from werbench.demo.run import DEMO_ROOT

        assets = DEMO_ROOT / "assets"
        serve_dashboard(paths=[run.results], audio_base_path=None,
                        vocab=assets / "lm" / "business-4gram.bin.unigrams.txt",
                        keywords=[assets / "keywords" / "companies.txt"], host="127.0.0.1", port=port,
                        auth=None, auth_file=None, insecure=False, normalize="nemo", threads=8)  # fmt: skip


def register(app: typer.Typer) -> None:
    """Add ``werbench demo`` to the root app."""
    app.command("demo")(demo)
