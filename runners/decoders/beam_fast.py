"""``beam-fast``: pyctcdecode's prefix beam search compiled with numba
(:mod:`~werbench.runners.decoders.prefix_kernel`): the same inputs, n-best, scores and word times as ``beam``,
out-of-vocabulary words included (spelled at pyctcdecode's unknown-word penalty), over 10x faster.

The language model side is pyctcdecode's own objects, shared with ``beam`` (one KenLM load per process):
its ``LanguageModel.score`` gives each new word's weighted score (unknown-word offset, ``alpha``, ``beta``,
``</s>`` at the end), its ``HotwordScorer`` the hotword partial-word scores. KenLM is called once per
(LM state, word) rather than once per new text, since KenLM scores every word outside the unigram list as
``<unk>``. Two deviations, both outside werbench's own LMs: a word that KenLM knows but an explicit unigram
list leaves out scores as ``<unk>`` (pyctcdecode uses its n-gram probability, plus the same offset), and a
sentencepiece label ending in ``▁`` does not force the next piece to start a word (pyctcdecode keeps that
flag in one variable shared by all beams).
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from werbench.runners.decoders.base import Vocabulary
from werbench.runners.decoders.beam_common import KenLMBeamDecoder, RawBeam
from werbench.runners.decoders.beam_pyctc import pyctc_decoder
from werbench.runners.decoders.prefix_kernel import (
    BLANK,
    DELIMITER,
    DONE,
    N_BEAMS,
    N_PENDING,
    N_SCORED,
    N_SPANS,
    NEED_LM,
    PIECE,
    WORD_START,
    build_trie,
    frame_tokens,
    lookup,
    new_table,
    rehash,
    run_frames,
)

BPE_MARK = "▁"  # pyctcdecode's BPE_TOKEN: its alphabet writes every BPE model's pieces this way
MIN_LOGP = float(np.log(1e-15))  # pyctcdecode's MIN_TOKEN_CLIP_P
UNKNOWN = "⁇"  # pyctcdecode's UNK_TOKEN, the string scored for every word outside the unigram list


class Lexicon(NamedTuple):
    """Per process and (labels, LM, unigrams, hotwords): label kinds and spellings, the known-word trie."""

    language_model: Any
    hotword_unigrams: frozenset[str]
    labels: tuple[np.ndarray, np.ndarray, np.ndarray]  # kind, characters, offsets per label
    max_chars: int
    trie: tuple[Any, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]  # kernel's st_* arguments, n_chars
    node_char: np.ndarray
    node_parent: np.ndarray
    chars: list[str]


def _label_table(labels: list[str], is_bpe: bool, char_ids: dict[str, int]) -> tuple[np.ndarray, ...]:
    """Kind and characters per label, as pyctcdecode's branches read them (word-start pieces lose ``▁``)."""
    kind = np.full(len(labels), PIECE, np.int64)
    spelled: list[str] = []
    for i, label in enumerate(labels):
        text = label
        if label == "":
            kind[i] = BLANK
        elif is_bpe and label.startswith(BPE_MARK):
            kind[i] = WORD_START
            text = label[1:].removesuffix(BPE_MARK)
        elif not is_bpe and label == " ":
            kind[i] = DELIMITER
            text = ""
        spelled.append(text if kind[i] != BLANK else "")
    for text in spelled:
        for c in text:
            char_ids.setdefault(c, len(char_ids))
    offsets = np.zeros(len(labels) + 1, np.int64)
    offsets[1:] = np.cumsum([len(s) for s in spelled])
    seq = np.array([char_ids[c] for s in spelled for c in s], np.int64)
    return kind, seq, offsets


@functools.lru_cache(maxsize=4)
def _build(
    vocab: Vocabulary, lm: str, unigrams: str | None, hotwords: tuple[str, ...], weight: float
) -> Lexicon:
    from pyctcdecode.language_model import HotwordScorer

    decoder = pyctc_decoder(vocab, lm, unigrams)
    language_model = decoder._language_model  # pyctcdecode's own scorer, shared with ``beam``
    hotword_scorer = HotwordScorer.build_scorer(list(hotwords), weight=weight)
    known = sorted(language_model._unigram_set)
    hot = sorted({w for phrase in hotwords for w in phrase.split()})
    words = known + hot
    char_ids: dict[str, int] = {}
    for word in words:
        for c in word:
            char_ids.setdefault(c, len(char_ids))
    labels = _label_table(decoder._alphabet.labels, decoder._alphabet.is_bpe, char_ids)
    spellable = set("".join(decoder._alphabet.labels))
    if known and not any(set(word) <= spellable for word in known):
        raise ValueError(
            f"none of the {len(known)} LM words can be spelled with the model's labels (e.g. {known[0]!r} vs "
            f"labels {decoder._alphabet.labels[:12]}...): do the LM and the model share casing?"
        )
    n_chars = max(len(char_ids), 1)
    flat = np.array([char_ids[c] for w in words for c in w], np.int64)
    offsets = np.zeros(len(words) + 1, np.int64)
    offsets[1:] = np.cumsum([len(w) for w in words])
    children = new_table(len(flat) + 1)
    parent, char, length, ends = build_trie(flat, offsets, n_chars, children)
    is_word = np.zeros(len(parent), np.bool_)
    is_word[ends[: len(known)]] = True
    is_hot = np.zeros(len(parent), np.bool_)
    is_hot[ends[len(known) :]] = True
    # every trie node is a prefix of a known word (partial score 0) or of a hotword, which takes precedence
    score = np.zeros(len(parent))
    for word in hot:
        node = 0
        for end, c in enumerate(word, 1):
            node = lookup(children, node * n_chars + char_ids[c])
            score[node] = hotword_scorer.score_partial_token(word[:end])
    chars = [""] * len(char_ids)
    for c, i in char_ids.items():
        chars[i] = c
    max_chars = max(int(np.diff(labels[2]).max()), 1)
    trie = (children, length, score, is_word, is_hot, n_chars)
    return Lexicon(language_model, frozenset(hot), labels, max_chars, trie, char, parent, chars)


