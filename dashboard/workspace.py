"""What ``werbench serve`` opened as the dashboard sees it: one ``Analysis`` (``dashboard.data``) per
normaliser, over a results directory or NeMo manifests (``Source``)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
from werbench.analysis.audio_metrics import AudioMetricsCache
from werbench.analysis.cache import cache_root
from werbench.dashboard.audio import AudioSource
from werbench.dashboard.audio_metrics import AudioMetricsStore
from werbench.dashboard.data import NORMALIZERS, Analysis
from werbench.dashboard.memo import Memo
from werbench.dashboard.row_index import arrow_column
from werbench.manifests.errors import ConfigError, ManifestError
from werbench.manifests.io import refuse_empty
from werbench.manifests.normalize import default_normalizer as default_text_mode
from werbench.manifests.normalize import get_normalizer
from werbench.manifests.results import iter_systems, read_run_info, refuse_url

log = logging.getLogger(__name__)
# what chooses the rows behind the stored leaderboard cards (the analysis that computes them is in the key)
SUMMARY_CODE = ("werbench.dashboard.data",)


@dataclass(frozen=True)
class Source:
    """What ``werbench serve`` opened: a results directory, or NeMo manifests as SDE opens them
    (``audio_base``: SDE's ``--audio-base-path``; ``vocab``: a word list for OOV flags, SDE's ``--vocab``)."""

    results_dir: Path | None = None
    manifests: tuple[Path, ...] = ()
    audio_base: Path | None = None
    vocab: Path | None = None
    keywords: tuple[Path, ...] = ()  # keyword lists: a word class each (analysis.word_classes)

    @classmethod
    def of(
        cls,
        paths: str | Path | Sequence[str | Path],
        audio_base: Path | None = None,
        vocab: Path | None = None,
        keywords: Sequence[Path] = (),
    ) -> Source:
        """One folder is a results directory; files are manifests (a folder among files is an error)."""
        paths = [Path(paths)] if isinstance(paths, str | Path) else [Path(p) for p in paths]
        for path in paths:
            refuse_url(path)
        if len(paths) == 1 and paths[0].is_dir():
            if audio_base is not None:
                raise ManifestError(
                    paths[0], "--audio-base-path is for manifest files, not a results directory"
                )
            return cls(results_dir=paths[0], vocab=vocab, keywords=tuple(keywords))
        for path in paths:
            if path.is_dir():
                raise ManifestError(
                    path, "a results directory is served on its own, not beside manifest files"
                )
            if not path.is_file():
                raise ManifestError(path, "results directory not found, nor a manifest file of that name")
            refuse_empty(path)
        if audio_base is not None and not audio_base.is_dir():
            raise ManifestError(audio_base, "--audio-base-path is not a folder")
        return cls(manifests=tuple(paths), audio_base=audio_base, vocab=vocab, keywords=tuple(keywords))

    @property
    def label(self) -> str:
        return str(self.results_dir) if self.results_dir else ", ".join(map(str, self.manifests))


class Workspace:
    """What ``serve`` opened, as the dashboard sees it: an ``Analysis`` per normaliser, built once, shared."""

    def __init__(
        self, source: Source | Path, default_normalizer: str | None = None, cache_dir: Path | None = None
    ) -> None:
        """``default_normalizer=None``: the text mode every run recorded, else ``none`` (as ``score``)."""
        self.source = source if isinstance(source, Source) else Source.of(source)
        self.results_dir = self.source.results_dir
        self.cache_dir = None if cache_dir is None else Path(cache_dir)
        self._memo = Memo()
        root = cache_root() if self.cache_dir is None else self.cache_dir
        self.audio_metrics = AudioMetricsStore(self.audio_sources, AudioMetricsCache(root))
        refs = iter_systems(self.results_dir) if self.results_dir else ()
        self.runs = {(ref.testset, ref.system): read_run_info(ref) for ref in refs}
        if default_normalizer is None:
            recorded = [info.normalizer for info in self.runs.values() if info is not None]
            try:
                default_normalizer = get_normalizer(default_text_mode(recorded)).name
            except ConfigError as exc:  # a spec this werbench cannot honour: the page still opens
                log.warning("%s; the dashboard opens with the text mode none", exc)
                default_normalizer = "none"
        self.default_normalizer = default_normalizer
        self.vocabulary(default_normalizer)  # a bad --vocab is an error at start-up, not on a page
        self.keyword_lists(default_normalizer)  # and so is a bad --keywords list

    def vocabulary(self, normalizer: str) -> Any:
        """The ``--vocab`` word list under ``normalizer`` (analysis.vocabulary.load_vocabulary), or None."""
        if self.source.vocab is None:
            return None

        def load() -> Any:
            from werbench.analysis.vocabulary import load_vocabulary

            return load_vocabulary(self.source.vocab, get_normalizer(normalizer))

        return self._memo.get(("vocab", normalizer), load)

    def keyword_lists(self, normalizer: str) -> list[Any]:
        """The ``--keywords`` lists under ``normalizer`` (analysis.word_classes.load_keywords)."""

        def load() -> list[Any]:
            from werbench.analysis.word_classes import load_keywords

            return [load_keywords(path, get_normalizer(normalizer)) for path in self.source.keywords]

        return self._memo.get(("keywords", normalizer), load)

    def analysis(self, normalizer: str) -> Analysis:
        if normalizer not in NORMALIZERS:
            normalizer = self.default_normalizer
        return self._memo.get(("analysis", normalizer), lambda: self._score(normalizer))

    def _score(self, normalizer: str) -> Analysis:
        from werbench.analysis.table_cache import TableOptions, manifest_tables, results_tables, summaries

        timings: dict[str, float] = {}
        options = TableOptions(normalize=normalizer)
        if self.results_dir is not None:
            tables = results_tables(self.results_dir, options, cache_dir=self.cache_dir, timings=timings)
        else:
            tables = manifest_tables(
                list(self.source.manifests), options, audio_base=self.source.audio_base,
                cache_dir=self.cache_dir, timings=timings,
            )  # fmt: skip
        for warning in tables.warnings:
            log.warning("%s", warning)
        analysis = Analysis(
            normalizer, tables.utterances, tables.systems, self.runs, self.source.label,
            tables.datasets, self.vocabulary(normalizer), self.audio_metrics,
            self.keyword_lists(normalizer), tables.reference_words,
            summaries(tables, self.cache_dir, code=SUMMARY_CODE),
        )  # fmt: skip
        analysis.load_seconds = timings
        return analysis

    def audio_source(self, testset: str, utt_id: str) -> AudioSource | None:
        """The audio of one loaded utterance, or None: the only files the audio route serves."""
        return self.audio_sources(testset, [utt_id])[0]

    def audio_sources(self, testset: str, utt_ids: Sequence[str]) -> list[AudioSource | None]:
        """The audio of each loaded utterance (None: not loaded, or no audio path, as a trn reference):
        their rows found by the ids' index (``RowIndex.positions``) and their fields gathered in Arrow, not
        a pandas row each (the Utterances page recalls a whole test set's measures: a row per id cost
        ~150 us, minutes at 1M rows)."""
        analysis = self.analysis(self.default_normalizer)
        rows = analysis.reference_rows(testset) if testset in analysis.testsets else None
        if rows is None or "audio_filepath" not in rows or not len(utt_ids):
            return [None] * len(utt_ids)
        at = analysis.positions(testset, None, utt_ids)
        found = [k for k, position in enumerate(at) if position is not None]
        taken = pa.array([at[k] for k in found], pa.int64())
        paths, durations = (
            arrow_column(rows[c]).take(taken).to_pylist() for c in ("audio_filepath", "duration")
        )
        offsets = (
            arrow_column(rows["offset"]).take(taken).to_pylist() if "offset" in rows else [0.0] * len(found)
        )
        sources: list[AudioSource | None] = [None] * len(utt_ids)
        for k, path, offset, duration in zip(found, paths, offsets, durations, strict=True):
            if isinstance(path, str) and path:
                offset = 0.0 if offset is None or offset != offset else float(offset)  # null or NaN
                sources[k] = AudioSource(path, offset, float(duration) if offset else None)
        return sources

    def estimate_audio_metrics(self) -> bool:
        """SDE's ``-a``: measure every test set's audio in one background job (the pages answer
        meanwhile and show its progress); False when there is no audio to measure."""
        analysis = self.analysis(self.default_normalizer)
        work = [
            (testset, analysis.reference_rows(testset)["utt_id"].tolist())
            for testset in analysis.testsets
            if analysis.has_audio(testset)
        ]
        return bool(work) and self.audio_metrics.start_many(work)

    def audio_absence(self, testset: str, utt_id: str) -> str | None:
        """Why this utterance has no audio to play (None when it has): what the audio controls say instead."""
        source = self.audio_source(testset, utt_id)
        if source is None:
            return "No audio: the manifest gives no audio_filepath for this utterance."
        if not Path(source.path).is_file():
            hint = (
                " Relative paths start at the manifest's folder: give --audio-base-path."
                if self.source.manifests and self.source.audio_base is None
                else ""
            )
            return f"Audio file not found: {source.path}.{hint}"
        return None
