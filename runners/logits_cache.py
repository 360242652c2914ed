"""On-disk cache of CTC log-probs: the acoustic model runs once per utterance for all decoders and tuning.

Key: model file SHA-256 + precision (the folder) and audio file path/mtime/size + offset + duration + a hash
of the code that loads audio and runs models with the versions of the packages under it (the entry, see
``LOGITS_CODE``). Entries are float16 in compressed ``.npz`` files. Log-probs are rounded to float16
whether or not the cache is used, so a cached and a fresh run decode exactly the same numbers. Opening the
cache for a model whose file changed deletes the stale folder of that path.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import time
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from werbench.manifests.code_version import code_version
from werbench.manifests.schema import Utterance
from werbench.runners.audio import AudioError, audio_fingerprint, load_audio
from werbench.runners.batching import duration_batches
from werbench.runners.models.base import AcousticModel
from werbench.runners.storage import Store

log = logging.getLogger(__name__)
# What turns audio into cached log-probs besides the model file: audio reading and resampling, the model
# adapters, this cache's layout, and the packages under them.
LOGITS_CODE = (
    (
        "werbench.manifests.audio",
        "werbench.manifests.sphere",
        "werbench.manifests.shorten",
        "werbench.runners.audio",
        "werbench.runners.models",
        "werbench.runners.logits_cache",
    ),
    ("numpy", "soundfile", "soxr", "librosa", "torch", "nemo_toolkit", "transformers"),
)
LOG_PROB_FLOOR = -1.0e4  # float16 cannot hold -inf safely through decoders; nothing real is this unlikely


def quantize(log_probs: np.ndarray) -> np.ndarray:
    """The exact float32 values a cache hit will return."""
    return np.maximum(log_probs, LOG_PROB_FLOOR).astype(np.float16).astype(np.float32)


@dataclass(slots=True)
class UttLogits:
    """One utterance's log-probs (or why there are none) with the costs to report in run.json."""

    utt: Utterance
    log_probs: np.ndarray | None
    error: str | None = None
    audio_seconds: float = 0.0
    am_seconds: float = 0.0
    cached: bool = False
    notes: list[str] = field(default_factory=list)


class LogitsCache:
    """Log-probs of one model (at one precision) under ``root/logits/<sha>-<precision>/``; ``root`` is a
    folder or a storage URL every node sees (``runners.storage``): each entry is one atomic object."""

    def __init__(self, root: str | Path, identity: dict[str, Any]) -> None:
        self.identity = identity
        self.sample_rate = int(identity.get("sample_rate", 16000))
        precision = identity.get("precision", "fp32")
        self.store = Store(root)
        self.folder = f"logits/{identity['sha256'][:24]}-{precision}"
        self.hits = 0
        self.misses = 0
        self.invalidated = self._drop_stale()
        info = {k: identity.get(k) for k in ("path", "sha256", "architecture", "precision")}
        self.store.write(f"{self.folder}/model.json", json.dumps(info).encode())

    def _drop_stale(self) -> int:
        """Delete folders cached for an older version of the same model file."""
        dropped = 0
        for info in self.store.keys("logits", "*/model.json"):
            folder = info.rsplit("/", 1)[0]
            if folder == self.folder:
                continue
            with contextlib.suppress(OSError, json.JSONDecodeError):
                old = json.loads(self.store.read(info) or b"{}")
                if (
                    old.get("path") == self.identity.get("path")
                    and old.get("sha256") != self.identity["sha256"]
                ):
                    self.store.remove(folder, recursive=True)
                    log.info("model %s changed: dropped its stale logits cache %s", old["path"], folder)
                    dropped += 1
        return dropped

    def key(self, utt: Utterance) -> str | None:
        """None when the audio file cannot be fingerprinted (missing): such utterances are never cached."""
        try:
            audio = audio_fingerprint(utt.audio_filepath)
        except OSError:
            return None
        spec = {
            "code": code_version(*LOGITS_CODE),
            "audio": audio,
            "offset": round(utt.offset, 6),
            "duration": round(utt.duration, 6),
            "sample_rate": self.sample_rate,
        }
        return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()

    def _key_path(self, key: str) -> str:
        return f"{self.folder}/{key[:2]}/{key}.npz"

    def get(self, utt: Utterance) -> UttLogits | None:
        key = self.key(utt)
        try:
            data = self.store.read(self._key_path(key)) if key else None
            if data is None:
                self.misses += 1
                return None
            with np.load(io.BytesIO(data), allow_pickle=False) as entry:
                log_probs = entry["log_probs"].astype(np.float32)
                meta = json.loads(str(entry["meta"]))
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error):
            self.misses += 1
            return None  # a damaged entry is recomputed and overwritten
        self.hits += 1
        return UttLogits(
            utt,
            log_probs,
            audio_seconds=float(meta["audio_seconds"]),
            am_seconds=float(meta["am_seconds"]),
            cached=True,
            notes=list(meta.get("notes", [])),
        )

    def put(self, result: UttLogits) -> None:
        key = self.key(result.utt)
        if key is None or result.log_probs is None:
            return
        meta = {"audio_seconds": result.audio_seconds, "am_seconds": result.am_seconds, "notes": result.notes}
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer, log_probs=result.log_probs.astype(np.float16), meta=np.array(json.dumps(meta))
        )
        self.store.write(self._key_path(key), buffer.getvalue())


