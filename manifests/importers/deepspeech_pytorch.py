"""deepspeech.pytorch / MLPerf speech manifests: CSV lines ``wav_path,txt_path``, or the later JSON form.

The JSON form is ``{"root_path": DIR, "samples": [{"wav_path": ..., "transcript_path": ...}, ...]}``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from werbench.manifests.errors import ManifestError
from werbench.manifests.importers.base import Entry, ImportOptions, importer, no_subset, require_file, resolve
from werbench.manifests.io import iter_lines, load_json_file


def _transcript(path: Path, source: Path, line: int | None, field: str) -> str:
    try:
        return " ".join(path.read_text(encoding="utf-8").split())
    except FileNotFoundError:
        raise ManifestError(source, f"transcript {path} not found", line=line, field=field) from None
    except UnicodeDecodeError as exc:
        raise ManifestError(
            source, f"transcript {path} is not UTF-8 (byte {exc.start})", line=line, field=field
        ) from None
    except OSError as exc:
        raise ManifestError(
            source, f"cannot read transcript {path}: {exc.strerror}", line=line, field=field
        ) from None


def _csv_pairs(path: Path) -> Iterator[tuple[int, str, str]]:
    for number, text in iter_lines(path):
        row = next(csv.reader([text]))
        if len(row) != 2:
            raise ManifestError(path, f"expected 'wav_path,txt_path', got {len(row)} fields", line=number)
        if number == 1 and row[0].strip().lower() in ("wav_path", "wav", "audio_path"):
            continue  # a header line
        yield number, row[0].strip(), row[1].strip()


def _json_pairs(path: Path) -> tuple[Path, list[tuple[int, str, str]]]:
    data = load_json_file(path)
    samples = data.get("samples") if isinstance(data, dict) else None
    if not isinstance(samples, list):
        raise ManifestError(path, "expected an object with a 'samples' list", field="samples")
    pairs = []
    for i, sample in enumerate(samples):
        if not isinstance(sample, dict) or not all(
            isinstance(sample.get(k), str) for k in ("wav_path", "transcript_path")
        ):
            raise ManifestError(path, "expected strings wav_path and transcript_path", field=f"samples[{i}]")
        pairs.append((i, sample["wav_path"], sample["transcript_path"]))
    root = data.get("root_path")
    if root is not None and not isinstance(root, str):
        raise ManifestError(path, f"expected a folder path, got {type(root).__name__}", field="root_path")
    return Path(root or path.parent), pairs


@importer(
    "deepspeech-pytorch",
    "deepspeech.pytorch / MLPerf manifest: CSV lines 'wav_path,txt_path' (one transcript file per "
    "utterance), or the JSON manifest with root_path and samples; relative paths resolve against the "
    "manifest's folder (or --audio-dir)",
)
def deepspeech_pytorch_entries(src: Path, options: ImportOptions) -> Iterator[Entry]:
    no_subset("deepspeech-pytorch", options)
    require_file(src)
    if src.suffix.lower() == ".json":
        root, pairs = _json_pairs(src)
        base = options.audio_dir or root
        for i, wav, txt in pairs:
            text = _transcript(resolve(txt, base), src, None, f"samples[{i}].transcript_path")
            audio = resolve(wav, base)
            yield Entry(audio.stem, audio, text, src)
        return
    base = options.audio_dir or src.parent
    for number, wav, txt in _csv_pairs(src):
        audio = resolve(wav, base)
        yield Entry(audio.stem, audio, _transcript(resolve(txt, base), src, number, "txt_path"), src, number)
