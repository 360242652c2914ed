"""A test set's statistics, the numbers of Speech Data Explorer's dataset page: size, vocabulary, alphabet,
OOV rate and the per-utterance distributions behind its histograms.

Words are counted as the aligner splits them (``tables.ReferenceWords``), so the vocabulary here is the one
the per-word accuracy table lists; the OOV rate is the share of reference word occurrences that the LM
vocabulary lacks (``errors.oov_summary``), or None when no vocabulary was readable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from werbench.analysis.errors import oov_summary
from werbench.analysis.measures import speaking_rates
from werbench.analysis.tables import ReferenceWords
from werbench.analysis.vocabulary import Vocabulary


@dataclass(frozen=True)
class DatasetStats:
    utterances: int
    seconds: float
    speakers: int
    vocabulary: int
    words: int
    alphabet: str
    oov_rate: float | None
    oov_source: str | None
    histograms: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def hours(self) -> float:
        return self.seconds / 3600


def dataset_stats(
    rows: pd.DataFrame,
    word_accuracy: pd.DataFrame | None = None,
    oov_source: str | None = None,
    costs: str = "sclite",
    words: Mapping[str, Any] | None = None,
) -> DatasetStats:
    """Statistics of one test set from one system's per-utterance rows (their reference side) scored with
    ``costs``; the OOV rate needs that system's ``errors.word_accuracy`` table with its OOV flags. ``words``:
    ``ReferenceWords.summary`` of these references if known (``Tables.reference_words``), else computed."""
    if words is None:
        words = ReferenceWords.of(rows["ref"].fillna(""), costs).summary()
    durations = rows["duration"].to_numpy(dtype=float)
    ref_words = rows["ref_words"].to_numpy(dtype=float)
    rate = speaking_rates(rows)["words_per_s"].to_numpy()
    flags_missing = word_accuracy is None or word_accuracy.empty or word_accuracy["oov"].isna().all()
    return DatasetStats(
        utterances=len(rows),
        seconds=float(np.nansum(durations)),
        speakers=int(rows["speaker"].nunique()) if "speaker" in rows else 0,
        vocabulary=int(words["vocabulary"]),
        words=int(words["words"]),
        alphabet=str(words["alphabet"]),
        oov_rate=None if flags_missing else float(oov_summary(word_accuracy)["oov_rate"].iat[0]),
        oov_source=oov_source,
        histograms={
            "duration": durations,
            "words": ref_words,
            "chars": rows["ref_chars"].to_numpy(dtype=float),
            "word_rate": rate,
        },
    )


def reference_vocabulary(
    rows: pd.DataFrame, vocabulary: Vocabulary | None = None, costs: str = "sclite"
) -> pd.DataFrame:
    """``word, count, correct, oov`` of a test set's reference words without any system (a dataset):
    the shape of ``errors`` word-accuracy table, so OOV rates and the vocabulary grid read it alike;
    ``correct`` is NA (nothing was recognised) and ``oov`` NA without a vocabulary."""
    words = ReferenceWords.of(rows["ref"].fillna(""), costs)
    counts = np.bincount(words.codes, minlength=len(words.vocabulary))
    frame = pd.DataFrame({"word": words.vocabulary.to_numpy(object), "count": counts})
    frame["correct"] = pd.Series(pd.NA, index=frame.index, dtype="Int64")
    frame["oov"] = (
        ~frame["word"].isin(vocabulary.words)
        if vocabulary is not None
        else pd.Series(pd.NA, index=frame.index, dtype="boolean")
    )
    frame = frame[frame["count"] > 0]
    return frame.sort_values(["count", "word"], ascending=[False, True], kind="stable").reset_index(drop=True)
