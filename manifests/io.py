"""Reading and writing NeMo JSON-lines manifests, with errors that name file, line and field.

``load_manifest(path)`` is the one way in (as lhotse's ``load_manifest``): iterate it for ``Utterance``
records, streamed by the strict line reader, or take ``.frame()`` for the whole file in columns through
pyarrow's fast path (``manifests.columnar``), which falls back to the line reader whenever that must decide.
``iter_json_rows`` reads JSON-lines files that are not manifests (predictions, text sources) row by row.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from werbench.manifests.atomic import atomic_write
from werbench.manifests.errors import ManifestError
from werbench.manifests.schema import CORE_FIELDS, Utterance, duplicate_id_message

if TYPE_CHECKING:
    import pandas as pd
MAX_LINE_BYTES = 32 * 1024 * 1024  # one JSON line; longer ones are refused before they are decoded
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _surrogate_path(value: Any, where: str = "") -> str | None:
    """Key path of the first string (or key) holding a lone UTF-16 surrogate, which no UTF-8 file can hold."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return where or "value"
        return None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        if isinstance(key, str) and _surrogate_path(key) is not None:
            return f"{where}.{key!a}".lstrip(".")
        found = _surrogate_path(
            item, f"{where}[{key}]" if isinstance(key, int) else f"{where}.{key}".lstrip(".")
        )
        if found:
            return found
    return None


def loads_json(path: str | Path, text: str, *, line: int | None = None) -> Any:
    """``json.loads`` for a file werbench reads: every way it can fail (syntax, nesting too deep, a number too
    long, a lone surrogate such as ``"\\ud800"``) becomes a ManifestError naming file, line and key path."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:  # a whole file: the decoder names the line (file:LINE:)
        at = line if line is not None else exc.lineno
        raise ManifestError(path, f"invalid JSON: {exc.msg} at column {exc.colno}", line=at) from None
    except RecursionError:
        raise ManifestError(path, "invalid JSON: nested too deeply", line=line) from None
    except ValueError as exc:  # an integer beyond Python's digit limit
        raise ManifestError(path, f"invalid JSON: {exc}", line=line) from None
    if _SURROGATE_ESCAPE.search(text):
        try:
            field = _surrogate_path(data)
        except RecursionError:
            field = "value"
        if field is not None:
            raise ManifestError(
                path,
                "lone UTF-16 surrogate escape (not a character; cannot be written as UTF-8)",
                line=line,
                field=field,
            )
    return data


def load_json_file(path: str | Path) -> Any:
    """A whole JSON file (run.json, Whisper output ...), with ``loads_json``'s errors."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ManifestError(path, f"cannot read: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ManifestError(
            path, f"not UTF-8 (byte {exc.start}): {raw[exc.start : exc.start + 20]!r}"
        ) from None
    return loads_json(path, text)


def undecodable_field(raw: bytes) -> str | None:
    """Which field of a JSON line holds the bytes that are not UTF-8, so that the error can name it."""
    try:
        row = json.loads(raw.decode("utf-8", errors="replace"))
    except json.JSONDecodeError:
        return None
    if not isinstance(row, dict):
        return None
    return next(
        (key for key, value in row.items() if "\ufffd" in json.dumps(value, ensure_ascii=False)), None
    )


def iter_lines(
    path: str | Path, encoding: str = "utf-8", *, json_lines: bool = False
) -> Iterator[tuple[int, str]]:
    """Non-blank lines with their 1-based numbers, CR/LF and BOM removed; undecodable bytes name the line
    (and, for ``json_lines``, the field holding them), and so does a NUL byte, which no text werbench reads
    line by line may hold (a binary file, or a damaged one)."""
    path = Path(path)
    with open_input(path) as handle:
        for number, raw in enumerate(bounded_lines(handle), start=1):
            if raw is None:
                raise ManifestError(
                    path, f"line longer than {MAX_LINE_BYTES // 2**20} MiB (limit of one line)", line=number
                )
            try:
                text = raw.decode(encoding)
            except UnicodeDecodeError as exc:
                snippet = raw[max(0, exc.start - 20) : exc.start + 20]
                field = undecodable_field(raw) if json_lines else None
                raise ManifestError(
                    path, f"not {encoding.upper()} (byte {exc.start}): {snippet!r}", line=number, field=field
                ) from None
            if "\0" in text:
                raise ManifestError(path, "NUL byte in the line (a binary file?)", line=number)
            text = text.rstrip("\r\n").lstrip("\ufeff")
            if text.strip():
                yield number, text


def undecodable_text(path: Path, exc: UnicodeDecodeError) -> ManifestError:
    """The error for a text file read whole that is not UTF-8: the line reader's own, naming the line,
    where it can read the file (not a .gz)."""
    if not path.name.lower().endswith(".gz"):
        for _ in iter_lines(path):  # raises at the first line it cannot take
            pass
    return ManifestError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})")


def refuse_empty(path: str | Path, what: str = "manifest") -> None:
    """A file without one non-blank line is a ManifestError: an empty input is a mistake, never an empty
    result (checked before any output is written or any model loaded)."""
    lines = iter_lines(path)
    try:
        if next(lines, None) is None:
            raise ManifestError(path, f"no utterances: the {what} is empty")
    finally:
        lines.close()


def open_input(path: Path):
    """Open an input file for reading; a missing file, a folder, a symlink loop or no permission is a
    ManifestError naming it."""
    try:
        return path.open("rb")
    except IsADirectoryError:
        raise ManifestError(path, "is a folder, expected a file") from None
    except OSError as exc:
        raise ManifestError(path, f"cannot read: {exc.strerror or exc}") from None


