"""A table as CSV in bounded chunks, so that a 400k-row export neither builds one big string nor blocks.

pandas' ``to_csv`` renders the whole table into one Python string (hundreds of MB at 100k utterances x 4
systems) while holding the GIL. Here each slice of rows is taken by position and converted to Arrow, and
Arrow's CSV writer (which releases the GIL) renders it: memory stays at one chunk, other threads run
between chunks. Nested cells (n-best lists, word times) become compact JSON text, one CSV field each, as
in the report's CSV files (``report_data.json_cells``), but rendered with Arrow compute kernels: turning
them into Python lists first costs ~1 s per 10k rows with the GIL held, this ~20 ms.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from werbench.analysis.report_data import json_cells

CHUNK_ROWS = 5_000
_CONTROL = {chr(c): f"\\u{c:04x}" for c in range(0x20)}


def _quoted(text: pa.Array) -> pa.Array:
    """JSON string literals of a string array (RFC 8259 escapes: backslash, quote, control characters)."""
    text = pc.replace_substring(pc.replace_substring(text, "\\", "\\\\"), '"', '\\"')
    if pc.any(pc.match_substring_regex(text, "[\\x00-\\x1f]")).as_py():
        for char, escape in _CONTROL.items():
            text = pc.replace_substring(text, char, escape)
    return pc.binary_join_element_wise('"', text, '"', "")


def json_text(values: pa.Array) -> pa.Array:
    """Each value of an Arrow array as JSON text (nulls, NaN and infinities as ``null``), vectorised."""
    kind = values.type
    if pa.types.is_null(kind):
        return pa.array(["null"] * len(values), pa.string())
    if pa.types.is_boolean(kind):
        text = pc.if_else(values, "true", "false")
    elif pa.types.is_integer(kind):
        text = pc.cast(values, pa.string())
    elif pa.types.is_floating(kind):
        text = pc.if_else(pc.is_finite(values), pc.cast(values, pa.string()), pa.scalar(None, pa.string()))
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
        text = _quoted(pc.cast(values, pa.string()))
    elif pa.types.is_list(kind) or pa.types.is_large_list(kind):
        if values.offset:  # from_arrays takes no validity bitmap with sliced offsets: compact it first
            values = values.take(pa.array(np.arange(len(values))))
        build = pa.LargeListArray if pa.types.is_large_list(kind) else pa.ListArray
        items = build.from_arrays(values.offsets, json_text(values.values), mask=values.is_null())
        text = pc.binary_join_element_wise("[", pc.binary_join(items, ","), "]", "")
    elif pa.types.is_struct(kind):
        pairs = [
            pc.binary_join_element_wise(json.dumps(kind.field(i).name) + ":", json_text(values.field(i)), "")
            for i in range(kind.num_fields)
        ]
        text = pc.binary_join_element_wise("{", pc.binary_join_element_wise(*pairs, ","), "}", "")
        text = pc.if_else(values.is_valid(), text, pa.scalar(None, pa.string()))
    else:  # dates, maps, binary...: rare in a results table; Python's json is fine for them
        return pa.array(
            [json.dumps(v, ensure_ascii=False, default=str) for v in values.to_pylist()], pa.string()
        )
    return pc.fill_null(text, "null")


def _arrow_chunk(chunk: pd.DataFrame) -> pa.Table:
    try:
        table = pa.Table.from_pandas(chunk, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # Python lists of mixed shapes: JSON them one by one
        table = pa.Table.from_pandas(json_cells(chunk), preserve_index=False)
    for i, column in enumerate(table.columns):
        if pa.types.is_nested(column.type):
            table = table.set_column(i, table.field(i).name, json_text(column.combine_chunks()))
    return table


def _pieces(positions: np.ndarray, chunk_rows: int) -> Iterator[slice | np.ndarray]:
    """Row positions in chunks; a run of consecutive positions becomes a slice (zero-copy on the memory-mapped
    table; taking rows by index copies every column and costs ~40 ms per column and 5k rows)."""
    breaks = np.flatnonzero(np.diff(positions) != 1) + 1
    if len(breaks) > len(positions) // chunk_rows + 64:  # scattered rows: plain fixed-size takes
        for start in range(0, len(positions), chunk_rows):
            yield positions[start : start + chunk_rows]
        return
    for run in np.split(positions, breaks):
        for start in range(0, len(run), chunk_rows):
            part = run[start : start + chunk_rows]
            yield slice(int(part[0]), int(part[-1]) + 1)


def csv_chunks(
    frame: pd.DataFrame, rows: np.ndarray | None = None, chunk_rows: int = CHUNK_ROWS
) -> Iterator[bytes]:
    """UTF-8 CSV of ``frame`` (only the row positions ``rows``, in that order, when given), header first."""
    positions = np.arange(len(frame)) if rows is None else np.asarray(rows, dtype=np.int64)
    header = True
    for piece in _pieces(positions, chunk_rows) if len(positions) else [slice(0, 0)]:
        buffer = io.BytesIO()
        pa_csv.write_csv(_arrow_chunk(frame.iloc[piece]), buffer, pa_csv.WriteOptions(include_header=header))
        header = False
        yield buffer.getvalue()
