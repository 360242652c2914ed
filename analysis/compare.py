"""Two systems side by side: per-utterance outcome, word-level three-way view, significance, decoder lineage.

Conventions: A is the baseline and B the candidate, so an utterance is *improved* when B makes fewer word
errors (S + D + I) than A, *regressed* when more, *tied* otherwise. Utterances that failed in either
system are left out of the pairing (and counted). Test statistics are signed so that negative favours A.

Decoder lineage follows one acoustic model through its decoding stages: sibling systems
``<model>@<decoder>`` and the per-stage texts a system saved (``greedy_text``, ``beam_text``) before its
final ``pred_text``, ordered greedy -> beam -> beam + LM -> rescored. For each step it lists which errors
the later stage fixed and which it introduced. An error is identified by where it sits in the reference
and what it is: (reference word k, S or D, hypothesis word) or (gap before reference word k, I, inserted
word); an error present in both stages is kept, not counted twice.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise, zip_longest
from typing import Any

import numpy as np
import pandas as pd
from werbench.analysis.align import align_counts
from werbench.analysis.errors import code_pairs, replay
from werbench.analysis.significance import Flavour, PairedScores, TestResult, run_tests, speaker_of
from werbench.manifests.errors import ConfigError

STAGE_COLUMNS = ("greedy_text", "beam_text")  # per-stage texts a prediction may carry, earliest first


def _errors(frame: pd.DataFrame) -> np.ndarray:
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


def pair_frame(utts: pd.DataFrame, a: str, b: str, testset: str | None = None) -> pd.DataFrame:
    """One row per utterance of the test set: both systems' texts, ops, errors and the outcome."""
    testset = _pick_testset(utts, [a, b], testset)
    wanted = [c for c in ("utt_id", "speaker", "duration", "ref", "hyp", "ops", "ref_words", "S", "D", "I",
                          "failed") if c in utts.columns]  # fmt: skip
    rows = utts.loc[utts["testset"] == testset, ["system", *wanted]]
    left = rows[rows["system"] == a].set_index("utt_id")
    right = rows[rows["system"] == b].set_index("utt_id")
    ids = left.index.intersection(right.index, sort=False)
    left, right = left.loc[ids], right.loc[ids]
    failed = left["failed"].to_numpy(bool) | right["failed"].to_numpy(bool)
    err_a, err_b = _errors(left), _errors(right)
    speakers = (
        left["speaker"].astype(object) if "speaker" in left else pd.Series(None, index=ids, dtype=object)
    )
    unknown = speakers.isna() | (speakers == "")
    speakers[unknown] = [speaker_of(u) for u in ids[unknown.to_numpy()]]
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


def _rate(num: float, den: float) -> float:
    return num / den if den else math.nan


def compare_systems(
    utts: pd.DataFrame,
    a: str,
    b: str,
    *,
    testset: str | None = None,
    flavour: Flavour = "werbench",
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
    min_good: int = 2,
) -> Comparison:
    """Pair A and B on their common, non-failed utterances and run every sc_stats test (plus bootstrap)."""
    if a == b:
        raise ConfigError("system", f"cannot compare {a!r} with itself")
    testset = _pick_testset(utts, [a, b], testset)
    frame = pair_frame(utts, a, b, testset)
    ok = frame[~frame["failed"]]
    ref_words = int(ok["ref_words"].sum())
    counts = ok["outcome"].value_counts()
    wer_a, wer_b = _rate(int(ok["err_a"].sum()), ref_words), _rate(int(ok["err_b"].sum()), ref_words)
    summary = {
        "utts": len(ok),
        "failed_excluded": int(frame["failed"].sum()),
        "ref_words": ref_words,
        "wer_a": wer_a,
        "wer_b": wer_b,
        "wer_change": wer_b - wer_a,
        "relative_change": _rate(wer_b - wer_a, wer_a),
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
        speakers=ok["speaker"].astype(str).to_numpy(),
    )
    tests = (
        run_tests(scores, flavour=flavour, n_boot=n_boot, seed=seed, alpha=alpha, min_good=min_good)
        if len(ok)
        else []
    )
    return Comparison(testset, a, b, frame, summary, tests)


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
    n_ref = sum(op != "I" for op, _, _ in pairs)
    gaps: list[list[str]] = [[] for _ in range(n_ref + 1)]
    words: list[tuple[str, str | None]] = []
    for op, _, hyp_word in pairs:
        if op == "I":
            gaps[len(words)].append(hyp_word or "")
        else:
            words.append((op, hyp_word))
    return gaps, words


