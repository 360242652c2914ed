"""Paired significance tests for two systems scored on the same utterances: the set NIST sc_stats offers.

Every test reads per-utterance numpy arrays, so 100k utterances cost milliseconds (the bootstrap a second).
Two flavours:

- ``"werbench"`` (default): the textbook tests, computed with scipy where scipy has them (``binomtest``,
  ``wilcoxon``); zero differences are dropped from the sign and signed-rank tests; McNemar is exact below
  25 discordant pairs and continuity-corrected chi-square above.
- ``"sc_stats"``: NIST sc_stats 1.3's own arithmetic, quirks included, so numbers can be checked against it:
  sign test splits ties between the two sides (an odd one to the side of the system with the larger sum of
  per-speaker error rates), Wilcoxon ranks every speaker and
  hands ties (|diff| <= 0.005 points) alternately to the + and - sums and uses the normal approximation
  without tie correction, and McNemar is always the binomial. Its normal tail probabilities come from a
  table at steps of 0.01 read at the step below |z| (conservative). Its binomial tail is exact up to
  n = 20; above that (n p (1 - p) > 5) SCTK 2.4.10 (the Debian ``sctk`` package) uses a normal
  approximation with z = (n - k) / sqrt(n), which grossly overstates significance: 10 vs 13 discordant
  sentences give p = 0.007 where the exact binomial gives 0.678. The flavour reproduces that too, so its
  numbers can be checked against sc_stats; use the werbench flavour for conclusions. MAPSSWE's statistic
  is the same in both flavours (it reproduces sc_stats' segment count, mean, deviation and Z).

MAPSSWE segmentation (Gillick & Cox 1989, as sc_stats implements it): both alignments share the reference
words. Walk the slots ``gap_0, word_0, gap_1, ..., word_{R-1}, gap_R`` of an utterance; a word slot is
*bad* when either system has it wrong (S or D), a gap slot when either system inserted there. Two bad
slots fall in the same segment unless at least ``min_good`` (default 2) consecutive words that both
systems got right, with no insertion between them, separate them; utterance boundaries always separate.
A segment's score is each system's error count (S + D + I) inside it; the test is a z-test on the mean
per-segment difference (sample variance, n - 1), two-tailed.

The paired bootstrap (Bisani & Ney 2004) resamples utterances (or blocks such as speakers) with
replacement and recomputes both WERs on each replicate, through the one engine in ``analysis.bootstrap``.
Its p-value has the resolution of its resamples: none below ``1 / n_resamples`` can be told from 0, so
it is shown as ``< 1/n_resamples`` (``TestResult.p_text``), never as 0.

Per-speaker tests need speakers: the ``speaker`` field (a manifest field, a Kaldi utt2spk, a LibriSpeech
path, or the user's ``--speaker-from-id`` rule; see ``analysis.speakers``), at least ``MIN_SPEAKERS`` of
them. Otherwise the test is returned with ``skipped`` saying why, and no p-value.

Comparing many systems with the best one tests several hypotheses at once: ``holm`` adjusts their
p-values (Holm-Bonferroni, which controls the family-wise error rate without assuming independence).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from werbench.aligner.pairs import correct_ops, op_rows, ref_consuming
from werbench.analysis.bootstrap import block_sums, bootstrap_group_sums
from werbench.analysis.speakers import known_speakers, too_few_speakers
from werbench.manifests.errors import ConfigError

if TYPE_CHECKING:
    from types import ModuleType

Flavour = Literal["werbench", "sc_stats"]
FLAVOURS: tuple[str, ...] = ("werbench", "sc_stats")
SC_STATS_EQUAL_PCT = 0.005  # sc_stats treats per-speaker percentages this close as equal
EXACT_MCNEMAR_BELOW = 25
FRIEDMAN_TITLE = "Friedman two-way analysis of variance by ranks (per speaker)"


def _stats() -> ModuleType:
    """scipy.stats, imported on first use: seconds that a page which tests nothing (one utterance's
    n-best, through ``compare.word_errors``) should not pay."""
    from scipy import stats

    return stats


@dataclass(frozen=True, slots=True)
class TestResult:
    """One test's outcome; ``better`` is the system the statistic favours ("A", "B" or None for a tie)."""

    name: str
    title: str
    unit: str
    n: int
    statistic: float
    p_value: float
    better: str | None
    alpha: float = 0.05
    details: dict[str, Any] = field(default_factory=dict)
    resolution: float = 0.0  # the smallest p-value the test can tell from 0 (1 / resamples for a bootstrap)
    skipped: str | None = None  # why the test could not run (then ``p_value`` is NaN)

    @property
    def significant(self) -> bool:
        return self.skipped is None and bool(self.p_value < self.alpha)

    @property
    def p_text(self) -> str:
        """The p-value as it may be printed: a bound below the test's resolution, never a bare 0."""
        return "n/a" if self.skipped is not None else format_p(self.p_value, self.resolution)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["significant"] = self.significant
        out["p_text"] = self.p_text
        return out


