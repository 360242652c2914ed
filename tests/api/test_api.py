"""The Python API (``werbench.score/load/compare/align``): doctests, the input forms it takes, bad input."""

from __future__ import annotations

import doctest
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from werbench.analysis import write_behind
from werbench.analysis.table_cache import TableOptions, tables_for

import werbench
from werbench import api

REPO = Path(__file__).resolve().parents[2]


def test_docstring_examples_run() -> None:
    result = doctest.testmod(api, extraglobs={"werbench": werbench}, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 8 and result.failed == 0


def test_import_is_light_and_the_surface_is_in_one_place() -> None:
    heavy = ("pandas", "numba", "dash", "torch", "nemo")
    probe = f"import sys, werbench; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert set(werbench.__all__) >= {"score", "load", "compare", "align", "show", "Scores", "Results"}


def test_every_input_form_gives_the_same_counts() -> None:
    refs = ["the cat sat on the mat", "hello world", "one two three"]
    hyps = ["the cat sat on mat", "hello word", "one two three four"]
    ids = ["a", "b", "c"]
    expected = werbench.score(refs, hyps).summary[["C", "S", "D", "I"]].to_numpy().tolist()
    assert expected == [[9, 1, 1, 1]]
    forms = [
        (dict(zip(ids, refs, strict=True)), dict(zip(ids, hyps, strict=True))),
        (pd.Series(refs, index=ids), pd.Series(hyps, index=ids)),
        (pd.DataFrame({"utt_id": ids, "text": refs}), pd.DataFrame({"utt_id": ids, "pred_text": hyps})),
        (dict(zip(ids, refs, strict=True)), hyps),  # a list pairs with the references by position
    ]
    for ref_form, hyp_form in forms:
        got = werbench.score(ref_form, hyp_form).summary[["C", "S", "D", "I"]].to_numpy().tolist()
        assert got == expected, (type(ref_form), type(hyp_form))


def test_files_are_scored_like_the_cli(tmp_path: Path) -> None:
    ref, hyp = tmp_path / "ref.trn", tmp_path / "sys.trn"
    ref.write_text("the cat sat (s1-u1)\nhello world (s1-u2)\n")
    hyp.write_text("the bat sat (s1-u1)\nhello (s1-u2)\n")
    scores = werbench.score(ref, hyp)
    cli = tables_for(ref, [hyp], TableOptions(), use_cache=False)
    pd.testing.assert_frame_equal(scores.summary, cli.systems)
    assert scores.systems == ["sys"] and scores.wer == pytest.approx(2 / 5)
    loaded = werbench.load(ref, hyp)
    assert loaded.path == ref and loaded.summary["wer"].tolist() == [pytest.approx(0.4)]


def test_a_callable_normaliser_and_a_jiwer_transform() -> None:
    import jiwer

    scores = werbench.score(["Hello, World"], ["hello world"], normalize=str.lower)
    assert scores.normalizer == "callable:lower" and scores.wer == pytest.approx(0.5)  # "world" != "world,"
    transform = jiwer.Compose(
        [jiwer.ToLowerCase(), jiwer.RemovePunctuation(), jiwer.ReduceToListOfListOfWords()]
    )
    assert werbench.score(["Hello, World"], ["hello world"], normalize=transform).wer == 0.0


def test_several_systems_and_a_comparison() -> None:
    refs = [f"w{k} x{k} y{k}" for k in range(30)]
    good = list(refs)
    bad = [r if k % 3 else r.replace("x", "z") for k, r in enumerate(refs)]
    frame = pd.DataFrame({"good": good, "bad": bad})
    scores = werbench.score(refs, frame)
    assert scores.systems == ["good", "bad"]
    result = werbench.compare(scores, "good", "bad")
    assert result.summary["regressed"] == 10 and result.summary["improved"] == 0
    boot = next(t for t in result.tests if t.name == "bootstrap")
    assert boot.better == "A" and boot.p_value < 0.05


def test_speakers_only_from_a_field_or_the_users_rule() -> None:
    refs = {f"spk{k % 6}-u{k}": f"w{k} x{k} y{k}" for k in range(30)}
    hyps = {
        "good": refs,
        "bad": {u: r if k % 3 else r.replace("x", "z") for k, (u, r) in enumerate(refs.items())},
    }
    plain = {t.name: t for t in werbench.compare(werbench.score(refs, hyps), "good", "bad").tests}
    assert plain["sign_speaker"].skipped and "--speaker-from-id" in plain["sign_speaker"].skipped
    ruled = werbench.score(refs, hyps, speaker_from_id=r"^(spk\d+)-")
    assert set(ruled.utterances["speaker"]) == {f"spk{k}" for k in range(6)}
    tests = {t.name: t for t in werbench.compare(ruled, "good", "bad").tests}
    assert tests["sign_speaker"].skipped is None and tests["wilcoxon_speaker"].skipped is None


def test_no_cache_is_written_unless_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WERBENCH_CACHE", str(tmp_path / "cache"))
    werbench.score(["a b c"], ["a b d"])
    assert not (tmp_path / "cache").exists()
    werbench.score(["a b c"], ["a b d"], cache=True)
    write_behind.wait_all()  # the cache is written in a thread; the numbers do not wait for it
    assert any(p.is_file() for p in (tmp_path / "cache").rglob("*"))


@pytest.mark.parametrize(
    ("refs", "hyps", "kind", "message"),
    [
        (["a", "b"], ["a"], ValueError, "hyps: 1 texts for 2 references"),
        (["a"], [3], TypeError, "hyps: the text of '0' is a int"),
        (42, ["a"], TypeError, "refs: a list, dict"),
        ({"u": "a"}, {"s": {"u": None}}, TypeError, "hyps['s']: the text of 'u'"),
        (
            pd.DataFrame({"x": ["a"], "y": ["b"]}),
            ["a"],
            ValueError,
            "refs: a DataFrame needs a 'text' column",
        ),
    ],
)
def test_bad_arguments_are_named(refs, hyps, kind, message) -> None:
    with pytest.raises(kind, match=message.replace("[", r"\[").replace("]", r"\]")):
        werbench.score(refs, hyps)


def test_compare_names_an_unknown_system() -> None:
    scores = werbench.score(["a b"], {"x": ["a b"], "y": ["a c"]})
    with pytest.raises(ValueError, match="b: no system 'z'; systems: x, y"):
        werbench.compare(scores, "x", "z")


def test_missing_hypotheses_are_warned_not_dropped() -> None:
    scores = werbench.score({"u1": "a b", "u2": "c d"}, {"u1": "a b"})
    assert scores.utterances["failed"].tolist() == [False, True]
    assert any("have no hypothesis" in w for w in scores.warnings)
    assert json.loads(json.dumps(scores.warnings))


def test_the_api_page_examples_run() -> None:
    result = doctest.testfile(
        str(REPO / "docs" / "api.md"), module_relative=False, globs={"werbench": werbench}
    )
    assert result.attempted >= 5 and result.failed == 0


def test_text_mode_none_is_exact_and_sclite_folds_as_the_binary() -> None:
    # the example: SDE (no normalisation) counts 2 errors, sclite none
    assert werbench.align("The Dollar fell", "the dollar fell").counts == (1, 2, 0, 0)
    assert werbench.align("The Dollar fell", "the dollar FELL*", normalize="sclite").counts == (3, 0, 0, 0)
    scores = werbench.score(["The Dollar fell"], ["the dollar fell"])
    assert scores.normalizer == "none@2" and scores.wer == pytest.approx(2 / 3)
    assert werbench.score(["The Dollar fell"], ["the dollar fell"], normalize="sclite").wer == 0.0
