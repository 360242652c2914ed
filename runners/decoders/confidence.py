"""Per-word confidence of a CTC decoder's output, from the frame posteriors of the frames each word spans.

Three measures per word, in ``CONFIDENCE_MEASURES`` order (a prediction line's ``word_confidence`` holds one
``[max_prob_mean, max_prob_min, entropy]`` per word, aligned with ``word_times``):

- ``max_prob_mean`` / ``max_prob_min``: the mean and the minimum over the word's frames of the frame's
  maximum posterior probability;
- ``entropy``: NeMo's default frame confidence (``ConfidenceMethodConfig``:
  Tsallis entropy, alpha 0.33, exponential normalisation: ``entropy_tsallis_exp`` of
  ``asr_confidence_utils.get_confidence_measure_bank``), aggregated over the word's frames by the minimum,
  NeMo's default aggregation. 1 is a one-hot frame, 0 a uniform one.

The analysis shows one first (``analysis.confidence.DEFAULT_MEASURE``); all three are kept.

A word's frames are those its ``word_times`` span (``round(t / frame_seconds)``, at least one frame), so
every decoder that reports word times (greedy, both beam searches, rescoring) gets the same confidence.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

CONFIDENCE_MEASURES = ("max_prob_mean", "max_prob_min", "entropy")
TSALLIS_ALPHA = 0.33


def tsallis_exp_confidence(log_probs: np.ndarray, alpha: float = TSALLIS_ALPHA) -> np.ndarray:
    """Per frame: NeMo's ``entropy_tsallis_exp`` of log-probs ``[T, V]`` (in [0, 1])."""
    vocab = log_probs.shape[-1]
    neg_alpha = np.exp(log_probs.astype(np.float64) * alpha).sum(axis=-1)  # sum p^alpha
    floor = math.exp((1 - math.pow(vocab, 1 - alpha)) / (1 - alpha))  # exp(-H_max)
    return (np.exp((1 - neg_alpha) / (1 - alpha)) - floor) / (1 - floor)


def word_confidence(
    log_probs: np.ndarray, word_times: Sequence[Sequence[float]] | None, frame_seconds: float
) -> list[list[float]] | None:
    """``[max_prob_mean, max_prob_min, entropy]`` per word (rounded to 4 digits), or None without times."""
    if word_times is None or len(log_probs) == 0:
        return None
    max_prob = np.exp(log_probs.max(axis=1).astype(np.float64))
    entropy = tsallis_exp_confidence(log_probs)
    out = []
    for start, end in word_times:
        first = min(max(round(start / frame_seconds), 0), len(log_probs) - 1)
        last = max(first + 1, min(round(end / frame_seconds), len(log_probs)))
        frames = slice(first, last)
        out.append(
            [
                round(float(max_prob[frames].mean()), 4),
                round(float(max_prob[frames].min()), 4),
                round(float(entropy[frames].min()), 4),
            ]
        )
    return out
