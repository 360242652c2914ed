"""The per-utterance and per-system tables that ``werbench score``, the reports and the dashboard all read.

Per utterance and system (one row per ``(testset, system, utt_id)``): the normalised texts, the sclite
counts and ops of the one aligner, CER counts, WER/CER/SER/WMR, duration, speaker and every other
manifest field. Per system, pooled over the corpus: WER with a 95% bootstrap confidence interval
(Bisani & Ney 2004: utterances, or speakers with ``speaker_ci``, resampled with replacement; seeded),
CER, SER, WMR, mean word accuracy (SDE's definition: the unweighted mean, over the distinct reference
words, of each word's share of correct occurrences), S/D/I rates and RTFx from ``run.json``.

Failed utterances (a prediction with an ``error`` field) and missing ones (no hypothesis at all) keep
their row with ``failed=True`` (``missing=True`` for the latter) and their ``failure`` text. By default
(``missing="deletions"``) they are scored as an empty hypothesis is: every reference word a deletion, so
every system's WER, CER and SER cover the whole reference test set and a decoder that fails on the
hardest utterances can never rank better for it. ``missing="ignore"`` is sclite's "decoded utterances
only" figure: they get zero counts and NaN rates and are left out of every pooled number. The ``scored``
column says which rows the pooled numbers (and the comparisons) count; the per-system ``failed`` and
``missing`` columns count them, and the warnings name them.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from tqdm import tqdm
from werbench.aligner.align import CER_MODES, MAX_CELLS, get_costs
from werbench.aligner.pairs import correct_ops, ref_consuming
from werbench.analysis.bootstrap import bootstrap_ci
from werbench.analysis.cache import AlignmentCache, align_texts
from werbench.analysis.inputs import NO_HYPOTHESIS, Hypotheses, Inputs, TestSet, shown_ids
from werbench.analysis.speakers import with_speakers
from werbench.analysis.system_order import order_systems
from werbench.manifests.errors import ConfigError, ManifestError
from werbench.manifests.normalize import Normalizer, default_normalizer, get_normalizer
from werbench.manifests.ref_syntax import has_alternations, normalize_references
from werbench.manifests.results import RunInfo

UTTERANCE_COLUMNS = [
    "testset", "system", "utt_id", "ref", "hyp", "C", "S", "D", "I", "ref_words", "hyp_words", "wer",
    "char_C", "char_S", "char_D", "char_I", "ref_chars", "cer", "sentence_error", "wmr", "ops", "failed",
    "duration", "speaker", "missing", "scored",
]  # fmt: skip
SYSTEM_COLUMNS = [
    "testset", "system", "utts", "ref_words", "C", "S", "D", "I", "wer", "wer_lo", "wer_hi", "failed",
    "missing", "cer", "ser",
    "wmr", "mean_word_accuracy", "sub_rate", "del_rate", "ins_rate", "rtfx", "audio_seconds", "normalizer",
    "decoder", "params", "lineage",
]  # fmt: skip
_CHAR = ["char_C", "char_S", "char_D", "char_I"]
MISSING_POLICIES = ("deletions", "ignore")  # how failed and missing utterances are scored (module docstring)


@dataclass
class Tables:
    """Both tables plus every warning met on the way (the CLI prints them; nothing is dropped silently)."""

    utterances: pd.DataFrame
    systems: pd.DataFrame
    normalizer: str
    costs: str
    warnings: list[str] = field(default_factory=list)
    cer: str = "levenshtein"  # the CER mode (``align.cer_counts``)
    datasets: dict[str, pd.DataFrame] = field(default_factory=dict)  # test sets without systems
    compounds: bool = False  # split and joined compounds scored as correct (the Open ASR Leaderboard's rule)
    optional_deletable: bool = False  # sclite -D: (uh) may be left out of either side, scored correct
    missing: str = "deletions"  # how failed and missing utterances were scored (``MISSING_POLICIES``)
    # per test set whose systems share their references (no alternations): ``ReferenceWords.summary``
    reference_words: dict[str, dict[str, Any]] = field(default_factory=dict)
    cache_key: str | None = None  # the table cache's key when they went through it (``table_cache``)


def rate(num: float, den: float) -> float:
    """A ratio that is NaN, not an error, when nothing was counted."""
    return num / den if den else math.nan


def _canonical(spec: str) -> str:
    """A recorded spec as this werbench names it (``none@1`` is ``sclite@1``); an unknown one as written."""
    try:
        return get_normalizer(spec).spec
    except ConfigError:
        return spec


def choose_normalizer(inputs: Inputs, requested: str | None, warnings: list[str]) -> Normalizer:
    """The requested text mode, else the one all runs recorded, else ``sclite`` when every reference is a
    trn file (sclite's own reading) and ``none`` otherwise; disagreeing runs are named."""
    recorded = {
        f"{ts.name}/{s.system}": s.run_info.normalizer
        for ts in inputs.testsets
        for s in ts.systems
        if s.run_info
    }
    if requested:
        chosen = get_normalizer(requested)
        others = {run: spec for run, spec in recorded.items() if _canonical(spec) != chosen.spec}
        if others:
            listed = ", ".join(f"{run} ({spec})" for run, spec in others.items())
            warnings.append(
                f"runs recorded another normaliser than {chosen.spec}: {listed}; all are scored with it"
            )
        return chosen
    if len({_canonical(spec) for spec in recorded.values()}) > 1:
        listed = ", ".join(f"{run}: {spec}" for run, spec in recorded.items())
        raise ConfigError(
            "normalizer",
            f"the runs recorded different normalisers ({listed}); choose one with --normalize NAME",
        )
    trn = bool(inputs.testsets) and all(ts.reference.path.suffix.lower() == ".trn" for ts in inputs.testsets)
    return get_normalizer(default_normalizer(recorded.values(), trn_reference=trn))


@dataclass(frozen=True)
class ReferenceWords:
    """A test set's reference words in corpus order as integer codes, and how many each utterance has.

    The systems of a test set share it, so per-word statistics cost one pass over each system's ops.
    """

    codes: np.ndarray
    per_utt: np.ndarray
    vocabulary: pd.Index

    @classmethod
    def of(cls, refs: Sequence[str] | pd.Series, costs: str = "sclite") -> ReferenceWords:
        """Split in Arrow (``ascii_split_whitespace``: the aligner's separators), not string by string."""
        arrow = isinstance(refs, pd.Series) and isinstance(refs.dtype, pd.StringDtype)
        texts = pa.array(refs.array if arrow else list(refs), pa.large_string(), from_pandas=True)
        pieces = pc.ascii_split_whitespace(texts)
        words = pc.list_flatten(pieces)
        keep = pc.not_equal(words, "")  # a leading or trailing space gives an empty piece
        if get_costs(costs).null_word:
            keep = pc.and_(keep, pc.not_equal(words, "@"))
        sizes = pc.list_value_length(pieces).fill_null(0).to_numpy(zero_copy_only=False)
        owner = np.repeat(np.arange(len(texts)), sizes)[keep.to_numpy(zero_copy_only=False)]
        kept = words.filter(keep)
        kept = kept.combine_chunks() if isinstance(kept, pa.ChunkedArray) else kept
        encoded = kept.dictionary_encode()  # codes in order of first appearance, as pd.factorize's
        codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        vocabulary = pd.Index(pd.array(encoded.dictionary, dtype="str"))
        return cls(codes, np.bincount(owner, minlength=len(texts)), vocabulary)

    def summary(self) -> dict[str, Any]:
        """Distinct words, word count and alphabet: what a test set's statistics read of its words
        (``dataset.dataset_stats``), kept with the cached tables so a dashboard need not split them again."""
        alphabet = "".join(sorted(set("".join(self.vocabulary))))  # of the words: no null word, no spaces
        return {"vocabulary": len(self.vocabulary), "words": int(self.codes.size), "alphabet": alphabet}

    def correct(self, ops: Sequence[str], scored: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(codes, correct)`` of the reference words of the ``scored`` utterances, given every row's ops."""
        kept = "".join(op for op, keep in zip(ops, scored, strict=True) if keep)
        ref_ops = np.frombuffer(kept.encode("ascii"), np.uint8)
        ref_ops = ref_ops[ref_consuming(ref_ops)]
        mask = np.repeat(np.asarray(scored, bool), self.per_utt)
        if len(ref_ops) != int(mask.sum()):
            raise ValueError(f"{int(mask.sum())} reference words but {len(ref_ops)} reference ops")
        return self.codes[mask], correct_ops(ref_ops)

    def mean_accuracy(self, ops: Sequence[str], scored: np.ndarray) -> float:
        """SDE's mean word accuracy: unweighted mean over the distinct words of each one's share correct."""
        codes, correct = self.correct(ops, scored)
        seen = np.bincount(codes, minlength=len(self.vocabulary))
        hits = np.bincount(codes, weights=correct, minlength=len(self.vocabulary))
        return float((hits[seen > 0] / seen[seen > 0]).mean()) if codes.size else math.nan


def reference_word_hits(refs: Sequence[str], ops: Sequence[str], costs: str = "sclite") -> pd.DataFrame:
    """One row per reference word occurrence: ``word`` and ``correct`` (aligned as C), in corpus order.

    Reference words are consumed by the C, S and D ops in order; sclite's null word ``@`` consumes none.
    """
    words = ReferenceWords.of(refs, costs)
    codes, correct = words.correct(ops, np.ones(len(refs), bool))
    return pd.DataFrame({"word": words.vocabulary[codes].tolist(), "correct": correct})


def mean_word_accuracy(refs: Sequence[str], ops: Sequence[str], costs: str = "sclite") -> float:
    return ReferenceWords.of(refs, costs).mean_accuracy(ops, np.ones(len(refs), bool))


def _run_fields(info: RunInfo | None, durations: pd.Series) -> dict[str, Any]:
    audio = info.audio_seconds if info and info.audio_seconds else float(durations.sum(min_count=1))
    rtfx = math.nan
    if info is not None:
        spent = (info.am_seconds or 0.0) + (info.decode_seconds or 0.0)
        rtfx = (
            info.rtfx
            if info.rtfx
            else (info.audio_seconds / spent if spent and info.audio_seconds else math.nan)
        )
    decoder = info.decoder if info else {}
    lineage = decoder.get("lineage")
    if isinstance(lineage, dict):  # what the runner recorded it consumed, with the logits it decoded
        lineage = {**lineage, "type": decoder.get("type"), "logits": (info.model or {}).get("sha256")}  # type: ignore[union-attr]
    return {
        "rtfx": rtfx,
        "audio_seconds": audio,
        "decoder": decoder.get("type"),
        "params": json.dumps(decoder.get("params", {}), sort_keys=True) if decoder else None,
        "lineage": json.dumps(lineage, sort_keys=True) if isinstance(lineage, dict) else None,
    }


class _Shared:
    """What the systems of one test set share: raw and (on first use) normalised references, their words."""

    def __init__(self, testset: TestSet, normalizer: Normalizer) -> None:
        texts = testset.reference.frame["text"].tolist()
        self.raw_refs = texts
        self.normalized_refs = functools.cache(lambda: normalize_references(texts, normalizer))
        self._words: ReferenceWords | None = None
        self._alternations = has_alternations("".join(texts))

    def words(self, frame: pd.DataFrame, costs: str) -> ReferenceWords:
        """From the first system's (possibly cached) normalised references: all systems have the same, unless
        references have alternations (each system's ``ref`` is then the alternatives it was aligned with)."""
        if self._alternations:
            return ReferenceWords.of(frame["ref"], costs)
        if self._words is None:
            self._words = ReferenceWords.of(frame["ref"], costs)
        return self._words

    def summary(self) -> dict[str, Any] | None:
        """``ReferenceWords.summary`` of the words every system shares (None: alternations, or none yet)."""
        return None if self._alternations or self._words is None else self._words.summary()


def _utterance_rows(
    testset: TestSet, hyps: Hypotheses, normalizer: Normalizer, costs: str, cache: AlignmentCache | None,
    shared: _Shared, cer: str, speaker_from_id: str | None, compounds: bool = False,
    missing: str = "deletions", optional_deletable: bool = False,
) -> tuple[pd.DataFrame, int]:  # fmt: skip
    """One system's rows (its frame is in reference order, see ``inputs.match``), and how many of them
    were too long for a character alignment."""
    reference, predictions = testset.reference.frame, hyps.frame
    if not pd.Index(predictions["utt_id"]).equals(pd.Index(reference["utt_id"])):  # values only, any dtype
        raise ValueError(f"{testset.name}/{hyps.system}: rows not in the reference's order (inputs.match)")
    failure = predictions["failure"]
    failed = failure.notna().to_numpy()
    absent = (failure == NO_HYPOTHESIS).fillna(False).to_numpy(bool)
    pred_text = predictions["pred_text"].where(~failed) if failed.any() else predictions["pred_text"]
    hyp_texts = pred_text.fillna("").tolist()
    try:
        aligned = align_texts(
            shared.raw_refs, hyp_texts, normalizer, normalizer.spec, costs,
            cer=cer, compounds=compounds, optional_deletable=optional_deletable,
            normalized_refs=shared.normalized_refs, cache=cache,
        )  # fmt: skip
    except ValueError as exc:
        if "DP cells" not in str(exc):
            raise
        sizes = [len(r.split()) * len(h.split()) for r, h in zip(shared.raw_refs, hyp_texts, strict=True)]
        worst = int(np.argmax(sizes))
        n_ref, n_hyp = len(shared.raw_refs[worst].split()), len(hyp_texts[worst].split())
        raise ManifestError(
            hyps.path,
            f"utterance {reference['utt_id'].iloc[worst]!r}: {n_ref:,} reference x {n_hyp:,} hyp words "
            f"is beyond the aligner's limit of {MAX_CELLS:,} DP cells (alignment is O(n*m)); split it",
            field="pred_text",
        ) from None
    counts = aligned[["C", "S", "D", "I"]].to_numpy(np.int64, copy=True)  # cached columns are read-only
    chars = aligned[_CHAR].to_numpy(np.int64, copy=True)
    too_long = chars[:, 0] < 0
    ref_words = counts[:, 0] + counts[:, 1] + counts[:, 2]
    ref_chars = np.where(too_long, 0, chars[:, 0] + chars[:, 1] + chars[:, 2])
    kept = ~failed if missing == "ignore" else np.ones(len(failed), bool)  # failed: aligned as empty
    counts[~kept] = 0
    chars[~kept | too_long] = 0
    errors = counts[:, 1:].sum(axis=1)
    scored = kept & (ref_words > 0)
    char_scored = kept & ~too_long & (ref_chars > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        wer = np.where(scored, errors / np.maximum(ref_words, 1), np.nan)
        cer = np.where(char_scored, chars[:, 1:].sum(axis=1) / np.maximum(ref_chars, 1), np.nan)
        wmr = np.where(scored, counts[:, 0] / np.maximum(ref_words, 1), np.nan)
    columns: dict[str, Any] = {
        "testset": testset.name,
        "system": hyps.system,
        "utt_id": reference["utt_id"].array,
        "ref": shared_text(aligned["ref"], reference["text"]),
        "hyp": shared_text(aligned["hyp"], pred_text),
        **{name: counts[:, k] for k, name in enumerate("CSDI")},
        "ref_words": ref_words,
        "hyp_words": counts[:, 0] + counts[:, 1] + counts[:, 3],
        "wer": wer,
        **{name: chars[:, k] for k, name in enumerate(_CHAR)},
        "ref_chars": ref_chars,
        "cer": cer,
        "sentence_error": kept & (errors > 0),
        "wmr": wmr,
        "ops": (aligned["ops"] if kept.all() else aligned["ops"].where(kept, "")).array,
        "failed": failed,
        "duration": reference["duration"].to_numpy(float),
        "speaker": with_speakers(reference["speaker"], reference["utt_id"], speaker_from_id).array,
        "missing": absent,
        "scored": kept,
        "failure": failure.array,
        "text": reference["text"].array,
        "pred_text": pred_text.array,
    }
    for source in (reference, predictions):  # every other manifest field, then the predictions' extras
        for name in source.columns:
            columns.setdefault(name, source[name].array)
    return pd.DataFrame(columns), int(too_long.sum())


def shared_text(values: pd.Series, same_as: pd.Series) -> Any:
    """``values``' array, or ``same_as``' when they are equal row for row (nulls included), as a ``none``
    normaliser's texts are: one copy of the texts in memory, not two (~0.6 GB at 1M utterances x 4)."""
    try:
        equal = pa.array(values.array).equals(pa.array(same_as.array))
    except (pa.ArrowException, TypeError):
        equal = False
    return same_as.array if equal else values.array


DATASET_COLUMNS = ["testset", "utt_id", "ref", "ref_words", "ref_chars", "duration", "speaker", "text"]


def dataset_rows(
    testset: TestSet, normalizer: Normalizer, costs: str, cache: AlignmentCache | None, cer: str
) -> pd.DataFrame:
    """A test set without systems (a dataset to explore, as SDE does for training data): the per-utterance
    table's reference columns (``DATASET_COLUMNS``), then every manifest field. Words and characters are
    counted by the one aligner, the references aligned with themselves, so they match the scored tables."""
    reference = testset.reference.frame
    texts = reference["text"].fillna("").tolist()
    aligned = align_texts(texts, texts, normalizer, normalizer.spec, costs, cer=cer, cache=cache)
    ref_words = aligned["C"].to_numpy(np.int64)
    ref_chars = np.maximum(aligned["char_C"].to_numpy(np.int64), 0)  # -1: too long for characters
    columns: dict[str, Any] = {
        "testset": testset.name,
        "utt_id": reference["utt_id"].array,
        "ref": aligned["ref"].array,
        "ref_words": ref_words,
        "ref_chars": ref_chars,
        "duration": reference["duration"].to_numpy(float),
        "speaker": reference["speaker"].array,
        "text": reference["text"].array,
    }
    for name in reference.columns:
        columns.setdefault(name, reference[name].array)
    return pd.DataFrame(columns)


def system_row(
    utts: pd.DataFrame, info: RunInfo | None, normalizer: str, costs: str, *,
    n_resamples: int = 1000, seed: int = 0, speaker_ci: bool = False, words: ReferenceWords | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Pooled metrics of one system's ``scored`` rows of the per-utterance table.

    ``words`` are the rows' reference words when the caller already has them (shared by a test set).
    """
    ok = utts[utts["scored"]]
    words = words if words is not None else ReferenceWords.of(utts["ref"], costs)
    ref_words = int(ok["ref_words"].sum())
    c, s, d, i = (int(ok[name].sum()) for name in "CSDI")
    errors = (ok["S"] + ok["D"] + ok["I"]).to_numpy()
    blocks = ok["speaker"].tolist() if speaker_ci else None
    lo, hi = bootstrap_ci(
        errors, ok["ref_words"].to_numpy(), blocks=blocks, n_resamples=n_resamples, seed=seed
    )
    ref_chars = int(ok["ref_chars"].sum())
    char_errors = int(ok[["char_S", "char_D", "char_I"]].to_numpy().sum())
    return {
        "testset": utts["testset"].iat[0],
        "system": utts["system"].iat[0],
        "utts": len(ok),
        "ref_words": ref_words,
        "C": c,
        "S": s,
        "D": d,
        "I": i,
        "wer": rate(s + d + i, ref_words),
        "wer_lo": lo,
        "wer_hi": hi,
        "failed": int((utts["failed"] & ~utts["missing"]).sum()),
        "missing": int(utts["missing"].sum()),
        "cer": rate(char_errors, ref_chars),
        "ser": rate(int(ok["sentence_error"].sum()), len(ok)),
        "wmr": rate(c, ref_words),
        "mean_word_accuracy": words.mean_accuracy(utts["ops"].tolist(), utts["scored"].to_numpy(bool)),
        "sub_rate": rate(s, ref_words),
        "del_rate": rate(d, ref_words),
        "ins_rate": rate(i, ref_words),
        **_run_fields(info, utts["duration"]),
        "normalizer": normalizer,
        "hyp_words": int(ok["hyp_words"].sum()),
        "ref_chars": ref_chars,
        "char_errors": char_errors,
        "ci": "speaker" if speaker_ci else "utterance",
    }


def _input_warnings(frame: pd.DataFrame, too_long: int, where: str, warnings: list[str]) -> None:
    unscored = int((~frame["scored"]).sum())
    if unscored:
        warnings.append(
            f"{where}: {unscored} failed or missing utterances are left out of every score (--missing "
            "ignore: sclite's decoded-utterances-only figure)"
        )
    elif frame["failed"].any():
        warnings.append(
            f"{where}: {int(frame['failed'].sum())} failed or missing utterances count as all deletions in "
            "every score (--missing ignore leaves them out, as sclite does)"
        )
    ok = frame[~frame["failed"]]
    empty_refs = ok.loc[ok["ref_words"] == 0, "utt_id"].tolist()
    if empty_refs:
        warnings.append(
            f"{where}: {len(empty_refs)} references are empty after normalisation ({shown_ids(empty_refs)}): "
            "their WER is undefined (NaN); their insertions still count in the pooled WER"
        )
    empty_hyps = int((ok["hyp_words"] == 0).sum() - ((ok["ref_words"] == 0) & (ok["hyp_words"] == 0)).sum())
    if empty_hyps:
        warnings.append(
            f"{where}: {empty_hyps} hypotheses are empty: all their reference words count as deletions"
        )
    if too_long:
        warnings.append(
            f"{where}: {too_long} utterances are too long for a character alignment: left out of CER"
        )


def build_tables(
    inputs: Inputs,
    *,
    normalize: str | None = None,
    costs: str = "sclite",
    cache: AlignmentCache | None = None,
    cer: str = "levenshtein",
    missing: str = "deletions",
    n_resamples: int = 1000,
    seed: int = 0,
    speaker_ci: bool = False,
    speaker_from_id: str | None = None,
    compounds: bool = False,
    optional_deletable: bool = False,
    progress: bool = False,
) -> Tables:
    """Align every system of every test set (through ``cache``) and pool the per-system metrics.

    ``cer``: the CER mode (``aligner.align.cer_counts``); ``missing``: how failed and missing utterances
    are scored (``MISSING_POLICIES``, module docstring); ``speaker_ci``: bootstrap the WER
    interval over speakers; ``speaker_from_id``: a regex giving utterances without a speaker field one
    from their id (``analysis.speakers``); ``compounds``: score ``data base`` against ``database`` (either way
    round) as correct, as the Open ASR Leaderboard does; ``optional_deletable``: sclite's ``-D``, a word in
    parentheses such as ``(uh)`` may be left out of either side and is then scored correct (both
    ``aligner.align.align_counts``).
    """
    costs = get_costs(costs).name  # validated, and a deprecated alias recorded under its current name
    if cer not in CER_MODES:
        raise ConfigError("cer", f"unknown CER mode {cer!r}; choose one of {', '.join(CER_MODES)}")
    if missing not in MISSING_POLICIES:
        raise ConfigError(
            "missing", f"unknown policy {missing!r}; choose one of {', '.join(MISSING_POLICIES)}"
        )
    warnings = list(inputs.warnings)
    normalizer = choose_normalizer(inputs, normalize, warnings)
    for empty in (t.name for t in inputs.testsets if t.reference.frame.empty):
        warnings.append(f"{empty}: the reference has no utterances; nothing to score")
    jobs = [(t, hyps) for t in inputs.testsets if not t.reference.frame.empty for hyps in t.systems]
    frames, rows = [], []
    shared: dict[str, _Shared] = {}
    pairs = sum(len(t.reference.frame) for t, _ in jobs)
    bar = tqdm(
        total=pairs, desc="aligning", unit="utt", unit_scale=True, disable=not progress or pairs < 50_000
    )
    for testset, hyps in jobs:
        if testset.name not in shared:
            shared[testset.name] = _Shared(testset, normalizer)
        frame, too_long = _utterance_rows(
            testset,
            hyps,
            normalizer,
            costs,
            cache,
            shared[testset.name],
            cer,
            speaker_from_id,
            compounds,
            missing,
            optional_deletable,
        )
        _input_warnings(frame, too_long, f"{testset.name}/{hyps.system}", warnings)
        frames.append(frame)
        row = system_row(
            frame, hyps.run_info, normalizer.spec, costs,
            n_resamples=n_resamples, seed=seed, speaker_ci=speaker_ci,
            words=shared[testset.name].words(frame, costs),
        )  # fmt: skip
        rows.append(row)
        bar.update(len(frame))
    bar.close()
    utterances = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=UTTERANCE_COLUMNS)
    del frames
    for name, same_as in (("ref", "text"), ("hyp", "pred_text")):
        if name in utterances and same_as in utterances:
            utterances[name] = shared_text(utterances[name], utterances[same_as])
    extra = [k for k in (rows[0] if rows else {}) if k not in SYSTEM_COLUMNS]
    systems = order_systems(pd.DataFrame(rows, columns=[*SYSTEM_COLUMNS, *extra]))
    datasets = {
        t.name: dataset_rows(t, normalizer, costs, cache, cer)
        for t in inputs.testsets
        if not t.systems and not t.reference.frame.empty
    }
    return Tables(
        utterances,
        systems,
        normalizer.spec,
        costs,
        warnings,
        cer,
        datasets,
        compounds=compounds,
        missing=missing,
        optional_deletable=optional_deletable,
        reference_words={name: s for name, words in shared.items() if (s := words.summary()) is not None},
    )
