"""Hallucination flags on the dashboard: the leaderboard's counts, the grid's column and quick filter."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf
from werbench.dashboard.workspace import Source

ROWS = [  # utt_id, reference, hypothesis, peak amplitude of a 1 s tone
    ("loop", "thank you for watching", "thank you thank you thank you for watching", 0.5),
    ("empty", "", "subscribe to my channel", 0.5),
    ("quiet", "good morning", "good morning", 0.003),  # -50 dBFS: silent once its level is measured
    ("fine", "a quiet morning", "a quiet morning", 0.5),
]


def test_leaderboard_counts_grid_column_and_quick_filter(tmp_path: Path) -> None:
    from werbench.dashboard.app import create_app

    lines = []
    for utt, ref, hyp, peak in ROWS:
        sf.write(tmp_path / f"{utt}.wav", peak * np.sin(2 * np.pi * 200 * np.arange(16000) / 16000), 16000)
        lines.append(
            {"audio_filepath": f"{utt}.wav", "duration": 3.0, "text": ref, "pred_text": hyp, "utt_id": utt}
        )
    manifest = tmp_path / "asr.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    app = create_app(Source.of([manifest]), cache_dir=tmp_path / "cache")
    workspace = app.server.config["WERBENCH_WORKSPACE"]
    analysis = workspace.analysis("none")
    grid = analysis.utterance_grid("asr", ("asr",)).table.frame.set_index("utt_id")
    assert grid.at["loop", "s0_hallucination"] == "4 insertions in a row; loop 'thank you' x3"
    assert grid.at["empty", "s0_hallucination"].endswith("4 words on silence")
    assert grid.at["quiet", "s0_hallucination"] == "" and grid.at["fine", "s0_hallucination"] == ""
    context = {"ts": "asr", "norm": "none", "systems": ["asr"], "qf": "hallucinations", "q": ""}
    _, mask = analysis.view_filter(context)
    assert set(grid.index[mask(grid.reset_index())]) == {"loop", "empty"}

    before = analysis.utterance_grid("asr", ("asr",)).table
    by_wer, by_flag = (
        before.view(None, [{"colId": c, "sort": "desc"}]) for c in ("s0_wer", "s0_hallucination")
    )

    workspace.audio_metrics.measure("asr", [r[0] for r in ROWS])  # the levels make "quiet" silent
    analysis = workspace.analysis("none")
    after = analysis.utterance_grid("asr", ("asr",)).table
    # only the audio-dependent columns are new: the rest shared, views that read none of them carried over
    assert np.shares_memory(after.frame["s0_wer"].to_numpy(), before.frame["s0_wer"].to_numpy())
    assert after.view(None, [{"colId": "s0_wer", "sort": "desc"}]) is by_wer
    assert after.view(None, [{"colId": "s0_hallucination", "sort": "desc"}]) is not by_flag
    assert before.frame["level_db"].isna().all() and after.frame["level_db"].notna().all()
    grid = after.frame.set_index("utt_id")
    assert grid.at["quiet", "s0_hallucination"] == "2 words on silence"
    summary = analysis.hallucinations().iloc[0]
    assert (summary.flagged, summary.on_silence, summary.silent_utts, summary.empty_refs) == (3, 2, 2, 1)
    assert summary.silence_insertion_rate == 2.0  # 4 inserted words over the 2 silent utterances

    from tests.dashboard.test_dash_views import render

    board = render(app, app.server.test_client(), "/")
    assert '"lb-hallucinations"' in board and "Hallucinations and runaway outputs" in board
    assert '"silence_insertion_rate": 2.0' in board
