"""``load_model(path)``: one entry point that recognises a model by its content, not its name."""

from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path

from werbench.manifests.errors import ManifestError
from werbench.runners.hashing import sha256_path
from werbench.runners.models.base import AcousticModel
from werbench.runners.models.torch_utils import require_local

KINDS = ("nemo", "legacy", "hf", "deepspeech2")
WHERE_TO_PUT = (
    "copy a .nemo file, a legacy NeMo 0.x folder, a Hugging Face CTC folder or a DeepSpeech2 checkpoint "
    "into a local folder such as models/"
)


def _is_nemo_archive(path: Path) -> bool:
    try:
        with tarfile.open(path) as archive:
            return any(Path(name).name == "model_config.yaml" for name in archive.getnames())
    except (tarfile.TarError, EOFError, OSError):
        return False


def _is_torch_file(path: Path) -> bool:
    """torch.save writes a zip (>= 1.6) or a bare pickle (protocol 2 header ``\\x80\\x02``)."""
    if zipfile.is_zipfile(path):
        return True
    with path.open("rb") as handle:
        return handle.read(1) == b"\x80"


def detect_kind(path: str | Path) -> str:
    """One of KINDS for an existing path; a clear error for anything else."""
    from werbench.runners.models.hf import is_hf_ctc_dir
    from werbench.runners.models.legacy import is_legacy_folder, is_nemo011_archive

    path = require_local(path, "model", WHERE_TO_PUT)
    if path.is_dir():
        if is_hf_ctc_dir(path):
            return "hf"
        if is_legacy_folder(path):
            return "legacy"
        raise ManifestError(
            path, "folder is neither a Hugging Face CTC model nor a legacy NeMo checkpoint folder"
        )
    if _is_nemo_archive(path):
        return "nemo"
    if is_nemo011_archive(path):
        return "legacy"  # NeMo 0.11's own .nemo: converted as its checkpoint files would be
    if path.suffix == ".nemo":
        raise ManifestError(
            path, "not a NeMo archive (a tar file holding model_config.yaml); is it truncated?"
        )
    if _is_torch_file(path):
        return "deepspeech2"
    raise ManifestError(path, "not a .nemo archive or a torch checkpoint")


def converted_legacy_path(folder: Path, cache_dir: Path) -> Path:
    """Where the ``.nemo`` converted from a legacy folder lives; keyed by the folder's content."""
    return cache_dir / "converted" / f"{folder.name}-{sha256_path(folder)[:16]}.nemo"


def load_model(
    path: str | Path,
    device: str = "auto",
    precision: str = "auto",
    cache_dir: str | Path = ".werbench-cache",
    *,
    trust_model: bool = False,
) -> AcousticModel:
    """Load any supported CTC model; a legacy folder is converted once into ``cache_dir/converted``.
    Files that could run code when loaded are refused unless ``trust_model`` (see ``models.trust``)."""
    kind = detect_kind(path)
    resolved = Path(path).expanduser().resolve()
    if kind == "nemo":
        if not trust_model:
            from werbench.runners.models.trust import check_nemo_config

            check_nemo_config(resolved)
        from werbench.runners.models.nemo import NemoCTCModel

        return NemoCTCModel(resolved, device, precision)
    if kind == "legacy":
        from werbench.runners.models.legacy import convert_legacy
        from werbench.runners.models.nemo import NemoCTCModel

        target = converted_legacy_path(resolved, Path(cache_dir))
        if not target.is_file():
            convert_legacy(resolved, target)
        return NemoCTCModel(target, device, precision, origin=resolved)
    if kind == "hf":
        from werbench.runners.models.hf import HFCTCModel

        return HFCTCModel(resolved, device, precision)
    from werbench.runners.models.deepspeech2 import DeepSpeech2Model

    return DeepSpeech2Model(resolved, device, precision, trust=trust_model)
