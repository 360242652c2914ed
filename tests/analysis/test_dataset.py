"""Test-set statistics (the dataset page's numbers), checked against counts done by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from werbench.analysis.dataset import dataset_stats
from werbench.analysis.errors import error_tables
from werbench.analysis.vocabulary import Vocabulary

REFS = {"u1": "the cat sat", "u2": "the dog", "u3": "a cat @ ran"}
HYPS = {"u1": "the cat sat", "u2": "the", "u3": "a cat ran"}


def test_sizes_vocabulary_alphabet_and_histograms(make_utts) -> None:
    utts = make_utts(
        REFS,
        {"sys": HYPS},
        speakers={"u1": "s1", "u2": "s1", "u3": "s2"},
        durations={"u1": 2.0, "u2": 1.0, "u3": 4.0},
    )
    stats = dataset_stats(utts)
    assert (stats.utterances, stats.seconds, stats.speakers) == (3, 7.0, 2)
    # sclite's null word "@" is no word: 3 + 2 + 3 words, 6 distinct ones
    assert (stats.words, stats.vocabulary) == (8, 6)
    assert stats.alphabet == "acdeghnorst"
    assert math.isclose(stats.hours, 7.0 / 3600)
    assert stats.histograms["words"].tolist() == [3.0, 2.0, 3.0]
    assert stats.histograms["word_rate"].tolist() == [1.5, 2.0, 0.75]
    assert stats.oov_rate is None and stats.oov_source is None


def test_oov_rate_counts_occurrences_not_types(make_utts) -> None:
    utts = make_utts(REFS, {"sys": HYPS})
    vocabulary = Vocabulary(frozenset({"the", "cat", "sat", "a"}), "lm.arpa", "arpa")
    accuracy = error_tables(utts, vocabulary=vocabulary).word_accuracy
    stats = dataset_stats(utts, accuracy, "lm.arpa")
    # dog and ran are out of vocabulary: 2 of the 8 reference word occurrences
    assert stats.oov_rate == pytest.approx(2 / 8) and stats.oov_source == "lm.arpa"
    without_flags = error_tables(utts).word_accuracy
    assert dataset_stats(utts, without_flags, None).oov_rate is None


def test_empty_durations_give_nan_rates_not_errors(make_utts) -> None:
    utts = make_utts({"u1": "x y"}, {"sys": {"u1": "x"}}, durations={"u1": 0.0})
    stats = dataset_stats(utts)
    assert stats.seconds == 0.0 and np.isinf(stats.histograms["word_rate"][0])