def bounded_lines(handle: Any) -> Iterator[bytes | None]:
    """Lines of a binary file, each read at most ``MAX_LINE_BYTES`` at a time; None for a longer line."""
    while True:
        raw = handle.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            yield None
            return
        yield raw


def _number_problem(row: dict[str, Any], name: str, required: bool) -> str | None:
    value = row.get(name)
    if value is None:
        return "required field is missing" if required else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"expected a number, got {value!r}"
    if value < 0 or value != value or value == float("inf"):
        return f"must be a non-negative finite number, got {value!r}"
    return None


def _string_problem(row: dict[str, Any], name: str, required: bool) -> str | None:
    value = row.get(name)
    if value is None:
        return "required field is missing" if required else None
    if not isinstance(value, str):
        return f"expected a string, got {type(value).__name__}"
    return None


def field_problems(row: dict[str, Any]) -> list[tuple[str, str]]:
    """Every ``(field, message)`` wrong with one decoded manifest row; the validator reports them all."""
    checks = (
        ("audio_filepath", _string_problem(row, "audio_filepath", True)),
        ("duration", _number_problem(row, "duration", True)),
        ("text", _string_problem(row, "text", True)),
        ("offset", _number_problem(row, "offset", False)),
        ("utt_id", _string_problem(row, "utt_id", False)),
    )
    problems = [(name, message) for name, message in checks if message]
    if not problems and not row["audio_filepath"]:
        problems.append(("audio_filepath", "empty path"))
    elif not problems and "\0" in row["audio_filepath"]:
        problems.append(("audio_filepath", "NUL byte in the path"))
    speaker = row.get("speaker")
    if isinstance(speaker, dict | list):
        problems.append(("speaker", f"expected a string, got {type(speaker).__name__}"))
    return problems


def decode_row(path: Path, line: int, text: str) -> dict[str, Any]:
    """One line's JSON object, or ManifestError naming file and line."""
    row = loads_json(path, text, line=line)
    if not isinstance(row, dict):
        raise ManifestError(path, f"expected a JSON object, got {type(row).__name__}", line=line)
    return row


def row_to_utterance(path: Path, row: dict[str, Any], audio_base: Path | None = None) -> Utterance:
    """A checked row -> Utterance; relative audio paths resolve against ``audio_base`` (SDE's
    ``--audio-base-path``), by default the manifest's folder."""
    audio_path = Path(row["audio_filepath"])
    if not audio_path.is_absolute():
        audio_path = ((audio_base or path.parent) / audio_path).resolve()
    speaker = row.get("speaker")
    return Utterance(
        audio_filepath=str(audio_path),
        duration=float(row["duration"]),
        text=row["text"],
        utt_id=row.get("utt_id") or "",
        offset=float(row.get("offset") or 0.0),
        speaker=None if speaker is None else str(speaker),
        extra={k: v for k, v in row.items() if k not in CORE_FIELDS},
    )


def parse_line(path: Path, line: int, text: str, audio_base: Path | None = None) -> Utterance:
    """One JSON line -> Utterance; raises ManifestError for the first problem found."""
    row = decode_row(path, line, text)
    problems = field_problems(row)
    if problems:
        name, message = problems[0]
        raise ManifestError(path, message, line=line, field=name)
    return row_to_utterance(path, row, audio_base)


@dataclass(frozen=True, slots=True)
class Manifest:
    """A manifest file: iterate it for utterances (lazily; the first bad line or duplicate id is a
    ManifestError), or take ``frame()`` for a row per utterance in file order under exactly the same rules."""

    path: Path
    unique_ids: bool = True
    audio_base: Path | None = None  # where relative audio paths start; None: the manifest's folder

    def __iter__(self) -> Iterator[Utterance]:
        return (utt for _, utt in self.numbered())

    def numbered(self) -> Iterator[tuple[int, Utterance]]:
        """``(line, utterance)``: for writers whose own checks must name the manifest's line."""
        seen: dict[str, int] = {}
        for number, text in iter_lines(self.path, json_lines=True):
            utt = parse_line(self.path, number, text, self.audio_base)
            if self.unique_ids:
                if utt.utt_id in seen:
                    raise ManifestError(
                        self.path,
                        duplicate_id_message(utt.utt_id, seen[utt.utt_id], '"utt_id"' not in text),
                        line=number,
                        field="utt_id",
                    )
                seen[utt.utt_id] = number
            yield number, utt

    def frame(self) -> pd.DataFrame:
        """Columns ``utt_id, audio_filepath, duration, text, offset, speaker`` then every extra field."""
        from werbench.manifests.columnar import fast_manifest_frame, frame_of_utterances  # pandas, pyarrow

        frame = fast_manifest_frame(self.path, self.audio_base)
        return frame if frame is not None else frame_of_utterances(self)  # names line and field of a problem


def load_manifest(path: str | Path, *, unique_ids: bool = True, audio_base: Path | None = None) -> Manifest:
    """The manifest at ``path`` (a missing file is a ManifestError now, a bad line when it is read)."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(path, "manifest file not found")
    return Manifest(path, unique_ids, audio_base)


def iter_json_rows(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Raw JSON objects with their line numbers, for readers that need fields beyond the manifest schema."""
    path = Path(path)
    for number, text in iter_lines(path, json_lines=True):
        yield number, decode_row(path, number, text)


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