def format_p(p: float | None, resolution: float = 0.0) -> str:
    """A p-value for readers: ``< 1/n`` where a resampling test cannot resolve it, ``< 0.0001`` if tiny."""
    if p is None or not np.isfinite(p):
        return "n/a"
    if resolution > 0 and p < resolution:
        return f"< {resolution:.2g}"
    if p < 1e-4:
        return "< 0.0001"
    return f"{p:.4f}" if p < 0.01 else f"{p:.3f}"


def holm(p_values: Sequence[float | None]) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1); NaN/None stay NaN, uncounted."""
    p = np.array([np.nan if v is None else v for v in p_values], dtype=np.float64)
    known = np.flatnonzero(np.isfinite(p))
    order = known[np.argsort(p[known], kind="stable")]
    m = len(order)
    adjusted = np.maximum.accumulate((m - np.arange(m)) * p[order]) if m else np.zeros(0)
    out = np.full(len(p), np.nan)
    out[order] = np.minimum(adjusted, 1.0)
    return out


def _check_flavour(flavour: str) -> None:
    if flavour not in FLAVOURS:
        raise ConfigError("flavour", f"unknown flavour {flavour!r}; choose one of {', '.join(FLAVOURS)}")


def _sc_normal_cdf(z: float) -> float:
    """sc_stats' ``normprob``: a table of the normal CDF at steps of 0.01, read at the step below |z|."""
    step = min(np.floor(abs(z) * 100 + 1e-9) / 100, 5.14)
    return float(_stats().norm.cdf(step))


def _two_sided_normal(z: float, flavour: str) -> float:
    if flavour == "sc_stats":
        return 2.0 * (1.0 - _sc_normal_cdf(z))
    return float(2 * _stats().norm.sf(abs(z)))


def _two_sided_binomial(k: int, n: int, flavour: str) -> float:
    """P-value of ``k`` successes out of ``n`` fair coin tosses (``k`` being the smaller side)."""
    if n == 0:
        return 1.0
    if flavour == "sc_stats":
        if 2 * k == n:
            return 1.0
        if n * 0.25 <= 5.0:
            return min(1.0, 2.0 * float(_stats().binom.cdf(k, n, 0.5)))
        z = (k * 0.5 - n * 0.5) / np.sqrt(n * 0.25)  # sic: SCTK 2.4.10 centres k p, not k + 0.5, on n p
        return min(1.0, 2.0 * (1.0 - _sc_normal_cdf(z)))
    return float(_stats().binomtest(k, n, 0.5).pvalue)


def _side(value: float) -> str | None:
    """Negative means A has fewer errors."""
    if value < 0:
        return "A"
    if value > 0:
        return "B"
    return None


# --------------------------------------------------------------------------------------------- bootstrap


