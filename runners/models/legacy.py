"""Convert NeMo 0.x QuartzNet/Jasper checkpoints (before today's ``.nemo`` existed) into a current ``.nemo``.

A legacy folder holds ``JasperEncoder-STEP-N.pt``, ``JasperDecoderForCTC-STEP-N.pt`` (training
checkpoints) or ``JasperEncoder.pt``, ``JasperDecoderForCTC.pt`` (the files of a NeMo 0.11 model archive),
and the model yaml. The yaml is read in every layout NeMo 0.x used: ``AudioToMelSpectrogramPreprocessor``
or ``AudioPreprocessing`` sections, ``JasperEncoder.jasper`` or ``JasperEncoder.init_params.jasper`` or a
top-level ``jasper`` list (0.8-0.10), and NeMo 0.11's serialised model (``header:`` + ``init_params:
{preprocessor_params, encoder_params, decoder_params}``, each ``{header, init_params}``, the labels in the
decoder's ``vocabulary``). PyYAML reads an exponent without a dot (0.11's ``dither: 1e-05``) as text; such
preprocessor values are taken as the numbers they are. State dicts of NeMo 0.9-0.11 already use today's
keys; NeMo <= 0.8 named the block list ``conv`` and its MaskedConv1d *was* the Conv1d, so
``encoder.N.conv.M.weight`` is remapped to ``encoder.N.mconv.M.conv.weight`` (BatchNorm entries to
``encoder.N.mconv.M.*``, residuals likewise).
"""

from __future__ import annotations

import inspect
import re
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from werbench.manifests.errors import ConfigError, ManifestError

ENCODER_GLOB = "JasperEncoder-STEP-*.pt"
DECODER_GLOB = "JasperDecoderForCTC-STEP-*.pt"
ARCHIVE_YAML, ARCHIVE_ENCODER, ARCHIVE_DECODER = "module.yaml", "JasperEncoder.pt", "JasperDecoderForCTC.pt"
PREPROCESSOR_SECTIONS = ("AudioToMelSpectrogramPreprocessor", "AudioPreprocessing", "preprocessor")
# Keys that mean nothing to a current AudioToMelSpectrogramPreprocessor; dropped keys are recorded.
IGNORED_PREPROCESSOR_KEYS = {"feat_type", "int_values", "header"}


@dataclass(slots=True)
class LegacyCheckpoint:
    """What a legacy folder contains, after picking the newest step present for both modules."""

    folder: Path
    yaml_path: Path
    encoder_path: Path
    decoder_path: Path
    step: int


@dataclass(slots=True)
class LegacyConfig:
    """The parts of a NeMo 0.x yaml that define the network and its features."""

    labels: list[str]
    sample_rate: int
    preprocessor: dict[str, Any]
    encoder: dict[str, Any]
    dropped: list[str] = field(default_factory=list)


def _step(path: Path) -> int:
    match = re.search(r"STEP-(\d+)", path.name)
    return int(match.group(1)) if match else -1


def _checkpoints(folder: Path, glob: str) -> dict[int, Path]:
    """Step -> file; a NeMo 0.11 archive's ``<Module>.pt`` (no step) counts as step -1."""
    found = {_step(p): p for p in folder.glob(glob)}
    archived = folder / glob.replace("-STEP-*", "")
    if archived.is_file():
        found.setdefault(-1, archived)
    return found


def find_legacy_checkpoint(folder: str | Path) -> LegacyCheckpoint:
    """Locate yaml + encoder + decoder files; the newest step that has both modules wins."""
    folder = Path(folder)
    encoders = _checkpoints(folder, ENCODER_GLOB)
    decoders = _checkpoints(folder, DECODER_GLOB)
    if not encoders or not decoders:
        raise ManifestError(folder, f"legacy NeMo folder needs {ENCODER_GLOB} and {DECODER_GLOB}")
    common = sorted(set(encoders) & set(decoders))
    if not common:
        raise ManifestError(folder, "encoder and decoder checkpoints have no training step in common")
    yamls = sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml"))
    if len(yamls) != 1:
        raise ManifestError(folder, f"expected exactly one model yaml in the folder, found {len(yamls)}")
    step = common[-1]
    return LegacyCheckpoint(folder, yamls[0], encoders[step], decoders[step], step)


def is_nemo011_archive(path: Path) -> bool:
    """A NeMo 0.11 ``.nemo``: a gzipped tar of ``.nemo_tmp/`` holding ``module.yaml`` and ``<Module>.pt``."""
    try:
        with tarfile.open(path, "r:gz") as archive:
            names = {Path(name).name for name in archive.getnames()}
    except (tarfile.TarError, EOFError, OSError):
        return False
    return {ARCHIVE_YAML, ARCHIVE_ENCODER, ARCHIVE_DECODER} <= names


