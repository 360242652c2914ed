"""Breakdowns of metrics by fields: pooled values by hand, buckets, intervals, bad fields."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from werbench.analysis.breakdown import (
    DURATION_EDGES,
    MISSING,
    breakdown,
    breakdowns,
    bucketize,
    group_labels,
)
from werbench.analysis.report_data import breakdown_fields
from werbench.manifests.columnar import nested_to_arrow

REFS = {
    "u1": "one two three four",
    "u2": "five six seven eight",
    "u3": "nine ten",
    "u4": "eleven twelve thirteen",
    "u5": "fourteen",
    "u6": "fifteen sixteen",
}
HYPS = {
    "u1": "one two tree four",  # 1 S
    "u2": "five six seven eight",  # 0
    "u3": "nine",  # 1 D
    "u4": "eleven twelve thirteen and",  # 1 I
    "u5": "forty",  # 1 S
    "u6": "fifteen sixteen",  # 0
}
SPEAKERS = {"u1": "ann", "u2": "ann", "u3": "bob", "u4": "bob", "u5": "cid", "u6": None}
DURATIONS = {"u1": 1.5, "u2": 3.0, "u3": 4.0, "u4": 12.0, "u5": 25.0, "u6": 31.0}
NOISE = {"u1": "clean", "u2": "clean", "u3": "babble", "u4": "babble", "u5": "clean", "u6": "clean"}


@pytest.fixture
def utts(make_utts) -> pd.DataFrame:
    return make_utts(
        REFS,
        {"m@greedy": HYPS, "m@beam": REFS},
        speakers={k: v for k, v in SPEAKERS.items() if v},
        durations=DURATIONS,
        fields={"noise": NOISE, "snr": {u: float(i) for i, u in enumerate(REFS)}},
    )


def _row(table: pd.DataFrame, system: str, group: str) -> pd.Series:
    key = table.columns[2]
    return table[(table["system"] == system) & (table[key].astype(str) == group)].iloc[0]


def test_pooled_values_by_hand(utts: pd.DataFrame) -> None:
    table = breakdown(utts, "speaker", ["wer", "ser", "sub_rate", "ins_rate", "cer"], n_resamples=200)
    ann = _row(table, "m@greedy", "ann")
    assert (ann["utts"], ann["ref_words"]) == (2, 8)
    assert ann["wer"] == pytest.approx(1 / 8) and ann["sub_rate"] == pytest.approx(1 / 8)
    assert ann["ser"] == pytest.approx(1 / 2)
    bob = _row(table, "m@greedy", "bob")
    assert bob["wer"] == pytest.approx(2 / 5) and bob["ins_rate"] == pytest.approx(1 / 5)
    assert _row(table, "m@greedy", MISSING)["utts"] == 1  # u6 has no speaker
    assert (table.loc[table["system"] == "m@beam", "wer"] == 0).all()
    assert list(table.columns[:5]) == ["testset", "system", "speaker", "utts", "ref_words"]
    assert {"cer", "cer_lo", "cer_hi"} <= set(table.columns)


def test_intervals_bracket_the_value_and_collapse_for_one_utterance(utts: pd.DataFrame) -> None:
    table = breakdown(utts, "speaker", n_resamples=300, seed=1)
    assert (table["wer_lo"] <= table["wer"] + 1e-12).all() and (table["wer"] <= table["wer_hi"] + 1e-12).all()
    cid = _row(table, "m@greedy", "cid")  # one utterance: every resample is that utterance
    assert cid["wer_lo"] == cid["wer_hi"] == 1.0
    ann = _row(table, "m@greedy", "ann")  # u1 (1/4) and u2 (0/4): resampled WER is 0, 1/8 or 1/4
    assert ann["wer_lo"] == 0.0 and ann["wer_hi"] == 0.25
    again = breakdown(utts, "speaker", n_resamples=300, seed=1)
    pd.testing.assert_frame_equal(table, again)


def test_speaker_blocks_resample_whole_speakers(utts: pd.DataFrame) -> None:
    table = breakdown(utts, "noise", blocks="speaker", n_resamples=300)
    babble = _row(table, "m@greedy", "babble")  # all babble rows are bob's: one block, no spread
    assert babble["wer_lo"] == babble["wer_hi"] == pytest.approx(2 / 5)
    clean = _row(table, "m@greedy", "clean")  # ann, cid and u6 (its own block)
    assert clean["wer"] == pytest.approx(2 / 11)
    assert clean["wer_lo"] < clean["wer"] < clean["wer_hi"]


def test_duration_gets_fixed_buckets(utts: pd.DataFrame) -> None:
    labels = group_labels(utts, "duration")
    assert list(labels.cat.categories[: len(DURATION_EDGES) - 1]) == [
        "[0, 2)",
        "[2, 5)",
        "[5, 10)",
        "[10, 20)",
        "[20, 30)",
        "[30, inf)",
    ]
    table = breakdown(utts, "duration", n_resamples=50)
    greedy = table[table["system"] == "m@greedy"]
    assert greedy.set_index("duration")["utts"].astype(int).to_dict() == {
        "[0, 2)": 1,
        "[2, 5)": 2,
        "[10, 20)": 1,
        "[20, 30)": 1,
        "[30, inf)": 1,
    }


def test_explicit_and_quantile_buckets(utts: pd.DataFrame) -> None:
    labels = group_labels(utts, "snr", bins=[0, 3, 10])
    assert labels.astype(str).tolist()[:6] == ["[0, 3)"] * 3 + ["[3, 10)"] * 3
    many = pd.concat([utts] * 3, ignore_index=True)
    many["snr"] = range(len(many))
    quantiles = group_labels(many, "snr")
    assert quantiles.nunique() == 5 and MISSING not in set(quantiles)
    assert bucketize(pd.Series([1.0, None, 99.0]), [0, 10]).tolist() == ["[0, 10)", MISSING, MISSING]


def test_failed_utterances_count_as_deletions_unless_ignored(make_utts) -> None:
    refs, hyps, failed = {"a": "x y", "b": "z w"}, {"s": {"a": "x y", "b": "q"}}, {"s": {"b"}}
    table = breakdown(make_utts(refs, hyps, failed=failed), "system", n_resamples=20)
    assert table["utts"].tolist() == [2] and table["wer"].tolist() == [0.5]
    table = breakdown(make_utts(refs, hyps, failed=failed, missing="ignore"), "system", n_resamples=20)
    assert table["utts"].tolist() == [1] and table["wer"].tolist() == [0.0]


def test_bad_fields_and_metrics(utts: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match=r"no field 'accent'.*fields: C, D"):
        breakdown(utts, "accent")
    with pytest.raises(ValueError, match="unknown metric 'bleu'"):
        breakdown(utts, "speaker", ["bleu"])
    listy = utts.assign(nbest=[[{"text": "a"}]] * len(utts))
    arrow = nested_to_arrow(listy)  # lists as the readers give them: an Arrow column
    for frame in (listy, arrow):
        with pytest.raises(ValueError, match="holds lists"):
            breakdown(frame, "nbest")
    assert "nbest" not in breakdown_fields(arrow) and "nbest" not in breakdown_fields(listy)
    with pytest.raises(ValueError, match="two distinct"):
        bucketize(pd.Series([1.0]), [3])


def test_intervals_only_where_asked(utts: pd.DataFrame) -> None:
    table = breakdown(utts, "noise", ["wer", "ser", "cer"], ci_metrics=["wer"], n_resamples=50)
    assert {"wer_lo", "wer_hi", "ser", "cer"} <= set(table.columns)
    assert not {"ser_lo", "cer_hi"} & set(table.columns)
    bare = breakdown(utts, "noise", ["ser"], ci_metrics=[], n_resamples=50)
    assert list(bare.columns) == ["testset", "system", "noise", "utts", "ref_words", "ser"]


def test_breakdowns_skip_useless_fields(utts: pd.DataFrame) -> None:
    tables = breakdowns(utts, ["speaker", "noise", "testset", "accent"], n_resamples=20)
    assert list(tables) == ["speaker", "noise"]


def test_empty_reference_group_has_nan_wer(make_utts) -> None:
    utts = make_utts(
        {"a": "", "b": "x"}, {"s": {"a": "hello", "b": "x"}}, fields={"kind": {"a": "e", "b": "f"}}
    )
    table = breakdown(utts, "kind", n_resamples=20).set_index("kind")
    assert math.isnan(table.loc["e", "wer"]) and math.isnan(table.loc["e", "wer_lo"])
    assert table.loc["f", "wer"] == 0.0


def test_close_quantile_edges_get_distinct_labels() -> None:
    """Quantiles of a continuous field (an SNR) can agree to 3 digits: labels take more, never collide."""
    labels = bucketize(pd.Series([12.301, 12.304, 12.309, 40.0]), [12.3, 12.302, 12.305, 50.0])
    assert list(labels.cat.categories[:3]) == ["[12.3, 12.302)", "[12.302, 12.305)", "[12.305, 50)"]
    assert labels.tolist() == ["[12.3, 12.302)", "[12.302, 12.305)", "[12.305, 50)", "[12.305, 50)"]
