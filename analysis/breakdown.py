"""Any metric broken down by any field of the per-utterance table, with bootstrap confidence intervals.

A metric is a ratio of sums over utterances (WER = (S + D + I) / reference words, CER, SER, WMR, S/D/I
rates), pooled within each group exactly as the corpus numbers are pooled. Its interval resamples the
group's utterances (or its blocks, e.g. speakers) with replacement, independently per group, through
``analysis.bootstrap.bootstrap_group_sums``: every group of every system in one vectorised pass.

A field with many distinct numeric values (duration, SNR, ...) is cut into buckets: given edges, or
quantile buckets; ``duration`` gets fixed edges in seconds that ASR people read at a glance. Missing
values form their own group, ``(missing)``. Failed utterances are left out, as in the corpus numbers.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from werbench.analysis.bootstrap import block_codes, bootstrap_group_sums, ratio_interval
from werbench.manifests.columnar import holds_nested
from werbench.manifests.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Metric:
    """A pooled ratio: sum of ``numerator`` columns over sum of ``denominator`` column (None: utterances)."""

    name: str
    label: str
    numerator: tuple[str, ...]
    denominator: str | None


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("wer", "WER", ("S", "D", "I"), "ref_words"),
        Metric("cer", "CER", ("char_S", "char_D", "char_I"), "ref_chars"),
        Metric("ser", "SER", ("sentence_error",), None),
        Metric("wmr", "word match rate", ("C",), "ref_words"),
        Metric("sub_rate", "substitution rate", ("S",), "ref_words"),
        Metric("del_rate", "deletion rate", ("D",), "ref_words"),
        Metric("ins_rate", "insertion rate", ("I",), "ref_words"),
    )
}
DURATION_EDGES = (0.0, 2.0, 5.0, 10.0, 20.0, 30.0, math.inf)
MISSING = "(missing)"
MAX_GROUPS = 12  # a numeric field with more distinct values than this is bucketed
QUANTILE_BUCKETS = 5


def get_metric(name: str) -> Metric:
    try:
        return METRICS[name]
    except KeyError:
        raise ConfigError("metric", f"unknown metric {name!r}; choose one of {', '.join(METRICS)}") from None


def _edge(x: float, digits: int = 3) -> str:
    return "inf" if math.isinf(x) else f"{x:.{digits}g}"


def _labels(edges: Sequence[float]) -> list[str]:
    """``[lo, hi)`` per bucket with 3 significant digits, more when close edges (quantiles of a
    continuous field such as an SNR) would print alike."""
    for digits in range(3, 18):
        labels = [f"[{_edge(lo, digits)}, {_edge(hi, digits)})" for lo, hi in itertools.pairwise(edges)]
        if len(set(labels)) == len(labels):
            return labels
    return labels


def bucketize(values: pd.Series, edges: Sequence[float]) -> pd.Series:
    """Numbers to ordered labels ``[lo, hi)``; values outside the edges and NaN become ``(missing)``."""
    edges = sorted(set(float(e) for e in edges))
    if len(edges) < 2:
        raise ConfigError("bins", "bucket edges need at least two distinct values")
    labels = _labels(edges)
    cut = pd.cut(pd.to_numeric(values, errors="coerce"), edges, right=False, labels=labels)
    return cut.cat.add_categories([MISSING]).fillna(MISSING)


def _quantile_edges(values: pd.Series) -> list[float]:
    finite = pd.to_numeric(values, errors="coerce").dropna()
    edges = np.unique(np.quantile(finite, np.linspace(0, 1, QUANTILE_BUCKETS + 1)))
    edges[-1] = np.nextafter(edges[-1], np.inf)  # the largest value belongs to the last bucket
    return edges.tolist()


def group_labels(utts: pd.DataFrame, by: str, bins: Sequence[float] | None = None) -> pd.Series:
    """The group of each row for field ``by``: bucketed when numeric and many-valued, else the value."""
    if by not in utts.columns:
        fields = ", ".join(sorted(str(c) for c in utts.columns))
        raise ConfigError("breakdown", f"no field {by!r} in the per-utterance table; fields: {fields}")
    column = utts[by]
    if holds_nested(column):
        raise ConfigError("breakdown", f"field {by!r} holds lists or objects, which cannot be grouped")
    numeric = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
    if bins is not None:
        return bucketize(column, bins)
    if numeric and by == "duration":
        return bucketize(column, DURATION_EDGES)
    if numeric and column.nunique() > MAX_GROUPS:
        return bucketize(column, _quantile_edges(column))
    codes, values = pd.factorize(column, use_na_sentinel=True)
    names = [str(v) for v in values]
    order = sorted(set(names) | ({MISSING} if (codes < 0).any() else set()), key=lambda v: (v == MISSING, v))
    position = {name: k for k, name in enumerate(order)}
    lookup = np.array([position[n] for n in names] + [position.get(MISSING, -1)], dtype=np.int64)
    category = lookup[codes]  # code -1 (missing) picks the last entry
    return pd.Series(pd.Categorical.from_codes(category, categories=order, ordered=True), index=utts.index)


def _column(sources: tuple[str, ...] | str | None) -> str:
    """The name of a summed column: numerators and denominators shared by several metrics are summed once."""
    if sources is None:
        return "rows"
    return "+".join(sources) if isinstance(sources, tuple) else sources


def _sums_frame(utts: pd.DataFrame, metrics: Sequence[Metric]) -> pd.DataFrame:
    """Per-row numerators and denominators of the metrics, each distinct one once (numbers only)."""
    cols: dict[str, np.ndarray] = {}
    for m in metrics:
        cols.setdefault(_column(m.numerator), utts[list(m.numerator)].astype(float).sum(axis=1).to_numpy())
        den = _column(m.denominator)
        if den not in cols:
            cols[den] = utts[m.denominator].astype(float).to_numpy() if m.denominator else np.ones(len(utts))
    return pd.DataFrame(cols, index=utts.index)


def breakdown(
    utts: pd.DataFrame,
    by: str,
    metrics: Sequence[str] = ("wer",),
    *,
    bins: Sequence[float] | None = None,
    blocks: str | None = None,
    ci_metrics: Sequence[str] | None = None,
    n_resamples: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """One row per (testset, system, group): ``utts``, ``ref_words``, each metric and its ``_lo``/``_hi``.

    ``blocks`` names a column (e.g. ``speaker``) whose values are resampled as whole blocks.
    ``ci_metrics`` limits the intervals to those metrics (default: all): each costs resampling work.
    """
    chosen = [get_metric(m) for m in metrics]
    with_ci = [m for m in chosen if ci_metrics is None or m.name in ci_metrics]
    if "scored" in utts.columns:  # the rows the pooled numbers count (``tables``: --missing)
        utts = utts[utts["scored"].fillna(False).astype(bool)]
    group = group_labels(utts, by, bins)
    key_cols = list(dict.fromkeys(["testset", "system", by]))  # by "system" is the per-system table
    keys = pd.DataFrame({"testset": utts["testset"], "system": utts["system"]})
    keys[by] = group if by not in ("testset", "system") else keys[by]
    values = _sums_frame(utts, chosen)
    counts = pd.DataFrame({"__utts": 1.0, "__ref_words": utts["ref_words"].astype(float)}, index=utts.index)
    observed = pd.concat([keys, values, counts], axis=1).groupby(key_cols, observed=True, sort=True).sum()
    codes = observed.index.get_indexer(pd.MultiIndex.from_frame(keys))
    values = values[
        list(dict.fromkeys(c for m in with_ci for c in (_column(m.numerator), _column(m.denominator))))
    ]
    if blocks is not None:
        block = pd.Series(block_codes(utts[blocks]), index=values.index, name="__block")
        merged = pd.concat([values, pd.Series(codes, index=values.index, name="__group"), block], axis=1)
        summed = merged.groupby(["__group", "__block"], sort=False).sum()
        codes = summed.index.get_level_values(0).to_numpy()
        values = summed.reset_index(drop=True)
    boot = (
        bootstrap_group_sums(values.to_numpy(), codes, n_resamples=n_resamples, seed=seed)
        if with_ci
        else None
    )
    out = observed.reset_index()[key_cols].copy()
    out["utts"] = observed["__utts"].to_numpy().astype(int)
    out["ref_words"] = observed["__ref_words"].to_numpy().astype(int)
    columns = list(values.columns)
    for m in chosen:
        obs_num = observed[_column(m.numerator)].to_numpy()
        obs_den = observed[_column(m.denominator)].to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            out[m.name] = np.where(obs_den > 0, obs_num / np.where(obs_den > 0, obs_den, 1), np.nan)
        if boot is not None and m in with_ci:
            num, den = columns.index(_column(m.numerator)), columns.index(_column(m.denominator))
            lo, hi = ratio_interval(boot[:, :, num], boot[:, :, den], alpha)
            out[f"{m.name}_lo"], out[f"{m.name}_hi"] = lo, hi
    return out


def breakdowns(
    utts: pd.DataFrame,
    fields: Sequence[str],
    metrics: Sequence[str] = ("wer",),
    **kwargs,
) -> dict[str, pd.DataFrame]:
    """``breakdown`` for each field that the table has and that yields at least two groups."""
    out = {}
    for field in fields:
        if field not in utts.columns or utts[field].isna().all():
            continue
        table = breakdown(utts, field, metrics, **kwargs)
        if table[field].nunique() > 1:
            out[field] = table
    return out
