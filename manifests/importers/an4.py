"""CMU AN4: ``etc/an4_<subset>.transcription`` lines ``<s> TEXT </s> (an406-fcaw-b)``; .sph or .raw audio."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from werbench.manifests.errors import ManifestError
from werbench.manifests.importers.base import (
    Entry,
    ImportOptions,
    find_files,
    importer,
    index_audio,
    require_dir,
)
from werbench.manifests.trn import iter_trn

_SENTENCE_MARKS = {"<s>", "</s>", "<sil>"}


def an4_speaker(utt_id: str) -> str | None:
    """AN4 ids are ``<session>-<speaker>-<gender/take>``: ``an406-fcaw-b`` -> ``fcaw``."""
    parts = utt_id.split("-")
    return parts[1] if len(parts) == 3 else None


@importer(
    "an4",
    "CMU AN4 folder: etc/an4_<subset>.transcription ('<s> TEXT </s> (id)') and audio <id>.sph (SPHERE) or "
    "<id>.raw (headerless 16 kHz 16-bit, byte order detected) anywhere below SRC; speaker from the id",
    "train or test: reads an4_<subset>.transcription (default: every an4_*.transcription)",
)
def an4_entries(src: Path, options: ImportOptions) -> Iterator[Entry]:
    root = require_dir(src)
    pattern = f"an4_{options.subset}.transcription" if options.subset else "an4_*.transcription"
    transcriptions = find_files(root, pattern, "AN4 transcription files")
    audio = index_audio(root, (".sph", ".wav", ".raw"))
    for transcription in transcriptions:
        for number, utt_id, text in iter_trn(transcription):
            path = audio.get(utt_id.lower())
            if path is None:
                raise ManifestError(
                    transcription,
                    f"no audio file {utt_id}.sph/.wav/.raw below {root}",
                    line=number,
                    field="audio_filepath",
                )
            words = " ".join(word for word in text.split() if word.lower() not in _SENTENCE_MARKS)
            yield Entry(utt_id, path, words, transcription, number, speaker=an4_speaker(utt_id))
