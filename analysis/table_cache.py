"""The finished tables of a results directory (or of NeMo manifests served as SDE serves them), cached whole
so that a second look costs well under a second.

The alignment cache (``analysis.cache``) skips aligning, but a results directory still has to be read and
parsed, its tables assembled and its intervals bootstrapped (seconds at 100k utterances x 4 systems). This
cache keeps the result of ``inputs.read_results`` + ``tables.build_tables`` instead, keyed by the names,
sizes and modification times of every input file, every option that changes a number, and the code
versions: any edited input or option is another key, never a stale table. Both tables are uncompressed
Arrow IPC files read through a memory map, so loading is zero-copy and the pages stay shared between
processes (the dashboard's workers), at the price of disk (~1.4 KB per utterance and system). The
warnings met while building are stored with them and given back on every load. Files are written
atomically; an unreadable one is a miss; nothing is evicted. The key holds the results folder's absolute
path (tables hold resolved audio paths), each file's inode, size and mtime/ctime in ns, every normaliser's
versioned spec and a hash of the analysis and manifests source files and of the versions of the packages they
run on (``manifests.code_version``): no version number to remember to bump.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.feather as feather
from werbench.aligner.align import warm_up
from werbench.analysis import write_behind
from werbench.analysis.cache import AlignmentCache, cache_root, default_cache_dir
from werbench.analysis.inputs import Inputs, load_inputs, read_manifests, read_results
from werbench.analysis.tables import Tables, build_tables
from werbench.manifests.atomic import atomic_write
from werbench.manifests.code_version import code_version
from werbench.manifests.columnar import nested_dtype, nested_to_arrow
from werbench.manifests.normalize import NORMALIZERS
from werbench.manifests.results import TESTSET_MANIFEST, iter_systems

# Everything that builds the tables (the aligner, analysis and manifests layers, whole) and the packages
# it runs on.
TABLES_CODE = (
    ("werbench.aligner", "werbench.analysis", "werbench.manifests"),
    ("numba", "numpy", "pandas", "pyarrow", "rapidfuzz", "scipy", "regex"),
)
log = logging.getLogger(__name__)
_META = b"werbench"


@dataclass(frozen=True, slots=True)
class TableOptions:
    """Every ``build_tables`` option that changes a number (``normalize=None``: what the runs recorded)."""

    normalize: str | None = None
    costs: str = "sclite"
    cer: str = "levenshtein"
    n_resamples: int = 1000
    seed: int = 0
    speaker_ci: bool = False
    speaker_from_id: str | None = None
    compounds: bool = False
    missing: str = "deletions"  # failed/missing utterances: all deletions, or left out ("ignore")
    optional_deletable: bool = False  # sclite -D


def _digest(options: TableOptions, root: str) -> hashlib._Hash:
    digest = hashlib.blake2b(digest_size=16)
    specs = ",".join(n.spec for n in NORMALIZERS)  # a bumped normaliser version changes numbers
    digest.update(f"{code_version(*TABLES_CODE)}|{specs}|{options}".encode())
    digest.update(f"{root}\n".encode())
    return digest


def _identity(path: Path, name: Path | str) -> str:
    stat = path.stat()
    return f"{(name, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)}\n"


def fingerprint(results_dir: Path, options: TableOptions) -> str:
    """Names, sizes and mtimes of every input file, the options and the code that builds the tables."""
    digest = _digest(options, str(results_dir.resolve()))
    seen: set[Path] = set()
    for ref in iter_systems(results_dir):
        for path in (ref.predictions, ref.run_info_path, ref.path.parent / TESTSET_MANIFEST):
            if path in seen or not path.is_file():
                continue
            seen.add(path)
            digest.update(_identity(path, path.relative_to(results_dir)).encode())
    return digest.hexdigest()


def manifests_fingerprint(paths: list[Path], audio_base: Path | None, options: TableOptions) -> str:
    """``fingerprint`` of manifest files served as SDE serves them: each file's resolved path and
    identity, in order (it names systems and test sets), and the audio base (tables hold resolved paths)."""
    digest = _digest(options, f"manifests|{audio_base.resolve() if audio_base else ''}")
    for path in paths:
        digest.update(_identity(path, str(path.resolve())).encode())
    return digest.hexdigest()


def _arrow(frame: pd.DataFrame, meta: dict | None = None) -> pa.Table:
    """In the caller's thread: pyarrow converts with a thread pool, which refuses work once the
    interpreter is exiting (when a command's writes behind may still run)."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    if meta is not None:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), _META: json.dumps(meta)})
    return table


_MAX_BATCH = 1 << 20  # rows of one record batch


def _blocks(table: pa.Table) -> list[tuple[int, int]]:
    """(start, stop) of each run of rows with one (testset, system), cut at ``_MAX_BATCH`` rows."""
    n = table.num_rows
    if not n:
        return []
    change = np.zeros(n, dtype=bool)
    change[0] = True
    for name in ("testset", "system"):
        if name in table.column_names and n > 1:
            keys = table.column(name)
            same = pc.fill_null(pc.equal(keys.slice(1), keys.slice(0, n - 1)), False)
            change[1:] |= ~same.to_numpy(zero_copy_only=False)
    starts = np.flatnonzero(change).tolist()
    blocks = []
    for start, stop in zip(starts, [*starts[1:], n], strict=True):
        blocks += [(a, min(a + _MAX_BATCH, stop)) for a in range(start, stop, _MAX_BATCH)]
    return blocks


def _write(path: Path, table: pa.Table) -> None:
    """One record batch per (testset, system) block, so that each system's rows read back as one chunk per
    column: a gather, filter or cast over a column of thousands of chunks (as the tables are built)
    concatenates them all first, on every request. A block too big for one chunk is written as it is."""
    with atomic_write(path, "wb", durable=False) as handle, pa.ipc.new_file(handle, table.schema) as writer:
        for start, stop in _blocks(table):
            piece = table.slice(start, stop - start)
            with contextlib.suppress(pa.ArrowInvalid, OverflowError):  # offsets past 32 bits: as it is
                piece = piece.combine_chunks()
            writer.write_table(piece)


def _read(path: Path) -> tuple[pd.DataFrame, dict] | None:
    try:
        table = feather.read_table(path, memory_map=True)
        meta = json.loads((table.schema.metadata or {}).get(_META, b"{}"))
        # split_blocks: a block per column, as read; consolidating the numeric columns into 2-D blocks
        # copied them all (7.5 s of 8.3 at 1M utterances x 4 systems, for the same memory)
        return table.to_pandas(types_mapper=nested_dtype, split_blocks=True), meta
    except (OSError, ValueError, pa.ArrowException):
        return None


def _dataset_path(systems_path: Path, index: int) -> Path:
    return systems_path.with_name(systems_path.name.replace(".systems.", f".dataset{index}."))


def _load(utts_path: Path, systems_path: Path) -> Tables | None:
    utterances, systems = _read(utts_path), _read(systems_path)
    if utterances is None or systems is None or "missing" not in systems[1]:
        return None
    meta = systems[1]
    datasets = {}
    for index, testset in enumerate(meta.get("datasets", [])):
        dataset = _read(_dataset_path(systems_path, index))
        if dataset is None:
            return None
        datasets[testset] = dataset[0]
    return Tables(
        utterances[0], systems[0], meta["normalizer"], meta["costs"], meta["warnings"], meta["cer"],
        datasets, compounds=bool(meta.get("compounds", False)), missing=meta["missing"],
        optional_deletable=bool(meta.get("optional_deletable", False)),
        reference_words=meta.get("reference_words", {}),
    )  # fmt: skip


def _cached(
    key: str, root: Path, timings: dict[str, float], start: float
) -> tuple[Path, Path, Tables | None]:
    """The cache files of ``key`` and, when both are there and readable, their tables."""
    utts_path, systems_path = (root / "tables" / f"{key}.{part}.arrow" for part in ("utts", "systems"))
    write_behind.wait(systems_path)
    if utts_path.is_file() and systems_path.is_file():
        cached = _load(utts_path, systems_path)
        if cached is not None:
            timings["tables_read_s"] = time.perf_counter() - start
            return utts_path, systems_path, cached
    return utts_path, systems_path, None


def results_tables(
    results_dir: str | Path,
    options: TableOptions = TableOptions(),
    *,
    cache_dir: Path | None = None,
    use_cache: bool = True,
    progress: bool = False,
    timings: dict[str, float] | None = None,
) -> Tables:
    """``build_tables(read_results(results_dir))`` with ``options``, through both caches under ``cache_dir``
    (default ``cache.cache_root()``); ``use_cache=False`` neither reads nor writes either of them.

    ``timings`` (when given) receives where the seconds went: the cached tables' read, or the reading and
    the table building (the cache is written behind: ``write_behind``).
    """
    results_dir = Path(results_dir)
    timings = {} if timings is None else timings
    root = cache_root() if cache_dir is None else Path(cache_dir)
    start = time.perf_counter()
    key = fingerprint(results_dir, options) if use_cache else None
    if key is not None:
        utts_path, systems_path, cached = _cached(key, root, timings, start)
        if cached is not None:
            cached.cache_key = key
            return cached
    inputs = _warm_while(lambda: read_results(results_dir, progress=progress))
    timings["read_s"] = time.perf_counter() - start
    tables = inputs_tables(
        inputs, options, AlignmentCache(root / "alignments") if use_cache else None, progress
    )
    del inputs
    timings["tables_s"] = time.perf_counter() - start - timings["read_s"]
    tables.utterances = nested_to_arrow(tables.utterances)  # as a cached read gives them
    if key is not None:
        _store(utts_path, systems_path, tables)
        tables.cache_key = key
    return tables


def _store(utts_path: Path, systems_path: Path, tables: Tables) -> None:
    """Both files, written behind (the caller has its tables a second sooner at 100k x 4), the systems
    file last: its metadata marks a whole pair. A failure costs only the speed-up."""
    meta = {
        "normalizer": tables.normalizer,
        "costs": tables.costs,
        "warnings": tables.warnings,
        "cer": tables.cer,
        "compounds": tables.compounds,
        "optional_deletable": tables.optional_deletable,
        "missing": tables.missing,
        "datasets": list(tables.datasets),
        "reference_words": tables.reference_words,
    }
    try:
        utterances, systems = _arrow(tables.utterances), _arrow(tables.systems, meta)
        datasets = [_arrow(frame) for frame in tables.datasets.values()]
    except (pa.ArrowException, OverflowError, TypeError, ValueError) as exc:
        _not_cached(utts_path.parent, exc)
        return

    def write() -> None:
        try:
            _write(utts_path, utterances)
            for index, dataset in enumerate(datasets):
                _write(_dataset_path(systems_path, index), dataset)
            _write(systems_path, systems)
        except (OSError, pa.ArrowException) as exc:
            _not_cached(utts_path.parent, exc)

    write_behind.submit(systems_path, write)


def _not_cached(folder: Path, exc: Exception) -> None:
    log.warning("could not cache in %s (%s): the next start computes it again", folder, exc)


@dataclass(frozen=True, slots=True)
class Summaries:
    """Summaries of one key's tables (the dashboard's leaderboard cards, its hallucination flags), computed
    once per key and code instead of once per process: at 1M utterances x 4 systems they cost ~100 s
    before a warm start's first page. Each is an Arrow file per frame (index kept) under ``folder``, named
    by the tables' key, the summary's name, the caller's ``inputs`` digest (what else it read: a word
    list) and the code version of the caller's ``code`` modules (which rows it gives the analysis; the
    analysis' own code is in the tables' key). Written behind; the part that marks a whole summary (its
    first frame, which counts them) last. ``folder`` None: no cache, every summary is computed."""

    folder: Path | None
    key: str = ""
    code: tuple[str, ...] = ()

    def frames(
        self, name: str, compute: Callable[[], tuple[pd.DataFrame, ...]], inputs: str = ""
    ) -> tuple[pd.DataFrame, ...]:
        """The stored frames of summary ``name``, or ``compute()``'s, stored for the next process."""
        if self.folder is None:
            return compute()
        stamp = hashlib.blake2b(f"{name}|{inputs}|{code_version(self.code)}".encode(), digest_size=8)
        stem = self.folder / f"{self.key}.{name}.{stamp.hexdigest()}"
        write_behind.wait(_part(stem, 0))
        stored = _load_parts(stem)
        if stored is not None:
            return stored
        frames = compute()
        _store_parts(stem, frames)
        return frames


def _part(stem: Path, k: int) -> Path:
    return stem.with_name(f"{stem.name}.{k}.arrow")


def _load_parts(stem: Path) -> tuple[pd.DataFrame, ...] | None:
    head = _read(_part(stem, 0)) if _part(stem, 0).is_file() else None
    if head is None or "parts" not in head[1]:
        return None
    rest = [_read(_part(stem, k)) for k in range(1, head[1]["parts"])]
    if any(part is None for part in rest):
        return None
    return (head[0], *(part[0] for part in rest if part is not None))


def _store_parts(stem: Path, frames: tuple[pd.DataFrame, ...]) -> None:
    """Every frame, written behind; the first (its metadata counts the parts) last."""
    try:
        tables = [pa.Table.from_pandas(frame, preserve_index=True) for frame in frames]
        meta = {**(tables[0].schema.metadata or {}), _META: json.dumps({"parts": len(tables)})}
        tables[0] = tables[0].replace_schema_metadata(meta)
    except (pa.ArrowException, OverflowError, TypeError, ValueError) as exc:
        _not_cached(stem.parent, exc)
        return

    def write() -> None:
        try:
            stem.parent.mkdir(parents=True, exist_ok=True)
            for k in [*range(1, len(tables)), 0]:
                _write(_part(stem, k), tables[k])
        except (OSError, pa.ArrowException) as exc:
            _not_cached(stem.parent, exc)

    write_behind.submit(_part(stem, 0), write)


def summaries(tables: Tables, cache_dir: Path | None = None, code: tuple[str, ...] = ()) -> Summaries:
    """Where the summaries of ``tables`` are kept: beside the table cache they came through, else nowhere."""
    if tables.cache_key is None:
        return Summaries(None)
    root = cache_root() if cache_dir is None else Path(cache_dir)
    return Summaries(root / "summaries", tables.cache_key, code)


def tables_for(
    ref: Path, hyps: list[Path], options: TableOptions, *, use_cache: bool = True, progress: bool = False
) -> Tables:
    """What ``werbench score/compare`` score: a results directory through the table cache, or a reference
    and hypothesis files afresh (through the alignment cache only: loose files have no stable identity)."""
    if ref.is_dir() and not hyps:
        return results_tables(ref, options, use_cache=use_cache, progress=progress)
    inputs = _warm_while(lambda: load_inputs(ref, hyps, progress=progress))
    return inputs_tables(
        inputs, options, AlignmentCache(default_cache_dir()) if use_cache else None, progress
    )


def _warm_while(read: Callable[[], Inputs]) -> Inputs:
    """``read()`` while numba loads the aligner's kernels in a thread (Python work, while pyarrow parses
    without the GIL)."""
    warming = threading.Thread(target=warm_up, name="aligner warm-up", daemon=True)
    warming.start()
    try:
        return read()
    finally:
        warming.join()


def manifest_tables(
    paths: list[Path],
    options: TableOptions = TableOptions(),
    *,
    audio_base: Path | None = None,
    cache_dir: Path | None = None,
    timings: dict[str, float] | None = None,
) -> Tables:
    """``werbench serve FILE.jsonl...`` (``inputs.read_manifests``): through the whole-table cache keyed by
    the files' identities (``manifests_fingerprint``) and, on a miss, the alignment cache."""
    timings = {} if timings is None else timings
    root = cache_root() if cache_dir is None else Path(cache_dir)
    start = time.perf_counter()
    key = manifests_fingerprint([Path(p) for p in paths], audio_base, options)
    utts_path, systems_path, cached = _cached(key, root, timings, start)
    if cached is not None:
        cached.cache_key = key
        return cached
    inputs = read_manifests(paths, audio_base)
    timings["read_s"] = time.perf_counter() - start
    tables = inputs_tables(inputs, options, AlignmentCache(root / "alignments"))
    timings["tables_s"] = time.perf_counter() - start - timings["read_s"]
    tables.utterances = nested_to_arrow(tables.utterances)
    _store(utts_path, systems_path, tables)
    tables.cache_key = key
    return tables


def inputs_tables(
    inputs: Inputs, options: TableOptions, cache: AlignmentCache | None = None, progress: bool = False
) -> Tables:
    """``build_tables`` of inputs read or made elsewhere (``werbench.score``, the gate), with ``options``."""
    return build_tables(
        inputs,
        normalize=options.normalize,
        costs=options.costs,
        cache=cache,
        cer=options.cer,
        missing=options.missing,
        n_resamples=options.n_resamples,
        seed=options.seed,
        speaker_ci=options.speaker_ci,
        speaker_from_id=options.speaker_from_id,
        compounds=options.compounds,
        optional_deletable=options.optional_deletable,
        progress=progress,
    )
