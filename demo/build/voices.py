"""Offline text-to-speech voices and the sox/numpy post-processing that makes 16 kHz training and test audio.

Most voices are built from recordings of real people (flite's CMU Arctic voices, festival's HTS and diphone
voices); espeak-ng's formant synthesis adds variety. Noise is sox-generated white or pink noise, scaled from
the measured RMS of the speech for the requested SNR and never clipped.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import soundfile as sf

SAMPLE_RATE = 16000
NOISE_SECONDS = 120


@dataclass(frozen=True, slots=True)
class Voice:
    """One TTS voice; ``name`` is what manifests record in their ``voice`` field."""

    name: str
    engine: str
    voice_id: str

    def command(self, text: str, out: Path) -> tuple[list[str], str | None]:
        """The argv that renders ``text`` to ``out`` and the text to feed on stdin, if any."""
        if self.engine == "flite":
            return ["flite", "-voice", self.voice_id, "-t", text, "-o", str(out)], None
        if self.engine == "festival":
            return ["text2wave", "-eval", f"({self.voice_id})", "-o", str(out)], text
        if self.engine == "espeak-ng":
            return ["espeak-ng", "-v", self.voice_id, "-w", str(out), text], None
        raise ValueError(f"unknown TTS engine {self.engine!r}")


VOICES = {
    v.name: v
    for v in (
        Voice("flite-slt", "flite", "slt"),
        Voice("flite-rms", "flite", "rms"),
        Voice("flite-awb", "flite", "awb"),
        Voice("flite-kal16", "flite", "kal16"),
        Voice("festival-slt-hts", "festival", "voice_cmu_us_slt_arctic_hts"),
        Voice("festival-kal", "festival", "voice_kal_diphone"),
        Voice("espeak-us", "espeak-ng", "en-us"),
        Voice("espeak-us-f3", "espeak-ng", "en-us+f3"),
        Voice("espeak-rp", "espeak-ng", "en-gb-x-rp"),
    )
}


def render_speech(voice: Voice, text: str, tempo: float) -> np.ndarray:
    """TTS -> mono float32 at 16 kHz, time-stretched by ``tempo`` without changing pitch."""
    with tempfile.TemporaryDirectory(prefix="werbench-tts-") as tmp:
        raw, out = Path(tmp) / "raw.wav", Path(tmp) / "out.wav"
        argv, stdin = voice.command(text, raw)
        subprocess.run(argv, input=stdin, text=True, check=True, capture_output=True)
        effects = ["channels", "1", "rate", str(SAMPLE_RATE)]
        if abs(tempo - 1.0) > 1e-3:
            effects = ["channels", "1", "tempo", "-s", f"{tempo:.3f}", "rate", str(SAMPLE_RATE)]
        subprocess.run(["sox", str(raw), "-b", "16", str(out), *effects], check=True, capture_output=True)
        audio, rate = sf.read(out, dtype="float32")
    assert rate == SAMPLE_RATE
    return audio


@cache
def noise_bank(kind: str, seed: int) -> np.ndarray:
    """Two minutes of sox ``whitenoise``/``pinknoise`` (seeded), from which utterances take random slices."""
    with tempfile.TemporaryDirectory(prefix="werbench-noise-") as tmp:
        out = Path(tmp) / f"{kind}.wav"
        subprocess.run(
            [
                "sox",
                "-R",
                "-n",
                "-r",
                str(SAMPLE_RATE),
                "-c",
                "1",
                "-b",
                "16",
                str(out),
                "synth",
                str(NOISE_SECONDS),
                f"{kind}noise",
                "vol",
                "0.5",
            ],
            check=True,
            capture_output=True,
        )
        audio, _ = sf.read(out, dtype="float32")
    rng = np.random.default_rng(seed)
    return np.roll(audio, int(rng.integers(len(audio))))


def rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if len(audio) else 0.0


def add_noise(
    speech: np.ndarray, kind: str, snr_db: float, rng: np.random.Generator, seed: int
) -> np.ndarray:
    """Mix a random slice of the noise bank at ``snr_db`` below the speech's RMS; peak-limit below 0 dBFS."""
    bank = noise_bank(kind, seed)
    start = int(rng.integers(0, len(bank) - len(speech)))
    noise = bank[start : start + len(speech)]
    gain = rms(speech) / (max(rms(noise), 1e-9) * 10 ** (snr_db / 20))
    mixed = speech + gain * noise
    peak = float(np.max(np.abs(mixed))) if len(mixed) else 0.0
    return mixed * (0.97 / peak) if peak > 0.97 else mixed
