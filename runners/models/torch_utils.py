"""Device, precision and padding helpers shared by the torch-based acoustic-model adapters."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from manifests.errors import ManifestError

PRECISIONS = ("auto", "fp32", "fp16", "bf16")


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when a GPU is visible, else ``cpu``; an unavailable CUDA request is an error."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ManifestError("--device", f"{device!r} requested but torch sees no CUDA device")
    return device


def resolve_precision(precision: str, device: str) -> str:
    """``auto`` -> fp16 autocast on CUDA, fp32 on CPU (half precision on CPU is slower, not faster)."""
    if precision not in PRECISIONS:
        raise ManifestError("--precision", f"expected one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "auto":
        return "fp16" if device.startswith("cuda") else "fp32"
    if precision != "fp32" and not device.startswith("cuda"):
        raise ManifestError("--precision", f"{precision} autocast needs a CUDA device; use fp32 on {device}")
    return precision


@contextlib.contextmanager
def autocast(device: str, precision: str, mkldnn: bool = True) -> Iterator[None]:
    """Inference mode, CUDA autocast for fp16/bf16, and the CPU convolution backend choice."""
    import torch

    with torch.inference_mode(), torch.backends.mkldnn.flags(enabled=mkldnn):
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


def choose_cpu_mkldnn(adapter: Any, seconds: float = 2.0) -> None:
    """Set ``adapter.mkldnn`` to whichever convolution backend runs this model faster on this CPU.

    oneDNN's depthwise 1-D convolution with QuartzNet's long kernels measured 4x slower than PyTorch's
    native kernel on a 2-core x86 machine (the whole model 2x), while oneDNN wins on other shapes and CPUs;
    so one short forward each way decides. The outputs do not depend on the choice.
    """
    import time

    adapter.mkldnn = True
    if not adapter.device.startswith("cpu"):
        return
    noise = 0.01 * np.random.default_rng(0).standard_normal(int(seconds * adapter.sample_rate)).astype(
        np.float32
    )
    costs = {}
    for enabled in (True, False):
        adapter.mkldnn = enabled
        adapter.log_probs([noise])  # warm-up: buffers, masks and kernels are set up on first use
        runs = []
        for _ in range(2):  # the faster of two: other processes on the cores only ever add time
            start = time.perf_counter()
            adapter.log_probs([noise])
            runs.append(time.perf_counter() - start)
        costs[enabled] = min(runs)
    adapter.mkldnn = costs[True] <= costs[False]