def _unpack_nemo011(path: Path, folder: Path) -> Path:
    """The three files a conversion reads, copied flat into ``folder`` (no member path reaches the disk)."""
    with tarfile.open(path, "r:gz") as archive:
        for member in archive.getmembers():
            name = Path(member.name).name
            if member.isfile() and name in (ARCHIVE_YAML, ARCHIVE_ENCODER, ARCHIVE_DECODER):
                source = archive.extractfile(member)
                if source is not None:
                    (folder / name).write_bytes(source.read())
    return folder


def is_legacy_folder(path: Path) -> bool:
    return path.is_dir() and bool(_checkpoints(path, ENCODER_GLOB)) and bool(_checkpoints(path, DECODER_GLOB))


def _section(doc: dict[str, Any], name: str) -> dict[str, Any] | None:
    value = doc.get(name)
    if not isinstance(value, dict):
        return None
    return value.get("init_params", value) if isinstance(value.get("init_params"), dict) else value


def _serialised_model_sections(doc: dict[str, Any]) -> dict[str, Any]:
    """NeMo 0.11's ``init_params: {preprocessor_params, encoder_params, decoder_params}`` as the 0.8-0.10
    sections; any other layout unchanged."""
    params = doc.get("init_params")
    if not isinstance(params, dict) or not isinstance(params.get("encoder_params"), dict):
        return doc
    names = {"preprocessor_params": "AudioToMelSpectrogramPreprocessor", "encoder_params": "JasperEncoder",
             "decoder_params": "JasperDecoderForCTC"}  # fmt: skip
    return {**doc, **{name: params[key] for key, name in names.items() if isinstance(params.get(key), dict)}}


def _number(value: Any) -> Any:
    """``"1e-05"`` (YAML 1.1 text: no dot) as 1e-05; anything else unchanged."""
    if isinstance(value, str):
        try:
            return float(value) if value.strip() and not value.strip().isalpha() else value
        except ValueError:
            return value
    return value


def parse_legacy_yaml(path: Path) -> LegacyConfig:
    """Labels, preprocessor and encoder block list from any NeMo 0.x yaml layout."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ManifestError(path, f"invalid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise ManifestError(path, "expected a mapping at the top level")
    doc = _serialised_model_sections(doc)
    encoder = _section(doc, "JasperEncoder") or _section(doc, "encoder") or {}
    blocks = encoder.get("jasper", doc.get("jasper"))
    if not isinstance(blocks, list) or not blocks:
        raise ManifestError(
            path, "no jasper block list (JasperEncoder.jasper or top-level jasper)", field="jasper"
        )
    decoder = _section(doc, "JasperDecoderForCTC") or {}
    labels = (
        doc.get("labels")
        or decoder.get("vocabulary")
        or (_section(doc, "AudioToTextDataLayer") or {}).get("labels")
    )
    if not isinstance(labels, list) or not labels:
        raise ManifestError(path, "no label list (top-level labels)", field="labels")
    pre = next((s for s in (_section(doc, n) for n in PREPROCESSOR_SECTIONS) if s is not None), {})
    pre = {key: _number(value) for key, value in pre.items()}
    sample_rate = int(pre.get("sample_rate") or doc.get("sample_rate") or 16000)
    return LegacyConfig(
        labels=[str(label) for label in labels],
        sample_rate=sample_rate,
        preprocessor=dict(pre),
        encoder={
            "activation": encoder.get("activation", "relu"),
            "conv_mask": bool(encoder.get("conv_mask", True)),
            "jasper": blocks,
        },
    )


def _preprocessor_config(cfg: LegacyConfig) -> dict[str, Any]:
    """Keep only the arguments today's AudioToMelSpectrogramPreprocessor accepts; note what was dropped."""
    from nemo.collections.asr.modules import AudioToMelSpectrogramPreprocessor

    accepted = set(inspect.signature(AudioToMelSpectrogramPreprocessor.__init__).parameters) - {"self"}
    out: dict[str, Any] = {}
    for key, value in cfg.preprocessor.items():
        if key in accepted and key not in IGNORED_PREPROCESSOR_KEYS:
            out[key] = value
        else:
            cfg.dropped.append(f"preprocessor.{key}={value!r}")
    out["sample_rate"] = cfg.sample_rate
    out["_target_"] = "nemo.collections.asr.modules.AudioToMelSpectrogramPreprocessor"
    return out


