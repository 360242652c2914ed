from __future__ import annotations

import json

import pytest
from werbench.manifests.errors import ManifestError
from werbench.manifests.io import field_problems, load_manifest, write_manifest
from werbench.manifests.schema import Utterance, derive_utt_id


def _utts(tmp_path):
    return [
        Utterance(str(tmp_path / "audio" / "a.wav"), 1.5, "hello world", speaker="s1"),
        Utterance(
            str(tmp_path / "audio" / "long.flac"), 2.25, "ça va très bien", offset=3.5, extra={"lang": "fr"}
        ),
        Utterance(
            str(tmp_path / "elsewhere.sph"), 0.0, "", utt_id="explicit", extra={"pred_text": "x", "n": [1]}
        ),
    ]


@pytest.mark.parametrize("relative", [False, True])
def test_round_trip_read_write_read(tmp_path, relative):
    out = tmp_path / "m.jsonl"
    assert write_manifest(out, _utts(tmp_path), relative=relative) == 3
    first = list(load_manifest(out))
    assert first == _utts(tmp_path)
    assert [u.utt_id for u in first] == ["a", "long_00003500", "explicit"]
    write_manifest(tmp_path / "again.jsonl", first, relative=relative)
    assert list(load_manifest(tmp_path / "again.jsonl")) == first
    stored = json.loads(out.read_text(encoding="utf-8").splitlines()[1])
    assert stored["audio_filepath"] == (
        "audio/long.flac" if relative else str(tmp_path / "audio" / "long.flac")
    )
    assert stored["text"] == "ça va très bien" and stored["lang"] == "fr"


def test_relative_paths_resolve_against_the_manifest_folder_and_crlf_is_accepted(tmp_path):
    (tmp_path / "sub").mkdir()
    path = tmp_path / "sub" / "m.jsonl"
    path.write_bytes(
        b'\xef\xbb\xbf{"audio_filepath": "../x.wav", "duration": 1, "text": "a", "speaker": 7}\r\n\r\n'
    )
    [utt] = load_manifest(path)
    assert utt.audio_filepath == str(tmp_path / "x.wav") and utt.speaker == "7" and utt.duration == 1.0


@pytest.mark.parametrize(
    ("line", "field", "message"),
    [
        ('{"audio_filepath": "a.wav", "duration": 1, "text": "x"', None, "invalid JSON"),
        ('["a.wav", 1, "x"]', None, "expected a JSON object, got list"),
        ('{"duration": 1, "text": "x"}', "audio_filepath", "required field is missing"),
        ('{"audio_filepath": "", "duration": 1, "text": "x"}', "audio_filepath", "empty path"),
        ('{"audio_filepath": "a.wav", "text": "x"}', "duration", "required field is missing"),
        ('{"audio_filepath": "a.wav", "duration": "1.0", "text": "x"}', "duration", "expected a number"),
        ('{"audio_filepath": "a.wav", "duration": true, "text": "x"}', "duration", "expected a number"),
        ('{"audio_filepath": "a.wav", "duration": -1, "text": "x"}', "duration", "non-negative"),
        ('{"audio_filepath": "a.wav", "duration": NaN, "text": "x"}', "duration", "non-negative"),
        ('{"audio_filepath": "a.wav", "duration": 1}', "text", "required field is missing"),
        ('{"audio_filepath": "a.wav", "duration": 1, "text": 5}', "text", "expected a string, got int"),
        ('{"audio_filepath": 3, "duration": 1, "text": "x"}', "audio_filepath", "expected a string"),
        (
            '{"audio_filepath": "a.wav", "duration": 1, "text": "x", "offset": "0"}',
            "offset",
            "expected a number",
        ),
        (
            '{"audio_filepath": "a.wav", "duration": 1, "text": "x", "utt_id": 12}',
            "utt_id",
            "expected a string",
        ),
        (
            '{"audio_filepath": "a.wav", "duration": 1, "text": "x", "speaker": {}}',
            "speaker",
            "expected a string",
        ),
    ],
)
def test_bad_lines_name_file_line_and_field(tmp_path, line, field, message):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"audio_filepath": "ok.wav", "duration": 1, "text": "fine"}\n' + line + "\n")
    with pytest.raises(ManifestError) as caught:
        list(load_manifest(path))
    error = caught.value
    assert (error.path, error.line, error.field) == (str(path), 2, field)
    assert message in str(error)
    expected_prefix = f"{path}:2: {field}: " if field else f"{path}:2: "
    assert str(error).startswith(expected_prefix)


