"""Reading the CSV/TSV listings of Common Voice and DeepSpeech with errors that name file, line and column."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from werbench.manifests.errors import ManifestError
from werbench.manifests.importers.base import require_file
from werbench.manifests.io import iter_lines


def _first_undecodable_line(path: Path) -> ManifestError:
    """The decoder reads in blocks, so find the exact line again line by line."""
    try:
        for _ in iter_lines(path):
            pass
    except ManifestError as exc:
        return exc
    return ManifestError(path, "not UTF-8")


def _width(row: dict) -> int:
    return sum(value is not None for key, value in row.items() if key is not None) + len(row.get(None) or [])


def iter_table(
    path: Path, required: tuple[str, ...], *, delimiter: str = ",", quoting: int = csv.QUOTE_MINIMAL
) -> Iterator[tuple[int, dict[str, str]]]:
    """``(line, row)`` for each data row of a listing whose header line names at least ``required``."""
    require_file(path)
    with path.open("r", encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle, delimiter=delimiter, quoting=quoting, strict=True)
        try:
            header = reader.fieldnames or []
            missing = [name for name in required if name not in header]
            if missing:
                raise ManifestError(
                    path, f"header lacks column {missing[0]!r}; it has {header}", line=1, field=missing[0]
                )
            for row in reader:
                if None in row or None in row.values():
                    raise ManifestError(
                        path, f"row has {_width(row)} fields, the header {len(header)}", line=reader.line_num
                    )
                nul = next((key for key, value in row.items() if "\0" in value), None)
                if nul is not None:
                    raise ManifestError(path, "NUL byte in the value", line=reader.line_num, field=nul)
                yield reader.line_num, row
        except UnicodeDecodeError:
            raise _first_undecodable_line(path) from None
        except csv.Error as exc:
            raise ManifestError(path, f"malformed CSV: {exc}", line=reader.line_num) from None
