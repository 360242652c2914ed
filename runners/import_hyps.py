"""``werbench import-hyps``: hypotheses from systems werbench cannot run become a system in the results dir.

Formats: Kaldi ``text`` (``utt_id words...``), sclite ``trn``, CSV (id + text columns), JSON lines with
``pred_text`` (NeMo's transcribe output), Whisper CLI JSON (one ``<audio stem>.json`` per file, with segment
or word times), and Mozilla DeepSpeech output (``deepspeech --json`` per file, or the list evaluate.py
writes). Hypotheses are matched to the reference manifest by utterance id, audio path, file name or stem;
a manifest utterance with no hypothesis is recorded as failed, never silently dropped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from werbench.manifests.errors import ManifestError, ResultsDirError
from werbench.manifests.importers.csvfile import iter_table
from werbench.manifests.io import iter_json_rows, iter_lines, load_json_file, load_manifest, write_manifest
from werbench.manifests.normalize import get_normalizer
from werbench.manifests.results import (
    TESTSET_MANIFEST,
    RunInfo,
    prediction_field_problems,
    system_dir,
    write_run_info,
)
from werbench.manifests.schema import Utterance
from werbench.manifests.trn import iter_trn
from werbench.runners.hashing import sha256_path

FORMATS = ("auto", "kaldi", "trn", "csv", "jsonl", "whisper", "deepspeech")
ID_COLUMNS = (
    "utt_id",
    "id",
    "key",
    "uttid",
    "utterance_id",
    "audio_filepath",
    "wav_filename",
    "filename",
    "path",
)
TEXT_COLUMNS = ("pred_text", "hypothesis", "hyp", "prediction", "transcript", "text", "res")


@dataclass(slots=True)
class Hyp:
    """One imported hypothesis; ``key`` is an utterance id or an audio path/name, resolved later."""

    key: str
    text: str
    word_times: list[list[float]] | None = None
    nbest: list[dict[str, Any]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    source: Path | None = None  # the file and line it came from, for errors
    line: int | None = None


def detect_format(path: Path) -> str:
    """Guess from the file name and, for JSON, from the structure."""
    if path.is_dir():
        sample = next(iter(sorted(path.glob("*.json"))), None)
        if sample is None:
            raise ManifestError(path, "folder has no .json files (expected Whisper or DeepSpeech output)")
        return _json_kind(sample)
    suffix = path.suffix.lower()
    if suffix == ".trn":
        return "trn"
    if suffix in (".csv", ".tsv"):
        return "csv"
    if suffix == ".jsonl":
        return "jsonl"
    if suffix == ".json":
        return _json_kind(path)
    first = next(iter_lines(path), (0, ""))[1].strip()
    if first.endswith(")") and "(" in first:
        return "trn"
    if first.startswith("{"):
        return "jsonl"
    return "kaldi"


def _load_json(path: Path) -> Any:
    return load_json_file(path)


def _json_kind(path: Path) -> str:
    data = _load_json(path)
    if isinstance(data, list) or (isinstance(data, dict) and "transcripts" in data):
        return "deepspeech"
    if isinstance(data, dict) and ("segments" in data or "text" in data):
        return "whisper"
    raise ManifestError(
        path, "JSON is neither Whisper output (text/segments) nor DeepSpeech output (transcripts)"
    )


def read_kaldi(path: Path) -> Iterator[Hyp]:
    for number, line in iter_lines(path):
        key, _, text = line.strip().partition(" ")
        yield Hyp(key, " ".join(text.split()), source=path, line=number)


def read_trn_hyps(path: Path) -> Iterator[Hyp]:
    for number, utt_id, text in iter_trn(path):
        yield Hyp(utt_id, text, source=path, line=number)


def _pick(columns: list[str], wanted: str | None, choices: tuple[str, ...], path: Path, what: str) -> str:
    if wanted:
        if wanted not in columns:
            raise ManifestError(path, f"no column {wanted!r}; columns are {', '.join(columns)}", line=1)
        return wanted
    lowered = {c.lower(): c for c in columns}
    for name in choices:
        if name in lowered:
            return lowered[name]
    raise ManifestError(path, f"cannot tell the {what} column among {', '.join(columns)}; name it", line=1)


def read_csv(path: Path, id_column: str | None = None, text_column: str | None = None) -> Iterator[Hyp]:
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    for line, row in iter_table(path, (), delimiter=delimiter):
        columns = list(row)
        key_col = _pick(columns, id_column, ID_COLUMNS, path, "utterance id")
        text_col = _pick(columns, text_column, tuple(c for c in TEXT_COLUMNS if c != key_col), path, "text")
        if not row.get(key_col):
            raise ManifestError(path, "empty id", line=line, field=key_col)
        yield Hyp(row[key_col], " ".join((row.get(text_col) or "").split()), source=path, line=line)


def read_jsonl(path: Path, id_column: str | None = None, text_column: str | None = None) -> Iterator[Hyp]:
    for line, row in iter_json_rows(path):
        key_col = _pick(list(row), id_column, ID_COLUMNS, path, "utterance id")
        text_col = text_column or "pred_text"
        if text_col not in row:
            raise ManifestError(path, "missing hypothesis field", line=line, field=text_col)
        if not isinstance(row[text_col], str):
            raise ManifestError(
                path, f"expected a string, got {type(row[text_col]).__name__}", line=line, field=text_col
            )
        if isinstance(row[key_col], bool) or not isinstance(row[key_col], str | int) or row[key_col] == "":
            raise ManifestError(path, "expected a non-empty string id", line=line, field=key_col)
        for name, message in prediction_field_problems(row)[:1]:
            raise ManifestError(path, message, line=line, field=name)
        times = row.get("word_times")
        yield Hyp(
            str(row[key_col]),
            " ".join(row[text_col].split()),
            times,
            row.get("nbest"),
            source=path,
            line=line,
        )


def _json_files(path: Path) -> list[Path]:
    return sorted(path.glob("*.json")) if path.is_dir() else [path]


def read_whisper(path: Path) -> Iterator[Hyp]:
    """Whisper CLI JSON; word times when it was run with ``--word_timestamps True``."""
    for file in _json_files(path):
        data = _load_json(file)
        if not isinstance(data, dict):
            raise ManifestError(file, f"expected Whisper's JSON object, got {type(data).__name__}")
        if not isinstance(data.get("text", ""), str):
            raise ManifestError(file, f"expected a string, got {type(data['text']).__name__}", field="text")
        words = [
            _checked(file, f"segments[{i}].words[{j}]", word, {"start": _NUM, "end": _NUM})
            for i, segment in enumerate(_list(file, "segments", data.get("segments")))
            for j, word in enumerate(
                _list(
                    file, f"segments[{i}].words", _checked(file, f"segments[{i}]", segment, {}).get("words")
                )
            )
        ]
        times = [[float(w["start"]), float(w["end"])] for w in words] if words else None
        text = " ".join(data.get("text", "").split())
        if times is not None and len(times) != len(text.split()):
            times = None  # Whisper's word tokens keep punctuation attached differently from its text
        language = data.get("language")
        yield Hyp(
            file.stem,
            text,
            times,
            extra={"language": language if isinstance(language, str) else None},
            source=file,
        )


def read_deepspeech(path: Path) -> Iterator[Hyp]:
    """``deepspeech --json`` per file (candidate transcripts with word times) or evaluate.py's sample list."""
    for file in _json_files(path):
        data = _load_json(file)
        if isinstance(data, list):
            for index, sample in enumerate(data):
                _checked(file, f"[{index}]", sample, {"wav_filename": _STR, "res": _STR})
                yield Hyp(sample["wav_filename"], " ".join(sample["res"].split()), source=file)
            continue
        if not isinstance(data, dict):
            raise ManifestError(file, f"expected DeepSpeech's JSON object, got {type(data).__name__}")
        candidates = _list(file, "transcripts", data.get("transcripts"))
        if not candidates:
            raise ManifestError(file, "no transcripts", field="transcripts")
        nbest, times = [], []
        for i, cand in enumerate(candidates):
            _checked(file, f"transcripts[{i}]", cand, {})
            words = [
                _checked(file, f"transcripts[{i}].words[{j}]", w, {"word": _STR, "start_time": _NUM})
                for j, w in enumerate(_list(file, f"transcripts[{i}].words", cand.get("words")))
            ]
            conf = cand.get("confidence", 0.0)
            if not isinstance(conf, int | float) or isinstance(conf, bool):
                raise ManifestError(file, "expected a number", field=f"transcripts[{i}].confidence")
            text = " ".join(w["word"] for w in words)
            nbest.append(
                {"text": text, "am_score": conf, "lm_score": 0.0, "neural_score": None, "score": conf}
            )
            if i == 0:
                times = [
                    [float(w["start_time"]), float(w["start_time"]) + float(w.get("duration") or 0.0)]
                    for w in words
                ]
        yield Hyp(file.stem, nbest[0]["text"], times, nbest, source=file)


