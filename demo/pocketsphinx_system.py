"""pocketsphinx (CMU Sphinx, its bundled US-English model) as the demo's real pre-trained recogniser.

It decodes a test set into a JSON-lines hypothesis file that ``werbench import-hyps`` turns into one more
system; its timing is added to the imported ``run.json`` so the leaderboard shows its speed too. The import
of pocketsphinx happens inside :func:`decode` (a small C extension, no torch).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm
from werbench.manifests.atomic import atomic_write
from werbench.manifests.io import load_manifest
from werbench.manifests.schema import Utterance

FRAMES_PER_SECOND = 100  # pocketsphinx's default 10 ms frame shift
_ALTERNATE = re.compile(r"\(\d+\)$")  # "was(2)": a pronunciation variant of "was"


@dataclass(slots=True)
class SphinxResult:
    """One utterance's hypothesis, its word times and what decoding it cost."""

    utt_id: str
    text: str
    word_times: list[list[float]]
    seconds: float


def _words(segments: list[tuple[str, int, int]]) -> tuple[str, list[list[float]]]:
    """Real words only (no ``<s>``, ``<sil>``, ``[NOISE]``), variants folded, times in seconds."""
    words, times = [], []
    for word, start, end in segments:
        if word.startswith(("<", "[", "+")):
            continue
        words.append(_ALTERNATE.sub("", word))
        times.append([start / FRAMES_PER_SECOND, (end + 1) / FRAMES_PER_SECOND])
    return " ".join(words), times


def _samples(utt: Utterance) -> bytes:
    """16-bit mono PCM at 16 kHz, as pocketsphinx's default model expects."""
    import numpy as np
    import soundfile as sf

    start = round(utt.offset * 16000)
    stop = None if not utt.offset else start + round(utt.duration * 16000)
    audio, rate = sf.read(utt.audio_filepath, dtype="int16", start=start, stop=stop, always_2d=True)
    if rate != 16000:
        raise ValueError(f"{utt.audio_filepath}: {rate} Hz; the demo's pocketsphinx model needs 16 kHz")
    return np.ascontiguousarray(audio.mean(axis=1).astype("int16")).tobytes()


def decode(manifest: Path, lm: Path | None = None, progress: bool = True) -> list[SphinxResult]:
    """Decode every utterance of ``manifest`` with pocketsphinx's default acoustic model and dictionary, and
    its bundled LM or the ARPA n-gram ``lm`` (LM words missing from the dictionary are left out)."""
    from pocketsphinx import Decoder

    decoder = Decoder(samprate=16000, loglevel="FATAL", **({"lm": str(lm)} if lm else {}))
    results = []
    utts = list(load_manifest(manifest))
    for utt in tqdm(utts, desc="pocketsphinx", unit="utt", disable=not progress):
        started = time.perf_counter()
        decoder.start_utt()
        decoder.process_raw(_samples(utt), full_utt=True)
        decoder.end_utt()
        text, times = _words([(s.word, s.start_frame, s.end_frame) for s in decoder.seg()])
        results.append(SphinxResult(utt.utt_id, text, times, time.perf_counter() - started))
    return results


def write_hypotheses(results: list[SphinxResult], path: Path) -> Path:
    """JSON lines with ``utt_id``, ``pred_text`` and ``word_times``: the format import-hyps reads."""
    with atomic_write(path) as handle:
        for r in results:
            row = {"utt_id": r.utt_id, "pred_text": r.text, "word_times": r.word_times}
            handle.write(json.dumps(row) + "\n")
    return path
