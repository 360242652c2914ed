"""The acoustic-model contract: a batch of audio in, per-frame CTC log-probs out."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
from werbench.runners.decoders.base import Vocabulary


class AcousticModel(Protocol):
    """Adapters for NeMo, legacy NeMo, Hugging Face and DeepSpeech2 models all look like this."""

    vocab: Vocabulary
    sample_rate: int
    frame_seconds: float

    def identity(self) -> dict[str, Any]:
        """``{"path", "sha256", "architecture", "vocabulary"}`` for run.json and the logits cache key."""
        ...

    def log_probs(self, batch: list[np.ndarray]) -> list[np.ndarray]:
        """Mono float32 waveforms at ``sample_rate`` -> one ``[T, V]`` float32 log-softmax array each."""
        ...
