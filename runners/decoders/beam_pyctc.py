"""``beam``: pyctcdecode's CTC prefix beam search with KenLM shallow fusion, the reference path.

The pyctcdecode object (alphabet, unigram trie, KenLM handle) is built once per process and label set and
reused for every utterance; alpha and beta are reset on it per call because that costs nothing, which is what
lets tuning sweep them without reloading the LM.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from werbench.runners.decoders.base import Vocabulary
from werbench.runners.decoders.beam_common import KenLMBeamDecoder, RawBeam
from werbench.runners.decoders.labels import bpe_style


def pyctc_labels(vocab: Vocabulary) -> list[str]:
    """Labels in pyctcdecode's convention: blank is ``""``, a character model's word delimiter is ``" "``."""
    style = bpe_style(vocab)
    labels = list(vocab.labels)
    for i, label in enumerate(labels):
        if i == vocab.blank_id:
            labels[i] = ""
        elif style is None and label == vocab.word_delimiter:
            labels[i] = " "
    return labels


@functools.lru_cache(maxsize=4)
def _build(labels: tuple[str, ...], lm: str, mtime_ns: int, unigrams: str | None):
    from pyctcdecode.alphabet import Alphabet
    from pyctcdecode.decoder import BeamSearchDecoderCTC
    from pyctcdecode.language_model import LanguageModel
    from werbench.runners.decoders.ngram import load_kenlm, load_unigrams

    model = load_kenlm(lm)
    alphabet = [label for label in labels if label != ""]  # a scorer's alphabet: the labels but the blank
    language_model = LanguageModel(model, load_unigrams(lm, unigrams, alphabet))
    return BeamSearchDecoderCTC(Alphabet.build_alphabet(list(labels)), language_model)


def pyctc_decoder(vocab: Vocabulary, lm: str, unigrams: str | None = None):
    """The process-wide pyctcdecode decoder for this label set and LM (built on first use)."""
    return _build(tuple(pyctc_labels(vocab)), lm, Path(lm).stat().st_mtime_ns, unigrams)


@dataclass
class BeamSearchDecoder(KenLMBeamDecoder):
    """pyctcdecode 0.5 beam search; OOV words are allowed at pyctcdecode's unknown-word penalty."""

    name: str = field(default="beam", init=False)

    def _search(self, log_probs: np.ndarray, vocab: Vocabulary) -> list[RawBeam]:
        decoder = pyctc_decoder(vocab, self.lm, self.unigrams)
        decoder.reset_params(alpha=float(self.alpha), beta=float(self.beta))
        beams = decoder.decode_beams(
            log_probs,
            beam_width=self.beam_width,
            beam_prune_logp=self.beam_prune_logp,
            token_min_logp=self.token_min_logp,
            hotwords=list(self.hotwords) or None,
            hotword_weight=self.hotword_weight,
        )
        return [
            RawBeam(text, float(am), float(score), [frames for _, frames in word_frames])
            for text, _state, word_frames, am, score in beams
        ]
