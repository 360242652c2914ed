"""Import the real human speech that Debian ships with transcripts into the demo's ``real-speech`` test set.

Sources: ``pocketsphinx-testdata`` (LibriVox "Sense and Sensibility" clips and spoken card names, each with a
Sphinx ``transcription`` file) and ``alsa-utils`` channel announcements (the file name is the transcript).
Audio is converted to 16 kHz mono FLAC and committed; run ``python -m werbench.demo.build.real_speech`` to rebuild.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import soundfile as sf

from werbench.demo.build.paths import TESTSETS
from werbench.manifests.errors import ManifestError
from werbench.manifests.io import write_manifest
from werbench.manifests.schema import Utterance

SPHINX_DATA = Path("/usr/share/pocketsphinx/test/data")
ALSA_SOUNDS = Path("/usr/share/sounds/alsa")
NOT_SPEECH = {"Noise"}
_SPHINX_LINE = re.compile(r"^\s*(?:<s>)?(?P<text>.*?)(?:</s>)?\s*\((?P<id>[^()\s]+)\)\s*$")


@dataclass(frozen=True, slots=True)
class Recording:
    """A source audio file, its transcript and where it came from."""

    audio: Path
    text: str
    utt_id: str
    source: str
    speaker: str


def read_sphinx_transcription(path: Path) -> Iterator[tuple[str, str]]:
    """``<s> words </s> (id)`` lines -> (id, words); a malformed line is a ManifestError naming it."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        match = _SPHINX_LINE.match(line)
        if not match:
            raise ManifestError(path, f"not a Sphinx transcription line: {line!r}", line=number)
        yield match["id"], " ".join(match["text"].split())


def sphinx_recordings(folder: Path, transcription: str, source: str) -> Iterator[Recording]:
    for utt_id, text in read_sphinx_transcription(folder / transcription):
        yield Recording(folder / f"{utt_id}.wav", text, f"{source}-{utt_id}", source, f"{source}-speaker")


def alsa_recordings(folder: Path = ALSA_SOUNDS) -> Iterator[Recording]:
    for path in sorted(folder.glob("*.wav")):
        if path.stem not in NOT_SPEECH:
            text = path.stem.replace("_", " ").lower()
            yield Recording(path, text, f"alsa-{path.stem.lower()}", "alsa-utils", "alsa-speaker")


def all_recordings() -> list[Recording]:
    return [
        *sphinx_recordings(SPHINX_DATA / "librivox", "transcription", "librivox"),
        *sphinx_recordings(SPHINX_DATA / "cards", "cards.transcription", "cards"),
        *alsa_recordings(),
    ]


def build(out_dir: Path = TESTSETS / "real-speech") -> list[Utterance]:
    """Convert every recording to 16 kHz mono FLAC beside a manifest with relative paths."""
    audio_dir = out_dir / "audio"
    audio_dir.mkdir(parents=True, exist_ok=True)
    utts = []
    for rec in all_recordings():
        if not rec.audio.is_file():
            raise ManifestError(rec.audio, "audio file listed in a transcription is missing")
        flac = audio_dir / f"{rec.utt_id}.flac"
        subprocess.run(
            ["sox", str(rec.audio), "-b", "16", str(flac), "channels", "1", "rate", "16000"],
            check=True,
            capture_output=True,
        )
        extra = {"domain": "real", "source": rec.source, "voice": rec.speaker, "noise": "recorded"}
        utts.append(
            Utterance(
                str(flac),
                round(sf.info(flac).duration, 3),
                rec.text,
                utt_id=rec.utt_id,
                speaker=rec.speaker,
                extra=extra,
            )
        )
    write_manifest(out_dir / "manifest.jsonl", utts, relative=True)
    return utts


if __name__ == "__main__":
    built = build()
    print(f"real-speech: {len(built)} utterances, {sum(u.duration for u in built):.1f} s")
