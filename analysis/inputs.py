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

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from manifests.errors import ManifestError
from manifests.io import iter_json_rows, read_manifest, row_to_utterance
from manifests.results import PREDICTIONS, TESTSET_MANIFEST, RunInfo, iter_systems, read_run_info
from manifests.schema import CORE_FIELDS, derive_utt_id
from manifests.trn import read_trn

PRED = "pred_text"
PRED_PREFIX = "pred_text_"
NO_HYPOTHESIS = "no hypothesis for this utterance"
_NOT_EXTRA = frozenset((*CORE_FIELDS, "error"))
_SHOWN_IDS = 5


@dataclass(slots=True)
class RefUtt:
    """One reference utterance; ``fields`` holds every other manifest field (audio path, offset, extras)."""

    utt_id: str
    text: str
    duration: float | None = None
    speaker: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Reference:
    path: Path
    utts: dict[str, RefUtt]


@dataclass(slots=True)
class Hypotheses:
    """One system's output for one test set: texts and failures by utterance id, plus per-utterance extras."""

    system: str
    path: Path
    texts: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    fields: dict[str, dict[str, Any]] = field(default_factory=dict)
    run_info: RunInfo | None = None
    ref_texts: dict[str, str] = field(default_factory=dict)  # reference texts the predictions carry


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


def shown_ids(ids: list[str]) -> str:
    """A warning's list of ids: the first few and how many more."""
    shown = ", ".join(ids[:_SHOWN_IDS])
    return shown + (f" and {len(ids) - _SHOWN_IDS} more" if len(ids) > _SHOWN_IDS else "")


def speaker_of_trn_id(utt_id: str) -> str | None:
    """The speaker as ``sclite -i rm`` reads it: the id up to its first ``-`` (or else ``_``)."""
    for sep in "-_":
        if sep in utt_id:
            return utt_id.split(sep, 1)[0]
    return None


def read_reference(path: str | Path) -> Reference:
    """A NeMo manifest or (by its ``.trn`` suffix) a sclite trn file; duplicate ids are an error."""
    path = Path(path)
    if path.suffix.lower() == ".trn":
        utts = {uid: RefUtt(uid, text, speaker=speaker_of_trn_id(uid)) for uid, text in read_trn(path)}
        return Reference(path, utts)
    utts = {}
    for utt in read_manifest(path):
        fields = {"audio_filepath": utt.audio_filepath, "offset": utt.offset, **utt.extra}
        utts[utt.utt_id] = RefUtt(utt.utt_id, utt.text, utt.duration, utt.speaker, fields)
    return Reference(path, utts)


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


def read_hypotheses(path: str | Path, name: str | None = None) -> list[Hypotheses]:
    """Every system one file holds: a trn file or result manifest is one, an SDE manifest one per field."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(path, "hypothesis file not found")
    stem = name or path.stem
    if path.suffix.lower() == ".trn":
        return [Hypotheses(stem, path, texts=dict(read_trn(path)))]
    systems: dict[str, Hypotheses] = {}
    seen: dict[str, int] = {}
    layouts: dict[tuple[str, ...], tuple[list[str], list[str]]] = {}  # key order -> (pred fields, extras)
    for line, row in iter_json_rows(path):
        utt_id = _row_id(path, line, row)
        if utt_id in seen:
            raise ManifestError(
                path,
                f"duplicate utterance id {utt_id!r} (first on line {seen[utt_id]})",
                line=line,
                field="utt_id",
            )
        seen[utt_id] = line
        keys = tuple(row)
        if keys not in layouts:
            fields = [key for key in keys if key == PRED or key.startswith(PRED_PREFIX)]
            layouts[keys] = fields, [k for k in keys if k not in _NOT_EXTRA and k not in fields]
        fields, extra_keys = layouts[keys]
        if not fields and "error" not in row:
            raise ManifestError(path, "no pred_text (nor pred_text_<system>) field", line=line, field=PRED)
        extras = {k: row[k] for k in extra_keys}
        for key in fields or [PRED]:
            system = stem if key == PRED else key.removeprefix(PRED_PREFIX)
            hyps = systems.setdefault(system, Hypotheses(system, path))
            if "error" in row:
                hyps.failed[utt_id] = str(row["error"]) or "decode failed"
            else:
                hyps.texts[utt_id] = _text_field(path, line, row, key)
            if extras:
                hyps.fields[utt_id] = extras
            if isinstance(row.get("text"), str):
                hyps.ref_texts[utt_id] = row["text"]
    if not systems:
        raise ManifestError(path, "no hypotheses in this file")
    return list(systems.values())


def _reference_from_predictions(ref_path: Path, predictions: Path) -> Reference:
    """A test set without ``manifest.jsonl``: the reference fields carried by a system's predictions."""
    utts = {}
    for line, row in iter_json_rows(predictions):
        if not isinstance(row.get("text"), str):
            raise ManifestError(predictions, "reference text is missing", line=line, field="text")
        utt_id = _row_id(predictions, line, row)
        if "duration" in row and isinstance(row.get("audio_filepath"), str):
            utt = row_to_utterance(predictions, row)
            fields = {"audio_filepath": utt.audio_filepath, "offset": utt.offset}
            extra = {k: v for k, v in utt.extra.items() if k != PRED and not k.startswith(PRED_PREFIX)}
            utts[utt_id] = RefUtt(utt_id, utt.text, utt.duration, utt.speaker, {**fields, **extra})
        else:
            utts[utt_id] = RefUtt(utt_id, row["text"])
    return Reference(ref_path, utts)


