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
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pandas as pd
import pyarrow.compute as pc
from werbench.aligner.align import align_chars
from werbench.analysis.audio_metrics import ERROR as AUDIO_ERROR
from werbench.analysis.audio_metrics import LABELS as AUDIO_LABELS
from werbench.analysis.audio_metrics import METRICS as AUDIO_METRICS
from werbench.analysis.confidence import DEFAULT_MEASURE, hypothesis_confidence
from werbench.analysis.dataset import DatasetStats, dataset_stats, reference_vocabulary
from werbench.analysis.errors import replay, word_accuracy_side_by_side
from werbench.analysis.filter_expr import FilterError, parse_filter
from werbench.analysis.measures import deletions_minus_insertions, speaking_rates
from werbench.analysis.system_order import system_key
from werbench.analysis.tables import UTTERANCE_COLUMNS
from werbench.dashboard.audio_metrics import error_column
from werbench.dashboard.grid import ServerSideTable
from werbench.dashboard.grid_config import (
    CONFIDENCE_COUNTS,
    PER_SYSTEM,
    filter_fields,
    quick_filter,
    utterance_columns,
    vocabulary_columns,
)
from werbench.dashboard.grid_view import GridTable, QuickFilter
from werbench.dashboard.memo import Memo
from werbench.dashboard.row_index import RowIndex, arrow_column
from werbench.manifests.normalize import NORMALIZERS as _NORMALIZERS
from werbench.manifests.normalize import Normalizer, get_normalizer
from werbench.manifests.results import PREDICTION_FIELDS as RESULT_FIELDS
from werbench.manifests.results import RunInfo

if TYPE_CHECKING:  # the comparison, lineage and n-best modules load scipy: imported where first used
    from werbench.analysis.compare import Comparison
    from werbench.analysis.lineage import StageAt
    from werbench.analysis.nbest import NBestEntry
    from werbench.analysis.table_cache import Summaries
    from werbench.dashboard.audio_metrics import AudioMetricsStore

NORMALIZERS = tuple(n.name for n in _NORMALIZERS)
NESTED_FIELDS = ("nbest", "word_times", "word_confidence")  # prediction fields that hold lists
VIEWS = 16  # views kept per choice of systems (each can hold a 100k-row table); least recently used go
# prediction fields that differ per system, or are shown elsewhere than the grid
PREDICTION_FIELDS = (*RESULT_FIELDS, "failure")
SYSTEM_FIELDS = frozenset({
    "system", "hyp", "C", "S", "D", "I", "hyp_words", "wer", "char_C", "char_S", "char_D", "char_I", "cer",
    "sentence_error", "wmr", "ops", "failed", *PREDICTION_FIELDS,
})  # fmt: skip
T = TypeVar("T")
log = logging.getLogger(__name__)


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
    raw_pairs: list[tuple[str, str | None, str | None]] | None = None  # words as written (case_punctuation)
    confidence: list[float] | None = None  # per hypothesis word, the chosen measure (analysis.confidence)

    def char_pairs(self) -> list[tuple[str, str | None, str | None]]:
        return list(align_chars(self.ref, self.hyp).pairs())


@dataclass(frozen=True)
class UtteranceDetail:
    testset: str
    utt_id: str
    ref: str
    fields: dict[str, Any]
    hypotheses: list[HypothesisView]
    raw_ref: str  # the reference as written
    lineage: dict[str, list[StageAt]]  # model -> its stages on this utterance (analysis.lineage)
    nbest: dict[str, list[NBestEntry]]  # system -> its aligned n-best list (analysis.nbest)


@dataclass(frozen=True)
class GridColumns:
    """The utterance grid's columns but the hallucination flags, and what its column definitions need."""

    frame: pd.DataFrame
    labels: dict[str, str]  # CSV header of each column
    extra: list[str]  # manifest fields shown
    numeric: set[str]  # which of them are numbers
    speaker: bool  # any row has a speaker
    confidence: set[int]  # the systems (by position) whose words carry confidences


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
    comparison: Comparison  # the pair frame (with wer_a / wer_b), summary, significance tests
    word_accuracy: pd.DataFrame  # word, count, accuracy_a, accuracy_b

    @property
    def per_utterance(self) -> pd.DataFrame:
        return self.comparison.utterances

    @property
    def tests(self) -> list[Any]:
        return self.comparison.tests

    @property
    def summary(self) -> dict[str, Any]:
        return self.comparison.summary


# ------------------------------------------------------------------------------------------ the analysis


def _text(value: Any) -> str:
    """A raw text field as a string (null or NA: empty)."""
    return value if isinstance(value, str) else ""


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
    """(start, stop) of each (testset, system) block; analysis writes each system's rows together. Found
    by comparing each row's keys with the previous row's in Arrow (no Python tuple per row)."""
    if table.empty:
        return {}
    n = len(table)
    change = np.zeros(n, dtype=bool)
    change[0] = True
    for column in ("testset", "system"):
        keys = arrow_column(table[column])
        change[1:] |= pc.fill_null(pc.not_equal(keys.slice(1), keys.slice(0, n - 1)), True).to_numpy(
            zero_copy_only=False
        )
    starts = np.flatnonzero(change).tolist()
    testsets, systems = table["testset"], table["system"]
    spans: dict[tuple[str, str], tuple[int, int]] = {}
    for start, stop in zip(starts, [*starts[1:], n], strict=True):
        key = (testsets.iat[start], systems.iat[start])
        if key in spans:  # not contiguous after all: callers fall back to a mask
            spans.pop(key)
            return spans
        spans[key] = (start, stop)
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


