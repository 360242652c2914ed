"""Turn an importer's entries into a manifest: read each audio header once, normalise, write atomically."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm
from werbench.manifests.audio import AudioInfo, audio_info
from werbench.manifests.errors import ManifestError
from werbench.manifests.importers.base import IMPORTERS, Entry, ImportOptions
from werbench.manifests.io import write_manifest
from werbench.manifests.normalize import Normalizer
from werbench.manifests.schema import Utterance

SEGMENT_TOLERANCE_S = 0.05


@dataclass(slots=True)
class ImportSummary:
    """What an import wrote, and every utterance it skipped (with ``--skip-bad``) and why."""

    output: Path
    written: int = 0
    seconds: float = 0.0
    empty_text: int = 0
    skipped: list[str] = field(default_factory=list)
    sample_rates: Counter[int] = field(default_factory=Counter)


class _Converter:
    def __init__(self, normalizer: Normalizer | None, summary: ImportSummary) -> None:
        self.normalizer = normalizer
        self.summary = summary
        self.infos: dict[Path, AudioInfo] = {}
        self.seen: dict[str, str] = {}

    def _info(self, entry: Entry, audio: Path) -> AudioInfo:
        if audio not in self.infos:
            try:
                self.infos[audio] = audio_info(audio)
            except ManifestError as exc:
                raise ManifestError(
                    entry.source, f"{audio}: {exc.message}", line=entry.line, field="audio_filepath"
                ) from None
        return self.infos[audio]

    def _duration(self, entry: Entry, info: AudioInfo) -> float:
        available = info.duration - entry.offset
        if available <= 0:
            raise ManifestError(
                entry.source,
                f"offset {entry.offset} s is past the end of {entry.audio} ({info.duration:.3f} s)",
                line=entry.line,
                field="offset",
            )
        if entry.duration is None:
            return available
        if entry.duration > available + SEGMENT_TOLERANCE_S:
            raise ManifestError(
                entry.source,
                f"segment {entry.offset} + {entry.duration} s runs past the end of {entry.audio} "
                f"({info.duration:.3f} s)",
                line=entry.line,
                field="duration",
            )
        return min(entry.duration, available)

    def utterance(self, entry: Entry) -> Utterance:
        where = f"{entry.source}:{entry.line}" if entry.line else str(entry.source)
        if entry.utt_id in self.seen:
            raise ManifestError(
                entry.source,
                f"duplicate utterance id {entry.utt_id!r} (first at {self.seen[entry.utt_id]})",
                line=entry.line,
                field="utt_id",
            )
        if entry.audio is None:
            audio, duration = entry.utt_id, 0.0
        else:
            info = self._info(entry, entry.audio)
            audio, duration = str(entry.audio.resolve()), self._duration(entry, info)
            self.summary.sample_rates[info.sample_rate] += 1
        self.seen[entry.utt_id] = where
        text = self.normalizer(entry.text) if self.normalizer else entry.text
        return Utterance(
            audio, round(duration, 6), text, entry.utt_id, entry.offset, entry.speaker, dict(entry.extra)
        )

    def run(self, src: Path, entries: Iterator[Entry], skip_bad: bool) -> Iterator[Utterance]:
        for entry in entries:
            try:
                utt = self.utterance(entry)
            except ManifestError as exc:
                if not skip_bad:
                    raise
                self.summary.skipped.append(str(exc))
                continue
            self.summary.written += 1
            self.summary.seconds += utt.duration
            self.summary.empty_text += not utt.text.strip()
            yield utt
        if not self.summary.written:  # raised inside the write, so an older output file stays as it was
            why = " (every one was skipped)" if self.summary.skipped else ""
            raise ManifestError(src, f"no utterance was imported{why}")


def import_corpus(
    format_name: str,
    src: str | Path,
    output: str | Path,
    options: ImportOptions | None = None,
    *,
    normalizer: Normalizer | None = None,
    skip_bad: bool = False,
    relative: bool = False,
    progress: bool = True,
) -> ImportSummary:
    """Import one corpus into ``output``; any error leaves no output file (nor a partial one) behind.

    With ``skip_bad`` utterances whose audio is missing or unreadable are left out and listed instead.
    """
    if format_name not in IMPORTERS:
        raise ManifestError(
            "FORMAT", f"unknown format {format_name!r}; choose one of {', '.join(sorted(IMPORTERS))}"
        )
    src, output = Path(src).expanduser(), Path(output).expanduser()
    if not src.exists():
        raise ManifestError(src, "source not found")
    summary = ImportSummary(output=output)
    entries = IMPORTERS[format_name].entries(src, options or ImportOptions())
    bar = tqdm(entries, desc=f"import {format_name}", unit="utt", disable=None if progress else True)
    utterances = _Converter(normalizer, summary).run(src, iter(bar), skip_bad)
    write_manifest(output, utterances, relative=relative)
    return summary
