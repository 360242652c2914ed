"""Tables as CSV files: one writer for ``werbench score --csv``, the report's CSV folder and the tracking
artefacts, and one chunk stream for the dashboard's downloads, so that every CSV the product writes has
the same cells (nested values as compact JSON text).

Nested cells of Arrow-backed columns (n-best lists, word times: the tables read from results directories)
are rendered to JSON by Arrow compute kernels (``json_text``): turning them into Python lists for
``json.dumps`` costs ~1 s per 10k rows with the GIL held, the kernels ~20 ms; Python objects still go
through ``json.dumps``. The dashboard's export streams (``csv_chunks``): a 400k-row table never becomes
one string, and other requests run between its chunks.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from tqdm import tqdm
from werbench.manifests.atomic import atomic_write
from werbench.manifests.columnar import holds_nested

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


def json_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """Lists and dicts (n-best, word times) as JSON text, so that every cell is one CSV field; the other
    columns are shared with ``frame``, not copied."""
    nested = [name for name in frame.columns if holds_nested(frame[name])]
    if not nested:
        return frame
    out = frame.copy(deep=False)
    for name in nested:
        if isinstance(out[name].dtype, pd.ArrowDtype):
            column = pa.array(out[name].array)
            column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
            out[name] = pd.arrays.ArrowExtensionArray(json_text(column))
        else:
            out[name] = [
                json.dumps(v, ensure_ascii=False) if isinstance(v, list | dict) else v for v in out[name]
            ]
    return out


CSV_BLOCK = 200_000  # rows converted to Arrow at a time: a 4M-row table is never copied whole


def write_frame_csv(path: Path, frame: pd.DataFrame) -> Path:
    """One table as CSV (nested cells as JSON text), written from Arrow a block of rows at a time:
    pyarrow's C++ writer takes ~0.3 s where pandas' takes ~4 s for 200k rows; pandas writes what Arrow
    cannot hold (mixed object columns)."""
    with atomic_write(path, "wb") as handle:
        try:
            schema = pa.Schema.from_pandas(frame, preserve_index=False)  # of all rows, not of a block's
            for name in frame.columns:
                if holds_nested(frame[name]):
                    schema = schema.set(schema.get_field_index(name), pa.field(name, pa.large_string()))
            options = pa_csv.WriteOptions(quoting_style="needed")
            with pa_csv.CSVWriter(handle, schema, write_options=options) as writer:
                for start in range(0, max(len(frame), 1), CSV_BLOCK):
                    block = json_cells(frame.iloc[start : start + CSV_BLOCK])
                    writer.write_table(pa.Table.from_pandas(block, schema=schema, preserve_index=False))
        except (pa.ArrowException, TypeError, ValueError):
            handle.seek(0)
            handle.truncate()
            handle.write(json_cells(frame).to_csv(index=False).encode("utf-8"))
    return path


def writing_bar(rows: int, progress: bool) -> tqdm:
    """The output step's progress bar (rows written, and their rate), shown where writing takes a while."""
    return tqdm(
        total=rows, desc="writing", unit="row", unit_scale=True, disable=not progress or rows < 50_000
    )


CHUNK_ROWS = 5_000  # rows per streamed chunk: ~6 MB of CSV, ~50 ms of work


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
    """UTF-8 CSV of ``frame`` (only the row positions ``rows``, in that order, when given), header first,
    a chunk at a time; cells as ``write_frame_csv`` writes them."""
    positions = np.arange(len(frame)) if rows is None else np.asarray(rows, dtype=np.int64)
    header = True
    for piece in _pieces(positions, chunk_rows) if len(positions) else [slice(0, 0)]:
        block = json_cells(frame.iloc[piece])
        buffer = io.BytesIO()
        try:
            options = pa_csv.WriteOptions(include_header=header, quoting_style="needed")
            pa_csv.write_csv(pa.Table.from_pandas(block, preserve_index=False), buffer, options)
        except (pa.ArrowException, TypeError, ValueError):  # mixed object columns: pandas writes them
            buffer = io.BytesIO(block.to_csv(index=False, header=header).encode("utf-8"))
        header = False
        yield buffer.getvalue()
