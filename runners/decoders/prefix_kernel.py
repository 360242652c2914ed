"""pyctcdecode's CTC prefix beam search, the per-frame loop compiled with numba (the engine of ``beam-fast``).

Why our own: pyctcdecode spends its time building Python tuples and dicts per beam, token and frame, while
flashlight-text's lexicon search can only output lexicon words (no spelling of out-of-vocabulary words) and
its lexicon-free search would call a word KenLM for every token through a Python callback. This runs
pyctcdecode 0.5's algorithm unchanged: the same candidate rules, the same merge key (text, partial word,
last token), the same partial-word scores (0 on a prefix of a known word, the unknown-word offset scaled
by length off it, hotword prefixes scored as pyctcdecode's HotwordScorer does), the same outlier cut and a
stable sort. Texts and partial words are trie nodes instead of strings; the KenLM call that pyctcdecode makes
once per new text stays in Python (:mod:`werbench.runners.decoders.beam_fast`): the kernel stops at a frame
that needs unknown LM scores, returns them as pending (text node, word node) pairs and is called again.
"""

from __future__ import annotations

import numba
import numpy as np

DONE, NEED_LM, NEED_ROOM = 0, 1, 2
# label kinds
BLANK, DELIMITER, PIECE, WORD_START = 0, 1, 2, 3
# fields of the ``counts`` array shared with the caller
N_DYNAMIC, N_TEXTS, N_BEAMS, N_PENDING, N_SPANS, N_SCORED = 0, 1, 2, 3, 4, 5
UNKNOWN_WORD = 0  # the word id of every word outside the unigram list (KenLM scores them all as <unk>)
AVG_TOKEN_LEN = 6  # pyctcdecode's constants.AVG_TOKEN_LEN: longer unknown partial words cost more


def new_table(entries: int) -> np.ndarray:
    """An empty open-addressing int64 -> int64 map for up to ``entries`` keys (rows: keys, values; -1 empty).

    Ours rather than numba's typed Dict: a lookup is one multiply and a probe or two, and an array is cheap
    for numba to type on every call."""
    return np.full((2, 1 << max(2 * entries, 4).bit_length()), -1, np.int64)


@numba.njit(cache=True)
def _slot(table, key):
    mask = table.shape[1] - 1
    slot = ((key * -7046029254386353131) >> 20) & mask  # Fibonacci hashing (2**64 / golden ratio)
    while table[0, slot] != -1 and table[0, slot] != key:
        slot = (slot + 1) & mask
    return slot


@numba.njit(cache=True)
def lookup(table, key):
    """The value of ``key`` (keys are >= 0), -1 when absent."""
    return table[1, _slot(table, key)]


@numba.njit(cache=True)
def insert(table, key, value):
    slot = _slot(table, key)
    table[0, slot], table[1, slot] = key, value


def rehash(table: np.ndarray, entries: int) -> np.ndarray:
    """The same map with room for ``entries`` keys."""
    return _copy_into(table, new_table(entries))


@numba.njit(cache=True)
def _copy_into(table, out):
    for slot in range(table.shape[1]):
        if table[0, slot] != -1:
            insert(out, table[0, slot], table[1, slot])
    return out


LINEAR_PROBES, PERTURB_SHIFT, SET_MINSIZE = 9, 5, 8  # CPython's setobject.c


@numba.njit(cache=True)
def _set_insert(table, key):
    """CPython's ``set_insert_clean`` for a non-negative int (its own hash) absent from ``table``."""
    mask = len(table) - 1
    i = key & mask
    perturb = key
    while True:
        if table[i] < 0:
            table[i] = key
            return
        if i + LINEAR_PROBES <= mask:
            for j in range(i + 1, i + LINEAR_PROBES + 1):
                if table[j] < 0:
                    table[j] = key
                    return
        perturb >>= PERTURB_SHIFT
        i = (i * 5 + 1 + perturb) & mask


