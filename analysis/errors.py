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

import gzip
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from werbench.aligner.align import split_words
from werbench.manifests.errors import ManifestError
from werbench.manifests.io import iter_json_rows

PAIR_COLUMNS = ["testset", "system", "utt_id", "position", "op", "ref_word", "hyp_word"]
_KENLM_MAGIC = b"mmap lm http://kheafield.com/code"
_ARPA_SPECIAL = frozenset({"<s>", "</s>", "<unk>", "<UNK>"})
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def replay(ops: str, ref: str, hyp: str) -> list[tuple[str, str | None, str | None]]:
    """``(op, ref_word, hyp_word)`` for one utterance, from its ops string and word strings."""
    coded = _code([ops], [ref], [hyp], lambda _: f"ops {ops!r}")
    ops_list = coded.op.view("S1").astype(str).tolist()
    return list(zip(ops_list, coded.word(coded.ref).tolist(), coded.word(coded.hyp).tolist(), strict=True))


# ------------------------------------------------------------------------------------- coded word pairs


@dataclass(slots=True)
class CodedPairs:
    """Aligned pairs of many utterances: op bytes, integer word codes (-1 = none) and the code book."""

    row: np.ndarray
    position: np.ndarray
    ref_index: np.ndarray  # the reference word an op consumes, or for I the gap before reference word k
    op: np.ndarray
    ref: np.ndarray
    hyp: np.ndarray
    words: np.ndarray

    def word(self, codes: np.ndarray) -> np.ndarray:
        return np.where(codes >= 0, self.words[np.maximum(codes, 0)], None)


_NULL_WORDS = frozenset({"@", "@*"})
_NOT_SINGLE_SPACED = r"[\t\n\r\x0b\x0c]|  |^ | $"


def arrow_texts(values: Sequence[str] | pd.Series) -> pa.LargeStringArray:
    """A column of texts as one Arrow array (missing values as empty strings)."""
    arr = pa.array(values, from_pandas=True).cast(pa.large_string())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return pc.fill_null(arr, "")


def utf8_bytes(arr: pa.LargeStringArray) -> tuple[np.ndarray, np.ndarray]:
    """The concatenated UTF-8 bytes of an Arrow string array and each element's length, without copies."""
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    data = arr.buffers()[2]
    raw = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, dtype=np.uint8)
    return raw[offsets[0] : offsets[-1]], np.diff(offsets)


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
            kept = [w for w in words if w not in _NULL_WORDS]
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
    op, lengths = utf8_bytes(arrow_texts(ops))
    n = len(lengths)
    row = np.repeat(np.arange(n), lengths)
    uses_ref = op != ord("I")
    uses_hyp = op != ord("D")
    ref_words = _row_words(arrow_texts(refs), np.bincount(row[uses_ref], minlength=n), label, "reference")
    hyp_words = _row_words(arrow_texts(hyps), np.bincount(row[uses_hyp], minlength=n), label, "hypothesis")
    encoded = pa.concat_arrays([ref_words, hyp_words]).dictionary_encode()
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    ref_codes, hyp_codes = codes[: len(ref_words)], codes[len(ref_words) :]
    ref_at = np.cumsum(uses_ref) - 1
    hyp_at = np.cumsum(uses_hyp) - 1
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if n else lengths
    refs_per_row = np.bincount(row[uses_ref], minlength=n)
    ref_before = np.cumsum(uses_ref) - uses_ref
    return CodedPairs(
        row=row,
        position=np.arange(len(op)) - np.repeat(starts, lengths),
        ref_index=ref_before - (np.cumsum(refs_per_row) - refs_per_row)[row],
        op=op,
        ref=np.where(uses_ref, ref_codes[np.clip(ref_at, 0, None)] if len(ref_codes) else -1, -1),
        hyp=np.where(uses_hyp, hyp_codes[np.clip(hyp_at, 0, None)] if len(hyp_codes) else -1, -1),
        words=np.asarray(encoded.dictionary.to_pylist(), dtype=object),
    )


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


