"""Common Voice release folder: ``<subset>.tsv`` (``path``, ``sentence``, ``client_id``...) and ``clips/``."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from werbench.manifests.importers.base import Entry, ImportOptions, importer, resolve
from werbench.manifests.importers.csvfile import iter_table

# Speaker facts worth keeping for per-group breakdowns; column names changed between releases.
EXTRA_COLUMNS = ("age", "gender", "accent", "accents", "locale", "variant", "segment")


@importer(
    "commonvoice",
    "Common Voice release folder: <subset>.tsv (columns path, sentence, client_id; age, gender, accents, "
    "locale kept) and the clips/ folder (or --audio-dir); speaker = client_id",
    "which TSV: test, dev, validated... (default test); or give the .tsv file itself as SRC",
)
def commonvoice_entries(src: Path, options: ImportOptions) -> Iterator[Entry]:
    tsv = src if src.is_file() else src / f"{options.subset or 'test'}.tsv"
    clips = options.audio_dir or tsv.parent / "clips"
    # Sentences hold bare quotes: the release TSVs are written without CSV quoting.
    for number, row in iter_table(tsv, ("path", "sentence"), delimiter="\t", quoting=csv.QUOTE_NONE):
        audio = resolve(row["path"], clips)
        extra = {name: row[name] for name in EXTRA_COLUMNS if row.get(name)}
        speaker = row.get("client_id") or None
        yield Entry(audio.stem, audio, row["sentence"].strip(), tsv, number, speaker=speaker, extra=extra)
