"""Decoder lineage: one acoustic model followed through its decoding stages, and what each step changed.

The stages are sibling systems ``<model>@<decoder>`` and the per-stage texts a system saved
(``greedy_text``, ``beam_text``) before its final ``pred_text``, ordered greedy -> beam -> beam + LM ->
rescored. For each step it lists which errors the later stage fixed and which it introduced. An error is
identified by where it sits in the reference and what it is: (reference word k, S or D, hypothesis word)
or (gap before reference word k, I, inserted word); an error present in both stages is kept, not counted
twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd
from werbench.aligner.align import AlignedText, align_counts
from werbench.analysis.errors import code_pairs, replay
from werbench.analysis.tables import rate

STAGE_COLUMNS = ("greedy_text", "beam_text")  # per-stage texts a prediction may carry, earliest first


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
        "wer_earlier": rate(int(err_before.sum()), ref_words),
        "wer_later": rate(int(err_after.sum()), ref_words),
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


def _stage_refs(utts: pd.DataFrame, testset: str, stages: list[Stage], ids: list[str]) -> list[str]:
    """The normalised reference of each of ``ids``, as the first stage's rows hold it."""
    rows = utts[(utts["testset"] == testset) & (utts["system"] == stages[0].system)].set_index("utt_id")
    return rows["ref"].reindex(ids).fillna("").astype(str).tolist()


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
        refs = _stage_refs(utts, testset, stages, ids)
        for earlier, later in pairwise(stages):
            steps.append(lineage_step(ids, refs, earlier, later, testset=testset, model=model, top=top))
    return steps


def step_record(step: LineageStep) -> dict[str, Any]:
    return {
        "testset": step.testset,
        "model": step.model,
        "earlier": step.earlier,
        "later": step.later,
        **step.summary,
    }


@dataclass(frozen=True)
class StageAt(AlignedText):
    """One stage's output on one utterance, and what the step to it fixed and introduced."""

    name: str = ""
    fixed: int | None = None
    introduced: int | None = None


@dataclass(frozen=True)
class ModelLineage:
    """One model's stages on the whole test set and each step's per-utterance counts, read per utterance.

    A stage is defined over the whole test set (a saved text that changes nothing anywhere is no stage),
    so a single utterance's lineage is read from this, never derived from that utterance alone.
    """

    model: str
    position: dict[str, int]
    refs: list[str]
    stages: list[Stage]
    steps: list[pd.DataFrame]  # err_earlier, err_later, fixed, introduced per utterance, one per step

    def at(self, utt_id: str) -> list[StageAt] | None:
        """The stages of one utterance, or None when it is not in the lineage (or there is no step)."""
        at = self.position.get(utt_id)
        if at is None or len(self.stages) < 2:
            return None
        ref, first = self.refs[at], self.stages[0]
        errors = int(self.steps[0]["err_earlier"].iat[at])
        views = [StageAt(first.hyp[at], replay(first.ops[at], ref, first.hyp[at]), errors, first.name)]
        for stage, step in zip(self.stages[1:], self.steps, strict=True):
            fixed, introduced, errors = (int(step[c].iat[at]) for c in ("fixed", "introduced", "err_later"))
            pairs = replay(stage.ops[at], ref, stage.hyp[at])
            views.append(StageAt(stage.hyp[at], pairs, errors, stage.name, fixed, introduced))
        return views


def model_lineage(utts: pd.DataFrame, testset: str, model: str, **options: Any) -> ModelLineage:
    """``lineage_stages`` (``options``: its keywords) and every step's per-utterance counts of one model."""
    ids, stages = lineage_stages(utts, testset, model, **options)
    if len(stages) < 2:
        return ModelLineage(model, {}, [], stages, [])
    refs = _stage_refs(utts, testset, stages, ids)
    kept = ["err_earlier", "err_later", "fixed", "introduced"]  # the counts; texts are in the stages
    steps = [
        lineage_step(ids, refs, a, b, testset=testset, model=model).utterances[kept]
        for a, b in pairwise(stages)
    ]
    return ModelLineage(model, {u: k for k, u in enumerate(ids)}, refs, stages, steps)
