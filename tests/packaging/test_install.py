"""The built wheel in a fresh virtual environment (no access to this one's packages): the demo runs from the
installed package data alone, and werbench's layers coexist with a distribution owning a top-level
``analysis`` module (issue 18.1). Slow: a real install of the runners' stack (torch, NeMo) from the indexes
pip is configured with, about two minutes with the local wheel files, then the demo subset."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]  # a real install: minutes on a busy machine


def _run(command: list[str], cwd: Path, timeout: int) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{command}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with ``werbench[runners]`` from the wheel, as README's pip install section says."""
    root = tmp_path_factory.mktemp("venv")
    _run([sys.executable, "-m", "venv", str(root / "venv")], root, 120)
    pip = [str(root / "venv/bin/python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    _run([*pip, "-c", str(REPO / "constraints.txt"), f"{wheel}[runners]"], root, 900)
    _run([*pip, "-c", str(REPO / "constraints.txt"), "--no-deps", "pyctcdecode==0.5.0"], root, 300)
    return root / "venv"


def test_the_installed_wheel_runs_the_demo_subset(venv: Path, tmp_path: Path) -> None:
    python = str(venv / "bin/python")
    location = _run([python, "-c", "import werbench; print(werbench.__file__)"], tmp_path, 60)
    assert location.stdout.strip().startswith(str(venv))  # the installed copy, not the source tree
    results = tmp_path / "demo-results"
    run = _run([str(venv / "bin/werbench"), "demo", "--subset", "4", "--no-serve", "--results", str(results)],
               tmp_path, 900)  # fmt: skip
    assert "demo ready" in run.stdout
    rows = list(csv.DictReader((results / "leaderboard.csv").open()))
    assert {r["testset"] for r in rows} == {"real-speech", "general-synth", "business-synth"}
    assert all(r["utts"] == "4" for r in rows) and len(rows) >= 24
    assert (results / "report.html").stat().st_size > 100_000


def test_a_top_level_analysis_module_coexists_with_werbench(venv: Path, tmp_path: Path) -> None:
    dummy = tmp_path / "dummy"
    dummy.mkdir()
    (dummy / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "analysis-dummy"\nversion = "1.0"\n[tool.setuptools]\npy-modules = ["analysis"]\n'
    )
    (dummy / "analysis.py").write_text('OWNER = "analysis-dummy"\n')
    wheel = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
    _run([*wheel, "-w", str(tmp_path), str(dummy)], tmp_path, 120)
    (built,) = tmp_path.glob("analysis_dummy-*.whl")
    _run([str(venv / "bin/python"), "-m", "pip", "install", "-q", "--no-deps", str(built)], tmp_path, 120)
    probe = (
        "import analysis, werbench, werbench.aligner.align\n"
        "print(analysis.OWNER, werbench.aligner.align.__name__, werbench.score(['a b c'], ['a x c']).wer)\n"
    )
    out = _run([str(venv / "bin/python"), "-c", probe], tmp_path, 120)
    assert out.stdout.split() == ["analysis-dummy", "werbench.aligner.align", str(1 / 3)]
