"""``werbench score REF HYP...``: sclite-compatible scoring of one or more systems, as a table, JSON or CSV.

Imports of pandas/numba happen inside the command so that ``werbench --help`` stays fast.
"""

from __future__ import annotations

import json
import math
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import typer
from werbench.manifests.normalize import NORMALIZE_HELP

if TYPE_CHECKING:
    from werbench.analysis.tables import Tables

_HELP = """Score hypotheses against a reference with the sclite-identical aligner.

REF is a NeMo manifest or a sclite trn file, each HYP a result manifest (pred_text), an SDE-style
manifest (every pred_text_<system> field is a system), or a trn file; a system is named after its
file's stem. Or give a results directory (RESULTS/<testset>/<system>/predictions.jsonl) alone.
Utterances are matched by id (a trn line's id is the text in its final parentheses).
"""


SPEAKER_FROM_ID = (
    "Speakers of utterances without a speaker field, from their ids: the regex's group (or match), "
    "e.g. '^([^-]+)-'. Without it, per-speaker numbers use only real speaker fields."
)


MISSING_HELP = (
    "deletions (default): a failed or missing hypothesis counts as all deletions, so every score covers the "
    "whole reference set; ignore: they are left out of every score (sclite's decoded-utterances-only figure)."
)


def _pct(value: float) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{100 * value:.1f}"


def summary_text(tables: Tables) -> str:
    """The sclite-like summary: one row per system, percentages of reference words as sclite prints them."""
    header = [
        "system",
        "#utts",
        "#words",
        "Corr",
        "Sub",
        "Del",
        "Ins",
        "WER [95% CI]",
        "failed",
        "missing",
        "SER",
        "CER",
    ]
    lines = []
    for testset, group in tables.systems.groupby("testset", sort=False):
        rows = [header]
        for row in group.itertuples(index=False):
            words = row.ref_words or math.nan
            ci = f"{_pct(row.wer)} [{_pct(row.wer_lo)}, {_pct(row.wer_hi)}]"
            rows.append([
                row.system, str(row.utts), str(row.ref_words), _pct(row.C / words), _pct(row.S / words),
                _pct(row.D / words), _pct(row.I / words), ci, str(row.failed), str(row.missing),
                _pct(row.ser), _pct(row.cer),
            ])  # fmt: skip
        widths = [max(len(r[k]) for r in rows) for k in range(len(header))]
        rule = "-+-".join("-" * w for w in widths)
        lines.append(
            f"test set {testset}  (text mode {tables.normalizer}, costs {tables.costs}, CER {tables.cer}, "
            f"failed/missing: {tables.missing}"
            + (", compounds merged" if tables.compounds else "")
            + (", optional words deletable (sclite -D))" if tables.optional_deletable else ")")
        )
        lines.append(rule)
        for n, r in enumerate(rows):
            cells = [r[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True))]
            lines.append(" | ".join(cells))
            if n == 0:
                lines.append(rule)
        lines.append(rule)
    return "\n".join(lines)


_JSON_BLOCK = 100_000  # per-utterance entries turned into Python strings at a time


def _system_key(testset: str, system: str, several_testsets: bool) -> str:
    return f"{testset}/{system}" if several_testsets else system


