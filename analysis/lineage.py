"""Decoder lineage from provenance: what each decoding stage consumed, as a tree, and what each step changed.

The tree comes only from what the runners recorded in ``run.json`` (``decoder.lineage``, see
``runners/decoders/base.py``): which logits a system decoded (the acoustic model's sha256), and whether its
final text was decoded from those logits or re-ranked from one of its own saved stages (a rescorer's
``beam_text`` n-best). The root is the logits' best path (a greedy system, else a saved ``greedy_text``);
every decoder over the same logits (beam searches with or without an LM) is a child of it and a sibling of
the others, never a step after them; a rescorer is the child of its own first pass. A system without that
record has no place in any lineage (nothing is guessed from its name).

For each edge it lists which errors the child fixed and which it introduced. An error is identified by
where it sits in the reference and what it is: (reference word k, S or D, hypothesis word) or (gap before
reference word k, I, inserted word); an error present in both stages is kept, not counted twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from werbench.aligner.align import AlignedText, align_counts
from werbench.aligner.pairs import correct_ops
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


def provenance(systems: pd.DataFrame | None, testset: str, system: str) -> dict[str, Any] | None:
    """A system's recorded lineage (the per-system table's ``lineage`` column), or None when it has none."""
    if systems is None or "lineage" not in systems:
        return None
    # a walk over the few rows of a per-system table: a pandas mask cost ~2.5 ms per call, ~16 calls a view
    found = (
        v
        for t, s, v in zip(systems["testset"], systems["system"], systems["lineage"], strict=True)
        if (t, s) == (testset, system)
    )
    value = next(found, None)
    if not isinstance(value, str):
        return None
    try:
        record = json.loads(value)
    except json.JSONDecodeError:
        return None
    return record if isinstance(record, dict) and isinstance(record.get("input"), str) else None


@dataclass(frozen=True, slots=True)
class Node:
    """One stage of a tree: a system's final text (``column`` None) or a text it saved, and its parent."""

    name: str
    system: str
    column: str | None
    parent: int | None


def lineage_groups(systems: pd.DataFrame | None, testset: str) -> dict[str, list[str]]:
    """The systems of a test set that decoded the same logits (recorded), keyed by a label: the name
    before ``@`` they share (or all of them, joined; ``#`` and the logits' hash where two checkpoints share
    a name). Systems without provenance are left out."""
    if systems is None:
        return {}
    by_logits: dict[str, list[str]] = {}
    for name in sorted(systems.loc[systems["testset"] == testset, "system"]):
        record = provenance(systems, testset, name)
        if record is not None and record.get("logits"):
            by_logits.setdefault(str(record["logits"]), []).append(name)
    labels = {sha: "+".join(sorted({n.split("@", 1)[0] for n in names})) for sha, names in by_logits.items()}
    shared = {label for label in labels.values() if list(labels.values()).count(label) > 1}
    return {  # one name over two checkpoints' logits: the label says which logits
        (f"{labels[sha]}#{sha[:8]}" if labels[sha] in shared else labels[sha]): names
        for sha, names in by_logits.items()
    }


