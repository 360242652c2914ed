"""``werbench import-hyps``: every supported hypothesis format becomes a system matched to the manifest."""

from __future__ import annotations

import json

import pytest
from runner_helpers import read_predictions
from typer.testing import CliRunner
from werbench.manifests.errors import ManifestError
from werbench.manifests.io import write_manifest
from werbench.manifests.results import read_run_info, system_dir
from werbench.manifests.schema import Utterance
from werbench.runners.import_hyps import detect_format, import_hyps

HYPS = {"spk1-a": "hello world", "spk1-b": "good morning", "spk2-c": "see you"}


@pytest.fixture()
def manifest(tmp_path):
    utts = [
        Utterance(str(tmp_path / "audio" / f"{utt_id}.wav"), 1.5, "reference text", utt_id=utt_id)
        for utt_id in [*HYPS, "spk2-d"]
    ]
    path = tmp_path / "test.jsonl"
    write_manifest(path, utts)
    return path


def write_source(tmp_path, fmt: str):
    """The same three hypotheses in each format, keyed the way each tool keys them."""
    if fmt == "kaldi":
        path = tmp_path / "text"
        path.write_text("".join(f"{u} {t}\n" for u, t in HYPS.items()), encoding="utf-8")
    elif fmt == "trn":
        path = tmp_path / "hyp.trn"
        path.write_text("".join(f"{t} ({u})\n" for u, t in HYPS.items()), encoding="utf-8")
    elif fmt == "csv":
        path = tmp_path / "hyps.csv"
        path.write_text(
            "wav_filename,transcript\n" + "".join(f"/data/{u}.wav,{t}\n" for u, t in HYPS.items())
        )
    elif fmt == "jsonl":
        path = tmp_path / "transcribed.jsonl"
        rows = [
            {"audio_filepath": str(tmp_path / "audio" / f"{u}.wav"), "pred_text": t} for u, t in HYPS.items()
        ]
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    elif fmt == "whisper":
        path = tmp_path / "whisper_out"
        path.mkdir()
        for u, t in HYPS.items():
            words = [
                {"word": f" {w}", "start": i * 0.5, "end": i * 0.5 + 0.4} for i, w in enumerate(t.split())
            ]
            segment = {"id": 0, "start": 0.0, "end": 1.0, "text": f" {t}", "words": words}
            (path / f"{u}.json").write_text(
                json.dumps({"text": f" {t}", "segments": [segment], "language": "en"})
            )
    elif fmt == "deepspeech":
        path = tmp_path / "ds_out"
        path.mkdir()
        for u, t in HYPS.items():
            words = [{"word": w, "start_time": i * 0.5, "duration": 0.3} for i, w in enumerate(t.split())]
            alt = [{"word": "x", "start_time": 0.0, "duration": 0.1}]
            data = {"transcripts": [{"confidence": -3.5, "words": words}, {"confidence": -9.0, "words": alt}]}
            (path / f"{u}.json").write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("fmt", ["kaldi", "trn", "csv", "jsonl", "whisper", "deepspeech"])
def test_each_format_imports_as_a_system(tmp_path, manifest, fmt):
    source = write_source(tmp_path, fmt)
    assert detect_format(source) == fmt
    info = import_hyps(source, manifest, tmp_path / "results", f"{fmt}@imported", testset="t")
    ref = system_dir(tmp_path / "results", "t", f"{fmt}@imported")
    rows = read_predictions(ref.predictions)
    assert [r["utt_id"] for r in rows] == [*HYPS, "spk2-d"]
    assert [r["pred_text"] for r in rows[:3]] == list(HYPS.values())
    assert rows[3]["pred_text"] == "" and "no hypothesis" in rows[3]["error"]
    assert rows[0]["text"] == "reference text"
    assert info.decoder == {"type": "imported", "params": {"format": fmt}}
    assert read_run_info(ref).model["architecture"] == f"imported:{fmt}"
    assert any("1 manifest utterances had no hypothesis" in n for n in info.notes)
    if fmt in ("whisper", "deepspeech"):
        assert rows[0]["word_times"][1][0] == pytest.approx(0.5)
    if fmt == "deepspeech":
        assert [h["text"] for h in rows[0]["nbest"]] == ["hello world", "x"]


