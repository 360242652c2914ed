"""A results directory as the dashboard sees it: one ``Analysis`` (``dashboard.data``) per normaliser."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
from werbench.dashboard.audio import AudioSource
from werbench.dashboard.data import NORMALIZERS, Analysis
from werbench.dashboard.memo import Memo
from werbench.manifests.results import iter_systems, read_run_info

log = logging.getLogger(__name__)


class Workspace:
    """A results directory as the dashboard sees it: one ``Analysis`` per normaliser, built once, shared."""

    def __init__(
        self, results_dir: Path, default_normalizer: str = "none", cache_dir: Path | None = None
    ) -> None:
        self.results_dir = Path(results_dir)
        self.default_normalizer = default_normalizer
        self.cache_dir = None if cache_dir is None else Path(cache_dir)
        self._memo = Memo()
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
