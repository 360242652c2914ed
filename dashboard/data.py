"""The dashboard's only door to the numbers: an adapter that CALLS ``analysis`` and shapes results for views.

Nothing here scores anything. It asks analysis for the per-utterance and per-system tables (through the
analysis cache), error tables, comparisons and significance tests, and reshapes them: one wide row per
utterance for the grid, histograms' inputs, a single utterance's diffs. Results are memoised per
``Analysis`` object (one per normaliser), keyed by immutable arguments, so several users share them and no
request can change what another sees.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from functools import cached_property
from itertools import pairwise
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from werbench.aligner.align import align_chars, align_many
from werbench.analysis.dataset import DatasetStats, dataset_stats
from werbench.analysis.errors import replay
from werbench.analysis.tables import UTTERANCE_COLUMNS
from werbench.dashboard import components as ui
from werbench.dashboard.audio import AudioSource
from werbench.dashboard.grid import ServerSideTable
from werbench.dashboard.grid_view import GridTable, QuickFilter
from werbench.manifests.normalize import NORMALIZERS as _NORMALIZERS
from werbench.manifests.normalize import get_normalizer
from werbench.manifests.results import RunInfo, iter_systems, read_run_info

NORMALIZERS = tuple(n.name for n in _NORMALIZERS)
QUICK_FILTERS = ("all", "errors", "a_better", "b_better", "changed", "failed")
NESTED_FIELDS = ("nbest", "word_times")  # prediction fields that hold lists
PER_SYSTEM = ("wer", "cer", "S", "D", "I", "hyp")  # per-system columns of the utterance grid, in order
# prediction fields that differ per system, or are shown elsewhere than the grid
PREDICTION_FIELDS = ("pred_text", "nbest", "greedy_text", "beam_text", "word_times", "error", "failure")
SYSTEM_FIELDS = frozenset(
    {
        "system",
        "hyp",
        "C",
        "S",
        "D",
        "I",
        "hyp_words",
        "wer",
        "char_C",
        "char_S",
        "char_D",
        "char_I",
        "cer",
        "sentence_error",
        "wmr",
        "ops",
        "failed",
        *PREDICTION_FIELDS,
    }
)
T = TypeVar("T")
log = logging.getLogger(__name__)


class _Memo:
    """Per-object memo keyed by immutable arguments; a lock per key so concurrent users compute once.

    With ``maxsize`` the least recently used entries go first: views keyed by a choice of systems have
    as many variants as users make choices, and each can hold a 100k-row table.
    """

    def __init__(self, maxsize: int | None = None) -> None:
        self._values: OrderedDict[Hashable, Any] = OrderedDict()
        self._locks: dict[Hashable, threading.Lock] = {}
        self._guard = threading.Lock()
        self._maxsize = maxsize

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        with self._guard:
            if key in self._values:
                self._values.move_to_end(key)
                return self._values[key]
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            with self._guard:
                if key in self._values:
                    return self._values[key]
            value = compute()
            with self._guard:
                self._values[key] = value
                self._locks.pop(key, None)
                while self._maxsize is not None and len(self._values) > self._maxsize:
                    self._values.popitem(last=False)
        return value


# ------------------------------------------------------------------------------------------- view records


@dataclass(frozen=True)
class HypothesisView:
    system: str
    ref: str
    hyp: str
    C: int
    S: int
    D: int
    I: int  # noqa: E741 - sclite's name
    wer: float
    cer: float
    failed: bool
    error: str | None
    pairs: list[tuple[str, str | None, str | None]]
    word_times: list[list[float]] | None = None

    def char_pairs(self) -> list[tuple[str, str | None, str | None]]:
        return list(align_chars(self.ref, self.hyp).pairs())


@dataclass(frozen=True)
class LineageStage:
    name: str
    text: str
    pairs: list[tuple[str, str | None, str | None]]
    errors: int
    fixed: int | None = None
    introduced: int | None = None


@dataclass(frozen=True)
class LineageChain:
    model: str
    stages: list[LineageStage]


@dataclass(frozen=True)
class NBestView:
    rank: int
    text: str
    pairs: list[tuple[str, str | None, str | None]]
    errors: int
    wer: float
    am_score: float | None
    lm_score: float | None
    neural_score: float | None
    score: float | None
    is_oracle: bool


@dataclass(frozen=True)
class UtteranceDetail:
    testset: str
    utt_id: str
    ref: str
    fields: dict[str, Any]
    hypotheses: list[HypothesisView]
    lineage: list[LineageChain]
    nbest: dict[str, list[NBestView]]


@dataclass(frozen=True)
class Neighbours:
    previous: str | None
    next: str | None
    position: int  # 1-based; 0 when the utterance is not in the view
    total: int


@dataclass(frozen=True)
class PairView:
    """analysis.compare's comparison of A and B, with per-utterance WERs and per-word accuracy beside it."""

    testset: str
    a: str
    b: str
    comparison: Any  # analysis.compare.Comparison (pair frame, summary, significance tests)
    per_utterance: pd.DataFrame  # the pair frame plus wer_a / wer_b from the per-utterance table
    word_accuracy: pd.DataFrame  # word, count, accuracy_a, accuracy_b

    @property
    def tests(self) -> list[Any]:
        return self.comparison.tests

    @property
    def summary(self) -> dict[str, Any]:
        return self.comparison.summary


