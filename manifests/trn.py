"""NIST sclite ``trn`` files: one ``text (utt_id)`` per line.

Words are separated by ASCII whitespace only, as sclite reads them (``manifests.normalize.split_words``: a
non-breaking space stays inside a word). The utterance id is whatever stands inside the final parentheses
at the end of the line, so ``(laughs) yes (spk1-utt2)`` is the text ``(laughs) yes`` with id ``spk1-utt2``.

Two readers, one meaning: ``trn_columns`` parses the whole file at once with pyarrow (one regex pass
in C++ over all lines: ~0.2 s for 200k lines where the line loop takes ~8 s) and hands any file it could
read differently (a line it does not match, a duplicate id, bytes that are not UTF-8, unusual whitespace)
to the line reader ``iter_trn``, which is the authority on the meaning and names the file, line and field
of every error.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

from werbench.manifests.atomic import atomic_write
from werbench.manifests.errors import ManifestError
from werbench.manifests.io import MAX_LINE_BYTES, iter_lines, open_input
from werbench.manifests.normalize import SPACES, split_words
from werbench.manifests.ref_syntax import check_reference_lines

if TYPE_CHECKING:  # imported where used: `werbench --help` imports the importers, which import this module
    import numpy as np
    import pyarrow as pa

# whitespace that Python's str.split/strip know and RE2's \s does not, and the BOM that iter_lines drops
# (UTF-8): a file holding any of them is read by the line reader
_ODD_SPACES = "\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000" + "".join(
    map(chr, range(0x2000, 0x200B))
)
_ODD_BYTES = tuple(ch.encode() for ch in _ODD_SPACES + "\ufeff")  # the ASCII ones first
_ID_PART = r"^\s*[^()\s]+\s*\)\s*$"  # after the last "(": the id, ")" and nothing else (parse_trn_line)


def parse_trn_line(path: str | Path, line: int, raw: str) -> tuple[str, str]:
    """``(utt_id, text)`` of one line; ManifestError naming file and line when it has no final ``(id)``."""
    stripped = raw.strip(SPACES)
    open_at = stripped.rfind("(")
    if not stripped.endswith(")") or open_at < 0:
        raise ManifestError(
            path, f"expected 'text (utt_id)', got {stripped[:80]!r}", line=line, field="utt_id"
        )
    utt_id = stripped[open_at + 1 : -1].strip()
    if not utt_id or any(ch.isspace() for ch in utt_id):
        raise ManifestError(path, f"bad utterance id {utt_id!r}", line=line, field="utt_id")
    return utt_id, " ".join(split_words(stripped[:open_at]))


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


def _lines(data: bytes) -> pa.LargeStringArray:
    """Every line of ``data`` (its ``\\n`` included) as one Arrow array over the same bytes."""
    import numpy as np
    import pyarrow as pa

    ends = np.flatnonzero(np.frombuffer(data, np.uint8) == 10) + 1
    offsets = np.concatenate([[0], ends, [len(data)] if not len(ends) or ends[-1] != len(data) else []])
    offsets = offsets.astype(np.int64)
    return pa.LargeStringArray.from_buffers(len(offsets) - 1, pa.py_buffer(offsets), pa.py_buffer(data))


def _odd_bytes(data: bytes) -> bool:
    """Whether ``data`` holds whitespace or a BOM the fast reader would treat unlike ``iter_trn``
    (one ``memchr``/``memmem`` scan per sequence: ~1 ms per 25 MB each)."""
    candidates = _ODD_BYTES[:6] if data.isascii() else _ODD_BYTES
    return any(data.find(seq) >= 0 for seq in candidates)


def _fast_columns(data: bytes) -> tuple[pa.Array, pa.Array, np.ndarray] | None:
    """``(ids, texts, line numbers)`` as ``iter_trn`` reads them, or None where it could read them
    differently or would refuse the file (it then says where)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if _odd_bytes(data) or b"\0" in data:  # a NUL byte: the line reader names its line
        return None
    lines = _lines(data)
    try:
        lines.validate(full=True)  # UTF-8
    except pa.ArrowInvalid:
        return None
    if len(lines) and pc.max(pc.binary_length(lines)).as_py() > MAX_LINE_BYTES:
        return None
    keep = pc.invert(pc.or_(pc.match_substring_regex(lines, r"^\s*$"), pc.starts_with(lines, ";;")))
    parts = pc.split_pattern(lines.filter(keep), "(", max_splits=1, reverse=True)
    if len(parts) and pc.min(pc.list_value_length(parts)).as_py() < 2:
        return None  # a line without "(": the line reader names it
    tail = pc.list_element(parts, 1)
    if not pc.all(pc.match_substring_regex(tail, _ID_PART)).as_py():
        return None
    ids = pc.ascii_trim(tail, " \t\r\n)")  # ASCII bytes never occur inside a UTF-8 sequence
    if pc.count_distinct(ids).as_py() != len(ids):
        return None  # a duplicate id: the line reader names both lines
    text = pc.ascii_rtrim(pc.list_element(parts, 0), " \t\r")
    loose = pc.or_(pc.starts_with(text, " "), pc.match_substring_regex(text, r"\s\s|[\t\r]"))
    if pc.any(loose).as_py():  # runs of whitespace to collapse, as " ".join(split_words(text)) does
        fixed = pc.replace_substring_regex(pc.filter(text, loose), r"\s+", " ")
        text = pc.replace_with_mask(text, loose, pc.ascii_ltrim(fixed, " "))
    return ids, text, pc.indices_nonzero(keep).to_numpy() + 1


