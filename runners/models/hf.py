"""Hugging Face CTC models (Wav2Vec2ForCTC, HubertForCTC, ...) and their processor from a local directory.

Loading goes through ``from_pretrained`` on a folder with ``local_files_only=True`` and the hub switched off,
so a missing file is an error, never a download.
"""

from __future__ import annotations

import math
import os
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

WHERE_TO_PUT = "save the model and its processor once with save_pretrained() into a local folder"


def is_hf_ctc_dir(path: Path) -> bool:
    """A folder with a transformers ``config.json`` naming a ``*ForCTC`` architecture."""
    config = path / "config.json"
    if not (path.is_dir() and config.is_file()):
        return False
    import json

    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return False
    return any(str(a).endswith("ForCTC") for a in data.get("architectures") or [])


def hf_vocabulary(tokenizer: Any, size: int, blank_id: int) -> Vocabulary:
    """Tokenizer ids -> labels: the pad token is the blank (``""``), ``|`` the word delimiter (``" "``)."""
    tokens = tokenizer.convert_ids_to_tokens(list(range(size)))
    delimiter = getattr(tokenizer, "word_delimiter_token", None) or "|"
    labels = ["" if i == blank_id else (" " if t == delimiter else str(t)) for i, t in enumerate(tokens)]
    return Vocabulary(tuple(labels), blank_id=blank_id, word_delimiter=" ", is_bpe=False)


class HFCTCModel:
    """A transformers ``AutoModelForCTC`` plus feature extractor and tokenizer, on CPU or CUDA."""

    def __init__(self, path: str | Path, device: str = "auto", precision: str = "auto") -> None:
        self.path = require_local(path, "Hugging Face model folder", WHERE_TO_PUT)
        if not is_hf_ctc_dir(self.path):
            raise ManifestError(self.path, "not a Hugging Face CTC model folder (config.json with *ForCTC)")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from transformers import AutoFeatureExtractor, AutoModelForCTC, AutoTokenizer

        self.device = resolve_device(device)
        self.precision = resolve_precision(precision, self.device)
        try:
            self.extractor = AutoFeatureExtractor.from_pretrained(self.path, local_files_only=True)
            self.tokenizer = AutoTokenizer.from_pretrained(self.path, local_files_only=True)
            self.model = AutoModelForCTC.from_pretrained(self.path, local_files_only=True)
        except (OSError, ValueError) as exc:
            raise ManifestError(self.path, f"cannot load Hugging Face model: {exc}") from exc
        self.model.eval().to(self.device)
        config = self.model.config
        self.sample_rate = int(getattr(self.extractor, "sampling_rate", 16000))
        self.frame_seconds = math.prod(getattr(config, "conv_stride", [320])) / self.sample_rate
        blank = config.pad_token_id if config.pad_token_id is not None else self.tokenizer.pad_token_id
        self.vocab = hf_vocabulary(self.tokenizer, int(config.vocab_size), int(blank))
        self._sha256: str | None = None

    def identity(self) -> dict[str, Any]:
        if self._sha256 is None:
            self._sha256 = sha256_path(self.path)
        return model_identity(self, self.path, self._sha256, f"hf:{type(self.model).__name__}")

    def log_probs(self, batch: list[np.ndarray]) -> list[np.ndarray]:
        import torch

        inputs = self.extractor(
            [np.asarray(x, dtype=np.float32) for x in batch],
            sampling_rate=self.sample_rate,
            padding=True,
            return_tensors="pt",
        )
        kwargs = {"input_values": inputs["input_values"].to(self.device)}
        if "attention_mask" in inputs:
            kwargs["attention_mask"] = inputs["attention_mask"].to(self.device)
        lengths = torch.tensor([len(x) for x in batch])
        with autocast(self.device, self.precision):
            logits = self.model(**kwargs).logits
            log_probs = torch.log_softmax(logits.float(), dim=-1)
        frames = self.model._get_feat_extract_output_lengths(lengths).clamp(max=log_probs.shape[1])
        return split_log_probs(log_probs, frames)
