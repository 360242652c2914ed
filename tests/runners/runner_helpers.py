"""Helpers shared by the runner tests (imported as ``runner_helpers``: conftest files are not modules)."""

from __future__ import annotations

import json
from pathlib import Path

from werbench.manifests.schema import Utterance


def add_utterances(manifest: Path, utts: list[Utterance]) -> None:
    """Append lines to a manifest (tests build bad-audio cases this way)."""
    with manifest.open("a", encoding="utf-8") as handle:
        for utt in utts:
            handle.write(json.dumps(utt.to_json()) + "\n")


def read_predictions(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
