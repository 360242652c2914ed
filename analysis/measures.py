"""Per-utterance measures beyond the aligner's counts, as Speech Data Explorer shows them: speaking rates
(words and characters per second of audio) and deletions minus insertions (a hypothesis that drops words
has D-I > 0, one that babbles has D-I < 0; SDE's ``D-I`` column)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def speaking_rates(rows: pd.DataFrame) -> pd.DataFrame:
    """``words_per_s`` and ``chars_per_s`` of the reference (inf for a zero duration, NaN for an unknown)."""
    duration = pd.to_numeric(rows["duration"], errors="coerce").to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return pd.DataFrame(
            {
                "words_per_s": rows["ref_words"].to_numpy(float) / duration,
                "chars_per_s": rows["ref_chars"].to_numpy(float) / duration,
            },
            index=rows.index,
        )


def deletions_minus_insertions(rows: pd.DataFrame) -> np.ndarray:
    """SDE's ``D-I`` of one system's rows (0 for failed rows: they have no counts)."""
    return rows["D"].to_numpy(np.int64) - rows["I"].to_numpy(np.int64)
