"""The columnar manifest reader: pyarrow's result must be the line reader's, or it must not be used."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from werbench.manifests import columnar
from werbench.manifests.columnar import arrow_frame, frame_of_utterances
from werbench.manifests.errors import ManifestError
from werbench.manifests.io import load_manifest


def write_lines(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def by_line(path: Path) -> pd.DataFrame:
    return frame_of_utterances(load_manifest(path))


def python_values(frame: pd.DataFrame) -> dict[str, list]:
    """Each column as the Python values iterating it gives, every kind of null as None."""
    return {c: [None if v is None or v is pd.NA or v != v else v for v in frame[c]] for c in frame}


def same(fast: pd.DataFrame, slow: pd.DataFrame) -> None:
    """Equal as Python values (the dtypes may differ: Arrow strings versus objects)."""
    assert python_values(fast) == python_values(slow)


ROWS = [
    {"audio_filepath": "a/x.wav", "duration": 2, "text": "hello world", "speaker": "s1", "noise": "babble"},
    {
        "audio_filepath": "/abs/y.flac",
        "duration": 1.25,
        "text": "ça va",
        "offset": 3.5,
        "utt_id": "",
        "nbest": [{"text": "ça va", "score": -1.5}],
        "word_times": [[0.1, 0.4], [0.5, 0.9]],
    },
    {"audio_filepath": "z.sph", "duration": 0.0, "text": "", "utt_id": "explicit", "offset": None},
]


def test_fast_reader_gives_the_line_readers_frame(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "m.jsonl", ROWS)
    assert arrow_frame(path) is not None  # pyarrow reads this one: the fast path is what is compared
    fast = load_manifest(path).frame()
    same(fast, by_line(path))
    assert fast["utt_id"].tolist() == ["x", "y_00003500", "explicit"]
    assert fast.loc[0, "audio_filepath"] == str((tmp_path / "a" / "x.wav").resolve())
    assert fast["duration"].dtype == float and fast["offset"].tolist() == [0.0, 3.5, 0.0]
    assert isinstance(fast["nbest"].dtype, pd.ArrowDtype)  # one Arrow buffer, not a dict per line
    assert fast.loc[1, "nbest"] == [{"text": "ça va", "score": -1.5}]


@pytest.mark.parametrize(
    "later",
    [
        {"noise": "babble"},  # a field null in the first blocks, a string later
        {"word_times": [[0.1, 0.4]]},  # a field that first appears in a later block
        {"duration": 1.5},  # whole numbers first, a fraction later
        {"room": 7},  # a string first, then a number: no Arrow type holds both, the line reader decides
    ],
)
def test_a_later_block_of_other_types_reads_as_the_line_reader_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, later: dict
) -> None:
    """The streaming reader types each field from its first block; a later block that differs is re-read."""
    monkeypatch.setattr(columnar, "ARROW_BLOCK", 1 << 10)  # ~12 rows a block: the last rows are blocks later
    first = {"audio_filepath": "a.wav", "duration": 1, "text": "x y", "room": "hall", "noise": None}
    rows = [{**first, "utt_id": f"u{k}"} for k in range(200)]
    rows += [{**first, "utt_id": f"v{k}", **later} for k in range(3)]
    path = write_lines(tmp_path / "m.jsonl", rows)
    fast = load_manifest(path).frame()
    same(fast, by_line(path))
    assert python_values(fast)[next(iter(later))][-1] == next(iter(later.values()))


@pytest.mark.parametrize(
    "content",
    [
        b'{"audio_filepath": "a.wav", "duration": 1, "text": "2020-01-01"}\n',  # pyarrow: a timestamp
        b'{"audio_filepath": "a.wav", "duration": 1, "text": "x", "speaker": 7}\n'
        b'{"audio_filepath": "b.wav", "duration": 1, "text": "y", "speaker": "s"}\n',  # type changes
        b'\xef\xbb\xbf{"audio_filepath": "a.wav", "duration": 1, "text": "x"}\r\n',  # BOM and CRLF
        b'{"audio_filepath": "a.wav", "duration": 1, "text": "x", "lang": NaN}\n',  # NaN: json only
    ],
)
def test_files_pyarrow_reads_differently_take_the_line_reader(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "m.jsonl"
    path.write_bytes(content)
    same(load_manifest(path).frame(), by_line(path))


def test_not_utf8_is_refused_by_pyarrow_path_and_named_by_the_line_reader(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_bytes(b'{"audio_filepath": "a.wav", "duration": 1, "text": "caf\xe9"}\n')
    assert arrow_frame(path) is None
    with pytest.raises(ManifestError, match="not UTF-8") as info:
        load_manifest(path).frame()
    assert (info.value.line, info.value.field) == (1, "text")


@pytest.mark.parametrize(
    ("bad", "field", "message"),
    [
        ({"audio_filepath": "b.wav", "duration": -1, "text": "x"}, "duration", "non-negative"),
        ({"audio_filepath": "b.wav", "duration": True, "text": "x"}, "duration", "expected a number"),
        ({"audio_filepath": "", "duration": 1, "text": "x"}, "audio_filepath", "empty path"),
        ({"audio_filepath": "b.wav", "duration": 1}, "text", "required field is missing"),
        ({"audio_filepath": "a.wav", "duration": 1, "text": "x"}, "utt_id", "duplicate utterance id 'a'"),
    ],
)
def test_bad_rows_are_named_by_line_and_field(tmp_path: Path, bad: dict, field: str, message: str) -> None:
    good = {"audio_filepath": "a.wav", "duration": 1, "text": "fine"}
    path = write_lines(tmp_path / "m.jsonl", [good, {}, bad][::2])  # a blank-free file: the bad row is line 2
    with pytest.raises(ManifestError, match=message) as info:
        load_manifest(path).frame()
    assert (info.value.line, info.value.field) == (2, field)


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="not found"):
        load_manifest(tmp_path / "absent.jsonl").frame()
    (tmp_path / "empty.jsonl").write_text("\n", encoding="utf-8")
    empty = load_manifest(tmp_path / "empty.jsonl").frame()
    assert empty.empty and list(empty.columns)[:3] == ["utt_id", "audio_filepath", "duration"]


ROW_A = b'{"audio_filepath": "a.wav", "duration": 1, "text": "x"}'
ROW_B = b'{"audio_filepath": "b.wav", "duration": 1, "text": "y"}'


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (ROW_A + b" " + ROW_B + b"\n", "Extra data"),  # two objects on one line
        (b'{"audio_filepath": "a.wav",\n"duration": 1, "text": "x"}\n', "invalid JSON"),  # one over two lines
        (ROW_A + b"\r" + ROW_B + b"\n", "Extra data"),  # CR-only line ends
        (b'{"audio_filepath": "a.wav", "duration": 1, "text": "x", "offset": NaN}\n', "non-negative finite"),
    ],
)  # fmt: skip
def test_what_json_refuses_pyarrow_must_not_accept(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "m.jsonl"
    path.write_bytes(content)
    with pytest.raises(ManifestError, match=message) as info:
        load_manifest(path).frame()
    assert info.value.line == 1


def test_integers_beyond_a_double_keep_their_exact_value(tmp_path: Path) -> None:
    big = 2**64 - 1
    rows = [{"audio_filepath": "/a.wav", "duration": 1, "text": "x", "seed": big}]
    frame = load_manifest(write_lines(tmp_path / "m.jsonl", rows)).frame()
    assert frame.loc[0, "seed"] == big  # pyarrow would have read 1.8446744073709552e19


def test_blank_lines_and_unusual_absolute_paths_read_as_the_line_reader_does(tmp_path: Path) -> None:
    rows = [{"audio_filepath": "/data//x/./a.wav", "duration": 1, "text": "x"}]
    path = tmp_path / "m.jsonl"
    path.write_text("\n" + json.dumps(rows[0]) + "\n   \n", encoding="utf-8")
    fast, slow = load_manifest(path).frame(), by_line(path)
    same(fast, slow)
    assert fast.loc[0, "audio_filepath"] == "/data/x/a.wav"
