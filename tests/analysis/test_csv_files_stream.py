"""analysis.csv_files: the chunked CSV stream whose nested cells are JSON rendered by Arrow kernels."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pandas as pd
import pyarrow as pa
from werbench.analysis.csv_files import csv_chunks, json_text


def _finite(value):
    """What JSON keeps of a value: NaN and infinities become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value


NESTED = [
    [[0.2, 0.5], None, [], [float("nan"), 1e300, -0.0, float("inf")]],
    None,
    [],
    [[1.0]],
]
STRUCTS = [
    [{"text": 'a "q" \\ \n\x01\x1f é 𝄞 </script>', "score": -1.5, "n": None, "ok": True}, None],
    None,
    [{"text": None, "score": float("-inf"), "n": 3, "ok": False}],
]


def test_json_text_parses_back_to_the_values_including_slices_and_escapes() -> None:
    arrays = [
        pa.array(NESTED),
        pa.array(STRUCTS),
        pa.array(NESTED).slice(1),
        pa.array(STRUCTS).slice(1, 2),
        pa.array([[1, 2], [3], None], pa.large_list(pa.int64())).slice(1),
        pa.array([None, None]),
    ]
    for array in arrays:
        for text, value in zip(json_text(array).to_pylist(), array.to_pylist(), strict=True):
            assert json.loads(text) == _finite(value)


TIMES = pd.ArrowDtype(pa.list_(pa.list_(pa.float64())))


def test_csv_chunks_stream_the_rows_asked_for_with_one_header() -> None:
    frame = pd.DataFrame({
        "utt_id": [f"u{i}" for i in range(50)],
        "ref": ['say "hi", then\nstop'] * 50,
        "wer": np.linspace(0, 1, 50),
        "failed": [i % 7 == 0 for i in range(50)],
        "word_times": pd.array([[[0.1 * i, 0.2]] for i in range(50)], TIMES),
    })  # fmt: skip
    rows = np.r_[3:20, 30:41, 45, 2]  # two runs, then scattered rows, in this order
    chunks = list(csv_chunks(frame, rows, chunk_rows=4))
    assert len(chunks) > 5 and sum(c.count(b"utt_id") for c in chunks) == 1
    back = pd.read_csv(io.BytesIO(b"".join(chunks)))
    assert back["utt_id"].tolist() == [f"u{i}" for i in rows]
    assert (back["ref"] == frame["ref"][0]).all()
    np.testing.assert_allclose(back["wer"], frame["wer"].to_numpy()[rows])
    assert back["failed"].tolist() == frame["failed"].to_numpy()[rows].tolist()
    assert [json.loads(t) for t in back["word_times"]] == [[[0.1 * i, 0.2]] for i in rows]


def test_csv_chunks_of_no_rows_is_the_header() -> None:
    frame = pd.DataFrame({"utt_id": ["a"], "wer": [0.5]})
    assert b"".join(csv_chunks(frame, np.array([], dtype=int))).decode().strip() == '"utt_id","wer"'
