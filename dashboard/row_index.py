"""Find one utterance's row among a million without scanning: a sorted permutation of the ids.

Arrow sorts the id column once (in C++, no Python object per row: 8 bytes a row), then a lookup is a binary
search of about 20 probes. A pandas index would hash a Python string per row (hundreds of MB at 1M x 4
systems and seconds to build); a linear ``pyarrow.compute.index`` would read every id on every lookup.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def arrow_column(values: pd.Series) -> pa.ChunkedArray:
    """The Arrow data behind a pandas column, chunks as they are (zero-copy when it is Arrow-backed: pandas'
    public ``__arrow_array__`` concatenates the chunks, a copy of the whole column), converted otherwise."""
    chunked = getattr(values.array, "_pa_array", None)
    if isinstance(chunked, pa.ChunkedArray):
        return chunked
    array = pa.array(values.to_numpy() if isinstance(values.array, np.ndarray) else values.array)
    return array if isinstance(array, pa.ChunkedArray) else pa.chunked_array([array])


class RowIndex:
    """Row position of an id in one column (the first, if an id repeats), or None when it is absent."""

    def __init__(self, ids: pa.ChunkedArray) -> None:
        self._ids = ids.cast(pa.large_string()) if not pa.types.is_large_string(ids.type) else ids
        self._order = pc.sort_indices(self._ids).to_numpy()  # stable: the first of equal ids comes first

    def __len__(self) -> int:
        return len(self._order)

    def shares(self, ids: pa.ChunkedArray) -> bool:
        """Whether ``ids`` are these ids in this order (another system's rows can use this index)."""
        return len(ids) == len(self._ids) and ids.cast(self._ids.type).equals(self._ids)

    def positions(self, keys: Sequence[str]) -> list[int | None]:
        """``position`` of each key: a binary search each for a few, one hash lookup over all the ids for
        many (building that hash costs ~0.4 s at 1M ids: too much for one utterance)."""
        if len(keys) <= 256:
            return [self.position(key) for key in keys]
        return pc.index_in(pa.array(list(keys), self._ids.type), value_set=self._ids).to_pylist()

    def position(self, key: str) -> int | None:
        lo, hi = 0, len(self._order)
        while lo < hi:  # leftmost match
            mid = (lo + hi) // 2
            value = self._ids[int(self._order[mid])].as_py()
            if value is not None and value < key:  # nulls sort last
                lo = mid + 1
            else:
                hi = mid
        if lo < len(self._order):
            at = int(self._order[lo])
            if self._ids[at].as_py() == key:
                return at
        return None
