"""On-disk cache of per-utterance alignment results, so that scoring the same outputs again costs ~nothing.

One Parquet file per aligned batch (one system's hypotheses against one test set's references), named by a
BLAKE2 hash of everything that can change a number: the raw reference and hypothesis texts, the
normaliser's spec, the costs, the CER mode and a hash of the aligning code and the versions of the
packages it runs on (``manifests.code_version``). A hit therefore skips the
normalisation as well as both alignments; any edit to any input is a different file, never a stale one.
Files are written atomically; a corrupt or unreadable file is treated as a miss and rewritten, and a
folder that cannot be written (read-only home, full disk) just means no cache.
The folder is ``alignments`` under ``cache_root()`` (``$WERBENCH_CACHE``, else ``~/.cache/werbench``);
nothing is ever evicted (about 60 bytes per utterance), ``werbench score --no-cache`` bypasses it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from werbench.aligner.align import BatchResult, align_counts, cer_counts, get_costs
from werbench.analysis import write_behind
from werbench.manifests.atomic import atomic_write
from werbench.manifests.code_version import code_version
from werbench.manifests.errors import WerbenchError
from werbench.manifests.normalize import Normalizer
from werbench.manifests.ref_syntax import has_alternations, normalize_references

CACHE_ENV = "WERBENCH_CACHE"
# What can change an aligned count besides the texts and options: the aligner and its kernels, this cache's
# layout, the normalisers (their specs are in the key too), and the packages they run on.
ALIGNMENT_CODE = (
    (
        "werbench.aligner.align",
        "werbench.aligner._align_kernels",
        "werbench.analysis.cache",
        "werbench.manifests.normalize",
        "werbench.manifests.wsj_markup",
        "werbench.manifests.ref_syntax",
    ),
    ("numba", "numpy", "pyarrow", "rapidfuzz", "regex"),
)
COUNT_COLUMNS = ("C", "S", "D", "I")
CHAR_COLUMNS = ("char_C", "char_S", "char_D", "char_I")
COLUMNS = ("ref", "hyp", *COUNT_COLUMNS, "ops", *CHAR_COLUMNS)


def cache_root() -> Path:
    """Where analysis keeps its caches: ``$WERBENCH_CACHE``, else ``~/.cache/werbench``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path.home() / ".cache" / "werbench"


def default_cache_dir() -> Path:
    return cache_root() / "alignments"


def _digest_texts(digest: hashlib._Hash, texts: Sequence[str]) -> None:
    encoded = "\x00".join(texts).encode("utf-8", "surrogatepass")
    digest.update(len(texts).to_bytes(8, "little"))
    digest.update(np.fromiter(map(len, texts), np.int64, len(texts)).tobytes())
    digest.update(encoded)


def batch_key(
    refs: Sequence[str],
    hyps: Sequence[str],
    normalizer_spec: str,
    costs: str,
    cer: str,
    compounds: bool = False,
    optional_deletable: bool = False,
) -> str:
    """Content hash of one batch: texts, normaliser spec, costs, CER mode, compounds, sclite -D, the
    aligning code."""
    digest = hashlib.blake2b(digest_size=20)
    header = (code_version(*ALIGNMENT_CODE), normalizer_spec, get_costs(costs).spec, cer)
    header += ("compounds",) if compounds else ()
    header += ("optional_deletable",) if optional_deletable else ()
    digest.update("|".join(map(str, header)).encode())
    _digest_texts(digest, refs)
    _digest_texts(digest, hyps)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class AlignmentCache:
    """A folder of ``<key>.parquet`` files, one per aligned batch."""

    root: Path

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.parquet"

    def load(self, key: str) -> pd.DataFrame | None:
        path = self.path(key)
        write_behind.wait(path)
        if not path.is_file():
            return None
        try:
            return pq.read_table(path, page_checksum_verification=True).to_pandas()
        except (OSError, pa.ArrowException):
            return None

    def store(self, key: str, frame: pd.DataFrame) -> None:
        """Write one batch, behind (``write_behind``); a folder that cannot be written only costs the
        speed-up, never the result."""
        table = pa.Table.from_pandas(frame, preserve_index=False)
        path = self.path(key)

        def write() -> None:
            unwritable = (OSError, WerbenchError)
            with contextlib.suppress(*unwritable), atomic_write(path, "wb", durable=False) as handle:
                pq.write_table(table, handle, compression="zstd", write_page_checksum=True)

        write_behind.submit(path, write)


