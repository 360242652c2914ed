"""Hallucination flags by hand, empty references against jiwer 4, silence from real audio files."""

from __future__ import annotations

import math
from pathlib import Path

import jiwer
import numpy as np
import pytest
import soundfile as sf
from werbench.analysis import hallucinations as hl
from werbench.analysis.audio_metrics import AudioMetricsCache

REFS = {
    "run": "the cat sat on the mat",
    "loop": "thank you for watching",
    "said": "no no no not today",
    "empty": "",
    "fast": "hi",
    "fine": "a quiet morning",
}
HYPS = {
    "run": "the cat sat on the big red fluffy soft mat",  # 4 insertions in a row
    "loop": "thank you thank you thank you for watching",  # 'thank you' x3, not in the reference
    "said": "no no no not today",  # the reference repeats too: no loop
    "empty": "subscribe to my channel",  # 4 words on an empty reference
    "fast": "hi there how are you doing today my friend",  # 9 words in 1 s
    "fine": "a quiet morning",
}
DURATIONS = {"run": 3.0, "loop": 3.0, "said": 2.0, "empty": 2.0, "fast": 1.0, "fine": 2.0}


@pytest.fixture
def utts(make_utts):
    return make_utts(REFS, {"sys": HYPS}, durations=DURATIONS).set_index("utt_id", drop=False)


def test_flags_by_hand(utts) -> None:
    flags = hl.utterance_flags(utts)
    reason = flags["hallucination"].to_dict()
    assert reason["run"] == "4 insertions in a row"
    assert reason["loop"] == "4 insertions in a row; loop 'thank you' x3"
    assert reason["said"] == "" and reason["fine"] == ""
    assert reason["empty"] == "4 insertions in a row; 4 words on silence"
    assert reason["fast"] == "8 insertions in a row; 9.0 words/s"
    assert flags.loc["empty", "silent"] and not flags.loc["fine", "silent"]
    assert hl.utterance_flags(utts, hl.HallucinationRules(insertion_run=8))["hallucination"]["run"] == ""


def test_summary_counts_and_insertion_rate_on_silence(utts) -> None:
    row = hl.hallucination_summary(utts).iloc[0]
    counts = (row.utts, row.flagged, row.insertion_runs, row.loops, row.on_silence, row.too_fast)
    assert counts == (6, 4, 4, 1, 1, 1)
    assert (row.empty_refs, row.silent_utts, row.silence_insertions) == (1, 1, 4)
    assert row.silence_insertion_rate == 4.0 and row.silence_insertions_per_min == pytest.approx(120.0)
    assert not row.audio_levels


def test_empty_references_are_scored_as_jiwer_4_scores_them(make_utts) -> None:
    """jiwer 4 accepts an empty reference: its words are all insertions and count in the pooled WER."""
    refs = {"a": "", "b": "the cat sat", "c": ""}
    hyps = {"a": "hello there", "b": "the cat sat down", "c": ""}
    from werbench.analysis.tables import build_tables

    from tests.analysis.conftest import build_inputs

    tables = build_tables(build_inputs(refs, {"sys": hyps}), normalize="none", costs="unit", n_resamples=50)
    rows = tables.utterances.set_index("utt_id")
    theirs = jiwer.process_words(list(refs.values()), list(hyps.values()))
    assert int(rows["I"].sum()) == theirs.insertions and rows["scored"].all()  # nothing dropped
    assert tables.systems["wer"].iat[0] == pytest.approx(theirs.wer)
    assert rows.loc["a", "I"] == jiwer.process_words("", "hello there").insertions and math.isnan(
        rows.loc["a", "wer"]
    )
    summary = hl.hallucination_summary(tables.utterances).iloc[0]
    assert (summary.empty_refs, summary.silence_insertions) == (2, 2)


def test_silence_from_the_audio_level(make_utts, tmp_path: Path) -> None:
    rate = 16000
    t = np.arange(rate) / rate
    sf.write(tmp_path / "quiet.wav", 0.003 * np.sin(2 * np.pi * 200 * t), rate)  # peak -50 dBFS
    sf.write(tmp_path / "loud.wav", 0.5 * np.sin(2 * np.pi * 200 * t), rate)  # peak -6 dBFS
    refs = {"quiet": "good morning", "loud": "good morning"}
    hyps = {"quiet": "good morning", "loud": "good morning"}
    fields = {"audio_filepath": {u: str(tmp_path / f"{u}.wav") for u in refs}}
    utts = make_utts(refs, {"sys": hyps}, fields=fields, durations={"quiet": 1.0, "loud": 1.0})
    levels = hl.audio_levels(utts, AudioMetricsCache(tmp_path / "cache"))
    assert levels == pytest.approx([-50.4, -6.02], abs=0.2)
    flags = hl.utterance_flags(utts, levels=levels).set_index(utts["utt_id"])
    assert (
        flags.loc["quiet", "hallucination"] == "2 words on silence"
        and flags.loc["loud", "hallucination"] == ""
    )
    assert hl.hallucination_summary(utts, levels=levels).iloc[0].audio_levels


def test_levels_over_flags_already_computed(utts) -> None:
    """Levels measured later over the text-only flags (the dashboard's path) give what one pass gives."""
    levels = np.full(len(utts), np.nan)
    levels[[list(utts.index).index("fine"), list(utts.index).index("loop")]] = -60.0  # silent clips
    text = hl.utterance_flags(utts)
    assert hl.utterance_flags(utts, levels=None, text=text) is text
    again = hl.utterance_flags(utts, levels=levels, text=text)
    assert again.equals(hl.utterance_flags(utts, levels=levels))
    assert again.loc["fine", "hallucination"] == "3 words on silence"
    assert (
        again.loc["loop", "hallucination"] == "4 insertions in a row; loop 'thank you' x3; 8 words on silence"
    )
    assert text.loc["fine", "hallucination"] == ""  # the flags it started from are left as they were
