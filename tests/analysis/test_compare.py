"""Pairwise comparison, the three-way word view, decoder lineage and n-best oracles, by hand."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from werbench.analysis import compare, lineage
from werbench.analysis import significance as sg
from werbench.analysis.nbest import nbest_entries, nbest_oracle
from werbench.manifests.normalize import get_normalizer

REFS = {
    "u1": "the cat sat on the mat",
    "u2": "hello world",
    "u3": "a b c d",
    "u4": "one more line",
}
GREEDY = {"u1": "the bat sat on mat", "u2": "hello word", "u3": "a b c d", "u4": "one more line"}
BEAM = {"u1": "the cat sat on the mat", "u2": "hello world x", "u3": "a b c", "u4": "one more line"}
RESCORED = {"u1": "the cat sat on the mat", "u2": "hello world", "u3": "a b c", "u4": "one more line"}


@pytest.fixture
def utts(make_utts) -> pd.DataFrame:
    return make_utts(
        REFS,
        {"m@greedy": GREEDY, "m@beam-kenlm": BEAM, "other@greedy": GREEDY},
        speakers={"u1": "s1", "u2": "s1", "u3": "s2", "u4": "s2"},
        failed={"other@greedy": {"u4"}},
    )


def test_pair_frame_outcomes(utts: pd.DataFrame) -> None:
    frame = compare.pair_frame(utts, "m@greedy", "m@beam-kenlm")
    assert frame["utt_id"].tolist() == ["u1", "u2", "u3", "u4"]
    assert frame["err_a"].tolist() == [2, 1, 0, 0] and frame["err_b"].tolist() == [0, 1, 1, 0]
    assert frame["outcome"].tolist() == ["improved", "tied", "regressed", "tied"]
    assert frame["delta"].tolist() == [-2, 0, 1, 0]
    failed = compare.pair_frame(utts, "m@greedy", "other@greedy").set_index("utt_id")
    assert failed.loc["u4", "outcome"] == "regressed" and failed.loc["u4", "err_b"] == 3, "all deletions"


def test_pair_frame_leaves_out_what_either_did_not_decode_under_missing_ignore(make_utts) -> None:
    ignored = make_utts(REFS, {"a": GREEDY, "b": GREEDY}, failed={"b": {"u4"}}, missing="ignore")
    assert compare.pair_frame(ignored, "a", "b").set_index("utt_id").loc["u4", "outcome"] == "failed"


def test_compare_systems_summary_and_tests(utts: pd.DataFrame) -> None:
    result = compare.compare_systems(utts, "m@greedy", "m@beam-kenlm", n_resamples=200)
    summary = result.summary
    assert (summary["utts"], summary["ref_words"], summary["failed_excluded"]) == (4, 15, 0)
    assert summary["wer_a"] == pytest.approx(3 / 15) and summary["wer_b"] == pytest.approx(2 / 15)
    assert summary["relative_change"] == pytest.approx(-1 / 3)
    assert (summary["improved"], summary["regressed"], summary["tied"]) == (1, 1, 2)
    names = [t.name for t in result.tests]
    assert names[:2] == ["bootstrap", "mapsswe"] and "mcnemar" in names
    # the same numbers as calling the tests directly
    frame = result.utterances
    direct = sg.mcnemar(frame["err_a"] > 0, frame["err_b"] > 0)
    assert result.tests[-1].p_value == direct.p_value
    boot = result.tests[0]
    assert boot.statistic == pytest.approx(3 / 15 - 2 / 15) and boot.better == "B"
    payload = json.loads(json.dumps(result.to_json()))
    assert payload["system_b"] == "m@beam-kenlm" and len(payload["utterances"]) == 4
    record = compare.comparison_record(result)
    assert record["mcnemar_p"] == direct.p_value and "p_a_better" in record


def test_comparison_json_has_no_nan(make_utts) -> None:
    utts = make_utts({"u1": "", "u2": ""}, {"a": {"u1": "x", "u2": ""}, "b": {"u1": "", "u2": "y"}})
    result = compare.compare_systems(utts, "a", "b", n_resamples=20)
    payload = result.to_json()
    assert payload["summary"]["wer_a"] is None and payload["summary"]["relative_change"] is None
    json.dumps(payload, allow_nan=False)


def test_failed_utterances_are_compared_as_all_deletions(utts: pd.DataFrame) -> None:
    result = compare.compare_systems(utts, "m@greedy", "other@greedy", n_resamples=50)
    assert result.summary["failed_excluded"] == 0 and result.summary["utts"] == 4
    assert result.summary["wer_b"] - result.summary["wer_a"] == pytest.approx(3 / 15)
    assert result.summary["regressed"] == 1 and result.summary["tied"] == 3


def test_failed_utterances_are_excluded_and_counted_under_missing_ignore(make_utts) -> None:
    utts = make_utts(
        REFS, {"m@greedy": GREEDY, "other@greedy": GREEDY}, failed={"other@greedy": {"u4"}}, missing="ignore"
    )
    result = compare.compare_systems(utts, "m@greedy", "other@greedy", n_resamples=50)
    assert result.summary["failed_excluded"] == 1 and result.summary["utts"] == 3
    assert result.summary["wer_a"] == result.summary["wer_b"]
    assert all(t.p_value == 1.0 for t in result.tests if t.name != "bootstrap" and t.skipped is None)
    # the fixture has no speaker field: the per-speaker tests say so instead of guessing from ids
    assert {t.name for t in result.tests if t.skipped} == {"sign_speaker", "wilcoxon_speaker"}


def test_bad_pairs(utts: pd.DataFrame, make_utts) -> None:
    with pytest.raises(ValueError, match="no test set has all of 'm@greedy', 'nope'"):
        compare.compare_systems(utts, "m@greedy", "nope")
    with pytest.raises(ValueError, match="with itself"):
        compare.compare_systems(utts, "m@greedy", "m@greedy")
    with pytest.raises(ValueError, match="no test set 'dev'"):
        compare.compare_systems(utts, "m@greedy", "m@beam-kenlm", testset="dev")
    two = pd.concat([utts, make_utts(REFS, {"m@greedy": GREEDY, "m@beam-kenlm": BEAM}, testset="dev")])
    with pytest.raises(ValueError, match="several test sets"):
        compare.compare_systems(two, "m@greedy", "m@beam-kenlm")
    assert (
        compare.compare_systems(two, "m@greedy", "m@beam-kenlm", testset="dev", n_resamples=10).testset
        == "dev"
    )


def test_three_way_puts_insertions_side_by_side() -> None:
    ref = "a b c"
    cols = compare.three_way(ref, "x y a c", "IICDC", "z a b c q", "ICCCI")
    assert [(c.ref, c.a, c.a_op, c.b, c.b_op) for c in cols] == [
        (None, "x", "I", "z", "I"),
        (None, "y", "I", None, ""),
        ("a", "a", "C", "a", "C"),
        ("b", None, "D", "b", "C"),
        ("c", "c", "C", "c", "C"),
        (None, None, "", "q", "I"),
    ]
    with pytest.raises(ValueError):
        compare.three_way(ref, "a b", "CC", "a b c", "CCC")


GREEDY_RUN = {"input": "logits", "stages": {}, "type": "greedy"}
BEAM_RUN = {"input": "logits", "stages": {"greedy_text": {"type": "greedy", "params": {}, "input": "logits"}}}
RESCORE_RUN = {
    "input": "beam_text",  # the final text re-ranks the n-best of its own first pass
    "nbest": 16,
    "stages": {**BEAM_RUN["stages"], "beam_text": {"type": "beam-fast", "params": {}, "input": "logits"}},
    "type": "rescore",
}


def _systems(records: dict[str, dict | None], logits: str = "sha-m") -> pd.DataFrame:
    """The per-system table's provenance column as ``analysis.tables`` fills it from run.json."""
    return pd.DataFrame(
        {
            "testset": "test",
            "system": list(records),
            "lineage": [json.dumps({**r, "logits": logits}) if r else None for r in records.values()],
        }
    )