def test_non_utf8_and_duplicate_ids(tmp_path):
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(b'{"audio_filepath": "a.wav", "duration": 1, "text": "caf\xe9"}\n')
    with pytest.raises(ManifestError, match=r"latin1.jsonl:1: text: not UTF-8 \(byte 55\)"):
        list(load_manifest(path))
    path = tmp_path / "dup.jsonl"
    path.write_text(
        '{"audio_filepath": "d/a.wav", "duration": 1, "text": "x"}\n'
        '{"audio_filepath": "e/a.wav", "duration": 1, "text": "y"}\n'
    )
    with pytest.raises(
        ManifestError,
        match=r"dup.jsonl:2: utt_id: duplicate utterance id 'a' \(first on line 1\): lines "
        "without utt_id are named after their audio file; give each line a unique utt_id",
    ):
        list(load_manifest(path))
    assert len(list(load_manifest(path, unique_ids=False))) == 2
    with pytest.raises(ManifestError, match="manifest file not found"):
        list(load_manifest(tmp_path / "missing.jsonl"))


def test_field_problems_lists_every_problem_of_a_row():
    problems = field_problems({"audio_filepath": 1, "duration": "x", "offset": -2})
    assert [name for name, _ in problems] == ["audio_filepath", "duration", "text", "offset"]


def test_derived_ids_strip_audio_suffixes_and_add_the_offset():
    assert derive_utt_id("/a/b/4k0c0301.WV1") == "4k0c0301"
    assert derive_utt_id("x/rec.flac", 12.3456) == "rec_00012346"


def test_load_manifest_is_the_one_reader_streamed_or_in_columns(tmp_path):
    """Iterating streams utterances and stops at the first bad line; ``frame()`` gives the same rows."""
    with pytest.raises(ManifestError, match="manifest file not found"):
        load_manifest(tmp_path / "absent.jsonl")  # at once, before anything is read
    path = tmp_path / "m.jsonl"
    rows = [
        {"audio_filepath": f"a{i}.wav", "duration": 1.0 + i, "text": f"t {i}", "lang": "en"} for i in range(3)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"text": 1}\n', encoding="utf-8")
    manifest = load_manifest(path)
    streamed = iter(manifest)
    assert next(streamed).text == "t 0"  # lazily: the bad fourth line is not read yet
    with pytest.raises(ManifestError) as info:
        list(manifest)
    assert info.value.line == 4
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    frame = load_manifest(path).frame()
    assert frame["text"].tolist() == [u.text for u in load_manifest(path)] == ["t 0", "t 1", "t 2"]
    assert (
        frame["lang"].tolist() == ["en"] * 3 and frame["audio_filepath"].str.startswith(str(tmp_path)).all()
    )


def test_a_whole_json_file_names_the_line_of_its_syntax_error(tmp_path) -> None:
    from werbench.manifests.io import load_json_file

    path = tmp_path / "run.json"
    path.write_text('{\n  "system": "a",\n  oops\n}\n', encoding="utf-8")
    with pytest.raises(ManifestError) as caught:
        load_json_file(path)
    assert caught.value.line == 3 and str(caught.value).startswith(f"{path}:3:")
    assert "invalid JSON" in caught.value.message and "column 3" in caught.value.message
