"""Helpers shared by the decoder tests (importable, unlike conftest fixtures)."""

from __future__ import annotations

import numpy as np

SUBJECTS = ["the old man", "a young woman", "my brother", "the teacher", "our neighbour", "the little girl"]
VERBS = ["reads", "writes", "finds", "buys", "sells", "brings", "keeps", "loses"]
OBJECTS = [
    "a short story",
    "the red book",
    "an old letter",
    "the morning paper",
    "a new song",
    "the small key",
]
TAILS = ["every night", "at the station", "in the garden", "before dinner", "after school", "on sunday"]
CHAR_LABELS = (" ", *"abcdefghijklmnopqrstuvwxyz", "'", "<blank>")
FRAME_SECONDS = 0.04


def make_corpus(count: int = 600, seed: int = 0) -> list[str]:
    """Grammatical sentences from a small template grammar (the LM's training text)."""
    rng = np.random.default_rng(seed)
    pick = lambda items: items[int(rng.integers(len(items)))]  # noqa: E731
    return [f"{pick(SUBJECTS)} {pick(VERBS)} {pick(OBJECTS)} {pick(TAILS)}" for _ in range(count)]


def wer(refs: list[str], hyps: list[str]) -> float:
    from rapidfuzz.distance import Levenshtein

    errors = sum(Levenshtein.distance(r.split(), h.split()) for r, h in zip(refs, hyps, strict=True))
    return errors / sum(len(r.split()) for r in refs)
