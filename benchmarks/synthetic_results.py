"""A seeded, realistic synthetic results directory for the dashboard's benchmark and browser tests.

Real runs are too slow to produce 100k utterances x 4 systems on 2 cores, so this writes what the runners
would: per-speaker difficulty, consistent confusion pairs, decoder lineage (a beam+LM decoder fixes most of
its greedy errors and introduces a few), n-best lists with scores, word timings and real WAV files.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
import soundfile as sf
from tqdm import tqdm
from werbench.manifests.atomic import atomic_write
from werbench.manifests.results import TESTSET_MANIFEST, RunInfo, system_dir, write_run_info
from werbench.runners.decoders.base import lineage_record, stage_record

SYLLABLES = [
    "ka",
    "ri",
    "to",
    "na",
    "me",
    "lo",
    "su",
    "pa",
    "de",
    "vi",
    "mo",
    "ga",
    "ne",
    "ru",
    "ta",
    "li",
    "so",
    "be",
    "ko",
    "mi",
    "da",
    "fe",
    "ho",
    "ju",
    "la",
    "ze",
    "po",
    "ni",
    "se",
    "ra",
    "wo",
    "ke",
    "di",
    "ba",
    "tu",
    "ma",
    "go",
    "re",
    "si",
    "no",
    "fa",
    "lu",
    "ve",
    "ti",
    "ya",
]
NOISE_CONDITIONS = ("clean", "snr20", "snr10")
SAMPLE_RATE = 16000


@dataclass(frozen=True)
class SyntheticSpec:
    """What to generate; error rates are the per-word error probabilities of each system."""

    utterances: int = 200
    testsets: tuple[str, ...] = ("synth-clean",)
    error_rates: dict[str, float] = field(
        default_factory=lambda: {
            "base@greedy": 0.13,
            "base@beam-lm": 0.105,
            "tuned@greedy": 0.095,
            "tuned@beam-lm": 0.075,
        }
    )
    vocabulary: int = 5000
    speakers_per_1000: int = 5
    audio_files: int | None = None  # None: one WAV per utterance; N: a pool of N files shared round-robin
    nbest: int = 4
    seed: int = 0
    confidence: bool = True  # word_confidence per hypothesis word (from a generator of its own)


def _vocabulary(rng: np.random.Generator, size: int) -> np.ndarray:
    words: set[str] = set()
    while len(words) < size:
        n = int(rng.integers(1, 4))
        words.add("".join(rng.choice(SYLLABLES, size=n)))
    return np.array(sorted(words, key=lambda w: (len(w), w)))


def _write_wav(path: Path, seconds: float, rng: np.random.Generator) -> None:
    """A voiced-sounding signal: harmonics of a gliding pitch under a syllable-rate envelope, plus noise."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    pitch = 110 + 30 * np.sin(2 * np.pi * 0.7 * t + rng.uniform(0, 6))
    phase = 2 * np.pi * np.cumsum(pitch) / SAMPLE_RATE
    voice = sum(np.sin(k * phase) / k for k in range(1, 6))
    envelope = np.clip(np.sin(2 * np.pi * 3.5 * t + rng.uniform(0, 6)), 0, None) ** 0.5
    signal = 0.25 * voice * envelope + 0.01 * rng.standard_normal(len(t))
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, signal.astype(np.float32), SAMPLE_RATE, subtype="PCM_16")


