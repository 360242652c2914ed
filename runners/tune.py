"""``werbench tune``: grid search of decoder weights (alpha, beta, gamma) on a dev set's cached log-probs.

The acoustic model runs once (through the logits cache); beam grid points are decoded in parallel worker
processes that each keep the KenLM and lexicon loaded; for ``rescore`` the n-best lists and their neural
scores are computed once and the grid only re-ranks them. Grid points are scored by the one aligner
(``werbench.aligner``, below every layer): their WER and CER are exactly what ``werbench score`` reports
for the same hypotheses, so tuning optimises the number the leaderboard shows.
Tuning on a set that is also reported as a test set inflates those results, so that is checked and shouted.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import itertools
import json
import math
import multiprocessing
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from werbench.manifests.atomic import atomic_write
from werbench.manifests.errors import ConfigError, ManifestError, ResultsDirError
from werbench.runners.decoders.base import Vocabulary
from werbench.runners.decoders.beam_common import Beam

GRID_AXES = ("alpha", "beta", "gamma")
DEFAULT_GRID = "alpha=0.25:2.0:0.25,beta=0:3:0.5"
GRID_COLUMNS = ["alpha", "beta", "gamma", "wer", "cer", "oracle_wer", "utts", "seconds"]
MAX_POINTS = 10_000
NEURAL_CHUNK = 256


@dataclass(slots=True)
class DevUtt:
    """One dev utterance: normalised reference and its log-probs."""

    utt_id: str
    ref: str
    log_probs: np.ndarray


@dataclass(slots=True)
class Tally:
    """Per-utterance error counts of a grid point, or of one utterance shard of it: shards concatenate."""

    words: np.ndarray  # align_counts rows: hits, substitutions, deletions, insertions
    chars: np.ndarray
    oracle: np.ndarray  # the fewest word errors in each utterance's n-best list

    @classmethod
    def join(cls, parts: Sequence[Tally]) -> Tally:
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("words", "chars", "oracle")))

    def rates(self) -> dict[str, float]:
        """WER (sclite weights), CER (``levenshtein``) and oracle WER: what ``werbench score`` reports."""
        ref_words, ref_chars = max(int(self.words[:, :3].sum()), 1), max(int(self.chars[:, :3].sum()), 1)
        return {
            "wer": int(self.words[:, 1:].sum()) / ref_words,
            "cer": int(self.chars[:, 1:].sum()) / ref_chars,
            "oracle_wer": int(self.oracle.sum()) / ref_words,
        }


@dataclass(slots=True)
class Counts:
    """One grid point's normalised hypotheses (best and n-best), aligned in one batch by the one aligner."""

    refs: list[str] = field(default_factory=list)
    hyps: list[str] = field(default_factory=list)
    nbests: list[list[str]] = field(default_factory=list)

    def add(self, ref: str, hyp: str, nbest: Sequence[str]) -> None:
        self.refs.append(ref)
        self.hyps.append(hyp)
        self.nbests.append([hyp, *nbest])

    def tally(self) -> Tally:
        """Align every hypothesis: done where the shard was decoded, so scoring is parallel too."""
        from werbench.aligner.align import align_counts, cer_counts

        words = align_counts(self.refs, self.hyps, want_ops=False).counts
        chars = cer_counts(self.refs, self.hyps)
        sizes = [len(texts) for texts in self.nbests]
        flat = align_counts(
            np.repeat(np.array(self.refs, object), sizes).tolist(),
            [text for texts in self.nbests for text in texts],
            want_ops=False,
        ).counts
        errors = flat[:, 1:].sum(axis=1)
        oracle = np.minimum.reduceat(errors, np.cumsum([0, *sizes[:-1]])) if sizes else errors
        return Tally(words, chars, oracle)

    def rates(self) -> dict[str, float]:
        return self.tally().rates()


