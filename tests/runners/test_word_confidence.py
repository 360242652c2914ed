"""Per-word confidence from frame posteriors: by hand, and NeMo's own entropy measure as the anchor."""

from __future__ import annotations

import math

import numpy as np
import pytest
from werbench.runners.decoders.confidence import tsallis_exp_confidence, word_confidence


def _log(rows: list[list[float]]) -> np.ndarray:
    return np.log(np.array(rows, dtype=np.float64))


def test_measures_by_hand() -> None:
    lp = _log(
        [[0.25, 0.25, 0.25, 0.25], [1 - 3e-9, 1e-9, 1e-9, 1e-9], [0.7, 0.1, 0.1, 0.1], [0.4, 0.2, 0.2, 0.2]]
    )
    frame = tsallis_exp_confidence(lp)
    assert frame[0] == pytest.approx(0.0, abs=1e-9) and frame[1] > 0.99  # near one-hot
    a = 0.33  # Tsallis entropy of frame 2 with NeMo's exponential normalisation, written out
    h = (1 - (0.7**a + 3 * 0.1**a)) / (a - 1)
    floor = math.exp((1 - 4 ** (1 - a)) / (1 - a))
    assert frame[2] == pytest.approx((math.exp(-h) - floor) / (1 - floor))
    # words over frames 1-2 and 3 (frame_seconds 0.04): mean/min of max-prob, min of the entropy measure
    conf = word_confidence(lp, [(0.04, 0.12), (0.12, 0.16)], 0.04)
    assert conf[0][:2] == [round((1 - 3e-9 + 0.7) / 2, 4), 0.7]
    assert conf[0][2] == round(float(frame[2]), 4) and conf[1] == [0.4, 0.4, round(float(frame[3]), 4)]
    assert word_confidence(lp, None, 0.04) is None


def test_entropy_measure_is_nemos() -> None:
    torch = pytest.importorskip("torch")
    bank = pytest.importorskip(
        "nemo.collections.asr.parts.utils.asr_confidence_utils"
    ).get_confidence_measure_bank()
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(50, 29)) * rng.uniform(0.5, 8, size=(50, 1))
    lp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    theirs = bank["entropy_tsallis_exp"](torch.tensor(lp), 29, 0.33).numpy()
    assert np.allclose(tsallis_exp_confidence(lp), theirs, atol=1e-9)
