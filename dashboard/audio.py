"""Audio for the utterance view: a route that plays in Chromium and Safari, and waveform/spectrogram data.

Security: the route is addressed by ``(testset, utterance id)`` and looks the file up in the loaded manifests;
no client-supplied path ever reaches the file system, so traversal (``../``, encoded, absolute) is impossible
and an unknown id is a plain 404. Range requests (206) are answered, which Safari needs to play at all.
"""

from __future__ import annotations

import io
import math
import mimetypes
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import flask
import numpy as np
import soundfile as sf

# Containers both Chromium and Safari play natively; anything else (SPHERE, raw, segments) is served as WAV.
BROWSER_FORMATS = {".wav": "audio/wav", ".flac": "audio/flac", ".mp3": "audio/mpeg", ".m4a": "audio/mp4"}
MAX_WAVEFORM_POINTS = 4000
MAX_SPECTROGRAM_FRAMES = 600


@dataclass(frozen=True, slots=True)
class AudioSource:
    """Where one utterance's audio lies: a whole file, or the segment ``offset``/``duration`` cut from it."""

    path: str
    offset: float = 0.0
    duration: float | None = None

    @property
    def is_segment(self) -> bool:
        return self.offset > 0

    def read(self) -> tuple[np.ndarray, int]:
        """Mono float32 samples of this utterance (the segment only, when it is one)."""
        info = sf.info(self.path)
        start = round(self.offset * info.samplerate)
        frames = (
            -1 if self.duration is None or not self.is_segment else round(self.duration * info.samplerate)
        )
        data, rate = sf.read(self.path, start=start, frames=frames, dtype="float32", always_2d=True)
        return data.mean(axis=1), rate


def _wav_bytes(source: AudioSource) -> io.BytesIO:
    samples, rate = source.read()
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format="WAV", subtype="PCM_16")
    buffer.seek(0)
    return buffer


def audio_response(source: AudioSource) -> flask.Response:
    """The file itself when browsers play it, else a WAV rendering; both honour HTTP Range."""
    path = Path(source.path)
    mimetype = BROWSER_FORMATS.get(path.suffix.lower())
    if not path.is_file():
        flask.abort(404)
    if mimetype and not source.is_segment:
        response = flask.send_file(path, mimetype=mimetype, conditional=True, max_age=3600)
    else:
        try:
            buffer = _wav_bytes(source)
        except (sf.LibsndfileError, RuntimeError, ValueError):
            flask.abort(415)
        response = flask.send_file(
            buffer,
            mimetype="audio/wav",
            conditional=True,
            etag=f"{path.stat().st_mtime_ns}-{source.offset}",
            max_age=3600,
            download_name=f"{path.stem}.wav",
        )
    response.headers["Accept-Ranges"] = "bytes"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def register_audio_route(
    server: flask.Flask, lookup: Callable[[str, str], AudioSource | None], prefix: str = "/audio"
) -> None:
    """``GET {prefix}/<testset>/<utt_id>``: 404 unless the pair is in the loaded manifests."""

    def serve_audio(testset: str, utt_id: str) -> flask.Response:
        source = lookup(testset, utt_id)
        if source is None:
            flask.abort(404)
        return audio_response(source)

    def not_audio(rest: str = "") -> flask.Response:
        flask.abort(404)  # anything else under the prefix: never fall through to the app's catch-all page

    server.add_url_rule(f"{prefix}/<testset>/<path:utt_id>", "werbench_audio", serve_audio, methods=["GET"])
    server.add_url_rule(f"{prefix}/<path:rest>", "werbench_audio_other", not_audio)
    server.add_url_rule(prefix, "werbench_audio_root", not_audio)
    mimetypes.add_type("audio/flac", ".flac")


def audio_url(testset: str, utt_id: str, prefix: str = "/audio") -> str:
    from urllib.parse import quote

    return f"{prefix}/{quote(testset, safe='')}/{quote(utt_id, safe='')}"


@dataclass(frozen=True, slots=True)
class SignalView:
    """Downsampled waveform envelope and a log-mel spectrogram, small enough to plot for hour-long files."""

    times: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    spec_times: np.ndarray
    spec_freqs: np.ndarray
    spec_db: np.ndarray
    sample_rate: int
    seconds: float


def signal_view(source: AudioSource, n_fft: int = 256) -> SignalView:
    """Min/max envelope per bin (keeps peaks that plain decimation loses) and a log-power spectrogram.

    scipy's STFT rather than librosa's: librosa's first call compiles numba kernels for tens of seconds on a
    loaded 2-core machine, which a user opening an utterance would wait through. Imported here: scipy.signal
    costs a second or two of start-up that only this view needs.
    """
    from scipy.signal import spectrogram

    samples, rate = source.read()
    seconds = len(samples) / rate if rate else 0.0
    bins = max(1, min(MAX_WAVEFORM_POINTS // 2, len(samples)))
    per_bin = max(1, math.ceil(len(samples) / bins))
    padded = np.pad(samples, (0, per_bin * bins - len(samples))).reshape(bins, per_bin)
    times = (np.arange(bins) + 0.5) * per_bin / rate
    n_fft = min(n_fft, max(16, len(samples)))
    hop = max(n_fft // 4, math.ceil(len(samples) / MAX_SPECTROGRAM_FRAMES))
    freqs, spec_times, power = spectrogram(
        samples, fs=rate, window="hann", nperseg=n_fft, noverlap=max(0, n_fft - hop), mode="psd"
    )
    spec_db = 10 * np.log10(np.maximum(power, 1e-12))
    spec_db = np.round(np.maximum(spec_db, spec_db.max() - 80.0), 1).astype(np.float32)
    return SignalView(
        times, padded.min(axis=1), padded.max(axis=1), spec_times, freqs, spec_db, rate, seconds
    )
