"""``werbench demo --no-serve`` end to end on a subset of the shipped test sets, with the shipped models."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest
from werbench.demo.run import DEMO_ROOT, TESTSET_DOMAINS, TESTSETS, locate_assets, run_demo
from werbench.manifests.errors import ManifestError

SUBSET = 12


def _wer(rows: list[dict[str, str]], testset: str, system: str) -> float:
    matches = [float(r["wer"]) for r in rows if r["testset"] == testset and r["system"] == system]
    assert matches, f"{testset}/{system} missing from the leaderboard"
    return matches[0]


def test_missing_assets_are_named_with_the_rebuild_command(tmp_path):
    missing = r"manifest.jsonl: demo asset missing; rebuild .* -m werbench\.demo\.build\.all"
    with pytest.raises(ManifestError, match=missing):
        locate_assets(tmp_path)


@pytest.fixture(scope="module")
def demo_results(tmp_path_factory) -> Path:
    """One CLI run of the demo on the first utterances of every test set."""
    try:
        locate_assets(DEMO_ROOT)
    except ManifestError as exc:
        pytest.skip(f"demo assets are not built: {exc}")
    results = tmp_path_factory.mktemp("demo") / "results"
    argv = [sys.executable, "-c", "from werbench.cli import main; main()", "demo", "--no-serve",
            "--results", str(results), "--subset", str(SUBSET)]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "tuned@greedy" in proc.stdout and "demo ready" in proc.stdout
    return results


@pytest.mark.slow
@pytest.mark.integration
def test_demo_writes_results_reports_and_leaderboard(demo_results):
    rows = list(csv.DictReader((demo_results / "leaderboard.csv").open()))
    assert {"testset", "system", "wer", "failed", "missing", "cer", "ser", "rtfx"} <= set(rows[0])
    assert {r["normalizer"] for r in rows} == {"nemo@1"}  # the leaderboard names its text mode
    systems = {r["system"] for r in rows}
    for model in ("base", "tuned"):
        for decoder in ("greedy", "beam-kenlm4", "beam-fast-kenlm4", "rescore-bert"):
            assert f"{model}@{decoder}" in systems
    assert {"pocketsphinx@default", "pocketsphinx@lm3-general"} <= systems
    assert {r["testset"] for r in rows} == set(TESTSETS)
    for testset in TESTSETS:
        lines = (demo_results / testset / "tuned@greedy" / "predictions.jsonl").read_text().splitlines()
        assert len(lines) == SUBSET
    assert (demo_results / "report.html").stat().st_size > 100_000  # plotly inlined: works offline
    assert (demo_results / "report-csv" / "systems.csv").is_file()
    assert all(r["rtfx"] not in ("", "nan") for r in rows)
    classes = list(csv.DictReader((demo_results / "report-csv" / "word_classes.csv").open()))
    present = {
        t: {r["class"] for r in classes if r["testset"] == t and int(r["ref_words"]) > 0} for t in TESTSETS
    }
    assert {"numbers", "companies"} <= present["business-synth"]  # the demo's keyword list
    # OOV against the LM each test set was decoded with: the business LM covers its test words, the general
    # LM (built from general training text only) misses some of the general and real-speech words
    assert "oov" not in present["business-synth"]
    assert "oov" in present["general-synth"] and "oov" in present["real-speech"]
    oov = list(csv.DictReader((demo_results / "report-csv" / "oov.csv").open()))
    assert all(int(r["oov_tokens"]) == 0 for r in oov if r["testset"] == "business-synth")
    assert all(int(r["oov_tokens"]) > 0 for r in oov if r["testset"] == "general-synth")
    confidence = list(csv.DictReader((demo_results / "report-csv" / "confidence.csv").open()))
    assert {r["system"] for r in confidence} >= {"tuned@greedy", "tuned@beam-kenlm4"}  # runners wrote them
    assert all(0 <= float(r["auc_roc"]) <= 1 for r in confidence if r["auc_roc"])
    assert (demo_results / "report-csv" / "error_attribution.csv").is_file()
    assert (demo_results / "report-csv" / "hallucinations.csv").is_file()


@pytest.mark.slow
@pytest.mark.integration
def test_demo_ordering_claims_hold(demo_results):
    """What the demo is built to show: domain tuning helps on business speech, and each synthetic set's own
    domain LM helps both models on it."""
    rows = list(csv.DictReader((demo_results / "leaderboard.csv").open()))
    assert _wer(rows, "business-synth", "tuned@greedy") < _wer(rows, "business-synth", "base@greedy")
    for testset in ("business-synth", "general-synth"):
        for model in ("base", "tuned"):
            greedy = _wer(rows, testset, f"{model}@greedy")
            assert _wer(rows, testset, f"{model}@beam-kenlm4") < greedy, (testset, model)
            assert _wer(rows, testset, f"{model}@beam-fast-kenlm4") < greedy, (testset, model)
    # The models really recognise speech: the tuned model with its LM gets most business words right, and
    # the base model hears general speech (character errors well below chance) even where it misspells words.
    assert _wer(rows, "business-synth", "tuned@beam-kenlm4") < 0.3
    cer = [float(r["cer"]) for r in rows if r["testset"] == "general-synth" and r["system"] == "base@greedy"]
    assert cer[0] < 0.5


@pytest.mark.slow
@pytest.mark.integration
def test_leaderboard_groups_systems_by_model_in_pipeline_order(demo_results):
    rows = list(csv.DictReader((demo_results / "leaderboard.csv").open()))
    business = [r["system"] for r in rows if r["testset"] == "business-synth"]
    decoders = ["greedy", "beam-kenlm4", "beam-fast-kenlm4", "rescore-bert"]
    assert business == [f"{m}@{d}" for m in ("base", "tuned") for d in decoders]
    assert [r["testset"] for r in rows] == sorted(r["testset"] for r in rows)


@pytest.mark.slow
@pytest.mark.integration
def test_each_test_set_is_decoded_with_its_domain_lm(demo_results):
    from werbench.manifests.results import read_run_info, system_dir

    for testset, domain in TESTSET_DOMAINS.items():
        info = read_run_info(system_dir(demo_results, testset, "tuned@beam-kenlm4"))
        assert Path(info.lm["path"]).name == f"{domain}-4gram.bin", testset
    sphinx = read_run_info(system_dir(demo_results, "real-speech", "pocketsphinx@lm3-general"))
    assert Path(sphinx.lm["path"]).name == "general-3gram.arpa"


@pytest.mark.slow
@pytest.mark.integration
def test_second_run_reuses_everything(demo_results):
    messages: list[str] = []
    run = run_demo(demo_results, subset=SUBSET, echo=messages.append)
    assert not run.decoded
    assert any("already decoded" in m for m in messages)
    assert run.leaderboard.is_file() and run.rows