def lineage_tree(
    members: Sequence[str], saved: Callable[[str, str], bool], records: dict[str, dict]
) -> list[Node]:
    """The nodes of one logits' tree, each after its parent (depth first, children by name).

    ``records``: each member's provenance; ``saved(system, column)``: whether that system saved that text.
    """
    greedy = [n for n in members if records[n].get("type") == "greedy" and records[n]["input"] == "logits"]
    root: Node | None = None
    if greedy:
        root = Node(greedy[0], greedy[0], None, None)
    else:
        for name in members:
            if "greedy_text" in records[name].get("stages", {}) and saved(name, "greedy_text"):
                root = Node(f"{name}:greedy", name, "greedy_text", None)
                break
    children: dict[str | None, list[Node]] = {}
    for name in members:
        if root is not None and root.system == name and root.column is None:
            continue
        consumed = records[name]["input"]
        top = root.name if root is not None else None
        if consumed == "logits":
            children.setdefault(top, []).append(Node(name, name, None, None))
        elif consumed in records[name].get("stages", {}) and saved(name, consumed):
            stage = f"{name}:{consumed.removesuffix('_text')}"
            children.setdefault(top, []).append(Node(stage, name, consumed, None))
            children.setdefault(stage, []).append(Node(name, name, None, None))
        # a system that consumed a stage it did not save cannot be placed: it is left out
    nodes: list[Node] = []

    def visit(node: Node, parent: int | None) -> None:
        nodes.append(Node(node.name, node.system, node.column, parent))
        at = len(nodes) - 1
        for child in sorted(children.get(node.name, []), key=lambda n: n.name):
            visit(child, at)

    if root is not None:
        visit(root, None)
    else:
        for child in sorted(children.get(None, []), key=lambda n: n.name):
            visit(child, None)
    return nodes


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
    saved: Callable[[str, str], bool] | None = None,
) -> tuple[list[str], list[Stage], list[int | None]]:
    """Utterance ids, the stages of one lineage group (``lineage_groups``) and each stage's parent index.

    Only systems with recorded provenance (``systems``, the per-system table) take part. ``saved(system,
    column)`` says whether a system saved a stage's text, judged on the whole test set: given by a caller
    that passes only some utterances' rows (one utterance's stages), so that the tree is the whole set's.
    """
    members = lineage_groups(systems, testset).get(model, [])
    rows = utts[(utts["testset"] == testset) & utts["system"].isin(members)]
    if saved is None:
        members = [m for m in members if (rows["system"] == m).any()]

        def saved(system: str, column: str) -> bool:
            return column in rows and bool(rows.loc[rows["system"] == system, column].notna().any())

    records = {m: provenance(systems, testset, m) or {} for m in members}
    nodes = lineage_tree(members, saved, records)
    failed = rows.groupby("utt_id", sort=False)["failed"].any()
    first = rows[rows["system"] == members[0]] if members else rows.iloc[:0]
    ids = [u for u in first["utt_id"] if not failed.get(u, True)]
    stages: list[Stage] = []
    for node in nodes:
        frame = rows[rows["system"] == node.system].set_index("utt_id").reindex(ids)
        if node.column is None:
            hyps = frame["hyp"].fillna("").astype(str).tolist()
            stages.append(Stage(node.name, node.system, hyps, frame["ops"].fillna("").astype(str).tolist()))
        else:
            refs = frame["ref"].fillna("").astype(str).tolist()
            stages.append(
                _aligned_stage(node.name, node.system, refs, frame[node.column].tolist(), normalize, costs)
            )
    return ids, stages, [n.parent for n in nodes]


def _events(stage: Stage, refs: list[str]) -> pd.DataFrame:
    """Every error of a stage: row, reference index (or gap), op, reference word and hypothesis word."""
    frame = pd.DataFrame({"ops": stage.ops, "ref": refs, "hyp": stage.hyp})
    coded = code_pairs(frame)
    wrong = ~correct_ops(coded.op)
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
    if events.empty or top <= 0:
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
    """Every edge (parent stage -> child stage) of every lineage tree that has one."""
    steps = []
    for testset in sorted(utts["testset"].unique()):
        for model in lineage_groups(systems, testset):
            ids, stages, parents = lineage_stages(
                utts, testset, model, normalize=normalize, costs=costs, systems=systems
            )
            if not any(p is not None for p in parents):
                continue
            refs = _stage_refs(utts, testset, stages, ids)
            for stage, parent in zip(stages, parents, strict=True):
                if parent is not None:
                    steps.append(
                        lineage_step(ids, refs, stages[parent], stage, testset=testset, model=model, top=top)
                    )
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
    """One stage's output on one utterance, its parent, and what the edge from it fixed and introduced."""

    name: str = ""
    fixed: int | None = None
    introduced: int | None = None
    parent: str | None = None
    depth: int = 0


@dataclass(frozen=True)
class ModelLineage:
    """One lineage tree on the whole test set and each edge's per-utterance counts, read per utterance.

    A stage is defined over the whole test set, so a single utterance's lineage is read from this, never
    derived from that utterance alone.
    """

    model: str
    position: dict[str, int]
    refs: list[str]
    stages: list[Stage]
    parents: list[int | None]
    steps: list[pd.DataFrame | None]  # per stage: err_earlier, err_later, fixed, introduced (None: a root)

    def at(self, utt_id: str) -> list[StageAt] | None:
        """The stages of one utterance in tree order, or None when it is not in the lineage (or no edge)."""
        at = self.position.get(utt_id)
        if at is None or all(step is None for step in self.steps):
            return None
        ref = self.refs[at]
        views: list[StageAt] = []
        depth: list[int] = []
        for stage, parent, step in zip(self.stages, self.parents, self.steps, strict=True):
            depth.append(0 if parent is None else depth[parent] + 1)
            pairs = replay(stage.ops[at], ref, stage.hyp[at])
            errors = sum(op != "C" for op in stage.ops[at])
            if step is None:
                views.append(StageAt(stage.hyp[at], pairs, errors, stage.name, depth=depth[-1]))
                continue
            fixed, introduced = (int(step[c].iat[at]) for c in ("fixed", "introduced"))
            name = self.stages[parent].name  # type: ignore[index]
            views.append(
                StageAt(stage.hyp[at], pairs, errors, stage.name, fixed, introduced, name, depth[-1])
            )
        return views