_NUM = (int, float)
_STR = (str,)


def _list(file: Path, where: str, value: Any) -> list[Any]:
    """A JSON array field (absent is empty), or ManifestError naming its key path."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ManifestError(file, f"expected a list, got {type(value).__name__}", field=where)
    return value


def _checked(file: Path, where: str, value: Any, required: dict[str, tuple[type, ...]]) -> dict[str, Any]:
    """A JSON object with the ``required`` keys of the given types, or ManifestError naming the key path."""
    if not isinstance(value, dict):
        raise ManifestError(file, f"expected an object, got {type(value).__name__}", field=where)
    for key, kinds in required.items():
        item = value.get(key)
        if isinstance(item, bool) or not isinstance(item, kinds):
            what = "a number" if kinds is _NUM else "a string"
            got = "nothing" if item is None else type(item).__name__
            raise ManifestError(file, f"expected {what}, got {got}", field=f"{where}.{key}")
    return value


def read_hyps(
    path: Path, fmt: str, id_column: str | None = None, text_column: str | None = None
) -> list[Hyp]:
    readers = {
        "kaldi": lambda: read_kaldi(path),
        "trn": lambda: read_trn_hyps(path),
        "csv": lambda: read_csv(path, id_column, text_column),
        "jsonl": lambda: read_jsonl(path, id_column, text_column),
        "whisper": lambda: read_whisper(path),
        "deepspeech": lambda: read_deepspeech(path),
    }
    hyps = list(readers[fmt]())
    seen: dict[str, Hyp] = {}
    for hyp in hyps:
        first = seen.setdefault(hyp.key, hyp)
        if first is not hyp:
            where = f" (first on line {first.line})" if first.line else ""
            raise ManifestError(
                hyp.source or path,
                f"duplicate utterance id {hyp.key!r}{where}",
                line=hyp.line,
                field="utt_id",
            )
    return hyps


def _keys(utt: Utterance) -> list[str]:
    path = Path(utt.audio_filepath)
    stem = path.name.rsplit(".", 1)[0]
    return [utt.utt_id, str(path), path.name, stem]


def match(utts: list[Utterance], hyps: list[Hyp]) -> tuple[dict[str, Hyp], list[str]]:
    """Hypotheses by utt_id; returns also the keys that matched no manifest utterance."""
    index: dict[str, str] = {}
    for utt in utts:
        for key in reversed(_keys(utt)):  # the utt_id wins over a shared stem
            index[key] = utt.utt_id
    matched: dict[str, Hyp] = {}
    unmatched = []
    for hyp in hyps:
        key = hyp.key
        utt_id = index.get(key) or index.get(Path(key).name) or index.get(Path(key).name.rsplit(".", 1)[0])
        if utt_id is None:
            unmatched.append(key)
            continue
        matched[utt_id] = hyp
    return matched, unmatched


def import_hyps(
    source: str | Path,
    manifest: str | Path,
    results: str | Path,
    system: str,
    fmt: str = "auto",
    testset: str | None = None,
    normalizer: str = "nemo",
    id_column: str | None = None,
    text_column: str | None = None,
    *,
    overwrite: bool = False,
) -> RunInfo:
    """Write ``RESULTS/<testset>/<system>/`` from a hypothesis file (or folder) and a reference manifest."""
    from werbench.manifests.atomic import atomic_write

    source = Path(source)
    if not source.exists():
        raise ManifestError(source, "hypothesis file not found")
    if fmt not in FORMATS:
        raise ManifestError(source, f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    kind = detect_format(source) if fmt == "auto" else fmt
    utts = list(load_manifest(manifest))
    matched, unmatched = match(utts, read_hyps(source, kind, id_column, text_column))
    if not matched:
        raise ManifestError(source, f"no hypothesis matches an utterance of {manifest} (read as {kind})")
    ref = system_dir(results, testset or Path(manifest).stem, system)
    if ref.predictions.exists() and not overwrite:
        raise ResultsDirError(
            ref.path,
            f"system {system!r} already exists; pass --overwrite to replace it or choose another --name",
        )
    if ref.path.exists() and not ref.path.is_dir():
        raise ManifestError(ref.path, "is a file, expected a system folder (or nothing)")
    rows = []
    for utt in utts:
        row = utt.to_json()
        hyp = matched.get(utt.utt_id)
        if hyp is None:
            row.update(pred_text="", error=f"no hypothesis for this utterance in {source.name}")
        else:
            row["pred_text"] = hyp.text
            if hyp.nbest:
                row["nbest"] = hyp.nbest
            if hyp.word_times is not None:
                row["word_times"] = hyp.word_times
        rows.append(row)
    with atomic_write(ref.predictions) as handle:
        handle.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    testset_manifest = ref.path.parent / TESTSET_MANIFEST
    if not testset_manifest.is_file():
        write_manifest(testset_manifest, utts)
    missing = len(utts) - len(matched)
    notes = [f"imported from {kind} hypotheses"]
    if missing:
        notes.append(f"{missing} manifest utterances had no hypothesis and are recorded as failed")
    if unmatched:
        notes.append(f"{len(unmatched)} hypotheses matched no manifest utterance, e.g. {unmatched[:3]}")
    info = RunInfo(
        system=ref.system,
        testset=ref.testset,
        model={
            "path": str(source.resolve()),
            "sha256": sha256_path(source),
            "architecture": f"imported:{kind}",
        },
        decoder={"type": "imported", "params": {"format": kind}},
        normalizer=get_normalizer(normalizer).spec,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        notes=notes,
        extra={"status": "complete", "manifest": str(Path(manifest).resolve()), "utterances": len(utts)},
    )
    write_run_info(ref, info)
    return info
