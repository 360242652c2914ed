"""Columnar reading of JSON-lines files: pyarrow's reader for speed, the line-by-line reader for errors.

Why two readers: parsing 400k prediction lines one at a time with ``json`` takes ~20 s and leaves a dict per
line (n-best lists as millions of Python objects), while pyarrow's multi-threaded reader parses the same
bytes in ~2 s into compact Arrow columns. But pyarrow names no line or field when it fails, refuses some
valid files (a field whose JSON type changes between lines) and reads a few things differently from
``json`` (date-like strings become timestamps; bytes that are not UTF-8 pass). So ``arrow_frame`` gives
``None`` whenever pyarrow refuses a file or its result could differ from ``json``'s, and callers then use
the line-by-line reader, which names the file, line and field of any problem. Nested values (lists,
objects) stay Arrow arrays inside pandas (``pd.ArrowDtype``): one buffer, not a Python object per element.
"""

from __future__ import annotations

import json
import mmap
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json
from werbench.manifests.schema import Utterance, derive_utt_id

MANIFEST_COLUMNS = ("utt_id", "audio_filepath", "duration", "text", "offset", "speaker")


def _json_type(kind: pa.DataType) -> bool:
    """Whether ``kind`` is one that ``json`` values map to exactly (no timestamps, no binary)."""
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return _json_type(kind.value_type)
    if pa.types.is_struct(kind):
        return all(_json_type(kind.field(k).type) for k in range(kind.num_fields))
    return (
        pa.types.is_null(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_int64(kind)
        or pa.types.is_float64(kind)
        or pa.types.is_string(kind)
    )


def nested_dtype(kind: pa.DataType) -> pd.ArrowDtype | None:
    """``to_pandas``' types_mapper: nested Arrow columns stay Arrow (no Python object per element)."""
    return pd.ArrowDtype(kind) if pa.types.is_nested(kind) else None


_EXACT_DOUBLE = 2.0**53  # beyond this a JSON integer read as a double is no longer exact


def _non_blank_lines(data: bytes | mmap.mmap, step: int = 1 << 24) -> int:
    """Lines as ``io.iter_lines`` counts them (split on ``\\n``, blank ones skipped); a line that starts with
    ``{`` (every line a JSON-lines writer produces) is counted in numpy, ``step`` bytes at a time, without
    decoding it; only the other lines are decoded one by one."""
    raw = np.frombuffer(data, dtype=np.uint8)
    count, size = 0, len(raw)
    for offset in range(0, size, step):
        starts = np.flatnonzero(raw[offset : offset + step] == 10) + offset + 1
        starts = np.r_[0, starts] if offset == 0 else starts
        starts = starts[starts < size]
        braces = raw[starts] == 123
        count += int(braces.sum())
        for start in starts[~braces].tolist():
            end = data.find(b"\n", start)
            line = data[start : size if end < 0 else end]
            count += bool(line.decode("utf-8", "replace").rstrip("\r").lstrip("\ufeff").strip())
    return count


def _same_as_json(table: pa.Table, lines: int) -> bool:
    """Whether Python's ``json``, line by line, would read exactly these rows and values."""
    if not all(_json_type(f.type) for f in table.schema):
        return False  # a date-like string became a timestamp
    for column in table.columns:
        if pa.types.is_float64(column.type) and len(column) and column.null_count < len(column):
            magnitude = pc.abs(column)
            if pc.any(pc.is_nan(column)).as_py() or pc.max(magnitude).as_py() >= _EXACT_DOUBLE:
                return False  # NaN (a json extension) or an integer too large for a double
    return table.num_rows == lines  # two objects on a line, one over two lines, CR-only


_NESTING = np.zeros(256, dtype=np.int8)
_NESTING[[ord("["), ord("{")]] = 1
_NESTING[[ord("]"), ord("}")]] = -1
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
MAX_ARROW_NESTING = 1000  # pyarrow's JSON parser recurses without a limit (a segfault near 10,000 levels)


def _too_deep(data: bytes | mmap.mmap) -> bool:
    """Whether brackets might nest deeper than pyarrow parses safely (brackets in strings count too).

    Only the brackets are walked: ``bytes.translate`` drops every other byte in one C pass (a whole
    file's depth profile in int64 cost ~1 s per 60 MB)."""
    level, low, high, step = 0, 0, 0, 1 << 24
    for start in range(0, len(data), step):
        brackets = data[start : start + step].translate(None, _NOT_BRACKETS)
        if not brackets:
            continue
        depth = np.cumsum(_NESTING[np.frombuffer(brackets, dtype=np.uint8)], dtype=np.int64)
        depth += level
        low, high, level = min(low, int(depth.min())), max(high, int(depth.max())), int(depth[-1])
        if high - low > MAX_ARROW_NESTING:
            return True
    return False


def _plain_lines(path: Path) -> int | None:
    """The file's non-blank lines, or None where brackets nest too deep for pyarrow. The file is mapped for
    this scan only (its pages count in the process' RSS while mapped): the map goes with its last reference,
    at the return, before the parse (not closed explicitly: a profiler's frame may still hold a view)."""
    with path.open("rb") as handle:
        data = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    return None if _too_deep(data) else _non_blank_lines(data)


ARROW_BLOCK = 1 << 22


def _arrow_table(path: Path) -> pa.Table:
    """The file parsed block by block (4 MB blocks, two in flight): a 190 MB file of n-best lists peaks at
    ~260 MB above its table instead of ~510 MB for the whole-file reader, in the same time. The streaming
    reader takes each field's type from the first block; where a later block differs (a field null at
    first, an integer that later has a fraction), the whole-file reader infers the types again."""
    try:
        with pa.OSFile(str(path)) as stream:  # a path string would make pyarrow guess a compression
            options = pa_json.ReadOptions(block_size=ARROW_BLOCK)
            return pa_json.open_json(stream, read_options=options).read_all()
    except pa.ArrowInvalid:
        with pa.OSFile(str(path)) as stream:
            return pa_json.read_json(stream)


def arrow_frame(path: Path) -> pd.DataFrame | None:
    """The file's JSON objects as columns (one row per non-blank line), or None: then read it line by line."""
    try:
        lines = _plain_lines(path)
        if lines is None:
            return None
        table = _arrow_table(path)
        table.validate(full=True)  # strings that are not UTF-8
    except (pa.ArrowException, OSError, ValueError):  # ValueError: an empty file cannot be mapped
        return None
    if table.num_rows == 0 or not _same_as_json(table, lines):
        return None
    return table.to_pandas(types_mapper=nested_dtype, split_blocks=True, self_destruct=True)


def _numbers_type(kind: pa.DataType) -> bool:
    return pa.types.is_null(kind) or pa.types.is_int64(kind) or pa.types.is_float64(kind)


def prediction_columns_ok(frame: pd.DataFrame) -> bool:
    """Whether the optional prediction fields have the shapes ``results.prediction_field_problems`` accepts
    in every row (else the line reader names the first bad one)."""
    for name in ("greedy_text", "beam_text"):
        if name in frame and not is_text(frame[name]) and not frame[name].isna().all():
            return False
    if "word_times" in frame:
        kind = getattr(frame["word_times"].dtype, "pyarrow_dtype", None)
        pair = kind.value_type if kind is not None and pa.types.is_list(kind) else None
        if not (pair is not None and pa.types.is_list(pair) and _numbers_type(pair.value_type)):
            return frame["word_times"].isna().all()
        if pc.any(
            pc.not_equal(pc.list_value_length(pc.list_flatten(pa.array(frame["word_times"]))), 2)
        ).as_py():
            return False
    if "word_confidence" in frame:  # triples of numbers in [0, 1], as ``results`` checks them line by line
        kind = getattr(frame["word_confidence"].dtype, "pyarrow_dtype", None)
        triple = kind.value_type if kind is not None and pa.types.is_list(kind) else None
        if not (triple is not None and pa.types.is_list(triple) and _numbers_type(triple.value_type)):
            return frame["word_confidence"].isna().all()
        flat = pc.list_flatten(pa.array(frame["word_confidence"]))
        values = pc.list_flatten(flat)
        if pc.any(pc.not_equal(pc.list_value_length(flat), 3)).as_py() or (
            len(values) and (pc.min(values).as_py() < 0 or pc.max(values).as_py() > 1)
        ):
            return False
    if "nbest" in frame:
        kind = getattr(frame["nbest"].dtype, "pyarrow_dtype", None)
        entry = kind.value_type if kind is not None and pa.types.is_list(kind) else None
        if entry is None or not pa.types.is_struct(entry) or entry.get_field_index("text") < 0:
            return frame["nbest"].isna().all()
        if not pa.types.is_string(entry.field("text").type):
            return False
        scores = [
            entry.field(k).type
            for k in ("am_score", "lm_score", "neural_score", "score")
            if entry.get_field_index(k) >= 0
        ]
        if not all(_numbers_type(t) for t in scores):
            return False
        texts = pc.struct_field(pc.list_flatten(pa.array(frame["nbest"])), "text")
        if texts.null_count:
            return False
    return True


def is_text(column: pd.Series | None) -> bool:
    """A column of strings (nulls allowed): what Arrow gives for a JSON field that is a string everywhere."""
    return column is not None and isinstance(column.dtype, pd.StringDtype)


def holds_nested(column: pd.Series) -> bool:
    """Lists or objects in a column, Arrow-backed or Python (iterating gives Python values either way)."""
    if isinstance(column.dtype, pd.ArrowDtype):
        return pa.types.is_nested(column.dtype.pyarrow_dtype)
    return column.dtype == object and any(isinstance(v, list | dict) for v in column)


def fill_ids(ids: pd.Series | None, audio: pd.Series, offset: pd.Series | None) -> pd.Series:
    """Each row's utt_id, or where it has none ``schema.derive_utt_id`` of its audio path and offset."""
    index = audio.index
    ids = ids if is_text(ids) else pd.Series(None, index, dtype="str")
    lacking = ids.isna() | (ids == "")
    if not lacking.any():
        return ids
    offsets = np.zeros(len(index)) if offset is None else offset.fillna(0.0).to_numpy(float)
    derived = [derive_utt_id(a, o) for a, o in zip(audio[lacking], offsets[lacking.to_numpy()], strict=True)]
    return ids.where(~lacking, pd.Series(derived, index=index[lacking], dtype="str"))


def _nested(values: list[Any]) -> bool:
    return any(isinstance(v, list | dict | tuple | np.ndarray) for v in values)


def nested_to_arrow(frame: pd.DataFrame) -> pd.DataFrame:
    """Object columns holding lists/dicts as Arrow arrays (or JSON text where Arrow cannot type them)."""
    out = frame.copy(deep=False)  # copy-on-write: only the replaced columns are new
    for column in out.columns:
        if out[column].dtype != object or not _nested(values := out[column].tolist()):
            continue
        values = [None if isinstance(v, float) and v != v else v for v in values]  # NaN: "no list here"
        try:
            out[column] = pd.arrays.ArrowExtensionArray(pa.array(values))
        except (pa.ArrowException, OverflowError):  # mixed kinds, or an integer beyond 64 bits
            out[column] = [
                None if v is None else json.dumps(v, default=str, ensure_ascii=False) for v in values
            ]
    return out


def _numbers_ok(column: pd.Series | None, required: bool) -> bool:
    """Non-negative finite numbers (not booleans), nulls only where the field is optional."""
    if column is None:
        return not required
    if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        return column.isna().all() and not required
    values = column.to_numpy(dtype=float, na_value=np.nan)
    missing = np.isnan(values)
    return not (required and missing.any()) and bool(
        np.all((values[~missing] >= 0) & np.isfinite(values[~missing]))
    )


def _manifest_ok(frame: pd.DataFrame) -> bool:
    """Whether every row passes ``manifests.io.field_problems`` (else the line reader names the first)."""
    audio, text = frame.get("audio_filepath"), frame.get("text")
    optional_text = [frame.get(name) for name in ("utt_id", "speaker")]
    return (
        is_text(audio)
        and not audio.isna().any()
        and not (audio == "").any()
        and not audio.str.contains("\0", regex=False).any()
        and is_text(text)
        and not text.isna().any()
        and _numbers_ok(frame.get("duration"), True)
        and _numbers_ok(frame.get("offset"), False)
        and all(c is None or is_text(c) or c.isna().all() for c in optional_text)
    )


def _resolved(base: Path, audio: pd.Series) -> pd.Series:
    """``row_to_utterance``'s paths: relative ones resolved against ``base``, absolute ones in ``Path``'s
    spelling (``//`` and ``/./`` collapsed); each distinct path once."""
    relative = ~audio.str.startswith("/")
    unusual = relative | audio.str.contains(r"//|/\./|/\.?$", regex=True)
    if not unusual.any():
        return audio
    spelled = {
        a: str((base / a).resolve()) if not a.startswith("/") else str(Path(a))
        for a in audio[unusual].unique()
    }
    return audio.where(~unusual, audio[unusual].map(spelled))


def _canonical(base: Path, frame: pd.DataFrame) -> pd.DataFrame:
    """Arrow's rows with ``Utterance``'s rules: resolved audio, float duration/offset, derived ids."""
    audio = _resolved(base, frame["audio_filepath"])
    offset = frame["offset"].astype(float).fillna(0.0) if "offset" in frame else pd.Series(0.0, frame.index)
    ids = fill_ids(frame.get("utt_id"), audio, offset)
    speaker = frame["speaker"] if is_text(frame.get("speaker")) else pd.Series(None, frame.index, dtype="str")
    core = {
        "utt_id": ids,
        "audio_filepath": audio,
        "duration": frame["duration"].astype(float),
        "text": frame["text"],
        "offset": offset,
        "speaker": speaker,
    }
    extra = {c: frame[c] for c in frame.columns if c not in MANIFEST_COLUMNS}
    return pd.DataFrame({**core, **extra})


def frame_of_utterances(utts: Iterable[Utterance]) -> pd.DataFrame:
    """Utterances as rows: ``MANIFEST_COLUMNS`` then every extra field (nested ones as Arrow arrays)."""
    rows = [
        {
            "utt_id": u.utt_id,
            "audio_filepath": u.audio_filepath,
            "duration": u.duration,
            "text": u.text,
            "offset": u.offset,
            "speaker": u.speaker,
            **u.extra,
        }
        for u in utts
    ]
    return nested_to_arrow(pd.DataFrame(rows, columns=None if rows else list(MANIFEST_COLUMNS)))


def fast_manifest_frame(path: Path, audio_base: Path | None = None) -> pd.DataFrame | None:
    """The manifest read by pyarrow with the line reader's rules, or None whenever the line reader must
    decide (pyarrow refused the file, could read it differently, or a row breaks a rule: it names which)."""
    frame = arrow_frame(path)
    if frame is not None and _manifest_ok(frame):
        frame = _canonical(audio_base or path.parent, frame)
        if not frame["utt_id"].duplicated().any():
            return frame
    return None