def model_lineage(utts: pd.DataFrame, testset: str, model: str, **options: Any) -> ModelLineage:
    """``lineage_stages`` (``options``: its keywords) and every edge's per-utterance counts of one tree."""
    ids, stages, parents = lineage_stages(utts, testset, model, **options)
    if not any(p is not None for p in parents):
        return ModelLineage(model, {}, [], stages, parents, [None] * len(stages))
    refs = _stage_refs(utts, testset, stages, ids)
    kept = ["err_earlier", "err_later", "fixed", "introduced"]  # the counts; texts are in the stages

    def counts(earlier: Stage, later: Stage) -> pd.DataFrame:  # top=0: no most-changed lists to rank
        return lineage_step(ids, refs, earlier, later, testset=testset, model=model, top=0).utterances[kept]

    steps = [
        None if parent is None else counts(stages[parent], stage)
        for stage, parent in zip(stages, parents, strict=True)
    ]
    return ModelLineage(model, {u: k for k, u in enumerate(ids)}, refs, stages, parents, steps)


ATTRIBUTION_COLUMNS = [
    "testset", "model", "system", "root", "utts", "ref_words", "greedy_errors", "errors", "kept", "changed",
    "introduced", "fixed", "search_errors", "search_utts",
]  # fmt: skip
_COUNTS = ["greedy_errors", "errors", "kept", "changed", "introduced", "fixed"]


def _positions(stage: Stage, refs: list[str]) -> pd.DataFrame:
    """A stage's errors keyed by where they are: a reference word (S or D at word k, whatever the
    hypothesis word) or the n-th insertion in the gap before word k."""
    events = _events(stage, refs)
    inserted = events["op"] == "I"
    events["slot"] = np.where(inserted, events.groupby(["row", "ref_index", inserted]).cumcount(), -1)
    events["kind"] = np.where(inserted, "I", "R")
    return events[["row", "ref_index", "kind", "slot", "hyp_word"]]


def _attributed(greedy: pd.DataFrame, final: pd.DataFrame, n: int) -> pd.DataFrame:
    """Per utterance: the final stage's errors at a place the greedy output already erred (``kept``; of
    them ``changed``: another wrong word there), at a place it was right (``introduced``), and the greedy
    errors whose place is now right (``fixed``)."""
    keys = ["row", "ref_index", "kind", "slot"]
    merged = greedy.merge(final, on=keys, how="outer", indicator=True, suffixes=("_greedy", ""))
    both = merged["_merge"] == "both"
    changed = both & (merged["hyp_word"].fillna("") != merged["hyp_word_greedy"].fillna(""))

    def per_row(mask: pd.Series) -> np.ndarray:
        return np.bincount(merged.loc[mask, "row"].astype(np.int64), minlength=n)

    return pd.DataFrame(
        {
            "greedy_errors": np.bincount(greedy["row"], minlength=n),
            "errors": np.bincount(final["row"], minlength=n),
            "kept": per_row(both),
            "changed": per_row(changed),
            "introduced": per_row(merged["_merge"] == "right_only"),
            "fixed": per_row(merged["_merge"] == "left_only"),
        }
    )


