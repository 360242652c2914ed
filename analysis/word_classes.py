"""Error rates on the words that matter: numbers, OOV words, names and user keyword lists, per word class.

Every figure comes from the one alignment (``errors.code_pairs`` replays each row's ``ops``); a class tags
reference and hypothesis words, and per system and class we count:

- ``ref_words``: reference words of the class; ``hyp_words``: hypothesis words of the class;
- ``correct``: class reference words aligned as correct (C); ``hyp_correct``: class hypothesis words
  aligned as correct (the same number unless a phrase occurs on one side only);
- ``recall = correct / ref_words``, ``precision = hyp_correct / hyp_words`` and their harmonic mean
  ``f1``. These are texterrors' keyword recall and precision (``keywords_predicted / keywords_count`` and
  ``/ keywords_output``) for single-word keywords; its OOV-WER is ``1 - recall`` of the OOV class;
- ``errors``: error pairs that touch the class, each counted once: a class reference word not recognised (S
  or D) or a class hypothesis word that is wrong (I, or S of another reference word: a false alarm);
  ``wer = errors / ref_words`` is fstalign's class WER (errors over the class's reference tokens) except
  that fstalign counts only the errors of labelled reference tokens, so ours is higher by the false alarms;
  ``error_share = errors / all errors`` (S + D + I) of the system.

Intervals (``*_lo``/``*_hi``) come from the one bootstrap engine (``analysis.bootstrap``): utterances
resampled, each figure a ratio of resampled sums. Classes (``WordClass``): numbers (a rule: digits or
spelled-out cardinals), OOV words (against a ``Vocabulary``; reference side only, so no precision), names
(``names_class``: the raw references' capitalisation) and keyword lists (``load_keywords``: one keyword or
phrase a line; a phrase tags its words only where the whole phrase occurs, on either side).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from werbench.aligner.pairs import CodedPairs, arrow_texts, correct_ops
from werbench.analysis.bootstrap import bootstrap_group_sums, ratio_interval
from werbench.analysis.errors import code_pairs
from werbench.analysis.vocabulary import Vocabulary
from werbench.manifests.errors import ManifestError
from werbench.manifests.io import iter_lines

_UNITS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand "
    "million billion trillion"
)
NUMBER_WORDS = frozenset(_UNITS.split())
_DIGIT = re.compile(r"\d")
_N = 5  # counts per row and class (``ClassCounts``)
CLASS_COLUMNS = [
    "testset", "system", "class", "kind", "ref_words", "hyp_words", "correct", "hyp_correct", "recall",
    "recall_lo", "recall_hi", "precision", "precision_lo", "precision_hi", "f1", "f1_lo", "f1_hi", "errors",
    "wer", "wer_lo", "wer_hi", "error_share",
]  # fmt: skip
COMPARISON_COLUMNS = [
    "testset", "class", "system_a", "system_b", "ref_words", "recall_a", "recall_b", "delta", "delta_lo",
    "delta_hi", "p_b_better",
]  # fmt: skip


def is_number(word: str) -> bool:
    """Digits anywhere (``2024``, ``3.5``, ``1st``), or spelled-out cardinals, hyphenated ones too
    (``twenty-one``). Ordinals and ``point``/``oh`` are not numbers: they are words of other uses too."""
    if _DIGIT.search(word):
        return True
    parts = [part for part in word.split("-") if part]
    return bool(parts) and all(part in NUMBER_WORDS for part in parts)


@dataclass(frozen=True, slots=True)
class WordClass:
    """A class of words: a set of single words, a membership rule, and/or phrases tagged where they occur."""

    name: str
    kind: str  # numbers | oov | names | keywords
    source: str
    words: frozenset[str] = frozenset()
    rule: Callable[[str], bool] | None = None
    phrases: tuple[tuple[str, ...], ...] = ()
    outside: bool = False  # OOV: a word is of the class when it is NOT in ``words``
    hyp_side: bool = True  # False: only reference words are tagged (OOV: a hypothesis non-word is no OOV)

    def word_mask(self, words: np.ndarray) -> np.ndarray:
        """Whether each word of a code book is of the class on its own (phrases are tagged in context)."""
        listed = pd.Index(words).isin(list(self.words)) if len(words) else np.zeros(0, bool)
        mask = ~listed if self.outside else listed
        if self.rule is not None:
            mask = mask | np.fromiter((self.rule(w) for w in words), bool, len(words))
        return np.asarray(mask, bool)


def classes_digest(classes: Sequence[WordClass]) -> str:
    """What a table of these classes depends on besides the tables and the code (a rule is code): a key
    for a stored class table (``table_cache.Summaries``)."""
    digest = hashlib.blake2b(digest_size=16)
    for c in classes:
        digest.update(repr((c.name, c.kind, c.source, c.phrases, c.outside, c.hyp_side)).encode())
        digest.update("\n".join(sorted(c.words)).encode())
        digest.update(b"\0")
    return digest.hexdigest()


def number_class() -> WordClass:
    return WordClass("numbers", "numbers", "digits or spelled-out cardinals", rule=is_number)


def oov_class(vocabulary: Vocabulary) -> WordClass:
    """Reference words the vocabulary lacks; a reference-side class (texterrors' OOV-WER is ``1 - recall``):
    a hypothesis word outside the vocabulary is mostly a non-word, not a recognised OOV, so no precision."""
    source = f"{vocabulary.source} ({vocabulary.kind})"
    return WordClass("oov", "oov", source, vocabulary.words, outside=True, hyp_side=False)


def load_keywords(path: str | Path, normalize: Callable[[str], str] | None = None) -> WordClass:
    """A keyword list (``--keywords FILE``): one keyword or phrase a line, ``#`` comments; the class is
    named after the file's stem. Each line goes through ``normalize`` (the one the systems were scored
    with), so ``Harbor Electric`` matches the normalised ``harbor electric``."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(path, "keyword list not found")
    singles: set[str] = set()
    phrases: set[tuple[str, ...]] = set()
    for number, line in iter_lines(path):  # undecodable bytes, NUL and over-long lines name their line
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        words = tuple((normalize(text) if normalize else text).split())
        if not words:
            raise ManifestError(path, f"keyword {text!r} is empty after normalisation", line=number)
        (singles.add(words[0]) if len(words) == 1 else phrases.add(words))
    if not singles and not phrases:
        raise ManifestError(path, "the keyword list has no keywords")
    return WordClass(path.stem, "keywords", str(path), frozenset(singles), phrases=tuple(sorted(phrases)))


