"""LibriSpeech: ``<spk>/<chapter>/<spk>-<chapter>.trans.txt`` lines ``<utt_id> TEXT``, audio beside them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from werbench.manifests.errors import ManifestError
from werbench.manifests.importers.base import Entry, ImportOptions, find_files, importer, require_dir
from werbench.manifests.io import iter_lines


@importer(
    "librispeech",
    "LibriSpeech folders <spk>/<chapter>/<spk>-<chapter>.trans.txt ('<utt_id> TEXT' lines) beside "
    "<utt_id>.flac; "
    "speaker and chapter from the path",
    "a subset folder below SRC, e.g. test-clean (default: every .trans.txt below SRC)",
)
def librispeech_entries(src: Path, options: ImportOptions) -> Iterator[Entry]:
    root = require_dir(src / options.subset if options.subset else src)
    for trans in find_files(root, "*.trans.txt", "LibriSpeech transcript files"):
        speaker, chapter = trans.parent.parent.name, trans.parent.name
        for number, line in iter_lines(trans):
            utt_id, _, text = line.strip().partition(" ")
            if not utt_id.startswith(f"{speaker}-"):
                raise ManifestError(
                    trans,
                    f"utterance {utt_id!r} is not from speaker folder {speaker!r}",
                    line=number,
                    field="utt_id",
                )
            audio = trans.parent / f"{utt_id}.flac"
            if not audio.exists() and (trans.parent / f"{utt_id}.wav").exists():
                audio = trans.parent / f"{utt_id}.wav"
            yield Entry(
                utt_id, audio, text.strip(), trans, number, speaker=speaker, extra={"chapter": chapter}
            )