@numba.njit(cache=True)
def _set_resize(table, minused):
    """CPython's ``set_table_resize``: the smallest power of two above ``minused``, entries in slot order."""
    size = SET_MINSIZE
    while size <= minused:
        size <<= 1
    out = np.full(size, -1, np.int64)
    for key in table:
        if key >= 0:
            _set_insert(out, key)
    return out


@numba.njit(cache=True)
def _set_add(table, used, key):
    """CPython's ``set_add_entry`` (no deletions, so fill == used); -> (table, used)."""
    for present in table:
        if present == key:
            return table, used
    _set_insert(table, key)
    used += 1
    if used * 5 >= (len(table) - 1) * 3:
        table = _set_resize(table, used * 4)
    return table, used


@numba.njit(cache=True)
def frame_tokens(logits, token_min_logp, width):
    """Per frame, ``set(np.where(logits[t] >= token_min_logp)[0]) | {logits[t].argmax()}`` in CPython's
    iteration order (pyctcdecode's token loop), padded with -1 to ``width`` columns.

    The order decides which beam's word times a merge keeps and how equal scores rank, so it is reproduced:
    small ints hash to themselves and the table layout follows setobject.c's inserts, resizes and copy."""
    out = np.full((len(logits), width), -1, np.int64)
    for t in range(len(logits)):
        table, used = np.full(SET_MINSIZE, -1, np.int64), 0
        for v in range(logits.shape[1]):
            if logits[t, v] >= token_min_logp:
                table, used = _set_add(table, used, v)
        # ``a | b`` copies ``a`` (set_merge into an empty set: one resize up front, then a slot copy or
        # clean inserts), then merges ``b`` (the same up-front check, then an ordinary add)
        copy = np.full(SET_MINSIZE, -1, np.int64)
        if used * 5 >= (SET_MINSIZE - 1) * 3:
            copy = _set_resize(copy, used * 2)
        if len(copy) == len(table):
            copy = table.copy()
        else:
            for key in table:
                if key >= 0:
                    _set_insert(copy, key)
        if (used + 1) * 5 >= (len(copy) - 1) * 3:
            copy = _set_resize(copy, (used + 1) * 2)
        copy, used = _set_add(copy, used, np.argmax(logits[t]))
        k = 0
        for key in copy:
            if key >= 0:
                out[t, k] = key
                k += 1
    return out


@numba.njit(cache=True)
def build_trie(chars: np.ndarray, offsets: np.ndarray, n_chars: int, children: np.ndarray):
    """The static spelling trie of the known words (``chars[offsets[i]:offsets[i + 1]]`` is word i).

    Fills ``children`` (a :func:`new_table` for ``len(chars) + 1`` keys), keys ``node * n_chars + char``;
    returns ``(parent, char, length, ends)``, node 0 being the empty word and ``ends[i]`` word i's node."""
    parent = np.full(len(chars) + 1, -1, np.int64)
    char = np.full(len(chars) + 1, -1, np.int64)
    length = np.zeros(len(chars) + 1, np.int64)
    ends = np.zeros(len(offsets) - 1, np.int64)
    n = 1
    for w in range(len(offsets) - 1):
        node = 0
        for k in range(offsets[w], offsets[w + 1]):
            key = node * n_chars + chars[k]
            nxt = lookup(children, key)
            if nxt < 0:
                nxt = n
                insert(children, key, n)
                parent[n], char[n], length[n] = node, chars[k], length[node] + 1
                n += 1
            node = nxt
        ends[w] = node
    return parent[:n].copy(), char[:n].copy(), length[:n].copy(), ends


