"""Where the demo's committed assets and its regenerated (git-ignored) work files live."""

from __future__ import annotations

from pathlib import Path

DEMO_DIR = Path(__file__).resolve().parents[1]
ASSETS = DEMO_DIR / "assets"
TESTSETS = ASSETS / "testsets"
MODELS = ASSETS / "models"
LM_DIR = ASSETS / "lm"
BERT_DIR = ASSETS / "bert"
CORPORA = ASSETS / "corpora"
WORK = DEMO_DIR / ".work"
TEXT_WORK = WORK / "text"
AUDIO_WORK = WORK / "audio"