_EDGE = re.compile(r"^[^\w]+|[^\w']+$")


def names_class(raw_texts: Iterable[str], normalize: Callable[[str], str] | None = None) -> WordClass | None:
    """Names from the raw references' capitalisation (texterrors' "simple entity" rule, without its
    common-word list): a word is a name when it is written with a capital somewhere not at the start of a
    sentence, never in lower case, and is not ``I``. None when the references carry no case (all lower or
    all upper case): then nothing can be told from it."""
    texts = arrow_texts(raw_texts if isinstance(raw_texts, pd.Series) else list(raw_texts))
    pieces = pc.utf8_split_whitespace(texts)  # str.split's separators (every Unicode space), in C++
    sizes = pc.list_value_length(pieces).fill_null(0).to_numpy(zero_copy_only=False)
    owner = np.repeat(np.arange(len(texts)), sizes)
    flat = pc.list_flatten(pieces)
    kept = pc.not_equal(flat, "").to_numpy(zero_copy_only=False)  # text-edge spaces give empty pieces
    tokens = flat.filter(pa.array(kept)).dictionary_encode()
    owner = owner[kept]
    distinct = tokens.dictionary.to_pylist()  # the rules run once per distinct token, not per occurrence
    codes = tokens.indices.to_numpy(zero_copy_only=False)
    stripped = [_EDGE.sub("", raw) for raw in distinct]
    is_word = np.fromiter(map(bool, stripped), bool, len(distinct))[codes]
    codes, owner = codes[is_word], owner[is_word]  # a token of marks only is no word: it ends no sentence
    # a word starts a sentence when it is its text's first or follows one ending in . ! or ?
    ends = np.fromiter((raw[-1] in ".!?" for raw in distinct), bool, len(distinct))[codes]
    start = np.ones(len(codes), bool)
    start[1:] = (owner[1:] != owner[:-1]) | ends[:-1]
    inside = np.bincount(codes[~start], minlength=len(distinct)) > 0
    capital_inside: set[str] = set()
    lower: set[str] = set()
    has_upper = has_lower = False
    for word, mid_sentence in zip(stripped, inside.tolist(), strict=True):
        if word:
            upper = any(c.isupper() for c in word)
            has_upper |= upper
            has_lower |= any(c.islower() for c in word)
            if not upper:
                lower.add(word.lower())
            elif mid_sentence and word != "I":
                capital_inside.add(word)
    if not (has_upper and has_lower):
        return None
    names = {w for w in capital_inside if w.lower() not in lower}
    words = {n for w in names for n in (normalize(w) if normalize else w).split()}
    return WordClass("names", "names", "capitalised mid-sentence, never lower case", frozenset(words))


