"""The audio metrics the dashboard has measured so far (``analysis.audio_metrics``), and the one background
job that measures more, whose progress the Utterances page polls.

Nothing is decoded at start-up: a test set's metrics are empty until a user asks (the rows of a view, all
of them, or the one utterance opened); what an earlier serve measured is read back from the disk cache in
the background when the Utterances page first opens (a file lookup each, no decoding).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from werbench.analysis.audio_metrics import ERROR, METRICS, AudioMeasures, AudioMetricsCache, Clip
from werbench.analysis.audio_metrics import audio_measures as measure_clips
from werbench.analysis.audio_metrics import measure as measure_samples
from werbench.dashboard.audio import AudioSource

NO_AUDIO = "no audio_filepath for this utterance"


def error_column(
    n: int, rows: np.ndarray | None = None, errors: Sequence[str | None] = ()
) -> pd.api.extensions.ExtensionArray:
    """The ``audio_error`` column of ``n`` rows, blank but ``errors`` at ``rows`` (ascending), built in
    Arrow: an object column set into a frame is converted string by string (65 ms per million rows, on
    every utterance measured)."""
    column = pa.nulls(n, pa.large_string())
    if rows is not None and any(e is not None for e in errors):
        mask = np.zeros(n, bool)
        mask[rows] = True
        column = pc.replace_with_mask(column, pa.array(mask), pa.array(list(errors), pa.large_string()))
    return pd.arrays.ArrowExtensionArray(column)


def _measure_silence() -> None:
    """Measure a tenth of a second of silence: imports and compiles everything a measurement runs."""
    measure_samples(np.zeros(1600, np.float32), 16000)


@dataclass(frozen=True)
class Progress:
    testset: str | None
    done: int
    total: int
    running: bool


class AudioMetricsStore:
    """Per workspace: measures per (test set, utterance), a version per test set that changes whenever
    more are known (grids key their memo on it), at most one measuring thread at a time."""

    def __init__(
        self,
        sources: Callable[[str, Sequence[str]], list[AudioSource | None]],
        cache: AudioMetricsCache | None,
    ) -> None:
        self._sources = (
            sources  # (test set, utt_ids) -> their audio, None each without: Workspace.audio_sources
        )
        self._cache = cache
        self._values: dict[str, dict[str, AudioMeasures]] = {}
        self._versions: dict[str, int] = {}
        self._lock = threading.Lock()
        self._job: threading.Thread | None = None
        self._progress = Progress(None, 0, 0, False)
        self._recalled: set[str] = set()
        self._warming: threading.Thread | None = None

    def version(self, testset: str) -> int:
        return self._versions.get(testset, 0)

    def measured(self, testset: str) -> int:
        return len(self._values.get(testset, {}))

    def frame(self, testset: str, utt_ids: Sequence[str] | pa.ChunkedArray) -> pd.DataFrame:
        """``freq_bandwidth, level_db, snr_db, audio_error`` of ``utt_ids`` in order (NaN / None: not yet);
        the known ones placed by one Arrow lookup, so a million-row test set costs no Python per row."""
        with self._lock:
            known = dict(self._values.get(testset, {}))
        frame = pd.DataFrame({m: np.full(len(utt_ids), np.nan) for m in METRICS})
        rows, found = None, []
        if known:
            ids = utt_ids if isinstance(utt_ids, pa.ChunkedArray) else pa.array(list(utt_ids), pa.string())
            where = pc.index_in(ids, value_set=pa.array(list(known), ids.type))  # ids' place among known
            rows = np.flatnonzero(where.is_valid().to_numpy(zero_copy_only=False))
            measures = list(known.values())
            found = [measures[k] for k in where.drop_null().to_numpy(zero_copy_only=False)]
            for metric in METRICS:
                frame.loc[rows, metric] = [getattr(m, metric) for m in found]
        frame[ERROR] = error_column(len(utt_ids), rows, [m.error for m in found])
        return frame

    def measure(
        self, testset: str, utt_ids: Sequence[str], progress: bool = False, cached_only: bool = False
    ) -> None:
        """Measure those of ``utt_ids`` not known yet, in this thread (cached ones are read back; with
        ``cached_only`` nothing else); ``progress``: report to ``progress()`` as the background job does."""
        known = self._values.get(testset, {})
        wanted = [u for u in dict.fromkeys(utt_ids) if u not in known]
        sources = dict(zip(wanted, self._sources(testset, wanted), strict=True))
        no_audio = [u for u, source in sources.items() if source is None]
        self._store(testset, no_audio, [AudioMeasures(error=NO_AUDIO)] * len(no_audio))
        todo = [u for u, source in sources.items() if source is not None]
        done = len(no_audio)
        total = done + len(todo)

        def stored(indices: list[int], measures: list[AudioMeasures]) -> None:
            nonlocal done
            self._store(testset, [todo[i] for i in indices], measures)
            done += len(indices)
            if progress:
                self._progress = Progress(testset, done, total, True)

        if progress:
            self._progress = Progress(testset, done, total, True)
        clips = [Clip(s.path, s.offset, s.duration) for u in todo if (s := sources[u]) is not None]
        measure_clips(clips, self._cache, on_batch=stored, cached_only=cached_only)
        if progress:
            self._progress = Progress(testset, done, total, False)

    def start(self, testset: str, utt_ids: Sequence[str], cached_only: bool = False) -> bool:
        """Measure ``utt_ids`` in a background thread (``cached_only``: read back what the disk cache
        holds, decode nothing); False when a measuring job is already running (a reading one is waited
        for: it only looks files up)."""
        return self.start_many([(testset, list(utt_ids))], cached_only)

    def start_many(self, work: Sequence[tuple[str, list[str]]], cached_only: bool = False) -> bool:
        """``start`` over several test sets in turn, in one background job (``serve -a``: all of them)."""
        with self._lock:
            if self._job is not None and self._job.is_alive():
                if not self._job.name.endswith("cached") or cached_only:
                    return False
                self._job.join()
            if work:
                self._progress = Progress(work[0][0], 0, len(work[0][1]), True)

            def run() -> None:
                for testset, utt_ids in work:
                    self.measure(testset, utt_ids, True, cached_only)

            self._job = threading.Thread(
                target=run, daemon=True, name="audio-metrics-cached" if cached_only else "audio-metrics"
            )
            self._job.start()
        return True

    def warm_up(self) -> None:
        """Load the measuring code in the background, once (librosa, numba-compiled on import: ~2 s of
        CPU), so that the first utterance opened waits for its own file only; called when a grid of a
        test set with audio is first served."""
        with self._lock:
            if self._warming is not None:
                return
            self._warming = threading.Thread(
                target=_measure_silence, daemon=True, name="audio-metrics-warm-up"
            )
        self._warming.start()

    def recall(self, testset: str, utt_ids: Sequence[str]) -> bool:
        """Once per test set, read back in the background what an earlier serve measured (True: started)."""
        with self._lock:
            if testset in self._recalled:
                return False
            self._recalled.add(testset)
        return self.start(testset, utt_ids, cached_only=True)

    def progress(self) -> Progress:
        job = self._job
        progress = self._progress
        if progress.running and (job is None or not job.is_alive()):
            return Progress(progress.testset, progress.done, progress.total, False)
        return progress

    def _store(self, testset: str, utt_ids: Sequence[str], measures: Sequence[AudioMeasures]) -> None:
        if not utt_ids:
            return
        with self._lock:
            values = self._values.setdefault(testset, {})
            values.update(zip(utt_ids, measures, strict=True))
            self._versions[testset] = self._versions.get(testset, 0) + 1
