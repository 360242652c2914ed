"""Significance tests against scipy and against hand computation on small cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from werbench.analysis import significance as sg


def _errors(ops: list[str]) -> np.ndarray:
    return np.array([sum(c != "C" for c in o) for o in ops])


def _refs(ops: list[str]) -> np.ndarray:
    return np.array([sum(c != "I" for c in o) for o in ops])


# ------------------------------------------------------------------------------------------- bootstrap


def test_paired_bootstrap_when_a_is_never_worse() -> None:
    err_a = np.array([0, 1, 0, 2, 0, 1])
    err_b = np.array([1, 1, 2, 3, 0, 2])
    refs = np.array([5, 6, 4, 8, 3, 7])
    res = sg.paired_bootstrap(err_a, err_b, refs, n_resamples=2000, seed=0)
    assert res.statistic == pytest.approx((4 - 9) / 33)
    assert res.details["p_b_better"] == 0.0  # no resample can make B better
    assert res.details["p_a_better"] > 0.95
    assert res.details["delta_lo"] <= res.statistic <= res.details["delta_hi"] <= 0
    assert res.better == "A"
    again = sg.paired_bootstrap(err_a, err_b, refs, n_resamples=2000, seed=0)
    assert again == res


def test_paired_bootstrap_of_identical_systems() -> None:
    err = np.array([1, 0, 2, 3])
    res = sg.paired_bootstrap(err, err, np.array([4, 4, 4, 4]), n_resamples=300)
    assert res.statistic == 0
    assert res.p_value == 1.0
    assert res.details["p_a_better"] == res.details["p_b_better"] == 0.0
    assert res.better is None and not res.significant


def test_paired_bootstrap_by_speaker_blocks() -> None:
    err_a = np.array([0, 0, 1, 1, 5, 5])
    err_b = np.array([1, 1, 1, 1, 5, 6])
    refs = np.full(6, 10)
    res = sg.paired_bootstrap(
        err_a, err_b, refs, blocks=["s1", "s1", "s2", "s2", "s3", "s3"], n_resamples=500
    )
    assert res.unit == "speaker" and res.n == 3
    assert res.statistic == pytest.approx(-3 / 60)


# --------------------------------------------------------------------------------------------- MAPSSWE


@pytest.mark.parametrize(
    ("ops_a", "ops_b", "seg_a", "seg_b"),
    [
        # errors at words 1 and 5, three good words between: two segments
        (["CSCCCSC"], ["CCCCCCC"], [1, 1], [0, 0]),
        # one good word between errors of different systems: one segment
        (["CSCCCCC"], ["CCCSCCC"], [1], [1]),
        # two good words between A's errors, but B inserted between them: one segment
        (["CSCCSC"], ["CCCICCC"], [2], [1]),
        # an insertion is an error event: two good words after it close the segment
        (["CSCCCSC"], ["CCCICCCC"], [1, 1], [1, 0]),
        # an insertion alone (in a gap) is its own segment, as is a trailing one
        (["CCCCC"], ["CCICCCI"], [0, 0], [1, 1]),
        # utterance boundaries always split
        (["S", "S"], ["C", "D"], [1, 1], [0, 1]),
        # an empty reference with insertions by both: one segment
        (["II"], ["I"], [2], [1]),
    ],
)
def test_mapsswe_segmentation_by_hand(ops_a, ops_b, seg_a, seg_b) -> None:
    got_a, got_b = sg.mapsswe_segments(ops_a, ops_b)
    assert got_a.tolist() == seg_a
    assert got_b.tolist() == seg_b


def test_mapsswe_min_good_changes_the_segmentation() -> None:
    ops_a, ops_b = ["CSCSCCCS"], ["CCCCCCCC"]  # errors at words 1, 3 and 7
    assert sg.mapsswe_segments(ops_a, ops_b, min_good=1)[0].tolist() == [1, 1, 1]
    assert sg.mapsswe_segments(ops_a, ops_b, min_good=2)[0].tolist() == [2, 1]
    assert sg.mapsswe_segments(ops_a, ops_b, min_good=3)[0].tolist() == [2, 1]
    assert sg.mapsswe_segments(ops_a, ops_b, min_good=4)[0].tolist() == [3]
    with pytest.raises(ValueError, match="min_good"):
        sg.mapsswe_segments(ops_a, ops_b, min_good=0)


def _random_ops(n_words: int, rng: np.random.Generator) -> str:
    """An alignment of ``n_words`` reference words with random errors and insertions."""
    out = []
    for _ in range(n_words):
        if rng.random() < 0.1:
            out.append("I")
        out.append(rng.choice(["C", "C", "C", "C", "S", "D"]))
    return "".join(out) + ("I" if rng.random() < 0.2 else "")


def test_mapsswe_statistic_is_the_one_sample_z() -> None:
    rng = np.random.default_rng(4)
    lengths = rng.integers(0, 20, size=60)
    ops_a = [_random_ops(n, rng) for n in lengths]
    ops_b = [_random_ops(n, rng) for n in lengths]
    seg_a, seg_b = sg.mapsswe_segments(ops_a, ops_b)
    assert seg_a.sum() == _errors(ops_a).sum() and seg_b.sum() == _errors(ops_b).sum()
    res = sg.mapsswe(ops_a, ops_b)
    diff = seg_a - seg_b
    assert res.statistic == pytest.approx(stats.ttest_1samp(diff, 0).statistic)
    assert res.p_value == pytest.approx(2 * stats.norm.sf(abs(res.statistic)))
    assert res.n == len(diff) and res.better == ("A" if diff.mean() < 0 else "B")


def test_mapsswe_rejects_alignments_of_different_references() -> None:
    with pytest.raises(ValueError, match="reference length"):
        sg.mapsswe(["CC", "CSC"], ["CC", "CS"])
    with pytest.raises(ValueError, match="alignments"):
        sg.mapsswe(["CC"], ["CC", "C"])


def test_mapsswe_without_errors() -> None:
    res = sg.mapsswe(["CCC", ""], ["CCC", ""])
    assert res.n == 0 and res.p_value == 1.0 and res.statistic == 0.0


# ------------------------------------------------------------------------------------ sign and Wilcoxon


def test_sign_test_by_hand_and_against_binomtest() -> None:
    a = np.array([10, 12, 9, 15, 11, 10, 20, 7.0])
    b = np.array([12, 14, 11, 16, 13, 12, 18, 7.0])  # A better 6 times, B once, one tie
    res = sg.sign_test(a, b)
    assert (res.details["a_better"], res.details["b_better"], res.details["ties"]) == (6, 1, 1)
    assert res.p_value == pytest.approx(2 * (1 + 7) / 2**7)
    assert res.p_value == pytest.approx(stats.binomtest(1, 7).pvalue)
    assert res.better == "A"
    sc = sg.sign_test(a, b, flavour="sc_stats")  # the tie goes to N(-): 6 vs 2 of 8
    assert sc.n == 8
    assert sc.p_value == pytest.approx(2 * (1 + 8 + 28) / 2**8)


def test_sign_test_sc_stats_threshold_makes_near_ties_ties() -> None:
    res = sg.sign_test(np.array([10.0, 10.004]), np.array([10.002, 10.0]), flavour="sc_stats")
    assert res.details["ties"] == 2
    assert res.p_value == 1.0


def test_wilcoxon_matches_scipy() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 8, size=60).astype(float)
    b = a + rng.integers(-2, 4, size=60)
    res = sg.wilcoxon_test(a, b, unit="utterance")
    nonzero = (a - b)[a != b]
    ref = stats.wilcoxon(nonzero)
    assert res.statistic == pytest.approx(ref.statistic)
    assert res.p_value == pytest.approx(ref.pvalue)
    assert res.n == len(nonzero) and res.better == "A"


def test_wilcoxon_exact_by_hand() -> None:
    # five speakers, B worse on all, distinct differences: exact two-sided p = 2 / 2**5
    res = sg.wilcoxon_test(np.array([1.0, 2, 3, 4, 5]), np.array([2.0, 4, 6, 8, 10]))
    assert res.p_value == pytest.approx(2 / 32)
    assert res.details["rank_sum_a_better"] == 15
    assert res.better == "A"


def test_wilcoxon_sc_stats_normal_approximation_by_hand() -> None:
    # the sc_stats report this reproduces: nine speakers, two ties, ranks 43.5 vs 1.5, Z = -2.49
    b = np.array([24.24, 19.40, 15.62, 14.08, 20.00, 17.54, 18.87, 25.49, 25.93])
    a = np.array([24.24, 16.42, 7.81, 11.27, 7.69, 17.54, 7.55, 5.88, 18.52])
    res = sg.wilcoxon_test(b, a, flavour="sc_stats")  # the worse system first, as sc_stats prints it
    assert res.details["rank_sum_b_better"] == 43.5  # one tie to each side, rank 1.5 each
    assert res.details["rank_sum_a_better"] == 1.5
    swapped = sg.wilcoxon_test(a, b, flavour="sc_stats")
    assert swapped.details["rank_sum_a_better"] == 43.5 and swapped.statistic == pytest.approx(-res.statistic)
    z = (1.5 - 9 * 10 / 4) / math.sqrt(9 * 10 * 19 / 24)
    assert abs(res.statistic) == pytest.approx(abs(z))
    # sc_stats reads its normal table at the 0.01 step below |z|
    assert res.p_value == pytest.approx(2 * stats.norm.sf(math.floor(abs(z) * 100) / 100))
    assert res.better == "B"


def test_wilcoxon_all_ties() -> None:
    res = sg.wilcoxon_test(np.array([1.0, 2.0]), np.array([1.0, 2.0]))
    assert res.p_value == 1.0 and res.n == 0 and res.better is None


# --------------------------------------------------------------------------------------------- McNemar


def test_mcnemar_exact_by_hand() -> None:
    a = np.array([False] * 9 + [True] + [True] * 5 + [False] * 5)
    b = np.array([True] * 9 + [False] + [True] * 5 + [False] * 5)
    res = sg.mcnemar(a, b)  # 9 sentences only A got right, 1 only B
    assert res.details["only_a_right"] == 9 and res.details["only_b_right"] == 1
    assert res.details["both_wrong"] == 5 and res.details["both_right"] == 5
    assert res.p_value == pytest.approx(2 * (1 + 10) / 2**10)
    assert res.details["method"] == "binomial"
    assert res.better == "A"


def test_mcnemar_chi_square_for_many_discordant_pairs() -> None:
    a = np.array([True] * 40 + [False] * 20 + [False] * 100)
    b = np.array([False] * 40 + [True] * 20 + [False] * 100)
    res = sg.mcnemar(a, b)
    chi2 = (abs(40 - 20) - 1) ** 2 / 60
    assert res.statistic == pytest.approx(chi2)
    assert res.p_value == pytest.approx(stats.chi2.sf(chi2, 1))
    assert res.better == "B"
    assert sg.mcnemar(a[30:45], b[30:45]).p_value == pytest.approx(stats.binomtest(5, 15).pvalue)  # exact


def test_mcnemar_sc_stats_binomial_tails() -> None:
    """Exact up to 20 discordant pairs, then SCTK 2.4.10's normal approximation z = (n - k) / sqrt(n)."""
    few = sg.mcnemar(
        np.array([True] * 14 + [False] * 4), np.array([False] * 14 + [True] * 4), flavour="sc_stats"
    )
    assert few.p_value == pytest.approx(2 * stats.binom.cdf(4, 18, 0.5))
    a = np.array([True] * 13 + [False] * 10)
    many = sg.mcnemar(a, ~a, flavour="sc_stats")
    z = math.floor((23 - 10) / math.sqrt(23) * 100) / 100
    assert many.p_value == pytest.approx(2 * stats.norm.sf(z))
    assert round(many.p_value, 3) == 0.007  # what sc_stats prints for this table
    assert sg.mcnemar(a, ~a).p_value == pytest.approx(stats.binomtest(10, 23).pvalue)  # 0.678