def default_classes(
    raw_refs: Iterable[str],
    normalize: Callable[[str], str] | None,
    vocabulary: Vocabulary | None = None,
    keywords: Sequence[WordClass] = (),
) -> list[WordClass]:
    """Numbers always; OOV with a vocabulary; names when the raw references carry case; the keyword lists."""
    classes = [number_class()]
    if vocabulary is not None:
        classes.append(oov_class(vocabulary))
    names = names_class(raw_refs, normalize)
    if names is not None and names.words:
        classes.append(names)
    return classes + list(keywords)


# --------------------------------------------------------------------------------------------- tagging


def _phrase_mask(codes: np.ndarray, rows: np.ndarray, phrases: Sequence[np.ndarray]) -> np.ndarray:
    """Where any phrase (a sequence of codes) occurs within one row of ``codes``: its words are tagged.

    Windows of each phrase length are hashed (wrapping int64 arithmetic) and matched with ``np.isin``, then
    each candidate is checked exactly, so a hash collision cannot tag a wrong window.
    """
    mask = np.zeros(len(codes), bool)
    by_length: dict[int, list[np.ndarray]] = {}
    for phrase in phrases:
        if len(phrase) <= len(codes) and (phrase >= 0).all():
            by_length.setdefault(len(phrase), []).append(phrase)
    rng = np.random.default_rng(0)
    for length, group in by_length.items():
        weights = rng.integers(1, 2**62, size=length, dtype=np.int64)
        windows = np.lib.stride_tricks.sliding_window_view(codes, length)
        with np.errstate(over="ignore"):
            keys = (windows * weights).sum(axis=1)
            targets = (np.stack(group) * weights).sum(axis=1)
        same_row = rows[: len(rows) - length + 1] == rows[length - 1 :]
        candidates = np.flatnonzero(np.isin(keys, targets) & same_row)
        wanted = {tuple(p) for p in group}
        for start in candidates:
            if tuple(windows[start]) in wanted:
                mask[start : start + length] = True
    return mask


def _tags(pairs: CodedPairs, word_class: WordClass) -> tuple[np.ndarray, np.ndarray]:
    """Per aligned pair: is its reference word of the class, is its hypothesis word."""
    single = word_class.word_mask(pairs.words)
    index = {w: k for k, w in enumerate(pairs.words)} if word_class.phrases else {}
    phrases = [np.array([index.get(w, -1) for w in p], np.int64) for p in word_class.phrases]
    tagged = []
    for side in (pairs.ref, pairs.hyp if word_class.hyp_side else np.full(len(pairs.hyp), -1)):
        present = side >= 0
        mask = np.zeros(len(side), bool)
        mask[present] = single[side[present]] if len(single) else False
        if phrases:
            mask[np.flatnonzero(present)] |= _phrase_mask(side[present], pairs.row[present], phrases)
        tagged.append(mask)
    return tagged[0], tagged[1]


def scored_mask(utts: pd.DataFrame) -> np.ndarray:
    """Which rows carry an alignment and count in the pooled numbers (``tables``' ``scored``)."""
    keep = ~utts["failed"].fillna(False).astype(bool) if "failed" in utts else pd.Series(True, utts.index)
    if "scored" in utts:
        keep &= utts["scored"].fillna(False).astype(bool)
    return keep.to_numpy(bool)


