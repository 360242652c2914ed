"""Bridge from a results directory to analysis' per-utterance and per-system tables (through its cache).

INTERIM: ``analysis.tables``/``analysis.cache`` are being written in parallel; until they land this module
assembles the documented tables from analysis' aligner (``align_counts``) and bootstrap
(``significance.bootstrap_group_sums``). It is replaced by a direct call to analysis when those land.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from analysis.align import align_counts
from analysis.significance import bootstrap_group_sums
from manifests.normalize import get_normalizer
from manifests.results import RunInfo, iter_systems

NESTED = ("nbest", "word_times")


def _read_predictions(path: Path) -> pd.DataFrame:
    rows = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                row = json.loads(line)
                for key in NESTED:
                    if key in row:
                        row[key] = json.dumps(row[key], separators=(",", ":"))
                rows.append(row)
    return pd.DataFrame(rows)


def score_results(
    results_dir: Path, normalizer: str, cache_dir: Path | None, runs: Mapping[tuple[str, str], RunInfo | None]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    normalize = get_normalizer(normalizer)
    frames = []
    for ref in tqdm(list(iter_systems(results_dir)), desc=f"scoring ({normalizer})", unit="system"):
        frame = _read_predictions(ref.predictions)
        frame.insert(0, "system", ref.system)
        frame.insert(0, "testset", ref.testset)
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    if "utt_id" not in table:
        table["utt_id"] = table["audio_filepath"].map(lambda p: Path(p).stem)
    failed = table["error"].notna() if "error" in table else pd.Series(False, index=table.index)
    refs = [normalize(t) for t in table["text"].astype(str)]
    hyps = [normalize(t) for t in table["pred_text"].fillna("").astype(str)]
    words = align_counts(refs, hyps, "sclite")
    chars = align_counts(refs, hyps, "sclite", unit="char", want_ops=False)
    table["ref"], table["hyp"] = refs, hyps
    for k, name in enumerate("CSDI"):
        table[name] = words.counts[:, k]
        table[f"char_{name}"] = chars.counts[:, k]
    table["ref_words"] = table["C"] + table["S"] + table["D"]
    table["hyp_words"] = table["C"] + table["S"] + table["I"]
    table["ref_chars"] = table["char_C"] + table["char_S"] + table["char_D"]
    errors = table["S"] + table["D"] + table["I"]
    table["wer"] = np.where(table["ref_words"] > 0, errors / table["ref_words"].clip(lower=1), np.nan)
    table["cer"] = np.where(
        table["ref_chars"] > 0,
        (table["char_S"] + table["char_D"] + table["char_I"]) / table["ref_chars"].clip(lower=1),
        np.nan,
    )
    table["sentence_error"] = errors > 0
    table["wmr"] = np.where(table["ref_words"] > 0, table["C"] / table["ref_words"].clip(lower=1), np.nan)
    table["ops"] = words.ops
    table["failed"] = failed.to_numpy()
    if "speaker" not in table:
        table["speaker"] = None
    return table, _system_table(table, runs, normalize.spec)


def _system_table(
    table: pd.DataFrame, runs: Mapping[tuple[str, str], RunInfo | None], spec: str
) -> pd.DataFrame:
    rows = []
    for (testset, system), group in table.groupby(["testset", "system"], sort=True):
        sums = group[["C", "S", "D", "I", "ref_words", "char_S", "char_D", "char_I", "ref_chars"]].sum()
        errors = sums["S"] + sums["D"] + sums["I"]
        boot = bootstrap_group_sums(
            np.column_stack([group["S"] + group["D"] + group["I"], group["ref_words"]])
        )
        rates = boot[:, 0, 0] / np.maximum(boot[:, 0, 1], 1)
        info = runs.get((testset, system))
        words = max(int(sums["ref_words"]), 1)
        rows.append(
            {
                "testset": testset,
                "system": system,
                "utts": len(group),
                "ref_words": int(sums["ref_words"]),
                "C": int(sums["C"]),
                "S": int(sums["S"]),
                "D": int(sums["D"]),
                "I": int(sums["I"]),
                "wer": errors / words,
                "wer_lo": float(np.quantile(rates, 0.025)),
                "wer_hi": float(np.quantile(rates, 0.975)),
                "cer": (sums["char_S"] + sums["char_D"] + sums["char_I"]) / max(int(sums["ref_chars"]), 1),
                "ser": float(group["sentence_error"].mean()),
                "wmr": sums["C"] / words,
                "mean_word_accuracy": np.nan,
                "sub_rate": sums["S"] / words,
                "del_rate": sums["D"] / words,
                "ins_rate": sums["I"] / words,
                "rtfx": info.rtfx if info else None,
                "audio_seconds": info.audio_seconds if info else float(group["duration"].sum()),
                "normalizer": spec,
                "decoder": (info.decoder.get("type") if info else None) or system.split("@", 1)[-1],
                "params": json.dumps(info.decoder.get("params", {}), sort_keys=True) if info else "",
            }
        )
    return pd.DataFrame(rows)
