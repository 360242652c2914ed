"""Streaming read/write of NeMo JSON-lines manifests with errors that name file, line and field."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from manifests.atomic import atomic_write
from manifests.errors import ManifestError
from manifests.schema import CORE_FIELDS, Utterance


def _decoded_lines(path: Path) -> Iterator[tuple[int, str]]:
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ManifestError(path, f"not UTF-8 (byte {exc.start}): {raw[:60]!r}", line=number) from None
            text = text.rstrip("\r\n").lstrip("\ufeff")
            if text.strip():
                yield number, text


def _number(path: Path, line: int, row: dict[str, Any], name: str, default: float | None) -> float:
    value = row.get(name, default)
    if value is None:
        raise ManifestError(path, "required field is missing", line=line, field=name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ManifestError(path, f"expected a number, got {value!r}", line=line, field=name)
    if value < 0 or value != value:
        raise ManifestError(path, f"must be a non-negative number, got {value!r}", line=line, field=name)
    return float(value)


def _string(path: Path, line: int, row: dict[str, Any], name: str, required: bool) -> str | None:
    value = row.get(name)
    if value is None:
        if required:
            raise ManifestError(path, "required field is missing", line=line, field=name)
        return None
    if not isinstance(value, str):
        raise ManifestError(path, f"expected a string, got {type(value).__name__}", line=line, field=name)
    return value


def parse_line(path: Path, line: int, text: str) -> Utterance:
    """One JSON line -> Utterance; relative audio paths resolve against the manifest's folder."""
    try:
        row = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError(path, f"invalid JSON: {exc.msg} at column {exc.colno}", line=line) from None
    if not isinstance(row, dict):
        raise ManifestError(path, f"expected a JSON object, got {type(row).__name__}", line=line)
    audio = _string(path, line, row, "audio_filepath", required=True)
    if not audio:
        raise ManifestError(path, "empty path", line=line, field="audio_filepath")
    audio_path = Path(audio)
    if not audio_path.is_absolute():
        audio_path = (path.parent / audio_path).resolve()
    speaker = row.get("speaker")
    return Utterance(
        audio_filepath=str(audio_path),
        duration=_number(path, line, row, "duration", None),
        text=_string(path, line, row, "text", required=True) or "",
        utt_id=_string(path, line, row, "utt_id", required=False) or "",
        offset=_number(path, line, row, "offset", 0.0),
        speaker=None if speaker is None else str(speaker),
        extra={k: v for k, v in row.items() if k not in CORE_FIELDS},
    )


def read_manifest(path: str | Path, *, unique_ids: bool = True) -> Iterator[Utterance]:
    """Yield utterances lazily; raises ManifestError on the first bad line (or duplicate id)."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(path, "manifest file not found")
    seen: dict[str, int] = {}
    for number, text in _decoded_lines(path):
        utt = parse_line(path, number, text)
        if unique_ids:
            if utt.utt_id in seen:
                raise ManifestError(
                    path, f"duplicate utterance id {utt.utt_id!r} (first on line {seen[utt.utt_id]})",
                    line=number, field="utt_id",
                )
            seen[utt.utt_id] = number
        yield utt


def iter_json_rows(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Raw JSON objects with their line numbers, for readers that need fields beyond the manifest schema."""
    path = Path(path)
    for number, text in _decoded_lines(path):
        try:
            row = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ManifestError(path, f"invalid JSON: {exc.msg} at column {exc.colno}", line=number) from None
        if not isinstance(row, dict):
            raise ManifestError(path, f"expected a JSON object, got {type(row).__name__}", line=number)
        yield number, row


def write_manifest(path: str | Path, utterances: Iterable[Utterance], *, relative: bool = False) -> int:
    """Write atomically; with ``relative`` audio paths below the manifest's folder are stored relative."""
    path = Path(path)
    count = 0
    with atomic_write(path) as handle:
        for utt in utterances:
            row = utt.to_json(path.parent if relative else None)
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    return count
