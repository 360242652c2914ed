"""Kaldi data directories: ``wav.scp``, ``text``, optional ``utt2spk`` and ``segments``.

``wav.scp`` entries are file paths, or commands ending in ``|``. Only commands that merely decode or copy one
file are understood (``sph2pipe [-f FMT] [-p] [-c 1] FILE``, ``flac -c -d -s FILE``, ``sox FILE -t wav -``,
``ffmpeg -i FILE -f wav -``, ``cat FILE``): werbench reads those files itself. Anything that edits the audio
(time ranges, channel 2, effects, pipelines) or archive offsets (``foo.ark:123``) is reported as unsupported,
because the result could not be reproduced from a manifest line.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Iterator
from pathlib import Path

from werbench.manifests.errors import ManifestError
from werbench.manifests.importers.base import (
    Entry,
    ImportOptions,
    importer,
    key_value_lines,
    no_subset,
    require_dir,
    resolve,
)

# Per program: options taking a value, and the values those may take (None: any); flags without value.
_VALUE_OPTIONS: dict[str, dict[str, set[str] | None]] = {
    "sph2pipe": {"-f": None, "-c": {"1"}},
    "flac": {},
    "sox": {"-t": {"wav"}, "-r": None, "-b": {"16"}, "-e": {"signed-integer", "signed"}, "-c": {"1"}},
    "ffmpeg": {
        "-f": {"wav"},
        "-ar": None,
        "-ac": {"1"},
        "-acodec": None,
        "-c:a": None,
        "-loglevel": None,
        "-v": None,
    },
    "cat": {},
}
_FLAGS = {
    "sph2pipe": {"-p"},
    "flac": {"-c", "-d", "-s", "--decode", "--stdout", "--silent", "-f"},
    "sox": {"-q", "-V0", "-V1"},
    "ffmpeg": {"-nostdin", "-hide_banner", "-y"},
    "cat": set(),
}
_OUTPUT_TOKENS = {"-", "pipe:1", "pipe:"}


def _command_input(command: str) -> str | None:
    """The one input file of a decode-only command, or None when the command does more than decode."""
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    if not words or "|" in words:
        return None
    program = Path(words[0]).name
    if program not in _VALUE_OPTIONS:
        return None
    inputs, i = [], 1
    while i < len(words):
        word = words[i]
        allowed = _VALUE_OPTIONS[program].get(word, False)
        if word == "-i" and program == "ffmpeg" and i + 1 < len(words):
            inputs.append(words[i + 1])
            i += 2
        elif allowed is not False:
            if i + 1 >= len(words) or (allowed is not None and words[i + 1] not in allowed):
                return None
            i += 2
        elif word in _FLAGS[program] or (word in _OUTPUT_TOKENS and program in ("sox", "ffmpeg")):
            i += 1
        elif word.startswith("-"):
            return None
        else:
            inputs.append(word)
            i += 1
    return inputs[0] if len(inputs) == 1 else None


def _recordings(path: Path, base: Path) -> dict[str, tuple[Path, int]]:
    recordings: dict[str, tuple[Path, int]] = {}
    for number, key, rest in key_value_lines(path):
        if not rest:
            raise ManifestError(path, f"recording {key!r} has no path", line=number, field="path")
        target = rest
        if rest.endswith("|"):
            target = _command_input(rest[:-1]) or ""
            if not target:
                raise ManifestError(
                    path,
                    f"unsupported piped command {rest!r}: only single-file decoders (sph2pipe, flac, sox, "
                    "ffmpeg, cat) without edits are understood; write the audio to files first",
                    line=number,
                    field="path",
                )
        elif " " in rest or rest.rsplit(":", 1)[-1].isdigit():
            raise ManifestError(
                path,
                f"unsupported wav.scp entry {rest!r} (archive offset or spaces)",
                line=number,
                field="path",
            )
        recordings[key] = (resolve(target, base), number)
    return recordings


def _segments(path: Path) -> dict[str, tuple[str, float, float | None, int]]:
    segments = {}
    for number, key, rest in key_value_lines(path):
        parts = rest.split()
        try:
            if len(parts) != 3:
                raise ValueError
            start, end = float(parts[1]), float(parts[2])
        except ValueError:
            raise ManifestError(
                path, f"expected 'utt_id rec_id start end', got {key} {rest!r}", line=number
            ) from None
        if not (math.isfinite(start) and math.isfinite(end)) or start < 0 or (end != -1 and end <= start):
            raise ManifestError(path, f"bad segment times {start} .. {end}", line=number, field="end")
        segments[key] = (parts[0], start, None if end == -1 else end - start, number)
    return segments


@importer(
    "kaldi",
    "Kaldi data directory: wav.scp (paths, or simple decode commands such as 'sph2pipe -f wav FILE |'; "
    "relative paths resolve against the current folder, as in Kaldi, or --audio-dir), text, optional "
    "utt2spk (speaker) and segments (offset/duration)",
)
def kaldi_entries(src: Path, options: ImportOptions) -> Iterator[Entry]:
    no_subset("kaldi", options)
    root = require_dir(src)
    for name in ("wav.scp", "text"):
        if not (root / name).is_file():
            raise ManifestError(root / name, "a Kaldi data directory needs this file")
    recordings = _recordings(root / "wav.scp", options.audio_dir or Path.cwd())
    segments = _segments(root / "segments") if (root / "segments").is_file() else None
    speakers = {}
    if (root / "utt2spk").is_file():
        for number, key, rest in key_value_lines(root / "utt2spk"):
            if not rest:
                raise ManifestError(root / "utt2spk", f"utterance {key!r} has no speaker", line=number)
            speakers[key] = rest
    for number, utt_id, text in key_value_lines(root / "text"):
        offset, duration, rec_id = 0.0, None, utt_id
        if segments is not None:
            if utt_id not in segments:
                raise ManifestError(
                    root / "text", f"utterance {utt_id!r} is not in segments", line=number, field="utt_id"
                )
            rec_id, offset, duration, segment_line = segments[utt_id]
        if rec_id not in recordings:
            raise ManifestError(
                root / "text", f"recording {rec_id!r} is not in wav.scp", line=number, field="utt_id"
            )
        audio, scp_line = recordings[rec_id]
        # Audio problems are reported where the audio was named: the segment, else the wav.scp line.
        source, line = (
            (root / "segments", segment_line) if segments is not None else (root / "wav.scp", scp_line)
        )
        yield Entry(
            utt_id, audio, text, source, line, speaker=speakers.get(utt_id), offset=offset, duration=duration
        )