# ------------------------------------------------------------------------------------------ the analysis


def _json_list(value: Any) -> list | None:
    if isinstance(value, str) and value.startswith("["):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return None
    if isinstance(value, np.ndarray):
        value = value.tolist()
    return value if isinstance(value, list) else None


def _contiguous_spans(table: pd.DataFrame) -> dict[tuple[str, str], tuple[int, int]]:
    """(start, stop) of each (testset, system) block; analysis writes each system's rows together."""
    if table.empty:
        return {}
    keys = list(zip(table["testset"].tolist(), table["system"].tolist(), strict=True))
    spans: dict[tuple[str, str], tuple[int, int]] = {}
    start = 0
    for k in range(1, len(keys) + 1):
        if k == len(keys) or keys[k] != keys[start]:
            if keys[start] in spans:  # not contiguous after all: callers fall back to a mask
                spans.pop(keys[start])
                return spans
            spans[keys[start]] = (start, k)
            start = k
    return spans


def _as_lists(column: pd.Series) -> pd.Series:
    """Python lists, whether the column is Arrow (iterating gives lists; ``map`` would give arrays) or
    JSON text (a field Arrow could not type)."""
    return pd.Series([_json_list(v) for v in column], index=column.index, dtype=object)


def decoded(frame: pd.DataFrame) -> pd.DataFrame:
    """The table with its nested prediction fields as Python lists, as the report's functions take them."""
    nested = [c for c in NESTED_FIELDS if c in frame]
    if not nested:
        return frame
    out = frame.copy()
    for column in nested:
        out[column] = _as_lists(out[column])
    return out


def _errors_of(ops: str) -> int:
    return sum(op != "C" for op in ops)


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool | np.integer | np.floating | np.bool_) or value is None