def paired_bootstrap(
    err_a: np.ndarray,
    err_b: np.ndarray,
    ref_words: np.ndarray,
    *,
    n_resamples: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
    blocks: Sequence[Any] | None = None,
) -> TestResult:
    """Bisani & Ney (2004): P(A better), P(B better) and a CI of WER(A) - WER(B) from shared resamples.

    Only the per-utterance error difference and length are resampled (the WER difference is their ratio),
    which keeps the distinct rows few and the multinomial draw cheap. The two-sided p-value is
    ``2 min(P(delta <= 0), P(delta >= 0))`` over the replicates, capped at 1.
    """
    err_a, err_b = np.asarray(err_a, dtype=np.float64), np.asarray(err_b, dtype=np.float64)
    values = np.column_stack([err_a - err_b, np.asarray(ref_words, dtype=np.float64)])
    unit = "utterance"
    if blocks is not None:
        values, unit = block_sums(values, blocks), "speaker"
    sums = bootstrap_group_sums(values, n_resamples=n_resamples, seed=seed)[:, 0, :]
    total = values.sum(axis=0)
    observed = total[0] / total[1] if total[1] > 0 else float("nan")
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = sums[:, 0] / sums[:, 1]
    delta = delta[np.isfinite(delta)]
    if len(delta) == 0 or not np.isfinite(observed):
        p_a = p_b = 0.0
        p_value, lo, hi = 1.0, float("nan"), float("nan")
    else:
        p_a, p_b = float(np.mean(delta < 0)), float(np.mean(delta > 0))
        p_value = min(1.0, 2 * min(float(np.mean(delta <= 0)), float(np.mean(delta >= 0))))
        lo, hi = (float(x) for x in np.quantile(delta, [alpha / 2, 1 - alpha / 2]))
    return TestResult(
        name="bootstrap",
        title="Paired bootstrap (Bisani & Ney 2004)",
        unit=unit,
        n=len(values),
        statistic=float(observed),
        p_value=float(p_value),
        better=_side(observed) if np.isfinite(observed) else None,
        alpha=alpha,
        details={
            "delta_wer": float(observed),
            "delta_lo": lo,
            "delta_hi": hi,
            "p_a_better": p_a,
            "p_b_better": p_b,
            "n_resamples": n_resamples,
            "seed": seed,
        },
        resolution=1.0 / n_resamples,
    )


# --------------------------------------------------------------------------------------------- MAPSSWE


def _slot_errors(ops: Sequence[str], n_utts: int) -> tuple[np.ndarray, np.ndarray]:
    """Errors per slot (gap/word interleaved, see the module docstring) and reference words per utterance."""
    codes, utt, _ = op_rows(ops)  # the ops as the one walker reads them (aligner.pairs)
    is_ref = ref_consuming(codes)
    before = np.cumsum(is_ref) - is_ref  # reference words before this op, counted over all utterances
    slot = utt + 2 * before + is_ref
    refs = np.bincount(utt[is_ref], minlength=n_utts)
    total_slots = n_utts + 2 * int(refs.sum())
    errors = np.bincount(slot[~correct_ops(codes)], minlength=total_slots)
    return errors, refs


