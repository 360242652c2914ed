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
    word_confidence: list[list[float]] | None = None  # per word (``decoders.confidence``), set by the pool


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


LOGITS = "logits"


def lineage_record(
    consumed: str = LOGITS, stages: dict[str, dict[str, Any]] | None = None, **more: Any
) -> dict:
    """Provenance the analysis builds decoder lineage from, never from names: ``input`` is what the final
    text was decoded from (``logits``, or the name of a saved stage whose n-best it re-ranked); ``stages``
    maps each saved stage text to ``{type, params, input}``, the decoder that produced it."""
    return {"input": consumed, "stages": stages or {}, **more}


def stage_record(kind: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """One saved stage of ``lineage_record``: a decoder over the same logits."""
    return {"type": kind, "params": params or {}, "input": LOGITS}


class Decoder(Protocol):
    """Anything that turns one utterance's ``[T, V]`` log-probs into a Decoded."""

    name: str

    def params(self) -> dict[str, Any]:
        """Every parameter that changes the output, for run.json."""
        ...

    def lineage(self) -> dict[str, Any]:
        """What this decoder consumed, for run.json's ``decoder.lineage`` (``lineage_record``)."""
        ...

    def decode(self, log_probs: np.ndarray, vocab: Vocabulary, frame_seconds: float) -> Decoded: ...
