"""A minimal shorten encoder, so that tests can make the shorten-compressed SPHERE files LDC ships.

No shorten encoder exists on Debian or PyPI (ffmpeg only decodes it), so this writes the simplest valid
stream: fixed first-order prediction (FN_DIFF1) per block with Rice-coded residuals, a FN_BLOCKSIZE for the
last short block, FN_QUIT; and, like the streams embedded in SPHERE files, no verbatim WAVE header.
"""

from __future__ import annotations

import numpy as np

FN_DIFF1, FN_QUIT, FN_BLOCKSIZE = 1, 4, 5
TYPE_S16HL = 3


class _BitWriter:
    def __init__(self) -> None:
        self.bits: list[int] = []

    def fixed(self, value: int, count: int) -> None:
        self.bits.extend((value >> i) & 1 for i in range(count - 1, -1, -1))

    def rice(self, value: int, k: int) -> None:
        self.bits.extend([0] * (value >> k) + [1])
        self.fixed(value & ((1 << k) - 1), k)

    def signed(self, value: int, k: int) -> None:
        self.rice(2 * value if value >= 0 else -2 * value - 1, k + 1)

    def ulong(self, value: int) -> None:
        k = value.bit_length()
        self.rice(k, 2)
        self.rice(value, k)

    def to_bytes(self) -> bytes:
        return np.packbits(np.array(self.bits, dtype=np.uint8)).tobytes()


def encode_shorten(samples: np.ndarray, version: int = 2, blocksize: int = 256) -> bytes:
    """``samples``: int16 ``[frames]`` or ``[frames, channels]``; returns the shorten stream."""
    frames = samples.reshape(len(samples), -1).astype(np.int64)
    channels = frames.shape[1]
    out = _BitWriter()
    for byte in b"ajkg":
        out.fixed(byte, 8)
    out.fixed(version, 8)
    out.ulong(TYPE_S16HL)
    out.ulong(channels)
    if version > 0:
        for value in (blocksize, 0, 0, 0):  # blocksize, maxnlpc, nmean, nskip
            out.ulong(value)
    previous = np.zeros(channels, dtype=np.int64)
    size = blocksize
    for start in range(0, len(frames), blocksize):
        block = frames[start : start + blocksize]
        if len(block) != size:
            size = len(block)
            out.rice(FN_BLOCKSIZE, 2)
            out.ulong(size)
        for channel in range(channels):
            residuals = np.diff(np.concatenate([[previous[channel]], block[:, channel]]))
            k = max(0, int(np.log2(max(1.0, float(np.abs(residuals).mean())))))
            out.rice(FN_DIFF1, 2)
            out.rice(k, 3)
            for value in residuals:
                out.signed(int(value), k)
            previous[channel] = block[-1, channel]
    out.rice(FN_QUIT, 2)
    return out.to_bytes()
