"""Results directory -> analysis' per-utterance and per-system tables, with a snapshot for a fast warm start.

Scoring is entirely ``analysis``: ``inputs.read_results`` then ``tables.build_tables`` through its alignment
cache. On top, the dashboard keeps a snapshot of both finished tables keyed by the results'
file names, sizes and modification times plus the normaliser and code versions: the alignment cache skips
aligning but still re-reads and re-parses every JSON line and redoes the bootstrap, which at 100k x 4 is
several seconds. The snapshot is an uncompressed Arrow IPC file read through a memory map: loading is
zero-copy (well under a second at 100k x 4; the pages stay file-backed and shared between processes),
at the price of disk (~1.4 KB per utterance and system). Any changed input file is a different key.
Nested prediction fields (n-best lists, word times) are held as Arrow list/struct arrays (one C buffer, not
millions of Python dicts: hundreds of MB less at 100k x 4); a field whose values Arrow cannot type is kept
as JSON text instead. Reading an element back gives plain Python lists and dicts.
"""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather

from analysis.align import ALIGNER_VERSION
from analysis.cache import AlignmentCache, default_cache_dir
from analysis.inputs import read_results
from analysis.tables import build_tables
from manifests.atomic import atomic_write
from manifests.columnar import nested_to_arrow
from manifests.normalize import get_normalizer
from manifests.results import TESTSET_MANIFEST, iter_systems
from werbench import __version__

log = logging.getLogger(__name__)
SNAPSHOT_FORMAT = "2"


def cache_root(cache_dir: Path | None) -> Path:
    """``cache_dir`` when given, else beside analysis' default alignment cache."""
    return Path(cache_dir) if cache_dir is not None else default_cache_dir().parent


def fingerprint(results_dir: Path, normalizer: str) -> str:
    """Names, sizes and mtimes of every input file, the normaliser spec and the code versions."""
    digest = hashlib.blake2b(digest_size=16)
    spec = get_normalizer(normalizer).spec
    digest.update(f"{SNAPSHOT_FORMAT}|{__version__}|{ALIGNER_VERSION}|{spec}".encode())
    seen: set[Path] = set()
    for ref in iter_systems(results_dir):
        for path in (ref.predictions, ref.run_info_path, ref.path.parent / TESTSET_MANIFEST):
            if path in seen or not path.is_file():
                continue
            seen.add(path)
            stat = path.stat()
            digest.update(f"{path.relative_to(results_dir)}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _nested_type(kind: pa.DataType) -> pd.ArrowDtype | None:
    return pd.ArrowDtype(kind) if pa.types.is_nested(kind) else None


def _write(path: Path, frame: pd.DataFrame) -> None:
    with atomic_write(path, "wb", durable=False) as handle:
        feather.write_feather(
            pa.Table.from_pandas(frame, preserve_index=False), handle, compression="uncompressed"
        )


def _read(path: Path) -> pd.DataFrame | None:
    try:
        return feather.read_table(path, memory_map=True).to_pandas(types_mapper=_nested_type)
    except (OSError, pa.ArrowException):
        return None


def score_results(
    results_dir: Path, normalizer: str, cache_dir: Path | None, timings: dict[str, float] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The per-utterance and per-system tables of ``results_dir`` under ``normalizer``.

    ``timings`` (when given) receives where the seconds went: the snapshot read, or analysis' reading and
    table building plus the snapshot write.
    """
    timings = {} if timings is None else timings
    start = time.perf_counter()
    root = cache_root(cache_dir)
    key = fingerprint(results_dir, normalizer)
    utts_path, systems_path = (root / "dashboard" / f"{key}.{part}.arrow" for part in ("utts", "systems"))
    if utts_path.is_file() and systems_path.is_file():
        utterances, systems = _read(utts_path), _read(systems_path)
        if utterances is not None and systems is not None:
            timings["snapshot_read_s"] = time.perf_counter() - start
            return utterances, systems
    inputs = read_results(results_dir)
    timings["analysis_read_s"] = time.perf_counter() - start
    tables = build_tables(
        inputs, normalize=normalizer, cache=AlignmentCache(root / "alignments"), progress=True
    )
    del inputs
    timings["analysis_tables_s"] = time.perf_counter() - start - timings["analysis_read_s"]
    start = time.perf_counter()
    for warning in tables.warnings:
        log.warning("%s", warning)
    utterances = nested_to_arrow(tables.utterances)
    systems = nested_to_arrow(tables.systems)
    del tables
    try:
        _write(utts_path, utterances)
        _write(systems_path, systems)
    except (OSError, pa.ArrowException) as exc:  # a read-only cache must not stop the dashboard
        log.warning("could not write the table snapshot under %s: %s", root, exc)
    timings["snapshot_write_s"] = time.perf_counter() - start
    return utterances, systems