@dataclass
class TuneResult:
    """The grid, the best point and what the run wants the user to know."""

    rows: list[dict[str, Any]]
    best: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


def parse_axis(name: str, spec: str) -> list[float]:
    """``start:stop:step`` (inclusive), ``a|b|c`` or a single number."""
    try:
        if ":" in spec:
            start, stop, step = (float(x) for x in spec.split(":"))
            if step <= 0 or stop < start:
                raise ValueError
            count = int(np.floor((stop - start) / step + 1e-9)) + 1
            return [round(start + i * step, 10) for i in range(count)]
        return [float(x) for x in spec.split("|")]
    except ValueError:
        raise ConfigError("--grid", f"{name}={spec!r}: use start:stop:step, a|b|c or one number") from None


def parse_grid(spec: str) -> dict[str, list[float]]:
    """``alpha=0.5:2.0:0.25,beta=0:3:0.5[,gamma=...]`` -> values per axis."""
    grid: dict[str, list[float]] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, sep, values = part.partition("=")
        name = name.strip()
        if not sep or name not in GRID_AXES:
            raise ConfigError(
                "--grid", f"{part!r}: expected NAME=VALUES with NAME one of {', '.join(GRID_AXES)}"
            )
        grid[name] = parse_axis(name, values.strip())
    if not grid:
        raise ConfigError("--grid", "empty grid")
    size = int(np.prod([len(v) for v in grid.values()]))
    if size > MAX_POINTS:
        raise ConfigError("--grid", f"{size} points is more than {MAX_POINTS}: coarsen the steps")
    return grid


def default_grid(lm: str | Path) -> dict[str, list[float]]:
    """``DEFAULT_GRID``; a DeepSpeech ``.scorer`` package's own alpha and beta join their axes, so the
    weights it ships with are scored beside the search (an axis left out of a grid takes them too)."""
    from werbench.runners.decoders.ngram import is_scorer, scorer_package

    grid = parse_grid(DEFAULT_GRID)
    if is_scorer(lm):
        package = scorer_package(lm)
        grid["alpha"] = sorted({*grid["alpha"], package.alpha})
        grid["beta"] = sorted({*grid["beta"], package.beta})
    return grid


def grid_points(grid: dict[str, list[float]]) -> list[dict[str, float]]:
    names = list(grid)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*grid.values())]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _audio_and_offsets(path: Path) -> tuple[list[Any], list[Any]]:
    """The ``audio_filepath`` and ``offset`` values of a JSON-lines file: Arrow's reader where it can
    (seconds for a 400k-row results directory, not a minute), else line by line (which names bad lines)."""
    from werbench.manifests.columnar import arrow_frame
    from werbench.manifests.io import iter_json_rows

    frame = arrow_frame(path)
    if frame is None:
        rows = [row for _, row in iter_json_rows(path)]
        return [r.get("audio_filepath") for r in rows], [r.get("offset") for r in rows]
    audio = frame["audio_filepath"].tolist() if "audio_filepath" in frame else []
    return audio, frame["offset"].tolist() if "offset" in frame else [None] * len(audio)


def _utt_keys(path: Path, names: set[str] | None = None) -> set[tuple[str, float]]:
    """(resolved audio path, offset) of each row: the same recording under another name still matches.
    ``names``: only rows whose audio file has one of these names (resolving costs syscalls per row). A path
    that cannot be resolved (a symlink loop) is compared as written; a bad offset counts as 0."""
    keys = set()
    for audio, offset in zip(*_audio_and_offsets(path), strict=True):
        if not isinstance(audio, str) or (names is not None and os.path.basename(audio) not in names):
            continue
        where = Path(audio) if Path(audio).is_absolute() else (path.parent / audio)
        try:
            where = where.resolve()
        except (OSError, RuntimeError):  # a symlink loop (RuntimeError before Python 3.13)
            where = where.absolute()
        number = isinstance(offset, int | float) and not isinstance(offset, bool) and math.isfinite(offset)
        keys.add((str(where), round(float(offset), 3) if number else 0.0))
    return keys


