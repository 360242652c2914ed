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
    """Lists and dicts (n-best, word times) as JSON text, so that every cell is one CSV field."""
    out = frame.copy()
    for name in out.columns:
        if holds_nested(out[name]):  # iterating gives Python lists and dicts, Arrow column or not
            out[name] = [
                json.dumps(v, ensure_ascii=False) if isinstance(v, list | dict) else v for v in out[name]
            ]
    return out


def write_frame_csv(path: Path, frame: pd.DataFrame) -> Path:
    """One table as CSV (nested cells as JSON text), written from Arrow: pyarrow's C++ writer takes ~0.3 s
    where pandas' takes ~4 s for 200k rows; pandas writes what Arrow cannot hold (mixed object columns)."""
    frame = json_cells(frame)
    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowException, TypeError, ValueError):
        table = None
    with atomic_write(path, "wb") as handle:
        if table is None:
            handle.write(frame.to_csv(index=False).encode("utf-8"))
        else:
            pa_csv.write_csv(table, handle, pa_csv.WriteOptions(quoting_style="needed"))
    return path


def writing_bar(rows: int, progress: bool) -> tqdm:
    """The output step's progress bar (rows written, and their rate), shown where writing takes a while."""
    return tqdm(
        total=rows, desc="writing", unit="row", unit_scale=True, disable=not progress or rows < 50_000
    )
