"""CTC posteriors for a known transcript, with realistic timing and acoustic confusions.

Decoder tests and the decoder benchmark need log-probs whose right answer is known and on which greedy
decoding makes the kind of errors an LM fixes (a confusable letter winning a frame); a trained acoustic model
cannot be shipped or downloaded, so this builds them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from werbench.runners.decoders.base import Vocabulary


def char_token_ids(text: str, vocab: Vocabulary) -> list[int]:
    """A character model's target labels for ``text`` (words joined by the word delimiter)."""
    index = {label: i for i, label in enumerate(vocab.labels) if i != vocab.blank_id}
    ids = []
    for n, word in enumerate(text.split()):
        if n:
            ids.append(index[vocab.word_delimiter])
        ids.extend(index[c] for c in word)
    return ids


def synthetic_log_probs(
    token_ids: Sequence[int],
    vocab_size: int,
    blank_id: int,
    rng: np.random.Generator,
    *,
    frames_per_token: tuple[int, int] = (1, 3),
    blanks_between: tuple[int, int] = (0, 2),
    confusion: float = 0.25,
    sharpness: float = 7.0,
    noise: float = 1.0,
    rival_margin: tuple[float, float] = (-1.5, 1.0),
) -> np.ndarray:
    """``[T, V]`` float32 log-softmax frames spelling ``token_ids`` under CTC.

    Each token lasts ``frames_per_token`` frames after ``blanks_between`` blanks (at least one between equal
    neighbours); with probability ``confusion`` a random rival label scores ``rival_margin`` around the true
    one on all of that token's frames, so greedy decoding picks the rival about as often as the margin says.
    """
    targets: list[int] = [blank_id] * int(rng.integers(1, 4))
    rivals: list[int] = [-1] * len(targets)
    previous = -1
    candidates = np.array([i for i in range(vocab_size) if i != blank_id])
    for token in token_ids:
        n_blank = int(rng.integers(blanks_between[0], blanks_between[1] + 1))
        if token == previous:
            n_blank = max(n_blank, 1)
        targets += [blank_id] * n_blank
        rivals += [-1] * n_blank
        rival = int(rng.choice(candidates[candidates != token])) if rng.random() < confusion else -1
        n_frames = int(rng.integers(frames_per_token[0], frames_per_token[1] + 1))
        targets += [token] * n_frames
        rivals += [rival] * n_frames
        previous = token
    tail = int(rng.integers(1, 4))
    targets += [blank_id] * tail
    rivals += [-1] * tail

    frames = len(targets)
    logits = rng.normal(0.0, noise, size=(frames, vocab_size)).astype(np.float32)
    rows = np.arange(frames)
    target_arr = np.array(targets)
    logits[rows, target_arr] += sharpness
    confused = np.array(rivals) >= 0
    margins = rng.uniform(*rival_margin, size=frames).astype(np.float32)
    rival_rows = rows[confused]
    rival_arr = np.array(rivals)[confused]
    logits[rival_rows, rival_arr] = logits[rival_rows, target_arr[confused]] + margins[confused]
    logits -= logits.max(axis=1, keepdims=True)
    return (logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))).astype(np.float32)
