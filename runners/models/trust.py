"""Model files are untrusted input: what can run code when loaded, and what werbench checks first.

- A DeepSpeech2 checkpoint is a torch pickle. werbench loads it with ``weights_only=True`` (tensors and
  plain containers only); a checkpoint that needs full unpickling can run any code, so it is refused unless
  the user passes ``--trust-model``.
- A ``.nemo`` archive holds torch pickles (loaded by NeMo with torch's ``weights_only`` default) and a
  ``model_config.yaml`` whose ``_target_`` entries NeMo instantiates: any importable callable. werbench reads
  the config first and refuses targets outside NeMo's own classes unless ``--trust-model`` is given.
- Hugging Face folders load without ``trust_remote_code``; the legacy NeMo 0.x converter uses
  ``weights_only=True``.
"""

from __future__ import annotations

import tarfile
from pathlib import Path
from typing import Any

import yaml
from werbench.manifests.errors import ManifestError

TRUST_FLAG = "--trust-model"
SAFE_TARGET_PREFIXES = ("nemo.", "torch.nn.", "torch.optim.")


def untrusted_error(path: Path, why: str) -> ManifestError:
    """The refusal: says what could happen and how to opt in."""
    return ManifestError(
        path,
        f"{why}; loading it could run arbitrary code from the file. Load only models you trust; to do so, "
        f"pass {TRUST_FLAG}",
    )


def _targets(node: Any, where: str = "") -> list[tuple[str, str]]:
    """``(key path, target)`` of every ``_target_`` in a config tree."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            inner = f"{where}.{key}".lstrip(".")
            if key == "_target_" and isinstance(value, str):
                found.append((inner, value))
            else:
                found.extend(_targets(value, inner))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(_targets(value, f"{where}[{index}]"))
    return found


def check_nemo_config(path: Path) -> None:
    """Refuse a ``.nemo`` archive whose config would instantiate something outside NeMo (and torch.nn)."""
    try:
        with tarfile.open(path) as archive:
            member = next(m for m in archive.getmembers() if Path(m.name).name == "model_config.yaml")
            handle = archive.extractfile(member)
            text = handle.read().decode("utf-8") if handle else ""
        config = yaml.safe_load(text)
    except (tarfile.TarError, StopIteration, OSError, EOFError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ManifestError(path, f"cannot read model_config.yaml from the archive: {exc}") from None
    for where, target in _targets(config):
        if not target.startswith(SAFE_TARGET_PREFIXES):
            raise untrusted_error(
                path, f"model_config.yaml: {where} names {target!r}, which is not a NeMo class"
            )
