"""Decode one test set with one acoustic model and one decoder into ``RESULTS/<testset>/<system>/``.

The unit of work is (system, batch of utterances): a batch gets its log-probs (logits cache first), is
decoded (in worker processes for slow decoders) and is appended to ``predictions.jsonl`` with an fsync, then
``run.json`` is rewritten atomically with the running totals. A kill loses at most the batch in flight; the
same command again skips every utterance already written (and retries failed ones), and on completion the
file is rewritten atomically in manifest order.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from werbench.manifests.errors import ResultsDirError
from werbench.manifests.io import load_manifest, write_manifest
from werbench.manifests.normalize import get_normalizer
from werbench.manifests.results import (
    TESTSET_MANIFEST,
    RunInfo,
    SystemRef,
    read_run_info,
    system_dir,
    write_run_info,
)
from werbench.manifests.schema import Utterance
from werbench.runners.batching import duration_batches
from werbench.runners.decoder_pool import decode_all, decoder_pool, default_workers
from werbench.runners.decoders.base import Decoded, Vocabulary
from werbench.runners.decoders.registry import file_params, make_decoder
from werbench.runners.hashing import sha256_path
from werbench.runners.interrupts import remembered_interrupts
from werbench.runners.logits_cache import LogitsCache, UttLogits, batch_log_probs
from werbench.runners.models.base import AcousticModel
from werbench.runners.predictions_file import append_rows, prediction_row, read_done, write_rows
from werbench.runners.remote_results import RemoteSystem, staging_root
from werbench.runners.storage import local_path, scratch_dir

VERSIONED_PACKAGES = (
    "werbench", "numpy", "torch", "nemo_toolkit", "transformers", "pyctcdecode", "numba", "kenlm",
    "soundfile", "soxr",
)  # fmt: skip
STATUS_RUNNING, STATUS_INTERRUPTED, STATUS_COMPLETE = "running", "interrupted", "complete"


@dataclass(slots=True)
class DecodeJob:
    """Everything that defines one system's decode of one test set (besides the loaded model)."""

    manifest: Path
    results: Path | str  # a folder, or a storage URL (runners.storage)
    decoder: str = "greedy"
    params: dict[str, Any] = field(default_factory=dict)
    system: str | None = None
    testset: str | None = None
    normalizer: str = "nemo"
    batch_seconds: float = 240.0
    max_batch: int = 64
    workers: int | None = None
    overwrite: bool = False
    cache_dir: Path | str | None = Path(".werbench-cache")  # a folder or a storage URL
    progress: bool = True


@dataclass(slots=True)
class DecodeSummary:
    """What the CLI prints after a decode."""

    ref: SystemRef
    info: RunInfo
    total: int
    skipped: int
    failures: list[tuple[str, str]]
    location: str | None = None  # the system's URL when the results live on object storage


def default_system_name(model_path: str | Path, decoder: str) -> str:
    """``<model>@<decoder>``: systems sharing the part before ``@`` share an acoustic model."""
    stem = Path(model_path).name
    for suffix in (".nemo", ".pth", ".pt", ".ckpt"):
        stem = stem.removesuffix(suffix)
    return f"{stem}@{decoder}"


@functools.cache
def package_versions() -> dict[str, str]:
    """Installed versions of what shapes the output (read once: metadata lookups cost milliseconds each)."""
    versions = {}
    for name in VERSIONED_PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    return versions


def fingerprint(identity: dict[str, Any], decoder: str, params: dict[str, Any]) -> str:
    """What must match for a re-run to resume rather than mix two configurations in one system."""
    spec = {
        "model": identity["sha256"],
        "precision": identity.get("precision"),
        "decoder": decoder,
        "params": params,
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:16]


# ---------------------------------------------------------------- run.json


def batch_rows(
    logits: list[UttLogits],
    vocab: Vocabulary,
    frame_seconds: float,
    decoder: Any,
    pool: Any = None,
    workers: int = 1,
) -> list[dict[str, Any]]:
    """Prediction rows in batch order, failed audio/model rows included: every engine builds its rows here,
    so a failure reads the same whichever engine ran it."""
    ok = [item for item in logits if item.log_probs is not None]
    outputs = decode_all(decoder, pool, [(item.log_probs, vocab, frame_seconds) for item in ok], workers)
    decoded = dict(zip((id(item) for item in ok), outputs, strict=True))
    rows = []
    for item in logits:
        out = decoded.get(id(item), item.error)
        if isinstance(out, Decoded):
            rows.append(prediction_row(item.utt, out, None))
        else:
            rows.append(prediction_row(item.utt, None, out))
    return rows


def _notes(counts: dict[str, int], cached: int, failures: int) -> list[str]:
    notes = [f"{note} ({n} utterance{'s' if n != 1 else ''})" for note, n in sorted(counts.items())]
    if cached:
        notes.append(
            f"{cached} utterances' log-probs came from the logits cache; am_seconds counts the time measured "
            "when they were computed"
        )
    if failures:
        notes.append(f"{failures} utterances failed; their prediction lines carry an 'error' field")
    return notes


