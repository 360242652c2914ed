"""Compiled core of the aligner: tokenise UTF-8 buffers and run the batch dynamic programme (numba).

Everything here works on one contiguous UTF-8 byte buffer per side plus utterance byte offsets, so a whole
corpus crosses the Python/numba boundary once. Each token gets a 64-bit key: for up to 7 bytes the bytes
themselves and the length (exact: every character and most words), for longer words an FNV-1a hash with
the top bit set, confirmed byte by byte when two keys are equal, so a collision can never merge two words.

The kernels release the GIL (``nogil``), so dashboard threads can align concurrently; they are serial
on purpose (numba's default thread pool is not safe to enter from several Python threads at once).
The DP cells are float32 on purpose: sclite keeps its cell costs in C ``float``, and its 0.001 cost for the
null word ``@`` only ties (or not) the way sclite's do when summed in the same precision.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# op codes written to the output buffer (ASCII, so the buffer decodes straight to the ops string)
OP_C = 67  # "C"
OP_S = 83  # "S"
OP_D = 68  # "D"
OP_I = 73  # "I"

TIE_SCLITE = 0  # sclite net_dp.c: per cell, diagonal if <= both, else deletion if < insertion, else insertion
TIE_RAPIDFUZZ = 1  # rapidfuzz/jiwer: common affix stripped, backtrace prefers deletion, insertion, diagonal

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
_HASHED = np.uint64(1 << 63)  # top bit of a key: set for hashed (longer than 7 bytes) tokens only
_SPACE_KEY = np.uint64((1 << 56) | 32)  # the key of " ": every whitespace run between words


@njit(cache=True, inline="always")
def _is_space(b: int) -> bool:
    return b == 32 or 9 <= b <= 13


@njit(cache=True, inline="always")
def _fold(b: int, fold_case: bool) -> int:
    if fold_case and 65 <= b <= 90:
        return b + 32
    return b


@njit(cache=True, inline="always")
def _token_key(buf, start, end, fold_case):
    """Exact key (bytes and length) for tokens of at most 7 bytes, else FNV-1a with the top bit set."""
    n = end - start
    if n <= 7:
        key = np.uint64(n) << np.uint64(56)
        for k in range(n):
            key |= np.uint64(_fold(buf[start + k], fold_case)) << np.uint64(8 * k)
        return key
    h = _FNV_OFFSET
    for k in range(start, end):
        h = (h ^ np.uint64(_fold(buf[k], fold_case))) * _FNV_PRIME
    return h | _HASHED


@njit(cache=True, nogil=True)
def tokenize_words(buf, utt_off, fold_case, sclite_words):
    """Split each utterance on ASCII whitespace; returns (start, key_end, hash, is_null, utt_tok_off).

    With ``sclite_words`` a trailing ``*`` is not part of the comparison key (sclite drops it when it
    reads a word longer than one character) and the word ``@`` is sclite's null word.
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
    key_end = np.empty(count, np.int64)
    hashes = np.empty(count, np.uint64)
    null = np.zeros(count, np.bool_)
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
            if sclite_words and e - s > 1 and buf[e - 1] == 42:
                e -= 1
            start[t] = s
            key_end[t] = e
            hashes[t] = _token_key(buf, s, e, fold_case)
            null[t] = sclite_words and e - s == 1 and buf[s] == 64
            t += 1
    utt_tok[n_utt] = t
    return start, key_end, hashes, null, utt_tok


@njit(cache=True, nogil=True)
def tokenize_chars(buf, utt_off, fold_case, keep_spaces):
    """One token per Unicode code point; whitespace runs become one space token between words, or none."""
    n_utt = utt_off.shape[0] - 1
    count = 0
    for u in range(n_utt):
        seen = False
        pending = False
        for k in range(utt_off[u], utt_off[u + 1]):
            b = buf[k]
            if _is_space(b):
                pending = seen
            elif b & 0xC0 != 0x80:
                if pending and keep_spaces:
                    count += 1
                pending = False
                seen = True
                count += 1
    start = np.empty(count, np.int64)
    key_end = np.empty(count, np.int64)
    hashes = np.empty(count, np.uint64)
    null = np.zeros(count, np.bool_)
    utt_tok = np.empty(n_utt + 1, np.int64)
    t = 0
    for u in range(n_utt):
        utt_tok[u] = t
        k = utt_off[u]
        stop = utt_off[u + 1]
        seen = False
        pending = -1
        while k < stop:
            b = buf[k]
            if _is_space(b):
                if seen and pending < 0:
                    pending = k
                k += 1
                continue
            if pending >= 0 and keep_spaces:
                start[t] = pending
                key_end[t] = pending + 1
                hashes[t] = _SPACE_KEY
                t += 1
            pending = -1
            seen = True
            s = k
            k += 1
            while k < stop and buf[k] & 0xC0 == 0x80:
                k += 1
            start[t] = s
            key_end[t] = k
            hashes[t] = _token_key(buf, s, k, fold_case)
            t += 1
    utt_tok[n_utt] = t
    return start, key_end, hashes, null, utt_tok


