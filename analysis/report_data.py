"""Everything a report shows, computed once from the tables and shared by the CSV, HTML and trn writers."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm
from werbench.analysis.breakdown import breakdowns
from werbench.analysis.case_punctuation import MARKS, case_punctuation_tables
from werbench.analysis.compare import Comparison, compare_systems, versus_best
from werbench.analysis.confidence import DEFAULT_MEASURE, confidence_tables
from werbench.analysis.errors import ErrorTables, error_tables
from werbench.analysis.hallucinations import (
    HallucinationRules,
    flagged_utterances,
    hallucination_summary,
    utterance_flags,
)
from werbench.analysis.lineage import LineageStep, decoder_lineage, error_attribution
from werbench.analysis.nbest import nbest_oracle
from werbench.analysis.significance import FRIEDMAN_TITLE, Flavour, TestResult, friedman_test
from werbench.analysis.speakers import known_speakers, too_few_speakers
from werbench.analysis.tables import Tables
from werbench.analysis.vocabulary import Vocabularies, Vocabulary
from werbench.analysis.word_classes import (
    CLASS_COLUMNS,
    COMPARISON_COLUMNS,
    WordClass,
    class_columns,
    class_comparison,
    class_counts,
    class_table,
    default_classes,
)
from werbench.manifests.columnar import holds_nested
from werbench.manifests.errors import ConfigError
from werbench.manifests.normalize import get_normalizer

# per-utterance columns that are texts, alignments, ids or lists: never a grouping field
NOT_FIELDS = frozenset(
    {
        "testset", "system", "utt_id", "ref", "hyp", "ops", "text", "pred_text", "failure", "audio_filepath",
        "offset", "nbest", "word_times", "word_confidence", "greedy_text", "beam_text", "failed",
        "sentence_error", "C", "S", "D", "I", "ref_words", "hyp_words", "wer", "char_C", "char_S", "char_D",
        "char_I", "ref_chars", "cer", "wmr",
    }
)  # fmt: skip
MAX_CATEGORIES = 40
# what an analysis of the aligned words reads of a row (class_counts)
ALIGNED_FIELDS = ("testset", "system", "utt_id", "S", "D", "I", "ops", "ref", "hyp", "failed", "scored")


@dataclass
class ReportData:
    """The tables plus every derived view a report renders."""

    tables: Tables
    errors: ErrorTables
    breakdowns: dict[str, pd.DataFrame]
    comparisons: list[Comparison]
    lineage: list[LineageStep]
    nbest_utterances: pd.DataFrame
    nbest_summary: pd.DataFrame
    versus_best: pd.DataFrame = field(default_factory=pd.DataFrame)
    friedman: dict[str, TestResult] = field(default_factory=dict)
    vocabulary: Vocabularies = field(default_factory=Vocabularies)  # OOV lists, per test set
    classes: pd.DataFrame = field(default_factory=pd.DataFrame)  # word classes (``analysis.word_classes``)
    class_comparisons: pd.DataFrame = field(default_factory=pd.DataFrame)
    hallucinations: pd.DataFrame = field(
        default_factory=pd.DataFrame
    )  # per system (``analysis.hallucinations``)
    hallucinated: pd.DataFrame = field(default_factory=pd.DataFrame)  # the flagged utterances
    attribution: pd.DataFrame = field(default_factory=pd.DataFrame)  # where errors come from (lineage)
    attribution_utterances: pd.DataFrame = field(default_factory=pd.DataFrame)
    confidence: pd.DataFrame = field(default_factory=pd.DataFrame)  # how well confidence predicts errors
    reliability: pd.DataFrame = field(default_factory=pd.DataFrame)  # each measure's diagram
    punctuation: pd.DataFrame = field(default_factory=pd.DataFrame)  # per system: PER, case error rate
    punctuation_marks: pd.DataFrame = field(default_factory=pd.DataFrame)  # per system and mark
    source: str = ""
    created: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"))
    settings: dict[str, Any] = field(default_factory=dict)


def system_figures(
    systems: pd.DataFrame,
    *,
    punctuation: pd.DataFrame,
    classes: pd.DataFrame,
    confidence: pd.DataFrame,
    hallucinations: pd.DataFrame,
    attribution: pd.DataFrame,
    measure: str = DEFAULT_MEASURE,
) -> pd.DataFrame:
    """The per-system table with each system's answers beside its WER (the report's systems.csv, the
    dashboard's leaderboard CSV): the punctuation and case error rates (where references carry them),
    recall and F1 per word class, ``measure``'s AUC-ROC, AUC-PR, NCE, ECE and confident / doubtful word
    counts, hallucination-flagged utterances, and its errors kept from the greedy output, introduced, fixed
    and its search errors. A system without the data has blanks there."""
    keys = ["testset", "system"]
    parts = [
        punctuation[[*keys, "per", "case_error_rate"]] if not punctuation.empty else None,
        class_columns(classes),
    ]
    if not confidence.empty:
        names = {"auc_roc": "conf_auc_roc", "auc_pr": "conf_auc_pr", "nce": "conf_nce", "ece": "conf_ece"}
        chosen = confidence[confidence["measure"] == measure]
        parts.append(chosen[[*keys, *names, "confident_errors", "doubtful_right"]].rename(columns=names))
    if not hallucinations.empty:
        names = {"flagged": "hallucinated_utts", "flagged_rate": "hallucinated_rate"}
        parts.append(hallucinations[[*keys, *names]].rename(columns=names))
    if not attribution.empty:
        names = {"kept": "errors_kept", "introduced": "errors_introduced", "fixed": "errors_fixed",
                 "search_errors": "search_errors"}  # fmt: skip
        parts.append(attribution[[*keys, *names]].rename(columns=names))
    table = systems
    for part in parts:
        if part is not None and len(part.columns) > len(keys):
            table = table.merge(part, on=keys, how="left")
    return table


def breakdown_fields(utts: pd.DataFrame) -> list[str]:
    """Fields worth a breakdown: speaker and duration, then manifest fields with a few distinct values."""
    fields = []
    n = utts["utt_id"].nunique() if len(utts) else 0
    for name in utts.columns:
        if name in NOT_FIELDS or name.startswith("pred_text"):
            continue
        column = utts[name]
        if column.isna().all() or holds_nested(column):
            continue
        distinct = column.nunique()
        numeric = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
        if distinct < 2:
            continue
        if numeric or name in ("speaker",) or distinct <= min(MAX_CATEGORIES, max(2, n // 2)):
            fields.append(name)
    order = {"speaker": 0, "duration": 1}
    return sorted(fields, key=lambda f: (order.get(f, 2), fields.index(f)))


def parse_pair(text: str) -> tuple[str, str]:
    """``A:B`` (system names) as given to ``--pairs``."""
    a, sep, b = text.partition(":")
    if not sep or not a or not b:
        raise ConfigError("pairs", f"a pair is written A:B (two system names), got {text!r}")
    return a, b


def default_pairs(systems: pd.DataFrame) -> list[tuple[str, str, str]]:
    """Per test set, the runner-up against the best system by WER: ``(testset, A, B)``."""
    pairs = []
    for testset, group in systems.groupby("testset", sort=True):
        ranked = group.dropna(subset=["wer"]).sort_values(["wer", "system"])
        if len(ranked) >= 2:
            pairs.append((str(testset), ranked["system"].iloc[1], ranked["system"].iloc[0]))
    return pairs


def friedman_by_testset(utts: pd.DataFrame) -> dict[str, TestResult]:
    """Per test set with three or more systems: Friedman's test on per-speaker WER (sc_stats' ANOVAR).

    Only utterances with a speaker field count (``analysis.speakers``); with too few speakers the result
    says why it did not run.
    """
    out = {}
    ok = utts.loc[
        utts["scored"].astype(bool).to_numpy(), ["testset", "system", "speaker", "S", "D", "I", "ref_words"]
    ]
    for testset, rows in ok.groupby("testset", sort=True):
        rows = rows[known_speakers(rows["speaker"])]
        grouped = rows.assign(errors=rows["S"] + rows["D"] + rows["I"]).groupby(["speaker", "system"])
        sums = grouped[["errors", "ref_words"]].sum()
        rates = (sums["errors"] / sums["ref_words"].where(sums["ref_words"] > 0)).unstack("system").dropna()
        systems = ok.loc[ok["testset"] == testset, "system"].unique()
        reason = too_few_speakers(len(rates))
        if reason is not None and len(systems) >= 3:
            out[str(testset)] = TestResult(
                "friedman", FRIEDMAN_TITLE, "speaker", len(rates), math.nan, math.nan, None, skipped=reason
            )
            continue
        result = friedman_test(rates.to_numpy(), [str(c) for c in rates.columns])
        if result is not None:
            out[str(testset)] = result
    return out


def _resolve_pairs(tables: Tables, pairs: Sequence[str] | None) -> list[tuple[str | None, str, str]]:
    if not pairs:
        return list(default_pairs(tables.systems))
    resolved: list[tuple[str | None, str, str]] = []
    for text in pairs:
        a, b = parse_pair(text)
        testsets = tables.systems.groupby("testset")["system"].agg(set)
        shared = [ts for ts, names in testsets.items() if {a, b} <= names]
        if not shared:
            resolved.append((None, a, b))  # compare_systems names what is missing
        resolved.extend((str(ts), a, b) for ts in shared)
    return resolved


def _testset_rows(utts: pd.DataFrame, testset: str, fields: Sequence[str]) -> pd.DataFrame:
    """The test set's rows, only ``fields`` of them: no copy at all when every row is the test set's."""
    mask = (utts["testset"] == testset).to_numpy(bool)
    slim = utts[[c for c in fields if c in utts]]
    return slim if mask.all() else slim[mask]


def _concat(frames: list[pd.DataFrame], columns: Sequence[str]) -> pd.DataFrame:
    """The frames one under the other; none at all is an empty table with ``columns``."""
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(columns))


def build_report(
    tables: Tables,
    *,
    pairs: Sequence[str] | None = None,
    fields: Sequence[str] | None = None,
    vocabulary: Vocabulary | Vocabularies | None = None,
    keywords: Sequence[WordClass] = (),
    rules: HallucinationRules = HallucinationRules(),
    audio_levels: np.ndarray | None = None,
    flavour: Flavour = "werbench",
    n_resamples: int = 1000,
    seed: int = 0,
    top: int = 50,
    source: str = "",
    progress: bool = False,
) -> ReportData:
    """Errors, word classes (numbers, OOV with ``vocabulary``: one, or per test set; names, ``keywords``),
    breakdowns, comparisons of ``pairs`` (``A:B``; default: best vs runner-up), lineage, n-best,
    hallucination flags (``rules``; ``audio_levels``: each utterance row's peak dBFS,
    ``hallucinations.audio_levels``)."""
    utts = tables.utterances
    vocabularies = Vocabularies.of(vocabulary)
    steps = tqdm(total=8, desc="report", unit="part", disable=not progress)
    errors = error_tables(utts, vocabulary=vocabularies, top=None)
    steps.update()
    unknown = [f for f in fields or () if f not in utts.columns]
    if unknown:
        known = ", ".join(sorted(str(c) for c in utts.columns))
        raise ConfigError(
            "--breakdown", f"no field {unknown[0]!r} in the per-utterance table; fields: {known}"
        )
    chosen_fields = list(fields) if fields else breakdown_fields(utts)
    metrics = ["wer", "cer", "ser", "sub_rate", "del_rate", "ins_rate"]
    views = (
        breakdowns(utts, chosen_fields, metrics, ci_metrics=["wer"], n_resamples=n_resamples, seed=seed)
        if len(utts)
        else {}
    )
    steps.update()
    comparisons = [
        compare_systems(utts, a, b, testset=ts, flavour=flavour, n_resamples=n_resamples, seed=seed)
        for ts, a, b in _resolve_pairs(tables, pairs)
    ]
    steps.update()
    normalize = get_normalizer(tables.normalizer)
    texts = utts["text"].groupby(utts["testset"], sort=False, observed=True) if "text" in utts else None
    classes = {  # per test set: its own vocabulary's OOV words, its own references' names
        str(testset): default_classes(
            texts.get_group(testset).drop_duplicates() if texts is not None else [], normalize,
            vocabularies.get(str(testset)), keywords,
        )
        for testset in utts["testset"].unique()
    }  # fmt: skip
    counted = {t: class_counts(_testset_rows(utts, t, ALIGNED_FIELDS), c) for t, c in classes.items()}
    class_rows = _concat(
        [
            class_table(counted[t].rows, c, n_resamples=n_resamples, seed=seed, counted=counted[t])
            for t, c in classes.items()
        ],
        CLASS_COLUMNS,
    )
    class_pairs = [
        class_comparison(
            utts,
            classes.get(c.testset, []),
            c.system_a,
            c.system_b,
            c.testset,
            n_resamples=n_resamples,
            seed=seed,
            counted=counted.get(c.testset),
        )
        for c in comparisons
    ]
    steps.update()
    flags = utterance_flags(utts, rules, audio_levels) if len(utts) else None
    hallucinations = hallucination_summary(utts, rules, audio_levels, flags=flags)
    hallucinated = flagged_utterances(utts, rules, audio_levels, flags=flags)
    steps.update()
    lineage = decoder_lineage(utts, normalize=normalize, costs=tables.costs, systems=tables.systems, top=top)
    steps.update()
    nbest_utts, nbest_summary = nbest_oracle(utts, normalize=normalize, costs=tables.costs)
    confidence, reliability = confidence_tables(utts, normalize)
    punctuation, punctuation_marks = case_punctuation_tables(
        utts, normalize, n_resamples=n_resamples, seed=seed
    )
    attribution, attribution_utts = error_attribution(
        utts, normalize=normalize, costs=tables.costs, systems=tables.systems, nbest_utterances=nbest_utts
    )
    steps.update()
    best = versus_best(tables.utterances, tables.systems, n_resamples=n_resamples, seed=seed)
    friedman = friedman_by_testset(utts) if len(utts) else {}
    steps.update()
    steps.close()
    settings = {
        "normalizer": tables.normalizer,
        "text_mode": normalize.description,
        "costs": tables.costs,
        "cer": tables.cer,
        "missing": tables.missing,
        "flavour": flavour,
        "n_resamples": n_resamples,
        "seed": seed,
        "vocabulary": vocabularies.describe(),
        "fields": chosen_fields,
        "classes": list(dict.fromkeys(f"{c.name} ({c.source})" for cs in classes.values() for c in cs)),
        "hallucination_rules": dataclasses.asdict(rules),
        "audio_levels": audio_levels is not None,
        "punctuation_marks": MARKS,
    }
    return ReportData(
        tables, errors, views, comparisons, lineage, nbest_utts, nbest_summary, best, friedman, vocabularies,
        class_rows, _concat(class_pairs, COMPARISON_COLUMNS),
        hallucinations, hallucinated, attribution, attribution_utts, confidence, reliability,
        punctuation, punctuation_marks, source, settings=settings,
    )  # fmt: skip
