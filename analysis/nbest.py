"""N-best oracle: how good each decoder's list was, and whether its own first choice was the best in it."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from werbench.aligner.align import AlignedText, align_counts, align_many
from werbench.analysis.compare import word_errors


def _nbest_texts(value: Any, where: str) -> list[str]:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    if not isinstance(value, list):
        raise ValueError(
            f"{where}: nbest must be a list of {{text, ...}} objects, got {type(value).__name__}"
        )
    texts = []
    for k, item in enumerate(value):
        text = item.get("text") if isinstance(item, dict) else None
        if not isinstance(text, str):
            raise ValueError(f"{where}: nbest[{k}] has no string 'text'")
        texts.append(text)
    return texts


def nbest_oracle(
    utts: pd.DataFrame, *, normalize: Callable[[str], str], costs: str = "sclite"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Oracle errors and rank of each n-best list, and per system: top-1 WER, oracle WER, rank shares.

    The oracle hypothesis is the first (best-scored) one with the fewest word errors; rank 1 means the
    decoder's own choice was already the best its list had to offer.
    """
    if "nbest" not in utts.columns:
        return pd.DataFrame(), pd.DataFrame()
    listed = np.fromiter((isinstance(v, list) and len(v) > 0 for v in utts["nbest"]), bool, len(utts))
    rows = utts[~utts["failed"].astype(bool).to_numpy() & listed]  # iterating gives lists (Arrow or not)
    if rows.empty:
        return pd.DataFrame(), pd.DataFrame()
    lists = [
        _nbest_texts(v, f"{ts}/{s}/{u}")
        for v, ts, s, u in zip(rows["nbest"], rows["testset"], rows["system"], rows["utt_id"], strict=True)
    ]
    sizes = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
    owner = np.repeat(np.arange(len(lists)), sizes)
    refs = rows["ref"].fillna("").astype(str).to_numpy()[owner].tolist()
    hyps = [normalize(t) for texts in lists for t in texts]
    counts = align_counts(refs, hyps, costs, want_ops=False).counts
    errors = counts[:, 1:].sum(axis=1)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    best = np.minimum.reduceat(errors, starts)
    at_best = np.flatnonzero(errors == best[owner])
    first_best = np.full(len(lists), np.iinfo(np.int64).max)
    np.minimum.at(first_best, owner[at_best], at_best)
    per_utt = rows[["testset", "system", "utt_id", "ref_words"]].reset_index(drop=True)
    per_utt["nbest_size"] = sizes
    per_utt["errors"] = word_errors(rows)
    per_utt["top1_errors"] = errors[starts]
    per_utt["oracle_errors"] = best
    per_utt["oracle_rank"] = first_best - starts + 1
    grouped = per_utt.groupby(["testset", "system"], sort=True)
    summary = grouped.agg(
        utts=("utt_id", "size"),
        ref_words=("ref_words", "sum"),
        mean_nbest=("nbest_size", "mean"),
        errors=("errors", "sum"),
        top1_errors=("top1_errors", "sum"),
        oracle_errors=("oracle_errors", "sum"),
        oracle_rank1=("oracle_rank", lambda r: float(np.mean(r == 1))),
    ).reset_index()
    summary["wer"] = summary["errors"] / summary["ref_words"].where(summary["ref_words"] > 0)
    summary["top1_wer"] = summary["top1_errors"] / summary["ref_words"].where(summary["ref_words"] > 0)
    summary["oracle_wer"] = summary["oracle_errors"] / summary["ref_words"].where(summary["ref_words"] > 0)
    return per_utt, summary


@dataclass(frozen=True)
class NBestEntry(AlignedText):
    """One hypothesis of an n-best list, aligned with the reference; ``is_oracle`` marks the list's oracle."""

    rank: int = 0
    wer: float = math.nan
    am_score: float | None = None
    lm_score: float | None = None
    neural_score: float | None = None
    score: float | None = None
    is_oracle: bool = False


def nbest_entries(
    rows: pd.DataFrame, *, normalize: Callable[[str], str], costs: str = "sclite"
) -> dict[str, list[NBestEntry]]:
    """Each system's n-best list of one utterance (``rows``: its row per system), every entry aligned.

    The oracle is ``nbest_oracle``'s (the first entry with the fewest word errors).
    """
    if "nbest" not in rows:
        return {}
    oracle, _ = nbest_oracle(rows, normalize=normalize, costs=costs)
    ranks = dict(zip(oracle.get("system", []), oracle.get("oracle_rank", []), strict=True))
    out: dict[str, list[NBestEntry]] = {}
    for system, ref, entries in zip(rows["system"], rows["ref"], rows["nbest"], strict=True):
        if not isinstance(entries, list) or not entries or system not in ranks:
            continue
        texts = [normalize(str(e.get("text", ""))) for e in entries]
        alignments = align_many([str(ref)] * len(texts), texts, costs)
        out[str(system)] = [
            NBestEntry(
                text, list(al.pairs()), al.errors, k, al.wer, entry.get("am_score"), entry.get("lm_score"),
                entry.get("neural_score"), entry.get("score"), k == int(ranks[system]),
            )
            for k, (text, al, entry) in enumerate(zip(texts, alignments, entries, strict=True), start=1)
        ]  # fmt: skip
    return out
