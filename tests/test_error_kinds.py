"""Errors by kind: each names file:line: field and survives pickling; the CLI prints each as one line."""

from __future__ import annotations

import pickle

import pytest
import typer
from typer.testing import CliRunner
from werbench.manifests.errors import (
    ConfigError,
    ManifestError,
    MissingDependencyError,
    ResultsDirError,
    WerbenchError,
)

from werbench.cli import _Commands, app

KINDS = (ManifestError, ConfigError, MissingDependencyError, ResultsDirError)


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_names_file_line_and_field(kind: type[WerbenchError]) -> None:
    error = kind("data/dev.jsonl", "expected a string", line=7, field="decoders[0].params.alpha")
    assert isinstance(error, WerbenchError)
    assert str(error) == "data/dev.jsonl:7: decoders[0].params.alpha: expected a string"
    assert str(kind("--decoder", "unknown decoder type 'x'")) == "--decoder: unknown decoder type 'x'"
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is kind and str(back) == str(error) and (back.line, back.field) == (7, error.field)


def test_kinds_keep_the_builtin_family_callers_catch() -> None:
    assert issubclass(ManifestError, ValueError) and issubclass(ConfigError, ValueError)
    assert issubclass(MissingDependencyError, ImportError)
    assert not issubclass(ResultsDirError, ManifestError) and not issubclass(ConfigError, ManifestError)


@pytest.mark.parametrize("kind", (*KINDS, FileNotFoundError))
def test_the_one_cli_handler_prints_every_kind_as_one_line(kind: type[Exception]) -> None:
    """Any command of any group runs inside the root group's handler: exit 1, one line, no traceback."""
    probe = typer.Typer(cls=_Commands)
    group = typer.Typer()

    @group.command("fail")
    def fail() -> None:
        if kind is FileNotFoundError:
            raise FileNotFoundError(2, "No such file or directory", "gone.jsonl")
        raise kind("ref.jsonl", "bad value", line=3, field="text")

    @probe.callback()
    def root() -> None:
        """Root."""

    probe.add_typer(group, name="group")
    result = CliRunner().invoke(probe, ["group", "fail"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    expected = "gone.jsonl" if kind is FileNotFoundError else "error: ref.jsonl:3: text: bad value"
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0]
    assert "Traceback" not in result.output


def test_real_commands_report_input_configuration_and_results_errors_alike(tmp_path) -> None:
    manifest = tmp_path / "dev.jsonl"
    manifest.write_text('{"audio_filepath": "a.wav", "duration": 1.0, "text": "hi"}\n{"text": \n')
    parens = tmp_path / "parens.jsonl"
    parens.write_text('{"audio_filepath": "a.wav", "duration": 1.0, "text": "hi", "utt_id": "a (b)"}\n')
    runner = CliRunner()
    cases = {
        f"error: {manifest}:2": ["manifest", "to-trn", str(manifest), "-o", str(tmp_path / "x.trn")],
        f"error: {parens}:1: utt_id: utterance id 'a (b)' cannot be written": [
            "manifest", "to-trn", str(parens), "-o", str(tmp_path / "p.trn")
        ],
        "error: normalizer: unknown normaliser": ["manifest", "stats", str(manifest), "--normalize", "nope"],
        f"error: {tmp_path / 'nowhere'}: results directory not found": [
            "report", str(tmp_path / "nowhere"), "--csv", str(tmp_path / "csv")
        ],
    }  # fmt: skip
    for expected, args in cases.items():
        result = runner.invoke(app, args)
        assert result.exit_code == 1, result.output
        assert result.output.strip().splitlines() == [result.output.strip()]
        assert result.output.startswith(expected), result.output


@pytest.mark.parametrize(
    ("command", "option"),
    [(["score", "REF", "REF"], "--csv"), (["score", "REF", "REF"], "--json"),
     (["manifest", "to-trn", "REF"], "--output"), (["lm", "build", "REF"], "--output")],
)  # fmt: skip
def test_an_output_file_given_as_a_folder_is_a_usage_error(tmp_path, command, option) -> None:
    """Found by the CLI fuzzer: ``--csv ''`` (the current folder) raised pathlib's ValueError."""
    ref = tmp_path / "ref.trn"
    ref.write_text("a b (u1)\n")
    for folder in ("", str(tmp_path)):
        result = CliRunner().invoke(app, [*(str(ref) if a == "REF" else a for a in command), option, folder])
        said = " ".join(result.output.replace("│", " ").split())
        assert result.exit_code == 2 and f"'{option}': file" in said and "is a directory" in said, (
            result.output
        )


def test_an_output_that_is_an_input_is_refused_before_any_work(tmp_path) -> None:
    """``score ref.trn hyp.trn --json hyp.trn`` would replace the hypotheses it scores."""
    ref, hyp = tmp_path / "ref.trn", tmp_path / "hyp.trn"
    ref.write_text("a b (u1)\n")
    hyp.write_text("a c (u1)\n")
    for args in (
        ["score", str(ref), str(hyp), "--json", str(hyp)],
        ["score", str(ref), str(hyp), "--csv", str(tmp_path / "ref.trn")],
        ["compare", str(ref), str(hyp), str(hyp), "--json", str(ref)],
    ):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 1 and "is an input of this command" in result.output, result.output
    assert ref.read_text() == "a b (u1)\n" and hyp.read_text() == "a c (u1)\n"