def _run_model(model: AcousticModel, samples: list[np.ndarray]) -> list[np.ndarray | str]:
    """The batch at once; if it fails, each utterance alone so one bad input cannot sink the batch."""
    try:
        return list(model.log_probs(samples))
    except Exception as exc:
        if len(samples) == 1:
            return [f"acoustic model failed: {type(exc).__name__}: {exc}"]
    return [_run_model(model, [s])[0] for s in samples]


def batch_log_probs(
    model: AcousticModel, batch: list[Utterance], cache: LogitsCache | None = None
) -> list[UttLogits]:
    """Log-probs for one batch, in the batch's order: cache hits, then one model call for the rest."""
    results: list[UttLogits | None] = [cache.get(u) if cache else None for u in batch]
    todo: list[tuple[int, list[str], np.ndarray]] = []
    for index, utt in enumerate(batch):
        if results[index] is not None:
            continue
        try:
            audio = load_audio(utt.audio_filepath, model.sample_rate, utt.offset, utt.duration)
        except AudioError as exc:
            results[index] = UttLogits(utt, None, error=str(exc))
            continue
        todo.append((index, audio.notes, audio.samples))
    if todo:
        start = time.perf_counter()
        outputs = _run_model(model, [samples for _, _, samples in todo])
        elapsed = time.perf_counter() - start
        total = sum(len(samples) for _, _, samples in todo)
        for (index, notes, samples), output in zip(todo, outputs, strict=True):
            seconds = len(samples) / model.sample_rate
            if isinstance(output, str):
                results[index] = UttLogits(batch[index], None, error=output, audio_seconds=seconds)
                continue
            result = UttLogits(
                batch[index],
                quantize(output),
                audio_seconds=seconds,
                am_seconds=elapsed * len(samples) / total,
                notes=notes,
            )
            if cache is not None:
                cache.put(result)
            results[index] = result
    return [r for r in results if r is not None]


def iter_log_probs(
    model: AcousticModel,
    utts: Iterable[Utterance],
    cache: LogitsCache | None = None,
    batch_seconds: float = 240.0,
    max_batch: int = 64,
) -> Iterator[list[UttLogits]]:
    """Duration-bucketed batches of log-probs: what tuning and decoding both consume."""
    for batch in duration_batches(list(utts), batch_seconds, max_batch):
        yield batch_log_probs(model, batch, cache)
