"""The dashboard's only door to the numbers: an adapter that CALLS ``analysis`` and shapes results for views.

Nothing here scores anything. It asks analysis for the per-utterance and per-system tables (through the
analysis cache), error tables, comparisons and significance tests, and reshapes them: one wide row per
utterance for the grid, histograms' inputs, a single utterance's diffs. Results are memoised per
``Analysis`` object (one per normaliser), keyed by immutable arguments, so several users share them and no
request can change what another sees.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from analysis.align import align, align_chars
from analysis.tables import UTTERANCE_COLUMNS
from dashboard import components as ui
from dashboard.audio import AudioSource
from dashboard.grid import ServerSideTable
from dashboard.grid_view import GridTable, QuickFilter
from manifests.normalize import NORMALIZERS as _NORMALIZERS
from manifests.results import RunInfo, iter_systems, read_run_info

NORMALIZERS = tuple(n.name for n in _NORMALIZERS)
QUICK_FILTERS = ("all", "errors", "a_better", "b_better", "changed", "failed")
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


class _Memo:
    """Per-object memo keyed by immutable arguments; a lock per key so concurrent users compute once."""

    def __init__(self) -> None:
        self._values: dict[Hashable, Any] = {}
        self._locks: dict[Hashable, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        if key in self._values:
            return self._values[key]
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._values:
                self._values[key] = compute()
        return self._values[key]


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
class DatasetStats:
    utterances: int
    seconds: float
    speakers: int
    vocabulary: int
    words: int
    alphabet: str
    oov_rate: float | None
    oov_source: str | None
    histograms: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def hours(self) -> float:
        return self.seconds / 3600


@dataclass(frozen=True)
class Comparison:
    testset: str
    a: str
    b: str
    per_utterance: pd.DataFrame  # utt_id, ref, hyp_a, hyp_b, wer_a, wer_b, err_a, err_b, delta, outcome
    counts: dict[str, int]
    tests: list[Any]  # analysis.significance.TestResult
    word_accuracy: pd.DataFrame  # word, count, accuracy_a, accuracy_b


# ------------------------------------------------------------------------------------------ the analysis


def _ops_errors(ops: str) -> tuple[set[int], dict[int, int]]:
    """Reference positions with an S/D and insertion counts per gap, to say which errors a stage fixed."""
    wrong: set[int] = set()
    inserted: dict[int, int] = {}
    position = 0
    for op in ops:
        if op == "I":
            inserted[position] = inserted.get(position, 0) + 1
            continue
        if op in "SD":
            wrong.add(position)
        position += 1
    return wrong, inserted


def fixed_and_introduced(before: str, after: str) -> tuple[int, int]:
    """Errors of ``before`` gone in ``after`` and new ones, both counted on reference slots."""
    wrong_a, ins_a = _ops_errors(before)
    wrong_b, ins_b = _ops_errors(after)
    fixed = len(wrong_a - wrong_b) + sum(max(0, n - ins_b.get(k, 0)) for k, n in ins_a.items())
    introduced = len(wrong_b - wrong_a) + sum(max(0, n - ins_a.get(k, 0)) for k, n in ins_b.items())
    return fixed, introduced


def _decoder_rank(info: RunInfo | None, system: str) -> int:
    """greedy < beam < rescored, from run.json when present, else from the system's name."""
    decoder = str((info.decoder.get("type") if info else "") or system.split("@", 1)[-1]).lower()
    if info is not None and info.rescorer:
        return 2
    if "rescor" in decoder or "bert" in decoder or "neural" in decoder:
        return 2
    return 0 if "greedy" in decoder else 1


