"""The one bootstrap engine behind every confidence interval and the paired bootstrap test.

Bisani & Ney (2004): resample utterances (or whole blocks such as speakers) with replacement and recompute
a pooled ratio (WER = errors / reference words) on each replicate; the interval is the percentile interval
of the replicates. ``bootstrap_group_sums`` draws the replicates of many independent groups at once (a
breakdown's groups, or one group for a corpus figure); ``ratio_interval`` turns them into intervals;
``bootstrap_ci`` and ``analysis.significance.paired_bootstrap`` are built on the two.

One rule for blocks (``block_codes``): rows sharing a label are one block, and a row without a label
(None, NaN or an empty string: an utterance without a speaker) is a block of its own, so that it is
neither dropped nor lumped with every other unlabelled utterance into one giant pseudo-speaker.

How replicates are drawn: a large group with few distinct rows (a 100k-utterance test set has a few
hundred distinct error/length pairs) draws how often each distinct row is picked from the multinomial with
their frequencies; a single group otherwise draws row indices with numpy's generator (in bounded chunks,
so a replicate is exactly ``values[rng.integers(0, n, n)].sum()`` and can be reproduced by hand); many
small groups (speakers of a breakdown) draw indices in one compiled numba loop. Why numba there: drawing
is sequential per replicate, and numpy would need the replicates x rows index matrix the loop never builds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numba import njit

_MULTINOMIAL_COST = 10  # one multinomial category costs about ten index draws (numpy's binomial chain)
_GATHER_CELLS = 4_000_000  # index draws per chunk of numpy's single-group path (bounded memory)


def block_codes(blocks: Sequence[Any] | np.ndarray | pd.Series) -> np.ndarray:
    """Integer block of each row, in order of first appearance; a row without a label is its own block."""
    keys = np.array(blocks, dtype=object)
    missing = pd.isna(keys) | (keys == "")
    for k in np.flatnonzero(missing):
        keys[k] = ("\x00", k)  # a key no label can equal
    codes, _ = pd.factorize(keys)
    return codes.astype(np.int64)


def block_sums(values: np.ndarray, blocks: Sequence[Any] | np.ndarray | pd.Series) -> np.ndarray:
    """Sum the rows of ``values`` that share a block (``block_codes``' rule), blocks in first-seen order."""
    values = np.asarray(values, dtype=np.float64)
    values = values[:, None] if values.ndim == 1 else values
    codes = block_codes(blocks)
    out = np.zeros((int(codes.max()) + 1 if len(codes) else 0, values.shape[1]))
    np.add.at(out, codes, values)
    return out


def bootstrap_group_sums(
    values: np.ndarray, groups: np.ndarray | None = None, *, n_resamples: int = 1000, seed: int = 0
) -> np.ndarray:
    """Column sums of ``values`` (n x m) over ``n_resamples`` resamples, stratified by ``groups`` codes.

    Each replicate draws, within every group, as many rows as the group has, with replacement. Returns an
    array ``(n_resamples, n_groups, m)``; without ``groups`` there is one group. The ways to draw (all
    exact, see the module docstring) are chosen per group by cost.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    n, m = values.shape
    codes = np.zeros(n, dtype=np.int64) if groups is None else np.asarray(groups, dtype=np.int64)
    n_groups = int(codes.max()) + 1 if n else int(groups is None)  # one group without groups, even empty
    out = np.zeros((n_resamples, n_groups, m))
    if n == 0:
        return out
    group_of, rows, counts = _distinct_rows(codes, values)
    bounds = np.searchsorted(group_of, np.arange(n_groups + 1))
    sizes = np.bincount(codes, minlength=n_groups)
    by_multinomial = (np.diff(bounds) * _MULTINOMIAL_COST < sizes) & (sizes > 0)
    rng = np.random.default_rng(seed)
    for g in np.flatnonzero(by_multinomial):
        lo, hi = bounds[g], bounds[g + 1]
        picks = rng.multinomial(int(sizes[g]), counts[lo:hi] / sizes[g], size=n_resamples)
        out[:, g, :] = picks @ rows[lo:hi]
    by_index = np.flatnonzero(~by_multinomial & (sizes > 0))
    if n_groups == 1 and len(by_index):
        out[:, 0, :] = _gathered_sums(values, n_resamples, rng)
    elif len(by_index):
        _index_draws(values, codes, by_index, sizes[by_index], out, rng)
    return out


def _distinct_rows(codes: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct ``(group, row)`` pairs sorted by group then row: their group, row values and counts.

    Counts (errors, words: whole numbers of modest range) are packed into one integer key and counted
    by ``np.unique``; other values are grouped by pandas.
    """
    columns = [codes, *values.T]
    if all(np.array_equal(c, np.round(c)) for c in columns[1:]):
        lows = [int(c.min()) for c in columns]
        spans = [int(c.max()) - low + 1 for c, low in zip(columns, lows, strict=True)]
        if math.prod(spans) < 2**62:
            key = np.zeros(len(codes), dtype=np.int64)
            for column, low, span in zip(columns, lows, spans, strict=True):
                key = key * span + (column.astype(np.int64) - low)
            unique, counts = np.unique(key, return_counts=True)
            decoded = []
            for low, span in zip(reversed(lows), reversed(spans), strict=True):
                decoded.append(unique % span + low)
                unique = unique // span
            group_of, *rows = reversed(decoded)
            return group_of, np.column_stack(rows).astype(np.float64), counts
    frame = pd.DataFrame(values, columns=[f"v{k}" for k in range(values.shape[1])])
    frame.insert(0, "group", codes)
    distinct = frame.groupby(list(frame.columns), sort=True).size()
    rows = [distinct.index.get_level_values(k + 1).to_numpy(np.float64) for k in range(values.shape[1])]
    return distinct.index.get_level_values(0).to_numpy(), np.column_stack(rows), distinct.to_numpy()


def _gathered_sums(values: np.ndarray, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """One group's replicate sums from numpy's index draws, ``_GATHER_CELLS`` indices at a time; whole
    numbers are gathered as int32 column by column (a quarter of the memory traffic of float64 rows)."""
    n = len(values)
    columns = [
        c.astype(np.int32) if np.array_equal(c, np.round(c)) and np.abs(c).max() < 2**31 else c
        for c in values.T
    ]
    out = np.empty((n_resamples, values.shape[1]))
    chunk = max(1, _GATHER_CELLS // n)
    for start in range(0, n_resamples, chunk):
        k = min(chunk, n_resamples - start)
        idx = rng.integers(0, n, size=(k, n), dtype=np.int32)
        for j, column in enumerate(columns):
            out[start : start + k, j] = column[idx].sum(
                axis=1, dtype=np.int64 if column.dtype == np.int32 else None
            )
    return out


@njit(cache=True)
def _stratified_sums(values, starts, sizes, targets, out, seed):  # pragma: no cover - compiled
    """Add to ``out[b, targets[g]]`` the sum of ``sizes[g]`` rows drawn with replacement from group g's slice.

    A xorshift64* generator inlined in the loop and a multiply-shift to map its top 32 bits onto
    ``[0, size)`` (bias below 2^-32 for any realistic group). Draws are tallied per row, then one
    sequential pass over the group's rows adds ``tally x values``: no index matrix, no random reads
    of wide rows.
    """
    n_groups = starts.shape[0]
    m = values.shape[1]
    tally = np.zeros(values.shape[0], dtype=np.int64)
    acc = np.zeros(m)
    state = np.uint64(seed) | np.uint64(1)
    for b in range(out.shape[0]):
        for g in range(n_groups):
            first = starts[g]
            size = np.uint64(sizes[g])
            for _ in range(sizes[g]):
                state ^= state >> np.uint64(12)
                state ^= state << np.uint64(25)
                state ^= state >> np.uint64(27)
                top = (state * np.uint64(0x2545F4914F6CDD1D)) >> np.uint64(32)
                tally[first + np.int64((top * size) >> np.uint64(32))] += 1
            acc[:] = 0.0
            for row in range(first, first + sizes[g]):
                picked = tally[row]  # no branch on zero tallies: cheaper than the mispredictions
                for j in range(m):
                    acc[j] += picked * values[row, j]
                tally[row] = 0
            out[b, targets[g], :] = acc


def _index_draws(
    values: np.ndarray, codes: np.ndarray, groups: np.ndarray, sizes: np.ndarray, out: np.ndarray, rng
) -> None:
    """Resample rows of ``groups`` by drawing row indices, in one compiled pass over every replicate."""
    order = np.argsort(codes, kind="stable")
    wanted = np.zeros(out.shape[1], dtype=bool)
    wanted[groups] = True
    chosen = np.ascontiguousarray(values[order[wanted[codes[order]]]])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    seed = int(rng.integers(1, 2**63 - 1))
    _stratified_sums(chosen, starts, sizes.astype(np.int64), groups.astype(np.int64), out, seed)


def ratio_interval(num: np.ndarray, den: np.ndarray, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of ``num / den`` over the first (replicate) axis; NaN where ``den`` is zero.

    Replicates with a zero denominator are left out of their column; the quantiles interpolate linearly
    as ``np.quantile`` does, for every column in one sort instead of one ``nanquantile`` call per column.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)
    ordered = np.sort(ratio, axis=0)  # NaN sorts last
    valid = np.isfinite(ratio).sum(axis=0)

    def quantile(q: float) -> np.ndarray:
        position = q * np.maximum(valid - 1, 0)
        below = np.floor(position).astype(np.int64)
        above = np.minimum(below + 1, np.maximum(valid - 1, 0))
        low = np.take_along_axis(ordered, below[None], axis=0)[0] if len(ordered) else np.zeros(valid.shape)
        high = np.take_along_axis(ordered, above[None], axis=0)[0] if len(ordered) else np.zeros(valid.shape)
        value = low + (high - low) * (position - below)
        return np.where(valid > 0, value, np.nan)

    return quantile(alpha / 2), quantile(1 - alpha / 2)


def bootstrap_ci(
    errors: np.ndarray,
    ref_words: np.ndarray,
    *,
    blocks: Sequence[Any] | None = None,
    n_resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval of pooled WER = sum(errors) / sum(ref_words) (Bisani & Ney 2004).

    Resamples utterances, or whole ``blocks`` (e.g. speakers, by ``block_codes``' rule).
    """
    values = np.column_stack([np.asarray(errors, np.float64), np.asarray(ref_words, np.float64)])
    if blocks is not None:
        values = block_sums(values, blocks)
    if len(values) == 0 or values[:, 1].sum() == 0:
        return math.nan, math.nan
    sums = bootstrap_group_sums(values, n_resamples=n_resamples, seed=seed)
    lo, hi = ratio_interval(sums[:, :, 0], sums[:, :, 1], alpha=1 - level)
    return float(lo[0]), float(hi[0])
