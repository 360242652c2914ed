"""Everything a report shows, computed once from the tables and shared by the CSV, HTML and trn writers."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from tqdm import tqdm
from werbench.analysis.breakdown import breakdowns
from werbench.analysis.compare import (
    Comparison,
    LineageStep,
    compare_systems,
    decoder_lineage,
    nbest_oracle,
    pair_frame,
)
from werbench.analysis.errors import ErrorTables, Vocabulary, error_tables
from werbench.analysis.significance import Flavour, TestResult, friedman_test, paired_bootstrap, speaker_of
from werbench.analysis.tables import Tables
from werbench.manifests.columnar import holds_nested
from werbench.manifests.errors import ConfigError
from werbench.manifests.normalize import get_normalizer

# per-utterance columns that are texts, alignments, ids or lists: never a grouping field
NOT_FIELDS = frozenset(
    {
        "testset", "system", "utt_id", "ref", "hyp", "ops", "text", "pred_text", "failure", "audio_filepath",
        "offset", "nbest", "word_times", "greedy_text", "beam_text", "failed", "sentence_error",
        "C", "S", "D", "I", "ref_words", "hyp_words", "wer", "char_C", "char_S", "char_D", "char_I",
        "ref_chars", "cer", "wmr",
    }
)  # fmt: skip
MAX_CATEGORIES = 40


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
    vocabulary: Vocabulary | None = None
    source: str = ""
    created: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"))
    settings: dict[str, Any] = field(default_factory=dict)


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


def versus_best(tables: Tables, *, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Each system against its test set's best (lowest WER): the paired-bootstrap P(best is better)."""
    rows = []
    for testset, best, other in (
        (ts, group.loc[group["wer"].idxmin(), "system"], system)
        for ts, group in tables.systems.dropna(subset=["wer"]).groupby("testset", sort=True)
        for system in group["system"]
    ):
        if other == best:
            rows.append(
                {"testset": testset, "system": other, "best": best, "p_value": None, "p_best_better": None}
            )
            continue
        frame = pair_frame(tables.utterances, best, other, testset)
        ok = frame[~frame["failed"]]
        test = paired_bootstrap(ok["err_a"], ok["err_b"], ok["ref_words"], n_boot=n_boot, seed=seed)
        rows.append(
            {
                "testset": testset,
                "system": other,
                "best": best,
                "p_value": test.p_value,
                "p_best_better": test.details["p_a_better"],
            }
        )
    return pd.DataFrame(rows, columns=["testset", "system", "best", "p_value", "p_best_better"])


def friedman_by_testset(utts: pd.DataFrame) -> dict[str, TestResult]:
    """Per test set with three or more systems: Friedman's test on per-speaker WER (sc_stats' ANOVAR)."""
    out = {}
    ok = utts[~utts["failed"].astype(bool)]
    for testset, rows in ok.groupby("testset", sort=True):
        speakers = (
            rows["speaker"].astype(object).where(rows["speaker"].notna(), rows["utt_id"].map(speaker_of))
        )
        grouped = rows.assign(errors=rows["S"] + rows["D"] + rows["I"], spk=speakers).groupby(
            ["spk", "system"]
        )
        sums = grouped[["errors", "ref_words"]].sum()
        rates = (sums["errors"] / sums["ref_words"].where(sums["ref_words"] > 0)).unstack("system").dropna()
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


def build_report(
    tables: Tables,
    *,
    pairs: Sequence[str] | None = None,
    fields: Sequence[str] | None = None,
    vocabulary: Vocabulary | None = None,
    flavour: Flavour = "werbench",
    n_boot: int = 1000,
    seed: int = 0,
    top: int = 50,
    source: str = "",
    progress: bool = False,
) -> ReportData:
    """Errors, breakdowns, comparisons of ``pairs`` (``A:B``; default: best vs runner-up), lineage, n-best."""
    utts = tables.utterances
    steps = tqdm(total=6, desc="report", unit="part", disable=not progress)
    errors = error_tables(utts, vocabulary=vocabulary, top=None)
    steps.update()
    chosen_fields = list(fields) if fields else breakdown_fields(utts)
    metrics = ["wer", "cer", "ser", "sub_rate", "del_rate", "ins_rate"]
    views = (
        breakdowns(utts, chosen_fields, metrics, ci_metrics=["wer"], n_boot=n_boot, seed=seed)
        if len(utts)
        else {}
    )
    steps.update()
    comparisons = [
        compare_systems(utts, a, b, testset=ts, flavour=flavour, n_boot=n_boot, seed=seed)
        for ts, a, b in _resolve_pairs(tables, pairs)
    ]
    steps.update()
    normalize = get_normalizer(tables.normalizer)
    lineage = decoder_lineage(utts, normalize=normalize, costs=tables.costs, systems=tables.systems, top=top)
    steps.update()
    nbest_utts, nbest_summary = nbest_oracle(utts, normalize=normalize, costs=tables.costs)
    steps.update()
    best = versus_best(tables, n_boot=n_boot, seed=seed)
    friedman = friedman_by_testset(utts) if len(utts) else {}
    steps.update()
    steps.close()
    settings = {
        "normalizer": tables.normalizer,
        "costs": tables.costs,
        "flavour": flavour,
        "n_boot": n_boot,
        "seed": seed,
        "vocabulary": None
        if vocabulary is None
        else f"{vocabulary.source} ({vocabulary.kind}, {len(vocabulary)} words)",
        "fields": chosen_fields,
    }
    return ReportData(
        tables, errors, views, comparisons, lineage, nbest_utts, nbest_summary, best, friedman, vocabulary,
        source, settings=settings,
    )  # fmt: skip


def json_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """Lists and dicts (n-best, word times) as JSON text, so that every cell is one CSV field."""
    out = frame.copy()
    for name in out.columns:
        if holds_nested(out[name]):  # iterating gives Python lists and dicts, Arrow column or not
            out[name] = [
                json.dumps(v, ensure_ascii=False) if isinstance(v, list | dict) else v for v in out[name]
            ]
    return out