@dataclass(slots=True)
class Totals:
    """Running sums kept in run.json ``extra`` so that a resumed run reports the whole decode."""

    audio_seconds: float = 0.0
    am_seconds: float = 0.0
    decode_seconds: float = 0.0
    cached: int = 0
    note_counts: Counter = field(default_factory=Counter)

    @classmethod
    def from_info(cls, info: RunInfo | None) -> Totals:
        if info is None:
            return cls()
        saved = info.extra.get("totals") or {}
        return cls(
            audio_seconds=info.audio_seconds,
            am_seconds=info.am_seconds,
            decode_seconds=info.decode_seconds,
            cached=int(saved.get("cached", 0)),
            note_counts=Counter(saved.get("note_counts", {})),
        )

    def add(self, logits: list[UttLogits], decode_seconds: float) -> None:
        for item in logits:
            if item.log_probs is None:
                continue
            self.audio_seconds += item.audio_seconds
            self.am_seconds += item.am_seconds
            self.cached += item.cached
            self.note_counts.update(item.notes)
        self.decode_seconds += decode_seconds

    def merge(self, other: Totals) -> None:
        """Add sums computed elsewhere (a remote task's batch)."""
        self.audio_seconds += other.audio_seconds
        self.am_seconds += other.am_seconds
        self.decode_seconds += other.decode_seconds
        self.cached += other.cached
        self.note_counts.update(other.note_counts)

    @property
    def rtfx(self) -> float | None:
        spent = self.am_seconds + self.decode_seconds
        return round(self.audio_seconds / spent, 2) if spent > 0 and self.audio_seconds > 0 else None


class SystemRun:
    """One system's decode of one test set: resume state, batches, run.json."""

    def __init__(self, job: DecodeJob, model: AcousticModel) -> None:
        self.job = job
        self.model = model
        self.identity = model.identity()
        self.utts = list(load_manifest(job.manifest))
        testset = job.testset or Path(job.manifest).stem
        system = job.system or default_system_name(self.identity["path"], job.decoder)
        results = local_path(job.results)
        self.remote: RemoteSystem | None = None
        if results is None:  # object storage: the engines write a local staging copy (remote_results)
            staged = system_dir(staging_root(str(job.results), scratch_dir(job.cache_dir)), testset, system)
            self.remote = RemoteSystem(str(job.results), staged)
        self.ref = self.remote.ref if self.remote else system_dir(results, testset, system)
        self.normalizer = get_normalizer(job.normalizer).spec
        self.decoder = make_decoder(job.decoder, job.params)
        self.fingerprint = fingerprint(self.identity, job.decoder, self.decoder.params())
        self.created = datetime.now(UTC).isoformat(timespec="seconds")
        memo = scratch_dir(job.cache_dir) / "sha256-memo.json" if job.cache_dir else None
        self.files = {k: {"path": str(Path(v).resolve()), "sha256": sha256_path(v, memo)}
                      for k, v in file_params(job.decoder, job.params).items()}  # fmt: skip
        self.totals = Totals()

    def _previous(self) -> RunInfo | None:
        """The earlier run of this configuration, if any; a different one is an error unless overwriting."""
        if not self.ref.predictions.is_file():
            return None
        info = read_run_info(self.ref)
        if info is not None and info.extra.get("fingerprint") == self.fingerprint:
            return info
        if not self.job.overwrite:
            raise ResultsDirError(
                self.ref.path,
                f"system {self.ref.system!r} already holds results of a different model or decoder "
                "configuration (or imported hypotheses); pass --overwrite to replace them or --name to write "
                "a new system",
            )
        self.ref.predictions.unlink()
        if self.remote:
            self.remote.clear()
        return None

    def prepare(self) -> list[Utterance]:
        """Check for a conflicting earlier run, restore totals, return the utterances still to decode."""
        if self.remote:
            self.remote.pull()
        self.ref.path.mkdir(parents=True, exist_ok=True)
        previous = self._previous()
        if previous is not None:
            self.created = previous.created or self.created
        self.totals = Totals.from_info(previous)
        testset_manifest = self.ref.path.parent / TESTSET_MANIFEST
        if not testset_manifest.is_file():
            write_manifest(testset_manifest, self.utts)
        if self.remote:
            self.remote.put_manifest()
        done = read_done(self.ref.predictions)
        return [u for u in self.utts if u.utt_id not in done]

    @property
    def location(self) -> str | None:
        """The system's URL when its results live on object storage (the staging copy is only a mirror)."""
        return self.remote.store.url(self.remote.prefix) if self.remote else None

    def save_batch(self, rows: list[dict[str, Any]], totals: Totals) -> None:
        """A decoded batch, then run.json with its sums added: what a resumed run starts from. The sums join
        only once the rows are saved, so a batch lost to a kill is never counted (driver only)."""
        append_rows(self.ref.predictions, rows)
        if self.remote:
            self.remote.put_batch(rows)
        self.totals.merge(totals)
        self.mark(STATUS_RUNNING)

    def mark(self, status: str) -> None:
        """Rewrite run.json with ``status`` and the running totals."""
        write_run_info(self.ref, self.run_info(status))
        if self.remote:
            self.remote.put_run_info()

    def run_info(self, status: str) -> RunInfo:
        failures = self.failures() if status == STATUS_COMPLETE else []
        lm = self.files.get("lm")
        if lm and "unigrams" in self.files:
            lm = {**lm, "unigrams": self.files["unigrams"]}
        return RunInfo(
            system=self.ref.system,
            testset=self.ref.testset,
            model=dict(self.identity),
            decoder={
                "type": self.job.decoder,
                "params": self.decoder.params(),
                "lineage": self.decoder.lineage(),
            },
            lm=lm,
            rescorer=self.files.get("rescorer"),
            normalizer=self.normalizer,
            versions=dict(package_versions()),
            device=str(self.identity.get("device", "cpu")),
            audio_seconds=round(self.totals.audio_seconds, 3),
            am_seconds=round(self.totals.am_seconds, 3),
            decode_seconds=round(self.totals.decode_seconds, 3),
            rtfx=self.totals.rtfx,
            created=self.created,
            notes=_notes(self.totals.note_counts, self.totals.cached, len(failures)),
            extra={
                "status": status,
                "fingerprint": self.fingerprint,
                "manifest": str(Path(self.job.manifest).resolve()),
                "utterances": len(self.utts),
                "failed": [{"utt_id": u, "error": e} for u, e in failures],
                "totals": {"cached": self.totals.cached, "note_counts": dict(self.totals.note_counts)},
                "updated": datetime.now(UTC).isoformat(timespec="seconds"),
            },
        )

    def failures(self) -> list[tuple[str, str]]:
        rows = read_done(self.ref.predictions, retry_failed=False)
        return [(utt_id, row["error"]) for utt_id, row in rows.items() if row.get("error")]

    def decode_batch(self, logits: list[UttLogits], pool: Any, workers: int) -> list[dict[str, Any]]:
        """Prediction rows for one batch of log-probs (failed audio/model rows included)."""
        return batch_rows(logits, self.model.vocab, self.model.frame_seconds, self.decoder, pool, workers)

    def finish(self) -> RunInfo:
        """Rewrite predictions in manifest order (atomically) and mark the run complete."""
        rows = read_done(self.ref.predictions, retry_failed=False)
        missing = [u.utt_id for u in self.utts if u.utt_id not in rows]
        if missing:
            raise RuntimeError(f"{len(missing)} utterances missing after decoding, e.g. {missing[:3]}")
        write_rows(self.ref.predictions, (rows[u.utt_id] for u in self.utts))
        info = self.run_info(STATUS_COMPLETE)
        write_run_info(self.ref, info)
        if self.remote:
            self.remote.put_final()
        return info


