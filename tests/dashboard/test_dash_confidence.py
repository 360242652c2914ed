"""Word confidence on the dashboard (analysis.confidence): words coloured in the utterance view, the grid's
confident-error and doubtful-right columns and quick filters, and the per-system figures on the
leaderboard, errors and compare pages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from werbench.dashboard.workspace import Source

from tests.dashboard.test_dash_views import render

# [max_prob_mean, max_prob_min, entropy] per hypothesis word: the two max-probability measures are the
# numbers below (the mean is the default), the entropy measure is 0.95 everywhere
ROWS = [  # utt_id, reference, hypothesis, the default measure per hypothesis word
    ("sure-wrong", "the cat sat", "the bat sat", [0.97, 0.95, 0.92]),  # "bat": a confident error
    ("unsure-right", "hello world", "hello world", [0.99, 0.3]),  # "world": doubtful but right
    ("plain", "good morning", "good morning", [0.95, 0.7]),
    ("unsure-wrong", "a b c", "a d c", [0.9, 0.2, 0.8]),  # "d": an error nobody trusts
]


@pytest.fixture()
def workspace_with_confidence(tmp_path: Path):
    from werbench.dashboard.app import create_app

    lines = [
        {"audio_filepath": f"{utt}.wav", "duration": 2.0, "text": ref, "pred_text": hyp, "utt_id": utt,
         "word_confidence": [[c, c, 0.95] for c in conf]}
        for utt, ref, hyp, conf in ROWS
    ]  # fmt: skip
    manifest = tmp_path / "asr.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    app = create_app(Source.of([manifest]), cache_dir=tmp_path / "cache")
    return app, app.server.config["WERBENCH_WORKSPACE"].analysis("none")


def test_grid_counts_and_quick_filters(workspace_with_confidence) -> None:
    _, analysis = workspace_with_confidence
    grid = analysis.utterance_grid("asr", ("asr",))
    frame = grid.table.frame.set_index("utt_id")
    assert frame["s0_confident_errors"].to_dict() == {
        "sure-wrong": 1.0, "unsure-right": 0.0, "plain": 0.0, "unsure-wrong": 0.0
    }  # fmt: skip
    assert frame["s0_doubtful_right"].to_dict() == {
        "sure-wrong": 0.0, "unsure-right": 1.0, "plain": 0.0, "unsure-wrong": 0.0
    }  # fmt: skip
    shown = {
        q: set(frame.index[analysis.view_filter({"ts": "asr", "systems": ["asr"], "qf": q, "q": ""})[1](
            grid.table.frame)])
        for q in ("confident_errors", "doubtful_right")
    }  # fmt: skip
    assert shown == {"confident_errors": {"sure-wrong"}, "doubtful_right": {"unsure-right"}}
    _, mask = analysis.view_filter({"ts": "asr", "systems": ["asr"], "qf": "all", "q": "doubtful_right > 0"})
    assert set(frame.index[mask(grid.table.frame)]) == {"unsure-right"}
    columns = [c["field"] for g in grid.column_defs if "children" in g for c in g["children"]]
    assert "s0_confident_errors" in columns and "s0_doubtful_right" in columns


def test_utterance_view_colours_words_by_confidence(workspace_with_confidence) -> None:
    app, analysis = workspace_with_confidence
    detail = analysis.utterance_detail("asr", "unsure-wrong", ("asr",))
    assert detail.hypotheses[0].confidence == [0.9, 0.2, 0.8]
    page = render(app, app.server.test_client(), "/utterance?ts=asr&id=unsure-wrong")
    # "a" at 0.9 is high, "d" (substituted for "c") at 0.2 low, "c" at 0.8 mid; the legend names the bands
    assert '"w op-c conf-high"' in page and '"hyp-word conf-low"' in page and '"w op-c conf-mid"' in page
    assert "confidence 0.20" in page and "confidence-legend" in page
    utterances = render(app, app.server.test_client(), "/utterances?ts=asr")
    assert "Confident errors" in utterances and "Doubtful but right" in utterances


def test_the_measure_is_chosen_in_the_url(workspace_with_confidence) -> None:
    """Under the entropy measure (0.95 for every word) both errors are confident, nothing doubtful."""
    app, analysis = workspace_with_confidence
    frame = analysis.utterance_grid("asr", ("asr",), "entropy").table.frame.set_index("utt_id")
    assert frame["s0_confident_errors"].to_dict() == {
        "sure-wrong": 1.0, "unsure-right": 0.0, "plain": 0.0, "unsure-wrong": 1.0
    }  # fmt: skip
    assert frame["s0_doubtful_right"].sum() == 0
    context = {"ts": "asr", "systems": ["asr"], "qf": "confident_errors", "q": "", "cm": "entropy"}
    mask = analysis.view_filter(context)[1](analysis.utterance_grid("asr", ("asr",), "entropy").table.frame)
    assert mask.sum() == 2
    page = render(app, app.server.test_client(), "/utterance?ts=asr&id=unsure-wrong&cm=entropy")
    assert '"hyp-word conf-high"' in page and "confidence 0.95" in page and "confidence 0.20" not in page
    board = render(app, app.server.test_client(), "/?cm=entropy")
    assert '"measure": "entropy"' in board and '"measure": "max_prob_mean"' not in board


def test_pages_show_the_confidence_figures(workspace_with_confidence) -> None:
    app, analysis = workspace_with_confidence
    summary, diagram = analysis.confidence()
    row = summary[summary["measure"] == "max_prob_mean"].iloc[0]
    # 10 hypothesis words, 2 wrong (bat, d); "bat" at 0.92 is a confident error, "world" at 0.3 doubtful
    assert (row.words, row.errors, row.confident_errors, row.doubtful_right) == (10, 2, 1, 1)
    assert (diagram.groupby("measure")["words"].sum() == 10).all()
    client = app.server.test_client()
    board = render(app, client, "/")
    assert '"lb-confidence"' in board and "Can the confidence be trusted" in board
    errors = render(app, client, "/errors?ts=asr")
    assert '"err-reliability"' in errors and '"err-confidence"' in errors


def test_systems_without_confidence_offer_no_confidence_filter(tmp_path: Path) -> None:
    from werbench.dashboard.app import create_app

    manifest = tmp_path / "plain.jsonl"
    manifest.write_text(
        json.dumps({"audio_filepath": "a.wav", "duration": 1.0, "text": "a b", "pred_text": "a c"}) + "\n",
        encoding="utf-8",
    )
    app = create_app(Source.of([manifest]), cache_dir=tmp_path / "cache")
    analysis = app.server.config["WERBENCH_WORKSPACE"].analysis("none")
    grid = analysis.utterance_grid("plain", ("plain",))
    assert not any(c.endswith(("confident_errors", "doubtful_right")) for c in grid.table.frame.columns)
    _, mask = analysis.view_filter({"ts": "plain", "systems": ["plain"], "qf": "confident_errors", "q": ""})
    assert not mask(grid.table.frame).any()
    page = render(app, app.server.test_client(), "/utterances?ts=plain")
    assert "Confident errors" not in page
    assert analysis.confidence()[0].empty and '"lb-confidence"' not in render(
        app, app.server.test_client(), "/"
    )


def test_compare_page_sets_both_systems_side_by_side(app, client, workspace) -> None:
    """The synthetic results record word confidences for every system (benchmarks.synthetic_results)."""
    analysis = workspace.analysis("none")
    summary, _ = analysis.confidence()
    here = summary[(summary["testset"] == "synth-clean") & (summary["measure"] == "entropy")]
    assert set(here["system"]) == set(analysis.systems("synth-clean"))
    assert (here["auc_roc"] > 0.6).all()  # errors have lower confidence there, by construction
    page = render(app, client, "/compare?ts=synth-clean&a=base@greedy&b=tuned@beam-lm")
    assert '"cmp-trust"' in page and "What WER hides" in page and '"auc_roc"' in page


def test_dataset_histogram_counts_confidences_only_for_a_confidence_field(
    workspace_with_confidence, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The counts cost ~0.5 s per 100k rows of a system: the Dataset page's default histogram needs none."""
    from urllib.parse import quote

    app, analysis = workspace_with_confidence
    asked: list[tuple] = []
    counts = analysis.confidence_counts
    monkeypatch.setattr(analysis, "confidence_counts", lambda *args: asked.append(args) or counts(*args))
    client = app.server.test_client()
    page = render(app, client, "/dataset?ts=asr&norm=none")
    assert "Histogram of any field" in page and '"value": "confident_errors[asr]"' in page  # offered
    assert not asked
    page = render(app, client, "/dataset?ts=asr&norm=none&hist=" + quote("confident_errors[asr]"))
    assert "Histogram of any field" in page and "could not be built" not in page
    assert asked == [("asr", "asr", "max_prob_mean")]