def results_testsets(results: Path) -> list[Path]:
    """The test set folders of a ``--results`` directory (a ``manifest.jsonl`` or a system's predictions);
    anything else is a clear error before any model or LM is loaded, not a silent 'no leak found'."""
    from werbench.manifests.results import PREDICTIONS, TESTSET_MANIFEST, refuse_url

    refuse_url(results)
    if not results.exists():
        raise ResultsDirError(results, "results directory not found", field="--results")
    if not results.is_dir():
        raise ResultsDirError(results, "expected a results directory, got a file", field="--results")
    testsets = [
        folder
        for folder in sorted(p for p in results.iterdir() if p.is_dir() and not p.name.startswith("."))
        if (folder / TESTSET_MANIFEST).is_file() or any(p.is_file() for p in folder.glob(f"*/{PREDICTIONS}"))
    ]
    if not testsets:
        raise ResultsDirError(
            results,
            f"not a results directory: no <testset>/{TESTSET_MANIFEST} or <testset>/<system>/{PREDICTIONS}",
            field="--results",
        )
    return testsets


def tuning_set_leaks(dev: Path, results_dirs: Sequence[Path]) -> list[str]:
    """Warnings for every reported test set that is the dev file, or shares utterances with it."""
    from werbench.manifests.results import PREDICTIONS, TESTSET_MANIFEST

    found = {Path(results): results_testsets(Path(results)) for results in results_dirs}
    dev = dev.resolve()
    dev_hash = sha256_file(dev)
    dev_keys = _utt_keys(dev)
    names = {os.path.basename(audio) for audio, _ in dev_keys} | {
        os.path.basename(a) for a in _audio_and_offsets(dev)[0] if isinstance(a, str)
    }  # a symlink's own name as well as its target's
    warnings = []
    for results, testsets in found.items():
        for testset in testsets:
            reference = testset / TESTSET_MANIFEST
            if reference.is_file() and (reference.resolve() == dev or sha256_file(reference) == dev_hash):
                warnings.append(
                    f"the tuning set {dev} IS the reported test set '{testset.name}' in {results}"
                )
                continue
            shared = set()
            for predictions in [reference, *sorted(testset.glob(f"*/{PREDICTIONS}"))]:
                if predictions.is_file():
                    shared |= dev_keys & _utt_keys(predictions, names)
            if shared:
                warnings.append(
                    f"{len(shared)} of {len(dev_keys)} tuning utterances are in the reported test set "
                    f"'{testset.name}' in {results}: its results will look better than they are"
                )
    return warnings


def load_dev(
    model_path: str | Path,
    dev: Path,
    normalize: str,
    *,
    device: str = "auto",
    precision: str = "auto",
    cache_dir: str | Path = ".werbench-cache",
    trust_model: bool = False,
) -> tuple[list[DevUtt], Vocabulary, float, dict[str, Any], list[str]]:
    """Dev log-probs through the logits cache; -> (utterances, vocabulary, frame seconds, identity, notes)."""
    from tqdm import tqdm
    from werbench.manifests.io import load_manifest
    from werbench.manifests.normalize import get_normalizer
    from werbench.runners.logits_cache import LogitsCache, iter_log_probs
    from werbench.runners.models.load import load_model
    from werbench.runners.storage import scratch_dir

    norm = get_normalizer(normalize)
    utts = list(load_manifest(dev))
    if not utts:
        raise ManifestError(dev, "the tuning manifest is empty")
    model = load_model(
        model_path,
        device=device,
        precision=precision,
        cache_dir=scratch_dir(cache_dir),
        trust_model=trust_model,
    )
    identity = model.identity()
    cache = LogitsCache(cache_dir, identity)
    out: list[DevUtt] = []
    notes: list[str] = []
    with tqdm(total=len(utts), desc="acoustic model (cached)", unit=" utt") as bar:
        for batch in iter_log_probs(model, utts, cache):
            for item in batch:
                if item.log_probs is None:
                    notes.append(f"{item.utt.utt_id}: skipped ({item.error})")
                else:
                    out.append(DevUtt(item.utt.utt_id, norm(item.utt.text), item.log_probs))
            bar.update(len(batch))
    if not out:
        raise ManifestError(dev, "no tuning utterance could be run through the acoustic model")
    return out, model.vocab, model.frame_seconds, identity, notes


