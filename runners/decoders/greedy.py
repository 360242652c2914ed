"""``greedy``: CTC best path (argmax per frame, merge repeats, drop blanks) with word times from frames."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from werbench.runners.decoders.base import Decoded, Hypothesis, Vocabulary, lineage_record
from werbench.runners.decoders.labels import BPE_MARK, WORDPIECE_MARK, bpe_style, special_label_ids


def token_runs(log_probs: np.ndarray, vocab: Vocabulary) -> list[tuple[int, int, int]]:
    """Emitted tokens of the best path as ``(label_id, first_frame, end_frame)`` (end exclusive)."""
    if len(log_probs) == 0:
        return []
    ids = log_probs.argmax(axis=1)
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    ends = np.r_[starts[1:], len(ids)]
    skip = {vocab.blank_id, *special_label_ids(vocab)}
    return [
        (int(ids[s]), int(s), int(e)) for s, e in zip(starts, ends, strict=True) if int(ids[s]) not in skip
    ]


def runs_to_words(
    runs: list[tuple[int, int, int]], vocab: Vocabulary, frame_seconds: float
) -> tuple[list[str], list[tuple[float, float]]]:
    """Group token runs into words (character delimiter, ``▁`` word starts or ``##`` continuations)."""
    style = bpe_style(vocab)
    words: list[str] = []
    spans: list[tuple[int, int]] = []
    current = ""
    span: list[int] = []

    def flush() -> None:
        nonlocal current, span
        if current:
            words.append(current)
            spans.append((span[0], span[1]))
        current, span = "", []

    for label_id, start, end in runs:
        label = vocab.labels[label_id]
        if style == "sentencepiece" and label.startswith(BPE_MARK):
            flush()
            label = label[len(BPE_MARK) :]
        elif style == "wordpiece":
            if label.startswith(WORDPIECE_MARK):
                label = label[len(WORDPIECE_MARK) :]
            else:
                flush()
        elif style is None and label == vocab.word_delimiter:
            flush()
            continue
        current += label
        if label:
            span = [span[0] if span else start, end]
    flush()
    times = [(round(s * frame_seconds, 3), round(e * frame_seconds, 3)) for s, e in spans]
    return words, times


def best_path_text(log_probs: np.ndarray, vocab: Vocabulary) -> str:
    """The greedy transcript, words joined by single spaces."""
    return " ".join(runs_to_words(token_runs(log_probs, vocab), vocab, 1.0)[0])


@dataclass
class GreedyDecoder:
    """CTC best path; its n-best is the single best path with its log-probability as ``am_score``."""

    name: str = field(default="greedy", init=False)

    def params(self) -> dict[str, Any]:
        return {}

    def lineage(self) -> dict[str, Any]:
        return lineage_record()

    def decode(self, log_probs: np.ndarray, vocab: Vocabulary, frame_seconds: float) -> Decoded:
        words, times = runs_to_words(token_runs(log_probs, vocab), vocab, frame_seconds)
        text = " ".join(words)
        am_score = float(log_probs.max(axis=1).sum()) if len(log_probs) else 0.0
        return Decoded(
            text=text,
            nbest=[Hypothesis(text=text, am_score=am_score, lm_score=0.0, score=am_score)],
            word_times=times,
        )
