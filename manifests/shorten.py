"""Decode the shorten-compressed samples of LDC SPHERE files (WSJ ``pcm,embedded-shorten-v1.1``) with ffmpeg.

ffmpeg's shorten decoder (``-f shn``) is the maintained decoder on Debian, but it insists that the stream open
with a verbatim chunk holding a RIFF/WAVE header, which the shorten streams embedded in SPHERE files never
have (the SPHERE header plays that role): fed the bytes after the SPHERE header as they are, it fails with
"missing verbatim section at beginning of stream". So we parse the few Rice-coded fields of the shorten
stream header, splice in a verbatim chunk carrying a 44-byte WAVE header built from the SPHERE header, and
pipe the result through ``ffmpeg -f shn -i pipe:0 -f s16le pipe:1``. Later verbatim chunks are skipped by
ffmpeg, so a stream that already had one decodes the same.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
from werbench.manifests.errors import ManifestError, MissingDependencyError
from werbench.manifests.sphere import SphereHeader

MAGIC = b"ajkg"
FN_VERBATIM = 9
# Rice parameters of the shorten format (shorten's own names: ULONGSIZE, FNSIZE, VERBATIM_CKSIZE_SIZE, ...).
ULONG_K, FN_K, VERBATIM_LEN_K, VERBATIM_BYTE_K = 2, 2, 5, 8
TYPE_K, CHANNELS_K, BLOCKSIZE_K, MAXNLPC_K, NMEAN_K, NSKIP_K = 4, 0, 8, 2, 0, 1


class _BitReader:
    """MSB-first reader of shorten's Rice codes: ``q`` zero bits, a one bit, then ``k`` low bits."""

    def __init__(self, bits: np.ndarray) -> None:
        self.bits = bits
        self.pos = 0

    def take(self, count: int) -> int:
        if self.pos + count > len(self.bits):
            raise EOFError
        value = 0
        for bit in self.bits[self.pos : self.pos + count]:
            value = (value << 1) | int(bit)
        self.pos += count
        return value

    def rice(self, k: int) -> int:
        ones = np.flatnonzero(self.bits[self.pos : self.pos + 4096])
        if not len(ones):
            raise EOFError
        quotient = int(ones[0])
        self.pos += quotient + 1
        return (quotient << k) | self.take(k)

    def ulong(self, version: int, k: int) -> int:
        """shorten's ``uint``: from version 1 on, the Rice parameter itself is sent first."""
        return self.rice(self.rice(ULONG_K) if version else k)


def _rice_bits(value: int, k: int) -> list[int]:
    return [0] * (value >> k) + [1] + [(value >> i) & 1 for i in range(k - 1, -1, -1)]


def _wave_header(sample_rate: int, channels: int) -> bytes:
    block = 2 * channels
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        36,
        b"WAVE",
        b"fmt ",
        16,
        1,
        channels,
        sample_rate,
        sample_rate * block,
        block,
        16,
        b"data",
        0,
    )


def splice_wave_header(stream: bytes, sample_rate: int, channels: int) -> bytes:
    """Insert a verbatim WAVE-header chunk right after the shorten stream header (see the module docs)."""
    if not stream.startswith(MAGIC):
        raise ValueError("no shorten magic 'ajkg' after the SPHERE header")
    reader = _BitReader(np.unpackbits(np.frombuffer(stream, dtype=np.uint8)))
    try:
        reader.take(32)
        version = reader.take(8)
        reader.ulong(version, TYPE_K)
        reader.ulong(version, CHANNELS_K)
        if version > 0:
            for k in (BLOCKSIZE_K, MAXNLPC_K, NMEAN_K):
                reader.ulong(version, k)
            skip_bytes = reader.ulong(version, NSKIP_K)  # not `pos += ulong()`: that adds to the old pos
            reader.pos += 8 * skip_bytes
    except EOFError:
        raise ValueError("shorten stream ends inside its header") from None
    chunk = _wave_header(sample_rate, channels)
    inserted = _rice_bits(FN_VERBATIM, FN_K) + _rice_bits(len(chunk), VERBATIM_LEN_K)
    for byte in chunk:
        inserted += _rice_bits(byte, VERBATIM_BYTE_K)
    bits = np.concatenate(
        [reader.bits[: reader.pos], np.array(inserted, dtype=np.uint8), reader.bits[reader.pos :]]
    )
    return np.packbits(bits).tobytes()


def decode_shorten(path: Path, header: SphereHeader) -> np.ndarray:
    """All samples of a shorten SPHERE file as int16, shape ``[frames, channels]``."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise MissingDependencyError(
            path,
            "shorten-compressed SPHERE needs ffmpeg on PATH (apt-get install ffmpeg)",
            field="audio_filepath",
        )
    stream = path.read_bytes()[header.header_size :]
    try:
        spliced = splice_wave_header(stream, header.sample_rate, header.channel_count)
    except ValueError as exc:
        raise ManifestError(path, f"corrupt shorten data: {exc}", field="audio_filepath") from None
    command = [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-f", "shn", "-i", "pipe:0"]
    command += ["-f", "s16le", "-acodec", "pcm_s16le", "pipe:1"]
    done = subprocess.run(command, input=spliced, capture_output=True, check=False)
    if done.returncode != 0 or not done.stdout:
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ManifestError(
            path,
            f"ffmpeg could not decode the shorten data: {' / '.join(reason[-3:]) or 'no output'}",
            field="audio_filepath",
        )
    samples = np.frombuffer(done.stdout, dtype="<i2")
    usable = len(samples) - len(samples) % header.channel_count
    frames = samples[:usable].reshape(-1, header.channel_count)
    if len(frames) < header.sample_count:
        raise ManifestError(
            path,
            f"shorten data decodes to {len(frames)} samples, header promises {header.sample_count}",
            field="audio_filepath",
        )
    return frames[: header.sample_count]