def three_way(ref: str, hyp_a: str, ops_a: str, hyp_b: str, ops_b: str) -> list[Column]:
    """Merge two alignments of the same reference into one sequence of columns (insertions side by side)."""
    gaps_a, words_a = _by_slot(ops_a, ref, hyp_a)
    gaps_b, words_b = _by_slot(ops_b, ref, hyp_b)
    ref_words = [r for op, r, _ in replay(ops_a, ref, hyp_a) if op != "I"]
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


# --------------------------------------------------------------------------------------------- lineage


@dataclass(frozen=True, slots=True)
class Stage:
    """One decoding stage's output on the test set's utterances (rows in a fixed utterance order)."""

    name: str
    system: str
    hyp: list[str]
    ops: list[str]


@dataclass
class LineageStep:
    """What changed from one stage to the next: per utterance, and the most often fixed/introduced errors."""

    testset: str
    model: str
    earlier: str
    later: str
    utterances: pd.DataFrame
    fixed: pd.DataFrame
    introduced: pd.DataFrame
    summary: dict[str, Any]


def _params(params: str | dict | None) -> dict[str, Any]:
    if isinstance(params, str):
        try:
            params = json.loads(params)
        except json.JSONDecodeError:
            return {}
    return params if isinstance(params, dict) else {}


def _uses_lm(system: str, params: dict[str, Any]) -> bool:
    name = system.split("@", 1)[-1].lower()
    return bool(params.get("lm")) or any(k in name for k in ("lm", "kenlm", "ngram", "arpa"))


def decoder_rank(system: str, decoder: str | None = None, params: str | dict | None = None) -> float:
    """Where a decoder sits in greedy -> beam -> beam + LM -> rescored (from run.json, else the name)."""
    params = _params(params)
    kind = (decoder or "").lower()
    name = system.split("@", 1)[-1].lower()
    if (
        kind == "rescore"
        or params.get("rescorer")
        or any(k in name for k in ("rescor", "bert", "llm", "pll"))
    ):
        return 3.0
    if kind == "greedy" or "greedy" in name:
        return 0.0
    if _uses_lm(system, params):
        return 2.0
    if kind.startswith("beam") or "beam" in name:
        return 1.0
    return 1.5


def _aligned_stage(name: str, system: str, refs: list[str], texts: list[str], normalize, costs) -> Stage:
    hyps = [normalize(t) if isinstance(t, str) else "" for t in texts]
    batch = align_counts(refs, hyps, costs)
    assert batch.ops is not None
    return Stage(name, system, hyps, list(batch.ops))


