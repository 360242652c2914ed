"""NIST sclite ``trn`` files: one ``text (utt_id)`` per line.

As sclite reads them, the utterance id is whatever stands inside the final parentheses at the end of the
line, so ``(laughs) yes (spk1-utt2)`` is the text ``(laughs) yes`` with id ``spk1-utt2``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from werbench.manifests.atomic import atomic_write
from werbench.manifests.errors import ManifestError
from werbench.manifests.io import iter_lines
from werbench.manifests.ref_syntax import check_reference_lines


def parse_trn_line(path: str | Path, line: int, raw: str) -> tuple[str, str]:
    """``(utt_id, text)`` of one line; ManifestError naming file and line when it has no final ``(id)``."""
    stripped = raw.strip()
    open_at = stripped.rfind("(")
    if not stripped.endswith(")") or open_at < 0:
        raise ManifestError(
            path, f"expected 'text (utt_id)', got {stripped[:80]!r}", line=line, field="utt_id"
        )
    utt_id = stripped[open_at + 1 : -1].strip()
    if not utt_id or any(ch.isspace() for ch in utt_id):
        raise ManifestError(path, f"bad utterance id {utt_id!r}", line=line, field="utt_id")
    return utt_id, " ".join(stripped[:open_at].split())


def iter_trn(path: str | Path, encoding: str = "utf-8") -> Iterator[tuple[int, str, str]]:
    """``(line, utt_id, text)`` for each non-blank line, checking encoding and duplicate ids."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(path, "trn file not found")
    seen: dict[str, int] = {}
    for number, text in iter_lines(path, encoding):
        if text.startswith(";;"):
            continue
        utt_id, words = parse_trn_line(path, number, text)
        if utt_id in seen:
            raise ManifestError(
                path,
                f"duplicate utterance id {utt_id!r} (first on line {seen[utt_id]})",
                line=number,
                field="utt_id",
            )
        seen[utt_id] = number
        yield number, utt_id, words


def read_trn(path: str | Path, encoding: str = "utf-8", *, reference: bool = False) -> list[tuple[str, str]]:
    """All ``(utt_id, text)`` pairs in file order; a ``reference`` must have valid sclite notation
    (``manifests.ref_syntax``: balanced ``{ a / b }`` alternations and parentheses)."""
    rows = list(iter_trn(path, encoding))
    if reference:
        check_reference_lines(path, ((line, text) for line, _, text in rows), parentheses=True)
    return [(utt_id, text) for _, utt_id, text in rows]


def write_trn(path: str | Path, pairs: Iterable[tuple[str, str]]) -> int:
    """Write ``text (utt_id)`` lines atomically; ids with spaces or parentheses would not read back."""
    path = Path(path)
    count = 0
    with atomic_write(path) as handle:
        for utt_id, text in pairs:
            if not utt_id or any(ch.isspace() or ch in "()" for ch in utt_id):
                raise ManifestError(
                    path, f"utterance id {utt_id!r} cannot be written to a trn file", field="utt_id"
                )
            handle.write(f"{' '.join(text.split())} ({utt_id})\n")
            count += 1
    return count
