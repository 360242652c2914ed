"""``werbench run EXPERIMENT.yaml``: mistakes are reported with their line before any work; good files run."""

from __future__ import annotations

import pytest
import yaml
from runner_helpers import read_predictions
from typer.testing import CliRunner
from werbench.manifests.errors import ConfigError
from werbench.manifests.results import read_run_info, system_dir
from werbench.runners.experiment import Experiment, run_experiment


def experiment_file(tmp_path, speech_manifest, tiny_nemo, **changes) -> str:
    data = {
        "results": "results",
        "cache": "cache",
        "testsets": [{"manifest": str(speech_manifest), "name": "synth"}],
        "models": [{"path": str(tiny_nemo), "name": "tiny"}],
        "decoders": [{"type": "greedy"}, {"type": "greedy", "name": "greedy-again"}],
    }
    data.update(changes)
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def error_of(path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        Experiment(path).check()
    return info.value


@pytest.mark.parametrize(
    ("changes", "field", "message", "on_line"),
    [
        ({"resuts": "x"}, "resuts", "Extra inputs are not permitted", "resuts:"),
        ({"decoders": [{"type": "greedy", "prams": {}}]}, "decoders[0].prams", "Extra inputs", "prams:"),
        ({"decoders": [{"type": "viterbi"}]}, "decoders[0].type", "unknown decoder type", "viterbi"),
        ({"batch_seconds": -1}, "batch_seconds", "greater than 0", "batch_seconds: -1"),
        ({"device": "gpu"}, "device", "should match pattern", "device: gpu"),
        ({"models": []}, "models", "at least 1 item", "models: []"),
        ({"normalizer": "nope"}, "normalizer", "unknown normaliser", "normalizer: nope"),
        ({"testsets": [{"manifest": "gone.jsonl"}]}, "testsets[0].manifest", "not found", "gone.jsonl"),
        ({"models": [{"path": "models/qn.nemo"}]}, "models[0].path", "never downloads", "qn.nemo"),
        (
            {"decoders": [{"type": "greedy", "params": {"alpha": 1}}]},
            "decoders[0].params.alpha", "no parameter(s) alpha; it takes no parameters", "alpha: 1",
        ),
        ({"decoders": [{"type": "greedy"}, {"type": "greedy"}]}, "decoders[1]", "duplicate name", "- type"),
    ],
)  # fmt: skip
def test_mistakes_name_file_line_and_field(
    tmp_path, speech_manifest, tiny_nemo, changes, field, message, on_line
):
    path = experiment_file(tmp_path, speech_manifest, tiny_nemo, **changes)
    error = error_of(path)
    assert error.path == str(path) and error.field == field and message in error.message
    lines = path.read_text(encoding="utf-8").splitlines()
    assert error.line is not None and on_line in lines[error.line - 1]
    if field == "decoders[1]":
        assert error.line == len(lines)
    assert not (tmp_path / "results").exists()


def test_beam_decoder_lm_file_is_checked_before_work(tmp_path, speech_manifest, tiny_nemo):
    decoders = [{"type": "beam-fast", "params": {"lm": "lm/4gram.bin", "alpha": 0.5}}]
    error = error_of(experiment_file(tmp_path, speech_manifest, tiny_nemo, decoders=decoders))
    assert error.field == "decoders[0].params.lm" and "file not found" in error.message


def test_check_command_prints_the_error_without_traceback(tmp_path, speech_manifest, tiny_nemo):
    from werbench.cli import app

    bad = experiment_file(tmp_path, speech_manifest, tiny_nemo, batch_seconds="lots")
    result = CliRunner().invoke(app, ["run", str(bad), "--check"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"{bad}:" in result.output and "batch_seconds" in result.output


@pytest.mark.integration
def test_experiment_runs_every_system_and_reuses_logits(tmp_path, speech_manifest, tiny_nemo, torch_threads):
    path = experiment_file(tmp_path, speech_manifest, tiny_nemo)
    summaries = run_experiment(path, progress=False)
    assert [s.ref.system for s in summaries] == ["tiny@greedy", "tiny@greedy-again"]
    first, second = (
        read_run_info(system_dir(tmp_path / "results", "synth", s.ref.system)) for s in summaries
    )
    assert first.extra["totals"]["cached"] == 0 and second.extra["totals"]["cached"] == 4
    texts = [[r["pred_text"] for r in read_predictions(s.ref.predictions)] for s in summaries]
    assert texts[0] == texts[1] and len(texts[0]) == 4