def lineage_stages(
    utts: pd.DataFrame,
    testset: str,
    model: str,
    *,
    normalize: Callable[[str], str],
    costs: str = "sclite",
    systems: pd.DataFrame | None = None,
    order: Sequence[str] | None = None,
) -> tuple[list[str], list[Stage]]:
    """Utterance ids and the ordered stages of one model: sibling systems and the texts they saved.

    Stages are ranked greedy (0) -> beam (1) -> beam + LM (2) -> rescored (3): a system by its decoder
    (``systems``, the per-system table, gives types and parameters; else its name), a saved
    ``greedy_text`` at 0 and ``beam_text`` at 1 or 2. A saved text is dropped where a sibling system
    has the same rank, and so is any stage whose output equals the previous one. ``order`` (system
    names) replaces the ranking and leaves the saved texts out.
    """
    rows = utts[(utts["testset"] == testset) & (utts["system"].str.split("@").str[0] == model)]
    names = sorted(rows["system"].unique())
    info = systems.set_index(["testset", "system"]) if systems is not None else None

    def run_fields(name: str) -> tuple[str | None, dict[str, Any]]:
        if info is None or (testset, name) not in info.index:
            return None, {}
        dec = info.loc[(testset, name), "decoder"]
        return (dec if isinstance(dec, str) else None), _params(info.loc[(testset, name), "params"])

    failed = rows.groupby("utt_id", sort=False)["failed"].any()
    first = rows[rows["system"] == names[0]] if names else rows.iloc[:0]
    ids = [u for u in first["utt_id"] if not failed.get(u, True)]
    # (rank, saved stage?, name, system, column): a system's final output, or a text it saved on the way
    candidates: list[tuple[float, int, str, str, str | None]] = []
    for position, name in enumerate(names if order is None else [n for n in order if n in names]):
        decoder, params = run_fields(name)
        rank = float(position) if order is not None else decoder_rank(name, decoder, params)
        candidates.append((rank, 0, name, name, None))
        frame = rows[rows["system"] == name]
        if order is None:
            saved_ranks = {"greedy_text": 0.0, "beam_text": 2.0 if _uses_lm(name, params) else 1.0}
            for column in STAGE_COLUMNS:
                if column in frame and frame[column].notna().any() and saved_ranks[column] < rank:
                    label = f"{name}:{column.removesuffix('_text')}"
                    candidates.append((saved_ranks[column], 1, label, name, column))
    final_ranks = {c[0] for c in candidates if c[1] == 0}
    stages: list[Stage] = []
    for rank, saved, label, name, column in sorted(candidates):
        if saved and rank in final_ranks:
            continue  # a sibling system already stands for this stage
        frame = rows[rows["system"] == name].set_index("utt_id").reindex(ids)
        refs = frame["ref"].fillna("").astype(str).tolist()
        if column is None:
            hyps = frame["hyp"].fillna("").astype(str).tolist()
            stages.append(Stage(label, name, hyps, frame["ops"].fillna("").astype(str).tolist()))
        else:
            stages.append(_aligned_stage(label, name, refs, frame[column].tolist(), normalize, costs))
    kept: list[Stage] = []
    for stage in stages:  # a stage that changed nothing (beam_text equal to pred_text, ...) is no step
        if not kept or stage.hyp != kept[-1].hyp:
            kept.append(stage)
    return ids, kept


def _events(stage: Stage, refs: list[str]) -> pd.DataFrame:
    """Every error of a stage: row, reference index (or gap), op, reference word and hypothesis word."""
    frame = pd.DataFrame({"ops": stage.ops, "ref": refs, "hyp": stage.hyp})
    coded = code_pairs(frame)
    wrong = coded.op != ord("C")
    events = pd.DataFrame(
        {
            "row": coded.row[wrong],
            "ref_index": coded.ref_index[wrong],
            "op": coded.op[wrong].view("S1").astype(str),
            "ref_word": coded.word(coded.ref[wrong]),
            "hyp_word": coded.word(coded.hyp[wrong]),
        }
    )
    keys = ["row", "ref_index", "op", "hyp_word"]
    events["occurrence"] = events.fillna({"hyp_word": ""}).groupby(keys, sort=False).cumcount()
    return events


def _top_changes(events: pd.DataFrame, top: int) -> pd.DataFrame:
    if events.empty:
        return pd.DataFrame(columns=["op", "ref_word", "hyp_word", "count"])
    counted = events.fillna({"ref_word": "", "hyp_word": ""}).groupby(["op", "ref_word", "hyp_word"]).size()
    return (
        counted.rename("count")
        .reset_index()
        .sort_values(["count", "op", "ref_word"], ascending=[False, True, True])
        .head(top)
        .reset_index(drop=True)
    )


