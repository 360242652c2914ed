"""The per-utterance and per-system tables: columns, hand-computed metrics, failures, bootstrap CIs."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from werbench.analysis.bootstrap import bootstrap_ci
from werbench.analysis.inputs import Hypotheses, Inputs, Reference, RefUtt, TestSet, load_inputs, match
from werbench.analysis.tables import build_tables, mean_word_accuracy, reference_word_hits
from werbench.manifests.errors import ConfigError
from werbench.manifests.results import RunInfo

ARCHITECTURE_UTTERANCE_COLUMNS = [
    "testset", "system", "utt_id", "ref", "hyp", "C", "S", "D", "I", "ref_words", "hyp_words", "wer",
    "char_C", "char_S", "char_D", "char_I", "ref_chars", "cer", "sentence_error", "wmr", "ops", "failed",
    "duration", "speaker", "missing", "scored",
]  # fmt: skip
ARCHITECTURE_SYSTEM_COLUMNS = [
    "testset", "system", "utts", "ref_words", "C", "S", "D", "I", "wer", "wer_lo", "wer_hi", "failed",
    "missing", "cer", "ser", "wmr", "mean_word_accuracy", "sub_rate", "del_rate", "ins_rate", "rtfx",
    "audio_seconds", "normalizer", "decoder", "params",
]  # fmt: skip


def inputs_of(refs: dict[str, str], systems: dict[str, dict[str, str]], **kwargs) -> Inputs:
    reference = Reference.of(
        Path("ref.jsonl"),
        [
            RefUtt(uid, text, 2.0, f"spk{k % 2}", {"noise": "clean"})
            for k, (uid, text) in enumerate(refs.items())
        ],
    )
    hyps = []
    for name, texts in systems.items():
        failed = kwargs.get("failed", {}).get(name, {})
        kept = {uid: text for uid, text in texts.items() if uid not in failed}
        hyps.append(Hypotheses.of(name, Path(f"{name}.jsonl"), kept, failed))
        hyps[-1].run_info = kwargs.get("runs", {}).get(name)
    inputs = Inputs([TestSet("dev", reference, hyps)])
    match(inputs.testsets[0], inputs.warnings)
    return inputs


REFS = {"u1": "the cat sat", "u2": "a b a", "u3": "b c"}
HYPS = {"u1": "the the cat", "u2": "a x a", "u3": "b c"}


def test_columns_are_the_architecture_contract() -> None:
    tables = build_tables(inputs_of(REFS, {"sys": HYPS}), n_resamples=200)
    assert (
        list(tables.utterances.columns[: len(ARCHITECTURE_UTTERANCE_COLUMNS)])
        == ARCHITECTURE_UTTERANCE_COLUMNS
    )
    assert list(tables.systems.columns[: len(ARCHITECTURE_SYSTEM_COLUMNS)]) == ARCHITECTURE_SYSTEM_COLUMNS
    assert {"noise", "failure", "text", "pred_text"} <= set(tables.utterances.columns)


def test_per_utterance_values_by_hand() -> None:
    utts = build_tables(inputs_of(REFS, {"sys": HYPS}), n_resamples=200).utterances.set_index("utt_id")
    u1 = utts.loc["u1"]
    assert (u1.C, u1.S, u1.D, u1.I, u1.ops) == (2, 0, 1, 1, "ICCD")
    assert (u1.ref_words, u1.hyp_words, u1.wer, u1.wmr) == (3, 3, 2 / 3, 2 / 3)
    # characters with one space between words: "the cat sat" vs "the the cat" is 11 characters
    assert u1.ref_chars == 11 and u1.char_C + u1.char_S + u1.char_D == 11
    assert u1.cer == pytest.approx((u1.char_S + u1.char_D + u1.char_I) / 11)
    assert bool(u1.sentence_error) and not bool(utts.loc["u3"].sentence_error)
    assert (utts.loc["u2"].ops, utts.loc["u2"].speaker, utts.loc["u2"].duration) == ("CSC", "spk1", 2.0)


def test_per_system_pooled_values_by_hand() -> None:
    run = RunInfo("sys", "dev", decoder={"type": "beam", "params": {"alpha": 0.5}}, audio_seconds=6.0,
                  am_seconds=1.0, decode_seconds=2.0)  # fmt: skip
    row = build_tables(inputs_of(REFS, {"sys": HYPS}, runs={"sys": run}), n_resamples=200).systems.iloc[0]
    assert (row.utts, row.ref_words, row.C, row.S, row.D, row.I) == (3, 8, 6, 1, 1, 1)
    assert row.wer == pytest.approx(3 / 8) and row.wmr == pytest.approx(6 / 8)
    assert (row.sub_rate, row.del_rate, row.ins_rate) == (1 / 8, 1 / 8, 1 / 8)
    assert row.ser == pytest.approx(2 / 3)
    # words: the 1/1, cat 1/1, sat 0/1, a 2/2, b 1/2, c 1/1 -> mean of (1, 1, 0, 1, 0.5, 1)
    assert row.mean_word_accuracy == pytest.approx(4.5 / 6)
    assert (row.rtfx, row.audio_seconds, row.decoder, row.params) == (2.0, 6.0, "beam", '{"alpha": 0.5}')
    # RunInfo's default none@1 was recorded before the text modes: it reads as what it meant, sclite@1
    assert row.wer_lo <= row.wer <= row.wer_hi and row.normalizer == "sclite@1"


def test_mean_word_accuracy_skips_null_words_and_inserted_words() -> None:
    hits = reference_word_hits(["a @ b", "b"], ["CS", "IC"])
    assert hits.to_dict("list") == {"word": ["a", "b", "b"], "correct": [True, False, True]}
    assert mean_word_accuracy(["a @ b", "b"], ["CS", "IC"]) == pytest.approx((1 + 0.5) / 2)
    with pytest.raises(ValueError, match="2 reference words but 1 reference ops"):
        reference_word_hits(["a b"], ["C"], "unit")


def test_failed_and_missing_utterances_count_as_all_deletions() -> None:
    inputs = inputs_of(REFS, {"sys": {"u1": "the cat sat"}}, failed={"sys": {"u2": "out of memory"}})
    tables = build_tables(inputs, n_resamples=200)
    utts = tables.utterances.set_index("utt_id")
    assert utts["failed"].tolist() == [False, True, True] and utts["missing"].tolist() == [False, False, True]
    assert utts["scored"].all() and utts.loc["u2"].failure == "out of memory"
    assert utts.loc["u2", ["C", "S", "D", "I"]].tolist() == [0, 0, 3, 0] and utts.loc["u2"].wer == 1.0
    assert utts.loc["u3", ["C", "S", "D", "I"]].tolist() == [0, 0, 2, 0] and utts.loc["u3"].ops == "DD"
    assert utts.loc["u2"].cer == 1.0 and utts.loc["u2"].sentence_error
    row = tables.systems.iloc[0]
    assert (row.utts, row.failed, row.missing, row.ref_words, row.wer, row.ser) == (3, 1, 1, 8, 5 / 8, 2 / 3)
    assert any("count as all deletions" in w for w in tables.warnings)


def test_missing_ignore_is_the_decoded_utterances_only_figure() -> None:
    inputs = inputs_of(REFS, {"sys": {"u1": "the cat sat"}}, failed={"sys": {"u2": "out of memory"}})
    tables = build_tables(inputs, n_resamples=200, missing="ignore")
    utts = tables.utterances.set_index("utt_id")
    assert utts["scored"].tolist() == [True, False, False] and tables.missing == "ignore"
    assert (utts.loc["u2", ["C", "S", "D", "I"]] == 0).all() and math.isnan(utts.loc["u2"].wer)
    row = tables.systems.iloc[0]
    assert (row.utts, row.failed, row.missing, row.ref_words, row.wer) == (1, 1, 1, 3, 0.0)
    assert any("left out of every score" in w for w in tables.warnings)
    with pytest.raises(ConfigError, match="unknown policy 'drop'"):
        build_tables(inputs, missing="drop")


def test_a_system_failing_on_its_worst_utterances_ranks_below_the_same_system_without_failures() -> None:
    refs = {f"u{k}": f"word{k} common text here" for k in range(10)}
    hyps = {u: text for u, text in refs.items()}
    hyps |= {"u7": "word7 common wrong here", "u8": "word8 comon text", "u9": "word9 common"}  # the hard ones
    crashes = {"u7": "CUDA out of memory", "u8": "CUDA out of memory", "u9": "timeout"}
    inputs = inputs_of(refs, {"steady": hyps, "crashy": hyps}, failed={"crashy": crashes})
    ranked = build_tables(inputs, n_resamples=100).systems.sort_values("wer", kind="stable")
    assert ranked["system"].tolist() == ["steady", "crashy"], "a failure is never better than a wrong answer"
    assert ranked.set_index("system").loc["crashy", "wer"] == 12 / 40
    ignored = build_tables(inputs, n_resamples=100, missing="ignore").systems.sort_values(
        "wer", kind="stable"
    )
    assert ignored["system"].tolist() == ["crashy", "steady"], "decoded-only: the trap --missing ignore names"


def test_empty_references_and_hypotheses_never_divide_by_zero() -> None:
    tables = build_tables(
        inputs_of({"u1": "", "u2": "a b"}, {"sys": {"u1": "x", "u2": ""}}), n_resamples=200
    )  # fmt: skip
    utts = tables.utterances.set_index("utt_id")
    assert math.isnan(utts.loc["u1"].wer) and math.isnan(utts.loc["u1"].cer) and utts.loc["u1"].I == 1
    assert utts.loc["u2"].D == 2
    assert tables.systems.iloc[0].wer == pytest.approx(3 / 2)  # the insertion of an empty reference counts
    assert any("1 references are empty after normalisation (u1)" in w for w in tables.warnings)
    assert any("1 hypotheses are empty" in w for w in tables.warnings)
    nothing = build_tables(inputs_of({"u1": ""}, {"sys": {"u1": ""}}), n_resamples=200).systems.iloc[0]
    assert math.isnan(nothing.wer) and math.isnan(nothing.wer_lo) and math.isnan(nothing.cer)


def test_normaliser_applies_to_both_sides_and_non_ascii_works() -> None:
    inputs = inputs_of({"u1": "Straße, ÉTÉ! 中文"}, {"sys": {"u1": "straße été 中文"}})
    none = build_tables(inputs, n_resamples=200).utterances.iloc[0]
    assert (none.C, none.S) == (1, 2)  # sclite folds ASCII case only
    nemo = build_tables(inputs, normalize="nemo", n_resamples=200)
    assert nemo.utterances.iloc[0].ops == "CCC" and nemo.utterances.iloc[0].ref == "straße été 中文"
    assert nemo.normalizer == "nemo@1" and nemo.systems.iloc[0].cer == 0.0


def test_unequal_normalisers_between_runs() -> None:
    runs = {"a": RunInfo("a", "dev", normalizer="nemo@1"), "b": RunInfo("b", "dev", normalizer="whisper@1")}
    inputs = inputs_of(REFS, {"a": HYPS, "b": HYPS}, runs=runs)
    with pytest.raises(
        ConfigError, match=r"different normalisers \(dev/a: nemo@1, dev/b: whisper@1\).*--normalize"
    ):
        build_tables(inputs, n_resamples=200)
    tables = build_tables(inputs, normalize="nemo", n_resamples=200)
    assert any("dev/b (whisper@1)" in w for w in tables.warnings)
    same = {"a": RunInfo("a", "dev", normalizer="nemo@1"), "b": RunInfo("b", "dev", normalizer="nemo@1")}
    assert (
        build_tables(inputs_of(REFS, {"a": HYPS, "b": HYPS}, runs=same), n_resamples=200).normalizer
        == "nemo@1"
    )


def test_extra_fields_become_columns(tmp_path: Path) -> None:
    ref = tmp_path / "ref.trn"
    ref.write_text("a b (s_1)\n", encoding="utf-8")
    hyp = tmp_path / "sys.jsonl"
    hyp.write_text('{"utt_id": "s_1", "pred_text": "a", "greedy_text": "a c", "nbest": [{"text": "a"}]}\n')
    utts = build_tables(load_inputs(ref, [hyp]), n_resamples=200).utterances
    assert utts.loc[0, "greedy_text"] == "a c" and utts.loc[0, "nbest"] == [{"text": "a"}]


def test_bootstrap_matches_a_direct_computation_and_is_seeded() -> None:
    rng = np.random.default_rng(5)
    errors = rng.permutation(40)  # 40 distinct (errors, words) pairs: utterance indices are drawn
    ref_words = rng.integers(40, 60, 40)
    lo, hi = bootstrap_ci(errors, ref_words, n_resamples=500, seed=7)
    draws = np.random.default_rng(7).integers(0, 40, size=(500, 40))
    direct = [errors[d].sum() / ref_words[d].sum() for d in draws]
    assert (lo, hi) == pytest.approx(tuple(np.percentile(direct, [2.5, 97.5])))
    assert bootstrap_ci(errors, ref_words, n_resamples=500, seed=7) == (lo, hi)
    # one speaker per utterance resamples exactly like utterances; pooled speakers give other blocks
    assert bootstrap_ci(errors, ref_words, blocks=list(range(40)), n_resamples=500, seed=7) == (lo, hi)
    blocks = [k // 4 for k in range(40)]
    assert bootstrap_ci(errors, ref_words, blocks=blocks, n_resamples=500, seed=7) != (lo, hi)


def test_bootstrap_over_few_distinct_counts_has_the_direct_distribution() -> None:
    # 2000 utterances with few distinct (errors, words) pairs take the multinomial path
    rng = np.random.default_rng(1)
    ref_words = rng.integers(5, 9, 2000)
    errors = rng.binomial(ref_words, 0.1)
    lo, hi = bootstrap_ci(errors, ref_words, n_resamples=4000, seed=3)
    draws = np.random.default_rng(4).integers(0, 2000, size=(4000, 2000))
    direct = errors[draws].sum(axis=1) / ref_words[draws].sum(axis=1)
    assert (lo, hi) == pytest.approx(tuple(np.percentile(direct, [2.5, 97.5])), abs=0.0015)


def test_speaker_block_bootstrap_in_tables() -> None:
    refs = {f"u{k}": "a b c d" for k in range(30)}
    hyps = {f"u{k}": ("a b c d" if k % 2 else "a x") for k in range(30)}  # speaker spk1 perfect, spk0 poor
    by_utt = build_tables(inputs_of(refs, {"s": hyps}), n_resamples=300).systems.iloc[0]
    by_spk = build_tables(inputs_of(refs, {"s": hyps}), n_resamples=300, speaker_ci=True).systems.iloc[0]
    assert by_spk.ci == "speaker" and by_utt.ci == "utterance"
    assert (by_spk.wer_hi - by_spk.wer_lo) > (by_utt.wer_hi - by_utt.wer_lo)


def test_unmatched_inputs_are_refused_not_mispaired() -> None:
    reference = Reference.of(Path("ref.jsonl"), [RefUtt(u, t) for u, t in REFS.items()])
    hyps = Hypotheses.of("sys", Path("sys.jsonl"), {"u1": "the cat sat", "u3": "b c"}, {"u2": "oom"})
    with pytest.raises(ValueError, match="dev/sys: rows not in the reference's order"):
        build_tables(Inputs([TestSet("dev", reference, [hyps])]), n_resamples=50)


def test_an_empty_test_set_gives_empty_tables() -> None:
    tables = build_tables(inputs_of({}, {"sys": {}}), n_resamples=50)
    assert tables.utterances.empty and tables.systems.empty
    assert "dev: the reference has no utterances; nothing to score" in tables.warnings