def model_config(cfg: LegacyConfig) -> dict[str, Any]:
    """An EncDecCTCModel config (dict) equivalent to the legacy yaml."""
    pre = _preprocessor_config(cfg)
    features = int(pre.get("features", 64)) * int(pre.get("frame_splicing", 1))
    blocks = [dict(block) for block in cfg.encoder["jasper"]]
    return {
        "sample_rate": cfg.sample_rate,
        "labels": cfg.labels,
        "preprocessor": pre,
        "encoder": {
            "_target_": "nemo.collections.asr.modules.ConvASREncoder",
            "feat_in": features,
            "activation": cfg.encoder["activation"],
            "conv_mask": cfg.encoder["conv_mask"],
            "jasper": blocks,
        },
        "decoder": {
            "_target_": "nemo.collections.asr.modules.ConvASRDecoder",
            "feat_in": int(blocks[-1]["filters"]),
            "num_classes": len(cfg.labels),
            "vocabulary": cfg.labels,
        },
    }


def _candidates(key: str) -> list[str]:
    """Current names an old encoder key may have: ``conv`` -> ``mconv`` and Conv1d params under ``.conv``."""
    names = [key]
    match = re.match(r"^(encoder\.\d+)\.conv\.(\d+)\.(.+)$", key)
    if match:
        names.append(f"{match.group(1)}.mconv.{match.group(2)}.{match.group(3)}")
    for name in list(names):
        head, _, param = name.rpartition(".")
        names.append(f"{head}.conv.{param}")
    return names


def remap_state_dict(state: dict[str, Any], target: dict[str, Any], source: Path) -> dict[str, Any]:
    """Old keys -> the target module's keys; anything that does not fit is an error naming the key."""
    state = {re.sub(r"^module\.", "", k): v for k, v in state.items()}
    out: dict[str, Any] = {}
    for key, value in state.items():
        hit = next((c for c in _candidates(key) if c in target), None)
        if hit is None:
            raise ManifestError(source, f"checkpoint key {key!r} has no counterpart in the rebuilt model")
        if tuple(target[hit].shape) != tuple(value.shape):
            raise ManifestError(
                source, f"{key!r}: shape {tuple(value.shape)} does not fit {hit!r} {tuple(target[hit].shape)}"
            )
        out[hit] = value
    # Checkpoints from before PyTorch 0.4.1 have no BatchNorm step counters; they do not affect inference.
    missing = [k for k in target if k not in out and not k.endswith("num_batches_tracked")]
    if missing:
        raise ManifestError(source, f"{len(missing)} weights missing from the checkpoint, e.g. {missing[:3]}")
    for key in target:
        out.setdefault(key, target[key])
    return out


def _load_state(path: Path) -> dict[str, Any]:
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ManifestError(path, f"cannot read checkpoint: {exc}") from exc
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ManifestError(path, "expected a state dict")
    return state


def build_legacy_model(folder: str | Path) -> tuple[Any, LegacyConfig, LegacyCheckpoint]:
    """An EncDecCTCModel with the legacy weights loaded (eval mode, CPU)."""
    from omegaconf import OmegaConf
    from werbench.runners.models.nemo import quiet_nemo

    found = find_legacy_checkpoint(folder)
    cfg = parse_legacy_yaml(found.yaml_path)
    from nemo.collections.asr.models import EncDecCTCModel

    with quiet_nemo():
        model = EncDecCTCModel(cfg=OmegaConf.create(model_config(cfg)))
    for module, path in ((model.encoder, found.encoder_path), (model.decoder, found.decoder_path)):
        target = module.state_dict()
        module.load_state_dict(remap_state_dict(_load_state(path), target, path), strict=True)
    model.eval()
    return model, cfg, found


def convert_legacy(source: str | Path, output: str | Path) -> Path:
    """Write ``output`` (.nemo) from a legacy folder or a NeMo 0.11 ``.nemo`` archive; the file appears
    only when complete."""
    source = Path(source)
    if source.is_file() and is_nemo011_archive(source):
        with tempfile.TemporaryDirectory(prefix="werbench-nemo011-") as folder:
            return _convert(_unpack_nemo011(source, Path(folder)), Path(output), source)
    return _convert(source, Path(output), source)


def _convert(folder: Path, output: Path, source: Path) -> Path:
    import os

    from werbench.runners.models.nemo import quiet_nemo

    if output.suffix != ".nemo":
        raise ConfigError(output, "output must end in .nemo")
    from omegaconf import open_dict

    model, cfg, found = build_legacy_model(folder)
    with open_dict(model.cfg):
        model.cfg.legacy_source = {
            "folder": str(source.resolve()),
            "step": found.step,
            "yaml": found.yaml_path.name,
            "dropped_preprocessor_keys": cfg.dropped,
        }
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{output.stem}.", suffix=".nemo", dir=output.parent)
    os.close(fd)
    try:
        with quiet_nemo():
            model.save_to(tmp)
        os.replace(tmp, output)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return output