SIBLINGS = _systems({"m@greedy": GREEDY_RUN, "m@beam-kenlm": {**BEAM_RUN, "type": "beam"}})


def test_lineage_of_sibling_systems(utts: pd.DataFrame) -> None:
    steps = lineage.decoder_lineage(utts, normalize=get_normalizer("none"), systems=SIBLINGS)
    assert [(s.model, s.earlier, s.later) for s in steps] == [("m", "m@greedy", "m@beam-kenlm")]
    step = steps[0]
    per = step.utterances.set_index("utt_id")
    # u1: 'cat'->'bat' and the deleted 'the' fixed; u2: 'world'->'word' fixed, 'x' inserted; u3: 'd' deleted
    assert per["fixed"].to_dict() == {"u1": 2, "u2": 1, "u3": 0, "u4": 0}
    assert per["introduced"].to_dict() == {"u1": 0, "u2": 1, "u3": 1, "u4": 0}
    assert (per["err_later"] - per["err_earlier"] == per["introduced"] - per["fixed"]).all()
    assert step.summary["fixed"] == 3 and step.summary["introduced"] == 2
    fixed = set(zip(step.fixed["op"], step.fixed["ref_word"], step.fixed["hyp_word"], strict=True))
    assert fixed == {("S", "cat", "bat"), ("D", "the", ""), ("S", "world", "word")}
    introduced = set(
        zip(step.introduced["op"], step.introduced["ref_word"], step.introduced["hyp_word"], strict=True)
    )
    assert introduced == {("I", "", "x"), ("D", "d", "")}


