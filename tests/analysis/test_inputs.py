"""Reading references and hypotheses: every format, matching by id, and the bad-input messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analysis.inputs import NO_HYPOTHESIS, load_inputs, read_hypotheses, read_reference, read_results
from manifests.errors import ManifestError
from manifests.results import RunInfo, system_dir, write_run_info


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


def manifest_rows(texts: dict[str, str], **extra) -> list[dict]:
    return [
        {"audio_filepath": f"/audio/{uid}.wav", "duration": 1.5, "text": text, "utt_id": uid, **extra}
        for uid, text in texts.items()
    ]


def test_trn_reference_reads_ids_and_sclite_speakers(tmp_path: Path) -> None:
    trn = tmp_path / "ref.trn"
    trn.write_text("hello world (spk1-u1)\n;; a comment\n(laughs) yes (spk2_u2)\n", encoding="utf-8")
    reference = read_reference(trn)
    assert {uid: (u.text, u.speaker) for uid, u in reference.utts.items()} == {
        "spk1-u1": ("hello world", "spk1"),
        "spk2_u2": ("(laughs) yes", "spk2"),
    }


def test_manifest_reference_keeps_every_field(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "test.jsonl", manifest_rows({"a": "x y"}, speaker="s1", noise="babble"))
    utt = read_reference(path).utts["a"]
    assert (utt.text, utt.duration, utt.speaker) == ("x y", 1.5, "s1")
    assert utt.fields["noise"] == "babble" and utt.fields["audio_filepath"] == "/audio/a.wav"


def test_sde_manifest_is_one_system_per_pred_text_field(tmp_path: Path) -> None:
    rows = manifest_rows({"a": "x y", "b": "z"})
    rows[0] |= {"pred_text": "x", "pred_text_greedy": "x y", "pred_text_beam": "x"}
    rows[1] |= {"pred_text": "z", "pred_text_greedy": "", "pred_text_beam": "zz"}
    systems = read_hypotheses(write_jsonl(tmp_path / "sde.json", rows))
    assert {s.system: s.texts for s in systems} == {
        "sde": {"a": "x", "b": "z"},
        "greedy": {"a": "x y", "b": ""},
        "beam": {"a": "x", "b": "zz"},
    }


def test_result_manifest_failures_and_extras(tmp_path: Path) -> None:
    rows = manifest_rows({"a": "x", "b": "y"})
    rows[0] |= {"pred_text": "x", "greedy_text": "x", "nbest": [{"text": "x", "score": -1.0}]}
    rows[1] |= {"pred_text": "", "error": "CUDA out of memory"}
    (hyps,) = read_hypotheses(write_jsonl(tmp_path / "run1.jsonl", rows))
    assert hyps.system == "run1" and hyps.texts == {"a": "x"}
    assert hyps.failed == {"b": "CUDA out of memory"}
    assert hyps.fields["a"]["nbest"][0]["score"] == -1.0 and "pred_text" not in hyps.fields["a"]


@pytest.mark.parametrize(
    ("row", "field", "message"),
    [
        ({"text": "x", "utt_id": "a"}, "pred_text", "no pred_text"),
        ({"text": "x", "utt_id": "a", "pred_text": 3}, "pred_text", "must be a string, got int"),
        ({"text": "x", "pred_text": "x"}, "utt_id", "no utt_id and no audio_filepath"),
    ],
)
def test_bad_hypothesis_rows_name_file_line_and_field(
    tmp_path: Path, row: dict, field: str, message: str
) -> None:
    path = write_jsonl(tmp_path / "h.jsonl", [{"utt_id": "z", "text": "q", "pred_text": "q"}, row])
    with pytest.raises(ManifestError, match=message) as info:
        read_hypotheses(path)
    assert (info.value.line, info.value.field) == (2, field) and str(path) in str(info.value)


def test_duplicate_ids_are_errors_in_hypotheses_and_references(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "h.jsonl", [{"utt_id": "a", "pred_text": "x"}, {"utt_id": "a", "pred_text": "y"}]
    )
    with pytest.raises(ManifestError, match="duplicate utterance id 'a' \\(first on line 1\\)"):
        read_hypotheses(path)
    trn = tmp_path / "ref.trn"
    trn.write_text("a (s_1)\nb (s_1)\n", encoding="utf-8")
    with pytest.raises(ManifestError, match="duplicate"):
        read_reference(trn)


def test_missing_and_extra_ids_are_reported_not_dropped(tmp_path: Path) -> None:
    ref = tmp_path / "ref.trn"
    ref.write_text("a b (s_1)\nc (s_2)\nd (s_3)\n", encoding="utf-8")
    hyp = tmp_path / "sys.trn"
    hyp.write_text("a b (s_1)\nzz (s_9)\n", encoding="utf-8")
    inputs = load_inputs(ref, [hyp])
    (hyps,) = inputs.testsets[0].systems
    assert hyps.failed == {"s_2": NO_HYPOTHESIS, "s_3": NO_HYPOTHESIS} and hyps.texts == {"s_1": "a b"}
    assert any("2 of 3 reference utterances have no hypothesis (s_2, s_3)" in w for w in inputs.warnings)
    assert any("1 hypotheses have no reference utterance (s_9); ignored" in w for w in inputs.warnings)


def test_system_names_must_be_unique(tmp_path: Path) -> None:
    ref = tmp_path / "ref.trn"
    ref.write_text("a (s_1)\n", encoding="utf-8")
    for folder in ("one", "two"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "sys.trn").write_text("a (s_1)\n", encoding="utf-8")
    with pytest.raises(ManifestError, match="system name 'sys' is also the name of"):
        load_inputs(ref, [tmp_path / "one" / "sys.trn", tmp_path / "two" / "sys.trn"])
    with pytest.raises(ManifestError, match="no hypothesis file given"):
        load_inputs(ref, [])


def make_results(
    root: Path, *, manifest: bool = True, normalizers: tuple[str, str] = ("nemo@1", "nemo@1")
) -> Path:
    texts = {"u1": "the cat sat", "u2": "on the mat"}
    if manifest:
        write_jsonl(root / "dev" / "manifest.jsonl", manifest_rows(texts))
    for (system, hyp), normalizer in zip(
        {"m@greedy": "the cat", "m@beam": "the cat sat"}.items(), normalizers, strict=True
    ):
        ref = system_dir(root, "dev", system)
        rows = [
            row | {"pred_text": hyp if row["utt_id"] == "u1" else "on the mat"}
            for row in manifest_rows(texts)
        ]
        write_jsonl(ref.predictions, rows)
        write_run_info(ref, RunInfo(system=system, testset="dev", normalizer=normalizer, audio_seconds=3.0))
    return root


def test_results_directory_with_and_without_testset_manifest(tmp_path: Path) -> None:
    inputs = read_results(make_results(tmp_path / "with"))
    (testset,) = inputs.testsets
    assert testset.name == "dev" and [s.system for s in testset.systems] == ["m@beam", "m@greedy"]
    assert testset.systems[0].run_info.normalizer == "nemo@1" and inputs.warnings == []
    bare = read_results(make_results(tmp_path / "bare", manifest=False))
    assert bare.testsets[0].reference.utts["u2"].text == "on the mat"
    assert any("no manifest.jsonl" in w for w in bare.warnings)
    assert load_inputs(tmp_path / "with", []).testsets[0].name == "dev"
    with pytest.raises(ManifestError, match="results directory is scored on its own"):
        load_inputs(tmp_path / "with", [tmp_path / "x.trn"])


def test_predictions_with_other_reference_texts_are_named(tmp_path: Path) -> None:
    root = make_results(tmp_path)
    write_jsonl(
        root / "dev" / "manifest.jsonl", manifest_rows({"u1": "the cat sat down", "u2": "on the mat"})
    )
    warnings = read_results(root).warnings
    assert any("dev/m@beam: 1 predictions carry a different reference text" in w for w in warnings)
