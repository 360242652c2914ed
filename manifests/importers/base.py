"""What every importer shares: the options, the record an importer yields, the registry and file helpers."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from werbench.manifests.errors import ManifestError
from werbench.manifests.io import iter_lines
from werbench.manifests.wsj_markup import VpMode


@dataclass(slots=True)
class ImportOptions:
    """Knobs of ``werbench manifest import``; each importer reads the ones that concern its format."""

    subset: str | None = None
    audio_dir: Path | None = None
    wsj_channel: str = "wv1"
    wsj_cleanup: bool = True
    wsj_vp: VpMode = "words"


@dataclass(slots=True)
class Entry:
    """One utterance as a corpus describes it, before its audio header is read.

    ``source``/``line`` say where the corpus named it, so that a bad audio file is reported there;
    ``audio=None`` marks a reference-only utterance (no audio at all).
    """

    utt_id: str
    audio: Path | None
    text: str
    source: Path
    line: int | None = None
    speaker: str | None = None
    offset: float = 0.0
    duration: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


EntrySource = Callable[[Path, ImportOptions], Iterator[Entry]]


@dataclass(frozen=True, slots=True)
class Importer:
    name: str
    layout: str
    subset_help: str | None
    entries: EntrySource


IMPORTERS: dict[str, Importer] = {}


def importer(name: str, layout: str, subset_help: str | None = None) -> Callable[[EntrySource], EntrySource]:
    """Register an entry source under ``name``; ``subset_help`` None means the format has no subsets."""

    def register(func: EntrySource) -> EntrySource:
        IMPORTERS[name] = Importer(name, layout, subset_help, func)
        return func

    return register


def no_subset(name: str, options: ImportOptions) -> None:
    if options.subset:
        raise ManifestError(
            "--subset", f"the {name} format has no subsets; pass the file or folder itself as SRC"
        )


def require_dir(path: Path) -> Path:
    if not path.is_dir():
        raise ManifestError(path, "folder not found")
    return path


def require_file(path: Path) -> Path:
    if not path.is_file():
        raise ManifestError(path, "is a folder, a file was expected" if path.is_dir() else "file not found")
    return path


def resolve(raw: str, base: Path) -> Path:
    """A path from a corpus file: absolute as is, else relative to ``base`` (its folder or --audio-dir)."""
    path = Path(raw).expanduser()
    return path if path.is_absolute() else base / path


def index_audio(root: Path, suffixes: tuple[str, ...]) -> dict[str, Path]:
    """Lower-cased stem -> path of audio below ``root``; earlier suffixes in the tuple win, then sort order.

    Corpora on LDC discs mix upper- and lower-case names, so matching ignores case.
    """
    rank = {suffix: i for i, suffix in enumerate(suffixes)}
    found: dict[str, tuple[int, Path]] = {}
    for path in sorted(root.rglob("*")):
        suffix = path.suffix.lower()
        if suffix not in rank or not path.is_file():
            continue
        key = path.stem.lower()
        if key not in found or rank[suffix] < found[key][0]:
            found[key] = (rank[suffix], path)
    return {key: path for key, (_, path) in found.items()}


def key_value_lines(path: Path) -> Iterator[tuple[int, str, str]]:
    """``(line, key, rest)`` of Kaldi-style ``key value...`` files; ``rest`` may be empty. A key given twice
    is a ManifestError naming the line (a NUL byte too, from ``iter_lines``)."""
    seen: dict[str, int] = {}
    for number, text in iter_lines(path):
        key, rest = [*text.split(maxsplit=1), ""][:2]
        if key in seen:
            raise ManifestError(
                path, f"duplicate key {key!r} (first on line {seen[key]})", line=number, field="utt_id"
            )
        seen[key] = number
        yield number, key, rest.strip()


def find_files(root: Path, name_pattern: str, what: str) -> list[Path]:
    """Files below ``root`` whose name matches glob ``name_pattern`` in any case, sorted; none is an error."""
    lowered = name_pattern.lower()
    matches = sorted(
        p for p in root.rglob("*") if fnmatch.fnmatchcase(p.name.lower(), lowered) and p.is_file()
    )
    if not matches:
        raise ManifestError(root, f"no {what} ({name_pattern}) below this folder")
    return matches
