"""DeepSpeech2 checkpoints in the deepspeech.pytorch format (also the MLPerf speech reference).

The architecture is re-implemented here because neither project is a pip-installable library: two 2-D
convolutions (41x11 and 21x11, 32 channels, Hardtanh(0, 20)), N recurrent layers (GRU/LSTM/RNN, directions
summed), an optional lookahead convolution, then BatchNorm + Linear over the labels. Every size is read from
the state dict, so deepspeech.pytorch v1/v2 packages, MLPerf packages (unpadded convolutions, optional RNN
bias) and v3 Lightning checkpoints all load. Features: log(1 + |STFT|), window 0.02 s, stride 0.01 s,
Hamming, normalised per utterance.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from werbench.manifests.errors import ManifestError
from werbench.runners.decoders.base import Vocabulary
from werbench.runners.hashing import sha256_path
from werbench.runners.models.torch_utils import (
    autocast,
    model_identity,
    require_local,
    resolve_device,
    resolve_precision,
    split_log_probs,
)
from werbench.runners.models.trust import untrusted_error

WHERE_TO_PUT = (
    "copy the deepspeech.pytorch checkpoint (.pth/.ckpt, with labels.json beside it) to a local folder"
)
DEFAULT_LABELS = ("_", "'", *"ABCDEFGHIJKLMNOPQRSTUVWXYZ", " ")
CONV_PREFIX = "conv.seq_module."


@dataclass(frozen=True, slots=True)
class DS2Config:
    """Everything needed to rebuild the network; read from the checkpoint, not from defaults."""

    labels: tuple[str, ...]
    sample_rate: int
    window_size: float
    window_stride: float
    rnn_type: str
    hidden_size: int
    hidden_layers: int
    bidirectional: bool
    rnn_bias: bool
    conv_padding: bool
    lookahead_context: int
    symmetric_window: bool

    @property
    def n_freq(self) -> int:
        return int(math.floor(self.sample_rate * self.window_size / 2) + 1)

    def rnn_input_size(self, padding: bool) -> int:
        size = self.n_freq
        size = (size + (40 if padding else 0) - 41) // 2 + 1
        size = (size + (20 if padding else 0) - 21) // 2 + 1
        return size * 32


def build_network(cfg: DS2Config) -> Any:
    """The torch module; attribute names follow deepspeech.pytorch so its state dicts load unchanged."""
    import torch
    from torch import nn

    rnn_classes = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}

    class SequenceWise(nn.Module):
        def __init__(self, module: nn.Module) -> None:
            super().__init__()
            self.module = module

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            t, n = x.shape[0], x.shape[1]
            return self.module(x.reshape(t * n, -1)).reshape(t, n, -1)

    class MaskConv(nn.Module):
        def __init__(self, seq_module: nn.Sequential) -> None:
            super().__init__()
            self.seq_module = seq_module

        def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
            for module in self.seq_module:
                x = module(x)
                steps = torch.arange(x.shape[3], device=x.device)
                x = x.masked_fill(steps[None, None, None, :] >= lengths[:, None, None, None], 0.0)
            return x

    class BatchRNN(nn.Module):
        def __init__(self, input_size: int, batch_norm: bool) -> None:
            super().__init__()
            self.batch_norm = SequenceWise(nn.BatchNorm1d(input_size)) if batch_norm else None
            self.rnn = rnn_classes[cfg.rnn_type](
                input_size=input_size,
                hidden_size=cfg.hidden_size,
                bidirectional=cfg.bidirectional,
                bias=cfg.rnn_bias,
            )

        def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
            if self.batch_norm is not None:
                x = self.batch_norm(x)
            packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), enforce_sorted=False)
            x, _ = nn.utils.rnn.pad_packed_sequence(self.rnn(packed)[0], total_length=x.shape[0])
            if cfg.bidirectional:
                x = x.view(x.shape[0], x.shape[1], 2, -1).sum(2)
            return x

    class Lookahead(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            k = cfg.lookahead_context
            self.conv = nn.Conv1d(cfg.hidden_size, cfg.hidden_size, k, groups=cfg.hidden_size, bias=False)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = nn.functional.pad(x.permute(1, 2, 0), (0, cfg.lookahead_context - 1))
            return self.conv(x).permute(2, 0, 1)

    class DeepSpeech2(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            pad1, pad2 = ((20, 5), (10, 5)) if cfg.conv_padding else ((0, 0), (0, 0))
            self.conv = MaskConv(
                nn.Sequential(
                    nn.Conv2d(1, 32, kernel_size=(41, 11), stride=(2, 2), padding=pad1),
                    nn.BatchNorm2d(32),
                    nn.Hardtanh(0, 20, inplace=True),
                    nn.Conv2d(32, 32, kernel_size=(21, 11), stride=(2, 1), padding=pad2),
                    nn.BatchNorm2d(32),
                    nn.Hardtanh(0, 20, inplace=True),
                )
            )
            first = cfg.rnn_input_size(cfg.conv_padding)
            self.rnns = nn.Sequential(
                BatchRNN(first, batch_norm=False),
                *(BatchRNN(cfg.hidden_size, batch_norm=True) for _ in range(cfg.hidden_layers - 1)),
            )
            self.lookahead = (
                nn.Sequential(Lookahead(), nn.Hardtanh(0, 20, inplace=True))
                if cfg.lookahead_context
                else None
            )
            fully_connected = nn.Sequential(
                nn.BatchNorm1d(cfg.hidden_size), nn.Linear(cfg.hidden_size, len(cfg.labels), bias=False)
            )
            self.fc = nn.Sequential(SequenceWise(fully_connected))

        def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
            for module in self.conv.seq_module:
                if isinstance(module, nn.Conv2d):
                    pad, kernel, stride = module.padding[1], module.kernel_size[1], module.stride[1]
                    lengths = (lengths + 2 * pad - (kernel - 1) - 1) // stride + 1
            return lengths

        def forward(self, spect: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            out_lengths = self.output_lengths(lengths)
            x = self.conv(spect, out_lengths)
            b, c, f, t = x.shape
            x = x.reshape(b, c * f, t).permute(2, 0, 1).contiguous()
            for rnn in self.rnns:
                x = rnn(x, out_lengths)
            if self.lookahead is not None:
                x = self.lookahead(x)
            return torch.log_softmax(self.fc(x).transpose(0, 1).float(), dim=-1), out_lengths

    return DeepSpeech2()


def _load_package(path: Path, trust: bool = False) -> dict[str, Any]:
    """Tensors and plain containers only (``weights_only``); full unpickling, which can run any code in the
    file, only when the user trusts it (``--trust-model``); never as a silent fallback."""
    import pickle

    import torch

    try:
        package = torch.load(path, map_location="cpu", weights_only=not trust)
    except pickle.UnpicklingError as exc:
        if trust or "weights_only" not in str(exc).lower().replace(" ", "_"):
            raise ManifestError(path, f"cannot read DeepSpeech2 checkpoint: {exc}") from None
        first = str(exc).strip().splitlines()[-1][:200]
        raise untrusted_error(
            path, f"this checkpoint holds Python objects beyond tensors ({first})"
        ) from None
    except Exception as exc:
        raise ManifestError(path, f"cannot read DeepSpeech2 checkpoint: {exc}") from exc
    if not isinstance(package, dict) or not isinstance(package.get("state_dict"), dict):
        raise ManifestError(path, "not a deepspeech.pytorch checkpoint (no state_dict)")
    return package


def normalise_state_dict(state: dict[str, Any]) -> dict[str, Any]:
    """Strip DataParallel/Lightning prefixes; move pre-MaskConv ``conv.N`` keys to ``conv.seq_module.N``."""
    out = {}
    for key, value in state.items():
        key = re.sub(r"^(module\.|model\.)", "", key)
        key = re.sub(r"^conv\.(\d+)\.", lambda m: f"{CONV_PREFIX}{m.group(1)}.", key)
        if key.startswith("lookahead.0.weight"):
            key = "lookahead.0.conv.weight"
            value = value.reshape(value.shape[0], 1, -1) if value.dim() == 2 else value
        out[key] = value
    return out


def _labels(package: dict[str, Any], path: Path) -> tuple[str, ...]:
    hyper = package.get("hyper_parameters") or {}
    labels = package.get("labels") or hyper.get("labels")
    beside = path.parent / "labels.json"
    if labels is None and beside.is_file():
        labels = json.loads(beside.read_text(encoding="utf-8"))
    if labels is None:
        raise ManifestError(path, "no labels in the checkpoint and no labels.json beside it", field="labels")
    return tuple(labels)


def read_config(package: dict[str, Any], state: dict[str, Any], path: Path) -> DS2Config:
    """Sizes from the weights' shapes; audio settings and labels from the package (or labels.json)."""
    hyper = package.get("hyper_parameters") or {}
    audio = dict(package.get("audio_conf") or hyper.get("spect_cfg") or {})
    ih = state.get("rnns.0.rnn.weight_ih_l0")
    hh = state.get("rnns.0.rnn.weight_hh_l0")
    if ih is None or hh is None:
        raise ManifestError(path, "state dict has no rnns.0.rnn weights: not a DeepSpeech2 model")
    hidden = int(hh.shape[1])
    gates = int(ih.shape[0]) // hidden
    rnn_type = {4: "lstm", 3: "gru", 1: "rnn"}.get(gates)
    if rnn_type is None:
        raise ManifestError(path, f"cannot tell the RNN type from weight_ih_l0 shape {tuple(ih.shape)}")
    layers = len({k.split(".")[1] for k in state if k.startswith("rnns.")})
    lookahead = state.get("lookahead.0.conv.weight")
    cfg = DS2Config(
        labels=_labels(package, path),
        sample_rate=int(audio.get("sample_rate", 16000)),
        window_size=float(audio.get("window_size", 0.02)),
        window_stride=float(audio.get("window_stride", 0.01)),
        rnn_type=rnn_type,
        hidden_size=hidden,
        hidden_layers=layers,
        bidirectional="rnns.0.rnn.weight_ih_l0_reverse" in state,
        rnn_bias="rnns.0.rnn.bias_ih_l0" in state,
        conv_padding=True,  # settled below from the first RNN's input size
        lookahead_context=int(lookahead.shape[-1]) if lookahead is not None else 0,
        symmetric_window="hyper_parameters" not in package,
    )
    padded = cfg.rnn_input_size(True)
    unpadded = cfg.rnn_input_size(False)
    if int(ih.shape[1]) not in (padded, unpadded):
        raise ManifestError(
            path,
            f"first RNN input size {int(ih.shape[1])} matches neither padded ({padded}) nor unpadded "
            f"({unpadded}) convolutions for a {cfg.window_size} s window at {cfg.sample_rate} Hz",
        )
    fc = state.get("fc.0.module.1.weight")
    if fc is not None and int(fc.shape[0]) != len(cfg.labels):
        raise ManifestError(path, f"{len(cfg.labels)} labels but the output layer has {int(fc.shape[0])}")
    return replace(cfg, conv_padding=int(ih.shape[1]) == padded)