def mapsswe_segments(
    ops_a: Sequence[str], ops_b: Sequence[str], *, min_good: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """Per-segment error counts of A and B (see the module docstring for the segmentation)."""
    if len(ops_a) != len(ops_b):
        raise ValueError(f"A has {len(ops_a)} alignments, B has {len(ops_b)}")
    if min_good < 1:
        raise ValueError("min_good must be at least 1")
    n = len(ops_a)
    err_a, refs_a = _slot_errors(ops_a, n)
    err_b, refs_b = _slot_errors(ops_b, n)
    if not np.array_equal(refs_a, refs_b):
        bad = int(np.flatnonzero(refs_a != refs_b)[0])
        raise ValueError(
            f"utterance #{bad}: alignments disagree on the reference length ({refs_a[bad]} vs {refs_b[bad]})"
        )
    base = np.arange(n) + 2 * (np.cumsum(refs_a) - refs_a)
    bad_slots = np.flatnonzero((err_a + err_b) > 0)
    if len(bad_slots) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    utt = np.searchsorted(base, bad_slots, side="right") - 1
    local = bad_slots - base[utt]
    words_between = local[1:] // 2 - (local[:-1] + 1) // 2
    new_segment = np.concatenate([[True], (utt[1:] != utt[:-1]) | (words_between >= min_good)])
    segment = np.cumsum(new_segment) - 1
    n_seg = int(segment[-1]) + 1
    seg_a = np.bincount(segment, weights=err_a[bad_slots], minlength=n_seg).astype(np.int64)
    seg_b = np.bincount(segment, weights=err_b[bad_slots], minlength=n_seg).astype(np.int64)
    return seg_a, seg_b


def mapsswe(
    ops_a: Sequence[str],
    ops_b: Sequence[str],
    *,
    min_good: int = 2,
    flavour: Flavour = "werbench",
    alpha: float = 0.05,
) -> TestResult:
    """Matched-pair sentence-segment word error test: z-test on per-segment error differences."""
    _check_flavour(flavour)
    seg_a, seg_b = mapsswe_segments(ops_a, ops_b, min_good=min_good)
    diff = (seg_a - seg_b).astype(np.float64)
    n = len(diff)
    mean = float(diff.mean()) if n else 0.0
    variance = float(diff.var(ddof=1)) if n > 1 else 0.0
    std = variance**0.5
    z = mean / (std / np.sqrt(n)) if variance > 0 else 0.0
    p_value = _two_sided_normal(z, flavour) if variance > 0 else 1.0
    return TestResult(
        name="mapsswe",
        title="Matched-pair sentence-segment word error (MAPSSWE)",
        unit="segment",
        n=n,
        statistic=float(z),
        p_value=p_value,
        better=_side(mean),
        alpha=alpha,
        details={
            "segments": n,
            "min_good": min_good,
            "mean_diff": mean,
            "std_diff": std,
            "errors_a": int(seg_a.sum()),
            "errors_b": int(seg_b.sum()),
            "flavour": flavour,
        },
    )


# --------------------------------------------------------------------------------------- sign, Wilcoxon


def _rank_side(diff: np.ndarray) -> str | None:
    """Which system the signed ranks favour (lower error = negative difference)."""
    nonzero = diff[diff != 0]
    if len(nonzero) == 0:
        return None
    ranks = _stats().rankdata(np.abs(nonzero))
    return _side(float(ranks[nonzero > 0].sum() - ranks[nonzero < 0].sum()))


def sign_test(
    x_a: np.ndarray,
    x_b: np.ndarray,
    *,
    unit: str = "speaker",
    flavour: Flavour = "werbench",
    alpha: float = 0.05,
) -> TestResult:
    """Two-sided sign test on paired error scores (lower is better); exact binomial via scipy."""
    _check_flavour(flavour)
    diff = np.asarray(x_a, dtype=np.float64) - np.asarray(x_b, dtype=np.float64)
    ties = np.abs(diff) <= SC_STATS_EQUAL_PCT if flavour == "sc_stats" else diff == 0
    n_plus = int(np.sum((diff > 0) & ~ties))  # B better on this block
    n_minus = int(np.sum((diff < 0) & ~ties))  # A better
    n_zero = int(ties.sum())
    k_plus, k_minus = n_plus, n_minus
    if flavour == "sc_stats":  # the odd tie goes to the blocks won by the system worse on average
        a_worse = float(np.sum(x_a)) > float(np.sum(x_b))
        k_minus += n_zero // 2 + (n_zero % 2 if a_worse else 0)
        k_plus += n_zero // 2 + (0 if a_worse else n_zero % 2)
    total = k_plus + k_minus
    p_value = _two_sided_binomial(min(k_plus, k_minus), total, flavour)
    return TestResult(
        name=f"sign_{unit}",
        title=f"Sign test (per {unit})",
        unit=unit,
        n=total,
        statistic=float(min(k_plus, k_minus)),
        p_value=p_value,
        better=_side(n_plus - n_minus),
        alpha=alpha,
        details={"a_better": n_minus, "b_better": n_plus, "ties": n_zero, "flavour": flavour},
    )


def wilcoxon_test(
    x_a: np.ndarray,
    x_b: np.ndarray,
    *,
    unit: str = "speaker",
    flavour: Flavour = "werbench",
    alpha: float = 0.05,
) -> TestResult:
    """Wilcoxon signed-rank test on paired error scores; scipy's, or sc_stats' normal approximation."""
    _check_flavour(flavour)
    diff = np.asarray(x_a, dtype=np.float64) - np.asarray(x_b, dtype=np.float64)
    common = {"name": f"wilcoxon_{unit}", "title": f"Wilcoxon signed-rank (per {unit})", "unit": unit}
    if flavour == "sc_stats":
        return _wilcoxon_sc_stats(diff, alpha=alpha, **common)
    nonzero = diff[diff != 0]
    if len(nonzero) == 0:
        statistic, p_value = 0.0, 1.0
    else:
        res = _stats().wilcoxon(nonzero, zero_method="wilcox", alternative="two-sided")
        statistic, p_value = float(res.statistic), float(res.pvalue)
    ranks = _stats().rankdata(np.abs(nonzero)) if len(nonzero) else np.zeros(0)
    return TestResult(
        **common,
        n=len(nonzero),
        statistic=statistic,
        p_value=p_value,
        better=_rank_side(diff),
        alpha=alpha,
        details={
            "rank_sum_a_better": float(ranks[nonzero < 0].sum()),
            "rank_sum_b_better": float(ranks[nonzero > 0].sum()),
            "ties": int(np.sum(diff == 0)),
            "flavour": "werbench",
        },
    )


def _wilcoxon_sc_stats(diff: np.ndarray, *, alpha: float, name: str, title: str, unit: str) -> TestResult:
    """sc_stats orients the difference as worse-on-average minus better, then alternates ties from +."""
    a_worse = float(diff.sum()) > 0
    oriented = diff if a_worse else -diff
    ranks = _stats().rankdata(np.abs(diff))
    tie = np.abs(diff) <= SC_STATS_EQUAL_PCT
    to_plus = np.zeros(len(diff), dtype=bool)
    to_plus[np.flatnonzero(tie)[::2]] = True
    oriented_plus = (~tie & (oriented > 0)) | (tie & to_plus)
    plus = oriented_plus if a_worse else ~oriented_plus  # back to "A worse" = plus
    minus = ~plus
    n = len(diff)
    num_plus, num_minus = int(plus.sum()), int(minus.sum())
    sum_plus, sum_minus = float(ranks[plus].sum()), float(ranks[minus].sum())
    w = sum_plus if num_plus < num_minus else sum_minus
    expected = n * (n + 1) / 4.0
    sd = (n * (n + 1) * (2 * n + 1) / 24.0) ** 0.5
    z = abs(w - expected) / sd if n else 0.0
    better = _rank_side(np.where(tie, 0.0, diff))
    return TestResult(
        name=name,
        title=title,
        unit=unit,
        n=n,
        statistic=float(-z if better == "A" else z),  # signed like the other tests: negative favours A
        p_value=_two_sided_normal(z, "sc_stats") if n else 1.0,
        better=better,
        alpha=alpha,
        details={
            "rank_sum_a_better": sum_minus,
            "rank_sum_b_better": sum_plus,
            "ties": int(tie.sum()),
            "flavour": "sc_stats",
        },
    )


# --------------------------------------------------------------------------------------------- McNemar


def mcnemar(
    sent_err_a: np.ndarray,
    sent_err_b: np.ndarray,
    *,
    flavour: Flavour = "werbench",
    alpha: float = 0.05,
) -> TestResult:
    """McNemar on sentence errors: exact binomial on the discordant pairs, chi-square when there are many."""
    _check_flavour(flavour)
    a = np.asarray(sent_err_a, dtype=bool)
    b = np.asarray(sent_err_b, dtype=bool)
    only_b_wrong = int(np.sum(~a & b))  # A right, B wrong
    only_a_wrong = int(np.sum(a & ~b))
    discordant = only_a_wrong + only_b_wrong
    exact = flavour == "sc_stats" or discordant < EXACT_MCNEMAR_BELOW
    if discordant == 0 or only_a_wrong == only_b_wrong:
        statistic, p_value = 0.0, 1.0
    elif exact:
        statistic = float(min(only_a_wrong, only_b_wrong))
        p_value = _two_sided_binomial(min(only_a_wrong, only_b_wrong), discordant, flavour)
    else:
        statistic = (abs(only_a_wrong - only_b_wrong) - 1) ** 2 / discordant
        p_value = float(_stats().chi2.sf(statistic, df=1))
    return TestResult(
        name="mcnemar",
        title="McNemar (sentence errors)",
        unit="sentence",
        n=len(a),
        statistic=float(statistic),
        p_value=p_value,
        better=_side(only_a_wrong - only_b_wrong),
        alpha=alpha,
        details={
            "both_right": int(np.sum(~a & ~b)),
            "only_a_right": only_b_wrong,
            "only_b_right": only_a_wrong,
            "both_wrong": int(np.sum(a & b)),
            "method": "binomial" if exact else "chi-square (continuity corrected)",
            "flavour": flavour,
        },
    )


# ----------------------------------------------------------------------------------------- all together


def speaker_error_rates(err: np.ndarray, ref_words: np.ndarray, speakers: np.ndarray) -> dict[str, float]:
    """Per-speaker WER in percent (sc_stats' ``-f E``); utterances without a speaker and speakers without
    reference words are left out."""
    known = known_speakers(speakers)
    err, ref_words = np.asarray(err)[known], np.asarray(ref_words)[known]
    labels, codes = np.unique(np.asarray(speakers)[known].astype(str), return_inverse=True)
    errs = np.bincount(codes, weights=err, minlength=len(labels))
    refs = np.bincount(codes, weights=ref_words, minlength=len(labels))
    return {str(s): 100.0 * e / r for s, e, r in zip(labels, errs, refs, strict=True) if r > 0}


@dataclass(slots=True)
class PairedScores:
    """Two systems' per-utterance results on the same utterances, in the same order."""

    err_a: np.ndarray
    err_b: np.ndarray
    ref_words: np.ndarray
    ops_a: Sequence[str]  # a list, or a column of the per-utterance table
    ops_b: Sequence[str]
    speakers: np.ndarray  # None (or "") where an utterance has no speaker

    def __post_init__(self) -> None:
        n = len(self.err_a)
        for name in ("err_b", "ref_words", "ops_a", "ops_b", "speakers"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name} has {len(getattr(self, name))} entries, err_a has {n}")


def run_tests(
    scores: PairedScores,
    *,
    flavour: Flavour = "werbench",
    n_resamples: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
    min_good: int = 2,
) -> list[TestResult]:
    """Every sc_stats test (plus the bootstrap and per-utterance variants) for one pair of systems."""
    _check_flavour(flavour)
    err_a = np.asarray(scores.err_a, dtype=np.float64)
    err_b = np.asarray(scores.err_b, dtype=np.float64)
    refs = np.asarray(scores.ref_words, dtype=np.float64)
    common = {"flavour": flavour, "alpha": alpha}
    return [
        paired_bootstrap(err_a, err_b, refs, n_resamples=n_resamples, seed=seed, alpha=alpha),
        mapsswe(scores.ops_a, scores.ops_b, min_good=min_good, **common),
        *speaker_tests(err_a, err_b, refs, scores.speakers, **common),
        sign_test(err_a, err_b, unit="utterance", **common),
        wilcoxon_test(err_a, err_b, unit="utterance", **common),
        mcnemar(err_a > 0, err_b > 0, **common),
    ]


def speaker_tests(
    err_a: np.ndarray,
    err_b: np.ndarray,
    ref_words: np.ndarray,
    speakers: np.ndarray,
    *,
    flavour: Flavour = "werbench",
    alpha: float = 0.05,
) -> list[TestResult]:
    """The sign and Wilcoxon tests on per-speaker WER, or both marked skipped with the reason."""
    rates_a = speaker_error_rates(err_a, ref_words, speakers)
    rates_b = speaker_error_rates(err_b, ref_words, speakers)
    spk = sorted(rates_a)
    reason = too_few_speakers(len(spk))
    if reason is not None:
        nan = float("nan")
        return [
            TestResult(f"{kind}_speaker", f"{title} (per speaker)", "speaker", len(spk), nan, nan, None,
                       alpha, {"flavour": flavour}, skipped=reason)
            for kind, title in (("sign", "Sign test"), ("wilcoxon", "Wilcoxon signed-rank"))
        ]  # fmt: skip
    spk_a = np.array([rates_a[s] for s in spk])
    spk_b = np.array([rates_b[s] for s in spk])
    return [
        sign_test(spk_a, spk_b, unit="speaker", flavour=flavour, alpha=alpha),
        wilcoxon_test(spk_a, spk_b, unit="speaker", flavour=flavour, alpha=alpha),
    ]


def friedman_test(rates: np.ndarray, systems: Sequence[str], *, alpha: float = 0.05) -> TestResult | None:
    """Friedman rank test of three or more systems on per-speaker scores (``rates``: speakers x systems)."""
    rates = np.asarray(rates, dtype=np.float64)
    if rates.ndim != 2 or rates.shape[1] < 3 or rates.shape[0] < 2:
        return None
    res = _stats().friedmanchisquare(*rates.T)
    mean_ranks = _stats().rankdata(rates, axis=1).mean(axis=0)
    return TestResult(
        name="friedman",
        title=FRIEDMAN_TITLE,
        unit="speaker",
        n=rates.shape[0],
        statistic=float(res.statistic),
        p_value=float(res.pvalue) if np.isfinite(res.pvalue) else 1.0,
        better=None,
        alpha=alpha,
        details={"mean_rank": {s: float(r) for s, r in zip(systems, mean_ranks, strict=True)}},
    )
