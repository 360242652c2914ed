"""What the two KenLM beam searches share: parameters, label handling, n-best assembly and word times.

``alpha`` weighs the natural-log n-gram score and ``beta`` is added per word, as in pyctcdecode, so the same
numbers mean the same thing on both paths (and as in a DeepSpeech ``.scorer`` package, whose defaults are used
when the weights are not given). Each search returns :class:`RawBeam` rows; this module turns them
into the contract's ``Decoded`` with ``lm_score`` (unweighted, natural log, whole sentence) for every entry.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from werbench.runners.decoders.base import Decoded, Hypothesis, Vocabulary, lineage_record, stage_record
from werbench.runners.decoders.greedy import best_path_text
from werbench.runners.decoders.labels import special_label_ids
from werbench.runners.decoders.ngram import is_scorer, scorer_package

DEFAULT_ALPHA = 0.5
DEFAULT_BETA = 1.0
# Far below any real log-prob but finite, so sums never turn into NaN inside the C++ search.
MASKED_LOGP = -1.0e4


class RawBeam(NamedTuple):
    """One finished beam as a search reports it; ``frames`` are ``(start, end)`` frame spans per word."""

    text: str
    am_score: float
    score: float
    frames: list[tuple[int, int]]
    lm_score: float | None = None


class Beam(NamedTuple):
    """An n-best entry together with its word times, which rescoring keeps for the entry it promotes."""

    hyp: Hypothesis
    word_times: list[tuple[float, float]]


def mask_labels(log_probs: np.ndarray, masked: list[int]) -> np.ndarray:
    """A float32 C-contiguous copy with the masked columns pushed to ``MASKED_LOGP``."""
    out = np.array(log_probs, dtype=np.float32, order="C", copy=True)
    if masked:
        out[:, masked] = MASKED_LOGP
    return out


def greedy_text(log_probs: np.ndarray, vocab: Vocabulary) -> str:
    """CTC best path, for the ``greedy_text`` stage that the lineage view compares against."""
    return best_path_text(log_probs, vocab)


def default_weights(lm: str | None, alpha: float | None, beta: float | None) -> tuple[float, float]:
    """The n-gram weights to use: those given, else a DeepSpeech scorer package's, else 0.5 and 1."""
    package = scorer_package(lm) if lm and (alpha is None or beta is None) and is_scorer(lm) else None
    return (
        alpha if alpha is not None else package.alpha if package else DEFAULT_ALPHA,
        beta if beta is not None else package.beta if package else DEFAULT_BETA,
    )


@dataclass
class KenLMBeamDecoder:
    """Template for a KenLM beam search; subclasses implement :meth:`_search` and set ``name``."""

    lm: str | None = None
    unigrams: str | None = None
    beam_width: int = 64
    alpha: float | None = None  # None: a scorer package's default, else DEFAULT_ALPHA
    beta: float | None = None  # None: a scorer package's default, else DEFAULT_BETA
    nbest: int = 10
    hotwords: tuple[str, ...] = ()
    hotword_weight: float = 10.0
    beam_prune_logp: float = -10.0
    token_min_logp: float = -5.0
    name: str = field(default="beam", init=False)

    def __post_init__(self) -> None:
        if self.lm is None:
            raise ValueError(f"decoder {self.name!r} needs a KenLM n-gram (--lm LM.arpa|LM.bin)")
        self.lm = str(Path(self.lm).resolve())
        self.alpha, self.beta = default_weights(self.lm, self.alpha, self.beta)
        if self.unigrams is not None:
            self.unigrams = str(Path(self.unigrams).resolve())
        self.hotwords = tuple(w.strip() for w in self.hotwords if w.strip())
        if self.beam_width < 1 or self.nbest < 1:
            raise ValueError("beam_width and nbest must be at least 1")

    def params(self) -> dict[str, Any]:
        """Every setting that changes the output, for run.json."""
        out = asdict(self)
        out.pop("name")
        out["hotwords"] = list(self.hotwords)
        return out

    def lineage(self) -> dict[str, Any]:
        """A search over the logits; the ``greedy_text`` it saves is the same logits' best path."""
        return lineage_record(stages={"greedy_text": stage_record("greedy")})

    def search(self, log_probs: np.ndarray, vocab: Vocabulary, frame_seconds: float) -> list[Beam]:
        """The n-best list, best first, with unweighted natural-log ``lm_score`` and word times."""
        if log_probs.ndim != 2 or log_probs.shape[1] != vocab.size:
            raise ValueError(
                f"log-probs of shape {log_probs.shape} do not match a {vocab.size}-label vocabulary"
            )
        raws = self._search(mask_labels(log_probs, special_label_ids(vocab)), vocab) if len(log_probs) else []
        beams: list[Beam] = []
        seen: set[str] = set()
        sentence_score = self._sentence_scorer()
        for raw in raws:
            text = " ".join(raw.text.split())
            if text in seen:
                continue
            seen.add(text)
            lm_score = raw.lm_score if raw.lm_score is not None else sentence_score(text)
            hyp = Hypothesis(text=text, am_score=raw.am_score, lm_score=lm_score, score=raw.score)
            times = [(round(s * frame_seconds, 3), round(e * frame_seconds, 3)) for s, e in raw.frames]
            beams.append(Beam(hyp, times))
            if len(beams) == self.nbest:
                break
        return beams or [Beam(Hypothesis(text="", lm_score=sentence_score("")), [])]

    def decode(self, log_probs: np.ndarray, vocab: Vocabulary, frame_seconds: float) -> Decoded:
        beams = self.search(log_probs, vocab, frame_seconds)
        return Decoded(
            text=beams[0].hyp.text,
            nbest=[b.hyp for b in beams],
            stages={"greedy_text": greedy_text(log_probs, vocab)},
            word_times=beams[0].word_times,
        )

    def _sentence_scorer(self):
        """The LM's whole-sentence score, its file looked up once per utterance rather than per entry."""
        from werbench.runners.decoders.ngram import NgramLM

        return NgramLM(self.lm).sentence_score

    def _search(self, log_probs: np.ndarray, vocab: Vocabulary) -> list[RawBeam]:
        raise NotImplementedError
