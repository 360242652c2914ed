"""The leaderboard's cards kept with the cached tables (``table_cache.Summaries``): a second start reads what
the first computed, equal to it, and computes none of it again; other inputs are other keys."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from werbench.analysis import write_behind
from werbench.analysis.word_classes import WordClass, classes_digest

SUMMARIES = {
    "leaderboard", "confidence", "case-punctuation", "hallucination-summary", "hallucination-flags",
    "word-classes", "confidence-counts",
}  # fmt: skip
COMPUTED_BY = [  # what a second start must not call
    ("werbench.analysis.compare", "versus_best"),
    ("werbench.analysis.confidence", "confidence_tables"),
    ("werbench.analysis.confidence", "utterance_confidence"),
    ("werbench.analysis.case_punctuation", "case_punctuation_tables"),
    ("werbench.analysis.hallucinations", "utterance_flags"),
    ("werbench.analysis.hallucinations", "hallucination_summary"),
    ("werbench.analysis.word_classes", "class_table"),
]


def _analysis(results_dir: Path, cache: Path):
    from werbench.dashboard.app import create_app

    workspace = create_app(results_dir, cache_dir=cache).server.config["WERBENCH_WORKSPACE"]
    return workspace.analysis(workspace.default_normalizer)


def _cards(analysis) -> dict[str, pd.DataFrame]:
    testset = analysis.testsets[0]
    summary, reliability = analysis.confidence()
    return {
        "leaderboard": analysis.leaderboard(),
        "confidence": summary,
        "reliability": reliability,
        "casing": analysis.case_punctuation(),
        "hallucinations": analysis.hallucinations(),
        "flags": analysis.hallucination_flags(testset, analysis.systems(testset)[1], audio=False),
        "classes": analysis.word_classes(testset),
        "confidence counts": analysis.confidence_counts(testset, analysis.systems(testset)[1], "entropy"),
    }


def test_a_second_start_reads_the_cards_the_first_computed(
    results_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    computed = _cards(_analysis(results_dir, cache))
    assert not computed["confidence"].empty and not computed["classes"].empty and computed["flags"].size
    assert computed["confidence counts"].notna().all().all()
    write_behind.wait_all()
    assert {p.name.split(".")[1] for p in (cache / "summaries").iterdir()} == SUMMARIES
    for module, name in COMPUTED_BY:
        monkeypatch.setattr(f"{module}.{name}", lambda *a, _name=name, **k: pytest.fail(f"{_name} called"))
    stored = _cards(_analysis(results_dir, cache))
    for card, frame in computed.items():
        pd.testing.assert_frame_equal(stored[card], frame, obj=card)


def test_an_unreadable_summary_is_computed_again(results_dir: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    computed = _analysis(results_dir, cache).leaderboard()
    write_behind.wait_all()
    for path in (cache / "summaries").glob("*.leaderboard.*"):
        path.write_bytes(b"not arrow")
    pd.testing.assert_frame_equal(_analysis(results_dir, cache).leaderboard(), computed)


def test_word_lists_are_part_of_the_key() -> None:
    words = WordClass("brands", "keywords", "brands.txt", frozenset({"acme", "globex"}))
    same = WordClass("brands", "keywords", "brands.txt", frozenset({"globex", "acme"}))
    other = WordClass("brands", "keywords", "brands.txt", frozenset({"acme", "initech"}))
    phrase = WordClass("brands", "keywords", "brands.txt", words.words, phrases=(("acme", "corp"),))
    assert classes_digest([words]) == classes_digest([same])
    assert len({classes_digest(c) for c in ([words], [other], [phrase], [words, other], [])}) == 5
