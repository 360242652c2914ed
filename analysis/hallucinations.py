"""Hallucinations and runaway outputs: per-utterance flags with a reason, and per-system counts.

Each flag reads the one alignment's columns of the per-utterance table (``ops``, ``hyp``, counts), never
re-aligns:

- an *insertion run*: ``insertion_run`` (k, default 4) or more inserted words in a row in the ops;
- a *loop*: an n-gram (n up to ``loop_max_n``) repeated ``loop_repeats`` (default 3) or more times in a row
  in the hypothesis, when the reference does not hold the same repetition (a real "no no no" is no loop);
- *words on silence*: hypothesis words on an utterance that is silent: its normalised reference is empty
  (the test jiwer 4 allows empty references for), or its audio's peak level (``analysis.audio_metrics``,
  SDE's ``level_db``) is at or below ``silence_db`` (default -35 dBFS: nothing louder in the clip);
- *too fast*: more hypothesis than reference words at more than ``max_words_per_s`` (default 5: read speech
  runs at 2-3) over the utterance's duration.

``insertion rate on silence`` is the inserted words per silent utterance (and per minute of silent audio).
Empty-reference utterances are scored as the tables score them (their insertions count in the pooled WER,
their own WER is undefined), and counted here, not dropped. Failed hypotheses carry no flag.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from werbench.aligner.pairs import arrow_texts, op_rows
from werbench.analysis.audio_metrics import AudioMetricsCache, Clip, audio_measures

FLAG_COLUMNS = [
    "insertion_run",
    "loop",
    "hyp_words_per_s",
    "silent",
    "on_silence",
    "too_fast",
    "hallucination",
]
SUMMARY_COLUMNS = [
    "testset", "system", "utts", "flagged", "flagged_rate", "insertion_runs", "loops", "on_silence",
    "too_fast", "silent_utts", "empty_refs", "silence_insertions", "silence_insertion_rate",
    "silence_insertions_per_min", "audio_levels",
]  # fmt: skip
_INSERTIONS = re.compile(r"I+")
_BLOCK = 100_000  # rows flagged at a time (~1 GB of temporaries per million rows at once)


@dataclass(frozen=True, slots=True)
class HallucinationRules:
    """The thresholds of the module docstring."""

    insertion_run: int = 4
    loop_repeats: int = 3
    loop_max_n: int = 4
    max_words_per_s: float = 5.0
    silence_db: float = -35.0

    def loop_pattern(self) -> re.Pattern[str]:
        """A whole-word n-gram (n <= ``loop_max_n``) followed by ``loop_repeats - 1`` copies of itself."""
        gram = rf"\S+(?: \S+){{0,{self.loop_max_n - 1}}}"
        return re.compile(rf"(?<!\S)({gram})(?: \1){{{self.loop_repeats - 1},}}(?!\S)")


def longest_insertion_runs(ops: pd.Series) -> np.ndarray:
    """Each row's longest run of consecutive I ops, over all rows' op bytes at once."""
    op, row, lengths = op_rows(ops)
    out = np.zeros(len(lengths), np.int64)
    inserted = op == ord("I")
    if not inserted.any():
        return out
    starts = inserted & np.concatenate([[True], ~inserted[:-1] | (row[1:] != row[:-1])])
    run = np.cumsum(starts)[inserted]  # which run each inserted op belongs to
    sizes = np.bincount(run)
    first = np.flatnonzero(starts)
    np.maximum.at(out, row[first], sizes[1:])
    return out


def _repeat_candidates(hyps: pd.Series, rules: HallucinationRules) -> np.ndarray:
    """Rows whose hypothesis has a word equal to the words n, 2n, ... after it (n <= ``loop_max_n``): the
    only rows that can hold a loop, found over all words at once (integer codes, no Python per word)."""
    texts = arrow_texts(hyps)
    pieces = pc.utf8_split_whitespace(texts)
    sizes = pc.list_value_length(pieces).fill_null(0).to_numpy(zero_copy_only=False)
    codes = pc.list_flatten(pieces).dictionary_encode().indices.to_numpy(zero_copy_only=False)
    row = np.repeat(np.arange(len(texts)), sizes)
    found = np.zeros(len(texts), bool)
    for n in range(1, rules.loop_max_n + 1):
        span = n * (rules.loop_repeats - 1)
        if len(codes) <= span:
            break
        same = row[:-span] == row[span:]
        for k in range(1, rules.loop_repeats):
            same &= codes[: len(codes) - span] == codes[k * n : len(codes) - span + k * n]
        found[row[:-span][same]] = True
    return found


def _loop(pattern: re.Pattern[str], hyp: str, ref: str) -> str:
    """``'n-gram' xN`` of the first loop in ``hyp`` that the reference does not repeat, else ``''``."""
    for match in pattern.finditer(hyp):
        if f" {match.group(0)} " not in f" {ref} ":
            gram = match.group(1)
            return f"'{gram}' x{(len(match.group(0)) + 1) // (len(gram) + 1)}"
    return ""


def audio_levels(utts: pd.DataFrame, cache: AudioMetricsCache | None = None) -> np.ndarray:
    """Each row's audio peak level in dBFS (``analysis.audio_metrics``, measured once per clip and cached;
    NaN where a row has no readable audio)."""
    if "audio_filepath" not in utts:
        return np.full(len(utts), np.nan)
    offsets = pd.to_numeric(utts.get("offset", pd.Series(0.0, index=utts.index)), errors="coerce").fillna(0.0)
    durations = pd.to_numeric(utts["duration"], errors="coerce")
    keys = list(zip(utts["audio_filepath"].fillna(""), offsets, durations, strict=True))
    distinct = list(dict.fromkeys(k for k in keys if k[0]))
    clips = [Clip(str(path), float(off), float(dur) if off else None) for path, off, dur in distinct]
    level = {k: m.level_db for k, m in zip(distinct, audio_measures(clips, cache), strict=True)}
    return np.array([level.get(k, np.nan) for k in keys], float)


def _loops(utts: pd.DataFrame, rules: HallucinationRules, failed: np.ndarray) -> np.ndarray:
    """Each row's ``_loop`` (``''``: none); the regex runs on the candidate rows only, their texts fetched
    in one Arrow gather (not a pandas lookup per row)."""
    loops = np.full(len(utts), "", dtype=object)
    candidates = np.flatnonzero(_repeat_candidates(utts["hyp"], rules) & ~failed)
    if len(candidates):
        pattern, at = rules.loop_pattern(), pa.array(candidates)
        hyps = arrow_texts(utts["hyp"]).take(at).to_pylist()
        refs = arrow_texts(utts["ref"]).take(at).to_pylist()
        loops[candidates] = [_loop(pattern, h, r) for h, r in zip(hyps, refs, strict=True)]
    return loops


def utterance_flags(
    utts: pd.DataFrame,
    rules: HallucinationRules = HallucinationRules(),
    levels: np.ndarray | None = None,
    text: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """``FLAG_COLUMNS`` for each row of ``utts`` (same order); ``levels`` is each row's audio peak level in
    dBFS (NaN: not measured), else silence is an empty reference only. ``hallucination`` is the reasons.
    ``text``: this function's answer without levels, already computed: its loops (the costly part) are
    reused and only the rows that levels make silent are explained again (levels arrive one by one)."""
    if text is not None and levels is None:
        return text
    n = len(utts)
    failed = utts["failed"].fillna(False).to_numpy(bool) if "failed" in utts else np.zeros(n, bool)
    hyp_words = utts["hyp_words"].to_numpy(np.int64)
    ref_words = utts["ref_words"].to_numpy(np.int64)
    if text is None:  # a block of rows at a time: each op and word of a block has arrays of 8-byte ints
        runs, loops = np.zeros(n, np.int64), np.full(n, "", dtype=object)
        for start in range(0, n, _BLOCK):
            block = slice(start, start + _BLOCK)
            runs[block] = longest_insertion_runs(utts["ops"].iloc[block])
            loops[block] = _loops(utts.iloc[block], rules, failed[block])
        duration = pd.to_numeric(utts["duration"], errors="coerce").to_numpy(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = np.where(duration > 0, hyp_words / duration, np.nan)
    else:
        runs, rate = text["insertion_run"].to_numpy(), text["hyp_words_per_s"].to_numpy()
    quiet = np.zeros(n, bool) if levels is None else np.nan_to_num(np.asarray(levels, float), nan=np.inf)
    silent = (ref_words == 0) | (quiet <= rules.silence_db if levels is not None else False)
    on_silence = silent & (hyp_words > 0) & ~failed
    too_fast = (rate > rules.max_words_per_s) & (hyp_words > ref_words) & ~failed
    long_run = (runs >= rules.insertion_run) & ~failed

    def why(k: int, loop: str) -> str:
        reasons = [f"{runs[k]} insertions in a row"] if long_run[k] else []
        reasons += [f"loop {loop}"] if loop else []
        reasons += [f"{hyp_words[k]} words on silence"] if on_silence[k] else []
        return "; ".join(reasons + ([f"{rate[k]:.1f} words/s"] if too_fast[k] else []))

    if text is not None:  # the text's columns kept (no copy); the reasons of rows now silent replaced
        flags = text.assign(silent=silent, on_silence=on_silence)
        again = np.flatnonzero(on_silence != text["on_silence"].to_numpy(bool))
        if len(again):
            reasons = text["hallucination"].copy()
            reasons.iloc[again] = [
                why(k, loop) for k, loop in zip(again, text["loop"].iloc[again], strict=True)
            ]
            flags["hallucination"] = reasons
        return flags
    reasons = np.full(n, "", dtype=object)
    for k in np.flatnonzero(long_run | (loops != "") | on_silence | too_fast):
        reasons[k] = why(k, loops[k])
    return pd.DataFrame(
        {
            "insertion_run": runs,
            "loop": loops,
            "hyp_words_per_s": rate,
            "silent": silent,
            "on_silence": on_silence,
            "too_fast": too_fast,
            "hallucination": reasons,
        },
        index=utts.index,
    )


def hallucination_summary(
    utts: pd.DataFrame,
    rules: HallucinationRules = HallucinationRules(),
    levels: np.ndarray | None = None,
    flags: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Per test set and system: utterances flagged per reason, silent and empty-reference utterances, and
    the insertion rate on silence (``SUMMARY_COLUMNS``); ``flags``: ``utterance_flags`` already computed."""
    if utts.empty:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    flags = utterance_flags(utts, rules, levels) if flags is None else flags
    frame = pd.concat([utts[["testset", "system", "ref_words", "I", "duration"]], flags], axis=1)
    frame["flagged"] = frame["hallucination"] != ""
    frame["long_run"] = frame["insertion_run"] >= rules.insertion_run
    frame["has_loop"] = frame["loop"] != ""
    frame["silence_I"] = np.where(frame["silent"], frame["I"], 0)
    frame["silence_s"] = np.where(frame["silent"], pd.to_numeric(frame["duration"], errors="coerce"), 0.0)
    grouped = frame.groupby(["testset", "system"], sort=True)
    out = grouped.agg(
        utts=("flagged", "size"), flagged=("flagged", "sum"), insertion_runs=("long_run", "sum"),
        loops=("has_loop", "sum"), on_silence=("on_silence", "sum"), too_fast=("too_fast", "sum"),
        silent_utts=("silent", "sum"), empty_refs=("ref_words", lambda r: int((r == 0).sum())),
        silence_insertions=("silence_I", "sum"), silence_seconds=("silence_s", "sum"),
    ).reset_index()  # fmt: skip
    out["flagged_rate"] = out["flagged"] / out["utts"]
    out["silence_insertion_rate"] = [
        i / s if s else math.nan for i, s in zip(out["silence_insertions"], out["silent_utts"], strict=True)
    ]
    out["silence_insertions_per_min"] = [
        60 * i / s if s else math.nan
        for i, s in zip(out["silence_insertions"], out["silence_seconds"], strict=True)
    ]
    out["audio_levels"] = levels is not None
    return out[SUMMARY_COLUMNS]


def flagged_utterances(
    utts: pd.DataFrame,
    rules: HallucinationRules = HallucinationRules(),
    levels: np.ndarray | None = None,
    flags: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The flagged rows: ``testset, system, utt_id, ref, hyp, duration`` and the flags (``flags``:
    ``utterance_flags`` already computed)."""
    if utts.empty:
        return pd.DataFrame(columns=["testset", "system", "utt_id", "ref", "hyp", "duration", *FLAG_COLUMNS])
    flags = utterance_flags(utts, rules, levels) if flags is None else flags
    at = np.flatnonzero((flags["hallucination"] != "").to_numpy(bool))  # only those rows' texts copied
    rows = utts[["testset", "system", "utt_id", "ref", "hyp", "duration"]].iloc[at]
    return pd.concat([rows, flags.iloc[at]], axis=1).reset_index(drop=True)
