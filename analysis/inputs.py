"""What ``werbench score/compare/report`` read: a reference plus hypothesis sources, matched by utterance id.

A reference is a NeMo manifest (JSON lines) or a sclite ``trn`` file. A hypothesis source is a result
manifest (``pred_text``), an SDE-style manifest whose ``pred_text_<system>`` fields are one system each
(a plain ``pred_text`` beside them is one more, named after the file), a ``trn`` file, or a results
directory ``RESULTS/<testset>/<system>/predictions.jsonl`` (reference: ``RESULTS/<testset>/manifest.jsonl``
or else the predictions' own reference fields). A system is named after its file's stem or its folder.

Nothing is dropped silently: ids missing from a hypothesis source become failed utterances ("no
hypothesis") and ids the reference lacks are ignored, both with a warning; duplicate ids, missing or
non-string ``pred_text`` are errors naming file, line and field.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm
from werbench.analysis.speakers import sclite_speakers
from werbench.manifests.columnar import arrow_frame, fill_ids, is_text, nested_to_arrow, prediction_columns_ok
from werbench.manifests.errors import ConfigError, ManifestError, ResultsDirError
from werbench.manifests.io import iter_json_rows, iter_lines, load_manifest, row_to_utterance
from werbench.manifests.ref_syntax import RefSyntaxError, check_reference, check_reference_lines
from werbench.manifests.results import (
    PREDICTION_FIELDS,
    PREDICTIONS,
    TESTSET_MANIFEST,
    RunInfo,
    iter_systems,
    prediction_field_problems,
    read_run_info,
    refuse_url,
)
from werbench.manifests.schema import CORE_FIELDS, derive_utt_id, duplicate_id_message
from werbench.manifests.trn import trn_columns

PRED = "pred_text"
PRED_PREFIX = "pred_text_"
NO_HYPOTHESIS = "no hypothesis for this utterance"
REFERENCE_COLUMNS = ("utt_id", "text", "duration", "speaker")
HYPOTHESIS_COLUMNS = ("utt_id", "pred_text", "failure", "text")
_NOT_EXTRA = frozenset((*CORE_FIELDS, "error"))
_SHOWN_IDS = 5


@dataclass(slots=True)
class RefUtt:
    """One reference utterance, for building a ``Reference`` in memory (``fields``: every other field)."""

    utt_id: str
    text: str
    duration: float | None = None
    speaker: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)


def _frame(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> pd.DataFrame:
    """Rows as a frame with at least ``columns``; nested values as Arrow arrays, as the file readers give."""
    frame = pd.DataFrame(rows)
    for name in columns:
        if name not in frame:
            frame[name] = pd.Series(None, index=frame.index, dtype=object)
    return nested_to_arrow(frame[[*columns, *(c for c in frame.columns if c not in columns)]])


@dataclass(slots=True)
class Reference:
    """A test set's utterances in file order, a row each: ``REFERENCE_COLUMNS`` then every other field."""

    path: Path
    frame: pd.DataFrame

    @classmethod
    def of(cls, path: str | Path, utts: Iterable[RefUtt]) -> Reference:
        rows = [
            {"utt_id": u.utt_id, "text": u.text, "duration": u.duration, "speaker": u.speaker, **u.fields}
            for u in utts
        ]
        frame = _frame(rows, REFERENCE_COLUMNS)
        frame["duration"] = frame["duration"].astype(float)
        return cls(Path(path), frame)