class Analysis:
    """One normaliser's view of the results directory: the analysis tables plus memoised derived views."""

    def __init__(
        self,
        normalizer: str,
        utterances: pd.DataFrame,
        systems: pd.DataFrame,
        runs: Mapping[tuple[str, str], RunInfo | None],
        results_dir: Path,
    ) -> None:
        self.normalizer = normalizer
        self.utterances = utterances
        self.system_table = systems
        self.runs = dict(runs)
        self.results_dir = results_dir
        self.load_seconds: dict[str, float] = {}  # where loading went (cached tables, or from scratch)
        self._memo = _Memo()  # keyed by test set / system / model: bounded by the results themselves
        self._views = _Memo(maxsize=16)  # keyed by users' choices of systems: least recently used go
        self._spans = _contiguous_spans(utterances)

    def memo(self, key: Hashable, compute: Callable[[], T]) -> T:
        """Memoise a derived view of this analysis (for modules that build on it, e.g. the report)."""
        return self._memo.get(key, compute)

    # ---- catalogue
    @cached_property
    def testsets(self) -> list[str]:
        return sorted(self.utterances["testset"].unique().tolist())

    def systems(self, testset: str) -> list[str]:
        return self._memo.get(
            ("systems", testset),
            lambda: sorted(
                self.utterances.loc[self.utterances["testset"] == testset, "system"].unique().tolist()
            ),
        )

    def rows(self, testset: str, system: str) -> pd.DataFrame:
        """One system's per-utterance rows, indexed by utt_id (shared, read-only; a view, not a copy)."""

        def build() -> pd.DataFrame:
            span = self._spans.get((testset, system))
            if span is not None:
                part = self.utterances.iloc[span[0] : span[1]]
            else:
                mask = (self.utterances["testset"] == testset) & (self.utterances["system"] == system)
                part = self.utterances.loc[mask]
            return part.set_index("utt_id", drop=False)

        return self._memo.get(("rows", testset, system), build)

    def reference_rows(self, testset: str) -> pd.DataFrame:
        """The test set's utterances once (the first system's rows carry the reference fields)."""
        return self.rows(testset, self.systems(testset)[0])

    def has_utterance(self, testset: str, utt_id: str) -> bool:
        return bool(self.systems(testset)) and utt_id in self.reference_rows(testset).index

    # ---- leaderboard
    def leaderboard(self) -> pd.DataFrame:
        """The per-system table plus each system's paired-bootstrap p against its test set's best:
        Holm-adjusted (``p_vs_best_holm``, the one that marks significance) and raw (``p_vs_best``)."""

        def build() -> pd.DataFrame:
            from werbench.analysis.compare import versus_best

            best = versus_best(self.utterances, self.system_table).rename(
                columns={
                    "p_value": "p_vs_best",
                    "p_holm": "p_vs_best_holm",
                    "p_text": "p_vs_best_text",
                    "p_holm_text": "p_vs_best_holm_text",
                }
            )
            kept = [
                "testset",
                "system",
                "p_vs_best",
                "p_vs_best_holm",
                "p_vs_best_text",
                "p_vs_best_holm_text",
            ]
            return self.system_table.merge(best[kept], on=["testset", "system"], how="left")

        return self._memo.get(("leaderboard",), build)

    # ---- utterance grid
    @cached_property
    def _extra_columns(self) -> list[str]:
        """Manifest fields beyond the contract's columns holding scalars (lists/dicts stay in the detail)."""
        extra = [
            c
            for c in self.utterances.columns
            if c not in UTTERANCE_COLUMNS
            and c not in PREDICTION_FIELDS
            and c not in ("audio_filepath", "text", "offset")
        ]
        sample = self.utterances.head(200)
        return [c for c in extra if all(_scalar(v) for v in sample[c].tolist())]

    def utterance_grid(self, testset: str, systems: tuple[str, ...]) -> GridTable:
        return self._views.get(("grid", testset, systems), lambda: self._build_grid(testset, systems))

    def _build_grid(self, testset: str, systems: tuple[str, ...]) -> GridTable:
        base = self.reference_rows(testset)
        columns = ["utt_id", "ref", "duration", "speaker", "ref_words", *self._extra_columns]
        frame = base[columns].reset_index(drop=True)
        labels = {"utt_id": "utt_id", "ref": "reference", "ref_words": "ref_words"}
        for k, system in enumerate(systems):
            rows = self.rows(testset, system)
            rows = rows if rows.index.equals(base.index) else rows.reindex(base.index)
            for col in (*PER_SYSTEM, "sentence_error", "failed"):
                frame[f"s{k}_{col}"] = rows[col].array  # keeps Arrow-backed text as it is: no object copy
                labels[f"s{k}_{col}"] = f"{system} {col}"
        text = {
            "filter": "agTextColumnFilter",
            "filterParams": {
                "filterOptions": ["contains", "notContains", "equals", "notEqual", "startsWith", "endsWith"],
                "maxNumConditions": 2,
            },
        }
        number = {"filter": "agNumberColumnFilter", "type": "rightAligned"}
        pct = {
            **number,
            "valueFormatter": ui.d3_format(".1%"),
            "width": 92,
        }
        count = {**number, "width": 74}
        defs: list[dict[str, Any]] = [
            {
                "field": "utt_id",
                "headerName": "Utterance",
                "pinned": "left",
                "width": 190,
                **text,
                "cellClass": "link-cell",
                "tooltipField": "utt_id",
            },
            {"field": "ref", "headerName": "Reference", "width": 340, **text, "tooltipField": "ref"},
            {
                "field": "duration",
                "headerName": "Dur (s)",
                **number,
                "width": 92,
                "valueFormatter": {"function": "params.value == null ? '' : d3.format('.2f')(params.value)"},
            },
            {"field": "speaker", "headerName": "Speaker", "width": 110, **text},
            {"field": "ref_words", "headerName": "Words", **count, "width": 84},
            *[
                {
                    "field": c,
                    "headerName": c,
                    "width": 110,
                    **(number if pd.api.types.is_numeric_dtype(frame[c]) else text),
                }
                for c in self._extra_columns
            ],
        ]
        for k, system in enumerate(systems):
            defs.append(
                {
                    "headerName": system,
                    "marryChildren": True,
                    "children": [
                        {
                            "field": f"s{k}_wer",
                            "headerName": "WER",
                            **pct,
                            "cellStyle": {
                                "function": "params.value > 0 ? {color: '#c0392b', fontWeight: 600} : {}"
                            },
                        },
                        {"field": f"s{k}_cer", "headerName": "CER", **pct, "columnGroupShow": "open"},
                        {"field": f"s{k}_S", "headerName": "S", **count, "columnGroupShow": "open"},
                        {"field": f"s{k}_D", "headerName": "D", **count, "columnGroupShow": "open"},
                        {"field": f"s{k}_I", "headerName": "I", **count, "columnGroupShow": "open"},
                        {
                            "field": f"s{k}_hyp",
                            "headerName": "Hypothesis",
                            "width": 320,
                            **text,
                            "tooltipField": f"s{k}_hyp",
                        },
                    ],
                }
            )
        frame.attrs["systems"] = systems
        csv_columns = [c for c in frame.columns if not c.endswith(("_sentence_error", "_failed"))]
        return GridTable(
            ServerSideTable(frame),
            defs,
            {c: labels.get(c, c) for c in csv_columns},
            f"utterances-{testset}-{self.normalizer}.csv",
            csv_columns,
        )

    def quick_filter(
        self, testset: str, systems: tuple[str, ...], name: str, a: str | None, b: str | None
    ) -> QuickFilter | None:
        """The mask behind a quick-filter button, expressed on the grid's columns (the analysis' numbers)."""
        if name == "all" or not systems:
            return None
        index = {s: k for k, s in enumerate(systems)}
        if name == "errors":
            cols = [f"s{k}_sentence_error" for k in range(len(systems))]
            return name, lambda f: f[cols].fillna(False).astype(bool).any(axis=1).to_numpy()
        if name == "failed":
            cols = [f"s{k}_failed" for k in range(len(systems))]
            return name, lambda f: f[cols].fillna(False).astype(bool).any(axis=1).to_numpy()
        if name in ("a_better", "b_better") and a in index and b in index:
            wa, wb = f"s{index[a]}_wer", f"s{index[b]}_wer"
            first, second = (wa, wb) if name == "a_better" else (wb, wa)
            return f"{name}:{a}:{b}", lambda f: (f[first] < f[second]).fillna(False).to_numpy()
        if name == "changed":
            groups: dict[str, list[int]] = {}
            for s, k in index.items():
                groups.setdefault(s.split("@", 1)[0], []).append(k)
            pairs = [(g[0], k) for g in groups.values() for k in g[1:]]

            def changed(f: pd.DataFrame) -> np.ndarray:
                mask = np.zeros(len(f), dtype=bool)
                for first, other in pairs:
                    mask |= (f[f"s{first}_hyp"] != f[f"s{other}_hyp"]).fillna(False).to_numpy()
                return mask

            return name, changed
        return None

    def neighbours(
        self, context: Mapping[str, Any], grid_state: Mapping[str, Any], utt_id: str
    ) -> Neighbours:
        """Previous/next utterance in the list the user came from (same filter, sort and quick filter)."""
        systems = tuple(context["systems"])
        grid = self.utterance_grid(context["ts"], systems)
        quick = self.quick_filter(context["ts"], systems, context["qf"], context.get("a"), context.get("b"))
        try:
            rows = grid.table.view(grid_state.get("filterModel"), grid_state.get("sortModel"), quick)
        except ValueError:
            rows = grid.table.view(None, None, None)
        ids = grid.table.frame["utt_id"].to_numpy()
        where = np.flatnonzero(ids[rows] == utt_id)
        if not len(where):
            return Neighbours(None, None, 0, len(rows))
        at = int(where[0])
        prev_id = str(ids[rows[at - 1]]) if at > 0 else None
        next_id = str(ids[rows[at + 1]]) if at + 1 < len(rows) else None
        return Neighbours(prev_id, next_id, at + 1, len(rows))

    # ---- one utterance
    def utterance_detail(self, testset: str, utt_id: str, systems: tuple[str, ...]) -> UtteranceDetail:
        base = self.reference_rows(testset).loc[utt_id]
        fields = {k: v for k, v in base.items() if k not in SYSTEM_FIELDS and _scalar(v) and not pd.isna(v)}
        hypotheses = []
        for system in systems:
            rows = self.rows(testset, system)
            if utt_id not in rows.index:
                continue
            row = rows.loc[utt_id]
            failed = bool(row["failed"])
            hypotheses.append(
                HypothesisView(
                    system, str(row["ref"]), str(row["hyp"]), int(row["C"]), int(row["S"]), int(row["D"]),
                    int(row["I"]), float(row["wer"]), float(row["cer"]), failed,
                    row.get("failure") if isinstance(row.get("failure"), str) else None,
                    [] if failed else replay(str(row["ops"]), str(row["ref"]), str(row["hyp"])),
                    _json_list(row.get("word_times")),
                )
            )  # fmt: skip
        return UtteranceDetail(
            testset, utt_id, str(base["ref"]), fields, hypotheses,
            self._lineage(testset, utt_id, systems), self._nbest(testset, utt_id, systems),
        )  # fmt: skip

    def _utterance_rows(self, testset: str, utt_id: str, systems: tuple[str, ...]) -> pd.DataFrame:
        """This utterance's row of each system, nested fields decoded: what analysis' functions take."""
        frames = [
            self.rows(testset, s).loc[[utt_id]] for s in systems if utt_id in self.rows(testset, s).index
        ]
        return decoded(pd.concat(frames, ignore_index=True))

    def _lineage(self, testset: str, utt_id: str, systems: tuple[str, ...]) -> list[LineageChain]:
        """This utterance's place in analysis.compare's decoder lineage of each model (fixed/introduced)."""
        chains = []
        for model in sorted({s.split("@", 1)[0] for s in systems}):
            position, stages, steps = self.lineage(testset, model)
            at = position.get(utt_id)
            if at is None or len(stages) < 2:
                continue
            ref = str(self.rows(testset, stages[0].system).at[utt_id, "ref"])
            first = stages[0]
            views = [
                LineageStage(
                    first.name,
                    first.hyp[at],
                    replay(first.ops[at], ref, first.hyp[at]),
                    int(steps[0]["err_earlier"].iat[at]),
                )
            ]
            for stage, step in zip(stages[1:], steps, strict=True):
                views.append(
                    LineageStage(
                        stage.name,
                        stage.hyp[at],
                        replay(stage.ops[at], ref, stage.hyp[at]),
                        int(step["err_later"].iat[at]),
                        int(step["fixed"].iat[at]),
                        int(step["introduced"].iat[at]),
                    )
                )
            chains.append(LineageChain(model, views))
        return chains

    def lineage(self, testset: str, model: str) -> tuple[dict[str, int], list[Any], list[pd.DataFrame]]:
        """analysis.compare's stages of one model on the whole test set and each step's per-utterance frame.

        Computed once per (test set, model): a stage is defined over the whole test set (a saved text
        that changes nothing anywhere is no stage), so it cannot be derived from one utterance alone.
        """

        def build() -> tuple[dict[str, int], list[Any], list[pd.DataFrame]]:
            from werbench.analysis.lineage import STAGE_COLUMNS, lineage_stages, lineage_step

            members = [s for s in self.systems(testset) if s.split("@", 1)[0] == model]
            needed = ["testset", "system", "utt_id", "ref", "hyp", "ops", "failed", *STAGE_COLUMNS]
            rows = pd.concat(
                [self.rows(testset, s)[[c for c in needed if c in self.utterances]] for s in members],
                ignore_index=True,
            )
            normalize = get_normalizer(self.normalizer)
            ids, stages = lineage_stages(rows, testset, model, normalize=normalize, systems=self.system_table)
            if len(stages) < 2:
                return {}, stages, []
            refs = self.rows(testset, stages[0].system)["ref"].reindex(ids).fillna("").astype(str).tolist()
            kept = ["err_earlier", "err_later", "fixed", "introduced"]  # the counts; texts are in the stages
            steps = [
                lineage_step(ids, refs, a, b, testset=testset, model=model).utterances[kept]
                for a, b in pairwise(stages)
            ]
            return {u: k for k, u in enumerate(ids)}, stages, steps

        return self._memo.get(("lineage", testset, model), build)

    def _nbest(self, testset: str, utt_id: str, systems: tuple[str, ...]) -> dict[str, list[NBestView]]:
        """Each n-best list with every hypothesis aligned, and analysis' oracle (first with fewest errors)."""
        from werbench.analysis.nbest import nbest_oracle

        rows = self._utterance_rows(testset, utt_id, systems)
        if "nbest" not in rows:
            return {}
        normalize = get_normalizer(self.normalizer)
        oracle, _ = nbest_oracle(rows, normalize=normalize)
        out: dict[str, list[NBestView]] = {}
        for _, row in rows.iterrows():
            entries = row["nbest"] if isinstance(row["nbest"], list) else []
            if not entries or row["system"] not in set(oracle.get("system", [])):
                continue
            rank = int(oracle.loc[oracle["system"] == row["system"], "oracle_rank"].iat[0])
            texts = [normalize(str(e.get("text", ""))) for e in entries]
            alignments = align_many([str(row["ref"])] * len(texts), texts)
            out[str(row["system"])] = [
                NBestView(
                    k,
                    text,
                    list(al.pairs()),
                    al.errors,
                    al.wer,
                    entry.get("am_score"),
                    entry.get("lm_score"),
                    entry.get("neural_score"),
                    entry.get("score"),
                    k == rank,
                )
                for k, (text, al, entry) in enumerate(zip(texts, alignments, entries, strict=True), start=1)
            ]
        return out

    # ---- dataset statistics
    def dataset_stats(self, testset: str) -> DatasetStats:
        return self._memo.get(("dataset", testset), lambda: self._dataset_stats(testset))

    def _dataset_stats(self, testset: str) -> DatasetStats:
        accuracy, source = self.word_accuracy(testset, (self.systems(testset)[0],))
        return dataset_stats(self.reference_rows(testset), accuracy, source)

    # ---- errors
    def vocabulary_for(self, testset: str) -> tuple[Any, str | None]:
        """The LM vocabulary the test set's systems were decoded with (for OOV flags), if one is readable."""

        def load() -> tuple[Any, str | None]:
            from werbench.analysis.errors import load_vocabulary

            for system in self.systems(testset):
                info = self.runs.get((testset, system))
                path = (info.lm or {}).get("path") if info else None
                if path and Path(path).is_file():
                    try:
                        return load_vocabulary(path), Path(path).name
                    except (OSError, ValueError):
                        continue
            return None, None

        return self._memo.get(("vocab", testset), load)

    def error_tables(self, testset: str, systems: tuple[str, ...]) -> Any:
        """analysis.errors.error_tables of these systems (confusions, insertions, deletions, accuracy)."""

        def build() -> Any:
            from werbench.analysis.errors import error_tables

            frames = [self.rows(testset, s).reset_index(drop=True) for s in systems]
            vocabulary, _ = self.vocabulary_for(testset)
            return error_tables(pd.concat(frames, ignore_index=True), vocabulary=vocabulary)

        return self._views.get(("errors", testset, systems), build)

    def word_accuracy(self, testset: str, systems: tuple[str, ...]) -> tuple[pd.DataFrame, str | None]:
        tables = self.error_tables(testset, systems)
        return tables.word_accuracy, self.vocabulary_for(testset)[1]

    def vocabulary_grid(self, testset: str, systems: tuple[str, ...]) -> GridTable:
        return self._memo.get(
            ("vocab-grid", testset, systems), lambda: self._vocabulary_grid(testset, systems)
        )

    def _vocabulary_grid(self, testset: str, systems: tuple[str, ...]) -> GridTable:
        accuracy, source = self.word_accuracy(testset, systems)
        wide = accuracy.pivot_table(
            index="word", columns="system", values=["accuracy", "correct"], aggfunc="first"
        )
        counts = accuracy.groupby("word")[["count"]].first()
        frame = counts.copy()
        frame["oov"] = (
            accuracy.groupby("word")["oov"].first().map(lambda v: "" if pd.isna(v) else ("OOV" if v else ""))
        )
        labels = {"word": "word", "count": "count", "oov": "oov"}
        defs: list[dict[str, Any]] = [
            {
                "field": "word",
                "headerName": "Word",
                "pinned": "left",
                "width": 180,
                "filter": "agTextColumnFilter",
            },
            {
                "field": "count",
                "headerName": "Count",
                "type": "rightAligned",
                "filter": "agNumberColumnFilter",
                "sort": "desc",
                "width": 100,
            },
            {
                "field": "oov",
                "headerName": f"OOV ({source})" if source else "OOV",
                "width": 130,
                "filter": "agTextColumnFilter",
            },
        ]
        for k, system in enumerate(systems):
            frame[f"s{k}_acc"] = wide.get(("accuracy", system), np.nan)
            frame[f"s{k}_err"] = frame["count"] - (wide.get(("correct", system), 0))
            labels[f"s{k}_acc"], labels[f"s{k}_err"] = f"{system} accuracy", f"{system} errors"
            defs.append(
                {
                    "headerName": system,
                    "children": [
                        {
                            "field": f"s{k}_acc",
                            "headerName": "Accuracy",
                            "type": "rightAligned",
                            "filter": "agNumberColumnFilter",
                            "width": 110,
                            "valueFormatter": {**ui.d3_format(".1%")},
                        },
                        {
                            "field": f"s{k}_err",
                            "headerName": "Errors",
                            "type": "rightAligned",
                            "filter": "agNumberColumnFilter",
                            "width": 90,
                        },
                    ],
                }
            )
        frame = frame.reset_index().sort_values(["count", "word"], ascending=[False, True], kind="stable")
        frame = frame.reset_index(drop=True)
        return GridTable(
            ServerSideTable(frame), defs, labels, f"vocabulary-{testset}-{self.normalizer}.csv", list(labels)
        )

    def breakdown(self, testset: str, systems: tuple[str, ...], by: str) -> pd.DataFrame:
        """WER with CI per value of ``by`` for each system (analysis.breakdown)."""

        def build() -> pd.DataFrame:
            from werbench.analysis.breakdown import breakdown

            frames = [self.rows(testset, s).reset_index(drop=True) for s in systems]
            return breakdown(pd.concat(frames, ignore_index=True), by).rename(columns={by: "value"})

        return self._views.get(("breakdown", testset, systems, by), build)

    def breakdown_fields(self, testset: str) -> list[str]:
        """Fields worth a breakdown: speaker, duration buckets, and scalar manifest fields of few values."""
        rows = self.reference_rows(testset)
        fields = ["speaker", "duration"]
        for column in self._extra_columns:
            if column in rows and 1 < rows[column].nunique() <= 60:
                fields.append(column)
        return fields

    # ---- comparison
    def comparison(self, testset: str, a: str, b: str) -> PairView:
        return self._views.get(("compare", testset, a, b), lambda: self._comparison(testset, a, b))

    def _comparison(self, testset: str, a: str, b: str) -> PairView:
        from werbench.analysis.compare import compare_systems

        rows = pd.concat([self.rows(testset, a), self.rows(testset, b)], ignore_index=True)
        comparison = compare_systems(rows, a, b, testset=testset)
        per_utt = comparison.utterances.copy()
        per_utt["wer_a"] = self.rows(testset, a)["wer"].reindex(per_utt["utt_id"]).to_numpy()
        per_utt["wer_b"] = self.rows(testset, b)["wer"].reindex(per_utt["utt_id"]).to_numpy()
        accuracy, _ = self.word_accuracy(testset, (a, b))
        acc = accuracy.pivot_table(index="word", columns="system", values="accuracy", aggfunc="first")
        words = accuracy.groupby("word")["count"].first()
        word_acc = pd.DataFrame({
            "word": words.index, "count": words.to_numpy(),
            "accuracy_a": acc[a].reindex(words.index).to_numpy() if a in acc else np.nan,
            "accuracy_b": acc[b].reindex(words.index).to_numpy() if b in acc else np.nan,
        })  # fmt: skip
        return PairView(testset, a, b, comparison, per_utt, word_acc)

    def three_way(self, testset: str, utt_id: str, a: str, b: str) -> list[Any]:
        """analysis.compare.three_way columns (reference / A / B) of one utterance."""
        from werbench.analysis.compare import three_way

        row_a, row_b = self.rows(testset, a).loc[utt_id], self.rows(testset, b).loc[utt_id]
        return three_way(
            str(row_a["ref"]), str(row_a["hyp"]), str(row_a["ops"]), str(row_b["hyp"]), str(row_b["ops"])
        )


