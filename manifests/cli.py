"""``werbench manifest ...``: import, validate and describe test-set manifests."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from werbench.manifests.atomic import refuse_inputs
from werbench.manifests.errors import ConfigError, ManifestError
from werbench.manifests.importers import IMPORTERS, ImportOptions, import_corpus
from werbench.manifests.importers.wsj import CHANNELS
from werbench.manifests.io import load_manifest, refuse_empty
from werbench.manifests.normalize import NORMALIZERS, get_normalizer
from werbench.manifests.stats import manifest_stats, stats_tables
from werbench.manifests.trn import trn_id_ok, write_trn
from werbench.manifests.validate import ValidationOptions, validate_manifest
from werbench.manifests.wsj_markup import VP_MODES

manifest_app = typer.Typer(
    help="Import, validate and describe NeMo JSON-lines test-set manifests.", no_args_is_help=True
)

_NORMALIZER_NAMES = ", ".join(n.name for n in NORMALIZERS)
_FORMATS_HELP = "\n\n".join(f"{name}: {imp.layout}." for name, imp in sorted(IMPORTERS.items()))
_SUBSET_HELP = "; ".join(
    f"{name}: {imp.subset_help}" for name, imp in sorted(IMPORTERS.items()) if imp.subset_help
)


def _rates(rates: Counter[int]) -> str:
    return ", ".join(f"{rate} Hz x{count}" for rate, count in rates.most_common()) or "none read"


@manifest_app.command(
    "import",
    help=f"Import a corpus in FORMAT from SRC into a NeMo manifest (durations from the audio headers).\n\n"
    f"Formats:\n\n{_FORMATS_HELP}",
)
def import_command(
    format_name: str = typer.Argument(
        ..., metavar="FORMAT", help=f"Corpus format: {', '.join(sorted(IMPORTERS))}."
    ),
    src: Path = typer.Argument(
        ..., metavar="SRC", help="The corpus folder or listing file, as the format list above describes."
    ),
    output: Path = typer.Option(
        ...,
        "-o",
        "--output",
        dir_okay=False,
        help="Manifest to write (JSON lines); written atomically, never half.",
    ),
    normalize: str = typer.Option(
        "none", "--normalize", help=f"Normaliser applied to each text before writing: {_NORMALIZER_NAMES}."
    ),
    subset: str | None = typer.Option(None, "--subset", help=f"Which part of the corpus. {_SUBSET_HELP}."),
    audio_dir: Path | None = typer.Option(
        None,
        "--audio-dir",
        help="Where audio lives when the listing's paths are relative or absent "
        "(trn: <utt_id>.<ext> below it; commonvoice: instead of clips/; deepspeech, kaldi: base of "
        "relative paths).",
    ),
    wsj_channel: str = typer.Option(
        "wv1",
        "--wsj-channel",
        help=f"WSJ microphone: {' or '.join(CHANNELS)} (wv1 = close-talking Sennheiser).",
    ),
    wsj_cleanup: bool = typer.Option(
        True,
        "--wsj-cleanup/--no-wsj-cleanup",
        help="WSJ: remove transcript markup (noise markers, *, :, ~, fragments; manifests/wsj_markup.py).",
    ),
    wsj_vp: str = typer.Option(
        "words",
        "--wsj-vp",
        help=f"WSJ verbalised punctuation (,COMMA .PERIOD ...): {' or '.join(VP_MODES)} "
        "(words keeps the spoken name, drop removes the token).",
    ),
    relative: bool = typer.Option(
        False,
        "--relative-paths/--absolute-paths",
        help="Write audio paths relative to the manifest's folder when the audio lies below it.",
    ),
    skip_bad: bool = typer.Option(
        False,
        "--skip-bad",
        help="Leave out utterances with missing or unreadable audio (each is listed) "
        "instead of stopping at the first.",
    ),
) -> None:
    if wsj_vp not in VP_MODES:
        raise ConfigError("--wsj-vp", f"must be one of {', '.join(VP_MODES)}, got {wsj_vp!r}")
    refuse_inputs({"--output": output}, [src])
    normalizer = None if normalize == "none" else get_normalizer(normalize)
    options = ImportOptions(subset, audio_dir, wsj_channel, wsj_cleanup, wsj_vp)  # type: ignore[arg-type]
    summary = import_corpus(
        format_name, src, output, options, normalizer=normalizer, skip_bad=skip_bad, relative=relative
    )
    for message in summary.skipped:
        typer.echo(f"skipped: {message}", err=True)
    typer.echo(
        f"wrote {summary.written} utterances ({summary.seconds / 3600:.3f} h) to {summary.output}; "
        f"sample rates: {_rates(summary.sample_rates)}"
        + (f"; skipped {len(summary.skipped)}" if summary.skipped else "")
        + (f"; {summary.empty_text} with empty text" if summary.empty_text else "")
    )


@manifest_app.command("validate")
def validate_command(
    files: list[Path] = typer.Argument(..., help="Manifests to check (JSON lines)."),
    check_audio: bool = typer.Option(
        True,
        "--audio/--no-audio",
        help="Open every audio header: exists, readable, duration and sample rate.",
    ),
    tolerance: float = typer.Option(
        0.1, "--tolerance", min=0.0, help="Seconds a duration may differ from the audio header's length."
    ),
    sample_rate: int | None = typer.Option(
        None, "--sample-rate", help="Report audio whose sample rate differs from this (Hz) as an error."
    ),
    allow_empty_text: bool = typer.Option(
        False, "--allow-empty-text", help="Accept utterances with empty text."
    ),
    strict: bool = typer.Option(
        False, "--strict", help="Exit 1 on warnings too (CRLF, blank lines, fast speech)."
    ),
) -> None:
    """Check manifests and print every problem as file:line: field: message; exit 1 when there are errors."""
    options = ValidationOptions(check_audio, tolerance, sample_rate, allow_empty_text)
    failed = False
    for path in files:
        report = validate_manifest(path, options)
        for problem in report.problems:
            typer.echo(str(problem))
        typer.echo(
            f"{path}: {report.utterances} utterances, {report.seconds / 3600:.3f} h, sample rates "
            f"{_rates(report.sample_rates)}"
            + (f", {report.reference_only} reference-only" if report.reference_only else "")
            + f"; {len(report.errors)} error(s), {len(report.warnings)} warning(s)"
        )
        failed |= bool(report.errors) or (strict and bool(report.warnings))
    if failed:
        raise typer.Exit(1)


@manifest_app.command("stats")
def stats_command(
    files: list[Path] = typer.Argument(..., help="Manifests to describe."),
    normalize: str = typer.Option(
        "none", "--normalize", help=f"Count words and characters after this normaliser: {_NORMALIZER_NAMES}."
    ),
) -> None:
    """Utterances, hours, speakers, vocabulary, alphabet, and duration/word-count distributions."""
    console = Console()
    normalizer = None if normalize == "none" else get_normalizer(normalize)
    for path in files:
        stats = manifest_stats(path, normalizer)
        for table in stats_tables(stats):
            console.print(table)
        if stats.duplicate_ids:
            typer.echo(f"warning: {path}: {stats.duplicate_ids} duplicate utterance ids", err=True)


@manifest_app.command("normalizers")
def normalizers_command(
    text: str | None = typer.Option(None, "--text", help="Show what each normaliser makes of this text."),
) -> None:
    """List the text normalisers with the spec that results record (name@version)."""
    table = Table("spec", "what it does" if text is None else "output")
    for normalizer in NORMALIZERS:
        table.add_row(
            normalizer.spec, Text(normalizer.description if text is None else repr(normalizer(text)))
        )
    Console().print(table)


@manifest_app.command("to-trn")
def to_trn_command(
    manifest: Path = typer.Argument(..., help="Manifest whose texts to export."),
    output: Path = typer.Option(
        ..., "-o", "--output", dir_okay=False, help="trn file to write: 'text (utt_id)' lines."
    ),
    field: str = typer.Option("text", "--field", help="Which field to export, e.g. text or pred_text."),
    normalize: str = typer.Option(
        "none", "--normalize", help=f"Normaliser applied first: {_NORMALIZER_NAMES}."
    ),
) -> None:
    """Export a manifest's references (or any text field) as an sclite trn file."""
    refuse_inputs({"--output": output}, [manifest])
    refuse_empty(manifest)
    normalizer = get_normalizer(normalize)

    def pairs() -> Iterator[tuple[str, str]]:
        for line, utt in load_manifest(manifest).numbered():
            value = utt.text if field == "text" else utt.extra.get(field)
            if not isinstance(value, str):
                raise ManifestError(
                    manifest, f"utterance {utt.utt_id!r} has no string field", line=line, field=field
                )
            if not trn_id_ok(utt.utt_id):
                raise ManifestError(
                    manifest,
                    f"utterance id {utt.utt_id!r} cannot be written to a trn file (spaces or parentheses)",
                    line=line,
                    field="utt_id",
                )
            yield utt.utt_id, normalizer(value)

    count = write_trn(output, pairs())
    typer.echo(f"wrote {count} lines to {output}")


def register(app: typer.Typer) -> None:
    app.add_typer(manifest_app, name="manifest")
