"""Reading references and hypotheses: every format, matching by id, and the bad-input messages."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from werbench.analysis.inputs import (
    NO_HYPOTHESIS,
    Hypotheses,
    load_inputs,
    read_hypotheses,
    read_reference,
    read_results,
)
from werbench.manifests.errors import ConfigError, ManifestError
from werbench.manifests.results import RunInfo, system_dir, write_run_info


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


def texts_of(hyps: Hypotheses) -> dict[str, str]:
    ok = hyps.frame[hyps.frame["failure"].isna()]
    return dict(zip(ok["utt_id"], ok["pred_text"], strict=True))


def failures_of(hyps: Hypotheses) -> dict[str, str]:
    bad = hyps.frame[hyps.frame["failure"].notna()]
    return dict(zip(bad["utt_id"], bad["failure"], strict=True))


def reference_rows(path: Path) -> pd.DataFrame:
    return read_reference(path).frame.set_index("utt_id")


def manifest_rows(texts: dict[str, str], **extra) -> list[dict]:
    return [
        {"audio_filepath": f"/audio/{uid}.wav", "duration": 1.5, "text": text, "utt_id": uid, **extra}
        for uid, text in texts.items()
    ]


def test_trn_reference_reads_ids_and_sclite_speakers(tmp_path: Path) -> None:
    trn = tmp_path / "ref.trn"
    trn.write_text("hello world (spk1-u1)\n;; a comment\n(laughs) yes (spk2_u2)\n", encoding="utf-8")
    rows = reference_rows(trn)
    assert {uid: (r.text, r.speaker) for uid, r in rows.iterrows()} == {
        "spk1-u1": ("hello world", "spk1"),
        "spk2_u2": ("(laughs) yes", "spk2"),
    }


def test_manifest_reference_keeps_every_field(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "test.jsonl", manifest_rows({"a": "x y"}, speaker="s1", noise="babble"))
    utt = reference_rows(path).loc["a"]
    assert (utt.text, utt.duration, utt.speaker) == ("x y", 1.5, "s1")
    assert utt["noise"] == "babble" and utt["audio_filepath"] == "/audio/a.wav"


def test_sde_manifest_is_one_system_per_pred_text_field(tmp_path: Path) -> None:
    rows = manifest_rows({"a": "x y", "b": "z"})
    rows[0] |= {"pred_text": "x", "pred_text_greedy": "x y", "pred_text_beam": "x"}
    rows[1] |= {"pred_text": "z", "pred_text_greedy": "", "pred_text_beam": "zz"}
    systems = read_hypotheses(write_jsonl(tmp_path / "sde.json", rows))
    assert {s.system: texts_of(s) for s in systems} == {
        "sde": {"a": "x", "b": "z"},
        "greedy": {"a": "x y", "b": ""},
        "beam": {"a": "x", "b": "zz"},
    }


def test_result_manifest_failures_and_extras(tmp_path: Path) -> None:
    rows = manifest_rows({"a": "x", "b": "y"})
    rows[0] |= {"pred_text": "x", "greedy_text": "x", "nbest": [{"text": "x", "score": -1.0}]}
    rows[1] |= {"pred_text": "", "error": "CUDA out of memory"}
    (hyps,) = read_hypotheses(write_jsonl(tmp_path / "run1.jsonl", rows))
    assert hyps.system == "run1" and texts_of(hyps) == {"a": "x"}
    assert failures_of(hyps) == {"b": "CUDA out of memory"}
    row = hyps.frame.set_index("utt_id").loc["a"]
    assert row["nbest"][0]["score"] == -1.0
    assert list(hyps.frame.columns) == ["utt_id", "pred_text", "failure", "text", "greedy_text", "nbest"]


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
    assert failures_of(hyps) == {"s_2": NO_HYPOTHESIS, "s_3": NO_HYPOTHESIS} and texts_of(hyps) == {
        "s_1": "a b"
    }
    assert hyps.frame["utt_id"].tolist() == ["s_1", "s_2", "s_3"]  # the reference's order
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
    with pytest.raises(ConfigError, match="no hypothesis file given"):
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
    reference = bare.testsets[0].reference.frame.set_index("utt_id")
    assert reference.loc["u2", "text"] == "on the mat" and "pred_text" not in reference
    assert any("no manifest.jsonl" in w for w in bare.warnings)
    assert load_inputs(tmp_path / "with", []).testsets[0].name == "dev"
    with pytest.raises(ConfigError, match="results directory is scored on its own"):
        load_inputs(tmp_path / "with", [tmp_path / "x.trn"])


def test_predictions_with_other_reference_texts_are_named(tmp_path: Path) -> None:
    root = make_results(tmp_path)
    write_jsonl(
        root / "dev" / "manifest.jsonl", manifest_rows({"u1": "the cat sat down", "u2": "on the mat"})
    )
    warnings = read_results(root).warnings
    assert any("dev/m@beam: 1 predictions carry a different reference text" in w for w in warnings)


def frame_values(hyps: Hypotheses) -> dict[str, list]:
    """A system's rows by utt_id as Python values, every kind of null as None."""
    frame = hyps.frame.sort_values("utt_id")
    return {c: [None if v is None or v is pd.NA or v != v else v for v in frame[c]] for c in frame}


