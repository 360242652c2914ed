"""Compiled core of the aligner: tokenise UTF-8 buffers and run the batch dynamic programme (numba).

Everything here works on one contiguous UTF-8 byte buffer per side plus utterance byte offsets, so a whole
corpus crosses the Python/numba boundary once. Each token gets a 64-bit key: for up to 7 bytes the bytes
themselves and the length (exact: every character and most words), for longer words an FNV-1a hash with
the top bit set, confirmed byte by byte when two keys are equal, so a collision can never merge two words.

The kernels release the GIL (``nogil``), so dashboard threads can align concurrently; they are serial
on purpose (numba's default thread pool is not safe to enter from several Python threads at once).
The DP cells are float32 on purpose: sclite keeps its cell costs in C ``float``, and its 0.001 cost for the
null word ``@`` only ties (or not) the way sclite's do when summed in the same precision.

Pairs without null words (all characters, most word pairs) take a faster road to the same result: with
whole weights every sum is a whole number that float32 holds exactly, so they run in int32 (same values,
shorter dependency chain), and only over the cells that a path within a cost budget can pass (Ukkonen's
cut-off), the budget growing until the last cell comes within it. Why exact, ties included: see
``_sclite_pair``; ``band=False`` runs the full float32 DP everywhere, which the tests compare against.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# op codes written to the output buffer (ASCII, so the buffer decodes straight to the ops string)
OP_C = 67  # "C"
OP_S = 83  # "S"
OP_D = 68  # "D"
OP_I = 73  # "I"
# sclite -D: an optionally deletable word ``(uh)`` left out of the alignment is scored correct, so it needs
# ops that count as C but consume one side only: "d" (a reference word) and "i" (a hypothesis word)
OP_OPT_D = 100  # "d"
OP_OPT_I = 105  # "i"
OPTIONAL_INDEL = (
    2.0  # sclite word.c: deleting or inserting an optionally deletable word (CORR < OD < INS/DEL)
)

TIE_SCLITE = 0  # sclite net_dp.c: per cell, diagonal if <= both, else deletion if < insertion, else insertion
TIE_RAPIDFUZZ = 1  # rapidfuzz/jiwer: common affix stripped, backtrace prefers deletion, insertion, diagonal

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
_U1 = np.uint64(1)
_HASHED = np.uint64(1 << 63)  # top bit of a key: set for hashed (longer than 7 bytes) tokens only
_ONE_BYTE = np.uint64(1 << 56)  # the length part of the key of a one-byte token
_SPACE_KEY = _ONE_BYTE | np.uint64(32)  # the key of " ": every whitespace run between words
# a banded pair's first budget: its length difference in insertions or deletions plus FIRST_SUBS
# substitutions, or one per SUBS_EVERY units of n + m where that is more; a budget that runs out grows
# by at least GROW_MIN. They only set the speed (tuned on CTC greedy output, CER ~13%), never a result.
FIRST_SUBS = 4
SUBS_EVERY = 16
GROW_MIN = 1.5


@njit(cache=True, inline="always")
def _is_space(b: int) -> bool:
    return b == 32 or 9 <= b <= 13


@njit(cache=True, inline="always")
def _token_key(buf, start, end):
    """Exact key (bytes and length) for tokens of at most 7 bytes, else FNV-1a with the top bit set."""
    n = end - start
    if n <= 7:
        key = np.uint64(n) << np.uint64(56)
        for k in range(n):
            key |= np.uint64(buf[start + k]) << np.uint64(8 * k)
        return key
    h = _FNV_OFFSET
    for k in range(start, end):
        h = (h ^ np.uint64(buf[k])) * _FNV_PRIME
    return h | _HASHED


@njit(cache=True, nogil=True)
def tokenize_words(buf, utt_off, null_word, optional):
    """Split each utterance on ASCII whitespace; returns (start, end, hash, is_null, utt_tok_off, optional).

    Words compare byte for byte (text rules such as sclite's case folding belong to the text mode,
    ``manifests.normalize``); with ``null_word`` the word ``@`` is sclite's null word. With ``optional``
    (sclite ``-D``) a word in parentheses such as ``(uh)`` is optionally deletable: it compares by the text
    inside the parentheses (its span and key are those of that text), as sclite's ``decode_opt_del`` does.
    """
    n_utt = utt_off.shape[0] - 1
    count = 0
    for u in range(n_utt):
        inside = False
        for k in range(utt_off[u], utt_off[u + 1]):
            if _is_space(buf[k]):
                inside = False
            elif not inside:
                inside = True
                count += 1
    start = np.empty(count, np.int64)
    end = np.empty(count, np.int64)
    hashes = np.empty(count, np.uint64)
    null = np.zeros(count, np.bool_)
    opt = np.zeros(count, np.bool_)
    utt_tok = np.empty(n_utt + 1, np.int64)
    t = 0
    for u in range(n_utt):
        utt_tok[u] = t
        k = utt_off[u]
        stop = utt_off[u + 1]
        while k < stop:
            if _is_space(buf[k]):
                k += 1
                continue
            s = k
            while k < stop and not _is_space(buf[k]):
                k += 1
            e = k
            if optional and e - s >= 2 and buf[s] == 40 and buf[e - 1] == 41:  # "(...)"
                opt[t] = True
                s += 1
                e -= 1
            start[t] = s
            end[t] = e
            hashes[t] = _token_key(buf, s, e)
            null[t] = null_word and not opt[t] and e - s == 1 and buf[s] == 64
            t += 1
    utt_tok[n_utt] = t
    return start, end, hashes, null, utt_tok, opt


@njit(cache=True, nogil=True)
def tokenize_chars(buf, utt_off, keep_spaces):
    """One token per Unicode code point; whitespace runs become one space token between words, or none.

    Returns the same fields as ``tokenize_words`` but with empty ``start``/``end``: a code point is at
    most 4 bytes, so its key is exact and the aligner never confirms it byte by byte (writing them cost
    as much as the keys).
    """
    n_utt = utt_off.shape[0] - 1
    hashes = np.empty(utt_off[n_utt] - utt_off[0], np.uint64)  # at most one token per byte
    utt_tok = np.empty(n_utt + 1, np.int64)
    t = 0
    for u in range(n_utt):
        utt_tok[u] = t
        k = utt_off[u]
        stop = utt_off[u + 1]
        seen = False
        pending = False
        while k < stop:
            b = buf[k]
            if _is_space(b):
                pending = seen
                k += 1
                continue
            if pending and keep_spaces:
                hashes[t] = _SPACE_KEY
                t += 1
            pending = False
            seen = True
            s = k
            k += 1
            if b < 128:  # ASCII: the key of one byte, without the general loop
                hashes[t] = _ONE_BYTE | np.uint64(b)
            else:
                while k < stop and buf[k] & 0xC0 == 0x80:
                    k += 1
                hashes[t] = _token_key(buf, s, k)
            t += 1
    utt_tok[n_utt] = t
    no_spans = np.empty(0, np.int64)
    return no_spans, no_spans, hashes[:t], np.zeros(t, np.bool_), utt_tok, np.zeros(t, np.bool_)


@njit(cache=True, inline="always")
def _same(rbuf, rs, re_, hbuf, hs, he):
    """Byte-exact confirmation of two hashed tokens whose keys are equal."""
    if re_ - rs != he - hs:
        return False
    for k in range(re_ - rs):  # noqa: SIM110 (a loop compiles to tight code; a generator would not)
        if rbuf[rs + k] != hbuf[hs + k]:
            return False
    return True


@njit(cache=True, nogil=True)
def _sclite_cells(ref, r0, rnull, ropt, hyp, h0, n, m, budget, weights, ins_cost, dp):
    """sclite's DP over the cells that a path costing at most ``budget`` may pass (every cell for +inf).

    A cell is kept while its cost plus the least cost of the insertions or deletions that any path from
    it to the last cell needs is within the budget; row a computes the columns from the first kept one
    of row a - 1 to one past its last kept one, then on while insertions keep within the budget. The
    slots just outside that range hold ``inf``, so neither the DP nor the backtrace reads a stale value.
    Returns the cost of the last cell (a real path's cost; ``inf`` when not reached) and how many of the
    n + 1 rows the budget lasted.
    """
    rbuf, r_start, r_end, r_hash = ref
    hbuf, h_start, h_end, h_hash = hyp
    sub_w, ins_w, del_w, null_indel, null_sub, opt_indel, inf = weights
    zero = sub_w - sub_w  # in the weights' type
    step = min(ins_w, del_w)  # the least cost of one insertion or deletion (null words: unlimited budget)
    w = m + 1
    shift = n - m  # cell (a, b) is |shift - a + b| insertions or deletions away from the last cell
    dp[0] = zero
    end = 0
    while end < m and dp[end] + ins_cost[end] + step * abs(shift + end + 1) <= budget:
        dp[end + 1] = dp[end] + ins_cost[end]
        end += 1
    first = 0
    kept = end
    for a in range(1, n + 1):
        row = a * w
        prev = row - w
        if end < m:
            dp[prev + end + 1] = inf  # the row above's right edge
        dcost = null_indel if rnull[a - 1] else (opt_indel if ropt[a - 1] else del_w)
        match = null_sub if rnull[a - 1] else zero  # equal tokens: both null or neither
        b = first
        if b == 0:
            left = dp[prev] + dcost
            dp[row] = left
            b = 1
        else:
            left = inf
            dp[row + b - 1] = inf
        i = r0 + a - 1
        key = r_hash[i]
        hashed = key >= _HASHED
        diag = dp[prev + b - 1]
        stop = min(kept + 1, m)
        # views of this row, the row above and the hyp keys, indexed unsigned: no negative-index checks
        above = dp[prev : prev + w]
        here = dp[row : row + w]
        keys = h_hash[h0 : h0 + m]
        for c in range(np.uint64(b), np.uint64(stop + 1)):
            up = above[c]
            same = key == keys[c - _U1]
            if hashed and same:
                j = h0 + np.int64(c) - 1
                same = _same(rbuf, r_start[i], r_end[i], hbuf, h_start[j], h_end[j])
            # sclite's choice (diagonal if <= both, deletion if < insertion, else insertion) always
            # takes a minimum, so the values need no branches (the backtrace re-derives the choice);
            # the minimum of the two moves from the row above first keeps the chain through ``left`` short
            left = min(min(diag + (match if same else sub_w), up + dcost), left + ins_cost[c - _U1])
            here[c] = left
            diag = up
        end = stop
        while end < m and left + ins_cost[end] + step * abs(shift - a + end + 1) <= budget:
            dp[prev + end + 1] = inf  # beyond the row above's range: only an insertion reaches here
            left = left + ins_cost[end]
            dp[row + end + 1] = left
            end += 1
        while first <= end and not dp[row + first] + step * abs(shift - a + first) <= budget:
            first += 1
        kept = end
        while kept >= first and not dp[row + kept] + step * abs(shift - a + kept) <= budget:
            kept -= 1
        if first > kept:  # no path within the budget goes through this row
            return inf, a
    return (dp[n * w + m] if end == m else inf), n + 1


@njit(cache=True, nogil=True)
def _sclite_trace(ref, r0, rnull, ropt, hyp, h0, hnull, hopt, n, m, weights, ins_cost, dp, rev):
    """Backtrace from the last cell re-deriving sclite's choices; writes ops reversed, returns their count."""
    rbuf, r_start, r_end, r_hash = ref
    hbuf, h_start, h_end, h_hash = hyp
    sub_w, _, del_w, null_indel, null_sub, opt_indel, _ = weights
    zero = sub_w - sub_w
    w = m + 1
    a = n
    b = m
    k = 0
    while a > 0 or b > 0:
        same = False
        if a == 0:
            move = 2
        elif b == 0:
            move = 1
        else:
            rt = r0 + a - 1
            ht = h0 + b - 1
            same = r_hash[rt] == h_hash[ht] and (
                r_hash[rt] < _HASHED or _same(rbuf, r_start[rt], r_end[rt], hbuf, h_start[ht], h_end[ht])
            )
            cost = (null_sub if rnull[a - 1] else zero) if same else sub_w
            s = dp[(a - 1) * w + b - 1] + cost
            d = dp[(a - 1) * w + b] + (null_indel if rnull[a - 1] else (opt_indel if ropt[a - 1] else del_w))
            i = dp[a * w + b - 1] + ins_cost[b - 1]
            move = 0 if s <= d and s <= i else (1 if d < i else 2)
        if move == 0:
            if not (rnull[a - 1] and hnull[b - 1]):
                rev[k] = OP_C if same else OP_S
                k += 1
            a -= 1
            b -= 1
        elif move == 1:
            if not rnull[a - 1]:
                rev[k] = OP_OPT_D if ropt[a - 1] else OP_D
                k += 1
            a -= 1
        else:
            if not hnull[b - 1]:
                rev[k] = OP_OPT_I if hopt[b - 1] else OP_I
                k += 1
            b -= 1
    return k


@njit(cache=True, nogil=True)
def _sclite_pair(ref, r0, rnull, ropt, hyp, h0, hnull, hopt, n, m, weights, budget, dp, ins_cost, rev):
    """sclite's alignment of one pair, over only the cells a path within ``budget`` may pass (exact).

    Why the same ops as the full DP: a path through a cell costs at least the cell's cost plus ``step``
    per insertion or deletion it still needs, so once the budget is at least the optimum, every cell on
    an optimal path and every predecessor the backtrace finds tied with it is kept and holds its exact
    cost, while every other cell holds no less than its own (+inf outside). The last cell coming within
    the budget proves the budget was enough; the backtrace then sees the same minima and makes the same
    choices. ``weights`` and ``dp`` are float32 (sclite's arithmetic), or int32 where every sum is a whole
    number float32 holds exactly (the same values); ``budget`` is +inf for the full DP.
    """
    _, ins_w, _, null_indel, _, opt_indel, _ = weights
    for b in range(m):
        ins_cost[b] = null_indel if hnull[b] else (opt_indel if hopt[b] else ins_w)
    while True:
        last, rows = _sclite_cells(ref, r0, rnull, ropt, hyp, h0, n, m, budget, weights, ins_cost, dp)
        if last <= budget:
            return _sclite_trace(ref, r0, rnull, ropt, hyp, h0, hnull, hopt, n, m, weights, ins_cost, dp, rev)
        # the budget ran out after ``rows`` of n + 1 rows: grow it about in proportion; ``last`` is a real
        # path's cost, so a budget of it always suffices
        budget = min(last, budget * min(2.0, max(GROW_MIN, (n + 1) / rows)))


@njit(cache=True, inline="always")
def _word_cost(ref, i, rnull_a, hyp, j, sub_w, null_sub):
    """sclite's cost of ref token i against hyp token j: 0 if equal, 1 for ``@`` with ``@``, else sub."""
    rbuf, r_start, r_end, r_hash = ref
    hbuf, h_start, h_end, h_hash = hyp
    same = r_hash[i] == h_hash[j] and (
        r_hash[i] < _HASHED or _same(rbuf, r_start[i], r_end[i], hbuf, h_start[j], h_end[j])
    )
    if not same:
        return sub_w, False
    return (null_sub if rnull_a else sub_w - sub_w), True


@njit(cache=True, nogil=True)
def _sclite_network_pair(
    ref, r0, rnull, ropt, must, hyp, h0, hnull, hopt, n, m, weights, graph, g0, dp, back, rev, used
):  # fmt: skip
    """sclite's alignment of a reference network (alternations) with a hypothesis, as ``net_dp.c`` does it.

    ``graph[g0:]`` lists, for ref word k = 1..n, its predecessor count and predecessors (0: the start),
    then the count and list of final words. Each move takes the cheapest predecessor cell, the first one
    listed on a tie (sclite's strict ``<`` over a node's incoming arcs), then sclite's choice between the
    diagonal, deletion and insertion; the path ends in the first cheapest final word. Full DP (no band):
    alternations are rare. Writes the ops reversed and marks the ref words on the path in ``used``.
    A ``must`` word (compound alternatives) can only be matched, never substituted or deleted; with
    ``must == 2`` (a split compound's part before its last) no insertion may follow it either.
    ``back`` holds 3 * predecessor + move (0 diagonal, 1 deletion, 2 insertion).
    """
    sub_w, ins_w, del_w, null_indel, null_sub, opt_indel, inf = weights
    w = m + 1
    pred_at = np.empty(n + 2, np.int64)  # graph[pred_at[k]] is word k's predecessor count, its list follows
    at = g0
    for k in range(1, n + 2):
        pred_at[k] = at
        at += 1 + graph[at]
    dp[0] = 0.0
    for b in range(1, m + 1):
        dp[b] = dp[b - 1] + (null_indel if hnull[b - 1] else (opt_indel if hopt[b - 1] else ins_w))
        back[b] = 2
    for a in range(1, n + 1):
        row = a * w
        dcost = (
            inf if must[a - 1] else (null_indel if rnull[a - 1] else (opt_indel if ropt[a - 1] else del_w))
        )
        first = pred_at[a] + 1
        stop = first + graph[first - 1]
        best = graph[first]
        for q in range(first + 1, stop):
            if dp[graph[q] * w] < dp[best * w]:
                best = graph[q]
        dp[row] = dp[best * w] + dcost
        back[row] = 3 * best + 1
        for b in range(1, m + 1):
            sub_from = graph[first]
            del_from = sub_from
            for q in range(first + 1, stop):
                if dp[graph[q] * w + b - 1] < dp[sub_from * w + b - 1]:
                    sub_from = graph[q]
                if dp[graph[q] * w + b] < dp[del_from * w + b]:
                    del_from = graph[q]
            cost, same = _word_cost(ref, r0 + a - 1, rnull[a - 1], hyp, h0 + b - 1, sub_w, null_sub)
            if must[a - 1] and not same:
                cost = inf
            s = dp[sub_from * w + b - 1] + cost
            d = dp[del_from * w + b] + dcost
            icost = null_indel if hnull[b - 1] else (opt_indel if hopt[b - 1] else ins_w)
            i = inf if must[a - 1] == 2 else dp[row + b - 1] + icost
            if s <= d and s <= i:
                dp[row + b] = s
                back[row + b] = 3 * sub_from
            elif d < i:
                dp[row + b] = d
                back[row + b] = 3 * del_from + 1
            else:
                dp[row + b] = i
                back[row + b] = 3 * a + 2
    first = pred_at[n + 1] + 1
    a = graph[first]
    for q in range(first + 1, first + graph[first - 1]):
        if dp[graph[q] * w + m] < dp[a * w + m]:
            a = graph[q]
    b = m
    k = 0
    while a > 0 or b > 0:
        step = back[a * w + b]
        move = step % 3
        if move == 2:
            if not hnull[b - 1]:
                rev[k] = OP_OPT_I if hopt[b - 1] else OP_I
                k += 1
            b -= 1
            continue
        used[r0 + a - 1] = True
        if move == 0:
            _, same = _word_cost(ref, r0 + a - 1, rnull[a - 1], hyp, h0 + b - 1, sub_w, null_sub)
            if not (rnull[a - 1] and hnull[b - 1]):
                rev[k] = OP_C if same else OP_S
                k += 1
            b -= 1
        elif not rnull[a - 1]:
            rev[k] = OP_OPT_D if ropt[a - 1] else OP_D
            k += 1
        a = step // 3
    return k


@njit(cache=True, inline="always")
def _rapidfuzz_pair(cost, n, m, dp, rev):
    """Unit-cost alignment with rapidfuzz's choice among equal-cost paths (what jiwer 4 reports)."""
    pre = 0
    while pre < n and pre < m and cost[pre * m + pre] == 0:
        pre += 1
    suf = 0
    while suf < n - pre and suf < m - pre and cost[(n - 1 - suf) * m + (m - 1 - suf)] == 0:
        suf += 1
    k = 0
    for _ in range(suf):
        rev[k] = OP_C
        k += 1
    cn = n - pre - suf
    cm = m - pre - suf
    w = cm + 1
    for b in range(cm + 1):
        dp[b] = b
    for a in range(1, cn + 1):
        row = a * w
        dp[row] = a
        for b in range(1, cm + 1):
            best = dp[row - w + b - 1] + (0 if cost[(pre + a - 1) * m + pre + b - 1] == 0 else 1)
            d = dp[row - w + b] + 1
            if d < best:
                best = d
            i = dp[row + b - 1] + 1
            if i < best:
                best = i
            dp[row + b] = best
    col = cn
    row = cm
    while row > 0 and col > 0:
        if dp[col * w + row] - dp[(col - 1) * w + row] == 1:
            rev[k] = OP_D
            k += 1
            col -= 1
        else:
            row -= 1
            if row > 0 and dp[col * w + row] - dp[(col - 1) * w + row] == -1:
                rev[k] = OP_I
                k += 1
            else:
                col -= 1
                rev[k] = OP_C if cost[(pre + col) * m + pre + row] == 0 else OP_S
                k += 1
    while col > 0:
        rev[k] = OP_D
        k += 1
        col -= 1
    while row > 0:
        rev[k] = OP_I
        k += 1
        row -= 1
    for _ in range(pre):
        rev[k] = OP_C
        k += 1
    return k


@njit(cache=True, nogil=True)
def align_pairs(
    rbuf, r_start, r_end, r_hash, r_null, r_utt, r_opt,
    hbuf, h_start, h_end, h_hash, h_null, h_utt, h_opt,
    tie, sub_w, ins_w, del_w, null_indel, null_sub, want_ops, skip, band, graph_at, graph, r_must,
):  # fmt: skip
    """Align pair k = (ref utterance k, hyp utterance k) for every k not marked in ``skip``.

    Returns counts[k] = (C, S, D, I) (-1 for skipped pairs), and when ``want_ops`` the op codes of all
    pairs concatenated with their offsets (pair k's ops are ``ops[op_off[k]:op_off[k + 1]]``).
    ``band`` lets sclite-tie pairs without null words skip the cells no optimal path can reach (same
    result; False runs the full DP, for checking and benchmarks). ``graph_at[k] >= 0`` marks a reference
    network (alternations) whose layout starts at ``graph[graph_at[k]]`` (see ``_sclite_network_pair``);
    ``used`` (returned last) marks the reference tokens on such a pair's chosen path; ``r_must`` marks the
    reference tokens that may only be matched (compound alternatives; see ``_sclite_network_pair``).
    """
    n_pairs = r_utt.shape[0] - 1
    max_cells = 1
    max_eq = 1
    max_ops = 1
    total_ops = 0
    for p in range(n_pairs):
        if skip[p]:
            continue
        n = r_utt[p + 1] - r_utt[p]
        m = h_utt[p + 1] - h_utt[p]
        max_cells = max(max_cells, (n + 1) * (m + 1))
        max_eq = max(max_eq, n * m)
        max_ops = max(max_ops, n + m)
        total_ops += n + m
    # the band's budget needs exact path sums: whole weights, indels > 0, totals float32 holds exactly
    whole = sub_w == math.floor(sub_w) and ins_w == math.floor(ins_w) and del_w == math.floor(del_w)
    band = band and tie == TIE_SCLITE and whole and sub_w >= 0 and min(ins_w, del_w) >= 1
    exact_sum = 2**24 / max(sub_w, ins_w, del_w)
    networks = (graph_at >= 0).any()
    dp = np.empty(max_cells if tie == TIE_SCLITE or networks else 1, np.float32)
    dpi = np.empty(max_cells if tie == TIE_RAPIDFUZZ else 1, np.int32)
    cost = np.empty(max_eq if tie == TIE_RAPIDFUZZ else 1, np.float32)
    ins_cost = np.empty(max_ops, np.float32)
    rev = np.empty(max_ops, np.uint8)
    ops = np.empty(total_ops if want_ops else 0, np.uint8)
    op_off = np.zeros(n_pairs + 1, np.int64)
    counts = np.zeros((n_pairs, 4), np.int64)
    used = np.zeros(r_hash.shape[0], np.bool_)
    back = np.empty(max_cells if networks else 1, np.int64)
    ref = (rbuf, r_start, r_end, r_hash)
    hyp = (hbuf, h_start, h_end, h_hash)
    weights = (sub_w, ins_w, del_w, null_indel, null_sub, np.float32(OPTIONAL_INDEL), np.float32(np.inf))
    # banded pairs run the same DP in integers (the same buffers, viewed as int32): 2**30 is their +inf,
    # which no sum of a pair's weights (at most 2**24, see exact_sum) added to it takes past 2**31
    big = np.int32(1 << 30)
    whole_weights = (
        np.int32(sub_w),
        np.int32(ins_w),
        np.int32(del_w),
        big,
        big,
        big,
        big,
    )  # no null/opt words
    dp_whole = dp.view(np.int32)
    ins_whole = ins_cost.view(np.int32)
    pos = 0
    for p in range(n_pairs):
        if skip[p]:
            counts[p, :] = -1
            op_off[p + 1] = pos
            continue
        r0 = r_utt[p]
        h0 = h_utt[p]
        n = r_utt[p + 1] - r0
        m = h_utt[p + 1] - h0
        identical = n == m and graph_at[p] < 0
        for a in range(n if identical else 0):  # the common case of no error at all needs no DP
            if (
                r_null[r0 + a]
                or r_opt[r0 + a]
                or h_opt[h0 + a]
                or r_hash[r0 + a] != h_hash[h0 + a]
                or (
                    r_hash[r0 + a] >= _HASHED
                    and not _same(rbuf, r_start[r0 + a], r_end[r0 + a], hbuf, h_start[h0 + a], h_end[h0 + a])
                )
            ):
                identical = False
                break
        if graph_at[p] >= 0:
            rnull = r_null[r0 : r0 + n]
            hnull = h_null[h0 : h0 + m]
            k = _sclite_network_pair(
                ref,
                r0,
                rnull,
                r_opt[r0 : r0 + n],
                r_must[r0 : r0 + n],
                hyp,
                h0,
                hnull,
                h_opt[h0 : h0 + m],
                n,
                m,
                weights,
                graph,
                graph_at[p],
                dp,
                back,
                rev,
                used,
            )
        elif identical:  # the only zero-cost path is the diagonal, whatever the tie rules
            rev[:n] = OP_C
            k = n
        elif tie == TIE_SCLITE:
            rnull = r_null[r0 : r0 + n]
            hnull = h_null[h0 : h0 + m]
            ropt = r_opt[r0 : r0 + n]
            hopt = h_opt[h0 : h0 + m]
            if band and n + m <= exact_sum and not (rnull.any() or hnull.any() or ropt.any() or hopt.any()):
                budget = min(ins_w, del_w) * abs(n - m) + sub_w * max(FIRST_SUBS, (n + m) // SUBS_EVERY)
                k = _sclite_pair(
                    ref,
                    r0,
                    rnull,
                    ropt,
                    hyp,
                    h0,
                    hnull,
                    hopt,
                    n,
                    m,
                    whole_weights,
                    budget,
                    dp_whole,
                    ins_whole,
                    rev,
                )
            else:
                k = _sclite_pair(
                    ref, r0, rnull, ropt, hyp, h0, hnull, hopt, n, m, weights, np.inf, dp, ins_cost, rev
                )
        else:
            for a in range(n):
                rh = r_hash[r0 + a]
                match = null_sub if r_null[r0 + a] else np.float32(0.0)  # equal tokens: both null or neither
                for b in range(m):
                    same = rh == h_hash[h0 + b] and (
                        rh < _HASHED
                        or _same(
                            rbuf,
                            r_start[r0 + a],
                            r_end[r0 + a],
                            hbuf,
                            h_start[h0 + b],
                            h_end[h0 + b],
                        )
                    )
                    cost[a * m + b] = match if same else sub_w
            k = _rapidfuzz_pair(cost, n, m, dpi, rev)
        for j in range(k):
            c = rev[j]
            if c == OP_C or c == OP_OPT_D or c == OP_OPT_I:  # noqa: SIM109 (numba: plain compares)
                counts[p, 0] += 1
            elif c == OP_S:
                counts[p, 1] += 1
            elif c == OP_D:
                counts[p, 2] += 1
            else:
                counts[p, 3] += 1
            if want_ops:
                ops[pos + k - 1 - j] = c
        if want_ops:
            pos += k
        op_off[p + 1] = pos
    return counts, ops[:pos], op_off, used
