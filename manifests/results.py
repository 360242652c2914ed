"""The results directory that runners write and analysis reads: ``RESULTS/<testset>/<system>/``.

It lives in the lowest layer because both sides of the hand-off need the same record types.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from werbench.manifests.atomic import atomic_write
from werbench.manifests.errors import ConfigError, ManifestError, ResultsDirError

PREDICTIONS = "predictions.jsonl"
RUN_INFO = "run.json"
TESTSET_MANIFEST = "manifest.jsonl"
# the fields a prediction line adds to its manifest line (see docs/ARCHITECTURE.md)
PREDICTION_FIELDS = ("pred_text", "nbest", "greedy_text", "beam_text", "word_times", "error")


@dataclass(slots=True)
class RunInfo:
    """Provenance of one system's decode of one test set (``run.json``)."""

    system: str
    testset: str
    model: dict[str, Any] = field(default_factory=dict)
    decoder: dict[str, Any] = field(default_factory=dict)
    lm: dict[str, Any] | None = None
    rescorer: dict[str, Any] | None = None
    normalizer: str = "none@1"
    versions: dict[str, str] = field(default_factory=dict)
    device: str = "cpu"
    audio_seconds: float = 0.0
    am_seconds: float = 0.0
    decode_seconds: float = 0.0
    rtfx: float | None = None
    created: str = ""
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any], path: Path | str = "run.json") -> RunInfo:
        known = {f.name for f in fields(cls)}
        for required in ("system", "testset"):
            if not isinstance(data.get(required), str):
                raise ManifestError(path, "required string field is missing", field=required)
        kwargs = {k: v for k, v in data.items() if k in known}
        kwargs.setdefault("extra", {}).update({k: v for k, v in data.items() if k not in known})
        return cls(**kwargs)


@dataclass(frozen=True, slots=True)
class SystemRef:
    """Where one system's predictions for one test set live."""

    testset: str
    system: str
    path: Path

    @property
    def predictions(self) -> Path:
        return self.path / PREDICTIONS

    @property
    def run_info_path(self) -> Path:
        return self.path / RUN_INFO

    @property
    def model_name(self) -> str:
        """The acoustic-model part of ``<model>@<decoder>``; systems sharing it share logits."""
        return self.system.split("@", 1)[0]


def system_dir(results: str | Path, testset: str, system: str) -> SystemRef:
    for name, value in (("testset", testset), ("system", system)):
        if not value or "/" in value or value.startswith("."):
            raise ConfigError(results, f"invalid {name} name {value!r}", field=name)
    return SystemRef(testset, system, Path(results) / testset / system)


def iter_systems(results: str | Path) -> Iterator[SystemRef]:
    """Every ``<testset>/<system>`` folder holding a predictions file, sorted for stable output."""
    root = Path(results)
    if not root.is_dir():
        raise ResultsDirError(root, "results directory not found")
    for testset_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for sys_dir in sorted(p for p in testset_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
            if (sys_dir / PREDICTIONS).is_file():
                yield SystemRef(testset_dir.name, sys_dir.name, sys_dir)


def read_run_info(ref: SystemRef) -> RunInfo | None:
    if not ref.run_info_path.is_file():
        return None
    try:
        data = json.loads(ref.run_info_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ManifestError(ref.run_info_path, f"invalid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ManifestError(ref.run_info_path, "expected a JSON object")
    return RunInfo.from_json(data, ref.run_info_path)


def write_run_info(ref: SystemRef, info: RunInfo) -> None:
    with atomic_write(ref.run_info_path) as handle:
        json.dump(info.to_json(), handle, indent=2, ensure_ascii=False)
        handle.write("\n")
