"""Mozilla DeepSpeech ``.scorer`` packages, as ``generate_scorer_package`` writes them (DeepSpeech 0.7-0.9,
``native_client/generate_scorer_package.cpp`` and ``ctcdecode/scorer.cpp``):

    [KenLM binary, unchanged]                 KenLM loads the package itself: it ignores what follows
    int32   magic 'TRIE'                      (a multi-character constant: the bytes ``EIRT``)
    int32   version 6
    uint8   UTF-8 mode (1: labels are bytes, 0: labels index the acoustic model's alphabet)
    float64 default alpha, float64 default beta
    OpenFST ConstFst<StdArc> "const"/"standard": the vocabulary as a minimal acyclic acceptor

In the trie a word is a path from the start state to a final state. Its labels are ``alphabet index + 1``
followed by the space's label (alphabet mode) or the word's UTF-8 bytes (UTF-8 mode); the alphabet is the
acoustic model's labels without the CTC blank, so reading words needs the model's labels
(``ScorerPackage.vocabulary``). alpha weighs the natural-log LM score and beta is added per word, exactly
pyctcdecode's and flashlight's convention, so the defaults carry over unchanged.

No OpenFST binding is used: the format is a fixed header and two arrays of fixed-size records, read here
with ``struct``/numpy in a few lines, where a binding would be a compiled dependency for one read.
"""

from __future__ import annotations

import math
import mmap
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from werbench.manifests.arpa import BINARY_MAGIC
from werbench.manifests.errors import ManifestError

SCORER_SUFFIX = ".scorer"
TRIE_MAGIC = b"EIRT"  # int32 'TRIE' in little-endian bytes
SCORER_VERSION = 6
FST_MAGIC = 2125659606
FST_ALIGNED = 4  # FstHeader::IS_ALIGNED
FST_ALIGN = 16  # OpenFST's kFileAlign, counted from the start of the file
_HEADER = struct.Struct("<4siBdd")
_STATE = np.dtype([("final", "<f4"), ("pos", "<u4"), ("narcs", "<u4"), ("nie", "<u4"), ("noe", "<u4")])
_ARC = np.dtype([("ilabel", "<i4"), ("olabel", "<i4"), ("weight", "<f4"), ("next", "<i4")])


@dataclass(frozen=True)
class ScorerPackage:
    """A package's parts: where the KenLM binary ends, the mode, the default weights, the trie's words."""

    path: Path
    lm_bytes: int
    utf8: bool
    alpha: float
    beta: float
    words: tuple[tuple[int, ...], ...]  # each word's trie labels

    def vocabulary(self, alphabet: Sequence[str]) -> list[str]:
        """The words, spelled with ``alphabet`` (the model's labels without the blank; UTF-8 mode: bytes)."""
        if self.utf8:
            return [bytes(labels).decode("utf-8", "replace") for labels in self.words]
        words = []
        for labels in self.words:
            if max(labels, default=0) > len(alphabet):
                raise ManifestError(
                    self.path,
                    f"the trie uses label {max(labels)} but the model's alphabet has {len(alphabet)} "
                    "symbols: this scorer was built for another alphabet",
                )
            words.append("".join(alphabet[k - 1] for k in labels[:-1]))  # the last label is the space
        return words


def is_scorer(path: str | Path) -> bool:
    """DeepSpeech's convention: a ``.scorer`` file is a package (its content is then checked)."""
    return Path(path).suffix.lower() == SCORER_SUFFIX


def _trie_offset(data: mmap.mmap | bytes, path: Path) -> int:
    """The first ``EIRT`` whose header is followed by an OpenFST header (KenLM data may hold the bytes)."""
    at = data.find(TRIE_MAGIC)
    while at != -1:
        if len(data) >= at + _HEADER.size + 4:
            magic = struct.unpack_from("<i", data, at + _HEADER.size)[0]
            if magic == FST_MAGIC:
                return at
        at = data.find(TRIE_MAGIC, at + 1)
    raise ManifestError(
        path, "not a DeepSpeech scorer package: a KenLM binary without the vocabulary trie ('TRIE' header)"
    )


