"""Decoding log-probs inline or in worker processes; one utterance's decoder failure is recorded, not fatal.

Slow decoders (beam search, rescoring) run in spawned workers that each build their own decoder once.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from werbench.runners.decoders.base import Decoded, Vocabulary
from werbench.runners.decoders.confidence import word_confidence
from werbench.runners.decoders.registry import DECODERS, make_decoder

_worker: Any = None


def _init_worker(decoder: str, params: dict[str, Any]) -> None:
    global _worker
    _worker = make_decoder(decoder, params)


def decode_one(decoder: Any, args: tuple[Any, Vocabulary, float]) -> Decoded | str:
    """Decoded, or the reason as a string: one utterance's decoder failure is recorded, not fatal."""
    log_probs, vocab, frame_seconds = args
    try:
        decoded = decoder.decode(log_probs, vocab, frame_seconds)
    except Exception as exc:
        return f"decoder failed: {type(exc).__name__}: {exc}"
    decoded.word_confidence = word_confidence(log_probs, decoded.word_times, frame_seconds)
    return decoded


def _decode_in_worker(args: tuple[Any, Vocabulary, float]) -> Decoded | str:
    return decode_one(_worker, args)


def decode_all(decoder: Any, pool: Any, args: list[tuple[Any, Vocabulary, float]], workers: int) -> list[Any]:
    """Each utterance's Decoded or failure reason, in order: inline without a pool, else in its workers."""
    if pool is None:
        return [decode_one(decoder, a) for a in args]
    return list(pool.map(_decode_in_worker, args, chunksize=max(1, len(args) // (4 * workers))))


@contextlib.contextmanager
def decoder_pool(decoder: str, params: dict[str, Any], workers: int) -> Iterator[Any]:
    """Spawned workers (never forked: torch's thread pools do not survive fork) each holding a decoder."""
    if workers <= 1:
        yield None
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_init_worker, initargs=(decoder, params)
    ) as pool:
        yield pool


def default_workers(decoder: str) -> int:
    """Slow decoders use every core but one (the acoustic model keeps one busy); fast ones stay inline."""
    if not DECODERS[decoder].parallel:
        return 1
    return max(1, min(8, (os.cpu_count() or 2) - 1))
