"""Two systems side by side: per-utterance outcome, word-level three-way view, significance tests.

Conventions: A is the baseline and B the candidate, so an utterance is *improved* when B makes fewer word
errors (S + D + I) than A, *regressed* when more, *tied* otherwise. Every scored utterance is paired: by
default that is the whole test set, a failed or missing hypothesis counting as all deletions (``tables``);
with ``--missing ignore`` the utterances either system did not decode are left out (and counted). Test
statistics are signed so that negative favours A.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import zip_longest
from typing import Any

import numpy as np
import pandas as pd
from werbench.analysis.errors import replay
from werbench.analysis.significance import (
    Flavour,
    PairedScores,
    TestResult,
    format_p,
    holm,
    paired_bootstrap,
    run_tests,
)
from werbench.analysis.tables import rate
from werbench.manifests.errors import ConfigError

VERSUS_BEST_COLUMNS = [
    "testset",
    "system",
    "best",
    "p_value",
    "p_holm",
    "p_best_better",
    "p_text",
    "p_holm_text",
]


def word_errors(frame: pd.DataFrame) -> np.ndarray:
    return (frame["S"] + frame["D"] + frame["I"]).to_numpy(np.int64)


def _pick_testset(utts: pd.DataFrame, systems: Sequence[str], testset: str | None) -> str:
    """The test set to compare on: the given one, else the only one that has every system."""
    pairs = utts[["testset", "system"]].drop_duplicates()
    have = pairs.groupby("testset")["system"].agg(set)
    candidates = [ts for ts, names in have.items() if set(systems) <= names]
    if testset is not None:
        if testset not in have.index:
            raise ConfigError(
                "testset", f"no test set {testset!r}; test sets: {', '.join(map(str, have.index))}"
            )
        missing = [s for s in systems if s not in have[testset]]
        if missing:
            listed = ", ".join(sorted(have[testset]))
            raise ConfigError(
                "system", f"{testset}: no system {', '.join(map(repr, missing))}; systems: {listed}"
            )
        return testset
    if len(candidates) == 1:
        return str(candidates[0])
    if not candidates:
        listed = "; ".join(f"{ts}: {', '.join(sorted(n))}" for ts, n in have.items())
        raise ConfigError("system", f"no test set has all of {', '.join(map(repr, systems))} ({listed})")
    raise ConfigError(
        "testset", f"{', '.join(systems)} are in several test sets ({', '.join(candidates)}); choose one"
    )


_PAIR_FIELDS = (
    "utt_id",
    "speaker",
    "duration",
    "ref",
    "hyp",
    "ops",
    "ref_words",
    "S",
    "D",
    "I",
    "wer",
    "scored",
)


def _paired(rows: pd.DataFrame, a: str, b: str) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """A's and B's rows (one test set's) of the utterances both have, in A's order, indexed by utt_id, and
    which of them both scored (the others are left out of the pairing)."""
    left = rows[rows["system"] == a].set_index("utt_id")
    right = rows[rows["system"] == b].set_index("utt_id")
    ids = left.index.intersection(right.index, sort=False)
    left, right = left.loc[ids], right.loc[ids]
    return left, right, left["scored"].to_numpy(bool) & right["scored"].to_numpy(bool)


def pair_frame(utts: pd.DataFrame, a: str, b: str, testset: str | None = None) -> pd.DataFrame:
    """One row per utterance of the test set: both systems' texts, ops, errors, WERs and the outcome."""
    testset = _pick_testset(utts, [a, b], testset)
    wanted = [c for c in _PAIR_FIELDS if c in utts.columns]
    left, right, both = _paired(utts.loc[utts["testset"] == testset, ["system", *wanted]], a, b)
    ids = left.index
    failed = ~both
    err_a, err_b = word_errors(left), word_errors(right)
    speakers = (
        left["speaker"].astype(object) if "speaker" in left else pd.Series(None, index=ids, dtype=object)
    )  # the speaker field only (analysis.speakers): no speakers guessed from ids here
    frame = pd.DataFrame(
        {
            "utt_id": ids,
            "speaker": speakers.to_numpy(),
            "duration": left["duration"].to_numpy() if "duration" in left else np.nan,
            "ref": left["ref"].to_numpy(),
            "hyp_a": left["hyp"].to_numpy(),
            "hyp_b": right["hyp"].to_numpy(),
            "ops_a": left["ops"].to_numpy(),
            "ops_b": right["ops"].to_numpy(),
            "ref_words": left["ref_words"].to_numpy(np.int64),
            "err_a": err_a,
            "err_b": err_b,
            "delta": err_b - err_a,
            "wer_a": left["wer"].to_numpy(np.float64) if "wer" in left else np.nan,
            "wer_b": right["wer"].to_numpy(np.float64) if "wer" in right else np.nan,
            "failed": failed,
        }
    )
    frame["outcome"] = np.select(
        [failed, err_b < err_a, err_b > err_a], ["failed", "improved", "regressed"], default="tied"
    )
    return frame.reset_index(drop=True)


@dataclass
class Comparison:
    """A against B on one test set: the paired utterances, the headline numbers and every test."""

    testset: str
    system_a: str
    system_b: str
    utterances: pd.DataFrame
    summary: dict[str, Any]
    tests: list[TestResult] = field(default_factory=list)

    def to_json(self, utterances: bool = True) -> dict[str, Any]:
        """Plain JSON types only; an undefined number (NaN) is ``null``."""
        out: dict[str, Any] = {
            "testset": self.testset,
            "system_a": self.system_a,
            "system_b": self.system_b,
            "summary": self.summary,
            "tests": [t.to_json() for t in self.tests],
        }
        if utterances:
            cols = ["utt_id", "speaker", "ref_words", "err_a", "err_b", "delta", "outcome"]
            out["utterances"] = json.loads(self.utterances[cols].to_json(orient="records"))
        return json_safe(out)


def json_safe(value: Any) -> Any:
    """``value`` with NaN/inf floats as None and numpy scalars as Python numbers, recursively."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def compare_systems(
    utts: pd.DataFrame,
    a: str,
    b: str,
    *,
    testset: str | None = None,
    flavour: Flavour = "werbench",
    n_resamples: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
    min_good: int = 2,
) -> Comparison:
    """Pair A and B on their common scored utterances and run every sc_stats test (plus bootstrap)."""
    if a == b:
        raise ConfigError("system", f"cannot compare {a!r} with itself")
    testset = _pick_testset(utts, [a, b], testset)
    frame = pair_frame(utts, a, b, testset)
    ok = frame[~frame["failed"]]
    ref_words = int(ok["ref_words"].sum())
    counts = ok["outcome"].value_counts()
    wer_a, wer_b = rate(int(ok["err_a"].sum()), ref_words), rate(int(ok["err_b"].sum()), ref_words)
    summary = {
        "utts": len(ok),
        "failed_excluded": int(frame["failed"].sum()),
        "ref_words": ref_words,
        "wer_a": wer_a,
        "wer_b": wer_b,
        "wer_change": wer_b - wer_a,
        "relative_change": rate(wer_b - wer_a, wer_a),
        "improved": int(counts.get("improved", 0)),
        "regressed": int(counts.get("regressed", 0)),
        "tied": int(counts.get("tied", 0)),
        "flavour": flavour,
    }
    scores = PairedScores(
        err_a=ok["err_a"].to_numpy(),
        err_b=ok["err_b"].to_numpy(),
        ref_words=ok["ref_words"].to_numpy(),
        ops_a=ok["ops_a"],
        ops_b=ok["ops_b"],
        speakers=ok["speaker"].to_numpy(object),
    )
    tests = (
        run_tests(scores, flavour=flavour, n_resamples=n_resamples, seed=seed, alpha=alpha, min_good=min_good)
        if len(ok)
        else []
    )
    return Comparison(testset, a, b, frame, summary, tests)


def versus_best(
    utts: pd.DataFrame, systems: pd.DataFrame, *, n_resamples: int = 1000, seed: int = 0
) -> pd.DataFrame:
    """Each system against its test set's best (lowest WER) by the paired bootstrap, Holm-adjusted.

    The comparisons of a test set are one family: ``p_holm`` is the Holm-Bonferroni adjusted p-value
    (raw ``p_value`` beside it). A bootstrap p-value below its resolution (``1 / n_resamples``) enters the
    adjustment as that resolution, so ``p_holm`` is then an upper bound. ``p_text``/``p_holm_text`` are
    the values as they may be printed (``analysis.significance.format_p``).
    """
    rows = []
    resolution = 1.0 / n_resamples
    for testset, group in systems.dropna(subset=["wer"]).groupby("testset", sort=True):
        best = group.loc[group["wer"].idxmin(), "system"]
        counts = ["system", "utt_id", "S", "D", "I", "ref_words", "scored"]  # no text copied
        rows_of_testset = utts.loc[(utts["testset"] == testset).to_numpy(bool), counts]
        family = []
        for other in group["system"]:
            row = {"testset": testset, "system": other, "best": best, "p_value": None, "p_best_better": None}
            if other != best:
                left, right, ok = _paired(rows_of_testset, best, other)
                test = paired_bootstrap(
                    word_errors(left)[ok], word_errors(right)[ok], left["ref_words"].to_numpy(np.int64)[ok],
                    n_resamples=n_resamples, seed=seed,
                )  # fmt: skip
                row.update(p_value=test.p_value, p_best_better=test.details["p_a_better"])
            family.append(row)
        bounded = [None if r["p_value"] is None else max(r["p_value"], resolution) for r in family]
        for row, adjusted in zip(family, holm(bounded), strict=True):
            row["p_holm"] = None if np.isnan(adjusted) else float(adjusted)
            row["p_text"] = "" if row["p_value"] is None else format_p(row["p_value"], resolution)
            bound = row["p_value"] is not None and row["p_value"] < resolution
            row["p_holm_text"] = (
                "" if row["p_holm"] is None else ("≤ " if bound else "") + format_p(row["p_holm"])
            )
            rows.append(row)
    return pd.DataFrame(rows, columns=VERSUS_BEST_COLUMNS)


# --------------------------------------------------------------------------------------- three-way view


@dataclass(frozen=True, slots=True)
class Column:
    """One column of the reference / A / B view; an op is C, S, D, I, or "" where that side has nothing."""

    ref: str | None
    a: str | None
    a_op: str
    b: str | None
    b_op: str


def _by_slot(ops: str, ref: str, hyp: str) -> tuple[list[list[str]], list[tuple[str, str | None]]]:
    """Insertions in each gap before reference word k (and after the last), and the op at each word."""
    pairs = replay(ops, ref, hyp)
    n_ref = sum(op not in "Ii" for op, _, _ in pairs)
    gaps: list[list[str]] = [[] for _ in range(n_ref + 1)]
    words: list[tuple[str, str | None]] = []
    for op, _, hyp_word in pairs:
        if op in "Ii":  # "i": an optionally deletable hypothesis word, scored correct (sclite -D)
            gaps[len(words)].append(hyp_word or "")
        else:
            words.append((op, hyp_word))
    return gaps, words


def three_way(ref: str, hyp_a: str, ops_a: str, hyp_b: str, ops_b: str) -> list[Column]:
    """Merge two alignments of the same reference into one sequence of columns (insertions side by side)."""
    gaps_a, words_a = _by_slot(ops_a, ref, hyp_a)
    gaps_b, words_b = _by_slot(ops_b, ref, hyp_b)
    ref_words = [r for op, r, _ in replay(ops_a, ref, hyp_a) if op not in "Ii"]
    if len(words_a) != len(words_b):
        raise ValueError("the two alignments cover different references")
    out: list[Column] = []
    for k in range(len(ref_words) + 1):
        for ins_a, ins_b in zip_longest(gaps_a[k], gaps_b[k]):
            out.append(
                Column(None, ins_a, "I" if ins_a is not None else "", ins_b, "I" if ins_b is not None else "")
            )
        if k < len(ref_words):
            (op_a, word_a), (op_b, word_b) = words_a[k], words_b[k]
            out.append(Column(ref_words[k], word_a, op_a, word_b, op_b))
    return out


def comparison_record(comparison: Comparison) -> dict[str, Any]:
    """A flat row for CSV: the pair, the headline numbers and each test's p-value (also as it may be
    printed: ``< 1/n_resamples`` for a bootstrap p below its resolution, ``n/a`` for a test not run)."""
    row: dict[str, Any] = {
        "testset": comparison.testset,
        "system_a": comparison.system_a,
        "system_b": comparison.system_b,
    }
    row.update(comparison.summary)
    for test in comparison.tests:
        row[f"{test.name}_p"] = test.p_value
        row[f"{test.name}_p_text"] = test.p_text
        row[f"{test.name}_better"] = test.better
    boot = next((t for t in comparison.tests if t.name == "bootstrap"), None)
    if boot is not None:
        row.update({k: boot.details[k] for k in ("p_a_better", "p_b_better", "delta_lo", "delta_hi")})
    return row
