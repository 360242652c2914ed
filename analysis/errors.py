"""Error tables from the one alignment: confusions, top inserted/deleted/substituted words, word accuracy.

Nothing here re-aligns: each row of the per-utterance table carries ``ops`` (C/S/D/I in alignment order)
and its normalised ``ref``/``hyp`` words, so the aligned word pairs are replayed from those three columns.
The replay is vectorised over a whole system (a running count of reference- and hypothesis-consuming ops
indexes the flattened word arrays); texts are split and words integer-coded in Arrow, without a Python
object per word, so a 100k-utterance system is counted in well under a second.

Words are split exactly as the aligner splits them (``aligner.align.split_words``: ASCII whitespace), and
sclite's null word ``@`` is dropped from a row whose ops do not cover it (the sclite costs never align it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from werbench.aligner.align import split_words
from werbench.aligner.pairs import (
    NULL_WORDS,
    CodedPairs,
    arrow_texts,
    code_units,
    hyp_consuming,
    op_rows,
    ref_consuming,
)
from werbench.analysis.vocabulary import Vocabularies, Vocabulary

PAIR_COLUMNS = ["testset", "system", "utt_id", "position", "op", "ref_word", "hyp_word"]


def replay(ops: str, ref: str, hyp: str) -> list[tuple[str, str | None, str | None]]:
    """``(op, ref_word, hyp_word)`` for one utterance, from its ops string and word strings."""
    return _code([ops], [ref], [hyp], lambda _: f"ops {ops!r}").tuples()


# ------------------------------------------------------------------------------------- coded word pairs


_NOT_SINGLE_SPACED = r"[\t\n\r\x0b\x0c]|  |^ | $"


def _row_words(
    texts: pa.LargeStringArray, covered: np.ndarray, label: Callable[[int], str], side: str
) -> pa.Array:
    """All rows' words flattened, checking each row against the number of words its ops consume.

    The table joins words with single spaces, so the common case is one Arrow split of all rows at once;
    rows with other whitespace, sclite null words or a mismatch go through the word-by-word path.
    """
    if not pc.any(pc.match_substring_regex(texts, _NOT_SINGLE_SPACED)).as_py():
        filled = pc.not_equal(texts, "").to_numpy(zero_copy_only=False)
        parts = pc.split_pattern(texts.filter(pa.array(filled)), " ")
        counts = np.zeros(len(texts), dtype=np.int64)
        counts[filled] = pc.list_value_length(parts).to_numpy()
        if np.array_equal(counts, covered):
            return parts.flatten()
    flat: list[str] = []
    for i, text in enumerate(texts.to_pylist()):
        words = split_words(text)
        if len(words) != covered[i]:
            kept = [w for w in words if w not in NULL_WORDS]
            if len(kept) != covered[i]:
                raise ValueError(
                    f"{label(i)}: ops cover {covered[i]} {side} words but the row has {len(words)}"
                )
            words = kept
        flat.extend(words)
    return pa.array(flat, type=pa.large_string())


def _usable(utts: pd.DataFrame) -> pd.DataFrame:
    """Failed utterances carry no alignment; they are reported elsewhere, not counted as errors here."""
    if "failed" in utts.columns:
        utts = utts[~utts["failed"].fillna(False).astype(bool)]
    return utts


def _label(utts: pd.DataFrame) -> Callable[[int], str]:
    keys = [c for c in ("testset", "system", "utt_id") if c in utts.columns]
    return lambda i: "/".join(str(utts.iloc[i][c]) for c in keys) or f"row {i}"


def code_pairs(utts: pd.DataFrame) -> CodedPairs:
    """Replay every row's ``ops`` over its ``ref``/``hyp`` words at once (rows of ``utts`` in order)."""
    return _code(utts["ops"], utts["ref"], utts["hyp"], _label(utts))


def _code(ops, refs, hyps, label: Callable[[int], str]) -> CodedPairs:
    """Each row's words (checked against what its ops consume), then the one walk (``aligner.pairs``)."""
    op, row, lengths = op_rows(ops)
    n = len(lengths)
    ref_words = _row_words(
        arrow_texts(refs), np.bincount(row[ref_consuming(op)], minlength=n), label, "reference"
    )
    hyp_words = _row_words(
        arrow_texts(hyps), np.bincount(row[hyp_consuming(op)], minlength=n), label, "hypothesis"
    )
    return code_units(ops, ref_words, hyp_words)