class _Corruptor:
    """Applies word errors with consistent confusions, so top confusion pairs look like a real system's."""

    def __init__(self, rng: np.random.Generator, vocab_size: int) -> None:
        self.rng = rng
        self.confusion = (np.arange(vocab_size) + rng.integers(1, 4, size=vocab_size)) % vocab_size

    def corrupt(
        self, ref: np.ndarray, draws: np.ndarray, rate: float, kinds: np.ndarray
    ) -> tuple[list[int], list[bool]]:
        """``draws``/``kinds`` are shared by a model's decoders: a lower rate keeps a subset of errors.
        Returns the hypothesis words and whether each is a reference word kept (else an error)."""
        out: list[int] = []
        kept: list[bool] = []
        for word, draw, kind in zip(ref.tolist(), draws.tolist(), kinds.tolist(), strict=True):
            if draw >= rate:
                out.append(word)
                kept.append(True)
            elif kind < 0.6:
                out.append(int(self.confusion[word]))
                kept.append(False)
            elif kind < 0.85:
                continue
            else:
                out.extend((word, int(self.rng.integers(0, 200))))
                kept.extend((True, False))
        return out, kept


def _word_times(n_words: int, seconds: float) -> list[list[float]]:
    if not n_words:
        return []
    edges = np.linspace(0.2, max(seconds - 0.2, 0.3), n_words + 1)
    return [[round(float(a), 2), round(float(b - 0.03), 2)] for a, b in itertools.pairwise(edges)]


def _word_confidence(kept: list[bool], rng: np.random.Generator) -> list[list[float]]:
    """``[max_prob_mean, max_prob_min, entropy]`` per hypothesis word, as the CTC decoders record them:
    high for kept words, spread out for errors (so AUC, NCE and the confidence filters have something)."""
    right = np.asarray(kept, bool)
    mean = np.where(right, rng.beta(9.0, 1.5, len(right)), rng.beta(2.5, 2.5, len(right)))
    low = mean * rng.uniform(0.6, 1.0, len(right))
    return np.round(np.stack([mean, low, mean**2], axis=1), 3).tolist()


def _nbest(best: str, alternatives: list[str], rng: np.random.Generator) -> list[dict[str, float | str]]:
    rows = []
    for rank, text in enumerate([best, *alternatives]):
        am = -abs(rng.normal(40, 8)) - 2.5 * rank
        lm = -abs(rng.normal(25, 5)) - 1.5 * rank
        rows.append(
            {
                "text": text,
                "am_score": round(am, 3),
                "lm_score": round(lm, 3),
                "neural_score": None,
                "score": round(am + 0.6 * lm, 3),
            }
        )
    return rows