def _string(data: mmap.mmap | bytes, at: int, path: Path) -> tuple[str, int]:
    (size,) = struct.unpack_from("<i", data, at)
    if not 0 <= size < 256 or at + 4 + size > len(data):
        raise ManifestError(path, f"corrupt trie header at byte {at}")
    return bytes(data[at + 4 : at + 4 + size]).decode("ascii", "replace"), at + 4 + size


def _aligned(at: int) -> int:
    return -(-at // FST_ALIGN) * FST_ALIGN


def read_scorer(path: str | Path) -> ScorerPackage:
    """Parse a package; anything that is not one (or is cut short) is a ManifestError saying what."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(path, "scorer package not found")
    with path.open("rb") as handle:
        if not handle.read(len(BINARY_MAGIC)) == BINARY_MAGIC:
            raise ManifestError(
                path, "not a DeepSpeech scorer package: it does not start with a KenLM binary"
            )
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return _parse(data, path)


def _parse(data: mmap.mmap, path: Path) -> ScorerPackage:
    at = _trie_offset(data, path)
    _, version, utf8, alpha, beta = _HEADER.unpack_from(data, at)
    if version != SCORER_VERSION:
        raise ManifestError(
            path,
            f"scorer package version {version}; werbench reads version {SCORER_VERSION} (DeepSpeech 0.9)",
        )
    if utf8 not in (0, 1) or not (math.isfinite(alpha) and math.isfinite(beta)):
        raise ManifestError(
            path, f"corrupt scorer header at byte {at} (mode {utf8}, alpha {alpha}, beta {beta})"
        )
    fst = at + _HEADER.size + 4
    fst_type, fst = _string(data, fst, path)
    arc_type, fst = _string(data, fst, path)
    if (fst_type, arc_type) != ("const", "standard"):
        raise ManifestError(
            path, f"trie is an OpenFST {fst_type!r}/{arc_type!r}, expected 'const'/'standard'"
        )
    if len(data) < fst + 40:
        raise ManifestError(path, "trie header cut short")
    _version, flags, _properties, start, n_states, n_arcs = struct.unpack_from("<iiQqqq", data, fst)
    fst += 40
    if flags & FST_ALIGNED:
        fst = _aligned(fst)
    states_end = fst + n_states * _STATE.itemsize
    arcs_at = _aligned(states_end) if flags & FST_ALIGNED else states_end
    if n_states < 0 or n_arcs < 0 or arcs_at + n_arcs * _ARC.itemsize > len(data):
        raise ManifestError(
            path, f"trie cut short: {n_states} states and {n_arcs} arcs do not fit in {len(data)} bytes"
        )
    states = np.frombuffer(data, _STATE, n_states, fst).copy()
    arcs = np.frombuffer(data, _ARC, n_arcs, arcs_at).copy()
    return ScorerPackage(path, at, bool(utf8), float(alpha), float(beta), _words(states, arcs, start, path))


def _words(states: np.ndarray, arcs: np.ndarray, start: int, path: Path) -> tuple[tuple[int, ...], ...]:
    """Every start-to-final path of an acyclic acceptor, depth first (the trie's words)."""
    if len(states) == 0:
        return ()
    if not 0 <= start < len(states):
        raise ManifestError(path, f"trie start state {start} out of range")
    bad = (states["pos"].astype(np.int64) + states["narcs"] > len(arcs)) | (
        (arcs["next"] < 0) | (arcs["next"] >= len(states))
    ).any()
    if np.any(bad):
        raise ManifestError(path, "corrupt trie: an arc points outside the state table")
    final = np.isfinite(states["final"])
    words: list[tuple[int, ...]] = []
    stack: list[tuple[int, tuple[int, ...]]] = [(start, ())]
    limit = len(arcs) + 1  # a word is no longer than the arcs: a longer path means a cycle
    while stack:
        state, labels = stack.pop()
        if len(labels) > limit:
            raise ManifestError(path, "corrupt trie: it has a cycle")
        if final[state] and labels:
            words.append(labels)
        first, count = int(states["pos"][state]), int(states["narcs"][state])
        for arc in arcs[first : first + count][::-1]:
            stack.append((int(arc["next"]), (*labels, int(arc["ilabel"]))))
    return tuple(words)
