from __future__ import annotations

import json

from corpus_builders import tone, write_audio, write_sphere
from werbench.manifests.validate import ValidationOptions, validate_manifest


def _line(audio, duration, text="hello world", **extra):
    return json.dumps({"audio_filepath": str(audio), "duration": duration, "text": text, **extra})


def _problems(report):
    return [(p.line, p.field, p.severity) for p in report.problems]


def test_a_good_manifest_has_no_problems_and_reports_sample_rates(tmp_path):
    write_audio(tmp_path / "a.wav", 0.5)
    write_audio(tmp_path / "b.flac", 0.75, sr=8000)
    write_sphere(tmp_path / "c.wv1", tone(0.25), shorten=True)
    path = tmp_path / "m.jsonl"
    path.write_text(
        "\n".join(
            [
                _line("a.wav", 0.5),
                _line("b.flac", 0.75),
                _line("c.wv1", 0.25),
                _line("a.wav", 0.2, offset=0.3, utt_id="a2"),
            ]
        )
        + "\n"
    )
    report = validate_manifest(path, progress=False)
    assert report.problems == []
    assert report.utterances == 4 and report.sample_rates == {16000: 3, 8000: 1}
    assert report.seconds == 1.7


def test_every_problem_is_collected_with_file_line_and_field(tmp_path):
    write_audio(tmp_path / "a.wav", 0.5)
    write_audio(tmp_path / "b.wav", 0.5, sr=8000)
    (tmp_path / "junk.wav").write_bytes(b"not audio" * 20)
    lines = [
        _line("a.wav", 0.5).encode(),  # 1 fine
        b'{"audio_filepath": "a.wav", "duration": 0.5, "text": "x",}',  # 2 malformed JSON
        json.dumps({"duration": "long", "text": 3}).encode(),  # 3 three field problems
        _line("missing.wav", 1.0).encode(),  # 4 audio not found
        _line("junk.wav", 1.0).encode(),  # 5 unreadable audio
        _line("a.wav", 2.0, utt_id="a3").encode(),  # 6 duration differs from the header
        _line("a.wav", 0.5, text=" ", utt_id="a4").encode(),  # 7 empty text
        _line("a.wav", 0.5, text="caf#", utt_id="a5").encode().replace(b"#", b"\xe9"),  # 8 not UTF-8
        _line("a.wav", 0.5).encode() + b"\r",  # 9 duplicate id (derived "a") + CRLF
        b"",  # 10 blank
        _line("a.wav", 0.3, offset=0.4, utt_id="a6").encode(),  # 11 segment past the end
        _line("b.wav", 0.5, text="one two three four five six seven eight nine ten eleven").encode(),  # 12
        _line("a.wav", 0.0, utt_id="a7").encode(),  # 13 zero duration
    ]
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    report = validate_manifest(path, ValidationOptions(sample_rate=16000), progress=False)
    assert _problems(report) == [
        (2, None, "error"),
        (3, "audio_filepath", "error"),
        (3, "duration", "error"),
        (3, "text", "error"),
        (4, "audio_filepath", "error"),
        (5, "audio_filepath", "error"),
        (6, "duration", "error"),
        (7, "text", "error"),
        (8, "text", "error"),
        (9, "utt_id", "error"),
        (9, None, "warning"),
        (10, None, "warning"),
        (11, "duration", "error"),
        (12, "audio_filepath", "error"),
        (12, "text", "warning"),
        (13, "duration", "error"),
        (13, "duration", "error"),
    ]
    text = [str(p) for p in report.problems]
    assert text[0].startswith(f"{path}:2: invalid JSON")
    assert text[4] == f"{path}:4: audio_filepath: {tmp_path / 'missing.wav'}: audio file not found"
    assert text[6] == f"{path}:6: duration: 2.000 s, but the audio header says 0.500 s (tolerance 0.1 s)"
    assert "duplicate utterance id 'a' (first on line 1)" in text[9]
    assert text[10] == (
        f"{path}:9: warning: Windows line endings (CRLF) on 1 line(s), first here; accepted, but "
        "other tools may read the CR as part of the text"
    )
    assert "not UTF-8" in text[8] and "sample rate 8000 Hz, expected 16000 Hz" in text[13]
    assert len(report.errors) == 14 and len(report.warnings) == 3


def test_options_relax_the_checks(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text(_line("nowhere.wav", 1.0, text="") + "\n" + _line("ref1", 0, reference_only=True) + "\n")
    relaxed = validate_manifest(
        path, ValidationOptions(check_audio=False, allow_empty_text=True), progress=False
    )
    assert relaxed.problems == [] and relaxed.reference_only == 1
    strict = validate_manifest(path, progress=False)
    assert _problems(strict) == [(1, "text", "error"), (1, "audio_filepath", "error")]


def test_missing_and_empty_manifests(tmp_path):
    assert [str(p) for p in validate_manifest(tmp_path / "no.jsonl").problems] == [
        f"{tmp_path / 'no.jsonl'}: manifest file not found"
    ]
    (tmp_path / "empty.jsonl").write_text("")
    assert [p.message for p in validate_manifest(tmp_path / "empty.jsonl").problems] == ["no utterances"]
