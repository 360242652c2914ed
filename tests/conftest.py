"""Fixtures shared by every test package."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

# The suite gates CI: property tests draw the same examples on every run (a failure reproduces, a green run
# stays green). To search new ground, run them with ``pytest --hypothesis-profile=explore``; add what it
# finds as a regression example (``@example``) or a test of its own.
settings.register_profile("ci", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile("ci")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def repo_dir() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` beside the checkout; tests that need it skip with a reason when it is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"shared fixtures folder {SHARED} is absent")
    return SHARED