def word_pairs(utts: pd.DataFrame) -> pd.DataFrame:
    """One row per aligned pair: testset, system, utt_id, position, op, ref_word, hyp_word."""
    utts = _usable(utts)
    coded = code_pairs(utts)
    out = {c: utts[c].to_numpy()[coded.row] for c in ("testset", "system", "utt_id") if c in utts.columns}
    out["position"] = coded.position
    out["op"] = coded.op.view("S1").astype(str)
    out["ref_word"] = coded.word(coded.ref)
    out["hyp_word"] = coded.word(coded.hyp)
    return pd.DataFrame(out, columns=[c for c in PAIR_COLUMNS if c in out])


# ---------------------------------------------------------------------------------------- error tables


@dataclass(slots=True)
class ErrorTables:
    """Every error table for a set of systems, one frame each, keyed by testset and system."""

    confusions: pd.DataFrame
    inserted: pd.DataFrame
    deleted: pd.DataFrame
    substituted: pd.DataFrame
    word_accuracy: pd.DataFrame
    oov: pd.DataFrame = field(default_factory=pd.DataFrame)

    def frames(self) -> dict[str, pd.DataFrame]:
        return {
            "confusions": self.confusions,
            "inserted": self.inserted,
            "deleted": self.deleted,
            "substituted": self.substituted,
            "word_accuracy": self.word_accuracy,
            "oov": self.oov,
        }


def _count(codes: np.ndarray, size: int) -> np.ndarray:
    return np.bincount(codes, minlength=size) if len(codes) else np.zeros(size, dtype=np.int64)


def _ranked(frame: pd.DataFrame, by: list[str], top: int | None) -> pd.DataFrame:
    frame = frame.sort_values(["count", *by], ascending=[False] + [True] * len(by), kind="stable")
    return (frame.head(top) if top else frame).reset_index(drop=True)