def _progress(total: int, enabled: bool, desc: str) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="utt", disable=not enabled, dynamic_ncols=True, leave=True)


def run_decode(job: DecodeJob, model: AcousticModel) -> DecodeSummary:
    """Decode every utterance of ``job.manifest`` not yet in the system's predictions; resume-safe."""
    run = SystemRun(job, model)
    pending = run.prepare()
    cache = LogitsCache(job.cache_dir, run.identity) if job.cache_dir else None
    workers = job.workers if job.workers is not None else default_workers(job.decoder)
    batches = duration_batches(pending, job.batch_seconds, job.max_batch)
    run.mark(STATUS_RUNNING)
    bar = _progress(len(pending), job.progress, f"{run.ref.testset}/{run.ref.system}")
    try:
        with (
            remembered_interrupts() as interrupts,
            decoder_pool(job.decoder, job.params, min(workers, max(1, len(pending)))) as pool,
        ):
            for batch in batches:
                logits = batch_log_probs(model, batch, cache)
                start = time.perf_counter()
                rows = run.decode_batch(logits, pool, workers)
                totals = Totals()
                totals.add(logits, time.perf_counter() - start)
                run.save_batch(rows, totals)
                bar.update(len(rows))
                bar.set_postfix(
                    rtfx=f"{run.totals.rtfx or 0:.1f}",
                    utt_s=f"{bar.n / max(bar.format_dict['elapsed'], 1e-9):.1f}",
                )
                interrupts.check()  # a Ctrl-C that landed in a __del__ was swallowed: stop here
    except BaseException:
        with contextlib.suppress(Exception):
            run.mark(STATUS_INTERRUPTED)
        raise
    finally:
        bar.close()
    info = run.finish()
    return DecodeSummary(
        run.ref, info, len(run.utts), len(run.utts) - len(pending), run.failures(), run.location
    )
