"""``beam-fast``: flashlight-text's C++ lexicon beam search with its bundled KenLM, same inputs as ``beam``.

The PyPI wheel (flashlight-text 0.0.7) ships ``flashlight.lib.text.decoder.kenlm.KenLM``, so no other decoder
is needed. The search is lexicon-constrained: it can only output words of the LM's unigram list (plus
hotwords), whereas pyctcdecode also spells out-of-vocabulary words at a penalty.

How the contract maps onto flashlight's LexiconDecoder:
- character models spell each word with a trailing word delimiter, the delimiter is the "silence" token that
  may repeat between words, and one extra frame that emits only the delimiter closes the last word;
- BPE models (``▁`` or ``##`` pieces) spell each word as its fewest-piece segmentations; an extra column
  serves as silence and scores a frame only by tokens already plausible in the frame before, so that the
  last piece of a word (after which flashlight is back at the trie root) can span several frames;
- ``alpha`` is converted from natural-log to flashlight's log10 LM units, ``beta`` is the word score, tokens
  under ``token_min_logp`` (except each frame's best) are masked as pyctcdecode skips them;
- hotwords go through a small Python LM wrapper that adds ``hotword_weight`` per hotword, which costs speed.
"""

from __future__ import annotations

import functools
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from werbench.runners.decoders.base import Vocabulary
from werbench.runners.decoders.beam_common import MASKED_LOGP, KenLMBeamDecoder, RawBeam
from werbench.runners.decoders.labels import WORDPIECE_MARK, bpe_style, special_label_ids
from werbench.runners.decoders.ngram import LN10

log = logging.getLogger(__name__)
MAX_SPELLINGS = 3
UNK_WORD = "<unk>"


class Lexicon(NamedTuple):
    """The per-process search structures for one (label set, LM, word list)."""

    words: list[str]
    kenlm: Any
    trie: Any
    sil: int
    unk: int
    extra_column: bool
    extra_frame: bool
    hotword_ids: frozenset[int]


def piece_spellings(word: str, pieces: dict[str, int], style: str) -> list[list[int]]:
    """Up to ``MAX_SPELLINGS`` segmentations of ``word`` into the fewest vocabulary pieces."""
    text = "▁" + word if style == "sentencepiece" else word
    longest = max(map(len, pieces), default=0)
    n = len(text)

    def piece(i: int, j: int) -> int | None:
        key = text[i:j] if style == "sentencepiece" or i == 0 else WORDPIECE_MARK + text[i:j]
        return pieces.get(key)

    fewest = [math.inf] * (n + 1)
    fewest[n] = 0
    for i in range(n - 1, -1, -1):
        for j in range(i + 1, min(n, i + longest) + 1):
            if piece(i, j) is not None:
                fewest[i] = min(fewest[i], fewest[j] + 1)
    out: list[list[int]] = []

    def walk(i: int, acc: list[int]) -> None:
        if len(out) == MAX_SPELLINGS:
            return
        if i == n:
            out.append(acc)
            return
        for j in range(i + 1, min(n, i + longest) + 1):
            label = piece(i, j)
            if label is not None and fewest[j] == fewest[i] - 1:
                walk(j, [*acc, label])

    if fewest[0] < math.inf:
        walk(0, [])
    return out


def char_spelling(word: str, chars: dict[str, int], delimiter: int) -> list[list[int]]:
    """A character model's spelling: the letters, then the word delimiter."""
    if any(c not in chars for c in word):
        return []
    return [[chars[c] for c in word] + [delimiter]]


def _word_list(lm: str, unigrams: str | None, hotwords: tuple[str, ...], alphabet: list[str]) -> list[str]:
    from werbench.runners.decoders.ngram import load_unigrams

    seen: dict[str, None] = dict.fromkeys(load_unigrams(lm, unigrams, alphabet))
    for phrase in hotwords:
        seen.update(dict.fromkeys(phrase.split()))
    seen.pop(UNK_WORD, None)
    return [*seen, UNK_WORD]


