"""Device, precision and padding helpers shared by the torch-based acoustic-model adapters."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from werbench.manifests.errors import ConfigError, ManifestError

PRECISIONS = ("auto", "fp32", "fp16", "bf16")
_DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


def check_device(device: str) -> str:
    """A device name torch knows (``auto``, ``cpu``, ``mps``, ``cuda``, ``cuda:N``), else a ConfigError naming
    ``--device``: checked before any model is loaded (torch's own message would blame the model file)."""
    if not _DEVICE.fullmatch(device):
        raise ConfigError("--device", f"unknown device {device!r}; give auto, cpu, cuda or cuda:N")
    return device


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when a GPU is visible, else ``cpu``; an unavailable CUDA request is an error."""
    import torch

    check_device(device)
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("--device", f"{device!r} requested but torch sees no CUDA device")
    return device


def resolve_precision(precision: str, device: str) -> str:
    """``auto`` -> fp16 autocast on CUDA, fp32 on CPU (half precision on CPU is slower, not faster)."""
    if precision not in PRECISIONS:
        raise ConfigError("--precision", f"expected one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "auto":
        return "fp16" if device.startswith("cuda") else "fp32"
    if precision != "fp32" and not device.startswith("cuda"):
        raise ConfigError("--precision", f"{precision} autocast needs a CUDA device; use fp32 on {device}")
    return precision


@contextlib.contextmanager
def autocast(device: str, precision: str) -> Iterator[None]:
    """Inference mode plus CUDA autocast for fp16/bf16."""
    import torch

    with torch.inference_mode():
        if precision == "fp32":
            yield
            return
        dtype = torch.float16 if precision == "fp16" else torch.bfloat16
        with torch.autocast(device_type="cuda", dtype=dtype):
            yield


def pad_batch(batch: list[np.ndarray], device: str) -> tuple[Any, Any]:
    """Right-pad mono waveforms with zeros -> ``([B, T]`` float tensor, ``[B]`` lengths) on ``device``."""
    import torch

    lengths = torch.tensor([len(x) for x in batch], dtype=torch.long)
    padded = torch.zeros(len(batch), int(lengths.max()), dtype=torch.float32)
    for row, samples in enumerate(batch):
        padded[row, : len(samples)] = torch.from_numpy(np.asarray(samples, dtype=np.float32))
    return padded.to(device), lengths.to(device)


def split_log_probs(log_probs: Any, lengths: Any) -> list[np.ndarray]:
    """``[B, T, V]`` tensor + valid lengths -> one float32 ``[T_i, V]`` array per utterance."""
    array = log_probs.float().cpu().numpy()
    return [np.ascontiguousarray(array[i, : int(n)]) for i, n in enumerate(lengths.cpu().tolist())]


def require_local(path: str | Path, kind: str, hint: str) -> Path:
    """Models are never downloaded: a name that is not a local file is an error saying where to put it."""
    resolved = Path(path).expanduser()
    if not resolved.exists():
        raise ManifestError(
            path,
            f"no such local {kind}. werbench never downloads models; {hint} "
            f"and pass its path (e.g. --model models/{resolved.name or 'model'})",
        )
    return resolved.resolve()


def native_cpu_long_depthwise(model: Any, min_kernel: int = 31) -> int:
    """Run long depthwise 1-D convolutions on PyTorch's own CPU kernel, not oneDNN's; returns how many.

    Measured on a 2-core x86 machine (one thread, CPU time): oneDNN's depthwise conv1d is 2.6x slower at
    kernel 31 and 4.5x slower at QuartzNet's kernel 75 than PyTorch's native kernel, while it is as fast or
    faster for short kernels - and QuartzNet15x5 as a whole runs 2x faster with this. Outputs are unchanged.
    """
    import torch

    count = 0
    for module in model.modules():
        if (
            isinstance(module, torch.nn.Conv1d)
            and module.groups == module.in_channels > 1
            and module.kernel_size[0] >= min_kernel
        ):
            module.forward = _without_mkldnn(module.forward)
            count += 1
    return count


def _without_mkldnn(forward: Any) -> Any:
    import torch

    def run(*args: Any, **kwargs: Any) -> Any:
        with torch.backends.mkldnn.flags(enabled=False):
            return forward(*args, **kwargs)

    return run


def model_identity(model: Any, path: str | Path, sha256: str, architecture: str) -> dict[str, Any]:
    """The ``identity()`` record every adapter gives run.json and the logits-cache key, built one way."""
    return {
        "path": str(path),
        "sha256": sha256,
        "architecture": architecture,
        "vocabulary": list(model.vocab.labels),
        "blank_id": model.vocab.blank_id,
        "is_bpe": model.vocab.is_bpe,
        "sample_rate": model.sample_rate,
        "frame_seconds": model.frame_seconds,
        "device": model.device,
        "precision": model.precision,
    }