def test_one_utterance_read_from_the_whole_lineage(utts: pd.DataFrame) -> None:
    options = {"normalize": get_normalizer("none"), "systems": SIBLINGS}
    whole = lineage.model_lineage(utts, "test", "m", **options)
    per = lineage.decoder_lineage(utts, **options)[0].utterances.set_index("utt_id")
    first, later = whole.at("u2")
    assert (first.name, later.name, later.parent, first.parent) == (
        "m@greedy",
        "m@beam-kenlm",
        "m@greedy",
        None,
    )
    assert (later.fixed, later.introduced, later.errors) == tuple(
        per.loc["u2", ["fixed", "introduced", "err_later"]]
    )
    assert first.errors == per.loc["u2", "err_earlier"] and later.text == BEAM["u2"]
    assert ("I", None, "x") in later.pairs and whole.at("nowhere") is None


def test_no_provenance_no_lineage(utts: pd.DataFrame) -> None:
    # names such as "greedy" or "kenlm" say nothing: without run.json's record there is no lineage
    assert lineage.decoder_lineage(utts, normalize=get_normalizer("none")) == []
    half = _systems({"m@greedy": GREEDY_RUN, "m@beam-kenlm": None})
    assert lineage.decoder_lineage(utts, normalize=get_normalizer("none"), systems=half) == []
    assert lineage.lineage_groups(half, "test") == {"m": ["m@greedy"]}


def test_siblings_stay_siblings_and_a_rescorer_meets_its_own_first_pass(make_utts) -> None:
    # two beams over the same logits and a rescorer whose first pass is its own beam-fast search
    first_pass = {u: {"greedy_text": GREEDY[u], "beam_text": GREEDY[u] + " first"} for u in REFS}
    utts = make_utts(
        REFS,
        {"m@greedy": GREEDY, "m@beam-kenlm": BEAM, "m@beam-kenlm4": RESCORED, "m@rescore-bert": RESCORED},
        pred_fields={"m@rescore-bert": first_pass},
    )
    systems = _systems(
        {
            "m@greedy": GREEDY_RUN,
            "m@beam-kenlm": {**BEAM_RUN, "type": "beam"},
            "m@beam-kenlm4": {**BEAM_RUN, "type": "beam"},
            "m@rescore-bert": RESCORE_RUN,
        }
    )
    steps = lineage.decoder_lineage(utts, normalize=get_normalizer("none"), systems=systems)
    assert [(s.earlier, s.later) for s in steps] == [
        ("m@greedy", "m@beam-kenlm"),
        ("m@greedy", "m@beam-kenlm4"),
        ("m@greedy", "m@rescore-bert:beam"),
        ("m@rescore-bert:beam", "m@rescore-bert"),
    ]
    rescored = steps[3].utterances.set_index("utt_id")
    assert rescored.loc["u1", "hyp_earlier"] == GREEDY["u1"] + " first"  # its own n-best's top, not a sibling
    tree = lineage.model_lineage(utts, "test", "m", normalize=get_normalizer("none"), systems=systems)
    assert [(s.name, s.parent, s.depth) for s in tree.at("u1")] == [
        ("m@greedy", None, 0),
        ("m@beam-kenlm", "m@greedy", 1),
        ("m@beam-kenlm4", "m@greedy", 1),
        ("m@rescore-bert:beam", "m@greedy", 1),
        ("m@rescore-bert", "m@rescore-bert:beam", 2),
    ]


def test_a_saved_best_path_is_the_root_without_a_greedy_system(make_utts) -> None:
    stages = {u: {"greedy_text": GREEDY[u].upper() + "!"} for u in REFS}
    utts = make_utts(REFS, {"m@beam": BEAM}, pred_fields={"m@beam": stages})
    systems = _systems({"m@beam": {**BEAM_RUN, "type": "beam"}})
    ids, found, parents = lineage.lineage_stages(
        utts, "test", "m", normalize=get_normalizer("nemo"), systems=systems
    )
    assert (
        ids == list(REFS) and [s.name for s in found] == ["m@beam:greedy", "m@beam"] and parents == [None, 0]
    )
    assert found[0].hyp[1] == "hello word"  # the saved text is normalised like every hypothesis


