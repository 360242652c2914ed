"""``werbench gate``: passes and fails on constructed results, Holm across test sets, baseline files,
bad input."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner
from werbench.analysis.gate import run_gate
from werbench.analysis.significance import holm
from werbench.manifests.errors import ManifestError
from werbench.manifests.schema import Utterance

from werbench.cli import app

N = 60


def _manifest(testset: str) -> list[Utterance]:
    return [Utterance(f"/a/{testset}{k}.wav", 1.0, f"w{k} alpha beta gamma delta", utt_id=f"{testset}-{k}")
            for k in range(N)]  # fmt: skip


def _hyps(manifest: list[Utterance], broken: int) -> dict[str, dict[str, object]]:
    """The reference texts, with the second word wrong in the first ``broken`` utterances."""
    return {u.utt_id: {"pred_text": u.text.replace("alpha", "x") if k < broken else u.text}
            for k, u in enumerate(manifest)}  # fmt: skip


@pytest.fixture
def results(tmp_path: Path, make_results) -> Path:
    """clean: the candidate breaks 20 of 60 utterances (+6.7 points); other: one more error (+0.3 points)."""
    root = tmp_path / "results"
    for testset, broken in (("clean", 20), ("other", 1)):
        manifest = _manifest(testset)
        make_results(root, testset, manifest, {"base": _hyps(manifest, 0), "cand": _hyps(manifest, broken)})
    return root


def _gate(results: Path, *args: str) -> tuple[int, str]:
    out = CliRunner().invoke(app, ["gate", str(results), *args])
    return out.exit_code, out.output


def test_holm_matches_the_textbook() -> None:
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.001]) == pytest.approx([0.5, 0.002])


def test_a_significant_regression_fails_and_a_small_one_passes(results: Path, tmp_path: Path) -> None:
    md, xml = tmp_path / "out" / "gate.md", tmp_path / "out" / "gate.xml"
    code, output = _gate(results, "--baseline", "base", "--candidate", "cand", "--markdown", str(md),
                         "--junit", str(xml))  # fmt: skip
    assert code == 1, output
    assert "werbench gate FAILED" in md.read_text() and "| clean | 60 | 300 |" in md.read_text()
    suite = ET.parse(xml).getroot()
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert suite.get("tests") == "2" and suite.get("failures") == "1"
    assert cases["clean"].find("failure") is not None and cases["other"].find("failure") is None
    # the same data gated on "other" alone: +0.33 points is above the margin but not significant
    code, output = _gate(results, "--baseline", "base", "--candidate", "cand", "--testset", "other",
                         "--markdown", str(md), "--junit", str(xml))  # fmt: skip
    assert code == 0, output
    assert "werbench gate passed" in md.read_text()
    # a generous margin passes the large regression too
    result = run_gate(results, "base", "cand", max_wer_increase=10.0)
    assert result.passed and result.verdicts[0].increase == pytest.approx(20 / 300)


def test_against_a_committed_baseline_file(results: Path, tmp_path: Path, make_results) -> None:
    baseline = tmp_path / "baseline.json"
    code, output = _gate(results, "--baseline", "base", "--save-baseline", str(baseline))
    assert code == 0, output
    assert json.loads(baseline.read_text())["testsets"]["clean"]["hypotheses"]["clean-0"].startswith(
        "w0 alpha"
    )
    later = tmp_path / "later"  # a later run holds only the candidate
    for testset, broken in (("clean", 20), ("other", 0)):
        manifest = _manifest(testset)
        make_results(later, testset, manifest, {"cand": _hyps(manifest, broken)})
    result = run_gate(later, baseline, "cand")
    assert [v.failed for v in result.verdicts] == [True, False]
    assert result.baseline == "base (baseline file)"


def test_bad_input_is_named_and_nothing_is_written(results: Path, tmp_path: Path, make_results) -> None:
    md, xml = tmp_path / "gate.md", tmp_path / "gate.xml"
    files = ["--markdown", str(md), "--junit", str(xml)]
    for args, message in [
        (["--baseline", "base", "--candidate", "nope"], "--candidate: no system 'nope'; systems: base, cand"),
        (["--baseline", "nope", "--candidate", "cand"], "--baseline: no system 'nope'"),
        (["--baseline", "base", "--candidate", "cand", "--testset", "dev"], "--testset: no test set 'dev'"),
        (["--baseline", "base", "--candidate", "cand", "--alpha", "2"], "alpha must be in (0, 1)"),
    ]:
        code, output = _gate(results, *args, *files)
        assert code == 2 and message in output, output
    code, output = _gate(results, "--baseline", "base", "--candidate", "cand", "--markdown", str(tmp_path))
    said = " ".join(output.replace("│", " ").split())  # rich wraps the message in a box
    assert (
        code == 2 and "Invalid value for '--markdown'" in said and "is a directory" in said
    )  # before any work
    manifest = _manifest("clean")
    partial = {uid: v for uid, v in list(_hyps(manifest, 0).items())[:50]}
    make_results(results, "clean", manifest, {"short": partial})
    code, output = _gate(results, "--baseline", "base", "--candidate", "short", *files)
    assert (
        code == 2 and "'short' and the test set do not share utterances: no hypothesis for 10 of 60" in output
    )
    assert not md.exists() and not xml.exists()
    with pytest.raises(ManifestError, match="not a werbench gate baseline file"):
        (tmp_path / "junk.json").write_text("{}")
        run_gate(results, tmp_path / "junk.json", "cand")


def test_the_python_api_gives_the_same_verdicts(results: Path) -> None:
    import werbench

    result = werbench.gate(results, "base", "cand")
    assert not result.passed and [v.testset for v in result.verdicts if v.failed] == ["clean"]


def test_outputs_never_replace_the_results_read(results: Path) -> None:
    """Issue 17: --save-baseline (or --junit, --markdown) naming one of the results' own files replaced it."""
    predictions = results / "clean" / "cand" / "predictions.jsonl"
    manifest = results / "other" / "manifest.jsonl"
    before = predictions.read_bytes()
    for args in (
        ["--baseline", "base", "--save-baseline", str(predictions)],
        ["--baseline", "base", "--candidate", "cand", "--junit", str(predictions)],
        ["--baseline", "base", "--candidate", "cand", "--markdown", str(manifest)],
    ):
        code, output = _gate(results, *args)
        assert code == 2 and "is an input of this command" in output, output
    assert predictions.read_bytes() == before
