"""Tables as CSV files: one writer for ``werbench score --csv``, the report's CSV folder and the tracking
artefacts, so that every CSV the product writes has the same cells (nested values as JSON text).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
from tqdm import tqdm
from werbench.manifests.atomic import atomic_write
from werbench.manifests.columnar import holds_nested


def json_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """Lists and dicts (n-best, word times) as JSON text, so that every cell is one CSV field; the other
    columns are shared with ``frame``, not copied."""
    nested = [name for name in frame.columns if holds_nested(frame[name])]
    if not nested:
        return frame
    out = frame.copy(deep=False)
    for name in nested:  # iterating gives Python lists and dicts, Arrow column or not
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