@njit(cache=True, inline="always")
def _same(rbuf, rs, re_, hbuf, hs, he, fold_case):
    """Byte-exact confirmation of two hashed tokens whose keys are equal."""
    if re_ - rs != he - hs:
        return False
    for k in range(re_ - rs):  # noqa: SIM110 (a loop compiles to tight code; a generator would not)
        if _fold(rbuf[rs + k], fold_case) != _fold(hbuf[hs + k], fold_case):
            return False
    return True


@njit(cache=True, inline="always")
def _sclite_pair(cost, rnull, hnull, n, m, ins_w, del_w, null_indel, dp, ins_cost, rev):
    """sclite's DP and backtrace for one pair; writes ops reversed into ``rev``, returns their count.

    ``cost[a * m + b]`` is the diagonal cost of ref token a against hyp token b (0 only when they match).
    """
    w = m + 1
    dp[0] = np.float32(0.0)
    for b in range(1, m + 1):
        ins_cost[b - 1] = null_indel if hnull[b - 1] else ins_w
        dp[b] = dp[b - 1] + ins_cost[b - 1]
    for a in range(1, n + 1):
        row = a * w
        dcost = null_indel if rnull[a - 1] else del_w
        diag = dp[row - w]
        left = diag + dcost
        dp[row] = left
        e0 = (a - 1) * m - 1
        for b in range(1, m + 1):
            up = dp[row - w + b]
            # sclite's choice (diagonal if <= both, deletion if < insertion, else insertion) always
            # takes a minimum, so the values need no branches; the backtrace re-derives the choice
            left = min(diag + cost[e0 + b], min(up + dcost, left + ins_cost[b - 1]))
            dp[row + b] = left
            diag = up
    a = n
    b = m
    k = 0
    while a > 0 or b > 0:
        if a == 0:
            move = 2
        elif b == 0:
            move = 1
        else:
            s = dp[(a - 1) * w + b - 1] + cost[(a - 1) * m + b - 1]
            d = dp[(a - 1) * w + b] + (null_indel if rnull[a - 1] else del_w)
            i = dp[a * w + b - 1] + ins_cost[b - 1]
            move = 0 if s <= d and s <= i else (1 if d < i else 2)
        if move == 0:
            if not (rnull[a - 1] and hnull[b - 1]):
                rev[k] = OP_C if cost[(a - 1) * m + b - 1] == 0 else OP_S
                k += 1
            a -= 1
            b -= 1
        elif move == 1:
            if not rnull[a - 1]:
                rev[k] = OP_D
                k += 1
            a -= 1
        else:
            if not hnull[b - 1]:
                rev[k] = OP_I
                k += 1
            b -= 1
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
    rbuf, r_start, r_end, r_hash, r_null, r_utt,
    hbuf, h_start, h_end, h_hash, h_null, h_utt,
    fold_case, tie, sub_w, ins_w, del_w, null_indel, null_sub, want_ops, skip,
):  # fmt: skip
    """Align pair k = (ref utterance k, hyp utterance k) for every k not marked in ``skip``.

    Returns counts[k] = (C, S, D, I) (-1 for skipped pairs), and when ``want_ops`` the op codes of all
    pairs concatenated with their offsets (pair k's ops are ``ops[op_off[k]:op_off[k + 1]]``).
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
    dp = np.empty(max_cells if tie == TIE_SCLITE else 1, np.float32)
    dpi = np.empty(max_cells if tie == TIE_RAPIDFUZZ else 1, np.int32)
    cost = np.empty(max_eq, np.float32)
    ins_cost = np.empty(max_ops, np.float32)
    rev = np.empty(max_ops, np.uint8)
    ops = np.empty(total_ops if want_ops else 0, np.uint8)
    op_off = np.zeros(n_pairs + 1, np.int64)
    counts = np.zeros((n_pairs, 4), np.int64)
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
        identical = n == m
        for a in range(n if identical else 0):  # the common case of no error at all needs no DP
            if (
                r_null[r0 + a]
                or r_hash[r0 + a] != h_hash[h0 + a]
                or (
                    r_hash[r0 + a] >= _HASHED
                    and not _same(
                        rbuf, r_start[r0 + a], r_end[r0 + a], hbuf, h_start[h0 + a], h_end[h0 + a], fold_case
                    )
                )
            ):
                identical = False
                break
        if identical:  # the only zero-cost path is the diagonal, whatever the tie rules
            rev[:n] = OP_C
            k = n
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
                            fold_case,
                        )
                    )
                    cost[a * m + b] = match if same else sub_w
            if tie == TIE_SCLITE:
                k = _sclite_pair(
                    cost, r_null[r0 : r0 + n], h_null[h0 : h0 + m], n, m,
                    ins_w, del_w, null_indel, dp, ins_cost, rev,
                )  # fmt: skip
            else:
                k = _rapidfuzz_pair(cost, n, m, dpi, rev)
        for j in range(k):
            c = rev[j]
            if c == OP_C:
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
    return counts, ops[:pos], op_off
