"""WSJ (LDC CSR-I WSJ0 and CSR-II WSJ1) as distributed on disc.

Audio is NIST SPHERE, usually shorten-compressed: ``<id>.wv1`` (Sennheiser close-talking microphone) or
``<id>.wv2`` (second microphone). Transcripts are ``.dot`` files (detailed orthography, one per session
folder) and ``.lsn`` files (lexical SNOR), both ``TEXT (id)`` lines; a ``.dot`` wins where both hold an
id. Test and dev sets are chosen with LDC's index files (``.ndx``: ``disc:path/to/<id>.wv1`` lines,
``;`` comments). Utterance ids are the 8-character file stems, the first three naming the speaker.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
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
from werbench.manifests.io import iter_lines
from werbench.manifests.trn import iter_trn
from werbench.manifests.wsj_markup import clean_wsj_transcript

CHANNELS = ("wv1", "wv2")


@dataclass(frozen=True, slots=True)
class _Transcript:
    text: str
    path: Path
    line: int


def _transcripts(root: Path) -> dict[str, _Transcript]:
    found: dict[str, _Transcript] = {}
    for suffix in ("lsn", "dot"):  # later wins: .dot over .lsn
        files = [p for p in root.rglob("*") if p.suffix.lower() == f".{suffix}" and p.is_file()]
        for path in sorted(files):
            for number, utt_id, text in iter_trn(path, encoding="latin-1"):  # LDC text is ASCII
                found[utt_id.lower()] = _Transcript(text, path, number)
    if not found:
        raise ManifestError(root, "no WSJ transcripts (.dot or .lsn files) below this folder")
    return found


def _index_file(root: Path, subset: str) -> Path:
    for candidate in (Path(subset).expanduser(), root / subset):
        if candidate.is_file():
            return candidate
    name = subset if subset.lower().endswith(".ndx") else f"{subset}.ndx"
    matches = find_files(root, name, "WSJ index file")
    if len(matches) > 1:
        listed = ", ".join(str(p.relative_to(root)) for p in matches[:6])
        raise ManifestError(
            root, f"--subset {subset!r} matches several index files ({listed}); give its path"
        )
    return matches[0]


def _index_ids(path: Path) -> Iterator[tuple[int, str]]:
    """``(line, utterance id)`` per entry of an index file such as ``si_et_05.ndx``."""
    for number, text in iter_lines(path, encoding="latin-1"):
        entry = text.strip().split()[0] if text.strip() else ""
        if not entry or entry.startswith(";"):
            continue
        name = entry.rsplit(":", 1)[-1].replace("\\", "/").rsplit("/", 1)[-1]
        yield number, name.split(".", 1)[0].lower()


@importer(
    "wsj",
    "LDC WSJ CSR-I/II disc tree: SPHERE audio <id>.wv1/.wv2 (shorten-compressed or not) and .dot/.lsn "
    "transcripts; markup cleaned per --wsj-cleanup/--wsj-vp; speaker = first 3 characters of the id",
    "an index file choosing the utterances: a path, or a name found below SRC such as si_et_05 or "
    "si_et_05.ndx (default: every utterance with audio and a transcript)",
)
def wsj_entries(src: Path, options: ImportOptions) -> Iterator[Entry]:
    root = require_dir(src)
    if options.wsj_channel not in CHANNELS:
        raise ManifestError(
            "--wsj-channel", f"must be one of {', '.join(CHANNELS)}, got {options.wsj_channel!r}"
        )
    audio = index_audio(root, (f".{options.wsj_channel}",))
    transcripts = _transcripts(root)
    if options.subset:
        index = _index_file(root, options.subset)
        wanted = [(index, number, utt_id) for number, utt_id in _index_ids(index)]
    else:
        wanted = [
            (transcripts[u].path, transcripts[u].line, u) for u in sorted(audio.keys() & transcripts.keys())
        ]
    if not wanted:
        raise ManifestError(root, f"no utterance has both .{options.wsj_channel} audio and a transcript")
    for source, number, utt_id in wanted:
        if utt_id not in audio:
            raise ManifestError(
                source, f"no {utt_id}.{options.wsj_channel} below {root}", line=number, field="audio_filepath"
            )
        if utt_id not in transcripts:
            raise ManifestError(
                source, f"no .dot/.lsn transcript for {utt_id} below {root}", line=number, field="text"
            )
        text = transcripts[utt_id].text
        if options.wsj_cleanup:
            text = clean_wsj_transcript(text, options.wsj_vp)
        yield Entry(utt_id, audio[utt_id], text, source, number, speaker=utt_id[:3])
