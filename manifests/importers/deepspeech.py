"""Mozilla DeepSpeech CSV: ``wav_filename,wav_filesize,transcript``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from werbench.manifests.errors import ManifestError
from werbench.manifests.importers.base import Entry, ImportOptions, importer, no_subset, resolve
from werbench.manifests.importers.csvfile import iter_table


@importer(
    "deepspeech",
    "DeepSpeech CSV file with header wav_filename,wav_filesize,transcript; relative paths resolve "
    "against the CSV's folder (or --audio-dir); a wav_filesize that disagrees with the file is an error",
)
def deepspeech_entries(src: Path, options: ImportOptions) -> Iterator[Entry]:
    no_subset("deepspeech", options)
    base = options.audio_dir or src.parent
    for number, row in iter_table(src, ("wav_filename", "transcript")):
        audio = resolve(row["wav_filename"], base)
        declared = (row.get("wav_filesize") or "").strip()
        if declared and audio.is_file():
            if not declared.isdigit():
                raise ManifestError(
                    src, f"expected a byte count, got {declared!r}", line=number, field="wav_filesize"
                )
            if int(declared) != audio.stat().st_size:
                raise ManifestError(
                    src,
                    f"{audio} is {audio.stat().st_size} bytes, the CSV says {declared}",
                    line=number,
                    field="wav_filesize",
                )
        yield Entry(audio.stem, audio, row["transcript"].strip(), src, number)
