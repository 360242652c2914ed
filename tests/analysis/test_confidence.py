"""Confidence measures: cases by hand, scikit-learn's AUCs as the anchor, the mapping to aligned words."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from werbench.analysis import confidence as cf
from werbench.manifests.normalize import get_normalizer


def test_nce_ece_and_reliability_by_hand() -> None:
    correct = np.array([True, True, True, False])
    conf = np.array([0.9, 0.8, 0.6, 0.3])
    h_max = -(3 * math.log2(0.75) + math.log2(0.25))
    h = math.log2(0.9) + math.log2(0.8) + math.log2(0.6) + math.log2(0.7)
    assert cf.nce(correct, conf) == pytest.approx((h_max + h) / h_max)
    # one word in each of the bins of 0.3 (wrong), 0.6, 0.8 and 0.9 (right): gaps 0.3, 0.4, 0.2, 0.1
    assert cf.ece(correct, conf) == pytest.approx((0.3 + 0.4 + 0.2 + 0.1) / 4)
    table = cf.reliability(correct, conf)
    assert table["words"].tolist() == [0, 0, 0, 1, 0, 0, 1, 0, 1, 1]
    assert math.isnan(cf.nce(np.array([True, True]), np.array([0.5, 0.9])))


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("decimals", [0, 1, 3, None])  # from a handful of tie groups to none
def test_aucs_match_scikit_learn(seed: int, decimals: int | None) -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 500))
    labels = rng.random(n) < rng.uniform(0.05, 0.95)
    scores = np.where(labels, rng.normal(0.6, 0.2, n), rng.normal(0.4, 0.2, n))
    scores = scores if decimals is None else np.round(scores, decimals)
    if labels.all() or not labels.any():
        labels[0] = not labels[0]
    assert cf.auc_roc(labels, scores) == pytest.approx(metrics.roc_auc_score(labels, scores))
    assert cf.average_precision(labels, scores) == pytest.approx(
        metrics.average_precision_score(labels, scores)
    )


def test_aucs_without_both_classes() -> None:
    assert math.isnan(cf.auc_roc(np.zeros(3, bool), np.ones(3)))
    assert math.isnan(cf.auc_roc(np.ones(3, bool), np.arange(3.0)))
    assert math.isnan(cf.average_precision(np.zeros(3, bool), np.arange(3.0)))
    assert cf.average_precision(np.ones(3, bool), np.arange(3.0)) == 1.0
    assert all(math.isnan(v) for v in cf.detection_areas(np.array([True, False]), np.array([0.5, np.nan])))


def test_confidences_follow_the_aligned_hypothesis_words(make_utts) -> None:
    refs = {"u1": "the cat sat", "u2": "hello world"}
    hyps = {"u1": "The bat sat down", "u2": "hello world"}
    triples = {
        "u1": [[0.9, 0.8, 0.95], [0.5, 0.4, 0.3], [0.9, 0.9, 0.9], [0.6, 0.5, 0.2]],
        "u2": [[0.9, 0.9, 0.97], [0.9, 0.9, 0.4]],
    }
    pred_fields = {"sys": {u: {"word_confidence": t} for u, t in triples.items()}}
    from werbench.analysis.tables import build_tables

    from tests.analysis.conftest import build_inputs

    tables = build_tables(
        build_inputs(refs, {"sys": hyps}, pred_fields=pred_fields), normalize="nemo", n_resamples=20
    )
    utts = tables.utterances
    words = cf.word_scores(utts, get_normalizer("nemo"), "entropy")  # the triples' third
    assert words["word"].tolist() == ["the", "bat", "sat", "down", "hello", "world"]
    assert words["correct"].tolist() == [True, False, True, False, True, True]
    assert words["confidence"].tolist() == [0.95, 0.3, 0.9, 0.2, 0.97, 0.4]
    summary, diagram = cf.confidence_tables(utts, get_normalizer("nemo"))
    row = summary[summary["measure"] == "entropy"].iloc[0]
    assert (row.words, row.errors, row.unmatched, row.confident_errors, row.doubtful_right) == (6, 2, 0, 0, 1)
    assert row.auc_roc == 1.0  # both errors are less confident than every correct word
    assert (diagram.groupby("measure")["words"].sum() == 6).all() and diagram["measure"].nunique() == 3
    per_utt = cf.utterance_confidence(utts, get_normalizer("nemo"), "entropy").set_axis(utts["utt_id"])
    assert per_utt.loc["u2", "doubtful_right"] == 1 and per_utt.loc["u1", "doubtful_right"] == 0


def test_blocks_and_one_table_per_system_give_the_figures_of_one_pass(monkeypatch) -> None:
    """Rows scored a few at a time (as 1M-row systems are), and systems passed as separate tables (as the
    dashboard does), give the words, counts and tables of one pass over one table."""
    from werbench.analysis.tables import build_tables

    from tests.analysis.conftest import build_inputs

    rng = np.random.default_rng(11)
    vocab = ["the", "Cat", "sat", "on", "mat", "hello", "world"]
    refs = {f"u{k}": " ".join(rng.choice(vocab, rng.integers(1, 7))) for k in range(30)}
    hyps = {s: {u: " ".join(rng.choice(vocab, rng.integers(1, 7))) for u in refs} for s in ("a", "b")}
    pred_fields = {
        s: {u: {"word_confidence": rng.random((len(t.split()), 3)).round(2).tolist()} for u, t in h.items()}
        for s, h in hyps.items()
    }
    pred_fields["b"]["u3"]["word_confidence"] = [[0.5, 0.5, 0.5]]  # does not map: counted as unmatched
    utts = build_tables(build_inputs(refs, hyps, pred_fields=pred_fields), normalize="nemo", n_resamples=20)
    utts = utts.utterances
    nemo = get_normalizer("nemo")
    summary, diagram = cf.confidence_tables(utts, nemo)
    words = cf.word_scores(utts, nemo, "entropy")
    counts = cf.utterance_confidence(utts, nemo)
    monkeypatch.setattr(cf, "_BLOCK", 4)
    by_system = [utts[utts["system"] == s] for s in ("b", "a")]
    for blocked in (cf.confidence_tables(utts, nemo), cf.confidence_tables(by_system, nemo)):
        pd.testing.assert_frame_equal(blocked[0], summary)
        pd.testing.assert_frame_equal(blocked[1], diagram)
    pd.testing.assert_frame_equal(cf.word_scores(utts, nemo, "entropy"), words)
    pd.testing.assert_frame_equal(cf.utterance_confidence(utts, nemo), counts)
    assert summary["unmatched"].tolist() == [0, 1] * 3 and summary["words"].min() > 20


def test_systems_without_confidences_are_skipped_in_an_arrow_table(make_utts) -> None:
    """A results directory mixing decoders with and without word_confidence (pocketsphinx has none):
    read back as Arrow columns, the missing values are NA, not lists."""
    from werbench.analysis.tables import build_tables
    from werbench.manifests.columnar import nested_to_arrow

    from tests.analysis.conftest import build_inputs

    refs = {"u1": "a b", "u2": "c d"}
    pred_fields = {"x": {"u1": {"word_confidence": [[0.9, 0.9, 0.9], [0.2, 0.2, 0.2]]}}}
    inputs = build_inputs(refs, {"x": {"u1": "a x", "u2": "c d"}, "y": refs}, pred_fields=pred_fields)
    utts = nested_to_arrow(build_tables(inputs, normalize="none", n_resamples=20).utterances)
    summary, _ = cf.confidence_tables(utts, get_normalizer("none"))
    assert set(summary["system"]) == {"x"} and summary["words"].iat[0] == 2


def test_columnar_mapping_reads_every_storage_and_counts_rows_that_do_not_map(make_utts) -> None:
    """Arrow lists, Python lists and JSON text give the same words; a raw word normalised into two words
    repeats its confidence; a row with more raw words than confidences is left out and counted."""
    import json

    import pandas as pd
    import pyarrow as pa
    from werbench.analysis.tables import build_tables

    from tests.analysis.conftest import build_inputs

    refs = {"u1": "mr smith left early", "u2": "b c", "u3": "d e"}
    # NBSP: Python's split() splits there; "well-known" normalises into two words
    hyps = {"u1": "Mr.\u00a0Smith  well-known", "u2": "b x", "u3": "d e"}
    triples = {"u1": [[0.9, 0.9, 0.95], [0.8, 0.8, 0.8], [0.3, 0.3, 0.3]], "u2": [[0.5, 0.5, 0.5]] * 2,
               "u3": [[0.9, 0.9, 0.9]]}  # fmt: skip  # u3: two raw words, one triple
    pred_fields = {"sys": {u: {"word_confidence": t} for u, t in triples.items()}}
    inputs = build_inputs(refs, {"sys": hyps}, pred_fields=pred_fields)
    utts = build_tables(inputs, normalize="nemo", n_resamples=20).utterances
    nemo = get_normalizer("nemo")
    lists = utts.assign(word_confidence=[triples[u] for u in utts["utt_id"]])
    arrow = lists.assign(
        word_confidence=pd.array(
            lists["word_confidence"], dtype=pd.ArrowDtype(pa.list_(pa.list_(pa.float64())))
        )
    )
    text = lists.assign(word_confidence=[json.dumps(t) for t in lists["word_confidence"]])
    frames = [cf.word_scores(frame, nemo, "entropy") for frame in (lists, arrow, text)]
    for words in frames:
        assert words.attrs["unmatched"] == {(str(utts["testset"].iat[0]), "sys"): 1}
        assert words["utt_id"].tolist() == ["u1"] * 4 + ["u2", "u2"]
        assert words["confidence"].tolist() == [0.95, 0.8, 0.3, 0.3, 0.5, 0.5]
    assert frames[0]["word"].tolist()[-2:] == ["b", "x"] and frames[0]["correct"].tolist()[-2:] == [
        True,
        False,
    ]
    row = utts.index[utts["utt_id"] == "u1"][0]
    one = cf.hypothesis_confidence(
        lists.at[row, "pred_text"], triples["u1"], lists.at[row, "hyp"], nemo, "entropy"
    )  # the one-row form agrees
    assert one == frames[0].loc[frames[0]["utt_id"] == "u1", "confidence"].tolist()
