"""Fixtures for the dashboard tests: a small synthetic results directory with real WAV files, and an app."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.synthetic_results import SyntheticSpec, generate

SPEC = SyntheticSpec(utterances=40, testsets=("synth-clean", "synth-noisy"), seed=3)


@pytest.fixture(scope="session")
def results_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 utterances x 2 test sets x 4 systems (two models x greedy/beam), one real 16 kHz WAV each."""
    return generate(tmp_path_factory.mktemp("results"), SPEC)


@pytest.fixture(scope="session")
def app(results_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    from werbench.dashboard.app import create_app

    return create_app(results_dir, cache_dir=tmp_path_factory.mktemp("analysis-cache"))


@pytest.fixture()
def client(app):
    return app.server.test_client()


@pytest.fixture(scope="session")
def workspace(app):
    return app.server.config["WERBENCH_WORKSPACE"]
