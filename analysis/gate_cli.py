"""``werbench gate RESULTS --baseline SYS --candidate SYS``: the CI regression gate (exit 1 on a regression).

A thin wrapper over ``analysis.gate`` (also ``werbench.gate`` in Python); heavy imports inside the command.
"""

from __future__ import annotations

from pathlib import Path

import typer
from werbench.manifests.normalize import NORMALIZE_HELP

_HELP = """Fail (exit status 1) when the candidate's WER is worse than the baseline's by more than the margin
and the difference is significant: paired bootstrap per test set, Holm-corrected across test sets.

--baseline is a system of RESULTS or a baseline file written earlier with --save-baseline (a previous run's
hypotheses, committed beside the code). Writes a Markdown summary (a pull-request comment) and a JUnit XML
file (one test case per test set). Exit status 2 on bad input, with nothing written.
"""


def gate(
    results: Path = typer.Argument(..., help="Results directory RESULTS/<testset>/<system>/..."),
    baseline: str = typer.Option(..., "--baseline", help="Baseline system of RESULTS, or a baseline file."),
    candidate: str | None = typer.Option(None, "--candidate", help="Candidate system of RESULTS."),
    testsets: list[str] = typer.Option(None, "--testset", help="Test sets to gate on (repeatable; default: "
                                       "every test set with both systems)."),
    max_wer_increase: float = typer.Option(0.1, "--max-wer-increase", help="Allowed WER rise, in points."),
    alpha: float = typer.Option(0.05, "--alpha", help="Family-wise significance level across test sets."),
    markdown_out: Path = typer.Option(Path("werbench-gate.md"), "--markdown", dir_okay=False,
                                      help="Markdown summary file."),
    junit_out: Path = typer.Option(Path("werbench-gate.xml"), "--junit", dir_okay=False,
                                   help="JUnit XML file."),
    save_baseline: Path | None = typer.Option(None, "--save-baseline", dir_okay=False,
                                              help="Write the baseline system's hypotheses to this file (to "
                                              "commit) instead of gating."),
    normalize: str | None = typer.Option(None, "--normalize", "-n", help=NORMALIZE_HELP),
    costs: str = typer.Option("sclite", "--costs", help="sclite (4/3/3) or unit (1/1/1, ties as jiwer)."),
    resamples: int = typer.Option(1000, "--resamples", min=100, max=100_000, help="Bootstrap resamples."),
    seed: int = typer.Option(0, "--seed", min=0, help="Bootstrap seed."),
) -> None:  # fmt: skip
    from werbench.analysis import gate as gating
    from werbench.analysis.table_cache import TableOptions
    from werbench.manifests.errors import ConfigError, WerbenchError

    try:
        from werbench.manifests.atomic import refuse_inputs
        from werbench.manifests.results import results_inputs

        outputs = (
            {"--save-baseline": save_baseline}
            if save_baseline
            else {"--markdown": markdown_out, "--junit": junit_out}
        )
        refuse_inputs(outputs, [*results_inputs(results), baseline])
        if save_baseline is not None:
            typer.echo(f"wrote {gating.save_baseline(results, baseline, save_baseline)}")
            return
        if candidate is None:
            raise ConfigError("--candidate", "missing: give the system to gate (or --save-baseline FILE)")
        options = TableOptions(normalize=normalize, costs=costs, n_resamples=resamples, seed=seed)
        result = gating.run_gate(results, baseline, candidate, testsets=testsets or None,
                                 max_wer_increase=max_wer_increase, alpha=alpha, options=options)  # fmt: skip
        written = gating.write_outputs(result, markdown_out, junit_out)
    except (WerbenchError, OSError) as exc:  # exit 2, not the root handler's 1: 1 means regression
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(gating.markdown(result))
    typer.echo(f"wrote {', '.join(map(str, written))}", err=True)
    raise typer.Exit(0 if result.passed else 1)


def register(app: typer.Typer) -> None:
    """Add ``werbench gate`` to the root app."""
    app.command("gate", help=_HELP)(gate)