def _check_reference_texts(testset: str, reference: Reference, hyps: Hypotheses, warnings: list[str]) -> None:
    """A system whose predictions carry other reference texts than the test set's: say so, score anyway."""
    differ = [
        uid
        for uid, text in hyps.ref_texts.items()
        if uid in reference.utts and reference.utts[uid].text != text
    ]
    if differ:
        warnings.append(
            f"{testset}/{hyps.system}: {len(differ)} predictions carry a different reference text than "
            f"{reference.path} ({shown_ids(differ)}); scored against {reference.path}"
        )


def read_results(results: str | Path) -> Inputs:
    """Every test set of a results directory with its systems (folders holding ``predictions.jsonl``)."""
    results = Path(results)
    grouped: dict[str, list] = {}
    for ref in iter_systems(results):
        grouped.setdefault(ref.testset, []).append(ref)
    if not grouped:
        raise ManifestError(results, f"no <testset>/<system>/{PREDICTIONS} below this directory")
    inputs = Inputs([])
    for testset, refs in grouped.items():
        manifest = results / testset / TESTSET_MANIFEST
        if manifest.is_file():
            reference = read_reference(manifest)
        else:
            reference = _reference_from_predictions(manifest, refs[0].predictions)
            inputs.warnings.append(
                f"{testset}: no {TESTSET_MANIFEST}; the reference is taken from {refs[0].predictions}"
            )
        systems = []
        for ref in refs:
            (hyps,) = read_hypotheses(ref.predictions, name=ref.system)[:1]
            hyps.run_info = read_run_info(ref)
            systems.append(hyps)
            _check_reference_texts(testset, reference, hyps, inputs.warnings)
        inputs.testsets.append(TestSet(testset, reference, systems))
    for testset in inputs.testsets:
        match(testset, inputs.warnings)
    return inputs


def load_inputs(ref: str | Path, hyps: list[str | Path]) -> Inputs:
    """``werbench score REF HYP...``: a reference file and hypothesis files, or a results directory alone."""
    ref = Path(ref)
    if ref.is_dir():
        if hyps:
            raise ManifestError(
                ref, "a results directory is scored on its own: give no hypothesis files with it"
            )
        return read_results(ref)
    if not hyps:
        raise ManifestError(ref, "no hypothesis file given (or give a results directory alone)")
    reference = read_reference(ref)
    systems: list[Hypotheses] = []
    for path in hyps:
        for hyp in read_hypotheses(path):
            clash = next((s for s in systems if s.system == hyp.system), None)
            if clash is not None:
                raise ManifestError(
                    path,
                    f"system name {hyp.system!r} is also the name of {clash.path}; rename one of the files",
                )
            systems.append(hyp)
    inputs = Inputs([TestSet(ref.stem, reference, systems)])
    match(inputs.testsets[0], inputs.warnings)
    return inputs


def match(testset: TestSet, warnings: list[str]) -> None:
    """Ids without a hypothesis become failed utterances; ids without a reference are dropped; both warned."""
    ref_ids = testset.reference.utts
    for hyps in testset.systems:
        missing = [uid for uid in ref_ids if uid not in hyps.texts and uid not in hyps.failed]
        extra = [uid for uid in (*hyps.texts, *hyps.failed) if uid not in ref_ids]
        where = f"{testset.name}/{hyps.system}"
        if missing:
            warnings.append(
                f"{where}: {len(missing)} of {len(ref_ids)} reference utterances have no hypothesis "
                f"({shown_ids(missing)}); reported as failed and left out of the scores"
            )
            for uid in missing:
                hyps.failed[uid] = NO_HYPOTHESIS
        if extra:
            warnings.append(
                f"{where}: {len(extra)} hypotheses have no reference utterance ({shown_ids(extra)}); ignored"
            )
            for uid in extra:
                hyps.texts.pop(uid, None)
                hyps.failed.pop(uid, None)
        errors = [uid for uid, why in hyps.failed.items() if why != NO_HYPOTHESIS]
        if errors:
            warnings.append(
                f"{where}: {len(errors)} utterances failed to decode ({shown_ids(errors)}); "
                "reported as failed and left out of the scores"
            )