PREDICTION_FILES = {
    "result manifest": [
        {
            "audio_filepath": "/a/u1.wav",
            "duration": 1.0,
            "text": "a b",
            "pred_text": "a",
            "nbest": [{"text": "a"}],
        },
        {"audio_filepath": "/a/u2.wav", "duration": 1.0, "text": "c", "pred_text": "", "error": "OOM"},
        {"audio_filepath": "/a/u3.wav", "offset": 2.0, "duration": 1.0, "text": "d", "pred_text": "d"},
        {"utt_id": "u4", "text": "e", "pred_text": "e", "error": ""},
    ],
    "sde manifest": [
        {"utt_id": "a", "text": "x y", "pred_text": "x", "pred_text_beam": "x y", "word_times": [[0.0, 0.5]]},
        {"utt_id": "b", "text": "z", "pred_text": "z", "pred_text_beam": "zz", "word_times": []},
    ],
}


@pytest.mark.parametrize("name", PREDICTION_FILES)
def test_columnar_reader_gives_the_line_readers_systems(tmp_path: Path, name: str) -> None:
    from werbench.analysis.inputs import _systems_by_line, _systems_columnar

    path = write_jsonl(tmp_path / "run.jsonl", PREDICTION_FILES[name])
    fast, slow = _systems_columnar(path, "run"), _systems_by_line(path, "run")
    assert fast is not None, "pyarrow reads these files: the fast path is what is compared"
    assert [h.system for h in fast] == [h.system for h in slow]
    for quick, exact in zip(fast, slow, strict=True):
        assert frame_values(quick) == frame_values(exact)


def test_rows_of_different_layouts_take_the_line_reader(tmp_path: Path) -> None:
    rows = [
        {"utt_id": "a", "pred_text_greedy": "x", "pred_text_beam": "x y"},
        {"utt_id": "b", "pred_text_greedy": "z"},  # no beam hypothesis on this line
    ]
    greedy, beam = read_hypotheses(write_jsonl(tmp_path / "sde.jsonl", rows))
    assert texts_of(greedy) == {"a": "x", "b": "z"} and texts_of(beam) == {"a": "x y"}


def test_systems_keep_their_order_of_first_appearance_on_both_readers(tmp_path: Path) -> None:
    from werbench.analysis.inputs import _systems_by_line, _systems_columnar

    rows = [
        {"utt_id": "a", "pred_text_b": "", "pred_text_a": "", "error": "oom"},
        {"utt_id": "b", "pred_text_b": "x", "pred_text_a": "y"},
    ]
    path = write_jsonl(tmp_path / "sde.jsonl", rows)
    for reader in (_systems_by_line, _systems_columnar):
        assert [h.system for h in reader(path, "sde")] == ["b", "a"]


def test_sde_manifest_whose_files_share_a_name_says_to_give_ids(tmp_path) -> None:
    """Two folders' 0001.wav in a manifest without utt_id (as SDE takes them): the error says the fix."""
    from werbench.analysis.inputs import read_manifests

    path = tmp_path / "sde.jsonl"
    path.write_text(
        '{"audio_filepath": "spk1/0001.wav", "duration": 1, "text": "x", "pred_text": "x"}\n'
        '{"audio_filepath": "spk2/0001.wav", "duration": 1, "text": "y", "pred_text": "y"}\n'
    )
    with pytest.raises(ManifestError, match="give each line a unique utt_id") as err:
        read_manifests([path])
    assert (err.value.line, err.value.field) == (2, "utt_id")


def test_an_empty_reference_or_hypothesis_file_is_an_error(tmp_path: Path) -> None:
    """Issue 17: ``score EMPTY HYP`` warned "nothing to score" and exited 0; an empty hypothesis file made
    every utterance missing and exited 0."""
    ref = write_jsonl(tmp_path / "ref.jsonl", [{"audio_filepath": "a.wav", "duration": 1.0, "text": "hi"}])
    empty_ref, empty_hyp = tmp_path / "empty.trn", tmp_path / "h.trn"
    empty_ref.write_text("", encoding="utf-8")
    empty_hyp.write_text("\n", encoding="utf-8")
    hyp = tmp_path / "a.trn"
    hyp.write_text("hi (a)\n", encoding="utf-8")
    with pytest.raises(ManifestError, match="the reference has no utterances") as caught:
        load_inputs(empty_ref, [hyp])
    assert caught.value.path == str(empty_ref)
    with pytest.raises(ManifestError, match="no hypotheses") as caught:
        load_inputs(ref, [empty_hyp])
    assert caught.value.path == str(empty_hyp)


def test_a_predictions_path_that_is_not_a_file_is_an_error(tmp_path: Path) -> None:
    """Issue 17: a system whose predictions.jsonl is a folder was skipped without a word."""
    from werbench.manifests.errors import ResultsDirError
    from werbench.manifests.results import iter_systems

    (tmp_path / "ts" / "sys@x" / "predictions.jsonl").mkdir(parents=True)
    with pytest.raises(ResultsDirError, match="is not a file"):
        list(iter_systems(tmp_path))
