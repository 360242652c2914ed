"""The wheel, built once per session from a copy of the working tree with generated files beside it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# What `make demo`, a test run or an old build leaves in a working tree: none of it may reach the wheel.
GENERATED = (
    "demo-results/real-speech/base@greedy/predictions.jsonl",
    "demo-results/leaderboard.csv",
    "demo/.work/text/corpus.txt",
    "build/lib/werbench/demo-results/leaderboard.csv",
    "analysis/__pycache__/stale.cpython-311.pyc",
)


def tracked_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True)
    return [name for name in out.stdout.decode().split("\0") if name and (REPO / name).is_file()]


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``make dist``'s build of the tracked files plus ``GENERATED`` junk: the sdist, then the wheel from it
    (``pip wheel .`` from a working tree would pack a stale ``build/lib`` too)."""
    work = tmp_path_factory.mktemp("wheel")
    tree = work / "tree"
    for name in tracked_files():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, tree / name)
    for name in GENERATED:
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text("generated\n")
    command = [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(work / "dist"), str(tree)]
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    (built,) = (work / "dist").glob("werbench-*.whl")
    return built