# ------------------------------------------------------------------------------------------- workspace


class Workspace:
    """A results directory as the dashboard sees it: one ``Analysis`` per normaliser, built once, shared."""

    def __init__(
        self, results_dir: Path, default_normalizer: str = "none", cache_dir: Path | None = None
    ) -> None:
        self.results_dir = Path(results_dir)
        self.default_normalizer = default_normalizer
        self.cache_dir = None if cache_dir is None else Path(cache_dir)
        self._memo = _Memo()
        self.runs = {(ref.testset, ref.system): read_run_info(ref) for ref in iter_systems(self.results_dir)}

    def analysis(self, normalizer: str) -> Analysis:
        if normalizer not in NORMALIZERS:
            normalizer = self.default_normalizer
        return self._memo.get(("analysis", normalizer), lambda: self._score(normalizer))

    def _score(self, normalizer: str) -> Analysis:
        from werbench.analysis.table_cache import TableOptions, results_tables

        timings: dict[str, float] = {}
        tables = results_tables(
            self.results_dir, TableOptions(normalize=normalizer), cache_dir=self.cache_dir, timings=timings
        )
        for warning in tables.warnings:
            log.warning("%s", warning)
        analysis = Analysis(normalizer, tables.utterances, tables.systems, self.runs, self.results_dir)
        analysis.load_seconds = timings
        return analysis

    def audio_sources(self) -> Mapping[tuple[str, str], AudioSource]:
        """(testset, utt_id) -> audio, from the loaded manifests: the only files the audio route serves."""

        def build() -> dict[tuple[str, str], AudioSource]:
            table = self.analysis(self.default_normalizer).utterances
            first = table.drop_duplicates(["testset", "utt_id"])
            offsets = first["offset"] if "offset" in first else pd.Series(0.0, index=first.index)
            return {
                (ts, utt): AudioSource(str(path), float(off or 0.0), float(dur) if off else None)
                for ts, utt, path, off, dur in zip(
                    first["testset"],
                    first["utt_id"],
                    first["audio_filepath"],
                    offsets.fillna(0.0),
                    first["duration"],
                    strict=True,
                )
            }

        return self._memo.get(("audio",), build)
