"""``werbench compare`` and ``werbench report``: pairwise significance and the CSV/HTML/trn reports.

Heavy imports (pandas, scipy, plotly, the aligner) happen inside the commands so ``werbench --help``
stays fast. Bad input ends with ``error: <file>:<line>: <field>: <message>`` and exit status 1.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from werbench.analysis.score_cli import MISSING_HELP, SPEAKER_FROM_ID
from werbench.manifests.normalize import NORMALIZE_HELP

if TYPE_CHECKING:
    from werbench.analysis.compare import Comparison

_COMPARE_HELP = """Compare two systems on the same utterances, with the significance tests of NIST sc_stats.

REF is a NeMo manifest or a sclite trn file and HYP_A, HYP_B hypothesis files (result manifests or trn
files; a system is named after its file's stem). Or REF is a results directory and HYP_A, HYP_B are
system names in it. A is the baseline, B the candidate: "improved" means B made fewer word errors.
Tests: paired bootstrap (Bisani & Ney 2004), MAPSSWE, sign and Wilcoxon signed-rank tests per speaker
and per utterance, McNemar on sentence errors.
"""

_REPORT_HELP = """Write the reports of a results directory RESULTS/<testset>/<system>/predictions.jsonl.

--html writes one self-contained, offline HTML file (plotly.js inlined); --csv a folder of CSV tables;
--trn a folder of sclite trn files (ref + one per system) for re-scoring with sclite and sc_stats.
"""


_COSTS = "sclite (4/3/3 weights) or unit (sub = ins = del = 1, ties as jiwer)."
_FLAVOUR = "werbench (scipy's exact tests) or sc_stats (NIST sc_stats' arithmetic)."
_PAIRS = "System pairs A:B to compare (repeatable; default: the runner-up against the best of each test set)."
_FIELDS = "Fields to break metrics down by (repeatable; default: speaker, duration, fields with few values)."
_VOCAB = (
    "Vocabulary for OOV flags: an ARPA LM, a KenLM binary with its .unigrams.txt, a NeMo manifest (e.g. the "
    "training set) or a word list. PATH for every test set, or TESTSET=PATH (repeat: one per test set, each "
    "with the LM it was decoded with)."
)
_AUDIO_LEVELS = (
    "Read every utterance's audio for its peak level (cached): words on audio at or below --silence-db "
    "are flagged as words on silence (without it, only empty references count as silence)."
)
_INSERTION_RUN = "Flag an utterance with this many inserted words in a row (hallucination)."
_SILENCE_DB = "Peak level (dBFS) at or below which audio counts as (near) silent."
KEYWORDS_HELP = (
    "A keyword list (one keyword or phrase a line, # comments): a word class of its own, named after the "
    "file, with recall, precision and F1 per system (repeatable)."
)


def _pct(value: float) -> str:
    return "-" if value is None or math.isnan(value) else f"{100 * value:.2f}%"


def comparison_text(result: Comparison) -> str:
    """The comparison as a plain-text report (what ``werbench compare`` prints)."""
    s = result.summary
    a, b = result.system_a, result.system_b
    lines = [
        f"A = {a}   B = {b}   test set {result.testset}",
        f"utterances: {s['utts']} paired"
        + (
            f", {s['failed_excluded']} not decoded by either system (left out: --missing ignore)"
            if s["failed_excluded"]
            else ""
        ),
        f"WER A {_pct(s['wer_a'])}  B {_pct(s['wer_b'])}  change {100 * s['wer_change']:+.2f} points"
        + ("" if math.isnan(s["relative_change"]) else f" ({100 * s['relative_change']:+.1f}% relative)"),
        f"B improved {s['improved']}, regressed {s['regressed']}, tied {s['tied']} utterances",
        "",
    ]
    header = ["test", "unit", "n", "statistic", "p", "favours"]
    rows = [header]
    for t in result.tests:
        favours = "-" if t.better is None else (a if t.better == "A" else b)
        mark = " *" if t.significant else ""
        statistic = "-" if t.skipped else f"{t.statistic:.4g}"
        rows.append([t.title, t.unit, str(t.n), statistic, t.p_text + mark, favours])
    widths = [max(len(r[k]) for r in rows) for k in range(len(header))]
    for n, row in enumerate(rows):
        lines.append(
            "  ".join(
                c.ljust(w) if k in (0, 1, 5) else c.rjust(w)
                for k, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines += [f"{t.title}: not run, {t.skipped}" for t in result.tests if t.skipped]
    boot = next((t for t in result.tests if t.name == "bootstrap"), None)
    if boot is not None:
        d = boot.details
        lines += [
            "",
            f"paired bootstrap ({d['n_resamples']} resamples): P(A better) {d['p_a_better']:.3f}, "
            f"P(B better) {d['p_b_better']:.3f}, 95% CI of WER(B) - WER(A): "
            f"[{-100 * d['delta_hi']:+.2f}, {-100 * d['delta_lo']:+.2f}] points",
        ]
    lines.append(
        f"* p < {result.tests[0].alpha if result.tests else 0.05} (two-sided); flavour {s['flavour']}"
    )
    return "\n".join(lines)


def _split_system(name: str) -> tuple[str | None, str]:
    testset, sep, system = name.rpartition("/")
    return (testset or None) if sep else None, system


def compare(
    ref: Path = typer.Argument(..., help="Reference manifest or trn file, or a results directory."),
    hyp_a: str = typer.Argument(..., help="Baseline: a hypothesis file, or a system of REF."),
    hyp_b: str = typer.Argument(..., help="Candidate: a hypothesis file, or a system of REF."),
    json_out: Path | None = typer.Option(
        None, "--json", dir_okay=False, help="Write the comparison as JSON."
    ),
    normalize: str | None = typer.Option(None, "--normalize", "-n", help=NORMALIZE_HELP),
    costs: str = typer.Option("sclite", "--costs", help=_COSTS),
    testset: str | None = typer.Option(None, "--testset", help="Test set (when several have both)."),
    flavour: str = typer.Option("werbench", "--flavour", help=_FLAVOUR),
    resamples: int = typer.Option(1000, "--resamples", min=100, max=100_000, help="Bootstrap resamples."),
    seed: int = typer.Option(0, "--seed", min=0, help="Bootstrap seed."),
    speaker_from_id: str | None = typer.Option(
        None, "--speaker-from-id", metavar="REGEX", help=SPEAKER_FROM_ID
    ),
    missing: str = typer.Option("deletions", "--missing", help=MISSING_HELP),
    no_cache: bool = typer.Option(False, "--no-cache", help="Neither read nor write the caches."),
) -> None:
    from werbench.analysis.compare import compare_systems
    from werbench.analysis.inputs import read_hypotheses
    from werbench.analysis.table_cache import TableOptions, tables_for
    from werbench.manifests.atomic import atomic_write, refuse_inputs
    from werbench.manifests.errors import ManifestError

    refuse_inputs({"--json": json_out}, [ref, hyp_a, hyp_b])
    options = TableOptions(
        normalize=normalize, costs=costs, n_resamples=resamples, seed=seed, speaker_from_id=speaker_from_id,
        missing=missing,
    )  # fmt: skip
    if ref.is_dir():
        files: list[Path] = []
        (ts_a, a), (ts_b, b) = _split_system(hyp_a), _split_system(hyp_b)
        testset = testset or ts_a or ts_b
    else:
        files = [Path(hyp_a), Path(hyp_b)]
        names = [[h.system for h in read_hypotheses(p)] for p in files]
        if len(names[0]) != 1 or len(names[1]) != 1:
            raise ManifestError(
                hyp_a if len(names[0]) != 1 else hyp_b,
                "holds several systems; compare needs one per file",
            )
        a, b = names[0][0], names[1][0]
    tables = tables_for(ref, files, options, use_cache=not no_cache, progress=True)
    result = compare_systems(
        tables.utterances, a, b, testset=testset, flavour=flavour, n_resamples=resamples, seed=seed
    )  # type: ignore[arg-type]
    if json_out is not None:
        with atomic_write(json_out) as handle:
            payload = result.to_json() | {
                "normalizer": tables.normalizer,
                "costs": tables.costs,
                "missing": tables.missing,
                "warnings": tables.warnings,
            }
            json.dump(payload, handle, indent=1, ensure_ascii=False, allow_nan=False)
            handle.write("\n")
    for warning in tables.warnings:
        typer.echo(f"warning: {warning}", err=True)
    typer.echo(f"text mode {tables.normalizer}, costs {tables.costs}, CER {tables.cer}")
    typer.echo(comparison_text(result))
    if json_out is not None:
        typer.echo(f"wrote {json_out}", err=True)


def report(
    results: Path = typer.Argument(
        ..., help="Results directory RESULTS/<testset>/<system>/predictions.jsonl."
    ),
    html: Path | None = typer.Option(
        None, "--html", dir_okay=False, help="Write the self-contained HTML report here."
    ),
    csv: Path | None = typer.Option(None, "--csv", help="Write the CSV tables into this folder."),
    trn: Path | None = typer.Option(None, "--trn", help="Write sclite trn files into this folder."),
    pairs: list[str] = typer.Option(None, "--pairs", help=_PAIRS),
    fields: list[str] = typer.Option(None, "--breakdown", help=_FIELDS),
    vocab: list[str] = typer.Option(None, "--vocab", help=_VOCAB),
    keywords: list[Path] = typer.Option(None, "--keywords", help=KEYWORDS_HELP),
    audio_levels: bool = typer.Option(False, "--audio-levels", help=_AUDIO_LEVELS),
    insertion_run: int = typer.Option(4, "--insertion-run", min=2, help=_INSERTION_RUN),
    silence_db: float = typer.Option(-35.0, "--silence-db", help=_SILENCE_DB),
    normalize: str | None = typer.Option(None, "--normalize", "-n", help=NORMALIZE_HELP),
    costs: str = typer.Option("sclite", "--costs", help=_COSTS),
    flavour: str = typer.Option("werbench", "--flavour", help=_FLAVOUR),
    resamples: int = typer.Option(
        1000, "--resamples", min=100, max=100_000, help="Bootstrap resamples (intervals and tests)."
    ),
    seed: int = typer.Option(0, "--seed", min=0, help="Bootstrap seed."),
    speaker_from_id: str | None = typer.Option(
        None, "--speaker-from-id", metavar="REGEX", help=SPEAKER_FROM_ID
    ),
    missing: str = typer.Option("deletions", "--missing", help=MISSING_HELP),
    no_cache: bool = typer.Option(False, "--no-cache", help="Neither read nor write the caches."),
) -> None:
    if html is None and csv is None and trn is None:
        typer.echo("error: give at least one of --html, --csv, --trn", err=True)
        raise typer.Exit(2)
    from werbench.analysis.audio_metrics import AudioMetricsCache
    from werbench.analysis.cache import cache_root
    from werbench.analysis.csv_files import writing_bar
    from werbench.analysis.hallucinations import HallucinationRules
    from werbench.analysis.hallucinations import audio_levels as hallucination_levels
    from werbench.analysis.report_csv import write_csv_report
    from werbench.analysis.report_data import build_report
    from werbench.analysis.report_html import write_html_report
    from werbench.analysis.report_trn import write_trn_export
    from werbench.analysis.table_cache import TableOptions, results_tables
    from werbench.analysis.vocabulary import load_vocabularies
    from werbench.analysis.word_classes import load_keywords
    from werbench.manifests.atomic import refuse_inputs
    from werbench.manifests.errors import ConfigError
    from werbench.manifests.normalize import get_normalizer
    from werbench.manifests.results import results_inputs

    refuse_inputs({"--html": html}, [*results_inputs(results), *(keywords or ())])
    if not math.isfinite(silence_db):
        raise ConfigError("--silence-db", f"expected a finite level in dBFS, got {silence_db}")
    written: list[Path] = []
    options = TableOptions(
        normalize=normalize, costs=costs, n_resamples=resamples, seed=seed, speaker_from_id=speaker_from_id,
        missing=missing,
    )  # fmt: skip
    tables = results_tables(results, options, use_cache=not no_cache, progress=True)
    analyses = html is not None or csv is not None
    if analyses:  # their word lists are checked before anything is written
        normalizer = get_normalizer(tables.normalizer)
        vocabulary = load_vocabularies(vocab or (), normalizer)
        unknown = sorted(set(vocabulary.by_testset) - set(tables.utterances["testset"]))
        if unknown:
            raise ConfigError("--vocab", f"no test set {unknown[0]!r} in {results}")
        lists = [load_keywords(path, normalizer) for path in keywords or ()]
    rows = len(tables.utterances)
    bar = writing_bar(rows * ((trn is not None) + (csv is not None) + (html is not None)), True)
    if trn is not None:
        written += write_trn_export(trn, tables.utterances)
        bar.update(rows)
    if analyses:
        rules = HallucinationRules(insertion_run=insertion_run, silence_db=silence_db)
        levels = (
            hallucination_levels(tables.utterances, AudioMetricsCache(cache_root())) if audio_levels else None
        )
        data = build_report(
            tables, pairs=pairs or None, fields=fields or None, vocabulary=vocabulary, keywords=lists,
            rules=rules, audio_levels=levels, flavour=flavour,  # type: ignore[arg-type]
            n_resamples=resamples, seed=seed, source=str(results.resolve()), progress=True,
        )  # fmt: skip
        if csv is not None:
            written += write_csv_report(csv, data)
            bar.update(rows)
        if html is not None:
            written.append(write_html_report(html, data))
            bar.update(rows)
    bar.close()
    for warning in tables.warnings:
        typer.echo(f"warning: {warning}", err=True)
    from werbench.analysis.score_cli import summary_text

    typer.echo(summary_text(tables))
    typer.echo(f"wrote {len(written)} files" + (f": {html}" if html else ""), err=True)


def register(app: typer.Typer) -> None:
    """Add ``werbench compare`` and ``werbench report`` to the root app."""
    app.command("compare", help=_COMPARE_HELP)(compare)
    app.command("report", help=_REPORT_HELP)(report)