def test_mcnemar_equal_discordant_counts() -> None:
    res = sg.mcnemar(np.array([True, False, True]), np.array([False, True, True]))
    assert res.p_value == 1.0 and res.better is None


# -------------------------------------------------------------------------------------------- together


def test_speaker_error_rates_skip_speakers_without_words() -> None:
    rates = sg.speaker_error_rates(np.array([1, 2, 3]), np.array([10, 0, 10]), np.array(["a", "b", "a"]))
    assert rates == {"a": pytest.approx(20.0)}


def test_run_tests_returns_every_test() -> None:
    ops_a = ["CCSC", "CDC", "CCCC", "CIC", "SCCC", "CC", "CC", "CCC", "CSC", "CC"]
    ops_b = ["CSSC", "CDC", "CCSC", "CC", "SSCC", "CD", "CS", "CCC", "CSS", "CC"]
    scores = sg.PairedScores(
        err_a=_errors(ops_a),
        err_b=_errors(ops_b),
        ref_words=_refs(ops_a),
        ops_a=ops_a,
        ops_b=ops_b,
        speakers=np.array(["s1", "s1", "s2", "s2", "s3", "s3", "s4", "s4", "s5", "s5"]),
    )
    results = sg.run_tests(scores, n_resamples=200)
    assert [r.name for r in results] == [
        "bootstrap",
        "mapsswe",
        "sign_speaker",
        "wilcoxon_speaker",
        "sign_utterance",
        "wilcoxon_utterance",
        "mcnemar",
    ]
    assert all(0.0 <= r.p_value <= 1.0 for r in results)
    assert {r.better for r in results} <= {"A", None}
    assert results[2].n == 4 and results[2].details["ties"] == 1  # speaker s2 is a tie
    payload = results[0].to_json()
    assert payload["name"] == "bootstrap" and "significant" in payload
    with pytest.raises(ValueError, match="unknown flavour"):
        sg.run_tests(scores, flavour="kaldi")  # type: ignore[arg-type]