def _stack(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Per-test-set tables one under the other (empty ones, which may lack columns, left out)."""
    kept = [f for f in frames if not f.empty]
    return pd.concat(kept, ignore_index=True) if kept else pd.DataFrame()


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool | np.integer | np.floating | np.bool_) or value is None


def _reads_audio(context: Mapping[str, Any], grid_state: Mapping[str, Any]) -> bool:
    """Whether a grid view's order may depend on the audio measured so far: a column filter or sort on an
    audio metric or a hallucination column, the hallucinations quick filter, or a filter expression."""
    read = {*(grid_state.get("filterModel") or {})}
    read |= {s.get("colId") for s in grid_state.get("sortModel") or []}
    audio = {*AUDIO_METRICS, AUDIO_ERROR}
    return (
        bool(read & audio)
        or any(str(c).endswith("_hallucination") for c in read)
        or context.get("qf") == "hallucinations"
        or bool(str(context.get("q") or "").strip())
    )


class Analysis:
    """One normaliser's view of the results directory: the analysis tables plus memoised derived views."""

    def __init__(
        self,
        normalizer: str,
        utterances: pd.DataFrame,
        systems: pd.DataFrame,
        runs: Mapping[tuple[str, str], RunInfo | None],
        source: str,
        datasets: Mapping[str, pd.DataFrame] | None = None,
        vocabulary: Any = None,
        audio_metrics: AudioMetricsStore | None = None,
        keywords: Sequence[Any] = (),
        reference_words: Mapping[str, Mapping[str, Any]] | None = None,
        summaries: Summaries | None = None,
    ) -> None:
        self.normalizer = normalizer
        self.utterances = utterances
        self.system_table = systems
        self.runs = dict(runs)
        self.source = source  # what was opened, as the report names it
        self.datasets = dict(datasets or {})  # test sets without systems: analysis.tables.dataset_rows
        self.vocabulary = vocabulary  # --vocab (analysis.vocabulary.Vocabulary), else the runs' LMs
        self.audio_metrics = audio_metrics  # measured on demand (dashboard.audio_metrics), shared
        self.keywords = tuple(keywords)  # --keywords lists (analysis.word_classes.WordClass)
        self.reference_words = dict(reference_words or {})  # analysis.tables.Tables.reference_words
        self.load_seconds: dict[str, float] = {}  # where loading went (cached tables, or from scratch)
        self._summaries = summaries  # the leaderboard's cards, stored beside the cached tables
        self._memo = Memo()  # keyed by test set / system / model: bounded by the results themselves
        self._views = Memo(maxsize=VIEWS)  # keyed by users' choices of systems: least recently used go
        self._audio = Memo()  # views of the audio metrics measured so far: their newest version each
        self._latest_grid: dict[tuple[str, tuple[str, ...], str], GridTable] = {}  # its views carry over
        self._spans = _contiguous_spans(utterances)

    @cached_property
    def text_mode(self) -> Normalizer:
        """The text mode (normaliser) this analysis scored with: its spec and description name it."""
        return get_normalizer(self.normalizer)

    def _stored(
        self, name: str, compute: Callable[[], tuple[pd.DataFrame, ...]], inputs: str = ""
    ) -> tuple[pd.DataFrame, ...]:
        """A summary kept with the cached tables (``table_cache.Summaries``), or computed where none is."""
        return compute() if self._summaries is None else self._summaries.frames(name, compute, inputs)

    def _per_row(
        self, name: str, testset: str, system: str, compute: Callable[[], pd.DataFrame], inputs: str = ""
    ) -> pd.DataFrame:
        """A stored summary with a row per row of the system's (in their order): kept without its index
        and given the rows' back (rebuilding an index of a million ids on each read cost ~0.5 s)."""
        index = self.rows(testset, system).index
        (frame,) = self._stored(
            name, lambda: (compute().reset_index(drop=True),), f"{testset}|{system}|{inputs}"
        )
        return frame.set_axis(index)

    def memo(self, key: Hashable, compute: Callable[[], T]) -> T:
        """Memoise a derived view of this analysis (for modules that build on it, e.g. the report)."""
        return self._memo.get(key, compute)

    # ---- catalogue
    @cached_property
    def testsets(self) -> list[str]:
        return sorted({*self.utterances["testset"].unique().tolist(), *self.datasets})

    def systems(self, testset: str) -> list[str]:
        """The test set's systems grouped by model, decoders in pipeline order (``analysis.system_order``)."""

        def build() -> list[str]:
            names = self.utterances.loc[self.utterances["testset"] == testset, "system"].unique().tolist()
            table = self.system_table[self.system_table["testset"] == testset]
            decoders = dict(zip(table["system"], table["decoder"], strict=True))
            return sorted(names, key=lambda s: system_key(s, decoders.get(s)))

        return self._memo.get(("systems", testset), build)

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
        """The test set's utterances once (the first system's rows carry the reference fields; a dataset
        without systems has its own rows)."""
        systems = self.systems(testset)
        if systems:
            return self.rows(testset, systems[0])
        return self._memo.get(
            ("dataset-rows", testset), lambda: self.datasets[testset].set_index("utt_id", drop=False)
        )

    def stacked(self, testset: str, systems: Sequence[str]) -> pd.DataFrame:
        """These systems' rows one under another, with the scoring columns only (``UTTERANCE_COLUMNS``):
        what analysis' whole-set functions read, without a copy of the nested and per-stage fields (most
        of a row's bytes: gigabytes at 1M utterances x 4 systems)."""
        frames = []
        for system in systems:
            rows = self.rows(testset, system)
            frames.append(rows[[c for c in UTTERANCE_COLUMNS if c in rows]].reset_index(drop=True))
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=UTTERANCE_COLUMNS)

    def has_utterance(self, testset: str, utt_id: str) -> bool:
        return testset in self.testsets and self.position(testset, None, utt_id) is not None

    def position(self, testset: str, system: str | None, utt_id: str) -> int | None:
        """Row of ``utt_id`` in ``rows(testset, system)`` (``reference_rows`` when None): an index lookup,
        not a scan (``row_index``)."""
        return self._index(testset, system).position(utt_id)

    def positions(self, testset: str, system: str | None, utt_ids: Sequence[str]) -> list[int | None]:
        """``position`` of each of ``utt_ids`` (``row_index.RowIndex.positions``)."""
        return self._index(testset, system).positions(utt_ids)

    def _index(self, testset: str, system: str | None) -> RowIndex:
        """The ids' index of ``rows(testset, system)``; systems whose ids come in the reference's order
        share its index."""

        def build() -> RowIndex:
            rows = self.reference_rows(testset) if system is None else self.rows(testset, system)
            ids = arrow_column(rows["utt_id"])
            if system is not None:
                first = self._index(testset, None)
                if first.shares(ids):
                    return first
            return RowIndex(ids)

        return self._memo.get(("index", testset, system), build)

    def row(self, testset: str, system: str | None, utt_id: str) -> pd.Series | None:
        """One utterance's row of one system (of the reference rows when None), or None when absent."""
        at = self.position(testset, system, utt_id)
        if at is None:
            return None
        return (self.reference_rows(testset) if system is None else self.rows(testset, system)).iloc[at]

    # ---- leaderboard
    def leaderboard(self) -> pd.DataFrame:
        """The per-system table plus each system's paired-bootstrap p against its test set's best:
        Holm-adjusted (``p_vs_best_holm``, the one that marks significance) and raw (``p_vs_best``)."""

        def build() -> pd.DataFrame:
            from werbench.analysis.compare import versus_best

            names = {"p_value": "p_vs_best", "p_holm": "p_vs_best_holm", "p_text": "p_vs_best_text",
                     "p_holm_text": "p_vs_best_holm_text"}  # fmt: skip
            best = versus_best(self.utterances, self.system_table).rename(columns=names)
            kept = ["testset", "system", *names.values()]
            return (self.system_table.merge(best[kept], on=["testset", "system"], how="left"),)

        return self._memo.get(("leaderboard",), lambda: self._stored("leaderboard", build)[0])

    def system_figures(self, measure: str = DEFAULT_MEASURE) -> pd.DataFrame:
        """The leaderboard with each system's answers beside its WER, as the report's systems.csv has them
        (analysis.report_data.system_figures), confidence under ``measure``: the leaderboard CSV."""

        def build() -> pd.DataFrame:
            from werbench.analysis.report_data import system_figures

            scored = [ts for ts in self.testsets if self.systems(ts)]
            return system_figures(
                self.leaderboard(),
                punctuation=self.case_punctuation(),
                classes=_stack([self.word_classes(ts) for ts in scored]),
                confidence=self.confidence()[0],
                hallucinations=self.hallucinations(),
                attribution=_stack([self.error_attribution(ts) for ts in scored]),
                measure=measure,
            )

        return self._memo.get(("system-figures", measure), build)

    # ---- utterance grid
    def extra_columns(self, testset: str) -> list[str]:
        """Manifest fields beyond the contract's columns holding scalars (lists/dicts stay in the detail)."""

        def build() -> list[str]:
            rows = self.reference_rows(testset)
            extra = [
                c
                for c in rows.columns
                if c not in UTTERANCE_COLUMNS
                and c not in PREDICTION_FIELDS
                and c not in ("testset", "audio_filepath", "text", "offset")
            ]
            sample = rows.head(200)
            return [c for c in extra if all(_scalar(v) for v in sample[c].tolist())]

        return self._memo.get(("extra", testset), build)

    def utterance_grid(
        self, testset: str, systems: tuple[str, ...], measure: str = DEFAULT_MEASURE
    ) -> GridTable:
        """The utterance grid, its confidence columns under ``measure`` (analysis.confidence.MEASURES), at
        the audio metrics measured so far (their version is in the key): a new version replaces only the
        audio-dependent columns of the grid built once (``_grid_columns``) and keeps the sorted and
        filtered views that read none of them. Opening one utterance measures its audio: rebuilding the
        whole grid then cost seconds per view at 1M rows."""
        version = self.audio_version(testset)

        def build() -> GridTable:
            if self.has_audio(testset):  # an utterance opened from the grid measures its audio
                self.audio_metrics.warm_up()
            grid = self._grid_at(testset, systems, measure)
            self._latest_grid.pop((testset, systems, measure), None)
            self._latest_grid[(testset, systems, measure)] = grid
            while len(self._latest_grid) > VIEWS:  # as many as the views memo keeps: the rest are gone
                del self._latest_grid[next(iter(self._latest_grid))]
            return grid

        return self._views.newest(("grid", testset, systems, measure), version, build)

    def has_audio(self, testset: str) -> bool:
        """Whether audio metrics can be measured here: the rows have audio paths and carry no metrics of
        their own (a manifest SDE wrote with ``-a`` has ``freq_bandwidth``: its fields are shown instead)."""
        rows = self.reference_rows(testset)
        return (
            self.audio_metrics is not None
            and "audio_filepath" in rows
            and not any(c in rows for c in (*AUDIO_METRICS, AUDIO_ERROR))
        )

    def audio_version(self, testset: str) -> int:
        return self.audio_metrics.version(testset) if self.audio_metrics is not None else 0

    def audio_frame(self, testset: str) -> pd.DataFrame | None:
        """The audio metrics measured so far, a row per reference row (None: the test set has no audio)."""
        if not self.has_audio(testset):
            return None

        def build() -> pd.DataFrame:
            rows = self.reference_rows(testset)
            return self.audio_metrics.frame(testset, arrow_column(rows["utt_id"])).set_axis(rows.index)

        return self._audio.newest(("audio", testset), self.audio_version(testset), build)

    def _grid_at(self, testset: str, systems: tuple[str, ...], measure: str) -> GridTable:
        """``numeric_grid`` with each system's hallucination flags (with the audio levels measured so far)."""
        columns = self.numeric_grid(testset, systems, measure)
        frame, labels = columns.frame.copy(deep=False), dict(columns.labels)  # columns shared, not copied
        shown = self.has_audio(testset) and self.audio_metrics.measured(testset) > 0
        changed = [*AUDIO_METRICS, AUDIO_ERROR] if shown else []
        for k, system in enumerate(systems):
            flags = self.hallucination_flags(testset, system, audio=shown)["hallucination"]
            at = frame.columns.get_loc(f"s{k}_failed") + 1
            frame.insert(at, f"s{k}_hallucination", self._on_reference_rows(testset, system, flags))
            labels[f"s{k}_hallucination"] = f"{system} hallucination"
            changed.append(f"s{k}_hallucination")
        frame.attrs["systems"] = systems
        # columns once something is measured (until then they would push the systems' WER off screen);
        # the filter expression knows the fields either way
        defs = utterance_columns(
            systems, columns.extra, columns.numeric, audio=shown, speaker=columns.speaker,
            confidence=columns.confidence,
        )  # fmt: skip
        csv_columns = [c for c in frame.columns if not c.endswith(("_sentence_error", "_failed"))]
        previous = self._latest_grid.get((testset, systems, measure))
        table = ServerSideTable(frame) if previous is None else previous.table.carried(frame, changed)
        return GridTable(
            table,
            defs,
            {c: labels.get(c, c) for c in csv_columns},
            f"utterances-{testset}-{self.normalizer}.csv",
            csv_columns,
            self.grid_fields(testset, systems, measure),
        )

    def grid_fields(
        self, testset: str, systems: tuple[str, ...], measure: str = DEFAULT_MEASURE
    ) -> dict[str, Any]:
        """The names a filter expression, a histogram or a scatter may use on the utterance grid
        (``grid_config.filter_fields``), known without computing the hallucination flags or confidences."""
        columns = self.numeric_grid(testset, systems, measure, confidence=False)
        return filter_fields(
            systems, columns.extra, columns.numeric, audio=self.has_audio(testset), speaker=columns.speaker,
            confidence=columns.confidence,
        )  # fmt: skip

    def numeric_grid(
        self, testset: str, systems: tuple[str, ...], measure: str = DEFAULT_MEASURE, confidence: bool = True
    ) -> GridColumns:
        """The utterance grid's columns but the hallucination flags (what histograms and scatters read:
        the flags' loop search costs seconds at 1M rows), with the audio metrics measured so far; without
        the confidence counts if ``confidence`` is false (a view that reads none: they cost ~0.5 s per
        100k rows of a system)."""
        key = ("grid-columns", testset, systems) + ((measure,) if confidence else ())
        columns = self._views.get(
            key,
            lambda: (
                self._with_confidence(testset, systems, measure)
                if confidence
                else self._grid_columns(testset, systems)
            ),
        )
        audio = self.audio_frame(testset)
        if audio is None or not self.audio_metrics.measured(testset):
            return columns
        frame = columns.frame.copy(deep=False)
        for column in (*AUDIO_METRICS, AUDIO_ERROR):
            frame[column] = audio[column].array
        return replace(columns, frame=frame)

    def _on_reference_rows(self, testset: str, system: str, texts: pd.Series) -> Any:
        """A text column of the system's rows in the reference rows' order, blank where it has no row (its
        array as it is when the ids come in the same order, as they usually do: no hash of a million ids,
        no conversion)."""
        if self._same_order(testset, system):
            return texts.array
        return texts.reindex(self.reference_rows(testset).index).fillna("").array

    def _same_order(self, testset: str, system: str) -> bool:
        """Whether the system's rows hold the reference rows' ids in the same order (they share an index)."""
        return self._index(testset, system) is self._index(testset, None)

    def _grid_columns(self, testset: str, systems: tuple[str, ...]) -> GridColumns:
        """``numeric_grid`` before any audio is measured (its metrics blank), without confidence counts."""
        base = self.reference_rows(testset)
        extra = self.extra_columns(testset)
        columns = ["utt_id", "ref", "duration", "speaker", "ref_words", "ref_chars", *extra]
        frame = base[columns].reset_index(drop=True)
        rates = speaking_rates(base)
        frame.insert(6, "words_per_s", rates["words_per_s"].to_numpy())
        frame.insert(7, "chars_per_s", rates["chars_per_s"].to_numpy())
        if self.has_audio(testset):
            for at, column in enumerate(AUDIO_METRICS, start=8):
                frame.insert(at, column, np.full(len(frame), np.nan))
            frame.insert(8 + len(AUDIO_METRICS), AUDIO_ERROR, error_column(len(frame)))
        labels = {"utt_id": "utt_id", "ref": "reference", "ref_words": "ref_words", "ref_chars": "ref_chars"}
        for k, system in enumerate(systems):
            rows = self.rows(testset, system)
            rows = rows if rows.index.equals(base.index) else rows.reindex(base.index)
            for col in (*PER_SYSTEM, "sentence_error", "failed"):
                values = deletions_minus_insertions(rows) if col == "d_minus_i" else rows[col].array
                frame[f"s{k}_{col}"] = values  # keeps Arrow-backed text as it is: no object copy
                labels[f"s{k}_{col}"] = f"{system} {col}"
        numeric = {c for c in extra if pd.api.types.is_numeric_dtype(frame[c])}
        speaker = bool(frame["speaker"].notna().any())
        with_confidence = {k for k, s in enumerate(systems) if self._confidence_rows(testset, s) is not None}
        return GridColumns(frame, labels, extra, numeric, speaker, with_confidence)

    def _with_confidence(self, testset: str, systems: tuple[str, ...], measure: str) -> GridColumns:
        """``_grid_columns`` with each system's confidence counts under ``measure`` after its own columns."""
        columns = self.numeric_grid(testset, systems, measure, confidence=False)
        frame, labels = columns.frame.copy(deep=False), dict(columns.labels)
        index = self.reference_rows(testset).index
        for k in sorted(columns.confidence):
            counts = self.confidence_counts(testset, systems[k], measure)
            at = frame.columns.get_loc(f"s{k}_failed") + 1
            for offset, col in enumerate(CONFIDENCE_COUNTS):
                frame.insert(at + offset, f"s{k}_{col}", counts[col].reindex(index).to_numpy(float))
                labels[f"s{k}_{col}"] = f"{systems[k]} {col}"
        return replace(columns, frame=frame, labels=labels)

    def _levels(self, testset: str, system: str) -> np.ndarray | None:
        """Audio peak levels measured so far on the system's rows (NaN: not yet), for words on silence."""
        audio = self.audio_frame(testset)
        if audio is None or not self.audio_metrics.measured(testset):
            return None
        if self._same_order(testset, system):
            return audio["level_db"].to_numpy(float)
        return audio["level_db"].reindex(self.rows(testset, system).index).to_numpy(float)

    def hallucination_flags(self, testset: str, system: str, audio: bool = True) -> pd.DataFrame:
        """analysis.hallucinations.utterance_flags of one system (indexed by utt_id), with the audio levels
        measured so far (``audio=False``: without; the costly part, computed once and reused for each new
        version of the levels)."""
        from werbench.analysis.hallucinations import utterance_flags

        text = self._memo.get(
            ("hallucinations", testset, system),
            lambda: self._per_row(
                "hallucination-flags", testset, system, lambda: utterance_flags(self.rows(testset, system))
            ),
        )
        if not audio:
            return text
        return self._audio.newest(
            ("hallucinations", testset, system),
            self.audio_version(testset),
            lambda: utterance_flags(
                self.rows(testset, system), levels=self._levels(testset, system), text=text
            ),
        )

    def _confidence_rows(self, testset: str, system: str) -> pd.DataFrame | None:
        """One system's rows with the columns analysis.confidence reads (texts, ops, ``word_confidence``
        as stored: Arrow lists are read as they are), or None when its words carry no confidences."""
        rows = self.rows(testset, system)
        if "word_confidence" not in rows or not rows["word_confidence"].notna().any():
            return None
        wanted = [
            "testset",
            "system",
            "utt_id",
            "ref",
            "hyp",
            "ops",
            "failed",
            "pred_text",
            "word_confidence",
        ]
        return rows[[c for c in wanted if c in rows]]

    def confidence_counts(self, testset: str, system: str, measure: str) -> pd.DataFrame | None:
        """analysis.confidence.utterance_confidence of one system under ``measure`` (indexed by utt_id: its
        confident errors and doubtful-but-right words), or None when its words carry no confidences."""

        def build() -> pd.DataFrame | None:
            from werbench.analysis.confidence import utterance_confidence

            rows = self._confidence_rows(testset, system)
            if rows is None:
                return None
            return self._per_row(
                "confidence-counts", testset, system,
                lambda: utterance_confidence(rows, self.text_mode, measure), measure,
            )  # fmt: skip

        return self._memo.get(("confidence-counts", testset, system, measure), build)

    def confidence(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """analysis.confidence.confidence_tables of every test set's systems with word confidences: per
        system and measure AUC-ROC, AUC-PR, NCE, ECE; the default measure's reliability diagram."""

        def build() -> tuple[pd.DataFrame, pd.DataFrame]:
            from werbench.analysis.confidence import confidence_tables

            frames = [
                self._confidence_rows(testset, system)
                for testset in self.testsets
                for system in self.systems(testset)
            ]
            # a system at a time: one table of every system's nested confidences was gigabytes at 1M x 4
            return confidence_tables([f for f in frames if f is not None], self.text_mode)

        return self._memo.get(("confidence",), lambda: self._stored("confidence", build))

    def error_attribution(self, testset: str) -> pd.DataFrame:
        """analysis.lineage.error_attribution of the test set's lineage groups: each system's errors kept
        from its greedy root, introduced, fixed, and its search errors (from its n-best)."""

        def build() -> pd.DataFrame:
            from werbench.analysis.lineage import error_attribution, lineage_groups
            from werbench.analysis.nbest import nbest_oracle

            members = sorted(
                {m for names in lineage_groups(self.system_table, testset).values() for m in names}
            )
            if not members:
                return pd.DataFrame()
            wanted = [*UTTERANCE_COLUMNS, "greedy_text", "beam_text", "nbest"]
            frames = []
            for system in members:
                rows = self.rows(testset, system)
                frames.append(rows[[c for c in wanted if c in rows]].reset_index(drop=True))
            rows = decoded(pd.concat(frames, ignore_index=True))
            oracle, _ = nbest_oracle(rows, normalize=self.text_mode)
            table, _ = error_attribution(
                rows, normalize=self.text_mode, systems=self.system_table, nbest_utterances=oracle
            )
            return table

        return self._memo.get(("error-attribution", testset), build)

    def hallucinations(self) -> pd.DataFrame:
        """analysis.hallucinations.hallucination_summary of every test set's systems (the leaderboard's)."""

        def build() -> pd.DataFrame:
            from werbench.analysis.hallucinations import hallucination_summary

            parts = []
            for testset in self.testsets:
                for system in self.systems(testset):
                    rows, flags = self.rows(testset, system), self.hallucination_flags(testset, system)
                    levels = self._levels(testset, system)
                    parts.append(hallucination_summary(rows, levels=levels, flags=flags))
            return pd.concat(parts, ignore_index=True) if parts else hallucination_summary(pd.DataFrame())

        version = sum(self.audio_version(t) for t in self.testsets)  # each only grows: so does the sum
        if version == 0:  # no audio measured: the text's flags alone, the same in every process
            return self._audio.newest(
                ("hallucination-summary",),
                0,
                lambda: self._stored("hallucination-summary", lambda: (build(),))[0],
            )
        return self._audio.newest(("hallucination-summary",), version, build)

    def case_punctuation(self) -> pd.DataFrame:
        """analysis.case_punctuation's per-system table (punctuation and case error rates) of every test set
        whose references carry marks or case, with each system's normalised WER beside it."""

        def build() -> pd.DataFrame:
            from werbench.analysis.case_punctuation import case_punctuation_tables

            summary, _ = case_punctuation_tables(self.utterances, self.text_mode)
            wer = self.system_table[["testset", "system", "wer"]]
            return (summary.merge(wer, on=["testset", "system"], how="left"),)

        return self._memo.get(("case-punctuation",), lambda: self._stored("case-punctuation", build)[0])

    def view_filter(self, context: Mapping[str, Any]) -> QuickFilter | None:
        """The mask of a grid view's quick filter AND its typed filter expression (``context``: ``ts``,
        ``systems``, ``qf``, ``a``, ``b``, ``q``); a malformed expression filters nothing (pages say why)."""
        systems = tuple(context["systems"])
        quick = quick_filter(systems, context.get("qf", "all"), context.get("a"), context.get("b"))
        try:
            expression = self.expression_filter(
                context["ts"], systems, context.get("q", ""), context.get("cm", DEFAULT_MEASURE)
            )
        except FilterError:
            expression = None
        if quick is None or expression is None:
            return quick or expression
        (quick_key, quick_mask), (expr_key, expr_mask) = quick, expression
        return f"{quick_key}&{expr_key}", lambda frame: quick_mask(frame) & expr_mask(frame)

    def expression_filter(
        self, testset: str, systems: tuple[str, ...], expression: str, measure: str = DEFAULT_MEASURE
    ) -> QuickFilter | None:
        """The typed filter expression as a mask on the utterance grid (``FilterError`` when malformed)."""
        if not expression.strip():
            return None
        grid = self.utterance_grid(testset, systems, measure)
        return f"q:{expression.strip()}", parse_filter(expression.strip(), grid.filter_fields)

    def neighbours(
        self, context: Mapping[str, Any], grid_state: Mapping[str, Any], utt_id: str
    ) -> Neighbours:
        """Previous/next utterance in the list the user came from (same column filters, sort, quick filter
        and filter expression). A list that reads no audio-dependent column has the same order in the
        grid last built: opening an utterance measures its audio, and building the grid at that new
        version (its audio columns, the hallucination flags with levels) cost ~65 ms a view at 1M rows."""
        key = (context["ts"], tuple(context["systems"]), context.get("cm", DEFAULT_MEASURE))
        grid = self._latest_grid.get(key)
        if grid is None or _reads_audio(context, grid_state):
            grid = self.utterance_grid(*key)
        mask = self.view_filter(context)
        try:
            rows = grid.table.view(grid_state.get("filterModel"), grid_state.get("sortModel"), mask)
        except ValueError:
            rows = grid.table.view(None, None, mask)
        position = self.position(context["ts"], None, utt_id)  # the grid's rows are the reference rows
        where = np.flatnonzero(rows == position) if position is not None else []
        if not len(where):
            return Neighbours(None, None, 0, len(rows))
        at = int(where[0])
        ids = grid.table.frame["utt_id"]
        prev_id = str(ids.iat[rows[at - 1]]) if at > 0 else None
        next_id = str(ids.iat[rows[at + 1]]) if at + 1 < len(rows) else None
        return Neighbours(prev_id, next_id, at + 1, len(rows))

    # ---- one utterance
    def utterance_detail(
        self, testset: str, utt_id: str, systems: tuple[str, ...], measure: str = DEFAULT_MEASURE
    ) -> UtteranceDetail:
        """One utterance: its fields and each system's diff (words with their ``measure`` confidence; as
        written too), lineage and n-best."""
        from werbench.analysis.case_punctuation import raw_diff

        base = self.row(testset, None, utt_id)
        if base is None:
            raise KeyError(utt_id)
        fields = {k: v for k, v in base.items() if k not in SYSTEM_FIELDS and _scalar(v) and not pd.isna(v)}
        hypotheses = []
        for system in systems:
            row = self.row(testset, system, utt_id)
            if row is None:
                continue
            failed = bool(row["failed"])
            raw = None if failed else raw_diff(
                str(row["ops"]), _text(row.get("text")), _text(row.get("pred_text")), str(row["ref"]),
                str(row["hyp"]), self.text_mode,
            )  # fmt: skip
            hypotheses.append(
                HypothesisView(
                    system, str(row["ref"]), str(row["hyp"]), int(row["C"]), int(row["S"]), int(row["D"]),
                    int(row["I"]), float(row["wer"]), float(row["cer"]), failed,
                    row.get("failure") if isinstance(row.get("failure"), str) else None,
                    [] if failed else replay(str(row["ops"]), str(row["ref"]), str(row["hyp"])),
                    _json_list(row.get("word_times")), raw,
                    None if failed else hypothesis_confidence(
                        row.get("pred_text"), _json_list(row.get("word_confidence")), str(row["hyp"]),
                        self.text_mode, measure,
                    ),
                )
            )  # fmt: skip
        return UtteranceDetail(
            testset, utt_id, str(base["ref"]), fields, hypotheses, _text(base.get("text")),
            self._lineage(testset, utt_id, systems),
            self._nbest(testset, utt_id, systems),
        )  # fmt: skip

    def utterance_audio_metrics(self, testset: str, utt_id: str) -> dict[str, str]:
        """One utterance's audio metrics, measured now if not yet (one file), as label -> shown value;
        unreadable audio is one ``Audio problem`` entry; empty without audio."""
        if not self.has_audio(testset):
            return {}
        self.audio_metrics.measure(testset, [utt_id])
        row = self.audio_metrics.frame(testset, [utt_id]).iloc[0]
        if isinstance(row[AUDIO_ERROR], str) and row[AUDIO_ERROR]:  # a blank is None or NA
            return {"Audio problem": row[AUDIO_ERROR]}
        digits = {"freq_bandwidth": 0, "level_db": 1, "snr_db": 1}
        return {
            AUDIO_LABELS[m]: "—" if not np.isfinite(row[m]) else f"{row[m]:,.{digits[m]}f}"
            for m in AUDIO_METRICS
        }

    def _nbest(self, testset: str, utt_id: str, systems: tuple[str, ...]) -> dict[str, list[NBestEntry]]:
        from werbench.analysis.nbest import nbest_entries

        return nbest_entries(self._utterance_rows(testset, utt_id, systems), normalize=self.text_mode)

    def _utterance_rows(self, testset: str, utt_id: str, systems: Sequence[str]) -> pd.DataFrame:
        """This utterance's row of each system, nested fields decoded: what analysis' functions take
        (sliced by position: a one-row slice of each column, never a gather over the whole table)."""
        frames = []
        for system in systems:
            at = self.position(testset, system, utt_id)
            if at is not None:
                frames.append(self.rows(testset, system).iloc[at : at + 1])
        return decoded(pd.concat(frames, ignore_index=True)) if frames else pd.DataFrame()

    def _lineage(self, testset: str, utt_id: str, systems: tuple[str, ...]) -> dict[str, list[StageAt]]:
        """This utterance's place in each decoder lineage (analysis.lineage_groups) that holds one of
        ``systems``, computed from its own rows only (the tree's shape judged on the whole test set):
        systems without recorded provenance have none."""
        from werbench.analysis.lineage import lineage_groups, model_lineage

        trees = {}
        for model, members in lineage_groups(self.system_table, testset).items():
            if not set(members) & set(systems):
                continue
            rows = self._utterance_rows(testset, utt_id, members)
            if rows.empty:
                continue
            stages = model_lineage(
                rows, testset, model, normalize=self.text_mode, systems=self.system_table,
                saved=lambda system, column: self._saved(testset, system, column),
            ).at(utt_id)  # fmt: skip
            if stages is not None:
                trees[model] = stages
        return trees

    def _saved(self, testset: str, system: str, column: str) -> bool:
        """Whether ``system`` saved the stage text ``column`` for any utterance of the test set."""

        def build() -> bool:
            rows = self.rows(testset, system)
            return column in rows and bool(rows[column].notna().any())

        return self._memo.get(("saved", testset, system, column), build)

    # ---- dataset statistics
    def dataset_stats(self, testset: str) -> DatasetStats:
        return self._memo.get(("dataset", testset), lambda: self._dataset_stats(testset))

    def _dataset_stats(self, testset: str) -> DatasetStats:
        """The OOV rate needs the first system's word accuracy with OOV flags: without a vocabulary
        there are no flags, so no error tables are computed for it."""
        vocabulary, source = self.vocabulary_for(testset)
        words = self.reference_words.get(testset)
        if vocabulary is None:
            return dataset_stats(self.reference_rows(testset), None, source, words=words)
        accuracy, _ = self.word_accuracy(testset, tuple(self.systems(testset)[:1]))
        return dataset_stats(self.reference_rows(testset), accuracy, source, words=words)

    # ---- errors
    def vocabulary_for(self, testset: str) -> tuple[Any, str | None]:
        """The LM vocabulary the test set's systems were decoded with (for OOV flags), if one is readable."""

        def load() -> tuple[Any, str | None]:
            from werbench.analysis.vocabulary import load_vocabulary

            if self.vocabulary is not None:
                return self.vocabulary, Path(self.vocabulary.source).name
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

            vocabulary, _ = self.vocabulary_for(testset)
            return error_tables(self.stacked(testset, systems), vocabulary=vocabulary)

        return self._views.get(("errors", testset, systems), build)

    def word_class_list(self, testset: str) -> list[Any]:
        """The test set's word classes (analysis.word_classes.default_classes): numbers, OOV against its
        vocabulary, names when its raw references carry case, and the ``--keywords`` lists."""

        def build() -> list[Any]:
            from werbench.analysis.word_classes import default_classes

            vocabulary, _ = self.vocabulary_for(testset)
            raw = self.reference_rows(testset).get("text", [])
            return default_classes(raw, self.text_mode, vocabulary, self.keywords)

        return self._memo.get(("word-class-list", testset), build)

    def word_classes(self, testset: str) -> pd.DataFrame:
        """analysis.word_classes.class_table of every system of the test set (recall, precision, F1, CIs)."""

        def build() -> pd.DataFrame:
            from werbench.analysis.word_classes import class_table, classes_digest

            if not self.systems(testset):
                return class_table(pd.DataFrame(), [])
            classes = self.word_class_list(testset)
            return self._stored(
                "word-classes",
                lambda: (class_table(self.stacked(testset, self.systems(testset)), classes),),
                f"{testset}|{classes_digest(classes)}",
            )[0]

        return self._memo.get(("word-classes", testset), build)

    def word_class_comparison(self, testset: str, a: str, b: str) -> pd.DataFrame:
        """analysis.word_classes.class_comparison: per class, which of A and B recalls more."""

        def build() -> pd.DataFrame:
            from werbench.analysis.word_classes import class_comparison

            return class_comparison(
                self.stacked(testset, (a, b)), self.word_class_list(testset), a, b, testset
            )

        return self._views.get(("word-class-compare", testset, a, b), build)

    def word_accuracy(self, testset: str, systems: tuple[str, ...]) -> tuple[pd.DataFrame, str | None]:
        """analysis' per-word accuracy of ``systems``; with none, the reference words' counts, OOV flags."""
        vocabulary, source = self.vocabulary_for(testset)
        if not systems:
            return self._memo.get(
                ("reference-words", testset),
                lambda: reference_vocabulary(self.reference_rows(testset), vocabulary),
            ), source
        return self.error_tables(testset, systems).word_accuracy, source

    def vocabulary_grid(self, testset: str, systems: tuple[str, ...]) -> GridTable:
        return self._memo.get(
            ("vocab-grid", testset, systems), lambda: self._vocabulary_grid(testset, systems)
        )

    def vocabulary_column_defs(self, testset: str, systems: tuple[str, ...]) -> list[dict[str, Any]]:
        """The vocabulary grid's columns, known before its rows are computed (the page shows first, the
        grid's first block computes the error tables)."""
        return vocabulary_columns(systems, self.vocabulary_for(testset)[1])

    def _vocabulary_grid(self, testset: str, systems: tuple[str, ...]) -> GridTable:
        accuracy, _ = self.word_accuracy(testset, systems)
        frame = (
            word_accuracy_side_by_side(accuracy, systems) if systems else accuracy[["word", "count", "oov"]]
        )
        frame["oov"] = frame["oov"].map(lambda v: "" if pd.isna(v) else ("OOV" if v else ""))
        labels = {"word": "word", "count": "count", "oov": "oov"}
        for k, system in enumerate(systems):
            frame = frame.rename(columns={f"accuracy_{k}": f"s{k}_acc", f"errors_{k}": f"s{k}_err"})
            labels[f"s{k}_acc"], labels[f"s{k}_err"] = f"{system} accuracy", f"{system} errors"
        return GridTable(
            ServerSideTable(frame[list(labels)]),
            self.vocabulary_column_defs(testset, systems),
            labels,
            f"vocabulary-{testset}-{self.normalizer}.csv",
            list(labels),
        )

    def breakdown(self, testset: str, systems: tuple[str, ...], by: str) -> pd.DataFrame:
        """WER with CI per value of ``by`` for each system (analysis.breakdown); an audio metric joins
        what has been measured (the rest is the ``(missing)`` group)."""

        def build() -> pd.DataFrame:
            from werbench.analysis.breakdown import breakdown

            audio = self.audio_frame(testset) if by in AUDIO_METRICS else None
            frames = []
            for system in systems:
                rows = self.rows(testset, system)
                if audio is not None:
                    rows = rows.assign(**{by: audio[by].reindex(rows.index).to_numpy()})
                frames.append(rows.reset_index(drop=True))
            return breakdown(pd.concat(frames, ignore_index=True), by).rename(columns={by: "value"})

        version = self.audio_version(testset) if by in AUDIO_METRICS else 0
        return self._views.newest(("breakdown", testset, systems, by), version, build)

    def breakdown_fields(self, testset: str) -> list[str]:
        """Fields worth a breakdown: speaker, duration buckets, scalar manifest fields of few values, and
        the audio metrics once some are measured."""
        rows = self.reference_rows(testset)
        fields = ["speaker", "duration"]
        for column in self.extra_columns(testset):
            if column in rows and 1 < rows[column].nunique() <= 60:
                fields.append(column)
        if self.has_audio(testset) and self.audio_metrics.measured(testset):
            fields.extend(AUDIO_METRICS)
        return fields

    # ---- comparison
    def comparison(self, testset: str, a: str, b: str) -> PairView:
        return self._views.get(("compare", testset, a, b), lambda: self._comparison(testset, a, b))

    def _comparison(self, testset: str, a: str, b: str) -> PairView:
        from werbench.analysis.compare import compare_systems

        comparison = compare_systems(self.stacked(testset, (a, b)), a, b, testset=testset)
        accuracy, _ = self.word_accuracy(testset, (a, b))
        side_by_side = word_accuracy_side_by_side(accuracy, (a, b))
        renamed = {"accuracy_0": "accuracy_a", "accuracy_1": "accuracy_b"}
        word_acc = side_by_side.rename(columns=renamed)[["word", "count", "accuracy_a", "accuracy_b"]]
        return PairView(testset, a, b, comparison, word_acc)

    def three_way(self, testset: str, utt_id: str, a: str, b: str) -> list[Any]:
        """analysis.compare.three_way columns (reference / A / B) of one utterance."""
        from werbench.analysis.compare import three_way

        row_a, row_b = self.row(testset, a, utt_id), self.row(testset, b, utt_id)
        if row_a is None or row_b is None:
            raise KeyError(utt_id)
        return three_way(
            str(row_a["ref"]), str(row_a["hyp"]), str(row_a["ops"]), str(row_b["hyp"]), str(row_b["ops"])
        )
