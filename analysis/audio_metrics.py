"""Speech Data Explorer's per-utterance audio metrics, computed on demand and cached on disk.

- ``freq_bandwidth`` (Hz): SDE's ``eval_bandwidth`` (NeMo ``tools/speech_data_explorer/data_explorer.py``):
  the mean power spectrum of a Blackman-Harris STFT (``n_fft`` 512, hop 10 ms) in dB relative to its
  maximum (``top_db`` 100); the bandwidth is the highest bin above -50 dB, ``bin / n_fft * rate``.
- ``level_db`` (dBFS): SDE's peak level, ``20 * log10(max |x|)`` of the samples scaled to [-1, 1]
  (digital silence is -inf, shown as empty).
- ``snr_db``: a blind estimate SDE does not have: the 95th percentile of 25 ms frame powers (speech plus
  noise) against the 10th (the noise floor, at least -100 dBFS), ``10 * log10((P95 - P10) / P10)``. It
  reads stationary noise well and over-estimates when noise only fills the pauses; a rough sort key, not
  a measurement.

Samples are read as ``manifests.audio.load_audio`` reads them (mono: the channels' mean, the file's own
rate, only the ``offset``/``duration`` segment when the utterance is one), as SDE's ``librosa.load`` does
for a whole file. The cache is one SQLite file (the standard library's: concurrent readers, atomic
transactions, no server) keyed by the audio's path, segment, modification time and size, and the code
that computes the numbers, so a changed file or a changed definition is measured again. Unreadable audio
gets its reason in ``audio_error`` (cached with the file's identity) and NaN metrics; the rest go on.
"""

from __future__ import annotations

import hashlib
import math
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from werbench.manifests.audio import audio_info, load_audio
from werbench.manifests.code_version import code_version
from werbench.manifests.errors import WerbenchError

METRICS = ("freq_bandwidth", "level_db", "snr_db")  # the numeric columns, in the order shown
ERROR = "audio_error"  # why a row has no audio metrics
LABELS = {"freq_bandwidth": "Bandwidth (Hz)", "level_db": "Peak (dB)", "snr_db": "SNR (dB)"}
NOISE_FLOOR = 1e-10  # -100 dBFS: digital silence does not make the SNR infinite
CACHE_FILE = "audio_metrics.sqlite"


def audio_metrics_code() -> str:
    """What a cached value depends on: this module, the audio reader and the libraries they call."""
    return code_version(
        ("werbench.analysis.audio_metrics", "werbench.manifests.audio"),
        ("librosa", "numpy", "soundfile", "soxr", "scipy"),
    )


@dataclass(frozen=True, slots=True)
class Clip:
    """The audio an utterance spans: a whole file, or ``duration`` seconds from ``offset``."""

    path: str
    offset: float = 0.0
    duration: float | None = None


@dataclass(frozen=True, slots=True)
class AudioMeasures:
    freq_bandwidth: float = math.nan
    level_db: float = math.nan
    snr_db: float = math.nan
    error: str | None = None


def eval_bandwidth(samples: np.ndarray, rate: int, threshold: float = -50.0) -> float:
    """SDE's ``eval_bandwidth``: the highest frequency whose mean power is within ``-threshold`` dB of the
    strongest bin's (librosa's STFT and dB scale, as SDE calls them)."""
    import librosa  # numba-compiled on first import: only when audio is measured

    hop_length = int(rate * 0.01)
    n_fft = 512
    spectrum = np.mean(
        np.abs(librosa.stft(y=samples, n_fft=n_fft, hop_length=hop_length, window="blackmanharris")) ** 2,
        axis=1,
    )
    power = librosa.power_to_db(S=spectrum, ref=np.max, top_db=100)
    above = np.flatnonzero(power > threshold)
    return float(above[-1] / n_fft * rate) if len(above) else 0.0


def peak_level_db(samples: np.ndarray) -> float:
    """SDE's ``level_db``: the peak sample in dB relative to full scale."""
    peak = float(np.max(np.abs(samples))) if len(samples) else 0.0
    return 20 * math.log10(peak) if peak > 0 else -math.inf


def snr_estimate_db(samples: np.ndarray, rate: int, frame_s: float = 0.025) -> float:
    """Loud frames' power over the noise floor's (95th / 10th percentile of 25 ms frame powers), in dB."""
    size = max(1, int(rate * frame_s))
    frames = len(samples) // size
    if frames < 2:
        return math.nan
    power = np.mean(np.square(samples[: frames * size].reshape(frames, size), dtype=np.float64), axis=1)
    noise = max(float(np.percentile(power, 10)), NOISE_FLOOR)
    loud = float(np.percentile(power, 95))
    return 10 * math.log10(max(loud - noise, NOISE_FLOOR) / noise)


