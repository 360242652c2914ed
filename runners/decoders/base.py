"""The decoder contract: CTC log-probs of one utterance in, best text plus n-best and stage texts out."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np


@dataclass(slots=True)
class Hypothesis:
    """One n-best entry; scores are natural-log, ``score`` is what the decoder ranked by."""

    text: str
    am_score: float = 0.0
    lm_score: float = 0.0
    neural_score: float | None = None
    score: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class Decoded:
    """A decoder's answer; ``stages`` holds earlier-stage texts (greedy_text, beam_text) for lineage."""

    text: str
    nbest: list[Hypothesis] = field(default_factory=list)
    stages: dict[str, str] = field(default_factory=dict)
    word_times: list[tuple[float, float]] | None = None


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """CTC output labels of an acoustic model; ``labels[blank_id]`` is the blank."""

    labels: tuple[str, ...]
    blank_id: int
    word_delimiter: str = " "
    is_bpe: bool = False

    @property
    def size(self) -> int:
        return len(self.labels)


class Decoder(Protocol):
    """Anything that turns one utterance's ``[T, V]`` log-probs into a Decoded."""

    name: str

    def params(self) -> dict[str, Any]:
        """Every parameter that changes the output, for run.json."""
        ...

    def decode(self, log_probs: np.ndarray, vocab: Vocabulary, frame_seconds: float) -> Decoded: ...