def test_deepspeech_evaluate_report_and_unmatched_hypotheses(tmp_path, manifest):
    report = [{"wav_filename": f"/corpus/{u}.wav", "src": "ref", "res": t} for u, t in HYPS.items()]
    report.append({"wav_filename": "/corpus/stranger.wav", "src": "", "res": "who"})
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report), encoding="utf-8")
    info = import_hyps(path, manifest, tmp_path / "results", "ds@imported", testset="t")
    assert any("1 hypotheses matched no manifest utterance" in n and "stranger" in n for n in info.notes)


def test_nothing_matching_is_an_error_and_bad_lines_name_the_line(tmp_path, manifest):
    other = tmp_path / "text"
    other.write_text("nobody here\n", encoding="utf-8")
    with pytest.raises(ManifestError, match="no hypothesis matches"):
        import_hyps(other, manifest, tmp_path / "results", "x@imported")
    broken = tmp_path / "hyp.trn"
    broken.write_text("hello (spk1-a)\nno id here\n", encoding="utf-8")
    with pytest.raises(ManifestError) as info:
        import_hyps(broken, manifest, tmp_path / "results", "x@imported")
    assert info.value.line == 2


def test_import_hyps_command(tmp_path, manifest):
    from werbench.cli import app

    source = write_source(tmp_path, "csv")
    args = [
        "import-hyps",
        str(source),
        "--manifest",
        str(manifest),
        "-r",
        str(tmp_path / "r"),
        "--name",
        "c@i",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "r" / "test" / "c@i" / "predictions.jsonl").is_file()


def test_existing_system_is_not_replaced_without_overwrite(tmp_path, manifest):
    from werbench.manifests.errors import ResultsDirError

    source = write_source(tmp_path, "trn")
    first = import_hyps(source, manifest, tmp_path / "results", "x@imported")
    predictions = system_dir(tmp_path / "results", first.testset, first.system).predictions
    before = predictions.read_bytes()
    with pytest.raises(ResultsDirError, match="--overwrite"):
        import_hyps(write_source(tmp_path, "kaldi"), manifest, tmp_path / "results", "x@imported")
    assert predictions.read_bytes() == before
    import_hyps(write_source(tmp_path, "kaldi"), manifest, tmp_path / "results", "x@imported", overwrite=True)


@pytest.mark.parametrize(
    ("name", "content", "where"),
    [
        ("text", "spk1-a one\nspk1-a two\n", "text:2: utt_id: duplicate"),
        ("hyps.csv", "utt_id,text\nspk1-a,caf\xe9\n", "hyps.csv:2"),
        ("hyps.csv", 'utt_id,text\nspk1-a,"open quote\n', "malformed CSV"),
        ("hyps.csv", "utt_id,text\nspk1-a,a\x00b\n", "NUL"),
        ("w.json", '{"text": "a", "segments": "x"}', "segments: expected a list"),
        ("w.json", '{"transcripts": [{"words": [{"word": "a"}]}]}', "transcripts[0].words[0].start_time"),
        ("h.jsonl", '{"utt_id": "spk1-a", "pred_text": "\\ud800"}\n', "lone UTF-16 surrogate"),
    ],
)
def test_hostile_hypothesis_files_are_clear_errors(tmp_path, manifest, name, content, where):
    source = tmp_path / name
    source.write_bytes(content.encode("latin-1") if "\xe9" in content else content.encode())
    with pytest.raises(ManifestError, match=__import__("re").escape(where)):
        import_hyps(source, manifest, tmp_path / "results", "x@imported")