def ds2_vocabulary(labels: tuple[str, ...]) -> Vocabulary:
    """``_`` is the blank (``""``); letters are lower-cased so every model's output shares one convention."""
    if "_" not in labels:
        raise ValueError("DeepSpeech2 labels must contain the blank '_'")
    return Vocabulary(tuple("" if c == "_" else c.lower() for c in labels), blank_id=labels.index("_"))


class DeepSpeech2Model:
    """A deepspeech.pytorch checkpoint as an AcousticModel."""

    def __init__(
        self, path: str | Path, device: str = "auto", precision: str = "auto", *, trust: bool = False
    ) -> None:
        import torch

        self.path = require_local(path, "DeepSpeech2 checkpoint", WHERE_TO_PUT)
        package = _load_package(self.path, trust)
        state = normalise_state_dict(package["state_dict"])
        self.config = read_config(package, state, self.path)
        self.device = resolve_device(device)
        self.precision = resolve_precision(precision, self.device)
        self.network = build_network(self.config)
        try:
            self.network.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise ManifestError(
                self.path, f"state dict does not fit the DeepSpeech2 architecture: {exc}"
            ) from exc
        self.network.eval().to(self.device)
        self.vocab = ds2_vocabulary(self.config.labels)
        self.sample_rate = self.config.sample_rate
        self.frame_seconds = self.config.window_stride * 2
        n_fft = int(self.sample_rate * self.config.window_size)
        self._n_fft = n_fft
        self._hop = int(self.sample_rate * self.config.window_stride)
        self._window = torch.hamming_window(n_fft, periodic=not self.config.symmetric_window).to(self.device)
        self._sha256: str | None = None

    def identity(self) -> dict[str, Any]:
        if self._sha256 is None:
            self._sha256 = sha256_path(self.path)
        cfg = self.config
        layout = f"{cfg.rnn_type}x{cfg.hidden_layers}x{cfg.hidden_size}"
        direction = "-bi" if cfg.bidirectional else f"-lookahead{cfg.lookahead_context}"
        return model_identity(self, self.path, self._sha256, f"deepspeech2:{layout}{direction}")

    def spectrogram(self, batch: list[np.ndarray]) -> tuple[Any, Any]:
        """Waveforms -> ``[B, 1, F, frames]`` zero-padded log(1 + |STFT|), each normalised over itself.

        One STFT per utterance: a batched STFT would reflect the zero padding into a short utterance's
        last frame and make its output depend on its batch neighbours.
        """
        import torch

        spects = []
        for samples in batch:
            signal = torch.from_numpy(np.asarray(samples, dtype=np.float32)).to(self.device)
            spect = torch.stft(
                signal, self._n_fft, self._hop, self._n_fft, self._window, center=True, pad_mode="reflect",
                return_complex=True,
            ).abs().log1p()  # fmt: skip
            spects.append((spect - spect.mean()) / spect.std().clamp_min(1e-10))
        frames = torch.tensor([s.shape[1] for s in spects], device=self.device)
        out = torch.zeros(len(spects), 1, spects[0].shape[0], int(frames.max()), device=self.device)
        for i, spect in enumerate(spects):
            out[i, 0, :, : spect.shape[1]] = spect
        return out, frames

    def log_probs(self, batch: list[np.ndarray]) -> list[np.ndarray]:
        with autocast(self.device, self.precision):
            spect, frames = self.spectrogram(batch)
            log_probs, out_lengths = self.network(spect, frames)
        return split_log_probs(log_probs, out_lengths)
