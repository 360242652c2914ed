"""How well a system's word confidence predicts its errors: AUC-ROC and AUC-PR of error detection, NCE, ECE
and a reliability diagram, from the one alignment.

Each hypothesis word (the aligned pairs' C, S and I words) gets the confidence the runner recorded for it
(``word_confidence``, ``runners.decoders.confidence``; the measure ``DEFAULT_MEASURE`` unless another is
asked for). Confidences belong to the raw ``pred_text`` words: each raw word is normalised on its own and
passes its confidence to the words it becomes; a row whose words cannot be matched so (the normaliser
joins or reorders across words) is left out and counted (``unmatched``).

- error detection: label 1 for an error word (S or I), score ``1 - confidence``; ``auc_roc`` is the
  Mann-Whitney statistic with ties counted half, ``auc_pr`` the average precision (scikit-learn's
  ``roc_auc_score`` and ``average_precision_score`` definitions; written here so that ``analysis`` needs no
  scikit-learn, which the tests check it against);
- ``nce``: normalised cross entropy as NIST sclite and NeMo's confidence benchmarks compute it,
  ``(H_max + sum_correct log2 c + sum_wrong log2 (1 - c)) / H_max`` with ``H_max`` the entropy of the
  correct-word rate (confidences clipped to [1e-10, 1 - 1e-10]);
- ``ece``: expected calibration error over ``BINS`` equal-width confidence bins,
  ``sum_b n_b / N |accuracy_b - confidence_b|``; ``reliability``: per bin, its words, mean confidence and
  share correct.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from werbench.aligner.pairs import arrow_texts, hyp_consuming, op_rows
from werbench.manifests.normalize import split_words

MEASURES = ("max_prob_mean", "max_prob_min", "entropy")  # ``runners.decoders.confidence`` order
# the measure on the probability scale: the CONFIDENT/DOUBTFUL thresholds, ECE and the reliability diagram
# assume one. NeMo's entropy measure ranks errors as well (AUC) but sits near 0.05-0.1 for right words of a
# small model (the demo: no confident error at all, most right words "doubtful"); it stays one choice away.
DEFAULT_MEASURE = "max_prob_mean"
BINS = 10
CONFIDENT, DOUBTFUL = 0.9, 0.5  # "confident error": an error at >= 0.9; "doubtful but right": correct < 0.5
SUMMARY_COLUMNS = [
    "testset", "system", "measure", "words", "errors", "unmatched", "auc_roc", "auc_pr", "nce", "ece",
    "mean_confidence", "accuracy", "confident_errors", "doubtful_right",
]  # fmt: skip
EPS = 1e-10


def _row_confidences(raw: str, confidences: list, normalized_hyp: str, normalize: Callable[[str], str]):
    """The confidence triples of the normalised hypothesis words, or None when the raw words do not map
    1:n (each raw word normalised on its own must give the normalised hypothesis' words in order; the
    one-row form of ``_scores``)."""
    words = raw.split()
    if len(words) != len(confidences):
        return None
    out = []
    for word, triple in zip(words, confidences, strict=True):
        out.extend([triple] * len(normalize(word).split()))
    return out if len(out) == len(normalized_hyp.split()) else None


def hypothesis_confidence(
    raw: Any,
    confidences: Any,
    normalized_hyp: str,
    normalize: Callable[[str], str],
    measure: str = DEFAULT_MEASURE,
) -> list[float] | None:
    """One utterance's confidence (``measure``) per normalised hypothesis word, or None when it has none
    or they cannot be mapped: what the utterance view colours its words by."""
    if not isinstance(raw, str) or not pd.api.types.is_list_like(confidences):
        return None
    mapped = _row_confidences(raw, list(confidences), normalized_hyp, normalize)
    column = MEASURES.index(measure)
    return None if mapped is None else [float(t[column]) for t in mapped]


def word_scores(
    utts: pd.DataFrame, normalize: Callable[[str], str], measure: str = DEFAULT_MEASURE
) -> pd.DataFrame:
    """One row per hypothesis word of the rows with ``word_confidence``: testset, system, utt_id, row (its
    position in ``utts``), word, correct, confidence; ``attrs["unmatched"]`` counts the rows per (test set,
    system) whose confidences could not be mapped."""
    scores = _scores(utts, normalize, (measure,))
    at = scores["row"].to_numpy()
    frame = pd.DataFrame(
        {
            **{c: utts[c].to_numpy()[at] for c in ("testset", "system", "utt_id")},
            "row": at,
            "word": _hyp_words(utts, scores.attrs["matched"]),
            "correct": scores["correct"].to_numpy(),
            "confidence": scores[measure].to_numpy(),
        }
    )
    frame.attrs["unmatched"] = scores.attrs["unmatched"]
    return frame


def _confidence_lists(column: pd.Series) -> pa.ListArray:
    """``word_confidence`` as one Arrow ``list<list<double>>`` array (null: none recorded), from an
    Arrow-backed column, Python lists, or JSON text where Arrow could not type the field."""
    try:
        lists = pa.array(column, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        lists = pa.array([json.loads(v) if isinstance(v, str) else v for v in column], from_pandas=True)
    if isinstance(lists, pa.ChunkedArray):
        lists = lists.combine_chunks()
    if pa.types.is_string(lists.type) or pa.types.is_large_string(lists.type):  # JSON text throughout
        lists = pa.array([None if v is None else json.loads(v) for v in lists.to_pylist()])
    return lists.cast(pa.list_(pa.list_(pa.float64())))


_BLOCK = 100_000  # rows scored at a time: a million rows' split words and flattened triples are gigabytes


def _scores(
    utts: pd.DataFrame, normalize: Callable[[str], str], measures: tuple[str, ...] = MEASURES
) -> pd.DataFrame:
    """Per hypothesis word of the rows whose confidences map onto their normalised words: ``row`` (position
    in ``utts``), ``correct`` and one column per measure of ``measures``; ``attrs``: ``unmatched`` (rows per
    test set and system that do not map) and ``matched`` (the row mask). ``_BLOCK`` rows at a time."""
    if len(utts) <= _BLOCK:
        return _block_scores(utts, normalize, measures)
    parts, unmatched = [], Counter()
    for start in range(0, len(utts), _BLOCK):
        part = _block_scores(utts.iloc[start : start + _BLOCK], normalize, measures)
        part["row"] += start
        unmatched.update(part.attrs.pop("unmatched"))
        parts.append(part)
    matched = np.concatenate([part.attrs.pop("matched") for part in parts])
    frame = pd.concat(parts, ignore_index=True)
    frame.attrs.update(unmatched=dict(unmatched), matched=matched)
    return frame


def _block_scores(
    utts: pd.DataFrame, normalize: Callable[[str], str], measures: tuple[str, ...]
) -> pd.DataFrame:
    """``_scores`` of one block. Columnar: the raw words are split by Arrow, each distinct raw word
    normalised once, the triples repeated per normalised word."""
    columns = {
        "row": np.zeros(0, np.int64),
        "correct": np.zeros(0, bool),
        **{m: np.zeros(0) for m in measures},
    }
    n = len(utts)
    if "word_confidence" not in utts or not n:
        empty = pd.DataFrame(columns)
        empty.attrs.update(unmatched={}, matched=np.zeros(n, bool))
        return empty
    lists = _confidence_lists(utts["word_confidence"])
    raw = arrow_texts(utts["pred_text"])
    failed = utts["failed"].fillna(False).to_numpy(bool) if "failed" in utts else np.zeros(n, bool)
    has = ~failed & ~np.asarray(lists.is_null(), bool) & ~np.asarray(utts["pred_text"].isna(), bool)
    conf_len = np.asarray(pc.fill_null(pc.list_value_length(lists), 0), np.int64)
    inner = pc.list_flatten(lists)
    if len(inner) and not np.all(np.asarray(pc.list_value_length(inner)) == len(MEASURES)):
        raise ValueError(f"word_confidence entries must hold {len(MEASURES)} numbers ({', '.join(MEASURES)})")
    triples = np.asarray(pc.list_flatten(inner), float).reshape(-1, len(MEASURES))
    split = pc.utf8_split_whitespace(raw)  # str.split(): runs of whitespace; empty strings dropped below
    words = pc.list_flatten(split)
    word_row = np.asarray(pc.list_parent_indices(split), np.int64)
    nonempty = np.asarray(pc.not_equal(words, ""), bool)
    words, word_row = words.filter(pa.array(nonempty)), word_row[nonempty]
    encoded = pc.dictionary_encode(words)
    per_word = np.array([len(normalize(w).split()) for w in encoded.dictionary.to_pylist()], np.int64)
    counts = per_word[np.asarray(encoded.indices, np.int64)] if len(words) else np.zeros(0, np.int64)
    op, op_row, _ = op_rows(utts["ops"])
    on_hyp = hyp_consuming(op)
    hyp_row, hyp_op = op_row[on_hyp], op[on_hyp]
    matched = (
        has
        & (np.bincount(word_row, minlength=n) == conf_len)
        & (np.bincount(word_row, weights=counts, minlength=n) == np.bincount(hyp_row, minlength=n))
    )
    unmatched: dict[tuple[str, str], int] = {}
    if (has & ~matched).any():
        missed = utts.loc[has & ~matched, ["testset", "system"]].astype(str)
        unmatched = {tuple(k): int(v) for k, v in missed.value_counts(sort=False).items()}
    triple_row = np.repeat(np.arange(n), conf_len)
    take = np.flatnonzero(matched[triple_row])  # each matched raw word's triple, once per word it becomes
    repeats = counts[matched[word_row]]
    take = take if np.all(repeats == 1) else np.repeat(take, repeats)
    keep = matched[hyp_row]
    columns = {"row": hyp_row[keep], "correct": hyp_op[keep] == ord("C")}
    columns.update((measure, triples[take, MEASURES.index(measure)]) for measure in measures)
    frame = pd.DataFrame(columns, copy=False)  # fresh arrays: no copy into one 2-D block
    frame.attrs.update(unmatched=unmatched, matched=matched)
    return frame


def _hyp_words(utts: pd.DataFrame, matched: np.ndarray) -> np.ndarray:
    """The normalised hypothesis words of the ``matched`` rows, in order (``manifests`` split rule)."""
    hyps = utts.loc[matched, "hyp"] if len(utts) else pd.Series(dtype=object)
    return np.array(
        [w for hyp in hyps for w in split_words(hyp if isinstance(hyp, str) else "")], dtype=object
    )


def detection_areas(labels: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """AUC-ROC (Mann-Whitney, ties half) and AUC-PR (average precision, scikit-learn's step definition) of
    ``scores`` detecting ``labels``, from one sort (the tables sort a million words per measure and
    system); NaN where a class is missing or a score is NaN (no order)."""
    labels = np.asarray(labels, bool)
    scores = np.asarray(scores, float)
    n_pos = int(labels.sum())
    n_neg = len(labels) - n_pos
    if not n_pos or np.isnan(scores).any():
        return math.nan, math.nan
    order = np.argsort(scores)
    ends = np.r_[np.flatnonzero(np.diff(scores[order])), len(scores) - 1] + 1  # ascending tie groups
    sizes = np.diff(ends, prepend=0)
    hits = np.diff(np.cumsum(labels[order])[ends - 1], prepend=0)
    mean_rank = ends - (sizes - 1) / 2  # 1-based ranks, each tie group sharing its mean
    auc = ((hits * mean_rank).sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg) if n_neg else math.nan
    true_pos = np.cumsum(hits[::-1])  # thresholds from the highest score down
    precision = true_pos / np.cumsum(sizes[::-1])
    return float(auc), float(np.sum(np.diff(true_pos / n_pos, prepend=0.0) * precision))


def auc_roc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties half); NaN without both classes."""
    return detection_areas(labels, scores)[0]


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the precision-recall curve as average precision (scikit-learn's step definition)."""
    return detection_areas(labels, scores)[1]


def nce(correct: np.ndarray, confidence: np.ndarray) -> float:
    """Normalised cross entropy (NIST sclite's, NeMo's benchmarks'); NaN when all or none are correct."""
    correct = np.asarray(correct, bool)
    n = len(correct)
    p = correct.mean() if n else math.nan
    if not n or p in (0.0, 1.0):
        return math.nan
    h_max = -(correct.sum() * math.log2(p) + (n - correct.sum()) * math.log2(1 - p))
    c = np.clip(np.asarray(confidence, float), EPS, 1 - EPS)
    h = np.log2(c[correct]).sum() + np.log2(1 - c[~correct]).sum()
    return float((h_max + h) / h_max)


def reliability(correct: np.ndarray, confidence: np.ndarray, bins: int = BINS) -> pd.DataFrame:
    """Per equal-width confidence bin: ``low, high, words, confidence`` (mean) and ``accuracy``."""
    confidence = np.asarray(confidence, float)
    at = np.minimum((confidence * bins).astype(int), bins - 1)
    words = np.bincount(at, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(at, weights=confidence, minlength=bins) / words
        accuracy = np.bincount(at, weights=np.asarray(correct, float), minlength=bins) / words
    edges = np.linspace(0, 1, bins + 1)
    return pd.DataFrame(
        {"low": edges[:-1], "high": edges[1:], "words": words, "confidence": mean, "accuracy": accuracy}
    )


def ece(correct: np.ndarray, confidence: np.ndarray, bins: int = BINS) -> float:
    table = reliability(correct, confidence, bins)
    used = table["words"] > 0
    if not used.any():
        return math.nan
    gap = (table.loc[used, "accuracy"] - table.loc[used, "confidence"]).abs()
    return float((gap * table.loc[used, "words"]).sum() / table.loc[used, "words"].sum())


def confidence_tables(
    utts: pd.DataFrame | Sequence[pd.DataFrame], normalize: Callable[[str], str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per test set, system and measure (``SUMMARY_COLUMNS``), and each measure's reliability diagram per
    system (``testset, system, measure`` + ``reliability``'s columns). Empty without confidences.
    ``utts``: one table, or several (e.g. a system each: never concatenated); one (test set, system)
    group is scored at a time, so the per-word arrays never hold more than one system."""
    summary, diagrams = [], []
    for frame in [utts] if isinstance(utts, pd.DataFrame) else utts:
        if not len(frame):
            continue
        for (testset, system), rows in frame.groupby(["testset", "system"], sort=True, observed=True):
            words = _scores(rows, normalize)
            if words.empty:
                continue
            correct = words["correct"].to_numpy(bool)
            unmatched = words.attrs["unmatched"].get((str(testset), str(system)), 0)
            for measure in MEASURES:
                row, diagram = _measure_summary(correct, words[measure].to_numpy(float))
                names = {"testset": str(testset), "system": str(system), "measure": measure}
                summary.append({**names, **row, "unmatched": unmatched})
                diagrams.append(diagram.assign(**names))
    diagram = pd.concat(diagrams, ignore_index=True) if diagrams else pd.DataFrame()
    return _by_measure(pd.DataFrame(summary, columns=SUMMARY_COLUMNS)), _by_measure(diagram)


def _by_measure(frame: pd.DataFrame) -> pd.DataFrame:
    """Measure by measure (``MEASURES`` order), then test set and system; each group's rows kept in order."""
    if frame.empty:
        return frame
    return frame.sort_values(["measure", "testset", "system"], key=_measure_rank, kind="stable").reset_index(
        drop=True
    )


def _measure_rank(column: pd.Series) -> pd.Series:
    return column.map({m: k for k, m in enumerate(MEASURES)}) if column.name == "measure" else column


def _measure_summary(correct: np.ndarray, conf: np.ndarray) -> tuple[dict[str, Any], pd.DataFrame]:
    """One group's figures under one measure (``SUMMARY_COLUMNS`` but the names) and its diagram."""
    roc, pr = detection_areas(~correct, 1 - conf)
    row = {
        "words": len(correct), "errors": int((~correct).sum()), "auc_roc": roc, "auc_pr": pr,
        "nce": nce(correct, conf), "ece": ece(correct, conf), "mean_confidence": float(conf.mean()),
        "accuracy": float(correct.mean()), "confident_errors": int((~correct & (conf >= CONFIDENT)).sum()),
        "doubtful_right": int((correct & (conf < DOUBTFUL)).sum()),
    }  # fmt: skip
    return row, reliability(correct, conf)


def utterance_confidence(
    utts: pd.DataFrame, normalize: Callable[[str], str], measure: str = DEFAULT_MEASURE
) -> pd.DataFrame:
    """Per row of ``utts`` (same index): ``confident_errors`` and ``doubtful_right`` word counts under
    ``measure`` (NaN where the row has no usable confidences): what the utterance grid filters on."""
    words = _scores(utts, normalize, (measure,))
    out = pd.DataFrame({"confident_errors": np.nan, "doubtful_right": np.nan}, index=utts.index)
    if words.empty:
        return out
    at = words["row"].to_numpy()
    correct, conf = words["correct"].to_numpy(bool), words[measure].to_numpy(float)
    n = len(utts)
    has = np.bincount(at, minlength=n) > 0
    for name, mask in (
        ("confident_errors", ~correct & (conf >= CONFIDENT)),
        ("doubtful_right", correct & (conf < DOUBTFUL)),
    ):
        counts = np.bincount(at, weights=mask.astype(float), minlength=n)
        out[name] = np.where(has, counts, np.nan)
    return out
