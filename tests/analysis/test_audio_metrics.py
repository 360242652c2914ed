"""SDE's audio metrics (bandwidth, peak level) plus the SNR estimate, and their on-disk cache."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from werbench.analysis import audio_metrics
from werbench.analysis.audio_metrics import (
    AudioMetricsCache,
    Clip,
    audio_measures,
    eval_bandwidth,
    peak_level_db,
    snr_estimate_db,
)

RATE = 16000


def sde_eval_bandwidth(signal, sr, threshold=-50):
    """NeMo tools/speech_data_explorer/data_explorer.py ``eval_bandwidth``, verbatim (the reference)."""
    import librosa

    time_stride = 0.01
    hop_length = int(sr * time_stride)
    n_fft = 512
    spectrogram = np.mean(
        np.abs(librosa.stft(y=signal, n_fft=n_fft, hop_length=hop_length, window="blackmanharris")) ** 2,
        axis=1,
    )
    power_spectrum = librosa.power_to_db(S=spectrogram, ref=np.max, top_db=100)
    freqband = 0
    for idx in range(len(power_spectrum) - 1, -1, -1):
        if power_spectrum[idx] > threshold:
            freqband = idx / n_fft * sr
            break
    return freqband


def _lowpassed_noise(cutoff_hz: float, seconds: float = 1.0, seed: int = 0) -> np.ndarray:
    from scipy.signal import butter, sosfilt

    noise = np.random.default_rng(seed).standard_normal(int(RATE * seconds))
    sos = butter(10, cutoff_hz, fs=RATE, output="sos")
    out = sosfilt(sos, noise)
    return (0.5 * out / np.max(np.abs(out))).astype(np.float32)


@pytest.mark.parametrize("cutoff", [3000.0, 5500.0])
def test_bandwidth_is_sdes(cutoff: float) -> None:
    samples = _lowpassed_noise(cutoff)
    ours = eval_bandwidth(samples, RATE)
    assert ours == sde_eval_bandwidth(samples, RATE)
    assert cutoff < ours < cutoff + 2500  # the -50 dB point lies above the -3 dB cut-off


def test_peak_level_is_sdes_dbfs() -> None:
    samples = np.array([0.1, -0.5, 0.25], np.float32)
    assert peak_level_db(samples) == pytest.approx(20 * np.log10(0.5))
    assert peak_level_db(np.zeros(10, np.float32)) == -math.inf


@pytest.mark.parametrize("snr", [5.0, 20.0])
def test_snr_estimate_reads_bursts_over_stationary_noise(snr: float) -> None:
    """Half the time a tone, all the time white noise at a known ratio: the estimate is within 2 dB."""
    rng = np.random.default_rng(1)
    t = np.arange(RATE * 4) / RATE
    tone = np.sin(2 * np.pi * 440 * t) * (np.floor(t * 2) % 2 == 0)
    noise = rng.standard_normal(len(t)) * np.sqrt(0.5 / 10 ** (snr / 10))  # tone power is 0.5
    estimate = snr_estimate_db((0.1 * (tone + noise)).astype(np.float32), RATE)
    assert estimate == pytest.approx(snr, abs=2.0)


def _wav(path: Path, samples: np.ndarray) -> Path:
    sf.write(path, samples, RATE, subtype="PCM_16")
    return path


def test_measures_are_cached_by_file_identity_and_bad_audio_says_why(tmp_path, monkeypatch) -> None:
    good = _wav(tmp_path / "a.wav", _lowpassed_noise(3000.0, 0.5))
    other = _wav(tmp_path / "b.wav", _lowpassed_noise(5000.0, 0.5, seed=2))
    broken = tmp_path / "c.wav"
    broken.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    clips = [
        Clip(str(good)),
        Clip(str(broken)),
        Clip(str(tmp_path / "gone.wav")),
        Clip(str(other), 0.25, 0.2),
    ]
    cache = AudioMetricsCache(tmp_path / "cache")
    seen: list[list[int]] = []
    first = audio_measures(clips, cache, on_batch=lambda i, m: seen.append(i), batch=2)
    assert seen == [[0, 1], [2, 3]]
    assert first[0].error is None and first[0].freq_bandwidth > 3000
    assert first[1].error and "unreadable audio" in first[1].error and math.isnan(first[1].level_db)
    assert first[2].error == "audio file not found"
    # the segment (0.25 s from 0.25 s) is what was measured, not the whole file
    segment = sf.read(other, start=RATE // 4, frames=RATE // 5, dtype="float32")[0]
    assert first[3].level_db == pytest.approx(peak_level_db(segment))

    recalled = audio_measures(
        [*clips, Clip(str(_wav(tmp_path / "new.wav", segment)))], cache, cached_only=True
    )
    assert recalled[4] is None and recalled[2] is None and recalled[0] == first[0]  # nothing decoded
    calls = []
    real = audio_metrics.measure_clip
    monkeypatch.setattr(audio_metrics, "measure_clip", lambda clip: calls.append(clip) or real(clip))
    again = audio_measures(clips, cache)
    assert calls == [clips[2]]  # only the missing file, which has no identity to key a cache entry on
    assert [m.freq_bandwidth for m in again[:2]] == [m.freq_bandwidth for m in first[:2]]
    assert again[1].error == first[1].error  # a broken file's reason is cached with its identity
    _wav(good, _lowpassed_noise(6000.0, 0.5))  # a changed file is measured again
    os.utime(good, ns=(1, 1))
    calls.clear()
    changed = audio_measures(clips, cache)
    assert calls == [clips[0], clips[2]] and changed[0].freq_bandwidth > 6000


def test_unwritable_cache_folder_only_loses_the_cache(tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    clip = Clip(str(_wav(tmp_path / "a.wav", _lowpassed_noise(3000.0, 0.3))))
    (measured,) = audio_measures([clip], AudioMetricsCache(blocker / "cache"))
    assert measured.error is None and measured.freq_bandwidth > 0
