"""SDE's per-utterance measures: speaking rates and D-I."""

from __future__ import annotations

import numpy as np
import pandas as pd
from werbench.analysis.measures import deletions_minus_insertions, speaking_rates


def test_speaking_rates_and_deletions_minus_insertions() -> None:
    rows = pd.DataFrame(
        {
            "duration": [2.0, 0.0, np.nan],
            "ref_words": [5, 3, 1],
            "ref_chars": [20, 9, 4],
            "D": [2, 0, 1],
            "I": [0, 3, 1],
        }
    )
    rates = speaking_rates(rows)
    assert rates["words_per_s"].tolist()[0] == 2.5 and rates["chars_per_s"].tolist()[0] == 10.0
    assert np.isinf(rates.iloc[1]).all() and rates.iloc[2].isna().all()  # as dataset_stats has them
    assert deletions_minus_insertions(rows).tolist() == [2, -3, 0]