def generate(root: str | Path, spec: SyntheticSpec = SyntheticSpec()) -> Path:
    """Write ``root/<testset>/<system>/{predictions.jsonl,run.json}`` plus test-set manifests and audio."""
    root = Path(root)
    rng = np.random.default_rng(spec.seed)
    vocab = _vocabulary(rng, spec.vocabulary)
    zipf = 1.0 / np.arange(1, len(vocab) + 1) ** 1.05
    zipf /= zipf.sum()
    corruptor = _Corruptor(rng, len(vocab))
    confidence_rng = np.random.default_rng(spec.seed + 7919)  # the other draws stay as they were
    systems = sorted(spec.error_rates)
    models = sorted({s.split("@", 1)[0] for s in systems})
    pool = [root / "audio" / f"pool_{i:03d}.wav" for i in range(spec.audio_files or 0)]
    for path in pool:
        _write_wav(path, 4.0, rng)
    for testset in spec.testsets:
        n_speakers = max(2, spec.utterances * spec.speakers_per_1000 // 1000)
        speaker_factor = rng.lognormal(0.0, 0.35, size=n_speakers)
        refs = {s: system_dir(root, testset, s) for s in systems}
        # each row is written as drawn: 1M x 4 rows held in lists until the end took over 22 GB
        with contextlib.ExitStack() as files:
            manifest = files.enter_context(atomic_write(root / testset / TESTSET_MANIFEST))
            predictions = {s: files.enter_context(atomic_write(refs[s].predictions)) for s in systems}
            audio_seconds = 0.0
            for i in tqdm(range(spec.utterances), desc=f"synthesising {testset}", unit="utt", leave=False):
                length = int(np.clip(rng.lognormal(2.8, 0.45), 2, 60))
                ref = rng.choice(len(vocab), size=length, p=zipf)
                speaker = int(rng.integers(n_speakers))
                noise = NOISE_CONDITIONS[int(rng.integers(len(NOISE_CONDITIONS)))]
                difficulty = (
                    speaker_factor[speaker] * rng.gamma(2.0, 0.5) * (1 + 0.5 * NOISE_CONDITIONS.index(noise))
                )
                seconds = round(length * rng.uniform(0.28, 0.45) + 0.6, 2)
                utt_id = f"{testset}-{i:06d}"
                if pool:
                    audio = pool[i % len(pool)]
                    seconds = min(seconds, 4.0)
                else:
                    audio = root / "audio" / testset / f"{utt_id}.wav"
                    _write_wav(audio, seconds, rng)
                row = {
                    "audio_filepath": str(audio),
                    "duration": seconds,
                    "text": " ".join(vocab[ref]),
                    "utt_id": utt_id,
                    "speaker": f"spk{speaker:04d}",
                    "noise": noise,
                }
                _write_row(manifest, row)
                audio_seconds += seconds
                for model in models:
                    draws, kinds = rng.random(length), rng.random(length)
                    greedy_text = None
                    stages = sorted(
                        (s for s in systems if s.startswith(f"{model}@")), key=lambda s: "greedy" not in s
                    )
                    for system in stages:
                        rate = min(0.95, spec.error_rates[system] * difficulty)
                        words, kept = corruptor.corrupt(ref, draws, rate, kinds)
                        hyp = " ".join(vocab[words])
                        pred = {**row, "pred_text": hyp, "word_times": _word_times(len(hyp.split()), seconds)}
                        if spec.confidence:
                            pred["word_confidence"] = _word_confidence(kept, confidence_rng)
                        if system.endswith("greedy"):
                            greedy_text = hyp
                        else:
                            alternatives = [
                                " ".join(
                                    vocab[corruptor.corrupt(ref, rng.random(length), rate * 1.4, kinds)[0]]
                                )
                                for _ in range(spec.nbest - 1)
                            ]
                            pred.update(
                                greedy_text=greedy_text, beam_text=hyp, nbest=_nbest(hyp, alternatives, rng)
                            )
                        _write_row(predictions[system], pred)
        for system in systems:
            write_run_info(refs[system], _run_info(system, testset, audio_seconds, rng))
    return root


def _sha(model: str) -> str:
    """A stand-in checkpoint hash, one per model: systems of one model decoded the same logits."""
    return hashlib.sha256(model.encode()).hexdigest()


def _run_info(system: str, testset: str, audio_seconds: float, rng: np.random.Generator) -> RunInfo:
    model, decoder = system.split("@", 1)
    beam = decoder != "greedy"
    params = {"beam_width": 32, "alpha": 0.5, "beta": 1.0, "lm": "synthetic-4gram"} if beam else {}
    rtfx = float(rng.uniform(150, 250) if not beam else rng.uniform(20, 60))
    return RunInfo(
        system=system,
        testset=testset,
        model={"path": f"{model}.nemo", "sha256": _sha(model), "architecture": "QuartzNet-synthetic"},
        decoder={
            "type": "beam" if beam else "greedy",
            "params": params,
            # what the runners record: a beam searched the logits and saved their best path as greedy_text
            "lineage": lineage_record(stages={"greedy_text": stage_record("greedy")} if beam else None),
        },
        lm={"path": "synthetic.arpa", "sha256": "1" * 64} if beam else None,
        normalizer="none@1",
        audio_seconds=audio_seconds,
        am_seconds=audio_seconds / 300,
        decode_seconds=audio_seconds / rtfx,
        rtfx=round(rtfx, 1),
        created="2025-01-01T00:00:00Z",
        notes=["synthetic results for benchmarks and tests"],
    )


def _write_row(handle: IO[str], row: dict) -> None:
    handle.write(json.dumps(row, ensure_ascii=False) + "\n")