@functools.lru_cache(maxsize=4)
def _build_lexicon(
    labels: tuple[str, ...],
    blank_id: int,
    delimiter: str,
    is_bpe: bool,
    lm: str,
    mtime_ns: int,
    unigrams: str | None,
    hotwords: tuple[str, ...],
) -> Lexicon:
    from flashlight.lib.text.decoder import SmearingMode, Trie
    from flashlight.lib.text.decoder.kenlm import KenLM
    from flashlight.lib.text.dictionary import Dictionary

    vocab = Vocabulary(labels, blank_id, delimiter, is_bpe)
    style = bpe_style(vocab)
    skip = {blank_id, *special_label_ids(vocab)}
    usable = {label: i for i, label in enumerate(labels) if i not in skip}
    if style is None:
        if delimiter not in usable:
            raise ValueError(f"word delimiter {delimiter!r} is not among the model's labels")
        sil = usable[delimiter]
        chars = {k: v for k, v in usable.items() if len(k) == 1 and v != sil}
        spell = functools.partial(char_spelling, chars=chars, delimiter=sil)
    else:
        sil = len(labels)
        spell = functools.partial(piece_spellings, pieces=usable, style=style)

    alphabet = [label for i, label in enumerate(labels) if i != blank_id]  # a scorer's alphabet
    words = _word_list(lm, unigrams, hotwords, alphabet)
    kenlm = KenLM(lm, Dictionary(words))
    trie = Trie(len(labels) + 1, sil)
    start = kenlm.start(False)
    spelled = 0
    for index, word in enumerate(words[:-1]):
        spellings = spell(word)
        if spellings:
            spelled += 1
            score = kenlm.score(start, index)[1]
            for spelling in spellings:
                trie.insert(spelling, index, score)
    if not spelled:
        raise ValueError(
            f"none of the {len(words) - 1} LM words can be spelled with the model's labels "
            f"(e.g. {words[0]!r} vs labels {list(labels)[:12]}...): do the LM and the model share casing?"
        )
    if spelled < 0.9 * (len(words) - 1):
        log.warning("%d of %d LM words use characters the model lacks: beam-fast cannot output them",
                    len(words) - 1 - spelled, len(words) - 1)  # fmt: skip
    trie.smear(SmearingMode.MAX)
    hotword_ids = frozenset(words.index(w) for phrase in hotwords for w in phrase.split())
    return Lexicon(words, kenlm, trie, sil, len(words) - 1, style is not None, style is None, hotword_ids)


def lexicon_for(vocab: Vocabulary, lm: str, unigrams: str | None, hotwords: tuple[str, ...]) -> Lexicon:
    """The process-wide trie and KenLM for this label set and LM (built on first use)."""
    mtime = Path(lm).stat().st_mtime_ns
    return _build_lexicon(
        vocab.labels, vocab.blank_id, vocab.word_delimiter, vocab.is_bpe, lm, mtime, unigrams, hotwords
    )


def _boosted_lm(kenlm: Any, boosts: dict[int, float]) -> Any:
    """KenLM plus a per-word bonus, as a flashlight LM the C++ search can call back into."""
    from flashlight.lib.text.decoder import LM

    class BoostedLM(LM):
        def __init__(self) -> None:
            LM.__init__(self)

        def start(self, start_with_nothing: bool):
            return kenlm.start(start_with_nothing)

        def score(self, state, token_index: int):
            out_state, value = kenlm.score(state, token_index)
            return out_state, value + boosts.get(token_index, 0.0)

        def finish(self, state):
            return kenlm.finish(state)

    return BoostedLM()


def prepare_emissions(
    log_probs: np.ndarray, lexicon: Lexicon, token_min_logp: float, blank_id: int
) -> tuple[np.ndarray, int]:
    """Mask tokens pyctcdecode would skip, add the silence column or closing frame; -> (emissions, top-k).

    A masked token scores ``MASKED_LOGP`` plus its own log-prob, not the constant alone: with a constant,
    every path the lexicon forces through masked tokens tied exactly with its rivals, and flashlight breaks
    ties by heap address (it orders hypotheses by the address of their LM state and cuts the beam with
    ``nth_element``), so the same input decoded differently run to run. Exactly equal float16 log-probs of
    two tokens can still tie in principle (no such case in 3 x 640 decodes of bench_ray_tune's grid).
    """
    keep = log_probs >= token_min_logp
    keep[np.arange(len(log_probs)), log_probs.argmax(axis=1)] = True
    emissions = np.where(keep, log_probs, MASKED_LOGP + np.maximum(log_probs, MASKED_LOGP)).astype(np.float32)
    top_k = int(keep.sum(axis=1).max())
    if lexicon.extra_column:
        emissions = np.hstack([emissions, repeat_column(log_probs, keep, blank_id)])
        top_k += 1
    if lexicon.extra_frame:
        closing = np.full((1, emissions.shape[1]), MASKED_LOGP, np.float32)
        closing[0, lexicon.sil] = 0.0
        emissions = np.vstack([emissions, closing])
    return np.ascontiguousarray(emissions), top_k