def error_attribution(
    utts: pd.DataFrame,
    *,
    normalize: Callable[[str], str],
    costs: str = "sclite",
    systems: pd.DataFrame | None = None,
    nbest_utterances: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Where each system's errors come from, against its lineage root (the logits' greedy best path),
    matched by place (``_positions``: a reference word, or an insertion slot), not by word as
    ``lineage_step`` matches them: ``kept`` errors sit where the greedy output already erred (``changed``:
    with another wrong word, e.g. an LM's real word for the greedy non-word), ``introduced`` ones where it
    was right (the LM or the search put them there), ``fixed`` greedy errors are gone;
    ``kept + introduced = errors``. ``search_errors``:
    word errors the system's own n-best could have avoided (``nbest.nbest_oracle``: its top choice minus
    the best hypothesis in the list, the reference included when listed), in ``search_utts`` utterances.

    Returns the per-system table (``ATTRIBUTION_COLUMNS``; the root itself: every error kept) and the same
    counts per utterance.
    """
    rows, per_utt = [], []
    search = _search_errors(nbest_utterances)
    for testset in sorted(utts["testset"].unique()):
        for model in lineage_groups(systems, testset):
            ids, stages, parents = lineage_stages(
                utts, testset, model, normalize=normalize, costs=costs, systems=systems
            )
            roots = [k for k, p in enumerate(parents) if p is None]
            if len(roots) != 1 or len(stages) < 2:
                continue  # no greedy best path to measure against
            root = stages[roots[0]]
            refs = _stage_refs(utts, testset, stages, ids)
            ref_words = sum(op != "I" for ops in root.ops for op in ops)
            greedy = _positions(root, refs)
            for stage in stages:
                if stage.name != stage.system:  # a saved intermediate text, not a system's output
                    continue
                frame = _attributed(greedy, _positions(stage, refs), len(ids))
                frame.insert(0, "utt_id", ids)
                for column, value in (("system", stage.system), ("model", model), ("testset", testset)):
                    frame.insert(0, column, value)
                found = search.get((testset, stage.system))
                frame["search_errors"] = (
                    frame["utt_id"].map(found).fillna(0).astype(np.int64) if found is not None else 0
                )
                per_utt.append(frame)
                totals = frame[[*_COUNTS, "search_errors"]].sum()
                rows.append(
                    {
                        "testset": testset, "model": model, "system": stage.system, "root": root.name,
                        "utts": len(ids), "ref_words": ref_words, **{k: int(v) for k, v in totals.items()},
                        "search_utts": int((frame["search_errors"] > 0).sum()),
                    }
                )  # fmt: skip
    table = pd.DataFrame(rows, columns=ATTRIBUTION_COLUMNS)
    return table, (pd.concat(per_utt, ignore_index=True) if per_utt else pd.DataFrame())


def _search_errors(nbest_utterances: pd.DataFrame | None) -> dict[tuple[str, str], dict[str, int]]:
    """Per (test set, system): utterance -> errors its n-best's best hypothesis would have avoided."""
    if nbest_utterances is None or nbest_utterances.empty:
        return {}
    avoidable = (nbest_utterances["top1_errors"] - nbest_utterances["oracle_errors"]).clip(lower=0)
    frame = nbest_utterances.assign(avoidable=avoidable)
    return {
        (str(ts), str(system)): dict(zip(group["utt_id"], group["avoidable"].astype(int), strict=True))
        for (ts, system), group in frame.groupby(["testset", "system"], sort=False)
    }


def attribution_sentence(row: pd.Series | dict[str, Any]) -> str:
    """One sentence saying where most of a system's errors come from (the report's, per system)."""
    system, errors, kept, introduced = row["system"], row["errors"], row["kept"], row["introduced"]
    if row["system"] == row["root"]:
        return (
            f"{system} is the acoustic model's greedy best path: its {errors:,} errors are the acoustic "
            "model's, the baseline its decoders start from."
        )
    if not errors:
        return f"{system} makes no errors; it fixed all {row['fixed']:,} of the greedy output's."
    source = (
        "the acoustic model (kept from the greedy output)" if kept >= introduced else "the decoder itself"
    )
    text = (
        f"Most of {system}'s {errors:,} errors come from {source}: {kept:,} ({100 * kept / errors:.0f}%) "
        f"sit where the greedy output already erred ({row['changed']:,} of them now another wrong word), "
        f"{introduced:,} were introduced by the decoder/LM where the greedy output was right, and it fixed "
        f"{row['fixed']:,} greedy errors"
    )
    if row["search_errors"]:
        utts = row["search_utts"]
        text += (
            f"; {row['search_errors']:,} are search errors (a better hypothesis was in its n-best, in "
            f"{utts:,} utterance{'' if utts == 1 else 's'})"
        )
    return text + "."