def measure(samples: np.ndarray, rate: int) -> AudioMeasures:
    """The three metrics of mono float32 samples at ``rate``."""
    if not len(samples):
        return AudioMeasures(error="no samples (empty audio or segment)")
    bandwidth = eval_bandwidth(samples, rate)
    return AudioMeasures(bandwidth, peak_level_db(samples), snr_estimate_db(samples, rate))


def measure_clip(clip: Clip) -> AudioMeasures:
    """Read and measure one clip; unreadable audio gives its reason, not an exception."""
    try:
        rate = audio_info(clip.path).sample_rate
        samples = load_audio(clip.path, clip.offset, clip.duration, target_sr=None)
    except WerbenchError as exc:
        return AudioMeasures(error=exc.message)
    except (OSError, ValueError, RuntimeError) as exc:  # a decoder's own failure, named as it says it
        return AudioMeasures(error=f"unreadable audio: {exc}")
    return measure(samples, rate)


def _identity(clip: Clip) -> str | None:
    """The cache key of a clip: None when the file cannot be stat'ed (nothing to key; measured each time)."""
    try:
        stat = Path(clip.path).stat()
    except OSError:
        return None
    text = f"{clip.path}\0{clip.offset!r}\0{clip.duration!r}\0{stat.st_mtime_ns}\0{stat.st_size}"
    return hashlib.blake2b(f"{text}\0{audio_metrics_code()}".encode(), digest_size=16).hexdigest()


class AudioMetricsCache:
    """Measured clips on disk (one SQLite table), shared by threads and processes; an unwritable folder
    only loses the cache, never the numbers."""

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / CACHE_FILE
        self._local = threading.local()

    def _connection(self) -> sqlite3.Connection | None:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                connection = sqlite3.connect(self.path, timeout=30)
                connection.execute(
                    "CREATE TABLE IF NOT EXISTS measures (key TEXT PRIMARY KEY, freq_bandwidth REAL,"
                    " level_db REAL, snr_db REAL, error TEXT)"
                )
            except (OSError, sqlite3.Error):
                return None
            self._local.connection = connection
        return connection

    def get(self, keys: Sequence[str]) -> dict[str, AudioMeasures]:
        connection = self._connection()
        found: dict[str, AudioMeasures] = {}
        if connection is None:
            return found
        for start in range(0, len(keys), 500):  # SQLite's limit on bound parameters
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            try:
                rows = connection.execute(f"SELECT * FROM measures WHERE key IN ({marks})", chunk)
                for key, bandwidth, level, snr, error in rows:
                    found[key] = AudioMeasures(*(_float(v) for v in (bandwidth, level, snr)), error)
            except sqlite3.Error:
                return found
        return found

    def put(self, items: Sequence[tuple[str, AudioMeasures]]) -> None:
        connection = self._connection()
        if connection is None or not items:
            return
        rows = [(k, _sql(m.freq_bandwidth), _sql(m.level_db), _sql(m.snr_db), m.error) for k, m in items]
        try:
            with connection:
                connection.executemany("INSERT OR REPLACE INTO measures VALUES (?, ?, ?, ?, ?)", rows)
        except sqlite3.Error:
            pass  # a full or read-only disk: the numbers are still returned


def _sql(value: float) -> float | str | None:
    """SQLite stores no NaN (it becomes NULL); infinities as text."""
    if math.isnan(value):
        return None
    return value if math.isfinite(value) else ("inf" if value > 0 else "-inf")


def _float(value: float | str | None) -> float:
    return math.nan if value is None else float(value)


def audio_measures(
    clips: Sequence[Clip],
    cache: AudioMetricsCache | None,
    *,
    on_batch: Callable[[list[int], list[AudioMeasures]], None] | None = None,
    batch: int = 32,
    cached_only: bool = False,
) -> list[AudioMeasures | None]:
    """The measures of each clip: cached ones read back, the rest measured and cached a batch at a time
    (``cached_only``: left None, nothing decoded); ``on_batch(indices, measures)`` hears of the cached ones
    first, then of each measured batch."""
    keys = [_identity(c) for c in clips]
    known = cache.get([k for k in keys if k]) if cache is not None else {}
    found = {i: known[k] for i, k in enumerate(keys) if k in known}
    if on_batch and found:
        on_batch(list(found), list(found.values()))
    out: list[AudioMeasures | None] = [found.get(i) for i in range(len(clips))]
    todo = [] if cached_only else [i for i, m in enumerate(out) if m is None]
    for start in range(0, len(todo), batch):
        indices = todo[start : start + batch]
        measures = [measure_clip(clips[i]) for i in indices]
        for i, measured in zip(indices, measures, strict=True):
            out[i] = measured
        if cache is not None:
            cache.put([(keys[i], m) for i, m in zip(indices, measures, strict=True) if keys[i]])
        if on_batch:
            on_batch(indices, measures)
    return out