@numba.njit(cache=True)
def _extend(node, label, spelling):
    """The partial-word node after appending ``label``'s characters (nodes off the trie are per utterance;
    ``dy`` rows: parent, character, length)."""
    seq_chars, seq_offsets, st_children, st_length, n_chars, dy_children, dy, dy_score, counts, unk = spelling
    n_static = len(st_length)
    for k in range(seq_offsets[label], seq_offsets[label + 1]):
        c = seq_chars[k]
        key = node * n_chars + c
        nxt = lookup(st_children, key) if node < n_static else -1
        if nxt < 0:
            slot = _slot(dy_children, key)
            nxt = dy_children[1, slot]
            if nxt < 0:
                i = counts[N_DYNAMIC]
                counts[N_DYNAMIC] += 1
                size = (st_length[node] if node < n_static else dy[2, node - n_static]) + 1
                dy[0, i], dy[1, i], dy[2, i] = node, c, size
                dy_score[i] = unk * (size / AVG_TOKEN_LEN if size > AVG_TOKEN_LEN else 1.0)
                nxt = n_static + i
                dy_children[0, slot], dy_children[1, slot] = key, nxt
        node = nxt
    return node


@numba.njit(cache=True)
def _sum_log(a, b):
    """pyctcdecode's ``_sum_log_scores``."""
    if a >= b:
        return a + np.log(1.0 + np.exp(b - a))
    return b + np.log(1.0 + np.exp(a - b))


@numba.njit(cache=True)
def _next_text(
    text, part, texts, text_score, children, lm_cache, lm_next, lm_score, st_word, st_hot, counts, hot_weight
):
    """The text node of ``text`` followed by word ``part``, or -1 when KenLM has not scored it yet."""
    key = (text << 32) | part
    slot = _slot(children, key)
    if children[1, slot] >= 0:
        return children[1, slot]
    known = part < len(st_word) and st_word[part]
    k = lookup(lm_cache, (texts[2, text] << 32) | (part if known else UNKNOWN_WORD))
    if k < 0:
        return -1
    node = counts[N_TEXTS]
    counts[N_TEXTS] += 1
    texts[0, node], texts[1, node], texts[2, node] = text, part, lm_next[k]
    hot = hot_weight if part < len(st_hot) and st_hot[part] else 0.0
    text_score[node] = text_score[text] + lm_score[k] + hot
    children[0, slot], children[1, slot] = key, node
    return node


@numba.njit(cache=True)
def _add_pending(pending, n_pending, context, part, st_word):
    known = part < len(st_word) and st_word[part]
    pending[0, n_pending], pending[1, n_pending], pending[2, n_pending] = (
        context,
        part if known else UNKNOWN_WORD,
        part,
    )
    return n_pending + 1


