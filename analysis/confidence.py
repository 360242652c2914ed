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

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from werbench.analysis.errors import code_pairs

MEASURES = ("max_prob_mean", "max_prob_min", "entropy")  # ``runners.decoders.confidence`` order
DEFAULT_MEASURE = "entropy"
BINS = 10
CONFIDENT, DOUBTFUL = 0.9, 0.5  # "confident error": an error at >= 0.9; "doubtful but right": correct < 0.5
SUMMARY_COLUMNS = [
    "testset", "system", "measure", "words", "errors", "unmatched", "auc_roc", "auc_pr", "nce", "ece",
    "mean_confidence", "accuracy", "confident_errors", "doubtful_right",
]  # fmt: skip
EPS = 1e-10


def _row_confidences(raw: str, confidences: list, normalized_hyp: str, normalize: Callable[[str], str]):
    """The confidence triples of the normalised hypothesis words, or None when the raw words do not map
    1:n (each raw word normalised on its own must give the normalised hypothesis' words in order)."""
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
    column = MEASURES.index(measure)
    empty = pd.DataFrame(columns=["testset", "system", "utt_id", "row", "word", "correct", "confidence"])
    empty.attrs["unmatched"] = {}
    if "word_confidence" not in utts or utts.empty:
        return empty
    failed = utts["failed"].fillna(False).to_numpy(bool) if "failed" in utts else np.zeros(len(utts), bool)
    confidences = []
    keep = np.zeros(len(utts), bool)
    unmatched: dict[tuple[str, str], int] = {}
    for k, (raw, conf, hyp) in enumerate(
        zip(utts["pred_text"], utts["word_confidence"], utts["hyp"], strict=True)
    ):
        if failed[k] or not pd.api.types.is_list_like(conf) or not isinstance(raw, str):
            continue  # no confidences (another kind of system: NA or None) or a failed decode
        mapped = _row_confidences(raw, list(conf), hyp if isinstance(hyp, str) else "", normalize)
        if mapped is None:
            key = (str(utts["testset"].iat[k]), str(utts["system"].iat[k]))
            unmatched[key] = unmatched.get(key, 0) + 1
            continue
        keep[k] = True
        confidences.extend(float(t[column]) for t in mapped)
    rows = utts[keep].reset_index(drop=True)
    if rows.empty:
        empty.attrs["unmatched"] = unmatched
        return empty
    pairs = code_pairs(rows)
    on_hyp = pairs.hyp >= 0
    positions = np.flatnonzero(keep)[pairs.row[on_hyp]]
    frame = pd.DataFrame(
        {
            "testset": rows["testset"].to_numpy()[pairs.row[on_hyp]],
            "system": rows["system"].to_numpy()[pairs.row[on_hyp]],
            "utt_id": rows["utt_id"].to_numpy()[pairs.row[on_hyp]],
            "row": positions,
            "word": pairs.word(pairs.hyp[on_hyp]),
            "correct": pairs.op[on_hyp] == ord("C"),
            "confidence": np.asarray(confidences, float),
        }
    )
    frame.attrs["unmatched"] = unmatched
    return frame


def auc_roc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties half); NaN without both classes."""
    labels = np.asarray(labels, bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if not n_pos or not n_neg:
        return math.nan
    ranks = rankdata(scores)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the precision-recall curve as average precision (scikit-learn's step definition)."""
    labels = np.asarray(labels, bool)
    if not labels.any():
        return math.nan
    order = np.argsort(-np.asarray(scores, float), kind="mergesort")
    sorted_scores, hits = np.asarray(scores, float)[order], labels[order]
    last = np.r_[np.flatnonzero(np.diff(sorted_scores)), len(hits) - 1]  # the end of each tie group
    true_pos = np.cumsum(hits)[last]
    precision = true_pos / (last + 1)
    recall = true_pos / labels.sum()
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


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
    utts: pd.DataFrame, normalize: Callable[[str], str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per test set, system and measure (``SUMMARY_COLUMNS``), and each measure's reliability diagram per
    system (``testset, system, measure`` + ``reliability``'s columns). Empty without confidences."""
    summary, diagrams = [], []
    for measure in MEASURES:
        words = word_scores(utts, normalize, measure)
        unmatched = words.attrs["unmatched"]
        for (testset, system), group in words.groupby(["testset", "system"], sort=True):
            correct, conf = group["correct"].to_numpy(bool), group["confidence"].to_numpy(float)
            summary.append(
                {
                    "testset": testset, "system": system, "measure": measure, "words": len(group),
                    "errors": int((~correct).sum()), "unmatched": unmatched.get((testset, system), 0),
                    "auc_roc": auc_roc(~correct, 1 - conf), "auc_pr": average_precision(~correct, 1 - conf),
                    "nce": nce(correct, conf), "ece": ece(correct, conf),
                    "mean_confidence": float(conf.mean()), "accuracy": float(correct.mean()),
                    "confident_errors": int((~correct & (conf >= CONFIDENT)).sum()),
                    "doubtful_right": int((correct & (conf < DOUBTFUL)).sum()),
                }
            )  # fmt: skip
            diagrams.append(
                reliability(correct, conf).assign(testset=testset, system=system, measure=measure)
            )
    diagram = pd.concat(diagrams, ignore_index=True) if diagrams else pd.DataFrame()
    return pd.DataFrame(summary, columns=SUMMARY_COLUMNS), diagram


def utterance_confidence(
    utts: pd.DataFrame, normalize: Callable[[str], str], measure: str = DEFAULT_MEASURE
) -> pd.DataFrame:
    """Per row of ``utts`` (same index): ``confident_errors`` and ``doubtful_right`` word counts under
    ``measure`` (NaN where the row has no usable confidences): what the utterance grid filters on."""
    words = word_scores(utts, normalize, measure)
    out = pd.DataFrame({"confident_errors": np.nan, "doubtful_right": np.nan}, index=utts.index)
    if words.empty:
        return out
    at = words["row"].to_numpy()
    correct, conf = words["correct"].to_numpy(bool), words["confidence"].to_numpy(float)
    n = len(utts)
    has = np.bincount(at, minlength=n) > 0
    for name, mask in (
        ("confident_errors", ~correct & (conf >= CONFIDENT)),
        ("doubtful_right", correct & (conf < DOUBTFUL)),
    ):
        counts = np.bincount(at, weights=mask.astype(float), minlength=n)
        out[name] = np.where(has, counts, np.nan)
    return out
