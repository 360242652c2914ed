"""A system's ``predictions.jsonl`` while it is decoded: a row per utterance, appended a batch at a time.

Each batch is appended with an fsync, so a kill loses at most the batch in flight; a line torn by a kill is
cut off on the next read, failed rows are dropped there to be retried, and at the end the file is rewritten
atomically in manifest order.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from werbench.manifests.atomic import atomic_write
from werbench.manifests.io import iter_json_rows
from werbench.manifests.schema import Utterance
from werbench.runners.decoders.base import Decoded


def _repair_tail(path: Path) -> None:
    """Cut a half-written last line left by a kill during a write."""
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with path.open("r+b") as handle:
            handle.truncate(data.rfind(b"\n") + 1)


def read_done(path: Path, retry_failed: bool = True) -> dict[str, dict[str, Any]]:
    """Rows already written, by utt_id; with ``retry_failed`` failed rows are dropped (and rewritten out)."""
    if not path.is_file():
        return {}
    _repair_tail(path)
    rows: dict[str, dict[str, Any]] = {}
    dropped = False
    for _, row in iter_json_rows(path):  # a corrupt line is a ManifestError naming it
        if retry_failed and row.get("error"):
            dropped = True
            continue
        rows[row["utt_id"]] = row
    if dropped:
        write_rows(path, rows.values())
    return rows


def write_rows(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """All rows, replacing the file atomically (failed rows dropped for a retry, or the final order)."""
    with atomic_write(path) as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def rows_text(rows: Iterable[dict[str, Any]]) -> str:
    """The lines of ``rows`` as this file holds them (also a batch's object on remote storage)."""
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def append_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    """One batch, flushed and fsynced, so a kill after this returns never loses it."""
    with path.open("a", encoding="utf-8") as handle:
        handle.write(rows_text(rows))
        handle.flush()
        os.fsync(handle.fileno())


def prediction_row(utt: Utterance, decoded: Decoded | None, error: str | None) -> dict[str, Any]:
    """A manifest line plus ``pred_text`` and the optional fields the analysis layer reads."""
    row = utt.to_json()
    if decoded is None:
        row["pred_text"] = ""
        row["error"] = error or "unknown failure"
        return row
    row["pred_text"] = decoded.text
    row.update(decoded.stages)
    if decoded.nbest:
        row["nbest"] = [hyp.to_json() for hyp in decoded.nbest]
    if decoded.word_times is not None:
        row["word_times"] = [list(span) for span in decoded.word_times]
    if decoded.word_confidence is not None:
        row["word_confidence"] = decoded.word_confidence
    return row
