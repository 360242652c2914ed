"""KenLM language-model files read by content: ARPA text or KenLM binary, and an ARPA file's unigrams.

Shared by the decoders (``runners.decoders.ngram``) and analysis' OOV vocabularies
(``analysis.vocabulary``), so both tell the formats apart and read unigrams the same way.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import IO

from werbench.manifests.errors import ManifestError

ARPA_MARKER = "\\data\\"
BINARY_MAGIC = b"mmap lm "
SENTENCE_MARKERS = frozenset({"<s>", "</s>", "<unk>", "<UNK>"})
UNIGRAMS_SUFFIX = ".unigrams.txt"


def open_text(path: Path) -> IO[str]:
    """A UTF-8 text file, gzip-compressed when its name ends in ``.gz``."""
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open(encoding="utf-8")


def file_head(path: Path) -> bytes:
    """The first 4 KiB of a file: enough to tell its format."""
    with path.open("rb") as handle:
        return handle.read(4096)


def lm_kind(head: bytes) -> str | None:
    """``"arpa"`` or ``"binary"`` by a file's first bytes (``file_head``); None for anything else."""
    if head.startswith(BINARY_MAGIC):
        return "binary"
    if head.lstrip().startswith(ARPA_MARKER.encode()):
        return "arpa"
    return None


def lm_format(path: str | Path) -> str:
    """``"arpa"`` or ``"binary"``, by content rather than suffix; anything else is a clear error."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(path, "language model file not found")
    kind = lm_kind(file_head(path))
    if kind is None:
        raise ManifestError(path, "not a KenLM model: expected an ARPA file (\\data\\) or a KenLM binary")
    return kind


def read_arpa_unigrams(path: str | Path) -> list[str]:
    """Words of the ``\\1-grams:`` section (plain or gzipped), in file order, without sentence markers."""
    path = Path(path)
    words: list[str] = []
    in_unigrams = False
    number = 0
    try:
        with open_text(path) as handle:
            for number, raw in enumerate(handle, start=1):
                line = raw.strip()
                if not in_unigrams:
                    in_unigrams = line == "\\1-grams:"
                    continue
                if not line or line.startswith("\\"):
                    break
                parts = line.split()
                if len(parts) < 2:
                    raise ManifestError(path, f"malformed unigram entry {line[:60]!r}", line=number)
                if parts[1] not in SENTENCE_MARKERS:
                    words.append(parts[1])
    except UnicodeDecodeError:
        raise ManifestError(path, "not UTF-8", line=number + 1) from None
    if not words:
        raise ManifestError(path, "no \\1-grams: entries found: is this an ARPA file?")
    return words


def unigrams_path(lm_path: str | Path) -> Path:
    """Where ``werbench lm build`` keeps the word list of ``lm_path`` (``<lm>.unigrams.txt``)."""
    lm_path = Path(lm_path)
    return lm_path.with_name(lm_path.name + UNIGRAMS_SUFFIX)


def read_unigram_list(path: str | Path) -> list[str]:
    """One word per line (the ``<lm>.unigrams.txt`` sidecar or a user's word list)."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(path, "unigram list not found")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        from werbench.manifests.io import undecodable_text

        raise undecodable_text(path, exc) from None
    words = [w for w in text.split() if w not in SENTENCE_MARKERS]
    if not words:
        raise ManifestError(path, "unigram list is empty")
    return words