def test_lineage_skips_failed_utterances_and_keeps_logits_apart(make_utts) -> None:
    both = make_utts(REFS, {"m@greedy": GREEDY, "m@beam": BEAM}, failed={"m@beam": {"u2"}})
    systems = _systems({"m@greedy": GREEDY_RUN, "m@beam": {**BEAM_RUN, "type": "beam"}})
    ids, stages, _ = lineage.lineage_stages(
        both, "test", "m", normalize=get_normalizer("none"), systems=systems
    )
    assert ids == ["u1", "u3", "u4"] and [s.name for s in stages] == ["m@greedy", "m@beam"]
    other = pd.concat([systems.iloc[:1], _systems({"m@beam": {**BEAM_RUN, "type": "beam"}}, "sha-other")])
    assert sorted(map(tuple, lineage.lineage_groups(other, "test").values())) == [("m@beam",), ("m@greedy",)]


def test_nbest_oracle_by_hand(make_utts) -> None:
    nbest = {
        "u1": {"nbest": [{"text": "the cat sat on mat"}, {"text": "The cat sat on the mat."}]},
        "u2": {"nbest": [{"text": "hello world"}]},
        "u3": {"nbest": []},
    }
    utts = make_utts(
        REFS, {"m@beam": {**RESCORED, "u1": "the cat sat on mat"}}, pred_fields={"m@beam": nbest}
    )
    per_utt, summary = nbest_oracle(utts, normalize=get_normalizer("nemo"))
    per = per_utt.set_index("utt_id")
    assert per.loc["u1", ["nbest_size", "top1_errors", "oracle_errors", "oracle_rank"]].tolist() == [
        2,
        1,
        0,
        2,
    ]
    assert per.loc["u2", "oracle_rank"] == 1 and "u3" not in per.index
    row = summary.iloc[0]
    assert row["utts"] == 2 and row["ref_words"] == 8
    assert row["top1_wer"] == pytest.approx(1 / 8) and row["oracle_wer"] == 0.0
    assert row["oracle_rank1"] == 0.5


def test_nbest_entries_align_every_hypothesis_and_mark_the_oracle(make_utts) -> None:
    nbest = {"u1": {"nbest": [{"text": "the cat sat on mat", "am_score": -3.0}, {"text": REFS["u1"]}]}}
    utts = make_utts(
        {"u1": REFS["u1"]}, {"m@beam": {"u1": "the cat sat on mat"}}, pred_fields={"m@beam": nbest}
    )
    entries = nbest_entries(utts, normalize=get_normalizer("none"))["m@beam"]
    assert [(e.rank, e.errors, e.is_oracle) for e in entries] == [(1, 1, False), (2, 0, True)]
    assert entries[0].am_score == -3.0 and entries[0].wer == pytest.approx(1 / 6)
    assert ("D", "the", None) in entries[0].pairs and all(op == "C" for op, _, _ in entries[1].pairs)
    assert nbest_entries(utts.drop(columns=["nbest"]), normalize=str) == {}


def test_nbest_errors_name_the_utterance(make_utts) -> None:
    utts = make_utts({"u": "a"}, {"s": {"u": "a"}}, pred_fields={"s": {"u": {"nbest": [{"score": 1.0}]}}})
    with pytest.raises(ValueError, match=r"test/s/u: nbest\[0\] has no string 'text'"):
        nbest_oracle(utts, normalize=str)
    assert nbest_oracle(utts.drop(columns=["nbest"]), normalize=str)[1].empty


def test_comparison_of_many_utterances_is_vectorised(make_utts) -> None:
    rng = np.random.default_rng(2)
    vocab = [f"w{i}" for i in range(30)]
    refs = {f"s{k % 7}-u{k}": " ".join(rng.choice(vocab, size=rng.integers(1, 12))) for k in range(400)}
    noisy = {u: " ".join(w if rng.random() > 0.2 else "zz" for w in t.split()) for u, t in refs.items()}
    utts = make_utts(refs, {"a": noisy, "b": refs}, speakers={u: u.split("-")[0] for u in refs})
    result = compare.compare_systems(utts, "a", "b", n_resamples=300)
    by_name = {t.name: t for t in result.tests}
    assert by_name["bootstrap"].details["p_b_better"] == 1.0
    assert by_name["mapsswe"].p_value < 1e-6 and by_name["mapsswe"].better == "B"
    assert by_name["sign_speaker"].n == 7  # the seven speakers of the speaker field


