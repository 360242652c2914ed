"""Audio for the acoustic models: ``manifests.audio`` reading plus the decisions a decode must record.

The reading itself (WAV/FLAC/MP3, SPHERE with shorten, raw PCM, resampling) lives in ``manifests.audio``;
this adds what a benchmark needs on top: which utterances were resampled or down-mixed (for run.json), a
refusal to up-sample audio too narrow-band to be a fair test, and one exception type that becomes the
utterance's recorded ``error``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from werbench.manifests.audio import audio_info
from werbench.manifests.audio import load_audio as read_samples
from werbench.manifests.errors import ManifestError

# Below this the speech band is gone: resampling up would only hide a wrong file.
MIN_SOURCE_RATE = 8000
# Most audio one utterance may decode: the samples alone are 77 MB at 16 kHz, and a Conformer's attention
# grows with the square of its frames (20 min ~ 15k frames: gigabytes a layer). Longer recordings must be
# segmented (manifest offset/duration); checked from the header before a sample is read.
MAX_AUDIO_SECONDS = 20 * 60
# A file longer than its manifest duration by more than this (and 1 s) is noted: only the span is decoded.
LONGER_THAN_MANIFEST = 1.5
LONGER_NOTE = (
    f"audio file over {LONGER_THAN_MANIFEST:g} x (+1 s) longer than its manifest duration and no offset: "
    "only the manifest's duration was decoded (wrong duration, or a segment that needs its offset?)"
)


class AudioError(Exception):
    """The utterance's audio cannot be used; the message is recorded as the utterance's ``error``."""


@dataclass(slots=True)
class Audio:
    """Samples ready for a model plus what had to be done to them (for run.json notes)."""

    samples: np.ndarray
    sample_rate: int
    notes: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.sample_rate


def audio_fingerprint(path: str | Path) -> dict[str, object]:
    """Cheap identity of an audio file for cache keys: a rewritten file changes mtime or size."""
    stat = Path(path).stat()
    return {"path": str(Path(path).resolve()), "mtime_ns": stat.st_mtime_ns, "size": stat.st_size}


def _span_notes(available: float, offset: float, duration: float) -> list[str]:
    """Refuse a span over ``MAX_AUDIO_SECONDS``; note a whole file (offset 0) far longer than its duration."""
    span = duration if 0 < duration < available else available
    if span > MAX_AUDIO_SECONDS:
        raise AudioError(
            f"{span:.0f} s of audio to decode, over the limit of {MAX_AUDIO_SECONDS} s per utterance "
            "(its memory would grow with the square of its length): split the recording into segments "
            "with offset/duration in the manifest"
        )
    if offset == 0 and duration > 0 and available > duration * LONGER_THAN_MANIFEST + 1:
        return [LONGER_NOTE]
    return []


def load_audio(path: str | Path, sample_rate: int, offset: float = 0.0, duration: float = 0.0) -> Audio:
    """``duration`` s from ``offset`` (0 = to the end), mono, at ``sample_rate``; AudioError if unusable."""
    try:
        info = audio_info(path)
        notes = []
        if info.channels > 1:
            notes.append(f"mixed {info.channels} channels to mono")
        if info.sample_rate != sample_rate:
            if info.sample_rate < MIN_SOURCE_RATE:
                raise AudioError(f"sample rate {info.sample_rate} Hz is too low for a {sample_rate} Hz model")
            notes.append(f"resampled from {info.sample_rate} Hz to {sample_rate} Hz")
        notes += _span_notes(info.duration - offset, offset, duration)
        samples = read_samples(path, offset, duration if duration > 0 else None, sample_rate)
    except ManifestError as exc:
        raise AudioError(exc.message) from None
    if samples.size == 0:
        raise AudioError("no samples in the requested segment")
    if not np.isfinite(samples).all():
        raise AudioError("audio contains NaN or infinite samples")
    return Audio(samples, sample_rate, notes)