def trn_columns(path: str | Path, encoding: str = "utf-8", *, reference: bool = False) -> pa.Table:
    """``utt_id`` and ``text`` of every line in file order, as ``iter_trn`` reads them (module docstring);
    a ``reference`` must have valid sclite notation (``manifests.ref_syntax``: balanced ``{ a / b }``
    alternations and parentheses)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    path = Path(path)
    if not path.is_file():
        raise ManifestError(path, "trn file not found")
    with open_input(path) as handle:
        data = handle.read()
    fast = _fast_columns(data) if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else None
    if fast is None:
        rows = list(iter_trn(path, encoding))
        lines = np.array([line for line, _, _ in rows], np.int64)
        ids = pa.array([utt_id for _, utt_id, _ in rows], pa.large_string())
        texts = pa.array([text for _, _, text in rows], pa.large_string())
    else:
        ids, texts, lines = fast
    if reference:  # only texts holding a brace or parenthesis can break the notation
        marked = pc.match_substring_regex(texts, r"[{}()]").to_numpy(zero_copy_only=False)
        where = np.flatnonzero(marked).tolist()
        check_reference_lines(path, ((int(lines[k]), texts[k].as_py()) for k in where), parentheses=True)
    return pa.table({"utt_id": ids, "text": texts})


def read_trn(path: str | Path, encoding: str = "utf-8", *, reference: bool = False) -> list[tuple[str, str]]:
    """All ``(utt_id, text)`` pairs in file order (``trn_columns``, as Python strings)."""
    table = trn_columns(path, encoding, reference=reference)
    return list(zip(table["utt_id"].to_pylist(), table["text"].to_pylist(), strict=True))


ID_BREAKS = " \t\n\r" + _ODD_SPACES + "()"  # what ``str.isspace`` holds true, and parentheses
_ID_BREAK = "[" + "".join(f"\\x{{{ord(c):x}}}" for c in ID_BREAKS) + "]"  # RE2 syntax
_SPACE_RUN = "[" + "".join(f"\\x{{{ord(c):x}}}" for c in SPACES) + "]+"
_LINES_PER_WRITE = 1 << 16


def trn_id_ok(utt_id: str) -> bool:
    """Whether an id reads back from a trn line: not empty, no white space, no parentheses."""
    return bool(utt_id) and not any(ch in ID_BREAKS for ch in utt_id)


def write_trn(path: str | Path, pairs: Iterable[tuple[str, str]]) -> int:
    """Write ``text (utt_id)`` lines atomically; ids with spaces or parentheses would not read back."""
    import pyarrow as pa

    with atomic_write(path, "wb") as handle:  # the output checked before ``pairs`` is read
        pairs = list(pairs)
        ids = pa.array([utt_id for utt_id, _ in pairs], pa.large_string())
        return _write_lines(handle, path, ids, pa.array([text for _, text in pairs], pa.large_string()))


def write_trn_columns(path: str | Path, ids: pa.Array, texts: pa.Array) -> int:
    """``write_trn`` from Arrow columns, without a Python object per line."""
    with atomic_write(path, "wb") as handle:
        return _write_lines(handle, path, ids, texts)


def _write_lines(handle: IO[bytes], path: str | Path, ids: pa.Array, texts: pa.Array) -> int:
    """Each text's words (``SPACES`` separate them) joined by one space, then `` (id)``, a line each."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    ids, texts = (pc.fill_null(a.cast(pa.large_string()), "") for a in (ids, texts))
    bad = pc.or_(pc.equal(ids, ""), pc.match_substring_regex(ids, _ID_BREAK)).to_numpy(zero_copy_only=False)
    if bad.any():
        utt_id = ids[int(np.argmax(bad))].as_py()
        raise ManifestError(path, f"utterance id {utt_id!r} cannot be written to a trn file", field="utt_id")
    words = pc.utf8_trim(pc.replace_substring_regex(texts, _SPACE_RUN, " "), " ")
    literal = {text: pa.scalar(text, pa.large_string()) for text in (" (", ")\n", "")}
    lines = pc.binary_join_element_wise(words, literal[" ("], ids, literal[")\n"], literal[""])
    for start in range(0, len(lines), _LINES_PER_WRITE):
        chunk = lines.slice(start, _LINES_PER_WRITE)
        joined = pa.LargeListArray.from_arrays(pa.array([0, len(chunk)], pa.int64()), chunk)
        handle.write(pc.binary_join(joined, literal[""])[0].as_buffer())
    return len(lines)