# Worker state: set in the parent before the fork so the log-probs are shared, not pickled per task.
_SHARED: dict[str, Any] = {}


def shard_spans(utts: int, points: int, workers: int) -> list[tuple[int, int]]:
    """Utterance ranges that split each grid point into enough tasks to keep ``workers`` busy (about two
    tasks per worker): one range when the grid alone is that big, more on a cluster wider than the grid."""
    shards = min(utts, max(1, -(-2 * workers // max(points, 1))))
    bounds = [round(i * utts / shards) for i in range(shards + 1)]
    return list(itertools.pairwise(bounds))


def _score_beam_shard(task: tuple[dict[str, float], int, int]) -> tuple[Tally, float]:
    """One grid point on utterances ``[start, stop)`` of the dev set: their error counts, the time spent."""
    point, first, stop = task
    start = time.perf_counter()
    decoder = dataclasses.replace(_SHARED["decoder"], **{k: v for k, v in point.items() if k != "gamma"})
    counts = Counts()
    for utt in _SHARED["utts"][first:stop]:
        decoded = decoder.decode(utt.log_probs, _SHARED["vocab"], _SHARED["frame_seconds"])
        counts.add(utt.ref, _SHARED["norm"](decoded.text), [_SHARED["norm"](h.text) for h in decoded.nbest])
    return counts.tally(), time.perf_counter() - start


def _first_pass(index: int) -> list[Beam]:
    utt = _SHARED["utts"][index]
    return (
        _SHARED["decoder"]
        .first_pass_decoder()
        .search(utt.log_probs, _SHARED["vocab"], _SHARED["frame_seconds"])
    )


def _pool_map(func: Callable, items: list, jobs: int, desc: str) -> list:
    """``func`` over ``items`` in forked workers (in order), with a progress bar.

    Fork, unlike decode's spawned workers, shares the log-probs and the loaded LM without copying; it is
    safe here because the workers run only the KenLM searches and never touch torch.
    """
    from tqdm import tqdm

    if jobs <= 1 or len(items) <= 1:
        return [func(item) for item in tqdm(items, desc=desc)]
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        return list(tqdm(pool.imap(func, items), total=len(items), desc=desc))


def rescore_nbest(
    decoder: Any,
    utts: list[DevUtt],
    vocab: Vocabulary,
    frame_seconds: float,
    jobs: int,
    mapper: Callable[[Callable, list, int, str], list] = _pool_map,
):
    """First-pass n-best per utterance (parallel), then neural scores for all texts in big batches."""
    _SHARED.update(decoder=decoder, utts=utts, vocab=vocab, frame_seconds=frame_seconds)
    decoder.first_pass_decoder().search(utts[0].log_probs, vocab, frame_seconds)  # LM loaded before the fork
    nbests = mapper(_first_pass, list(range(len(utts))), jobs, "first-pass n-best")
    from tqdm import tqdm

    texts = [b.hyp.text for beams in nbests for b in beams]
    scorer = decoder.scorer()
    scores: list[float] = []
    for start in tqdm(range(0, len(texts), NEURAL_CHUNK), desc="neural LM scores", unit=" chunk"):
        scores += scorer.score(texts[start : start + NEURAL_CHUNK])
    neural = iter(scores)
    return [
        [Beam(dataclasses.replace(b.hyp, neural_score=next(neural)), b.word_times) for b in beams]
        for beams in nbests
    ]


def tune(
    decoder: Any,
    utts: list[DevUtt],
    vocab: Vocabulary,
    frame_seconds: float,
    grid: dict[str, list[float]],
    normalize: str = "none",
    jobs: int = 1,
    on_row: Callable[[dict[str, Any]], None] | None = None,
    mapper: Callable[[Callable, list, int, str], list] = _pool_map,
) -> TuneResult:
    """Score every grid point on ``utts``; ``decoder`` is a built beam/beam-fast/rescore decoder.

    ``mapper`` runs the parallel parts like ``_pool_map`` (``engine_ray.ray_map`` runs them on a cluster);
    ``jobs`` is how many run at once there. A grid smaller than twice that is also split by utterances
    (``shard_spans``); each task also aligns its hypotheses, and a point's per-utterance counts are summed
    on the driver, so every split gives the same grid.csv and no scoring is left serial.
    """
    from werbench.manifests.normalize import get_normalizer
    from werbench.runners.decoders.rescore import RescoreDecoder, rerank

    norm = get_normalizer(normalize)
    is_rescore = isinstance(decoder, RescoreDecoder)
    if "gamma" in grid and not is_rescore:
        raise ConfigError("--grid", "gamma weighs the neural LM: only the rescore decoder has it")
    points = grid_points(grid)
    rows: list[dict[str, Any]] = []

    def record(point: dict[str, float], tally: Tally, seconds: float) -> None:
        row = {axis: point.get(axis, getattr(decoder, axis, None)) for axis in GRID_AXES}
        row.update(tally.rates(), utts=len(utts), seconds=round(seconds, 3))
        rows.append(row)
        if on_row:
            on_row(row)

    if is_rescore:
        nbests = rescore_nbest(decoder, utts, vocab, frame_seconds, jobs, mapper)
        for point in points:
            start = time.perf_counter()
            weights = {a: point.get(a, getattr(decoder, a)) for a in GRID_AXES}
            counts = Counts()
            for utt, beams in zip(utts, nbests, strict=True):
                ranked = rerank(beams, **weights)
                counts.add(utt.ref, norm(ranked[0].hyp.text), [norm(b.hyp.text) for b in beams])
            record(point, counts.tally(), time.perf_counter() - start)
    else:
        _SHARED.update(decoder=decoder, utts=utts, vocab=vocab, frame_seconds=frame_seconds, norm=norm)
        decoder.decode(utts[0].log_probs, vocab, frame_seconds)  # load the LM once: forked workers share it
        spans = shard_spans(len(utts), len(points), jobs)
        tasks = [(point, first, stop) for point in points for first, stop in spans]
        parts = iter(mapper(_score_beam_shard, tasks, jobs, f"grid points x {len(spans)} shard(s)"))
        for point in points:
            shards = list(itertools.islice(parts, len(spans)))
            record(point, Tally.join([t for t, _ in shards]), sum(spent for _, spent in shards))

    best = min(rows, key=lambda r: (r["wer"], r["cer"]))
    params = decoder.params()
    params.update({a: best[a] for a in GRID_AXES if a in params and best[a] is not None})
    if is_rescore:  # the n-best lists came from these first-pass weights: keep them with the tuned ones
        params["first_alpha"] = decoder.params()["first_alpha"]
        params["first_beta"] = decoder.params()["first_beta"]
    return TuneResult(rows=rows, best={"decoder": decoder.name, "params": params, **best})


def write_grid(path: Path, rows: list[dict[str, Any]]) -> None:
    with atomic_write(path) as handle:
        writer = csv.DictWriter(handle, fieldnames=GRID_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def write_best(path: Path, best: dict[str, Any], context: dict[str, Any]) -> None:
    with atomic_write(path) as handle:
        json.dump({**best, **context}, handle, indent=2, default=str)


def default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
