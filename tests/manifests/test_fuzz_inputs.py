"""Property-based fuzzing of the parsers and the CLI: for any input, a clear ManifestError (exit 1 naming the
file) or a correct result, never another exception. Valid inputs are generated, then mutated (wrong types,
truncation, encoding damage, nesting, lone surrogates, NUL, huge numbers). The default run is short; the
slow-marked one tries many more examples. Failures found are kept as explicit regression examples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner
from werbench.manifests.errors import ManifestError
from werbench.manifests.io import load_manifest
from werbench.manifests.results import RunInfo
from werbench.manifests.trn import read_trn
from werbench.runners.import_hyps import read_hyps

from werbench.cli import app

SHORT = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
LONG = settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
json_scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), text)
json_value = st.recursive(
    json_scalar,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)
manifest_row = st.fixed_dictionaries(
    {"audio_filepath": text.filter(bool), "duration": st.floats(0, 100), "text": text, "utt_id": text},
    optional={"speaker": text, "offset": st.floats(0, 10), "extra": json_value},
)


def _mutate(raw: bytes, how: int, where: int) -> bytes:
    """One of the damages a hostile file carries, at a position picked by hypothesis."""
    cut = where % (len(raw) + 1)
    damages = (
        lambda: raw,
        lambda: raw[:cut],  # truncation
        lambda: raw[:cut] + b"\xff\xfe" + raw[cut:],  # encoding damage
        lambda: raw[:cut] + b"\0" + raw[cut:],  # NUL
        lambda: raw.replace(b'"text": "', b'"text": "\\ud800', 1),  # lone surrogate
        lambda: raw.replace(b'"duration": ', b'"duration": 1' + b"9" * 5000 + b' , "x": ', 1),  # huge number
        lambda: raw[:cut] + b"[" * 3000 + raw[cut:],  # deep nesting
        lambda: raw.replace(b'"duration": ', b'"duration": "', 1),  # wrong type (broken quote)
        lambda: raw.replace(b"\n", b"\r\n"),  # CRLF (valid)
    )
    return damages[how % len(damages)]()


def _lines(rows: list) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def _clear_or_result(call) -> None:
    try:
        call()
    except ManifestError as exc:
        assert exc.path and str(exc), "an error must name its file"


@SHORT
@given(st.lists(manifest_row | json_value, max_size=5), st.integers(0, 20), st.integers(0, 10_000))
@example([{"audio_filepath": "a", "duration": 1, "text": "x", "utt_id": "u"}], 4, 0)  # lone surrogate
@example([{"audio_filepath": "a", "duration": 1, "text": "x", "utt_id": "u"}], 6, 5)  # deep nesting
@example([{"audio_filepath": "a", "duration": 1, "text": "x", "utt_id": "u"}], 5, 0)  # 5000-digit number
@example([{"audio_filepath": "\0", "duration": 0.0, "text": "", "utt_id": ""}], 0, 0)  # found: NUL in a path
def test_manifest_reader(tmp_path_factory, rows, how, where) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "m.jsonl"
    path.write_bytes(_mutate(_lines(rows), how, where))
    _clear_or_result(lambda: list(load_manifest(path)))


@SHORT
@given(st.lists(st.tuples(text, text), max_size=5), st.integers(0, 20), st.integers(0, 10_000))
def test_trn_reader(tmp_path_factory, pairs, how, where) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "h.trn"
    path.write_bytes(_mutate("".join(f"{t} ({i})\n" for t, i in pairs).encode(), how, where))
    _clear_or_result(lambda: read_trn(path))


@SHORT
@given(
    json_value, st.sampled_from(["kaldi", "trn", "csv", "jsonl", "whisper", "deepspeech"]), st.integers(0, 20)
)
@example({"text": "a", "segments": "x"}, "whisper", 0)
@example({"transcripts": [{"words": [{"word": "a"}]}]}, "deepspeech", 0)
@example([{"wav_filename": 3, "res": "a"}], "deepspeech", 0)
def test_hypothesis_readers(tmp_path_factory, value, fmt, how) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    raw = json.dumps(value).encode() if fmt in ("whisper", "deepspeech") else _lines([value])
    if fmt in ("kaldi", "trn", "csv"):
        raw = f"utt_id,text\nu0,{value}\n".encode() if fmt == "csv" else f"u0 {value} (u0)\n".encode()
    path = folder / {"csv": "h.csv", "jsonl": "h.jsonl", "trn": "h.trn", "kaldi": "h.txt"}.get(fmt, "u0.json")
    path.write_bytes(_mutate(raw, how, 3))
    _clear_or_result(lambda: read_hyps(path, fmt))


@SHORT
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "system",
                "testset",
                "model",
                "decoder",
                "lm",
                "normalizer",
                "versions",
                "audio_seconds",
                "rtfx",
                "notes",
                "created",
                "status",
            ]
        ),
        json_value,
    )
)
@example({"system": "a", "testset": "t", "decoder": "beam"})
@example({"system": "a", "testset": "t", "normalizer": 5})
def test_run_info(data) -> None:
    _clear_or_result(lambda: RunInfo.from_json(data, "run.json"))


@SHORT
@given(st.lists(manifest_row, min_size=1, max_size=4), st.integers(0, 20), st.integers(0, 10_000))
def test_cli_validate_and_stats(tmp_path_factory, rows, how, where) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "m.jsonl"
    path.write_bytes(_mutate(_lines(rows), how, where))
    runner = CliRunner()
    for args in (["manifest", "validate", "--no-audio", str(path)], ["manifest", "stats", str(path)]):
        result = runner.invoke(app, args)
        assert result.exit_code in (0, 1), (args, result.output, result.exception)
        assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), (
            f"{args}: {result.exception!r}"
        )
        if result.exit_code == 1:
            assert "m.jsonl" in result.output


@pytest.mark.slow
@LONG
@given(st.lists(manifest_row | json_value, max_size=8), st.integers(0, 20), st.integers(0, 100_000))
def test_manifest_reader_long(tmp_path_factory, rows, how, where) -> None:
    path: Path = tmp_path_factory.mktemp("fuzz") / "m.jsonl"
    path.write_bytes(_mutate(_lines(rows), how, where))
    _clear_or_result(lambda: list(load_manifest(path)))
