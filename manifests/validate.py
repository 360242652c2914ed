"""Check a manifest completely and report every problem as ``file:line: field: message``.

Unlike ``load_manifest``, which stops at the first bad line, this keeps going so that one run lists all
that needs fixing. Errors make ``werbench manifest validate`` exit 1; warnings (CRLF line endings, blank
lines, implausibly fast speech) only with ``--strict``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tqdm import tqdm
from werbench.manifests.audio import AudioInfo, audio_info
from werbench.manifests.errors import ManifestError
from werbench.manifests.io import (
    MAX_LINE_BYTES,
    bounded_lines,
    field_problems,
    loads_json,
    open_input,
    row_to_utterance,
    undecodable_field,
)
from werbench.manifests.schema import Utterance

Severity = Literal["error", "warning"]
MAX_WORDS_PER_SECOND = 10.0


@dataclass(frozen=True, slots=True)
class Problem:
    path: str
    line: int | None
    field: str | None
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        label = "warning: " if self.severity == "warning" else ""
        return (
            f"{where}: {self.field}: {label}{self.message}"
            if self.field
            else f"{where}: {label}{self.message}"
        )


@dataclass(slots=True)
class ValidationReport:
    path: Path
    utterances: int = 0
    seconds: float = 0.0
    reference_only: int = 0
    problems: list[Problem] = field(default_factory=list)
    sample_rates: Counter[int] = field(default_factory=Counter)
    channels: Counter[int] = field(default_factory=Counter)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]


@dataclass(frozen=True, slots=True)
class ValidationOptions:
    check_audio: bool = True
    tolerance: float = 0.1
    sample_rate: int | None = None
    allow_empty_text: bool = False


@dataclass(slots=True)
class _RawLine:
    number: int
    text: str | None
    problem: str | None
    crlf: bool
    field: str | None = None


def _raw_lines(path: Path) -> Iterator[_RawLine]:
    with open_input(path) as handle:
        for number, raw in enumerate(bounded_lines(handle), start=1):
            if raw is None:
                yield _RawLine(number, None, f"line longer than {MAX_LINE_BYTES // 2**20} MiB", False)
                return
            crlf = raw.endswith(b"\r\n")
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                snippet = raw[max(0, exc.start - 20) : exc.start + 20]
                yield _RawLine(
                    number, None, f"not UTF-8 (byte {exc.start}): {snippet!r}", crlf, undecodable_field(raw)
                )
                continue
            if number == 1 and text.startswith("\ufeff"):
                text = text[1:]
            yield _RawLine(number, text.rstrip("\r\n"), None, crlf)


class _Checker:
    def __init__(self, path: Path, options: ValidationOptions) -> None:
        self.path = path
        self.options = options
        self.report = ValidationReport(path)
        self.ids: dict[str, int] = {}
        self.infos: dict[str, AudioInfo | str] = {}

    def add(
        self, line: int | None, field_name: str | None, message: str, severity: Severity = "error"
    ) -> None:
        self.report.problems.append(Problem(str(self.path), line, field_name, message, severity))

    def line(self, raw: _RawLine) -> None:
        if raw.problem:
            self.add(raw.number, raw.field, raw.problem)
            return
        assert raw.text is not None
        if not raw.text.strip():
            self.add(raw.number, None, "blank line (NeMo's manifest reader fails on it)", "warning")
            return
        try:
            row = loads_json(self.path, raw.text, line=raw.number)
        except ManifestError as exc:
            self.add(raw.number, exc.field, exc.message)
            return
        if not isinstance(row, dict):
            self.add(raw.number, None, f"expected a JSON object, got {type(row).__name__}")
            return
        problems = field_problems(row)
        for name, message in problems:
            self.add(raw.number, name, message)
        if not problems:
            self.utterance(raw.number, row, row_to_utterance(self.path, row))

    def utterance(self, line: int, row: dict[str, Any], utt: Utterance) -> None:
        report = self.report
        report.utterances += 1
        report.seconds += utt.duration
        if utt.utt_id in self.ids:
            self.add(
                line,
                "utt_id",
                f"duplicate utterance id {utt.utt_id!r} (first on line {self.ids[utt.utt_id]})",
            )
        else:
            self.ids[utt.utt_id] = line
        if not utt.text.strip() and not self.options.allow_empty_text:
            self.add(line, "text", "empty text (WER is undefined for it; --allow-empty-text accepts it)")
        if row.get("reference_only") is True:
            report.reference_only += 1
            return
        if utt.duration == 0:
            self.add(line, "duration", "zero duration")
        words = len(utt.text.split())
        if utt.duration > 0 and words / utt.duration > MAX_WORDS_PER_SECOND:
            self.add(
                line, "text", f"{words} words in {utt.duration:.2f} s is implausibly fast speech", "warning"
            )
        if self.options.check_audio:
            self.audio(line, utt, "offset" in row)

    def _info(self, audio: str) -> AudioInfo | str:
        if audio not in self.infos:
            try:
                self.infos[audio] = audio_info(audio)
            except ManifestError as exc:
                self.infos[audio] = f"{audio}: {exc.message}"
        return self.infos[audio]

    def audio(self, line: int, utt: Utterance, is_segment: bool) -> None:
        info = self._info(utt.audio_filepath)
        if isinstance(info, str):
            self.add(line, "audio_filepath", info)
            return
        self.report.sample_rates[info.sample_rate] += 1
        self.report.channels[info.channels] += 1
        expected = self.options.sample_rate
        if expected and info.sample_rate != expected:
            self.add(line, "audio_filepath", f"sample rate {info.sample_rate} Hz, expected {expected} Hz")
        tolerance = self.options.tolerance
        if is_segment:
            if utt.offset >= info.duration:
                self.add(
                    line,
                    "offset",
                    f"offset {utt.offset} s is past the end of the audio ({info.duration:.3f} s)",
                )
            elif utt.offset + utt.duration > info.duration + tolerance:
                self.add(
                    line,
                    "duration",
                    f"segment {utt.offset} + {utt.duration} s runs past the end of the audio "
                    f"({info.duration:.3f} s)",
                )
        elif abs(utt.duration - info.duration) > tolerance:
            self.add(
                line,
                "duration",
                f"{utt.duration:.3f} s, but the audio header says {info.duration:.3f} s "
                f"(tolerance {tolerance} s)",
            )


def validate_manifest(
    path: str | Path, options: ValidationOptions | None = None, *, progress: bool = True
) -> ValidationReport:
    """Every problem of one manifest; never raises for bad content, only collects."""
    path = Path(path)
    checker = _Checker(path, options or ValidationOptions())
    if not path.is_file():
        checker.add(None, None, "manifest file not found")
        return checker.report
    crlf_lines: list[int] = []
    lines = tqdm(
        _raw_lines(path), desc=f"validate {path.name}", unit="line", disable=None if progress else True
    )
    for raw in lines:
        checker.line(raw)
        if raw.crlf:
            crlf_lines.append(raw.number)
    if crlf_lines:
        checker.add(
            crlf_lines[0],
            None,
            f"Windows line endings (CRLF) on {len(crlf_lines)} line(s), first here; accepted, but other "
            "tools may read the CR as part of the text",
            "warning",
        )
    if checker.report.utterances == 0 and not checker.report.errors:
        checker.add(None, None, "no utterances")
    checker.report.problems.sort(key=lambda p: (p.line or 0, p.severity))
    return checker.report