def pyctc_log_probs(log_probs: np.ndarray) -> np.ndarray:
    """What pyctcdecode's ``decode_beams`` searches: log-softmax again, clipped at log(1e-15)."""
    from pyctcdecode.decoder import _log_softmax

    return np.clip(_log_softmax(log_probs, axis=1), MIN_LOGP, 0)


def _merge_tokens(text: str, word: str) -> str:
    return f"{text} {word}" if text and word else text or word


_WORKSPACE = threading.local()


def _kernel_arrays(capacity: int, width: int, size: int) -> list[Any]:
    """The kernel's arrays, this thread's previous ones when big enough (refilling beats fresh pages).

    ``capacity``: candidates per frame; ``width``: beams; ``size``: first room for growing tables."""
    args = getattr(_WORKSPACE, "args", None)
    if args is None or args[12].shape[1] < capacity or len(args[11]) < width or args[1].shape[1] < size:
        args = [
            new_table(size), np.zeros((3, size), np.int64), np.zeros(size),  # words off the trie
            new_table(size), np.zeros((3, size), np.int64), np.zeros(size),  # texts: parent, word, context
            new_table(size), np.zeros(size, np.int64), np.zeros(size),  # scored (context, word) pairs
            np.zeros((3, size), np.int64),  # word spans: previous, first frame, end frame
            np.zeros((6, width), np.int64), np.zeros(width),  # beams
            np.zeros((6, capacity), np.int64), np.zeros(capacity), np.zeros(capacity),  # candidates
            np.zeros(1 << (2 * capacity).bit_length(), np.int64),  # their hash table
            np.zeros((3, capacity), np.int64), np.zeros(capacity, np.int64), np.zeros(capacity),  # pending
            np.zeros(6, np.int64),  # counts
        ]  # fmt: skip
        _WORKSPACE.args = args
    for table in (args[0], args[3], args[6]):
        table.fill(-1)
    args[4][:, 0], args[5][0] = (-1, 0, 0), 0.0  # the empty text, in the start state's context
    args[10][:, 0], args[11][0] = (0, 0, -1, -1, -1, -1), 0.0  # one beam: no token, partial word or span yet
    args[19][:] = (0, 1, 1, 0, 0, 0)
    return args


