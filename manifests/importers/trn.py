"""sclite ``trn`` references (``text (utt_id)``), with audio found by id or none at all.

Without ``--audio-dir`` the manifest is reference-only: each line gets ``duration`` 0, the utterance id as a
placeholder ``audio_filepath`` and ``"reference_only": true``, which the validator honours.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from werbench.manifests.audio import AUDIO_SUFFIXES
from werbench.manifests.errors import ManifestError
from werbench.manifests.importers.base import (
    Entry,
    ImportOptions,
    importer,
    index_audio,
    no_subset,
    require_dir,
)
from werbench.manifests.trn import iter_trn


@importer(
    "trn",
    "sclite trn file ('text (utt_id)' lines); audio is <utt_id>.<wav|flac|sph|...> below --audio-dir, or "
    "without --audio-dir a reference-only manifest (duration 0, marked reference_only)",
)
def trn_entries(src: Path, options: ImportOptions) -> Iterator[Entry]:
    no_subset("trn", options)
    audio = index_audio(require_dir(options.audio_dir), AUDIO_SUFFIXES) if options.audio_dir else None
    for number, utt_id, text in iter_trn(src):
        if audio is None:
            yield Entry(utt_id, None, text, src, number, extra={"reference_only": True})
            continue
        path = audio.get(utt_id.lower())
        if path is None:
            raise ManifestError(
                src,
                f"no audio file named {utt_id}.* below {options.audio_dir}",
                line=number,
                field="audio_filepath",
            )
        yield Entry(utt_id, path, text, src, number)
