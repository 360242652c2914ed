"""``rescore``: a KenLM beam search's n-best re-ranked with a neural LM.

Final score = am + alpha * ngram + beta * words + gamma * neural, all natural-log; ``am`` and ``ngram`` come
from the first pass (``beam`` or ``beam-fast``), ``neural`` from :mod:`runners.decoders.neural_lm`. The first
pass may use its own alpha/beta (``first_alpha``/``first_beta``, default: the same), which is what tuning
holds fixed while it sweeps the re-ranking weights over one set of n-best lists.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from werbench.runners.decoders.base import Decoded, Hypothesis, Vocabulary, lineage_record, stage_record
from werbench.runners.decoders.beam_common import Beam, KenLMBeamDecoder, default_weights, greedy_text

FIRST_PASSES = ("beam", "beam-fast")


def combined_score(hyp: Hypothesis, alpha: float, beta: float, gamma: float) -> float:
    """The rescoring objective for one hypothesis."""
    return (
        hyp.am_score + alpha * hyp.lm_score + beta * len(hyp.text.split()) + gamma * (hyp.neural_score or 0.0)
    )


def rerank(beams: list[Beam], alpha: float, beta: float, gamma: float) -> list[Beam]:
    """Beams re-scored with :func:`combined_score`, best first (stable for ties)."""
    scored = [
        Beam(replace(b.hyp, score=combined_score(b.hyp, alpha, beta, gamma)), b.word_times) for b in beams
    ]
    return sorted(scored, key=lambda b: -b.hyp.score)


@dataclass
class RescoreDecoder:
    """First-pass KenLM beam search, then masked-LM PLL or causal-LM rescoring of its n-best."""

    rescorer: str | None = None
    lm: str | None = None
    unigrams: str | None = None
    first_pass: str = "beam-fast"
    beam_width: int = 64
    nbest: int = 16
    alpha: float | None = None  # None: a scorer package's default, else 0.5 (beam_common.default_weights)
    beta: float | None = None  # None: a scorer package's default, else 1.0
    gamma: float = 0.5
    first_alpha: float | None = None
    first_beta: float | None = None
    hotwords: tuple[str, ...] = ()
    hotword_weight: float = 10.0
    rescorer_kind: str = "auto"
    device: str = "auto"
    batch_size: int = 32
    name: str = field(default="rescore", init=False)

    def __post_init__(self) -> None:
        if self.rescorer is None:
            raise ValueError("decoder 'rescore' needs a neural LM (--rescorer DIR|FILE.gguf)")
        if self.first_pass not in FIRST_PASSES:
            raise ValueError(f"first_pass must be one of {', '.join(FIRST_PASSES)}")
        if self.rescorer_kind not in ("auto", "mlm", "causal"):
            raise ValueError("rescorer_kind must be auto, mlm or causal")
        self.rescorer = str(Path(self.rescorer).resolve())
        self.alpha, self.beta = default_weights(self.lm, self.alpha, self.beta)
        self.first_pass_decoder()  # validates the n-gram settings now, not at the first utterance

    def params(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("name")
        out["hotwords"] = list(self.hotwords)
        out["first_alpha"] = self.alpha if self.first_alpha is None else self.first_alpha
        out["first_beta"] = self.beta if self.first_beta is None else self.first_beta
        return out

    def lineage(self) -> dict[str, Any]:
        """The final text re-ranks the n-best of its own first pass, saved as ``beam_text``."""
        first = self.first_pass_decoder()
        stages = {
            "greedy_text": stage_record("greedy"),
            "beam_text": stage_record(first.name, first.params()),
        }
        return lineage_record("beam_text", stages, nbest=self.nbest)

    def first_pass_decoder(self) -> KenLMBeamDecoder:
        """The n-best generator with this decoder's n-gram settings."""
        if self.first_pass == "beam":
            from werbench.runners.decoders.beam_pyctc import BeamSearchDecoder as First
        else:
            from werbench.runners.decoders.beam_fast import FastBeamDecoder as First
        return First(
            lm=self.lm,
            unigrams=self.unigrams,
            beam_width=self.beam_width,
            alpha=self.alpha if self.first_alpha is None else self.first_alpha,
            beta=self.beta if self.first_beta is None else self.first_beta,
            nbest=self.nbest,
            hotwords=self.hotwords,
            hotword_weight=self.hotword_weight,
        )

    def scorer(self):
        from werbench.runners.decoders.neural_lm import load_neural_lm

        return load_neural_lm(self.rescorer, self.rescorer_kind, self.device, self.batch_size)

    def neural_nbest(self, log_probs: np.ndarray, vocab: Vocabulary, frame_seconds: float) -> list[Beam]:
        """First-pass n-best with ``neural_score`` filled in (what tuning re-ranks many times)."""
        beams = self.first_pass_decoder().search(log_probs, vocab, frame_seconds)
        neural = self.scorer().score([b.hyp.text for b in beams])
        return [
            Beam(replace(b.hyp, neural_score=n), b.word_times) for b, n in zip(beams, neural, strict=True)
        ]

    def decode(self, log_probs: np.ndarray, vocab: Vocabulary, frame_seconds: float) -> Decoded:
        first = self.neural_nbest(log_probs, vocab, frame_seconds)
        ranked = rerank(first, self.alpha, self.beta, self.gamma)
        return Decoded(
            text=ranked[0].hyp.text,
            nbest=[b.hyp for b in ranked],
            stages={"greedy_text": greedy_text(log_probs, vocab), "beam_text": first[0].hyp.text},
            word_times=ranked[0].word_times,
        )
