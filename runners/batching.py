"""Duration-bucketed batches: the work unit that the AM, the decoders and a future Ray/Dask step share."""

from __future__ import annotations

from collections.abc import Sequence

from werbench.manifests.schema import Utterance


def duration_batches(
    utts: Sequence[Utterance], batch_seconds: float = 240.0, max_batch: int = 64
) -> list[list[Utterance]]:
    """Sort by duration and cut so that padded audio (longest x count) stays under ``batch_seconds``.

    Sorting keeps padding small; the cap is on padded seconds because that is what the model computes.
    """
    batches: list[list[Utterance]] = []
    current: list[Utterance] = []
    for utt in sorted(utts, key=lambda u: (u.duration, u.utt_id)):
        padded = max(utt.duration, current[-1].duration if current else 0.0) * (len(current) + 1)
        if current and (padded > batch_seconds or len(current) >= max_batch):
            batches.append(current)
            current = []
        current.append(utt)
    if current:
        batches.append(current)
    return batches