@dataclass(slots=True)
class Hypotheses:
    """One system's output for one test set, a row per utterance: ``HYPOTHESIS_COLUMNS`` then extras.

    ``pred_text`` is null where the decode failed and ``failure`` says why (else null); ``text`` is the
    reference text the predictions carry, if any; extras are every other prediction field (n-best,
    per-stage texts, word times). ``match`` puts the rows in the reference's order.
    """

    system: str
    path: Path
    frame: pd.DataFrame
    run_info: RunInfo | None = None

    @classmethod
    def of(
        cls,
        system: str,
        path: str | Path,
        texts: Mapping[str, str],
        failed: Mapping[str, str] | None = None,
        fields: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> Hypotheses:
        """From per-id mappings (``failed``: id -> why), rows in the order given: texts, then failures."""
        fields = fields or {}
        rows = [{"utt_id": uid, "pred_text": text} for uid, text in texts.items()]
        rows += [{"utt_id": uid, "failure": why} for uid, why in (failed or {}).items()]
        for row in rows:
            row.update(fields.get(row["utt_id"], {}))
        return cls(system, Path(path), _frame(rows, HYPOTHESIS_COLUMNS))


@dataclass(slots=True)
class TestSet:
    """A reference and the systems scored against it, already matched (see ``warnings`` of ``Inputs``)."""

    __test__ = False  # not a pytest class, whatever its name

    name: str
    reference: Reference
    systems: list[Hypotheses]


@dataclass(slots=True)
class Inputs:
    testsets: list[TestSet]
    warnings: list[str] = field(default_factory=list)


def shown_ids(ids: Iterable[str]) -> str:
    """A warning's list of ids: the first few and how many more."""
    ids = list(ids)
    shown = ", ".join(ids[:_SHOWN_IDS])
    return shown + (f" and {len(ids) - _SHOWN_IDS} more" if len(ids) > _SHOWN_IDS else "")


def read_reference(path: str | Path, audio_base: Path | None = None) -> Reference:
    """A NeMo manifest or (by its ``.trn`` suffix) a sclite trn file; duplicate ids are an error.

    ``audio_base``: where relative audio paths start (default: the manifest's folder)."""
    path = Path(path)
    if path.suffix.lower() == ".trn":
        table = trn_columns(path, reference=True)
        ids = pd.Series(pd.array(table["utt_id"], dtype="str"))
        frame = pd.DataFrame(
            {
                "utt_id": ids,
                "text": pd.array(table["text"], dtype="str"),
                "duration": np.full(len(ids), np.nan),
                "speaker": sclite_speakers(ids),
            }
        )
        return Reference(path, frame)
    frame = load_manifest(path, audio_base=audio_base).frame()
    _check_notation(path, frame["text"])
    return Reference(path, frame[[*REFERENCE_COLUMNS, *(c for c in frame if c not in REFERENCE_COLUMNS)]])


def _check_notation(path: Path, texts: pd.Series) -> None:
    """sclite alternations in a manifest's ``text`` (``manifests.ref_syntax``); only texts with a brace
    are parsed, and only a bad one costs a pass over the file for its line number."""
    candidates = texts.str.contains(r"[{}]", regex=True, na=False).to_numpy(bool)
    for k in np.flatnonzero(candidates).tolist():
        try:
            check_reference(texts.iloc[k])
        except RefSyntaxError:
            line = next(n for row, (n, _) in enumerate(iter_lines(path)) if row == k)
            check_reference_lines(path, [(line, texts.iloc[k])], parentheses=False)


def _row_id(path: Path, line: int, row: dict[str, Any]) -> str:
    utt_id = row.get("utt_id")
    if isinstance(utt_id, str) and utt_id:
        return utt_id
    audio = row.get("audio_filepath")
    if not isinstance(audio, str) or not audio:
        raise ManifestError(
            path, "no utt_id and no audio_filepath to derive one from", line=line, field="utt_id"
        )
    offset = row.get("offset") or 0.0
    return derive_utt_id(audio, float(offset) if isinstance(offset, int | float) else 0.0)


def _text_field(path: Path, line: int, row: dict[str, Any], name: str) -> str:
    value = row.get(name)
    if not isinstance(value, str):
        problem = "is missing" if value is None else f"must be a string, got {type(value).__name__}"
        raise ManifestError(path, f"hypothesis {problem}", line=line, field=name)
    return value


def _system_of(stem: str, key: str) -> str:
    return stem if key == PRED else key.removeprefix(PRED_PREFIX)


def _failure_of(error: Any) -> str:
    return str(error) or "decode failed"


def _systems_by_line(path: Path, stem: str) -> list[Hypotheses]:
    """The line-by-line reader: the authority on what a file means, and on where it is wrong."""
    systems: dict[str, list[dict[str, Any]]] = {}  # in order of first appearance, rows in file order
    seen: dict[str, int] = {}
    layouts: dict[tuple[str, ...], tuple[list[str], list[str]]] = {}  # key order -> (pred fields, extras)
    for line, row in iter_json_rows(path):
        utt_id = _row_id(path, line, row)
        if utt_id in seen:
            raise ManifestError(
                path,
                duplicate_id_message(utt_id, seen[utt_id], "utt_id" not in row),
                line=line,
                field="utt_id",
            )
        seen[utt_id] = line
        keys = tuple(row)
        if keys not in layouts:
            preds = [key for key in keys if key == PRED or key.startswith(PRED_PREFIX)]
            layouts[keys] = preds, [k for k in keys if k not in _NOT_EXTRA and k not in preds]
        preds, extra_keys = layouts[keys]
        for name, message in prediction_field_problems(row)[:1]:
            raise ManifestError(path, message, line=line, field=name)
        error = row.get("error")
        if not preds and error is None:
            raise ManifestError(path, "no pred_text (nor pred_text_<system>) field", line=line, field=PRED)
        common = {"text": row["text"] if isinstance(row.get("text"), str) else None}
        common.update((k, row[k]) for k in extra_keys)
        for key in preds or [PRED]:
            entry = {"utt_id": utt_id, **common}
            if error is not None:
                entry["failure"] = _failure_of(error)
            else:
                entry["pred_text"] = _text_field(path, line, row, key)
            systems.setdefault(_system_of(stem, key), []).append(entry)
    return [Hypotheses(name, path, _frame(rows, HYPOTHESIS_COLUMNS)) for name, rows in systems.items()]


def _ids_of(frame: pd.DataFrame) -> pd.Series | None:
    """Each row's utt_id (or the one its audio path and offset give), or None if some row has neither."""
    ids, audio, offset = frame.get("utt_id"), frame.get("audio_filepath"), frame.get("offset")
    has_id = (ids.notna() & (ids != "")).to_numpy(bool) if is_text(ids) else np.zeros(len(frame), bool)
    if has_id.all():
        return ids
    if not is_text(audio) or (audio[~has_id].isna() | (audio[~has_id] == "")).any():
        return None
    if offset is not None and not pd.api.types.is_numeric_dtype(offset):
        return None
    return fill_ids(ids, audio, offset)


def _systems_columnar(path: Path, stem: str) -> list[Hypotheses] | None:
    """The same systems as ``_systems_by_line`` from pyarrow's columns, or None where they could differ."""
    frame = arrow_frame(path)
    if frame is None:
        return None
    ids = _ids_of(frame)
    preds = [c for c in frame.columns if c == PRED or c.startswith(PRED_PREFIX)]
    error = frame.get("error")
    if (
        ids is None
        or ids.duplicated().any()
        or not preds
        or not all(is_text(frame[c]) and not frame[c].isna().any() for c in preds)
        or (error is not None and not is_text(error) and not error.isna().all())
        or not prediction_columns_ok(frame)
    ):
        return None  # every row of every system, or the line reader decides
    if error is None:
        failed, failure = pd.Series(False, index=frame.index), pd.Series(None, frame.index, dtype="str")
    else:
        failed = error.notna()
        failure = error.where(failed).mask(error == "", "decode failed")
    carried = frame["text"] if is_text(frame.get("text")) else pd.Series(None, frame.index, dtype="str")
    extras = {c: frame[c] for c in frame.columns if c not in _NOT_EXTRA and c not in preds}
    return [
        Hypotheses(
            _system_of(stem, key),
            path,
            pd.DataFrame(
                {
                    "utt_id": ids,
                    "pred_text": frame[key].where(~failed),
                    "failure": failure,
                    "text": carried,
                    **extras,
                }
            ),
        )
        for key in preds
    ]


def read_hypotheses(path: str | Path, name: str | None = None) -> list[Hypotheses]:
    """Every system one file holds: a trn file or result manifest is one, an SDE manifest one per field."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(path, "hypothesis file not found")
    stem = name or path.stem
    if path.suffix.lower() == ".trn":
        table = trn_columns(path)
        frame = pd.DataFrame({"utt_id": pd.array(table["utt_id"], dtype="str")})
        frame["pred_text"] = pd.array(table["text"], dtype="str")
        frame["failure"] = frame["text"] = pd.Series(None, frame.index, dtype=object)
        return [Hypotheses(stem, path, frame)]
    systems = _systems_columnar(path, stem) or _systems_by_line(path, stem)
    if not systems:
        raise ManifestError(path, "no hypotheses in this file")
    return systems


def _is_prediction_field(name: str) -> bool:
    return name in PREDICTION_FIELDS or name.startswith(PRED_PREFIX)


def _reference_from_predictions(ref_path: Path, predictions: Path) -> Reference:
    """A test set without ``manifest.jsonl``: the reference fields carried by a system's predictions."""
    utts = []
    for line, row in iter_json_rows(predictions):
        if not isinstance(row.get("text"), str):
            raise ManifestError(predictions, "reference text is missing", line=line, field="text")
        utt_id = _row_id(predictions, line, row)
        if "duration" in row and isinstance(row.get("audio_filepath"), str):
            utt = row_to_utterance(predictions, row)
            fields = {"audio_filepath": utt.audio_filepath, "offset": utt.offset}
            extra = {k: v for k, v in utt.extra.items() if not _is_prediction_field(k)}
            utts.append(RefUtt(utt_id, utt.text, utt.duration, utt.speaker, {**fields, **extra}))
        else:
            utts.append(RefUtt(utt_id, row["text"]))
    return Reference.of(ref_path, utts)


def _check_reference_texts(testset: str, reference: Reference, hyps: Hypotheses, warnings: list[str]) -> None:
    """A system whose predictions carry other reference texts than the test set's: say so, score anyway."""
    carried = hyps.frame["text"]
    differ = (carried.notna() & (carried != reference.frame["text"])).to_numpy(bool)  # Arrow compute
    if differ.any():
        warnings.append(
            f"{testset}/{hyps.system}: {int(differ.sum())} predictions carry a different reference text than "
            f"{reference.path} ({shown_ids(hyps.frame['utt_id'][differ])}); scored against {reference.path}"
        )


def _reading(progress: bool) -> tqdm:
    """The reading step's progress bar: utterances read, and their rate, file by file."""
    return tqdm(desc="reading", unit="utt", unit_scale=True, disable=not progress)


def read_results(results: str | Path, *, progress: bool = False) -> Inputs:
    """Every test set of a results directory with its systems (folders holding ``predictions.jsonl``)."""
    results = Path(results)
    grouped: dict[str, list] = {}
    for ref in iter_systems(results):
        grouped.setdefault(ref.testset, []).append(ref)
    if not grouped:
        raise ResultsDirError(results, f"no <testset>/<system>/{PREDICTIONS} below this directory")
    inputs = Inputs([])
    bar = _reading(progress)
    for testset, refs in grouped.items():
        manifest = results / testset / TESTSET_MANIFEST
        if manifest.is_file():
            reference = read_reference(manifest)
        else:
            reference = _reference_from_predictions(manifest, refs[0].predictions)
            inputs.warnings.append(
                f"{testset}: no {TESTSET_MANIFEST}; the reference is taken from {refs[0].predictions}"
            )
        bar.update(len(reference.frame))
        systems = []
        for ref in refs:
            (hyps,) = read_hypotheses(ref.predictions, name=ref.system)[:1]
            hyps.run_info = read_run_info(ref)
            systems.append(hyps)
            bar.update(len(hyps.frame))
        inputs.testsets.append(TestSet(testset, reference, systems))
    bar.close()
    for testset in inputs.testsets:
        match(testset, inputs.warnings)
        for hyps in testset.systems:
            _check_reference_texts(testset.name, testset.reference, hyps, inputs.warnings)
    return inputs


def load_inputs(ref: str | Path, hyps: list[str | Path], *, progress: bool = False) -> Inputs:
    """``werbench score REF HYP...``: a reference file and hypothesis files, or a results directory alone."""
    refuse_url(ref)
    ref = Path(ref)
    if ref.is_dir():
        if hyps:
            raise ConfigError(
                ref, "a results directory is scored on its own: give no hypothesis files with it"
            )
        return read_results(ref, progress=progress)
    if not hyps:
        raise ConfigError(ref, "no hypothesis file given (or give a results directory alone)")
    with _reading(progress) as bar:
        reference = read_reference(ref)
        if reference.frame.empty:
            raise ManifestError(ref, "the reference has no utterances (an empty file?); nothing to score")
        bar.update(len(reference.frame))
        systems: list[Hypotheses] = []
        for path in hyps:
            new = read_hypotheses(path)
            if all(hyp.frame.empty for hyp in new):
                raise ManifestError(path, "no hypotheses (an empty file?): every utterance would be missing")
            _add_systems(systems, new)
            bar.update(len(systems[-1].frame))
    inputs = Inputs([TestSet(ref.stem, reference, systems)])
    match(inputs.testsets[0], inputs.warnings)
    return inputs


def _add_systems(systems: list[Hypotheses], new: list[Hypotheses]) -> None:
    """Append ``new``; a name already taken (by another file, or another field) is an error naming both."""
    for hyp in new:
        clash = next((s for s in systems if s.system == hyp.system), None)
        if clash is not None:
            named_by_file = hyp.system == hyp.path.stem
            raise ManifestError(
                hyp.path,
                f"system name {hyp.system!r} is also the name of a system in {clash.path}; rename one of the "
                "files (a pred_text field is named after its file) or fields",
                field=None
                if hyp.path.suffix == ".trn"
                else (PRED if named_by_file else PRED_PREFIX + hyp.system),
            )
        systems.append(hyp)


def _mixed_prediction_line(path: Path) -> int:
    """The first line holding a plain ``pred_text`` beside a ``pred_text_<system>`` (or after one)."""
    kinds: set[bool] = set()
    for line, row in iter_json_rows(path):
        kinds.update(key.startswith(PRED_PREFIX) for key in row if key.startswith(PRED))
        if len(kinds) == 2:
            return line
    return 0


def read_manifests(paths: Sequence[str | Path], audio_base: Path | None = None) -> Inputs:
    """``werbench serve FILE.jsonl...``, Speech Data Explorer's habit: any NeMo manifests, each one's systems.

    A file with ``pred_text`` is one system named after the file; ``pred_text_<name>`` fields are a system
    each (SDE's comparison layout; a plain ``pred_text`` among them is refused: which system would it be?);
    files holding the same utterances are systems of one test set (the first one's reference), named after
    that file. A file without predictions is a test set of its own with no systems: a dataset to explore.
    """
    inputs = Inputs([])
    groups: dict[frozenset[str], TestSet] = {}
    names: dict[str, Path] = {}
    for path in map(Path, paths):
        reference = read_reference(path, audio_base)
        preds = [c for c in reference.frame.columns if c == PRED or c.startswith(PRED_PREFIX)]
        if PRED in preds and len(preds) > 1:
            raise ManifestError(
                path,
                f"a plain pred_text beside {', '.join(p for p in preds if p != PRED)}: name every system "
                "(pred_text_<name>), or give the systems as separate files",
                line=_mixed_prediction_line(path),
                field=PRED,
            )
        kept = [c for c in reference.frame.columns if not _is_prediction_field(c)]
        reference.frame = reference.frame[kept]
        ids = frozenset(reference.frame["utt_id"].tolist()) if preds else frozenset()
        testset = groups.get(ids) if preds else None
        if testset is None:
            if path.stem in names:
                raise ManifestError(
                    path, f"another file is also named {path.stem!r} ({names[path.stem]}): rename one"
                )
            names[path.stem] = path
            testset = TestSet(path.stem, reference, [])
            inputs.testsets.append(testset)
            if preds:
                groups[ids] = testset
        if preds:
            _add_systems(testset.systems, read_hypotheses(path))
    for testset in inputs.testsets:
        match(testset, inputs.warnings)
        for hyps in testset.systems:
            _check_reference_texts(testset.name, testset.reference, hyps, inputs.warnings)
    return inputs


def match(testset: TestSet, warnings: list[str]) -> None:
    """Each system's rows in reference order: ids without a hypothesis become failed utterances, ids
    without a reference are dropped; both warned."""
    ref_ids = pd.Index(testset.reference.frame["utt_id"], name="utt_id")
    for hyps in testset.systems:
        ids = pd.Index(hyps.frame["utt_id"], name="utt_id")
        in_order = ids.equals(ref_ids)
        if in_order:
            absent, extra = np.zeros(len(ref_ids), bool), ids[:0]
        else:  # get_indexer, not isin: it stays in Arrow for Arrow-backed ids
            absent = ids.get_indexer(ref_ids) < 0
            extra = ids[ref_ids.get_indexer(ids) < 0]
        missing = ref_ids[absent]
        where = f"{testset.name}/{hyps.system}"
        if len(missing):
            warnings.append(
                f"{where}: {len(missing)} of {len(ref_ids)} reference utterances have no hypothesis "
                f"({shown_ids(missing)}); reported as missing"
            )
        if len(extra):
            warnings.append(
                f"{where}: {len(extra)} hypotheses have no reference utterance ({shown_ids(extra)}); ignored"
            )
        if not in_order:
            frame = hyps.frame.set_index("utt_id").reindex(ref_ids).reset_index()
            frame.loc[absent, "failure"] = NO_HYPOTHESIS
            hyps.frame = frame
        failure = hyps.frame["failure"]
        errors = hyps.frame["utt_id"][failure.notna() & (failure != NO_HYPOTHESIS)]
        if len(errors):
            warnings.append(
                f"{where}: {len(errors)} utterances failed to decode ({shown_ids(errors)}); "
                "reported as failed"
            )