ALIGN_BLOCK = 100_000  # pairs aligned at a time


def _align_block(
    ref_norm: list[str], hyp_norm: list[str], costs: str, cer: str, compounds: bool, optional_deletable: bool
) -> tuple[BatchResult, np.ndarray]:
    """Words and characters of one block; the reference as aligned is ``words.paths`` (alternations)."""
    if compounds or optional_deletable or has_alternations("".join(ref_norm)):
        words = align_counts(
            ref_norm, hyp_norm, costs, compounds=compounds, optional_deletable=optional_deletable
        )
        return words, cer_counts(words.paths or ref_norm, hyp_norm, cer)
    # the characters (rapidfuzz, holding the GIL) beside the words (numba, releasing it): two cores
    with ThreadPoolExecutor(1, thread_name_prefix="word alignment") as pool:
        aligning = pool.submit(align_counts, ref_norm, hyp_norm, costs)
        chars = cer_counts(ref_norm, hyp_norm, cer)
        return aligning.result(), chars


def align_texts(
    refs: Sequence[str],
    hyps: Sequence[str],
    normalize: Callable[[str], str],
    normalizer_spec: str,
    costs: str = "sclite",
    *,
    cer: str = "levenshtein",
    compounds: bool = False,
    optional_deletable: bool = False,
    normalized_refs: Callable[[], list[str]] | None = None,
    cache: AlignmentCache | None = None,
) -> pd.DataFrame:
    """Normalise and align (words and characters) one batch, through the cache when one is given.

    Returns one row per pair with ``ref``/``hyp`` (normalised), ``C S D I``, ``ops`` and ``char_C .. char_I``
    (-1 where a pair was too long for a character alignment) of CER mode ``cer`` (``align.cer_counts``);
    references may carry sclite alternations (each alternative normalised on its own; ``ref`` is then
    the reference as aligned).
    ``compounds``: split and joined compounds score as correct; ``optional_deletable``: sclite's ``-D``
    (both ``align_counts``). ``normalized_refs`` lets
    a caller share the normalised references between the systems of one test set.
    """
    options = (compounds, optional_deletable)
    key = batch_key(refs, hyps, normalizer_spec, costs, cer, *options) if cache is not None else ""
    if cache is not None:
        hit = cache.load(key)
        if hit is not None and len(hit) == len(refs) and tuple(hit.columns) == COLUMNS:
            return hit
    ref_norm = normalized_refs() if normalized_refs is not None else normalize_references(refs, normalize)
    hyp_norm = normalize.many(hyps) if isinstance(normalize, Normalizer) else [normalize(t) for t in hyps]
    counts, ops, chars, paths = [], [], [], []
    for start in range(0, len(ref_norm), ALIGN_BLOCK):  # bounded working memory (tokens: ~25 B each)
        block = slice(start, start + ALIGN_BLOCK)
        words, block_chars = _align_block(
            ref_norm[block], hyp_norm[block], costs, cer, compounds, optional_deletable
        )
        counts.append(words.counts)
        ops += words.ops or []
        chars.append(block_chars)
        paths += words.paths or ref_norm[block]
    frame = pd.DataFrame({"ref": paths, "hyp": hyp_norm})
    for k, name in enumerate(COUNT_COLUMNS):
        frame[name] = np.concatenate(counts)[:, k] if counts else np.zeros(0, np.int64)
    frame["ops"] = ops
    for k, name in enumerate(CHAR_COLUMNS):
        frame[name] = np.concatenate(chars)[:, k] if chars else np.zeros(0, np.int64)
    if cache is not None:
        cache.store(key, frame)
    return frame