def _system_tables(
    utts: pd.DataFrame, vocabulary: Vocabulary | None, top: int | None
) -> dict[str, pd.DataFrame]:
    coded = code_pairs(utts)
    size = len(coded.words)
    words = coded.words
    is_s, is_d, is_i, is_c = (coded.op == ord(c) for c in "SDIC")
    sub_pairs = coded.ref[is_s].astype(np.int64) * size + coded.hyp[is_s]
    keys, counts = np.unique(sub_pairs, return_counts=True) if len(sub_pairs) else (np.zeros(0, int), [])
    n_sub = int(is_s.sum())
    confusions = pd.DataFrame(
        {"ref_word": words[keys // max(size, 1)], "hyp_word": words[keys % max(size, 1)], "count": counts}
    )
    confusions["share"] = confusions["count"] / n_sub if n_sub else np.nan
    confusions = _ranked(confusions, ["ref_word", "hyp_word"], top)

    ref_total = _count(coded.ref[coded.ref >= 0], size)
    correct = _count(coded.ref[is_c], size)
    substituted = _count(coded.ref[is_s], size)
    deleted = _count(coded.ref[is_d], size)
    inserted = _count(coded.hyp[is_i], size)

    def listing(counts_by_word: np.ndarray) -> pd.DataFrame:
        nz = np.flatnonzero(counts_by_word)
        frame = pd.DataFrame({"word": words[nz], "count": counts_by_word[nz]})
        total = counts_by_word.sum()
        frame["share"] = frame["count"] / total if total else np.nan
        return _ranked(frame, ["word"], top)

    top_sub = _top_replacement(coded.ref[is_s], coded.hyp[is_s], size, words)
    substituted_frame = listing(substituted)
    substituted_frame["top_replacement"] = substituted_frame["word"].map(top_sub)

    in_ref = np.flatnonzero(ref_total)
    accuracy = pd.DataFrame(
        {
            "word": words[in_ref],
            "count": ref_total[in_ref],
            "correct": correct[in_ref],
            "substituted": substituted[in_ref],
            "deleted": deleted[in_ref],
            "inserted": inserted[in_ref],
        }
    )
    accuracy["accuracy"] = accuracy["correct"] / accuracy["count"]
    accuracy["oov"] = (
        ~accuracy["word"].isin(vocabulary.words)
        if vocabulary is not None
        else pd.Series(pd.NA, index=accuracy.index, dtype="boolean")
    )
    accuracy = accuracy.sort_values(["count", "word"], ascending=[False, True], kind="stable").reset_index(
        drop=True
    )
    return {
        "confusions": confusions,
        "inserted": listing(inserted),
        "deleted": listing(deleted),
        "substituted": substituted_frame,
        "word_accuracy": accuracy,
        "oov": oov_summary(accuracy) if vocabulary is not None else pd.DataFrame(),
    }


def _top_replacement(ref: np.ndarray, hyp: np.ndarray, size: int, words: np.ndarray) -> dict[str, str]:
    """For each substituted reference word, the hypothesis word that most often replaced it."""
    if len(ref) == 0:
        return {}
    keys, counts = np.unique(ref.astype(np.int64) * size + hyp, return_counts=True)
    frame = pd.DataFrame({"ref": keys // size, "hyp": keys % size, "count": counts})
    best = frame.sort_values(["ref", "count", "hyp"], ascending=[True, False, True]).drop_duplicates("ref")
    return dict(zip(words[best["ref"].to_numpy()], words[best["hyp"].to_numpy()], strict=True))


def oov_summary(accuracy: pd.DataFrame) -> pd.DataFrame:
    """OOV rate (tokens and types) and accuracy on OOV vs in-vocabulary tokens, from a word-accuracy table."""
    oov = accuracy["oov"].astype(bool)
    tokens = int(accuracy["count"].sum())
    oov_tokens = int(accuracy.loc[oov, "count"].sum())
    iv_tokens = tokens - oov_tokens
    return pd.DataFrame(
        [
            {
                "ref_tokens": tokens,
                "oov_tokens": oov_tokens,
                "oov_rate": oov_tokens / tokens if tokens else np.nan,
                "ref_types": len(accuracy),
                "oov_types": int(oov.sum()),
                "oov_type_rate": float(oov.mean()) if len(accuracy) else np.nan,
                "oov_accuracy": accuracy.loc[oov, "correct"].sum() / oov_tokens if oov_tokens else np.nan,
                "iv_accuracy": accuracy.loc[~oov, "correct"].sum() / iv_tokens if iv_tokens else np.nan,
            }
        ]
    )


def error_tables(
    utts: pd.DataFrame, *, vocabulary: Vocabulary | Vocabularies | None = None, top: int | None = None
) -> ErrorTables:
    """All error tables for every ``(testset, system)`` in a per-utterance table; ``top`` caps the lists;
    OOV flags against each test set's own vocabulary."""
    vocabularies = Vocabularies.of(vocabulary)
    utts = _usable(utts[[c for c in (*PAIR_COLUMNS[:3], "ops", "ref", "hyp", "failed") if c in utts]])
    parts: dict[str, list[pd.DataFrame]] = {name: [] for name in ErrorTables.__dataclass_fields__}
    for (testset, system), group in utts.groupby(["testset", "system"], sort=True):
        for name, frame in _system_tables(group, vocabularies.get(testset), top).items():
            if len(frame.columns):
                frame.insert(0, "system", system)
                frame.insert(0, "testset", testset)
            parts[name].append(frame)
    if utts.empty:  # every utterance failed: empty tables, but with their columns (pages index them)
        for name, frame in _system_tables(utts, vocabularies.default, top).items():
            if len(frame.columns):
                frame.insert(0, "system", pd.Series(dtype=str))
                frame.insert(0, "testset", pd.Series(dtype=str))
            parts[name].append(frame)
    joined = {
        name: pd.concat(frames, ignore_index=True) if any(len(f.columns) for f in frames) else pd.DataFrame()
        for name, frames in parts.items()
    }
    return ErrorTables(**joined)


def word_accuracy_side_by_side(accuracy: pd.DataFrame, systems: Sequence[str]) -> pd.DataFrame:
    """Per reference word (most frequent first): ``word, count, oov``, then for the k-th of ``systems``
    ``accuracy_k`` and ``errors_k`` (occurrences not aligned as correct; NaN where it has no such word).

    ``accuracy`` is ``error_tables(...).word_accuracy`` of one test set's systems.
    """
    wide = accuracy.pivot_table(
        index="word", columns="system", values=["accuracy", "correct"], aggfunc="first"
    )
    by_word = accuracy.groupby("word")
    out = by_word[["count"]].first()
    out["oov"] = by_word["oov"].first()
    for k, system in enumerate(systems):
        out[f"accuracy_{k}"] = wide.get(("accuracy", system), np.nan)
        out[f"errors_{k}"] = out["count"] - wide.get(("correct", system), 0)
    out = out.reset_index().sort_values(["count", "word"], ascending=[False, True], kind="stable")
    return out.reset_index(drop=True)