def test_versus_best_applies_holm_and_keeps_the_raw_p(make_utts) -> None:
    rng = np.random.default_rng(8)
    vocab = [f"w{i}" for i in range(20)]
    refs = {f"u{k}": " ".join(rng.choice(vocab, size=8)) for k in range(60)}

    def noisy(rate: float) -> dict[str, str]:
        return {u: " ".join(w if rng.random() > rate else "zz" for w in t.split()) for u, t in refs.items()}

    systems = {"best": noisy(0.05), "close": noisy(0.06), "far": noisy(0.3), "mid": noisy(0.1)}
    utts = make_utts(refs, systems)
    table = pd.DataFrame(
        [
            {"testset": "test", "system": s, "wer": rows["S"].sum() + rows["D"].sum() + rows["I"].sum()}
            for s, rows in utts.groupby("system")
        ]
    )
    best = compare.versus_best(utts, table, n_resamples=500, seed=1).set_index("system")
    assert best["best"].unique().tolist() == ["best"] and pd.isna(best.loc["best", "p_value"])
    raw = {}
    for other in ("close", "far", "mid"):
        frame = compare.pair_frame(utts, "best", other)
        raw[other] = sg.paired_bootstrap(
            frame["err_a"], frame["err_b"], frame["ref_words"], n_resamples=500, seed=1
        ).p_value
        assert best.loc[other, "p_value"] == raw[other]  # the raw p-value stays
    expected = sg.holm([max(raw[o], 1 / 500) for o in ("close", "far", "mid")])
    assert best.loc[["close", "far", "mid"], "p_holm"].tolist() == pytest.approx(expected.tolist())
    assert (best.loc[["close", "far", "mid"], "p_holm"] >= best.loc[["close", "far", "mid"], "p_value"]).all()
    assert best.loc["far", "p_value"] == 0.0 and best.loc["far", "p_text"] == "< 0.002"  # never "0"
    assert best.loc["far", "p_holm_text"].startswith("≤ ")  # adjusted from the bound: an upper bound


def test_error_attribution_against_the_greedy_root(make_utts) -> None:
    """beam-kenlm against greedy (see test_lineage_of_sibling_systems): greedy has 3 errors, beam 2, both
    introduced; beam's n-best lists u3's reference second: one search error."""
    nbest = {"u3": {"nbest": [{"text": BEAM["u3"]}, {"text": REFS["u3"]}]}}
    utts = make_utts(REFS, {"m@greedy": GREEDY, "m@beam-kenlm": BEAM}, pred_fields={"m@beam-kenlm": nbest})
    normalize = get_normalizer("none")
    oracle, _ = nbest_oracle(utts, normalize=normalize)
    table, per_utt = lineage.error_attribution(
        utts, normalize=normalize, systems=SIBLINGS, nbest_utterances=oracle
    )
    rows = table.set_index("system")
    beam, greedy = rows.loc["m@beam-kenlm"], rows.loc["m@greedy"]
    assert (beam.greedy_errors, beam.errors, beam.kept, beam.introduced, beam.fixed) == (3, 2, 0, 2, 3)
    assert (beam.search_errors, beam.search_utts) == (1, 1)
    assert (greedy.errors, greedy.kept, greedy.introduced, greedy.fixed) == (3, 3, 0, 0)
    mine = per_utt[per_utt["system"] == "m@beam-kenlm"].set_index("utt_id")
    assert mine["introduced"].to_dict() == {"u1": 0, "u2": 1, "u3": 1, "u4": 0}
    assert (mine["kept"] + mine["introduced"] == mine["errors"]).all()
    assert "2 were introduced by the decoder/LM" in lineage.attribution_sentence(
        beam.to_dict() | {"system": "m@beam-kenlm"}
    )
    assert "greedy best path" in lineage.attribution_sentence(greedy.to_dict() | {"system": "m@greedy"})


def test_attribution_matches_errors_by_place(make_utts) -> None:
    """Another wrong word where greedy erred is kept (and changed), not fixed plus introduced."""
    other = {**GREEDY, "u1": "the rat sat on mat"}  # greedy: S cat>bat, D the; here S cat>rat, D the
    utts = make_utts(REFS, {"m@greedy": GREEDY, "m@beam": other})
    systems = _systems({"m@greedy": GREEDY_RUN, "m@beam": {**BEAM_RUN, "type": "beam"}})
    table, _ = lineage.error_attribution(utts, normalize=get_normalizer("none"), systems=systems)
    beam = table.set_index("system").loc["m@beam"]
    assert (beam.errors, beam.kept, beam.changed, beam.introduced, beam.fixed) == (3, 3, 1, 0, 0)
    word_level = lineage.decoder_lineage(utts, normalize=get_normalizer("none"), systems=systems)[0]
    assert (word_level.summary["fixed"], word_level.summary["introduced"]) == (1, 1)  # by word it differs
