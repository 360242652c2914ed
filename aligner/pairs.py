"""The one walk over aligned pairs: an ops string (C/S/D/I in alignment order) over a reference's and a
hypothesis' units gives ``(op, ref_unit, hyp_unit)``; C, S and D consume a reference unit, C, S and I a
hypothesis unit. sclite's ``-D`` adds ``d`` and ``i`` (an optionally deletable reference or hypothesis word
left out, scored correct): ``d`` consumes a reference unit only, ``i`` a hypothesis unit only.

It is vectorised over many rows at once (a running count of reference- and hypothesis-consuming ops
indexes the flattened unit arrays; units are integer-coded in Arrow, no Python object per unit), so a
100k-utterance system is replayed in well under a second; one pair (``aligned_pairs``: a diff on screen,
an n-best entry, a character alignment) goes the same way. ``analysis.errors`` splits table texts into
words and calls ``code_units``; ``Alignment.pairs`` calls ``aligned_pairs``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

NULL_WORDS = frozenset({"@", "@*"})  # sclite's null word: its costs never align it


@dataclass(slots=True)
class CodedPairs:
    """Aligned pairs of many rows: op bytes, integer unit codes (-1 = none) and the code book."""

    row: np.ndarray
    position: np.ndarray
    ref_index: np.ndarray  # the reference unit an op consumes, or for I the gap before reference unit k
    op: np.ndarray
    ref: np.ndarray
    hyp: np.ndarray
    words: np.ndarray

    def word(self, codes: np.ndarray) -> np.ndarray:
        return np.where(codes >= 0, self.words[np.maximum(codes, 0)], None)

    def tuples(self) -> list[tuple[str, str | None, str | None]]:
        """``(op, ref_unit | None, hyp_unit | None)`` in order (all rows concatenated)."""
        ops = self.op.view("S1").astype(str).tolist()
        return list(zip(ops, self.word(self.ref).tolist(), self.word(self.hyp).tolist(), strict=True))


def arrow_texts(values: Sequence[str] | pd.Series) -> pa.LargeStringArray:
    """A column of texts as one Arrow array (missing values as empty strings)."""
    arr = pa.array(values, from_pandas=True).cast(pa.large_string())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return pc.fill_null(arr, "")


def utf8_bytes(arr: pa.LargeStringArray) -> tuple[np.ndarray, np.ndarray]:
    """The concatenated UTF-8 bytes of an Arrow string array and each element's length, without copies."""
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    data = arr.buffers()[2]
    raw = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, dtype=np.uint8)
    return raw[offsets[0] : offsets[-1]], np.diff(offsets)


def ref_consuming(op: np.ndarray) -> np.ndarray:
    """Which op bytes consume a reference unit (all but the insertions ``I`` and ``i``)."""
    return (op != ord("I")) & (op != ord("i"))


def hyp_consuming(op: np.ndarray) -> np.ndarray:
    """Which op bytes consume a hypothesis unit (all but the deletions ``D`` and ``d``)."""
    return (op != ord("D")) & (op != ord("d"))


def correct_ops(op: np.ndarray) -> np.ndarray:
    """Which op bytes are scored correct: ``C``, and with sclite's ``-D`` the optional words left out."""
    return (op == ord("C")) | (op == ord("d")) | (op == ord("i"))


def op_rows(ops: Sequence[str] | pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every op as a byte, the row it belongs to, and each row's op count."""
    op, lengths = utf8_bytes(arrow_texts(ops))
    return op, np.repeat(np.arange(len(lengths)), lengths), lengths


def code_units(ops: Sequence[str] | pd.Series, ref_units: pa.Array, hyp_units: pa.Array) -> CodedPairs:
    """Walk every row's ops over the rows' units, each side flattened in row order (see the docstring)."""
    op, row, lengths = op_rows(ops)
    uses_ref, uses_hyp = ref_consuming(op), hyp_consuming(op)
    for side, units, used in (("reference", ref_units, uses_ref), ("hypothesis", hyp_units, uses_hyp)):
        if len(units) != int(used.sum()):
            raise ValueError(f"the ops consume {int(used.sum())} {side} units, there are {len(units)}")
    encoded = pa.concat_arrays([ref_units, hyp_units]).dictionary_encode()
    words = np.asarray(encoded.dictionary.to_pylist(), dtype=object)
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    del encoded
    ref, hyp = _placed(codes[: len(ref_units)], uses_ref), _placed(codes[len(ref_units) :], uses_hyp)
    del codes
    n = len(lengths)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if n else lengths
    position = np.arange(len(op)) - np.repeat(starts, lengths)
    refs_per_row = np.bincount(row[uses_ref], minlength=n)
    ref_index = np.cumsum(uses_ref) - uses_ref
    ref_index -= (np.cumsum(refs_per_row) - refs_per_row)[row]
    return CodedPairs(row=row, position=position, ref_index=ref_index, op=op, ref=ref, hyp=hyp, words=words)


def _placed(codes: np.ndarray, used: np.ndarray) -> np.ndarray:
    """Each op's unit code where it consumes one (the units in order), else -1: written in place, not
    gathered through cumulative positions (a 1M-row system's 14M ops held a dozen 112 MB arrays at once)."""
    out = np.full(len(used), -1, dtype=np.int64)
    out[used] = codes
    return out


def aligned_pairs(
    ref: Sequence[str], hyp: Sequence[str], ops: str, *, skip_nulls: bool = True
) -> list[tuple[str, str | None, str | None]]:
    """One pair's ``(op, ref_unit, hyp_unit)`` from its unit sequences and ops.

    ``skip_nulls`` (sclite costs) drops sclite's null word ``@``, which the ops never mention.
    """
    if skip_nulls:
        ref, hyp = [w for w in ref if w not in NULL_WORDS], [w for w in hyp if w not in NULL_WORDS]
    units = (pa.array(list(side), type=pa.large_string()) for side in (ref, hyp))
    return code_units([ops], *units).tuples()