def test_paired_scores_checks_lengths() -> None:
    with pytest.raises(ValueError, match="err_b"):
        sg.PairedScores(np.ones(2), np.ones(3), np.ones(2), ["C", "C"], ["C", "C"], np.array(["a", "b"]))


def test_friedman_matches_scipy() -> None:
    rates = np.array([[10.0, 12, 15], [8, 9, 13], [20, 19, 25], [5, 7, 6]])
    res = sg.friedman_test(rates, ["x", "y", "z"])
    assert res is not None
    assert res.p_value == pytest.approx(stats.friedmanchisquare(*rates.T).pvalue)
    assert res.details["mean_rank"]["z"] > res.details["mean_rank"]["x"]
    assert sg.friedman_test(rates[:, :2], ["x", "y"]) is None


def _scores(speakers: list[str | None]) -> sg.PairedScores:
    n = len(speakers)
    ops_a, ops_b = ["CC"] * n, ["CS"] * n
    return sg.PairedScores(
        _errors(ops_a), _errors(ops_b), _refs(ops_a), ops_a, ops_b, np.array(speakers, dtype=object)
    )


def test_per_speaker_tests_need_five_speakers_and_say_why() -> None:
    few = {r.name: r for r in sg.run_tests(_scores(["s1", "s2", "s3", "s4"] * 3), n_resamples=100)}
    for name in ("sign_speaker", "wilcoxon_speaker"):
        assert few[name].skipped == "only 4 speakers: per-speaker tests need at least 5"
        assert math.isnan(few[name].p_value) and not few[name].significant and few[name].p_text == "n/a"
        assert few[name].to_json()["skipped"] == few[name].skipped
    assert few["sign_utterance"].skipped is None and few["mcnemar"].p_value < 0.05  # others still run
    none = {r.name: r for r in sg.run_tests(_scores([None, ""] * 6), n_resamples=100)}
    assert "--speaker-from-id REGEX" in none["sign_speaker"].skipped
    assert none["sign_speaker"].skipped.startswith("no speakers")
    # utterances without a speaker are left out; the five real speakers are enough
    enough = {
        r.name: r for r in sg.run_tests(_scores(["s1", "s2", "s3", "s4", "s5", None] * 2), n_resamples=100)
    }
    assert enough["sign_speaker"].skipped is None and enough["sign_speaker"].n == 5