def _json_list(value: Any) -> list | None:
    if isinstance(value, str) and value.startswith("["):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return None
    if isinstance(value, np.ndarray):
        value = value.tolist()
    return value if isinstance(value, list) else None


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
        self._memo = _Memo()

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
        """One system's per-utterance rows, indexed by utt_id (shared, read-only)."""

        def build() -> pd.DataFrame:
            mask = (self.utterances["testset"] == testset) & (self.utterances["system"] == system)
            return self.utterances.loc[mask].set_index("utt_id", drop=False)

        return self._memo.get(("rows", testset, system), build)

    def reference_rows(self, testset: str) -> pd.DataFrame:
        """The test set's utterances once (the first system's rows carry the reference fields)."""
        return self.rows(testset, self.systems(testset)[0])

    def has_utterance(self, testset: str, utt_id: str) -> bool:
        return bool(self.systems(testset)) and utt_id in self.reference_rows(testset).index

    # ---- leaderboard
    def leaderboard(self) -> pd.DataFrame:
        return self.system_table

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
        return self._memo.get(("grid", testset, systems), lambda: self._build_grid(testset, systems))

    def _build_grid(self, testset: str, systems: tuple[str, ...]) -> GridTable:
        base = self.reference_rows(testset)
        columns = ["utt_id", "ref", "duration", "speaker", "ref_words", *self._extra_columns]
        frame = base[columns].reset_index(drop=True)
        labels = {"utt_id": "utt_id", "ref": "reference", "ref_words": "ref_words"}
        for k, system in enumerate(systems):
            rows = self.rows(testset, system).reindex(base.index)
            for col in (*PER_SYSTEM, "sentence_error", "failed"):
                frame[f"s{k}_{col}"] = rows[col].to_numpy()
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
            pairs = list(align(row["ref"], row["hyp"]).pairs()) if not row["failed"] else []
            hypotheses.append(
                HypothesisView(
                    system,
                    row["ref"],
                    row["hyp"],
                    int(row["C"]),
                    int(row["S"]),
                    int(row["D"]),
                    int(row["I"]),
                    float(row["wer"]),
                    float(row["cer"]),
                    bool(row["failed"]),
                    row.get("failure") if isinstance(row.get("failure"), str) else None,
                    pairs,
                    _json_list(row.get("word_times")),
                )
            )
        return UtteranceDetail(
            testset,
            utt_id,
            str(base["ref"]),
            fields,
            hypotheses,
            self._lineage(testset, utt_id, systems),
            self._nbest(testset, utt_id, systems),
        )

    def _lineage(self, testset: str, utt_id: str, systems: tuple[str, ...]) -> list[LineageChain]:
        """Decoder stages of each acoustic model: systems sharing the model, then recorded per-stage texts."""
        from manifests.normalize import get_normalizer

        normalize = get_normalizer(self.normalizer)
        chains = []
        models: dict[str, list[str]] = {}
        for system in systems:
            models.setdefault(system.split("@", 1)[0], []).append(system)
        for model, members in sorted(models.items()):
            stages: list[tuple[str, str]] = []
            members = sorted(members, key=lambda s: (_decoder_rank(self.runs.get((testset, s)), s), s))
            for system in members:
                row = self.rows(testset, system).loc[utt_id]
                if not stages:
                    for stage in ("greedy_text", "beam_text"):
                        text = row.get(stage)
                        if isinstance(text, str) and normalize(text) != row["hyp"]:
                            stages.append(
                                (f"{stage.removesuffix('_text')} (recorded by {system})", normalize(text))
                            )
                stages.append((system, row["hyp"]))
            if len(stages) < 2:
                continue
            ref = str(self.reference_rows(testset).loc[utt_id, "ref"])
            views, previous = [], None
            for name, text in stages:
                alignment = align(ref, text)
                fixed = introduced = None
                if previous is not None:
                    fixed, introduced = fixed_and_introduced(previous, alignment.ops)
                views.append(
                    LineageStage(name, text, list(alignment.pairs()), alignment.errors, fixed, introduced)
                )
                previous = alignment.ops
            chains.append(LineageChain(model, views))
        return chains

    def _nbest(self, testset: str, utt_id: str, systems: tuple[str, ...]) -> dict[str, list[NBestView]]:
        from manifests.normalize import get_normalizer

        normalize = get_normalizer(self.normalizer)
        out: dict[str, list[NBestView]] = {}
        for system in systems:
            row = self.rows(testset, system).loc[utt_id]
            entries = _json_list(row.get("nbest"))
            if not entries:
                continue
            ref = str(row["ref"])
            views = []
            for rank, entry in enumerate(entries, start=1):
                text = normalize(str(entry.get("text", "")))
                alignment = align(ref, text)
                views.append((rank, text, alignment, entry))
            best = min(views, key=lambda v: (v[2].errors, v[0]))[0]
            out[system] = [
                NBestView(
                    rank,
                    text,
                    list(al.pairs()),
                    al.errors,
                    al.wer,
                    entry.get("am_score"),
                    entry.get("lm_score"),
                    entry.get("neural_score"),
                    entry.get("score"),
                    rank == best,
                )
                for rank, text, al, entry in views
            ]
        return out

    # ---- dataset statistics
    def dataset_stats(self, testset: str) -> DatasetStats:
        return self._memo.get(("dataset", testset), lambda: self._dataset_stats(testset))

    def _dataset_stats(self, testset: str) -> DatasetStats:
        rows = self.reference_rows(testset)
        refs = rows["ref"].astype(str)
        words = refs.str.split()
        vocabulary = pd.Series([w for ws in words for w in ws]).value_counts() if len(refs) else pd.Series()
        alphabet = "".join(sorted({ch for text in refs for ch in text if not ch.isspace()}))
        durations = rows["duration"].to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = rows["ref_words"].to_numpy(dtype=float) / durations
        accuracy, source = self.word_accuracy(testset, (self.systems(testset)[0],))
        oov_rate = None
        if source is not None and len(accuracy):
            counts = accuracy["count"].to_numpy()
            oov_rate = float(counts[accuracy["oov"].astype(bool).to_numpy()].sum() / counts.sum())
        return DatasetStats(
            utterances=len(rows),
            seconds=float(np.nansum(durations)),
            speakers=int(rows["speaker"].nunique()) if "speaker" in rows else 0,
            vocabulary=len(vocabulary),
            words=int(rows["ref_words"].sum()),
            alphabet=alphabet,
            oov_rate=oov_rate,
            oov_source=source,
            histograms={
                "duration": durations,
                "words": rows["ref_words"].to_numpy(dtype=float),
                "chars": rows["ref_chars"].to_numpy(dtype=float),
                "word_rate": rate,
            },
        )

    # ---- errors
    def vocabulary_for(self, testset: str) -> tuple[Any, str | None]:
        """The LM vocabulary the test set's systems were decoded with (for OOV flags), if one is readable."""

        def load() -> tuple[Any, str | None]:
            from analysis.errors import load_vocabulary

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
            from analysis.errors import error_tables

            frames = [self.rows(testset, s).reset_index(drop=True) for s in systems]
            vocabulary, _ = self.vocabulary_for(testset)
            return error_tables(pd.concat(frames, ignore_index=True), vocabulary=vocabulary)

        return self._memo.get(("errors", testset, systems), build)

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
            from analysis.breakdown import breakdown

            frames = [self.rows(testset, s).reset_index(drop=True) for s in systems]
            return breakdown(pd.concat(frames, ignore_index=True), by).rename(columns={by: "value"})

        return self._memo.get(("breakdown", testset, systems, by), build)

    def breakdown_fields(self, testset: str) -> list[str]:
        """Fields worth a breakdown: speaker, duration buckets, and scalar manifest fields of few values."""
        rows = self.reference_rows(testset)
        fields = ["speaker", "duration"]
        for column in self._extra_columns:
            if column in rows and 1 < rows[column].nunique() <= 60:
                fields.append(column)
        return fields

    # ---- comparison
    def comparison(self, testset: str, a: str, b: str) -> Comparison:
        return self._memo.get(("compare", testset, a, b), lambda: self._comparison(testset, a, b))

    def _comparison(self, testset: str, a: str, b: str) -> Comparison:
        from analysis.significance import PairedScores, run_tests

        rows_a, rows_b = self.rows(testset, a), self.rows(testset, b)
        common = rows_a.index.intersection(rows_b.index)
        rows_a, rows_b = rows_a.loc[common], rows_b.loc[common]
        err_a = (rows_a["S"] + rows_a["D"] + rows_a["I"]).to_numpy(dtype=float)
        err_b = (rows_b["S"] + rows_b["D"] + rows_b["I"]).to_numpy(dtype=float)
        per_utt = pd.DataFrame(
            {
                "utt_id": common.to_numpy(),
                "ref": rows_a["ref"].to_numpy(),
                "hyp_a": rows_a["hyp"].to_numpy(),
                "hyp_b": rows_b["hyp"].to_numpy(),
                "wer_a": rows_a["wer"].to_numpy(),
                "wer_b": rows_b["wer"].to_numpy(),
                "err_a": err_a,
                "err_b": err_b,
                "delta": err_b - err_a,
            }
        )
        per_utt["outcome"] = np.select(
            [per_utt["delta"] > 0, per_utt["delta"] < 0], ["A better", "B better"], "tied"
        )
        speakers = rows_a["speaker"].astype(str).to_numpy() if "speaker" in rows_a else common.to_numpy()
        tests = run_tests(
            PairedScores(
                err_a,
                err_b,
                rows_a["ref_words"].to_numpy(dtype=float),
                rows_a["ops"].tolist(),
                rows_b["ops"].tolist(),
                speakers,
            )
        )
        accuracy, _ = self.word_accuracy(testset, (a, b))
        acc = accuracy.pivot_table(index="word", columns="system", values="accuracy", aggfunc="first")
        words = accuracy.groupby("word")["count"].first()
        word_acc = pd.DataFrame(
            {
                "word": words.index,
                "count": words.to_numpy(),
                "accuracy_a": acc[a].reindex(words.index).to_numpy(),
                "accuracy_b": acc[b].reindex(words.index).to_numpy(),
            }
        )
        counts = per_utt["outcome"].value_counts()
        return Comparison(
            testset,
            a,
            b,
            per_utt,
            {k: int(counts.get(k, 0)) for k in ("A better", "B better", "tied")},
            tests,
            word_acc,
        )

    def three_way(
        self, testset: str, utt_id: str, a: str, b: str
    ) -> list[tuple[str, str | None, str | None, str | None]]:
        """Reference words with what A and B made of each (shared reference slots, insertions in between)."""
        ref = str(self.reference_rows(testset).loc[utt_id, "ref"])
        slots_a = _slots(align(ref, str(self.rows(testset, a).loc[utt_id, "hyp"])))
        slots_b = _slots(align(ref, str(self.rows(testset, b).loc[utt_id, "hyp"])))
        out = []
        for k in range(len(slots_a)):
            ins_a, ins_b = slots_a[k][1], slots_b[k][1]
            if ins_a or ins_b:
                out.append(("I", None, " ".join(ins_a) or None, " ".join(ins_b) or None))
            if slots_a[k][0] is not None:
                (word, hyp_a), (_, hyp_b) = slots_a[k][0], slots_b[k][0]
                out.append(("R", word, hyp_a, hyp_b))
        return out


def _slots(alignment: Any) -> list[tuple[tuple[str, str | None] | None, list[str]]]:
    """Per reference position: (ref word, hyp word or None) and the insertions before it; one trailing gap."""
    slots: list[tuple[tuple[str, str | None] | None, list[str]]] = []
    pending: list[str] = []
    for op, ref, hyp in alignment.pairs():
        if op == "I":
            pending.append(hyp)
            continue
        slots.append(((ref, hyp), pending))
        pending = []
    slots.append((None, pending))
    return slots


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
        from dashboard.scoring import score_results

        utterances, systems = score_results(self.results_dir, normalizer, self.cache_dir)
        return Analysis(normalizer, utterances, systems, self.runs, self.results_dir)

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