def lineage_step(
    ids: list[str], refs: list[str], earlier: Stage, later: Stage, *, testset: str, model: str, top: int = 20
) -> LineageStep:
    """Errors of ``earlier`` that ``later`` fixed and errors ``later`` introduced, per utterance."""
    before, after = _events(earlier, refs), _events(later, refs)
    keys = ["row", "ref_index", "op", "hyp_word", "occurrence"]
    merged = before.fillna({"hyp_word": ""}).merge(
        after.fillna({"hyp_word": ""}), on=keys, how="outer", indicator=True, suffixes=("", "_later")
    )
    fixed = merged[merged["_merge"] == "left_only"]
    introduced = merged[merged["_merge"] == "right_only"].assign(ref_word=lambda f: f["ref_word_later"])
    n = len(ids)
    err_before = np.bincount(before["row"], minlength=n)
    err_after = np.bincount(after["row"], minlength=n)
    per_utt = pd.DataFrame(
        {
            "utt_id": ids,
            "ref": refs,
            "hyp_earlier": earlier.hyp,
            "hyp_later": later.hyp,
            "ops_earlier": earlier.ops,
            "ops_later": later.ops,
            "err_earlier": err_before,
            "err_later": err_after,
            "fixed": np.bincount(fixed["row"], minlength=n),
            "introduced": np.bincount(introduced["row"], minlength=n),
        }
    )
    ref_words = sum(op != "I" for ops in earlier.ops for op in ops)
    summary = {
        "utts": n,
        "wer_earlier": _rate(int(err_before.sum()), ref_words),
        "wer_later": _rate(int(err_after.sum()), ref_words),
        "fixed": len(fixed),
        "introduced": len(introduced),
        "utts_improved": int(np.sum(err_after < err_before)),
        "utts_regressed": int(np.sum(err_after > err_before)),
    }
    return LineageStep(
        testset,
        model,
        earlier.name,
        later.name,
        per_utt,
        _top_changes(fixed, top),
        _top_changes(introduced, top),
        summary,
    )


def models_with_stages(utts: pd.DataFrame) -> list[tuple[str, str]]:
    """``(testset, model)`` pairs that have more than one stage (sibling systems or saved stage texts)."""
    out = []
    for (testset, model), rows in utts.groupby(["testset", utts["system"].str.split("@").str[0]], sort=True):
        stage_cols = [c for c in STAGE_COLUMNS if c in rows and rows[c].notna().any()]
        if rows["system"].nunique() > 1 or stage_cols:
            out.append((str(testset), str(model)))
    return out


def decoder_lineage(
    utts: pd.DataFrame,
    *,
    normalize: Callable[[str], str],
    costs: str = "sclite",
    systems: pd.DataFrame | None = None,
    top: int = 20,
) -> list[LineageStep]:
    """Every consecutive stage step of every model that has several stages."""
    steps = []
    for testset, model in models_with_stages(utts):
        ids, stages = lineage_stages(utts, testset, model, normalize=normalize, costs=costs, systems=systems)
        if len(stages) < 2:
            continue
        rows = utts[(utts["testset"] == testset) & (utts["system"] == stages[0].system)].set_index("utt_id")
        refs = rows.loc[ids, "ref"].fillna("").astype(str).tolist()
        for earlier, later in pairwise(stages):
            steps.append(lineage_step(ids, refs, earlier, later, testset=testset, model=model, top=top))
    return steps


# ---------------------------------------------------------------------------------------- n-best oracle


def _nbest_texts(value: Any, where: str) -> list[str]:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    if not isinstance(value, list):
        raise ValueError(
            f"{where}: nbest must be a list of {{text, ...}} objects, got {type(value).__name__}"
        )
    texts = []
    for k, item in enumerate(value):
        text = item.get("text") if isinstance(item, dict) else None
        if not isinstance(text, str):
            raise ValueError(f"{where}: nbest[{k}] has no string 'text'")
        texts.append(text)
    return texts


