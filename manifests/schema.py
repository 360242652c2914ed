"""The NeMo JSON-lines manifest record, shared by every layer."""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CORE_FIELDS = ("audio_filepath", "duration", "text", "offset", "utt_id", "speaker")


def derive_utt_id(audio_filepath: str, offset: float = 0.0) -> str:
    """Stable id from the audio file's stem, plus the offset in ms when a segment starts inside the file."""
    stem = Path(audio_filepath).name
    for suffix in (".wav", ".flac", ".sph", ".wv1", ".wv2", ".mp3", ".ogg", ".opus", ".m4a", ".raw"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    if offset and not math.isclose(offset, 0.0):
        return f"{stem}_{round(offset * 1000):08d}"
    return stem


def duplicate_id_message(utt_id: str, first_line: int, derived: bool) -> str:
    """What a repeated id says; an id derived from the audio file's name (no ``utt_id`` field: SDE's
    manifests) says so, because two folders' ``0001.wav`` are the usual cause."""
    message = f"duplicate utterance id {utt_id!r} (first on line {first_line})"
    if derived:
        message += ": lines without utt_id are named after their audio file; give each line a unique utt_id"
    return message


@dataclass(slots=True)
class Utterance:
    """One manifest line; ``extra`` keeps every non-core field verbatim so that writing back loses nothing."""

    audio_filepath: str
    duration: float
    text: str
    utt_id: str = ""
    offset: float = 0.0
    speaker: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.utt_id:
            self.utt_id = derive_utt_id(self.audio_filepath, self.offset)

    def to_json(self, base_dir: Path | None = None) -> dict[str, Any]:
        """JSON form; with ``base_dir`` the audio path is written relative to it when it lies below it."""
        audio = self.audio_filepath
        if base_dir is not None:
            with contextlib.suppress(ValueError):  # not below base_dir: stays absolute
                audio = str(Path(audio).resolve().relative_to(base_dir.resolve()))
        row: dict[str, Any] = {"audio_filepath": audio, "duration": self.duration, "text": self.text}
        if self.offset:
            row["offset"] = self.offset
        row["utt_id"] = self.utt_id
        if self.speaker is not None:
            row["speaker"] = self.speaker
        row.update(self.extra)
        return row