def repeat_column(log_probs: np.ndarray, keep: np.ndarray, blank_id: int) -> np.ndarray:
    """The BPE silence column: per frame, the best non-blank token that was already plausible a frame earlier.

    flashlight completes a BPE word on its last piece and returns to the trie root, where the only way to
    spend a frame without a blank is the silence token; this lets the last piece go on for several frames.
    The first frame of any token cannot be spent this way, so a word cannot be skipped through it.
    """
    column = np.full((len(log_probs), 1), MASKED_LOGP, np.float32)
    if len(log_probs) > 1:
        carried = keep[:-1].copy()
        carried[:, blank_id] = False
        scores = np.where(carried, log_probs[1:], np.float32(MASKED_LOGP)).max(axis=1)
        column[1:, 0] = scores
    return column


def word_frames(
    tokens: list[int], words: list[int], ignore: set[int], n_frames: int
) -> list[tuple[int, int]]:
    """``(start, end)`` frames per emitted word from flashlight's per-step token and word arrays."""
    spans: list[tuple[int, int]] = []
    start = last = None
    for step in range(1, len(tokens)):
        frame = step - 1
        if tokens[step] >= 0 and tokens[step] not in ignore and frame < n_frames:
            start = frame if start is None else start
            last = frame
        if words[step] >= 0:
            first = start if start is not None else min(frame, n_frames - 1)
            spans.append((first, (last if last is not None else first) + 1))
            start = last = None
    return spans


@dataclass
class FastBeamDecoder(KenLMBeamDecoder):
    """flashlight-text LexiconDecoder + KenLM; same parameters and n-best output as ``beam``."""

    name: str = field(default="beam-fast", init=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.hotwords and self.alpha <= 0:
            raise ValueError("hotwords on beam-fast need alpha > 0 (they are added through the LM weight)")

    def _search(self, log_probs: np.ndarray, vocab: Vocabulary) -> list[RawBeam]:
        from flashlight.lib.text.decoder import CriterionType, LexiconDecoder, LexiconDecoderOptions

        lexicon = lexicon_for(vocab, self.lm, self.unigrams, self.hotwords)
        emissions, top_k = prepare_emissions(log_probs, lexicon, self.token_min_logp, vocab.blank_id)
        lm_weight = self.alpha * LN10
        boost = self.hotword_weight / lm_weight if lexicon.hotword_ids else 0.0
        lm = _boosted_lm(lexicon.kenlm, dict.fromkeys(lexicon.hotword_ids, boost)) if boost else lexicon.kenlm
        options = LexiconDecoderOptions(
            beam_size=self.beam_width,
            beam_size_token=max(top_k, 1),
            beam_threshold=-self.beam_prune_logp,
            lm_weight=lm_weight,
            word_score=self.beta,
            unk_score=-math.inf,
            sil_score=0.0,
            log_add=True,
            criterion_type=CriterionType.CTC,
        )
        decoder = LexiconDecoder(
            options, lexicon.trie, lm, lexicon.sil, vocab.blank_id, lexicon.unk, [], False
        )
        frames, size = emissions.shape
        results = decoder.decode(emissions.ctypes.data, frames, size)
        ignore = {vocab.blank_id, lexicon.sil}
        beams = []
        for result in results:
            ids = [w for w in result.words if w >= 0]
            lm_log10 = result.lmScore - boost * sum(w in lexicon.hotword_ids for w in ids)
            beams.append(
                RawBeam(
                    text=" ".join(lexicon.words[w] for w in ids),
                    am_score=float(result.emittingModelScore),
                    score=float(result.score),
                    frames=word_frames(list(result.tokens), list(result.words), ignore, len(log_probs)),
                    lm_score=float(lm_log10) * LN10,
                )
            )
        return beams
