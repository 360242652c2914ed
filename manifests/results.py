"""The results directory that runners write and analysis reads: ``RESULTS/<testset>/<system>/``.

It lives in the lowest layer because both sides of the hand-off need the same record types.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from werbench.manifests.atomic import atomic_write
from werbench.manifests.errors import ConfigError, ManifestError, ResultsDirError
from werbench.manifests.io import load_json_file

PREDICTIONS = "predictions.jsonl"
RUN_INFO = "run.json"
TESTSET_MANIFEST = "manifest.jsonl"
# ``s3://``, ``gs://``, ``file://``... (a Path made of one keeps one slash); ``C:/`` is a drive, not a URL
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:/")
# the fields a prediction line adds to its manifest line (see docs/ARCHITECTURE.md)
PREDICTION_FIELDS = (
    "pred_text", "nbest", "greedy_text", "beam_text", "word_times", "word_confidence", "error",
)  # fmt: skip


_NUMBER = ((int, float), "a number")
_RUN_FIELD_TYPES: dict[str, tuple[type | tuple[type, ...], str]] = {
    "model": (dict, "an object"),
    "decoder": (dict, "an object"),
    "lm": (dict, "an object or null"),
    "rescorer": (dict, "an object or null"),
    "normalizer": (str, "a normaliser spec string such as 'nemo@1'"),
    "versions": (dict, "an object"),
    "device": (str, "a string"),
    "audio_seconds": _NUMBER,
    "am_seconds": _NUMBER,
    "decode_seconds": _NUMBER,
    "rtfx": _NUMBER,
    "created": (str, "a string"),
    "notes": (list, "a list of strings"),
}


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
        """Checked: a field of the wrong type is a ManifestError naming it, never a failure far downstream."""
        known = {f.name for f in fields(cls)}
        for required in ("system", "testset"):
            if not isinstance(data.get(required), str):
                raise ManifestError(path, "required string field is missing", field=required)
        for name, (kinds, what) in _RUN_FIELD_TYPES.items():
            value = data.get(name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, kinds)):
                raise ManifestError(path, f"expected {what}, got {type(value).__name__}", field=name)
        if "normalizer" in data:
            from werbench.manifests.normalize import get_normalizer

            try:
                get_normalizer(data["normalizer"])
            except (ManifestError, ValueError) as exc:
                message = getattr(exc, "message", str(exc))
                raise ManifestError(path, message, field="normalizer") from None
        if data.get("notes") is not None and not all(isinstance(n, str) for n in data["notes"]):
            raise ManifestError(path, "expected a list of strings", field="notes")
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


def is_url(location: str | Path) -> bool:
    """A storage URL rather than a local path (``werbench run`` writes results to either)."""
    return bool(_URL.match(str(location)))


def refuse_url(location: str | Path) -> None:
    """Analysis, score and serve read local folders only: a URL gets the way there, not a 'not found'."""
    if is_url(location):
        raise ResultsDirError(
            location,
            "results on object storage are read from a local copy: fetch them first (e.g. "
            "`aws s3 sync s3://bucket/results results`, "
            "`gcloud storage rsync -r gs://bucket/results results`) "
            "or mount the shared filesystem, then pass the folder",
        )


def iter_systems(results: str | Path) -> Iterator[SystemRef]:
    """Every ``<testset>/<system>`` folder holding a predictions file, sorted for stable output."""
    refuse_url(results)
    root = Path(results)
    if not root.is_dir():
        raise ResultsDirError(root, "results directory not found")
    for testset_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for sys_dir in sorted(p for p in testset_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
            if (sys_dir / PREDICTIONS).is_file():
                yield SystemRef(testset_dir.name, sys_dir.name, sys_dir)
            elif (sys_dir / PREDICTIONS).exists():
                raise ResultsDirError(sys_dir / PREDICTIONS, "is not a file (a folder or a special file)")


def results_inputs(results: str | Path) -> list[Path]:
    """The files a command reading ``results`` reads (predictions, run.json, test-set manifests): outputs
    must never replace one of them (``manifests.atomic.refuse_inputs``)."""
    if is_url(results) or not Path(results).is_dir():
        return []
    files: list[Path] = []
    for ref in iter_systems(results):
        files += [ref.predictions, ref.run_info_path, ref.path.parent / TESTSET_MANIFEST]
    return files


def read_run_info(ref: SystemRef) -> RunInfo | None:
    if not ref.run_info_path.is_file():
        return None
    data = load_json_file(ref.run_info_path)
    if not isinstance(data, dict):
        raise ManifestError(ref.run_info_path, "expected a JSON object")
    return RunInfo.from_json(data, ref.run_info_path)


def write_run_info(ref: SystemRef, info: RunInfo) -> None:
    with atomic_write(ref.run_info_path) as handle:
        json.dump(info.to_json(), handle, indent=2, ensure_ascii=False)
        handle.write("\n")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _nbest_problem(value: Any) -> str | None:
    if not isinstance(value, list):
        return f"expected a list of hypotheses, got {type(value).__name__}"
    for index, hyp in enumerate(value):
        if not isinstance(hyp, dict) or not isinstance(hyp.get("text"), str):
            return f"entry {index}: expected an object with a string 'text'"
        for key in ("am_score", "lm_score", "neural_score", "score"):
            if hyp.get(key) is not None and not _number(hyp[key]):
                return f"entry {index}: {key} must be a number or null"
    return None


def _word_times_problem(value: Any) -> str | None:
    if not isinstance(value, list):
        return f"expected a list of [start, end] pairs, got {type(value).__name__}"
    for index, pair in enumerate(value):
        if not isinstance(pair, list) or len(pair) != 2 or not all(_number(t) for t in pair):
            return f"entry {index}: expected [start_s, end_s] numbers, got {pair!r:.60}"
    return None


def _word_confidence_problem(value: Any) -> str | None:
    """Per word ``[max_prob_mean, max_prob_min, entropy]`` in [0, 1] (``runners.decoders.confidence``)."""
    if not isinstance(value, list):
        return (
            f"expected a list of [max_prob_mean, max_prob_min, entropy] triples, got {type(value).__name__}"
        )
    for index, triple in enumerate(value):
        if (
            not isinstance(triple, list)
            or len(triple) != 3
            or not all(_number(t) and 0 <= t <= 1 for t in triple)
        ):
            return f"entry {index}: expected three numbers in [0, 1], got {triple!r:.60}"
    return None


def prediction_field_problems(row: dict[str, Any]) -> list[tuple[str, str]]:
    """``(field, message)`` for each optional prediction field of a result line with the wrong shape."""
    problems = []
    for name in ("greedy_text", "beam_text", "error"):
        if row.get(name) is not None and not isinstance(row[name], str):
            problems.append((name, f"expected a string, got {type(row[name]).__name__}"))
    checks = (("nbest", _nbest_problem), ("word_times", _word_times_problem),
              ("word_confidence", _word_confidence_problem))  # fmt: skip
    for name, check in checks:
        problem = check(row[name]) if row.get(name) is not None else None
        if problem:
            problems.append((name, problem))
    return problems
