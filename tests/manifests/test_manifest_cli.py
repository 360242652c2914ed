from __future__ import annotations

import json

import pytest
import typer
from corpus_builders import make_librispeech, write_audio
from typer.testing import CliRunner
from werbench.manifests.cli import manifest_app
from werbench.manifests.trn import read_trn

from werbench.cli import app

runner = CliRunner()


def _run(*args: str):
    return runner.invoke(app, ["manifest", *map(str, args)])


def test_every_command_and_option_has_help():
    group = typer.main.get_command(manifest_app)
    assert set(group.commands) == {"import", "validate", "stats", "normalizers", "to-trn"}
    for name, command in group.commands.items():
        assert command.help, name
        for param in command.params:
            assert getattr(param, "help", None), f"{name} {param.name}"
        result = _run(name, "--help")
        assert result.exit_code == 0, result.output
    assert "deepspeech-pytorch" in _run("import", "--help").output


def test_import_validate_stats_round(tmp_path):
    corpus = make_librispeech(tmp_path)
    out = tmp_path / "ls.jsonl"
    result = _run(
        "import",
        "librispeech",
        corpus.src,
        "-o",
        out,
        "--subset",
        "test-clean",
        "--normalize",
        "nemo",
        "--relative-paths",
    )
    assert result.exit_code == 0, result.output
    assert "wrote 3 utterances" in result.output and "16000 Hz x3" in result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows[0]["text"] == "he hoped there would be stew" and not rows[0]["audio_filepath"].startswith("/")
    result = _run("validate", out)
    assert result.exit_code == 0, result.output
    assert "3 utterances" in result.output and "0 error(s), 0 warning(s)" in result.output
    result = _run("stats", out)
    assert result.exit_code == 0 and "vocabulary" in result.output and "words per utterance" in result.output
    trn = tmp_path / "ref.trn"
    assert _run("to-trn", out, "-o", trn, "--normalize", "whisper").exit_code == 0
    assert read_trn(trn)[0] == ("1089-134686-0000", "he hoped there would be stew")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["import", "timit", "{tmp}", "-o", "{tmp}/x.jsonl"], "error: FORMAT: unknown format 'timit'"),
        (["import", "trn", "{tmp}/none.trn", "-o", "{tmp}/x.jsonl"], "none.trn: source not found"),
        (["import", "trn", "{tmp}/a.trn", "-o", "{tmp}/x.jsonl", "--normalize", "nemo@9"], "version 9"),
        (
            ["import", "trn", "{tmp}/a.trn", "-o", "{tmp}/x.jsonl"],
            "a.trn:2: utt_id: expected 'text (utt_id)'",
        ),
        (["import", "wsj", "{tmp}", "-o", "{tmp}/x.jsonl", "--wsj-vp", "sing"], "--wsj-vp: must be one of"),
        (["stats", "{tmp}/a.trn"], "a.trn:1: invalid JSON"),
        (
            ["to-trn", "{tmp}/m.jsonl", "-o", "{tmp}/o.trn", "--field", "pred_text"],
            "pred_text: utterance 'a'",
        ),
    ],
)
def test_bad_input_prints_one_line_and_exits_1(tmp_path, args, message):
    (tmp_path / "a.trn").write_text("fine (u1)\nno id\n")
    (tmp_path / "m.jsonl").write_text('{"audio_filepath": "a.wav", "duration": 1, "text": "x"}\n')
    result = _run(*[a.format(tmp=tmp_path) for a in args])
    assert result.exit_code == 1
    assert message in result.output
    assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output
    assert not (tmp_path / "x.jsonl").exists()


def test_validate_prints_every_problem_and_strict_counts_warnings(tmp_path):
    write_audio(tmp_path / "a.wav", 0.5)
    good = json.dumps({"audio_filepath": "a.wav", "duration": 0.5, "text": "hi"})
    (tmp_path / "crlf.jsonl").write_bytes(good.encode() + b"\r\n")
    (tmp_path / "bad.jsonl").write_text(good + "\n" + good + "\n{oops\n")
    result = _run("validate", tmp_path / "crlf.jsonl")
    assert result.exit_code == 0 and "crlf.jsonl:1: warning: Windows line endings" in result.output
    assert _run("validate", "--strict", tmp_path / "crlf.jsonl").exit_code == 1
    result = _run("validate", tmp_path / "crlf.jsonl", tmp_path / "bad.jsonl", "--no-audio")
    assert result.exit_code == 1
    assert (
        f"{tmp_path / 'bad.jsonl'}:2: utt_id: duplicate utterance id 'a' (first on line 1)" in result.output
    )
    assert f"{tmp_path / 'bad.jsonl'}:3: invalid JSON" in result.output
    assert "2 utterances, 0.000 h" in result.output and "2 error(s), 0 warning(s)" in result.output


def test_normalizers_listing_shows_specs_and_outputs():
    result = _run("normalizers", "--text", "Hello, [door_slam] World")
    assert result.exit_code == 0
    assert "nemo@1" in result.output and "'hello door slam world'" in result.output
    assert "'Hello, [door_slam] World'" in result.output  # shown verbatim, not eaten as markup


def test_outputs_never_replace_the_source_and_empty_manifests_are_refused(tmp_path):
    """Issue 17: ``import trn X -o X`` replaced the trn with the manifest; ``to-trn`` of an empty manifest
    wrote an empty trn file and exited 0."""
    trn = tmp_path / "ref.trn"
    trn.write_text("hello world (a1)\n", encoding="utf-8")
    result = _run("import", "trn", trn, "-o", trn)
    assert result.exit_code == 1 and "--output" in result.output and "is an input" in result.output
    assert trn.read_text(encoding="utf-8") == "hello world (a1)\n"
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n", encoding="utf-8")
    result = _run("to-trn", empty, "-o", tmp_path / "out.trn")
    assert result.exit_code == 1 and "empty.jsonl: no utterances" in result.output, result.output
    assert not (tmp_path / "out.trn").exists()
