"""A writer of DeepSpeech ``.scorer`` packages for the tests, following ``generate_scorer_package``: the
KenLM binary copied unchanged, then ``Scorer::save_dictionary``'s header (int32 'TRIE', int32 version 6,
uint8 UTF-8 mode, float64 alpha, float64 beta) and OpenFST's aligned ConstFst<StdArc> of the vocabulary
(a prefix tree here; DeepSpeech minimises it, which the reader does not depend on)."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from pathlib import Path

FST_MAGIC = 2125659606
ALIGNED = 4


def _spell(word: str, alphabet: Sequence[str], utf8: bool) -> list[int] | None:
    """Trie labels: bytes (UTF-8 mode), or alphabet index + 1 then the space's label (None: unspellable)."""
    if utf8:
        return list(word.encode("utf-8"))
    index = {symbol: i + 1 for i, symbol in enumerate(alphabet)}
    if any(c not in index for c in word):
        return None
    return [index[c] for c in word] + [index[" "]]


def _pad(blob: bytearray) -> None:
    blob.extend(b"\0" * (-len(blob) % 16))


def _fst_string(text: str) -> bytes:
    return struct.pack("<i", len(text)) + text.encode()


def write_scorer(
    path: Path,
    kenlm_binary: Path,
    words: Sequence[str],
    alphabet: Sequence[str],
    alpha: float,
    beta: float,
    utf8: bool = False,
    version: int = 6,
) -> Path:
    children: list[dict[int, int]] = [{}]
    final: set[int] = set()
    for word in words:
        labels = _spell(word, alphabet, utf8)
        if not labels:
            continue
        state = 0
        for label in labels:
            if label not in children[state]:
                children.append({})
                children[state][label] = len(children) - 1
            state = children[state][label]
        final.add(state)
    blob = bytearray(kenlm_binary.read_bytes())
    blob += struct.pack("<4siBdd", b"EIRT", version, int(utf8), alpha, beta)
    n_arcs = sum(map(len, children))
    blob += struct.pack("<i", FST_MAGIC) + _fst_string("const") + _fst_string("standard")
    blob += struct.pack("<iiQqqq", 1, ALIGNED, 0, 0, len(children), n_arcs)
    _pad(blob)
    position = 0
    for state, arcs in enumerate(children):
        weight = 0.0 if state in final else float("inf")
        blob += struct.pack("<fIIII", weight, position, len(arcs), 0, 0)
        position += len(arcs)
    _pad(blob)
    for arcs in children:
        for label in sorted(arcs):
            blob += struct.pack("<iifi", label, label, 0.0, arcs[label])
    path.write_bytes(bytes(blob))
    return path
