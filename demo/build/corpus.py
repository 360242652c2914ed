"""Seeded train/dev/test sentence splits of both domains; dev and test sentences never occur in training."""

from __future__ import annotations

import random
from dataclasses import dataclass

from werbench.demo.build.business_text import BusinessGenerator
from werbench.demo.build.general_text import general_corpus

SEED = 20240611
TEST_SIZE = 32
# Quotations read most naturally, so they get more than their share of the small general test set.
GENERAL_TEST_SHARE = {"fortunes": 12, "licences": 4, "python-docstrings": 16}
DEV_SIZE = 100
BUSINESS_POOL = 30000
TEST_MAX_WORDS = 14


@dataclass(frozen=True, slots=True)
class Split:
    """Sentences of one domain; ``sources`` maps a sentence to where it came from (for manifests)."""

    train: list[str]
    dev: list[str]
    test: list[str]
    sources: dict[str, str]


def _short_first(sentences: list[str], count: int) -> tuple[list[str], list[str]]:
    """Take ``count`` sentences short enough to keep the committed FLAC small; return (taken, rest)."""
    taken = [s for s in sentences if len(s.split()) <= TEST_MAX_WORDS][:count]
    chosen = set(taken)
    return taken, [s for s in sentences if s not in chosen]


def general_split(seed: int = SEED) -> Split:
    """Every source contributes to test (fixed shares) and dev (in proportion to its size)."""
    corpus = general_corpus()
    sources = {s: name for name, sents in corpus.items() for s in sents}
    rng = random.Random(seed)
    shuffled = {name: rng.sample(sents, len(sents)) for name, sents in sorted(corpus.items())}
    total = sum(len(v) for v in shuffled.values())
    train, dev, test = [], [], []
    for name, sents in shuffled.items():
        n_dev = max(5, round(DEV_SIZE * len(sents) / total))
        part_test, rest = _short_first(sents, GENERAL_TEST_SHARE[name])
        test += part_test
        dev += rest[:n_dev]
        train += rest[n_dev:]
    rng.shuffle(train)
    return Split(train, dev, test, sources)


def business_split(seed: int = SEED, pool: int = BUSINESS_POOL) -> Split:
    sentences = BusinessGenerator(seed).sentences(pool)
    test, rest = _short_first(sentences, TEST_SIZE)
    return Split(rest[DEV_SIZE:], rest[:DEV_SIZE], test, dict.fromkeys(sentences, "business-generator"))