def nbest_oracle(
    utts: pd.DataFrame, *, normalize: Callable[[str], str], costs: str = "sclite"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Oracle errors and rank of each n-best list, and per system: top-1 WER, oracle WER, rank shares.

    The oracle hypothesis is the first (best-scored) one with the fewest word errors; rank 1 means the
    decoder's own choice was already the best its list had to offer.
    """
    if "nbest" not in utts.columns:
        return pd.DataFrame(), pd.DataFrame()
    listed = np.fromiter((isinstance(v, list) and len(v) > 0 for v in utts["nbest"]), bool, len(utts))
    rows = utts[~utts["failed"].astype(bool).to_numpy() & listed]  # iterating gives lists (Arrow or not)
    if rows.empty:
        return pd.DataFrame(), pd.DataFrame()
    lists = [
        _nbest_texts(v, f"{ts}/{s}/{u}")
        for v, ts, s, u in zip(rows["nbest"], rows["testset"], rows["system"], rows["utt_id"], strict=True)
    ]
    sizes = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
    owner = np.repeat(np.arange(len(lists)), sizes)
    refs = rows["ref"].fillna("").astype(str).to_numpy()[owner].tolist()
    hyps = [normalize(t) for texts in lists for t in texts]
    counts = align_counts(refs, hyps, costs, want_ops=False).counts
    errors = counts[:, 1:].sum(axis=1)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    best = np.minimum.reduceat(errors, starts)
    at_best = np.flatnonzero(errors == best[owner])
    first_best = np.full(len(lists), np.iinfo(np.int64).max)
    np.minimum.at(first_best, owner[at_best], at_best)
    per_utt = rows[["testset", "system", "utt_id", "ref_words"]].reset_index(drop=True)
    per_utt["nbest_size"] = sizes
    per_utt["errors"] = _errors(rows)
    per_utt["top1_errors"] = errors[starts]
    per_utt["oracle_errors"] = best
    per_utt["oracle_rank"] = first_best - starts + 1
    grouped = per_utt.groupby(["testset", "system"], sort=True)
    summary = grouped.agg(
        utts=("utt_id", "size"),
        ref_words=("ref_words", "sum"),
        mean_nbest=("nbest_size", "mean"),
        errors=("errors", "sum"),
        top1_errors=("top1_errors", "sum"),
        oracle_errors=("oracle_errors", "sum"),
        oracle_rank1=("oracle_rank", lambda r: float(np.mean(r == 1))),
    ).reset_index()
    summary["wer"] = summary["errors"] / summary["ref_words"].where(summary["ref_words"] > 0)
    summary["top1_wer"] = summary["top1_errors"] / summary["ref_words"].where(summary["ref_words"] > 0)
    summary["oracle_wer"] = summary["oracle_errors"] / summary["ref_words"].where(summary["ref_words"] > 0)
    return per_utt, summary


def comparison_record(comparison: Comparison) -> dict[str, Any]:
    """A flat row for CSV: the pair, the headline numbers and each test's p-value."""
    row: dict[str, Any] = {
        "testset": comparison.testset,
        "system_a": comparison.system_a,
        "system_b": comparison.system_b,
    }
    row.update(comparison.summary)
    for test in comparison.tests:
        row[f"{test.name}_p"] = test.p_value
        row[f"{test.name}_better"] = test.better
    boot = next((t for t in comparison.tests if t.name == "bootstrap"), None)
    if boot is not None:
        row.update({k: boot.details[k] for k in ("p_a_better", "p_b_better", "delta_lo", "delta_hi")})
    return row


def step_record(step: LineageStep) -> dict[str, Any]:
    return {
        "testset": step.testset,
        "model": step.model,
        "earlier": step.earlier,
        "later": step.later,
        **step.summary,
    }