class _Utterance:
    """One decode's growing state: the kernel's arguments and the KenLM states behind its LM contexts."""

    def __init__(self, lexicon: Lexicon, decoder: FastBeamDecoder, capacity: int) -> None:
        self.lexicon, self.decoder = lexicon, decoder
        self.args = _kernel_arrays(capacity, decoder.beam_width, 2 * capacity * lexicon.max_chars)
        start = lexicon.language_model.get_start_state()
        self.contexts, self.context_ids = [start], {start: 0}
        self.spelled: dict[int, str] = {0: ""}
        self.texts: dict[int, str] = {0: ""}

    dy = property(lambda self: self.args[1])
    counts = property(lambda self: self.args[19])

    def grow(self, indices: tuple[int, ...] = (1, 2, 4, 5, 9)) -> None:
        """Double the kernel's growing arrays (words off the trie, text nodes, spans) and their maps."""
        for index in indices:
            old = self.args[index]
            self.args[index] = np.zeros((*old.shape[:-1], 2 * old.shape[-1]), old.dtype)
            self.args[index][..., : old.shape[-1]] = old
            if index in (1, 4, 7):  # the map just before holds one key per entry
                self.args[index - 1] = rehash(self.args[index - 1], 2 * old.shape[-1])

    def spell(self, node: int) -> str:
        """The characters of a partial-word node."""
        lex, n_static, chars = self.lexicon, len(self.lexicon.node_parent), []
        walked = []
        while node not in self.spelled:
            walked.append(node)
            if node < n_static:
                chars.append(lex.chars[lex.node_char[node]])
                node = int(lex.node_parent[node])
            else:
                chars.append(lex.chars[self.dy[1, node - n_static]])
                node = int(self.dy[0, node - n_static])
        text = self.spelled[node]
        for walked_node, char in zip(reversed(walked), reversed(chars), strict=True):
            text += char
            self.spelled[walked_node] = text
        return text

    def text(self, node: int) -> str:
        """The words of a text node."""
        texts, walked = self.args[4], []
        while node not in self.texts:
            walked.append(node)
            node = int(texts[0, node])
        out = self.texts[node]
        for walked_node in reversed(walked):
            out = self.texts[walked_node] = _merge_tokens(out, self.spell(int(texts[1, walked_node])))
        return out

    def resolve(self) -> None:
        """Score the pending (LM context, word) pairs with KenLM; the kernel caches them on its next call."""
        pending, p_next, p_score = self.args[16:19]
        score, contexts, ids = self.lexicon.language_model.score, self.contexts, self.context_ids
        todo: dict[tuple[int, int], int] = {}
        for context, word, part in zip(*pending[:, : self.counts[N_PENDING]].tolist(), strict=True):
            todo.setdefault((context, word), part)
        scores, nexts = [], []
        for (context, word), part in todo.items():
            # every word outside the unigram list scores as KenLM's <unk> plus the unknown-word offset
            value, state = score(contexts[context], self.spell(part) if word else UNKNOWN)
            scores.append(value)
            nexts.append(ids.setdefault(state, len(contexts)))
            if nexts[-1] == len(contexts):
                contexts.append(state)
        m = len(todo)
        pending[:2, :m] = np.array(list(todo), np.int64).T
        p_score[:m], p_next[:m] = scores, nexts
        self.counts[N_PENDING] = m
        if self.counts[N_SCORED] + m > len(self.args[7]):
            self.grow((7, 8))

    def finish(self) -> list[RawBeam]:
        """pyctcdecode's last step: close each beam's partial word with ``</s>``, merge, cut, sort.

        As in its ``_merge_beams``, a merged text keeps its first place but the last beam's text, word and
        times: a text already closed by a delimiter then scores the empty word (unknown) before ``</s>``."""
        from pyctcdecode.decoder import _sum_log_scores

        count = int(self.counts[N_BEAMS])
        merged: dict[str, list] = {}
        beams, b_logit = self.args[10:12]
        for text, part, _, start, end, span, logit in zip(
            *beams[:, :count].tolist(), b_logit[:count].tolist(), strict=True
        ):
            word = self.spell(part)
            final = _merge_tokens(self.text(text), word)
            entry = [text, word, span, (start, end), logit]
            if final in merged:
                entry[4] = _sum_log_scores(merged[final][4], logit)
            merged[final] = entry
        texts, text_score = self.args[4:6]
        previous, first, end = self.args[9][:, : self.counts[N_SPANS]].tolist()
        lm = self.lexicon.language_model
        scored = []
        for final, (text, word, span, last, logit) in merged.items():
            closing = lm.score(self.contexts[int(texts[2, text])], word, is_last_word=True)[0]
            closing += self.decoder.hotword_weight if word in self.lexicon.hotword_unigrams else 0.0
            spans = [last] if word else []
            while span >= 0:
                spans.append((first[span], end[span]))
                span = previous[span]
            scored.append((logit + float(text_score[text]) + closing, final, logit, spans[::-1]))
        top = max(s[0] for s in scored)
        scored = [s for s in scored if s[0] >= top + self.decoder.beam_prune_logp]
        scored.sort(key=lambda s: -s[0])
        return [RawBeam(" ".join(final.split()), logit, combined, spans)
                for combined, final, logit, spans in scored[: self.decoder.beam_width]]  # fmt: skip


@dataclass
class FastBeamDecoder(KenLMBeamDecoder):
    """pyctcdecode's prefix beam search compiled; same parameters, LM scores and n-best output as ``beam``."""

    name: str = field(default="beam-fast", init=False)

    def _search(self, log_probs: np.ndarray, vocab: Vocabulary) -> list[RawBeam]:
        lexicon = _build(vocab, self.lm, self.unigrams, self.hotwords, float(self.hotword_weight))
        lexicon.language_model.reset_params(alpha=float(self.alpha), beta=float(self.beta))
        logits = pyctc_log_probs(log_probs)
        keep = logits >= self.token_min_logp
        keep[np.arange(len(logits)), logits.argmax(axis=1)] = True
        tokens = frame_tokens(logits, float(self.token_min_logp), int(keep.sum(axis=1).max()))
        state = _Utterance(lexicon, self, self.beam_width * tokens.shape[1])
        fixed = (logits, tokens, *lexicon.labels, *lexicon.trie)
        unk = float(lexicon.language_model.unk_score_offset)
        limits = (
            self.beam_width,
            lexicon.max_chars,
            float(self.beam_prune_logp),
            unk,
            float(self.hotword_weight),
        )
        frame = 0
        while True:
            status, frame = run_frames(frame, *fixed, *state.args, *limits)
            if status == DONE:
                return state.finish()
            if status == NEED_LM:
                state.resolve()
            else:
                state.grow()