def test_holm_bonferroni_by_hand() -> None:
    # sorted 0.01, 0.03, 0.04 of m = 3: 3 x 0.01, max(0.03, 2 x 0.03), max(0.06, 1 x 0.04); NaN uncounted
    adjusted = sg.holm([0.04, 0.01, None, 0.03])
    assert adjusted[[0, 1, 3]] == pytest.approx([0.06, 0.03, 0.06])
    assert math.isnan(adjusted[2])
    assert sg.holm([0.5, 0.9]).tolist() == [1.0, 1.0]  # capped at 1
    assert sg.holm([]).size == 0


def test_holm_against_the_textbook_definition() -> None:
    """Holm's adjusted p is the smallest family level at which the step-down procedure rejects it."""
    rng = np.random.default_rng(4)
    for _ in range(200):
        p = rng.uniform(0, 0.2, rng.integers(1, 8))
        adjusted = sg.holm(p)
        for level in np.linspace(0.001, 0.3, 60):
            rejected = np.zeros(len(p), dtype=bool)
            for k, i in enumerate(np.argsort(p, kind="stable")):
                if p[i] > level / (len(p) - k):
                    break
                rejected[i] = True
            assert np.array_equal(rejected, adjusted <= level + 1e-12)


def test_a_bootstrap_p_value_is_never_printed_as_zero() -> None:
    err_a, err_b, refs = np.zeros(30), np.ones(30), np.full(30, 5)
    res = sg.paired_bootstrap(err_a, err_b, refs, n_resamples=2000)
    assert res.p_value == 0.0 and res.resolution == 1 / 2000
    assert res.p_text == "< 0.0005" and res.to_json()["p_text"] == "< 0.0005"
    assert sg.format_p(0.0, 1 / 1000) == "< 0.001" and sg.format_p(0.0) == "< 0.0001"
    assert sg.format_p(0.0123, 1 / 1000) == "0.012" and sg.format_p(float("nan")) == "n/a"