# ------------------------------------------------------------------------------------------ vocabulary


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """A word list to flag out-of-vocabulary reference words against (an LM's unigrams, training words)."""

    words: frozenset[str]
    source: str
    kind: str

    def __contains__(self, word: object) -> bool:
        return word in self.words

    def __len__(self) -> int:
        return len(self.words)


def _open_text(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open(encoding="utf-8")


def _arpa_unigrams(path: Path) -> Iterator[str]:
    inside = False
    with _open_text(path) as handle:
        for line in handle:
            line = line.strip()
            if line.startswith("\\"):
                if inside:
                    return
                inside = line == "\\1-grams:"
                continue
            if inside and line:
                parts = line.split()
                if len(parts) >= 2 and parts[1] not in _ARPA_SPECIAL:
                    yield parts[1]


def _is_word_list(lines: list[str]) -> bool:
    """``word`` or ``word count`` on every line (a unigram list) rather than running text."""
    for line in lines:
        parts = line.split()
        if len(parts) > 2 or (len(parts) == 2 and not _NUMBER.fullmatch(parts[1])):
            return False
    return True


def _text_words(path: Path, normalize: Callable[[str], str] | None) -> Iterator[str]:
    with _open_text(path) as handle:
        head = [line for _, line in zip(range(1000), handle, strict=False)]
    as_list = _is_word_list([h for h in head if h.strip()])
    with _open_text(path) as handle:
        for line in handle:
            if as_list:
                parts = line.split()
                if parts:
                    yield from (normalize(parts[0]) if normalize else parts[0]).split()
            else:
                yield from (normalize(line) if normalize else line).split()


def _manifest_words(path: Path, normalize: Callable[[str], str] | None) -> Iterator[str]:
    for number, row in iter_json_rows(path):
        text = row.get("text")
        if not isinstance(text, str):
            raise ManifestError(path, "expected a string", line=number, field="text")
        yield from (normalize(text) if normalize else text).split()


def load_vocabulary(path: str | Path, normalize: Callable[[str], str] | None = None) -> Vocabulary:
    """Words of an ARPA LM (its unigrams), a NeMo manifest (its texts) or a word list / text corpus.

    ``normalize`` is applied to manifest texts and plain-text lines (ARPA words are taken as they are),
    so pass the normaliser the systems were scored with.
    """
    path = Path(path)
    if not path.is_file():
        raise ManifestError(path, "vocabulary file not found")
    with path.open("rb") as handle:
        head = handle.read(4096)
    if head.startswith(_KENLM_MAGIC):
        raise ManifestError(path, "this is a KenLM binary; give its ARPA file or a word list for OOV flags")
    if b"\x00" in head and not head.startswith(b"\x1f\x8b"):  # gzip is read as text, unpacked
        at = head.index(b"\x00")
        raise ManifestError(
            path, f"a binary file, not a word list (NUL byte at offset {at})", line=head[:at].count(b"\n") + 1
        )
    name = path.name.lower().removesuffix(".gz")
    try:
        if name.endswith(".arpa") or head.lstrip().startswith(b"\\data\\"):
            return Vocabulary(frozenset(_arpa_unigrams(path)), str(path), "arpa")
        if name.endswith((".json", ".jsonl")):
            return Vocabulary(frozenset(_manifest_words(path, normalize)), str(path), "manifest")
        return Vocabulary(frozenset(_text_words(path, normalize)), str(path), "text")
    except UnicodeDecodeError as exc:
        raise ManifestError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None


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
    utts: pd.DataFrame, *, vocabulary: Vocabulary | None = None, top: int | None = None
) -> ErrorTables:
    """All error tables for every ``(testset, system)`` in a per-utterance table; ``top`` caps the lists."""
    utts = _usable(utts)
    parts: dict[str, list[pd.DataFrame]] = {name: [] for name in ErrorTables.__dataclass_fields__}
    for (testset, system), group in utts.groupby(["testset", "system"], sort=True):
        for name, frame in _system_tables(group, vocabulary, top).items():
            if len(frame.columns):
                frame.insert(0, "system", system)
                frame.insert(0, "testset", testset)
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
