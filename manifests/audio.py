"""Audio header facts (rate, length, channels) without decoding whole files, and mono float32 loading.

soundfile (libsndfile) covers WAV/FLAC/OGG/MP3 and plain SPHERE; SPHERE headers are parsed here so that
shorten-compressed LDC files report their length too (their samples go through ffmpeg, see
``manifests.shorten``); headerless ``.raw`` (AN4) is 16 kHz 16-bit mono whose byte order is detected.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from werbench.manifests.errors import ManifestError
from werbench.manifests.shorten import decode_shorten
from werbench.manifests.sphere import SPHERE_SUFFIXES, SphereHeader, is_sphere, read_sphere_header

RAW_SUFFIXES = (".raw", ".pcm")
RAW_SAMPLE_RATE = 16000
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".opus", ".mp3", *SPHERE_SUFFIXES, *RAW_SUFFIXES)
FIELD = "audio_filepath"
_SPHERE_SUBTYPES = {1: "PCM_S8", 2: "PCM_16", 3: "PCM_24", 4: "PCM_32"}


@dataclass(frozen=True, slots=True)
class AudioInfo:
    """What an audio header says; ``duration`` is derived from it, never from decoded samples."""

    sample_rate: int
    frames: int
    channels: int
    format: str
    subtype: str

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def _kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in RAW_SUFFIXES:
        return "raw"
    if suffix in SPHERE_SUFFIXES or is_sphere(path):
        return "sphere"
    return "soundfile"


def _sphere_info(header: SphereHeader) -> AudioInfo:
    subtype = "shorten" if header.is_shorten else header.compression or header.encoding.upper()
    if subtype == "PCM":
        subtype = _SPHERE_SUBTYPES.get(header.sample_n_bytes, f"PCM_{8 * header.sample_n_bytes}")
    return AudioInfo(header.sample_rate, header.sample_count, header.channel_count, "SPHERE", subtype)


def _check_exists(path: Path) -> None:
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        raise ManifestError(path, "audio file not found", field=FIELD) from None
    except OSError as exc:  # a name too long, a symlink loop, no permission: said, not raised as is
        raise ManifestError(path, f"audio path cannot be read: {exc.strerror or exc}", field=FIELD) from None
    if not stat.S_ISREG(mode):
        raise ManifestError(path, "audio path is not a file", field=FIELD)


def audio_info(path: str | Path) -> AudioInfo:
    """Header facts of one audio file; ManifestError (field ``audio_filepath``) when missing or unreadable."""
    path = Path(path)
    _check_exists(path)
    kind = _kind(path)
    if kind == "sphere":
        return _sphere_info(read_sphere_header(path))
    if kind == "raw":
        size = path.stat().st_size
        if size % 2:
            raise ManifestError(path, f"raw 16-bit audio with an odd byte count ({size})", field=FIELD)
        return AudioInfo(RAW_SAMPLE_RATE, size // 2, 1, "RAW", "PCM_16")
    try:
        info = sf.info(str(path))
    except (RuntimeError, sf.LibsndfileError, OSError) as exc:
        raise ManifestError(path, f"unreadable audio: {_reason(exc)}", field=FIELD) from None
    return AudioInfo(int(info.samplerate), int(info.frames), int(info.channels), info.format, info.subtype)


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[-1] if text else type(exc).__name__


def raw_byte_order(path: Path, probe_bytes: int = 64000) -> str:
    """``"LITTLE"`` or ``"BIG"``: speech is smooth, so the right byte order has far smaller sample steps.

    AN4 ships both byte orders under the same ``.raw`` suffix and nothing in the file says which.
    """
    data = path.read_bytes()[: probe_bytes - probe_bytes % 2]
    if len(data) < 4:
        return "LITTLE"
    steps = {
        order: float(np.abs(np.diff(np.frombuffer(data, dtype=dtype).astype(np.int32))).mean())
        for order, dtype in (("LITTLE", "<i2"), ("BIG", ">i2"))
    }
    return "BIG" if steps["BIG"] < steps["LITTLE"] else "LITTLE"


def _span(info: AudioInfo, path: Path, offset: float, duration: float | None) -> tuple[int, int]:
    start = round(offset * info.sample_rate)
    if start < 0 or (start >= info.frames and info.frames):
        raise ManifestError(
            path, f"offset {offset} s is outside the audio ({info.duration:.3f} s)", field="offset"
        )
    stop = info.frames if duration is None else min(info.frames, start + round(duration * info.sample_rate))
    return start, stop


def _read_frames(path: Path, kind: str, start: int, stop: int) -> np.ndarray:
    """Samples ``[start, stop)`` as float32 ``[frames, channels]``."""
    if kind == "sphere":
        header = read_sphere_header(path)
        if header.is_shorten:
            return decode_shorten(path, header)[start:stop].astype(np.float32) / 32768.0
        if header.compression:
            raise ManifestError(path, f"unsupported SPHERE compression {header.compression!r}", field=FIELD)
    extra = {}
    if kind == "raw":
        extra = dict(samplerate=RAW_SAMPLE_RATE, channels=1, subtype="PCM_16", format="RAW")
        extra["endian"] = raw_byte_order(path)
    try:
        data, _ = sf.read(str(path), start=start, stop=stop, dtype="float32", always_2d=True, **extra)
    except (RuntimeError, sf.LibsndfileError, OSError) as exc:
        raise ManifestError(path, f"cannot decode audio: {_reason(exc)}", field=FIELD) from None
    return data


def load_audio(
    path: str | Path, offset: float = 0.0, duration: float | None = None, target_sr: int | None = 16000
) -> np.ndarray:
    """Mono float32 samples of ``[offset, offset + duration)`` seconds, resampled to ``target_sr`` when given.

    ``target_sr=None`` keeps the file's own rate (``audio_info(path).sample_rate``).
    """
    path = Path(path)
    info = audio_info(path)
    start, stop = _span(info, path, offset, duration)
    frames = _read_frames(path, _kind(path), start, stop)
    mono = frames.mean(axis=1, dtype=np.float32) if frames.shape[1] > 1 else frames[:, 0]
    if target_sr and target_sr != info.sample_rate and len(mono):
        import soxr  # librosa's resampler, imported here to keep `werbench --help` fast

        mono = soxr.resample(mono, info.sample_rate, target_sr).astype(np.float32, copy=False)
    return np.ascontiguousarray(mono, dtype=np.float32)