def scored_rows(utts: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``scored_mask``, renumbered from 0."""
    return utts[scored_mask(utts)].reset_index(drop=True)


@dataclass(frozen=True, slots=True)
class ClassCounts:
    """Per row of the scored table and per class: [ref_words, hyp_words, correct, hyp_correct, errors]
    (rows x classes x 5), plus every row's total errors, which the bootstrap resamples together."""

    rows: pd.DataFrame
    counts: np.ndarray
    total_errors: np.ndarray
    classes: list[WordClass]


_BLOCK = 50_000  # rows whose pairs are tagged at a time: a row's counts are its own


def class_counts(utts: pd.DataFrame, classes: Sequence[WordClass]) -> ClassCounts:
    """Tag every aligned pair of every scored row with every class, and sum per row; ``_BLOCK`` rows of one
    system at a time, so the pair arrays (a dozen 8-byte numbers per word) stay the same size at 1M rows."""
    keep = np.flatnonzero(scored_mask(utts))
    keys = [c for c in ("testset", "system", "utt_id") if c in utts]
    rows = utts[[*keys, "S", "D", "I"]].iloc[keep].reset_index(drop=True)  # no texts: the counts say it
    n = len(rows)
    out = np.zeros((n, len(classes), _N))
    total = (rows[["S", "D", "I"]].sum(axis=1).to_numpy(float)) if n else np.zeros(0)
    if n == 0 or not classes:
        return ClassCounts(rows, out, total, list(classes))
    aligned = utts[[*keys, "ops", "ref", "hyp"]]
    for members in rows.groupby(["testset", "system"], sort=False, observed=True).indices.values():
        for start in range(0, len(members), _BLOCK):
            at = members[start : start + _BLOCK]
            pairs = code_pairs(aligned.iloc[keep[at]])
            correct_pair = correct_ops(pairs.op)
            for k, word_class in enumerate(classes):
                in_ref, in_hyp = _tags(pairs, word_class)
                per_pair = (in_ref, in_hyp, correct_pair & in_ref, correct_pair & in_hyp,
                            ~correct_pair & (in_ref | in_hyp))  # fmt: skip
                for j, tagged in enumerate(per_pair):
                    out[at, k, j] = np.bincount(pairs.row[tagged], minlength=len(at))
    return ClassCounts(rows, out, total, list(classes))


def _ratio(num: float, den: float) -> float:
    return num / den if den else np.nan


def _percentile(replicates: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of replicates that are not NaN (a replicate without the class has none)."""
    finite = replicates[np.isfinite(replicates)]
    if not len(finite):
        return np.nan, np.nan
    lo, hi = np.quantile(finite, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def class_table(
    utts: pd.DataFrame,
    classes: Sequence[WordClass],
    *,
    n_resamples: int = 1000,
    seed: int = 0,
    counted: ClassCounts | None = None,
) -> pd.DataFrame:
    """Per test set, class and system: the counts and rates of the module docstring with 95% intervals
    (``counted``: ``class_counts(utts, classes)`` already computed)."""
    counted = class_counts(utts, classes) if counted is None else counted
    records = []
    if counted.rows.empty or not classes:
        return pd.DataFrame(columns=CLASS_COLUMNS)
    for (testset, system), group in counted.rows.groupby(["testset", "system"], sort=True):
        at = group.index.to_numpy()
        values = counted.counts[at].reshape(len(at), -1)
        sums = bootstrap_group_sums(values, n_resamples=n_resamples, seed=seed)[:, 0, :]
        total = counted.total_errors[at].sum()
        for k, word_class in enumerate(counted.classes):
            ref, hyp, correct, hyp_correct, errors = counted.counts[at, k, :].sum(axis=0)
            b = sums[:, _N * k : _N * k + _N]
            recall = ratio_interval(b[:, [2]], b[:, [0]])
            precision = ratio_interval(b[:, [3]], b[:, [1]])
            with np.errstate(divide="ignore", invalid="ignore"):
                r, p = b[:, 2] / b[:, 0], b[:, 3] / b[:, 1]
                f1_lo, f1_hi = _percentile(2 * p * r / (p + r))
            wer = ratio_interval(b[:, [4]], b[:, [0]])
            point_r, point_p = _ratio(correct, ref), _ratio(hyp_correct, hyp)
            records.append(
                [
                    testset, system, word_class.name, word_class.kind, int(ref), int(hyp), int(correct),
                    int(hyp_correct), point_r, recall[0][0], recall[1][0],
                    point_p, precision[0][0], precision[1][0],
                    _ratio(2 * point_p * point_r, point_p + point_r), f1_lo, f1_hi,
                    int(errors), _ratio(errors, ref), wer[0][0], wer[1][0], _ratio(errors, total),
                ]
            )  # fmt: skip
    frame = pd.DataFrame(records, columns=CLASS_COLUMNS)
    order = {c.name: k for k, c in enumerate(counted.classes)}  # each class's systems together
    frame = frame.sort_values(
        ["testset", "class", "system"], key=lambda c: c.map(order) if c.name == "class" else c
    )
    return frame.reset_index(drop=True)


def class_comparison(
    utts: pd.DataFrame,
    classes: Sequence[WordClass],
    system_a: str,
    system_b: str,
    testset: str,
    *,
    n_resamples: int = 1000,
    seed: int = 0,
    counted: ClassCounts | None = None,
) -> pd.DataFrame:
    """Which system gets a class right: per class, both recalls, B - A with a paired bootstrap interval
    (the same utterances drawn for both) and the share of replicates in which B recalls more.
    ``counted``: ``class_counts`` of rows holding at least the pair's (e.g. the whole test set's)."""
    if counted is None:
        rows = utts[(utts["testset"] == testset) & utts["system"].isin([system_a, system_b])]
        counted = class_counts(rows, classes)
    frame = counted.rows
    a_at = frame.index[(frame["system"] == system_a).to_numpy(bool)].to_numpy()
    b_at = frame.index[(frame["system"] == system_b).to_numpy(bool)].to_numpy()
    if not len(a_at) and not len(b_at):
        return pd.DataFrame(columns=COMPARISON_COLUMNS)
    # fixed-width text, not objects: numpy's isin compares object arrays element by element (100k x 100k)
    ids_a = frame.loc[a_at, "utt_id"].to_numpy(dtype=str)
    ids_b = frame.loc[b_at, "utt_id"].to_numpy(dtype=str)
    common = np.intersect1d(ids_a, ids_b)
    in_a, in_b = np.isin(ids_a, common), np.isin(ids_b, common)
    a_at = a_at[in_a][np.argsort(ids_a[in_a], kind="stable")]
    b_at = b_at[in_b][np.argsort(ids_b[in_b], kind="stable")]
    records = []
    for k, word_class in enumerate(counted.classes):
        values = np.column_stack(
            [counted.counts[a_at, k, 2], counted.counts[a_at, k, 0], counted.counts[b_at, k, 2],
             counted.counts[b_at, k, 0]]
        )  # fmt: skip
        sums = values.sum(axis=0)
        boot = bootstrap_group_sums(values, n_resamples=n_resamples, seed=seed)[:, 0, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            delta = boot[:, 2] / boot[:, 3] - boot[:, 0] / boot[:, 1]
        finite = delta[np.isfinite(delta)]
        lo, hi = np.quantile(finite, [0.025, 0.975]) if len(finite) else (np.nan, np.nan)
        recall_a, recall_b = _ratio(sums[0], sums[1]), _ratio(sums[2], sums[3])
        records.append(
            [testset, word_class.name, system_a, system_b, int(sums[1]), recall_a, recall_b,
             recall_b - recall_a, lo, hi, float((finite > 0).mean()) if len(finite) else np.nan]
        )  # fmt: skip
    return pd.DataFrame(records, columns=COMPARISON_COLUMNS)


def class_columns(classes_table: pd.DataFrame) -> pd.DataFrame:
    """``testset, system`` and per class ``recall_<class>`` and ``f1_<class>`` (classes in the table's
    order, recall first): what the report's systems.csv adds beside WER."""
    if classes_table.empty:
        return pd.DataFrame(columns=["testset", "system"])
    names = list(dict.fromkeys(classes_table["class"]))
    wide = classes_table.pivot_table(
        index=["testset", "system"], columns="class", values=["recall", "f1"], dropna=False
    )
    wide.columns = [f"{measure}_{name}" for measure, name in wide.columns]
    return wide[[f"{m}_{n}" for n in names for m in ("recall", "f1")]].reset_index()
