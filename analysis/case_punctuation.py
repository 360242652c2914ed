"""Casing and punctuation: the punctuation error rate per mark (NeMo's ``punct_er``) and a case error rate on
correctly recognised words, from the raw texts beside the normalised WER.

The per-utterance table keeps each row's raw texts (``text``, ``pred_text``) beside the normalised
``ref``/``hyp`` that the one alignment (``ops``) was made on. Nothing here re-aligns: each raw text is split
as the aligner splits (``split_words``) and every raw token is normalised on its own (``raw_text``); when
the tokens' words are the row's normalised words in order, each normalised word knows its raw token, and the
aligned pairs (``errors.code_pairs``, the one walk) carry the raw forms and marks across. A row whose raw
text does not map so (a normaliser that joins or reorders across words: whisper's numbers, alternations,
compounds) is left out of both measures and counted (``unmapped``).

Punctuation (``MARKS``; every mark character counts, ``...`` is three ``.``): a token's leading marks sit
in the gap before its first word, the rest in the gap after its last word. The alignment cuts each text into
regions, one from each pair that aligns a reference with a hypothesis word (C or S) up to the next (the
first region starts at the text's start), so a mark after a deleted or inserted word falls in the region of
the word before it. Within a region the reference and hypothesis marks are paired from the end: equal marks
are *correct*, different ones a *substitution*; unpaired reference marks are *deletions*, unpaired
hypothesis marks *insertions*. Per mark: ``correct``, ``substituted`` (this reference mark written as
another), ``deleted``, ``inserted`` (NeMo's ``operation_amounts``), ``precision = correct / hyp_marks``,
``recall = correct / ref_marks``, F1, and ``per`` = (substituted + deleted + inserted) / all four, NeMo's
per-mark rates summed; the overall ``per`` is NeMo's ``punct_er``: all marks' errors over all their
operations.

Where this differs from NeMo's ``punct_er`` (``nemo.collections.common.metrics.punct_er``), and why: NeMo
runs its own unit-cost Levenshtein over the raw ``[\\w']+`` words (case-sensitive, unnormalised) and masked
marks; here the marks ride on the one alignment the WER was computed on, so punctuation is judged between
the words the WER says correspond, and a case error is not also a word error. NeMo's backtrace pairs the
masked marks of a gap from the end, which the in-region pairing reproduces: with the same words on both
sides, as written, and marks only dropped, only added or only replaced in place, the counts are NeMo's
exactly (the tests check hundreds of random pairs). They differ where NeMo's alignment moves across words:
a case difference is a word substitution to NeMo, and its backtrace takes any equal-token diagonal and
prefers substitutions on ties, so a mark dropped in one gap and one added a word away can become one
substitution there (here a deletion and an insertion, as the words say). NeMo gives no precision/recall;
they are added from its counts.

Case: among the pairs the alignment marks correct (C), the words whose raw letters could be found in both
raw tokens (the normalised word's characters, case-insensitively, in order) are compared as written; a
*case error* is a pair whose raw forms differ only in case (``Smith``/``smith``, ``US``/``Us``).
``case_error_rate = case_errors / case_words``. The measures are given when the test set's references
carry them: punctuation when a reference holds a mark, case when the references mix upper and lower case;
``hyp_punctuated``/``hyp_cased`` say whether the system writes them at all (a system that writes no marks
has a punctuation error rate of 100%: all deletions). Intervals: the one bootstrap engine, utterances
resampled.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import regex
from werbench.aligner.align import split_words
from werbench.aligner.pairs import hyp_consuming, ref_consuming
from werbench.analysis.bootstrap import bootstrap_ci
from werbench.analysis.errors import code_pairs, replay
from werbench.analysis.word_classes import scored_rows

MARKS = ".,?!:;"  # NeMo's usual set (".,?") with ! : ; beside it
SUMMARY_COLUMNS = [
    "testset", "system", "utts", "unmapped", "ref_marks", "hyp_marks", "correct", "substituted", "deleted",
    "inserted", "per", "per_lo", "per_hi", "case_words", "case_errors", "case_error_rate", "case_lo",
    "case_hi", "ref_punctuated", "hyp_punctuated", "ref_cased", "hyp_cased",
]  # fmt: skip
MARK_COLUMNS = [
    "testset", "system", "mark", "ref_marks", "hyp_marks", "correct", "substituted", "deleted", "inserted",
    "precision", "recall", "f1", "per",
]  # fmt: skip
_COUNTS = ("ref_marks", "hyp_marks", "correct", "substituted", "deleted", "inserted")
_LEADING = regex.compile(r"^[^\p{L}\p{M}\p{N}]*")
_TRAILING = regex.compile(r"[^\p{L}\p{M}\p{N}]*$")
_UPPER, _LOWER = regex.compile(r"\p{Lu}"), regex.compile(r"\p{Ll}")


@dataclass(frozen=True, slots=True)
class RawText:
    """A raw text mapped onto its normalised words: per word its raw token and its letters as written (None
    where they cannot be found in the token), and the marks of each gap (0: before the first word; k + 1:
    after word k)."""

    tokens: list[str]
    word_token: list[int]
    word_raw: list[str | None]
    gaps: list[str]


def raw_text(
    text: str, words: list[str], normalize: Callable[[str], str], marks: str = MARKS
) -> RawText | None:
    """Map ``text`` onto ``words`` (its normalised words as the table holds them), or None when normalising
    its tokens one by one does not give those words in order."""
    tokens = split_words(text)
    word_token: list[int] = []
    word_raw: list[str | None] = []
    gaps = [""]
    for t, token in enumerate(tokens):
        head, pieces, raws, tail = _token(normalize, token, marks)
        k = len(word_token)
        if tuple(words[k : k + len(pieces)]) != pieces:
            return None
        gaps[-1] += head
        word_raw.extend(raws)
        word_token.extend([t] * len(pieces))
        gaps.extend([""] * len(pieces))
        gaps[-1] += tail
    return RawText(tokens, word_token, word_raw, gaps) if len(word_token) == len(words) else None


def _marks(text: str, marks: str) -> str:
    return "".join(c for c in text if c in marks)


@functools.lru_cache(maxsize=200_000)
def _token(
    normalize: Callable[[str], str], token: str, marks: str
) -> tuple[str, tuple[str, ...], tuple[str | None, ...], str]:
    """A raw token's leading marks, normalised words, each word's letters as written (None: not found in
    the token) and its other marks (cached: corpora repeat tokens)."""
    head = _LEADING.match(token).group()  # type: ignore[union-attr]
    pieces = tuple(split_words(normalize(token)))
    folded = token.lower() if len(token.lower()) == len(token) else None
    raws: list[str | None] = []
    cursor = 0
    for piece in pieces:
        at = folded.find(piece.lower(), cursor) if folded is not None else -1
        raws.append(token[at : at + len(piece)] if at >= 0 else None)
        cursor = at + len(piece) if at >= 0 else cursor
    return _marks(head, marks), pieces, tuple(raws), _marks(token[len(head) :], marks)


def display_words(raw: RawText, words: list[str]) -> list[str]:
    """Each normalised word as written for a diff: its raw token when the token is that one word, else its
    raw letters (the token's leading marks on its first word, its other marks on its last); a token that
    normalises to nothing is shown with the word before it (or after it, at the start)."""
    shown = [raw.word_raw[k] or words[k] for k in range(len(words))]
    by_token: dict[int, list[int]] = {}
    for k, t in enumerate(raw.word_token):
        by_token.setdefault(t, []).append(k)
    pending: list[str] = []
    last = -1
    for t, token in enumerate(raw.tokens):
        at = by_token.get(t)
        if at is None:
            if last >= 0:
                shown[last] += " " + token
            else:
                pending.append(token)
            continue
        if len(at) == 1:
            shown[at[0]] = token
        else:
            shown[at[0]] = _LEADING.match(token).group() + shown[at[0]]  # type: ignore[union-attr]
            shown[at[-1]] += _TRAILING.search(token).group()  # type: ignore[union-attr]
        if pending:
            shown[at[0]] = " ".join([*pending, shown[at[0]]])
            pending = []
        last = at[-1]
    return shown


def _flush(ref_marks: str, hyp_marks: str, marks: str, out: np.ndarray) -> None:
    """One region's marks, paired from the end (see the module docstring), added to ``out`` (marks x 6)."""
    if not ref_marks and not hyp_marks:
        return
    n = min(len(ref_marks), len(hyp_marks))
    for mark in ref_marks:
        out[marks.index(mark), 0] += 1
    for mark in hyp_marks:
        out[marks.index(mark), 1] += 1
    for r, h in zip(ref_marks[len(ref_marks) - n :], hyp_marks[len(hyp_marks) - n :], strict=True):
        out[marks.index(r), 2 if r == h else 3] += 1
    for mark in ref_marks[: len(ref_marks) - n]:
        out[marks.index(mark), 4] += 1
    for mark in hyp_marks[: len(hyp_marks) - n]:
        out[marks.index(mark), 5] += 1


def row_counts(
    op: np.ndarray, ref_at: np.ndarray, hyp_at: np.ndarray, ref: RawText, hyp: RawText, marks: str = MARKS
) -> tuple[np.ndarray, int, int]:
    """One row's punctuation counts (marks x ``_COUNTS``) and case words and errors, from its aligned
    pairs: op bytes and, per pair, the reference and hypothesis word it consumes (-1: none)."""
    out = np.zeros((len(marks), len(_COUNTS)), np.int64)
    case_words = case_errors = 0
    region_ref, region_hyp = ref.gaps[0], hyp.gaps[0]
    for code, i, j in zip(op.tolist(), ref_at.tolist(), hyp_at.tolist(), strict=True):
        if i >= 0 and j >= 0:  # C or S: a new region
            _flush(region_ref, region_hyp, marks, out)
            region_ref, region_hyp = ref.gaps[i + 1], hyp.gaps[j + 1]
            a, b = ref.word_raw[i], hyp.word_raw[j]
            if code == ord("C") and a is not None and b is not None and a.lower() == b.lower():
                case_words += 1
                case_errors += a != b
        elif i >= 0:
            region_ref += ref.gaps[i + 1]
        else:
            region_hyp += hyp.gaps[j + 1]
    _flush(region_ref, region_hyp, marks, out)
    return out, case_words, case_errors


def carries_case(texts: pd.Series) -> bool:
    """Whether texts mix upper and lower case (all-lower or all-upper texts say nothing about case)."""
    joined = "\n".join(texts.dropna().astype(str).unique().tolist())
    return bool(_UPPER.search(joined)) and bool(_LOWER.search(joined))


def carries_marks(texts: pd.Series, marks: str = MARKS) -> bool:
    joined = "\n".join(texts.dropna().astype(str).unique().tolist())
    return any(mark in joined for mark in marks)


@dataclass(frozen=True, slots=True)
class RowCounts:
    """Per scored row: punctuation counts (rows x marks x ``_COUNTS``), case words and errors, and whether
    both raw texts mapped onto the normalised words (rows that did not carry zeros)."""

    rows: pd.DataFrame
    marks: np.ndarray
    case: np.ndarray  # rows x [case_words, case_errors]
    mapped: np.ndarray


def case_punctuation_counts(
    utts: pd.DataFrame, normalize: Callable[[str], str], marks: str = MARKS
) -> RowCounts:
    """Map every scored row's raw texts onto its aligned words and count marks and case (module docstring)."""
    rows = scored_rows(utts)
    n = len(rows)
    out = np.zeros((n, len(marks), len(_COUNTS)), np.int64)
    case = np.zeros((n, 2), np.int64)
    mapped = np.zeros(n, bool)
    if n == 0 or "text" not in rows or "pred_text" not in rows:
        return RowCounts(rows, out, case, mapped)
    pairs = code_pairs(rows)
    uses_ref, uses_hyp = ref_consuming(pairs.op), hyp_consuming(pairs.op)
    ref_at = np.where(uses_ref, pairs.ref_index, -1)
    hyp_before = np.cumsum(uses_hyp) - uses_hyp
    per_row = np.bincount(pairs.row[uses_hyp], minlength=n)
    hyp_at = np.where(uses_hyp, hyp_before - (np.cumsum(per_row) - per_row)[pairs.row], -1)
    bounds = np.searchsorted(pairs.row, np.arange(n + 1))
    texts, pred_texts = (
        rows[c].astype(object).where(rows[c].notna(), "").tolist() for c in ("text", "pred_text")
    )
    mapped_refs: dict[tuple[str, tuple[str, ...]], RawText | None] = {}
    for k in range(n):
        span = slice(bounds[k], bounds[k + 1])
        words = pairs.word(pairs.ref[span][uses_ref[span]]).tolist()
        key = (str(texts[k]), tuple(words))
        if key not in mapped_refs:
            mapped_refs[key] = raw_text(key[0], words, normalize, marks)
        ref = mapped_refs[key]
        hyp_words = pairs.word(pairs.hyp[span][uses_hyp[span]]).tolist()
        hyp = raw_text(str(pred_texts[k]), hyp_words, normalize, marks) if ref is not None else None
        if hyp is None or ref is None:
            continue
        out[k], *counts = row_counts(pairs.op[span], ref_at[span], hyp_at[span], ref, hyp, marks)
        case[k] = counts
        mapped[k] = True
    return RowCounts(rows, out, case, mapped)


def _ratio(num: float, den: float) -> float:
    return num / den if den else np.nan


def case_punctuation_tables(
    utts: pd.DataFrame,
    normalize: Callable[[str], str],
    marks: str = MARKS,
    *,
    n_resamples: int = 1000,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per test set and system the summary (``SUMMARY_COLUMNS``) and per mark (``MARK_COLUMNS``); both empty
    when no test set's references carry marks or case (then there is nothing to measure)."""
    empty = pd.DataFrame(columns=SUMMARY_COLUMNS), pd.DataFrame(columns=MARK_COLUMNS)
    if utts.empty or "text" not in utts or "pred_text" not in utts:
        return empty
    refs = utts[["testset", "utt_id", "text"]].drop_duplicates(["testset", "utt_id"])
    refs = refs.groupby("testset", sort=True)["text"]
    punctuated = {ts: carries_marks(texts, marks) for ts, texts in refs}
    cased = {ts: carries_case(texts) for ts, texts in refs}
    wanted = [ts for ts in punctuated if punctuated[ts] or cased[ts]]
    if not wanted:
        return empty
    counted = case_punctuation_counts(utts[utts["testset"].isin(wanted)], normalize, marks)
    summary, per_mark = [], []
    for (testset, system), group in counted.rows.groupby(["testset", "system"], sort=False):
        at = group.index.to_numpy()
        at_mapped = at[counted.mapped[at]]
        ops = counted.marks[at_mapped][:, :, 2:].sum(
            axis=1
        )  # rows x [correct, substituted, deleted, inserted]
        totals = counted.marks[at_mapped].sum(axis=(0, 1))
        case = counted.case[at_mapped]
        per = per_lo = per_hi = case_rate = case_lo = case_hi = np.nan
        if punctuated[testset]:
            per = _ratio(totals[3:].sum(), totals[2:].sum())
            per_lo, per_hi = bootstrap_ci(
                ops[:, 1:].sum(axis=1), ops.sum(axis=1), n_resamples=n_resamples, seed=seed
            )
        if cased[testset]:
            case_rate = _ratio(case[:, 1].sum(), case[:, 0].sum())
            case_lo, case_hi = bootstrap_ci(case[:, 1], case[:, 0], n_resamples=n_resamples, seed=seed)
        summary.append(
            [
                testset, system, len(at_mapped), len(at) - len(at_mapped), *(int(v) for v in totals),
                per, per_lo, per_hi, int(case[:, 0].sum()), int(case[:, 1].sum()), case_rate, case_lo,
                case_hi, punctuated[testset], carries_marks(group["pred_text"], marks), cased[testset],
                carries_case(group["pred_text"]),
            ]
        )  # fmt: skip
        if not punctuated[testset]:
            continue
        by_mark = counted.marks[at_mapped].sum(axis=0)
        for m, mark in enumerate(marks):
            ref_n, hyp_n, correct, substituted, deleted, inserted = (int(v) for v in by_mark[m])
            if ref_n + hyp_n == 0:
                continue
            precision, recall = _ratio(correct, hyp_n), _ratio(correct, ref_n)
            per_mark.append(
                [
                    testset, system, mark, ref_n, hyp_n, correct, substituted, deleted, inserted, precision,
                    recall, _ratio(2 * precision * recall, precision + recall),
                    _ratio(substituted + deleted + inserted, correct + substituted + deleted + inserted),
                ]
            )  # fmt: skip
    per_mark_frame = pd.DataFrame(per_mark, columns=MARK_COLUMNS)
    order = per_mark_frame["mark"].map(marks.index)  # each mark's systems together, in the systems' order
    per_mark_frame = per_mark_frame.iloc[np.lexsort([order, per_mark_frame["testset"]])]
    return pd.DataFrame(summary, columns=SUMMARY_COLUMNS), per_mark_frame.reset_index(drop=True)


def raw_diff(
    ops: str, text: str, pred_text: str, ref: str, hyp: str, normalize: Callable[[str], str]
) -> list[tuple[str, str | None, str | None]] | None:
    """One row's aligned pairs with the words as written (``display_words``), for a diff of case and
    punctuation; None when its raw texts do not map onto its normalised words."""
    pairs = replay(ops, ref, hyp)
    ref_words = [r for _, r, _ in pairs if r is not None]
    hyp_words = [h for _, _, h in pairs if h is not None]
    mapped = raw_text(text, ref_words, normalize), raw_text(pred_text, hyp_words, normalize)
    if mapped[0] is None or mapped[1] is None:
        return None
    shown_ref, shown_hyp = (
        iter(display_words(mapped[0], ref_words)),
        iter(display_words(mapped[1], hyp_words)),
    )
    return [
        (op, None if r is None else next(shown_ref), None if h is None else next(shown_hyp))
        for op, r, h in pairs
    ]
