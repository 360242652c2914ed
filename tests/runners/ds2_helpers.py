"""DeepSpeech2 checkpoints for the runner tests (imported as ``ds2_helpers``): a small network's state and a
hostile package whose unpickling runs code."""

from __future__ import annotations

from pathlib import Path

import torch
from werbench.runners.models.deepspeech2 import DEFAULT_LABELS, DS2Config, build_network

BASE = DS2Config(
    labels=DEFAULT_LABELS,
    sample_rate=16000,
    window_size=0.02,
    window_stride=0.01,
    rnn_type="lstm",
    hidden_size=24,
    hidden_layers=2,
    bidirectional=True,
    rnn_bias=True,
    conv_padding=True,
    lookahead_context=0,
    symmetric_window=True,
)
AUDIO_CONF = {"sample_rate": 16000, "window_size": 0.02, "window_stride": 0.01, "window": "hamming"}


def random_state(cfg: DS2Config, seed: int = 0) -> dict:
    torch.manual_seed(seed)
    net = build_network(cfg)
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm1d | torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 1.5)
    return net.state_dict()


class _Payload:
    """Unpickling this object runs code: it writes a marker file (what a hostile checkpoint would do)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def save_hostile_checkpoint(path: Path, marker: Path) -> Path:
    """A loadable DS2 package that also writes ``marker`` when fully unpickled (needs --trust-model)."""
    package = {"version": "3", "state_dict": random_state(BASE), "labels": list(DEFAULT_LABELS),
               "audio_conf": AUDIO_CONF, "hidden_size": 24, "hidden_layers": 2,
               "bidirectional": True, "rnn_type": "lstm", "extra": _Payload(str(marker))}  # fmt: skip
    torch.save(package, path)
    return path
