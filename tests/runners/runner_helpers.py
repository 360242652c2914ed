"""Helpers shared by the runner tests (imported as ``runner_helpers``: conftest files are not modules)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from werbench.manifests.schema import Utterance


def add_utterances(manifest: Path, utts: list[Utterance]) -> None:
    """Append lines to a manifest (tests build bad-audio cases this way)."""
    with manifest.open("a", encoding="utf-8") as handle:
        for utt in utts:
            handle.write(json.dumps(utt.to_json()) + "\n")


def read_predictions(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def foreground_sigint() -> None:
    """In the child: SIGINT as in a terminal's foreground job. A CI runner that starts the suite in the
    background passes SIGINT on as ignored, and a decode started with it ignored rightly ignores Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def stop_after(proc: subprocess.Popen, predictions: Path, lines: int, sig: int) -> int:
    """Send ``sig`` once the file holds more than ``lines`` lines; returns how many it held then."""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if predictions.is_file():
            count = predictions.read_bytes().count(b"\n")
            if count > lines:
                proc.send_signal(sig)
                return count
        if proc.poll() is not None:
            pytest.fail(f"decode ended before it could be interrupted:\n{proc.stdout.read()}")
        time.sleep(0.01)
    proc.kill()
    pytest.fail("decode produced no predictions in time")


def werbench() -> str:
    """The CLI of this venv (tests run it as a user would, in its own process)."""
    return str(Path(sys.executable).with_name("werbench"))
