"""Render the demo's synthetic speech: large training/dev sets (WAV, regenerated on demand under demo/.work)
and the small committed test sets (FLAC under demo/assets/testsets).

Every utterance draws its voice, tempo and noise from its own seeded generator, so a set is identical whatever
the thread count. Run ``python -m werbench.demo.build.synth --help``.
"""

from __future__ import annotations

import argparse
import zlib
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm import tqdm

from werbench.demo.build.corpus import SEED, Split, business_split, general_split
from werbench.demo.build.paths import AUDIO_WORK, TESTSETS, WORK
from werbench.demo.build.voices import SAMPLE_RATE, VOICES, add_noise, render_speech
from werbench.manifests.io import write_manifest
from werbench.manifests.schema import Utterance

# Voices the models train on (weights: how often each is drawn); espeak-rp stays unseen for the test sets.
TRAIN_VOICES = {
    "flite-slt": 2.0,
    "flite-rms": 2.0,
    "flite-awb": 2.0,
    "flite-kal16": 1.5,
    "festival-slt-hts": 1.0,
    "festival-kal": 0.5,
    "espeak-us": 1.0,
    "espeak-us-f3": 1.0,
}
TEST_VOICES = (*TRAIN_VOICES, "espeak-rp")
TEST_NOISE = (("clean", None), ("white", 25.0), ("pink", 15.0), ("white", 10.0))


@dataclass(frozen=True, slots=True)
class Condition:
    """How one utterance is spoken and degraded; stored in its manifest line for breakdowns."""

    voice: str
    tempo: float
    noise: str
    snr_db: float | None


def utterance_rng(seed: int, name: str, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(name.encode()), index])


def train_condition(rng: np.random.Generator) -> Condition:
    """Random voice, tempo 0.88-1.12 and noise: 40% clean, else white or pink at 8-30 dB SNR."""
    names = list(TRAIN_VOICES)
    weights = np.array([TRAIN_VOICES[n] for n in names])
    voice = names[int(rng.choice(len(names), p=weights / weights.sum()))]
    tempo = round(float(rng.uniform(0.88, 1.12)), 3)
    if rng.random() < 0.4:
        return Condition(voice, tempo, "clean", None)
    return Condition(voice, tempo, str(rng.choice(["white", "pink"])), round(float(rng.uniform(8, 30)), 1))


def test_conditions(count: int) -> Iterator[Condition]:
    """Each voice meets each noise condition in turn, so breakdowns by voice and by noise are balanced."""
    for i in range(count):
        noise, snr = TEST_NOISE[(i // len(TEST_VOICES) + i) % len(TEST_NOISE)]
        yield Condition(TEST_VOICES[i % len(TEST_VOICES)], 1.0, noise, snr)


def render(text: str, cond: Condition, rng: np.random.Generator, seed: int) -> np.ndarray:
    speech = render_speech(VOICES[cond.voice], text, cond.tempo)
    if cond.noise == "clean" or cond.snr_db is None:
        return speech
    return add_noise(speech, cond.noise, cond.snr_db, rng, seed)


@dataclass(frozen=True, slots=True)
class SetSpec:
    """A set to render: its name, texts, output folder and audio format."""

    name: str
    domain: str
    texts: Sequence[str]
    folder: Path
    fmt: str  # "wav" (training) or "flac" (committed test sets)
    test: bool = False


def build_set(spec: SetSpec, sources: dict[str, str], seed: int = SEED, workers: int = 2) -> list[Utterance]:
    """Render every text (skipping files already there) and return the manifest utterances in order."""
    audio_dir = spec.folder / "audio"
    audio_dir.mkdir(parents=True, exist_ok=True)
    conditions = list(test_conditions(len(spec.texts))) if spec.test else None

    def one(index: int) -> Utterance:
        rng = utterance_rng(seed, spec.name, index)
        cond = conditions[index] if conditions else train_condition(rng)
        utt_id = f"{spec.name}-{index:05d}"
        path = audio_dir / f"{utt_id}.{spec.fmt}"
        text = spec.texts[index]
        if not path.is_file():
            audio = render(text, cond, rng, seed)
            tmp = path.with_suffix(f".tmp.{spec.fmt}")
            sf.write(tmp, audio, SAMPLE_RATE, subtype="PCM_16", format=spec.fmt.upper())
            tmp.replace(path)
        duration = round(sf.info(path).duration, 3)
        extra = {"domain": spec.domain, "source": sources.get(text, spec.domain), **asdict(cond)}
        return Utterance(str(path), duration, text, utt_id=utt_id, speaker=cond.voice, extra=extra)

    with ThreadPoolExecutor(workers) as pool:
        jobs = pool.map(one, range(len(spec.texts)))
        return list(tqdm(jobs, total=len(spec.texts), desc=f"render {spec.name}", unit="utt"))


def specs(general: Split, business: Split, general_train: int, business_train: int) -> list[SetSpec]:
    return [
        SetSpec("general-test", "general", general.test, TESTSETS / "general-synth", "flac", test=True),
        SetSpec("business-test", "business", business.test, TESTSETS / "business-synth", "flac", test=True),
        SetSpec("general-dev", "general", general.dev, AUDIO_WORK / "general-dev", "wav"),
        SetSpec("business-dev", "business", business.dev, AUDIO_WORK / "business-dev", "wav"),
        SetSpec(
            "general-train", "general", general.train[:general_train], AUDIO_WORK / "general-train", "wav"
        ),
        SetSpec(
            "business-train",
            "business",
            business.train[:business_train],
            AUDIO_WORK / "business-train",
            "wav",
        ),
    ]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--general-train", type=int, default=6690, help="general-domain training utterances (6,690: all)"
    )
    parser.add_argument("--business-train", type=int, default=800, help="business-domain training utterances")
    parser.add_argument("--only", nargs="*", help="render only these sets (e.g. general-test business-test)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    general, business = general_split(), business_split()
    sources = {**general.sources, **business.sources}
    for spec in specs(general, business, args.general_train, args.business_train):
        if args.only and spec.name not in args.only:
            continue
        utts = build_set(spec, sources, workers=args.workers)
        if spec.test:
            write_manifest(spec.folder / "manifest.jsonl", utts, relative=True)
        else:  # absolute paths: NeMo's training data loaders read this manifest directly
            write_manifest(WORK / f"{spec.name}.json", utts)
        hours = sum(u.duration for u in utts) / 3600
        print(f"{spec.name}: {len(utts)} utterances, {hours:.2f} h")


if __name__ == "__main__":
    main()