@numba.njit(cache=True)
def run_frames(
    t0,
    log_probs,
    tokens,
    kind,
    seq_chars,
    seq_offsets,
    st_children,
    st_length,
    st_score,
    st_word,
    st_hot,
    n_chars,
    dy_children,
    dy,
    dy_score,
    children,
    texts,
    text_score,
    lm_cache,
    lm_next,
    lm_score,
    spans,
    beams,
    b_logit,
    cands,
    c_logit,
    c_score,
    table,
    pending,
    p_next,
    p_score,
    counts,
    beam_width,
    max_chars,
    prune_logp,
    unk_offset,
    hot_weight,
):
    """Decode frames ``t0..`` into ``beams``; -> ``(status, frame)``, frame being where to call again.

    Flat arguments because numba types each one per call and tuples of arrays cost far more to type.
    ``texts`` rows (parent text, last word, LM context) and ``text_score`` (cumulative LM + hotword score)
    describe text nodes, ``children`` maps ``text << 32 | word`` to the next text node. KenLM scores come
    from ``lm_cache``: ``context << 32 | word id`` to an index into ``lm_next`` (context after the word) and
    ``lm_score`` (pyctcdecode's weighted word score); pairs not yet scored are returned in ``pending`` rows
    (context, word id, word node) and, scored by the caller (``p_next``, ``p_score``), join the cache on
    entry. ``spans`` rows (previous span, first frame, end frame) chain each beam's word times as
    pyctcdecode's per-beam lists do; ``beams``/``cands`` rows: text, partial word, last token, first and end
    frame of the partial word, last word span."""
    for i in range(counts[N_PENDING]):
        k = counts[N_SCORED]
        counts[N_SCORED] += 1
        lm_next[k], lm_score[k] = p_next[i], p_score[i]
        insert(lm_cache, (pending[0, i] << 32) | pending[1, i], k)
    counts[N_PENDING] = 0
    n_static = len(st_score)
    frames = len(log_probs)
    spelling = (seq_chars, seq_offsets, st_children, st_length, n_chars, dy_children, dy, dy_score, counts,
                unk_offset)  # fmt: skip
    scoring = (texts, text_score, children, lm_cache, lm_next, lm_score, st_word, st_hot, counts, hot_weight)
    mask = len(table) - 1
    for t in range(t0, frames):
        row = log_probs[t]
        n_beams = counts[N_BEAMS]
        kept = 0
        while kept < tokens.shape[1] and tokens[t, kept] >= 0:
            kept += 1
        room = kept * n_beams
        if (
            dy.shape[1] - counts[N_DYNAMIC] < room * max_chars
            or spans.shape[1] - counts[N_SPANS] < room
            or texts.shape[1] - counts[N_TEXTS] < room
        ):
            return NEED_ROOM, t
        table[:] = -1
        n = 0
        n_pending = 0
        for k in range(kept):
            v = tokens[t, k]
            p = np.float64(row[v])
            for i in range(n_beams):
                text, part, start, end, span = beams[0, i], beams[1, i], beams[3, i], beams[4, i], beams[5, i]
                if kind[v] == BLANK or beams[2, i] == v:
                    if kind[v] != BLANK:
                        end = t + 1
                else:
                    origin = part  # the word goes on, or a new one starts (after ending this one)
                    if kind[v] == WORD_START or kind[v] == DELIMITER:
                        if part != 0:
                            text = _next_text(text, part, *scoring)
                            if text < 0:
                                n_pending = _add_pending(
                                    pending, n_pending, texts[2, beams[0, i]], part, st_word
                                )
                                continue
                            new = counts[N_SPANS]
                            spans[0, new], spans[1, new], spans[2, new] = span, start, end
                            span = new
                            counts[N_SPANS] += 1
                        origin = 0
                        start, end = (t, t + 1) if kind[v] == WORD_START else (-1, -1)
                    else:
                        start = t if start < 0 else start
                        end = t + 1
                    part = _extend(origin, v, spelling)
                if n_pending:
                    continue
                slot = ((text * 1000003) ^ (part * 998244353) ^ (v * 7919)) & mask
                while table[slot] >= 0:
                    j = table[slot]
                    if cands[0, j] == text and cands[1, j] == part and cands[2, j] == v:
                        break
                    slot = (slot + 1) & mask
                j = table[slot]
                if j >= 0:  # as pyctcdecode's _merge_beams: the later beam's times, the summed score
                    c_logit[j] = _sum_log(c_logit[j], b_logit[i] + p)
                    cands[3, j], cands[4, j], cands[5, j] = start, end, span
                    continue
                table[slot] = n
                cands[0, n], cands[1, n], cands[2, n] = text, part, v
                cands[3, n], cands[4, n], cands[5, n] = start, end, span
                c_logit[n] = b_logit[i] + p
                n += 1
        if n_pending:
            counts[N_PENDING] = n_pending
            return NEED_LM, t
        top = -np.inf
        for j in range(n):
            part = cands[1, j]
            partial = 0.0 if part == 0 else (st_score[part] if part < n_static else dy_score[part - n_static])
            c_score[j] = c_logit[j] + text_score[cands[0, j]] + partial
            top = max(top, c_score[j])
        order = np.argsort(-c_score[:n], kind="mergesort")
        kept = 0
        for j in order:
            if kept == beam_width or c_score[j] < top + prune_logp:
                break
            beams[:, kept] = cands[:, j]
            b_logit[kept] = c_logit[j]
            kept += 1
        counts[N_BEAMS] = kept
    return DONE, frames