def write_score_json(handle: TextIO, tables: Tables) -> None:
    """``{"systems": {name: {"totals": {C,S,D,I,wer,failed,missing}, "utterances": {id: {C,S,D,I}}, ...}}}``
    as JSON text into ``handle``.

    ``wer`` is in percent (4 decimals) like sclite's; ``utterances`` holds the scored ones (their counts
    make the totals), ``failed`` maps every failed or missing utterance to why; ``missing`` says how they
    were scored. With several test sets a system is keyed ``<testset>/<system>``. The per-utterance maps
    are written as text by Arrow, a block of rows at a time (a dict per utterance costs ~2 s per million,
    and one string of them all its size again), the rest by ``json``.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    several = tables.systems["testset"].nunique() > 1
    systems: dict[str, Any] = {}
    utts = tables.utterances
    ids = pa.array(utts["utt_id"].array, pa.large_string())
    counts = [pc.cast(pa.array(utts[name].to_numpy()), pa.large_string()) for name in "CSDI"]
    parts = [': {"C": ', counts[0], ', "S": ', counts[1], ', "D": ', counts[2], ', "I": ', counts[3], "}", ""]
    entries = pc.binary_join_element_wise(
        _json_keys(ids), *(pa.scalar(p, pa.large_string()) if isinstance(p, str) else p for p in parts)
    )
    failed, scored = utts["failed"].to_numpy(bool), utts["scored"].to_numpy(bool)
    failures = utts["failure"].tolist()
    raw: dict[str, pa.Array] = {}
    marker = f"\x00{uuid.uuid4().hex}:"
    rows_of = utts.groupby(["testset", "system"], sort=False).indices
    for row in tables.systems.itertuples(index=False):
        rows = rows_of[(row.testset, row.system)]
        placeholder = f"{marker}{len(raw)}"
        raw[json.dumps(placeholder)] = entries.take(rows[scored[rows]])
        systems[_system_key(row.testset, row.system, several)] = {
            "totals": {
                "C": row.C, "S": row.S, "D": row.D, "I": row.I,
                "wer": None if math.isnan(row.wer) else round(100 * row.wer, 4),
                "failed": row.failed, "missing": row.missing,
            },
            "utterances": placeholder,
            "failed": {ids[k].as_py(): failures[k] for k in rows[failed[rows]].tolist()},
            "testset": row.testset,
            "wer_ci95": [_json_float(row.wer_lo, 100), _json_float(row.wer_hi, 100)],
            "cer": _json_float(row.cer, 100),
            "ser": _json_float(row.ser, 100),
            "utts": row.utts,
            "ref_words": row.ref_words,
        }  # fmt: skip
    text = json.dumps(
        {
            "systems": systems,
            "normalizer": tables.normalizer,
            "costs": tables.costs,
            "cer": tables.cer,
            "compounds_merged": tables.compounds,
            "optional_deletable": tables.optional_deletable,
            "missing": tables.missing,
            "warnings": tables.warnings,
        },
        ensure_ascii=False,
        allow_nan=False,
    )
    for placeholder, rows in raw.items():
        before, text = text.split(placeholder, 1)
        handle.write(before + "{")
        for start in range(0, len(rows), _JSON_BLOCK):
            handle.write(", " if start else "")
            handle.write(", ".join(rows.slice(start, _JSON_BLOCK).to_pylist()))
        handle.write("}")
    handle.write(text)


def _json_keys(ids):  # a pyarrow array (imported inside the command)
    """Each id as a JSON string (``json.dumps``' escapes only where an id needs them)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    plain = pc.invert(pc.match_substring_regex(ids, r'["\\\x00-\x1f]'))
    if pc.all(plain).as_py() is not False:
        quote = pa.scalar('"', pa.large_string())
        return pc.binary_join_element_wise(quote, ids, quote, pa.scalar("", pa.large_string()))
    return pa.array([json.dumps(v, ensure_ascii=False) for v in ids.to_pylist()], pa.large_string())


def _json_float(value: float, scale: float = 1.0) -> float | None:
    return None if value is None or math.isnan(value) else round(scale * value, 4)


def utterances_csv(csv_out: Path) -> Path:
    """Where ``--csv FILE`` puts the per-utterance table: beside FILE."""
    return csv_out.with_name(f"{csv_out.stem}_utterances.csv")


def write_outputs(
    tables: Tables, json_out: Path | None, csv_out: Path | None, progress: bool = False
) -> list[Path]:
    from werbench.analysis.csv_files import write_frame_csv, writing_bar
    from werbench.manifests.atomic import atomic_write

    written = []
    rows = len(tables.utterances)
    with writing_bar(rows * ((json_out is not None) + (csv_out is not None)), progress) as bar:
        if json_out is not None:
            with atomic_write(json_out) as handle:
                write_score_json(handle, tables)
                handle.write("\n")
            written.append(json_out)
            bar.update(rows)
        if csv_out is not None:
            per_utt = utterances_csv(csv_out)
            written += [write_frame_csv(csv_out, tables.systems), write_frame_csv(per_utt, tables.utterances)]
            bar.update(rows)
    return written


def score(
    ref: Path = typer.Argument(..., help="Reference manifest or trn file, or a results directory alone."),
    hyps: list[Path] = typer.Argument(None, help="Hypothesis files (result/SDE manifests or trn files)."),
    normalize: str | None = typer.Option(
        None, "--normalize", "-n", help=NORMALIZE_HELP
    ),
    costs: str = typer.Option("sclite", "--costs", help="sclite (4/3/3) or unit (1/1/1, ties as jiwer)."),
    json_out: Path | None = typer.Option(
        None, "--json", dir_okay=False, help="Write counts and totals as JSON."
    ),
    csv_out: Path | None = typer.Option(
        None, "--csv", dir_okay=False,
        help="Write the per-system table here and the per-utterance table beside it (<name>_utterances.csv).",
    ),
    speaker_ci: bool = typer.Option(False, "--speaker-ci", help="Bootstrap the WER interval over speakers."),
    speaker_from_id: str | None = typer.Option(
        None, "--speaker-from-id", metavar="REGEX", help=SPEAKER_FROM_ID
    ),
    cer: str = typer.Option(
        "levenshtein", "--cer", help="levenshtein: character edit distance, spaces counted, as jiwer, NeMo "
        "and SDE count CER; sclite: what sclite -c reports (4/3/3 weights, spaces dropped)."
    ),
    cer_spaces: bool | None = typer.Option(None, "--cer-spaces/--cer-no-spaces", hidden=True),
    merge_compounds: bool = typer.Option(
        False, "--merge-compounds", help="Score split and joined compounds ('data base' vs 'database', "
        "either way round) as correct, as the Open ASR Leaderboard does (kaldialign merge_compounds); the "
        "reference keeps its own word count."
    ),
    optional_deletable: bool = typer.Option(
        False, "--optional-deletable", help="sclite's -D: a word in parentheses such as (uh), in the "
        "reference or the hypothesis, matches the word inside; left out of the alignment it costs 2 instead "
        "of 3 and counts as correct (so C + S + D can exceed the reference's words, as in sclite)."
    ),
    resamples: int = typer.Option(
        1000, "--resamples", min=100, max=100_000, help="Bootstrap resamples (WER CI)."
    ),
    seed: int = typer.Option(0, "--seed", min=0, help="Bootstrap seed."),
    missing: str = typer.Option("deletions", "--missing", help=MISSING_HELP),
    no_cache: bool = typer.Option(False, "--no-cache", help="Neither read nor write the caches."),
) -> None:  # fmt: skip
    from werbench.analysis.table_cache import TableOptions, tables_for
    from werbench.manifests.atomic import refuse_inputs

    per_utt = utterances_csv(csv_out) if csv_out else None
    refuse_inputs({"--json": json_out, "--csv": csv_out, "--csv (utterances)": per_utt}, [ref, *(hyps or [])])
    if cer_spaces is not None:  # the old spelling, kept working: spaces counted or dropped as --cer says
        cer = "levenshtein" if cer_spaces else "sclite"
        typer.echo(f"warning: --cer-spaces/--cer-no-spaces are deprecated; use --cer {cer}", err=True)
    options = TableOptions(
        normalize,
        costs,
        cer,
        resamples,
        seed,
        speaker_ci=speaker_ci,
        speaker_from_id=speaker_from_id,
        compounds=merge_compounds,
        missing=missing,
        optional_deletable=optional_deletable,
    )
    tables = tables_for(ref, hyps or [], options, use_cache=not no_cache, progress=True)
    written = write_outputs(tables, json_out, csv_out, progress=True)
    for warning in tables.warnings:
        typer.echo(f"warning: {warning}", err=True)
    typer.echo(summary_text(tables))
    for path in written:
        typer.echo(f"wrote {path}", err=True)


def register(app: typer.Typer) -> None:
    """Add ``werbench score`` to the root app."""
    app.command("score", help=_HELP)(score)
