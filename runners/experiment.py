"""``werbench run EXPERIMENT.yaml``: an experiment file (test sets x models x decoders), checked whole first.

"Experiment file" is the word for this grid; "bench" names only the speed scripts in ``benchmarks/``.

The file is validated with pydantic (unknown keys, wrong types and bad values are errors), then every
referenced file is checked and every decoder is built once, so a typo in the last decoder cannot surface
after an hour of decoding. Errors name the YAML line of the offending key. Relative paths are relative to
the YAML file.

Example::

    results: results
    testsets:
      - manifest: data/dev_clean.jsonl
    models:
      - path: models/QuartzNet15x5Base-En.nemo
        name: qn15x5
    decoders:
      - type: greedy
      - type: beam-fast
        name: beam-4gram
        params: {lm: lm/4gram.bin, alpha: 0.5, beta: 1.0, beam_width: 64}
    ray:                      # read by --engine ray only (runners/engine_ray.py)
      am_num_gpus: 1          # per acoustic-model actor; default 1 when the cluster has GPUs, else 0
      decode_num_cpus: 1      # per decoding task
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from werbench.manifests.errors import ConfigError, WerbenchError
from werbench.manifests.io import load_manifest
from werbench.manifests.normalize import get_normalizer
from werbench.runners.decoders.registry import DECODERS, make_decoder
from werbench.runners.storage import local_path, scratch_dir

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._+-]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatasetSpec(_Strict):
    manifest: Path
    name: str | None = Field(default=None, pattern=NAME_PATTERN)


class ModelSpec(_Strict):
    path: Path
    name: str | None = Field(default=None, pattern=NAME_PATTERN)
    precision: Literal["auto", "fp32", "fp16", "bf16"] | None = None


class DecoderSpec(_Strict):
    type: str
    name: str | None = Field(default=None, pattern=NAME_PATTERN)
    params: dict[str, Any] = Field(default_factory=dict)
    workers: int | None = Field(default=None, ge=1)

    @field_validator("type")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in DECODERS:
            raise ValueError(f"unknown decoder type {value!r}; choose one of {', '.join(DECODERS)}")
        return value


class RaySpec(_Strict):
    """How ``--engine ray`` places work; the local engine ignores it."""

    am_num_gpus: float | None = Field(default=None, ge=0)  # None: 1 per model actor when the cluster has GPUs
    am_num_cpus: float = Field(default=1, gt=0)
    decode_num_cpus: float = Field(default=1, gt=0)
    max_retries: int = Field(default=3, ge=0)  # per task (and actor restarts) after a worker or node dies
    max_in_flight: int | None = Field(default=None, ge=1)  # decode tasks submitted at once (2 x cluster CPUs)


class ExperimentConfig(_Strict):
    results: str = Field(min_length=1)  # a folder, or a storage URL (s3://, gs://, file://: runners.storage)
    cache: str | None = Field(default=".werbench-cache", min_length=1)  # the same
    device: str = Field(default="auto", pattern=r"^(auto|cpu|cuda(:\d+)?)$")
    precision: Literal["auto", "fp32", "fp16", "bf16"] = "auto"
    normalizer: str = "nemo"
    batch_seconds: float = Field(default=240.0, gt=0)
    max_batch: int = Field(default=64, ge=1)
    testsets: list[DatasetSpec] = Field(min_length=1)
    models: list[ModelSpec] = Field(min_length=1)
    decoders: list[DecoderSpec] = Field(min_length=1)
    ray: RaySpec = Field(default_factory=RaySpec)


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """1-based line of the YAML node at pydantic location ``loc`` (deepest node that exists)."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == part), None)
            if match is None:
                break
            node = match[1]
            line = match[0].start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _dotted(loc: tuple[Any, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")


def _resolve(base: Path, path: Path) -> Path:
    path = path.expanduser()
    return path if path.is_absolute() else (base / path).resolve()


def _location(base: Path, value: str) -> Path | str:
    """A folder (plain path or ``file://``) resolved against the experiment file; a remote URL as given."""
    local = local_path(value)
    return value if local is None else _resolve(base, local)


class Experiment:
    """A validated experiment file with resolved paths and the system names it will produce."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise ConfigError(self.path, "experiment file not found")
        try:
            text = self.path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(self.path, f"not UTF-8 (byte {exc.start})") from None
        try:
            self._root = yaml.compose(text)
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            raise ConfigError(
                self.path, f"invalid YAML: {exc}", line=mark.line + 1 if mark else None
            ) from None
        if not isinstance(data, dict):
            raise ConfigError(self.path, "expected a mapping with results, testsets, models and decoders")
        try:
            self.config = ExperimentConfig.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = tuple(first["loc"])
            raise ConfigError(
                self.path, first["msg"], line=_line_of(self._root, loc), field=_dotted(loc) or None
            ) from None
        self.base = self.path.resolve().parent

    def error(self, message: str, *loc: Any) -> ConfigError:
        return ConfigError(self.path, message, line=_line_of(self._root, loc), field=_dotted(loc))

    @property
    def results(self) -> Path | str:
        return _location(self.base, self.config.results)

    @property
    def cache(self) -> Path | str | None:
        return _location(self.base, self.config.cache) if self.config.cache is not None else None

    def testsets(self) -> list[tuple[str, Path]]:
        return [
            (t.name or Path(t.manifest).stem, _resolve(self.base, t.manifest)) for t in self.config.testsets
        ]

    def models(self) -> list[tuple[str, Path, str]]:
        return [
            (m.name or Path(m.path).stem, _resolve(self.base, m.path), m.precision or self.config.precision)
            for m in self.config.models
        ]

    def decoder_params(self, index: int) -> dict[str, Any]:
        """Params with file-valued entries made absolute relative to the experiment file."""
        spec = self.config.decoders[index]
        files = DECODERS[spec.type].path_params
        return {
            k: str(_resolve(self.base, Path(v))) if k in files and isinstance(v, str) else v
            for k, v in spec.params.items()
        }

    def decoders(self) -> list[tuple[str, str, dict[str, Any], int | None]]:
        """``(name, type, params, workers)`` per decoder entry."""
        return [
            (d.name or d.type, d.type, self.decoder_params(i), d.workers)
            for i, d in enumerate(self.config.decoders)
        ]

    def check(self) -> None:
        """Everything that can be checked without running a model: files, manifests, names, decoders."""
        from werbench.runners.models.load import detect_kind

        try:
            get_normalizer(self.config.normalizer)
        except ConfigError as exc:
            raise self.error(exc.message, "normalizer") from None
        for kind, names in (
            ("testsets", [n for n, _ in self.testsets()]),
            ("models", [n for n, _, _ in self.models()]),
            ("decoders", [n for n, _, _, _ in self.decoders()]),
        ):
            for index, name in enumerate(names):
                if names.index(name) != index:
                    raise self.error(f"duplicate name {name!r}; give each entry a distinct name", kind, index)
        for index, (_, manifest) in enumerate(self.testsets()):
            if not manifest.is_file():
                raise self.error(f"manifest not found: {manifest}", "testsets", index, "manifest")
            for _ in load_manifest(manifest):
                pass
        for index, (_, model_path, _) in enumerate(self.models()):
            try:
                detect_kind(model_path)
            except WerbenchError as exc:
                raise self.error(exc.message, "models", index, "path") from None
        for index, (_, kind, params, _) in enumerate(self.decoders()):
            try:
                make_decoder(kind, params, where=self.path)
            except WerbenchError as exc:
                loc = ("decoders", index, "params", exc.field) if exc.field else ("decoders", index)
                raise self.error(exc.message, *loc) from None

    def systems(self) -> list[str]:
        return [f"{m}@{d}" for m, _, _ in self.models() for d, _, _, _ in self.decoders()]


def plan(
    experiment: Experiment, overwrite: bool = False, progress: bool = True
) -> list[tuple[Path, str, list[Any]]]:
    """``(model path, precision, decode jobs)`` per model, in the order every engine runs them."""
    from werbench.runners.decode import DecodeJob

    cfg = experiment.config
    return [
        (
            model_path,
            precision,
            [
                DecodeJob(
                    manifest=manifest,
                    results=experiment.results,
                    decoder=kind,
                    params=params,
                    system=f"{model_name}@{decoder_name}",
                    testset=testset,
                    normalizer=cfg.normalizer,
                    batch_seconds=cfg.batch_seconds,
                    max_batch=cfg.max_batch,
                    workers=workers,
                    overwrite=overwrite,
                    cache_dir=experiment.cache,
                    progress=progress,
                )
                for testset, manifest in experiment.testsets()
                for decoder_name, kind, params, workers in experiment.decoders()
            ],
        )
        for model_name, model_path, precision in experiment.models()
    ]


def run_experiment(
    path: str | Path, overwrite: bool = False, progress: bool = True, *, trust_model: bool = False
) -> list[Any]:
    """Validate, then decode every test set x model x decoder; each model is loaded once."""
    from werbench.runners.decode import run_decode
    from werbench.runners.models.load import load_model

    experiment = Experiment(path)
    experiment.check()
    summaries = []
    cache = scratch_dir(experiment.cache)  # where a legacy model converts (logits may be remote)
    for model_path, precision, jobs in plan(experiment, overwrite, progress):
        model = load_model(
            model_path, experiment.config.device, precision, cache_dir=cache, trust_model=trust_model
        )
        summaries += [run_decode(job, model) for job in jobs]
    return summaries
