"""NeMo CTC models from local ``.nemo`` files: character or BPE, QuartzNet/Jasper/Citrinet/Conformer, and
hybrid RNNT-CTC models through their CTC head.

We run preprocessor -> encoder -> CTC head ourselves instead of ``transcribe()``: that controls batching,
returns log-probs directly and avoids NeMo 3.0 leaving BatchNorm in train mode after ``transcribe()``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from werbench.manifests.errors import ManifestError
from werbench.runners.decoders.base import Vocabulary
from werbench.runners.hashing import sha256_path
from werbench.runners.models.torch_utils import (
    autocast,
    model_identity,
    native_cpu_long_depthwise,
    pad_batch,
    require_local,
    resolve_device,
    resolve_precision,
    split_log_probs,
)

WHERE_TO_PUT = "download the .nemo once (e.g. from NGC) into a local folder such as models/"


@contextlib.contextmanager
def quiet_nemo() -> Iterator[None]:
    """NeMo logs every config section on restore; keep warnings and errors only."""
    from nemo.utils import logging as nemo_logging

    previous = nemo_logging.getEffectiveLevel()
    nemo_logging.setLevel(logging.WARNING)
    try:
        yield
    finally:
        nemo_logging.setLevel(previous)


def nemo_vocabulary(model: Any, head: Any) -> Vocabulary:
    """Labels in output order with the blank (NeMo puts it last) as ``""``; BPE pieces keep ``▁``/``##``."""
    n_labels = int(head.num_classes_with_blank) - 1
    tokenizer = getattr(model, "tokenizer", None)
    if tokenizer is not None:
        labels = [str(piece) for piece in tokenizer.ids_to_tokens(list(range(n_labels)))]
        vocab = Vocabulary((*labels, ""), blank_id=n_labels, word_delimiter="▁", is_bpe=True)
    else:
        labels = list(head.vocabulary)
        vocab = Vocabulary((*labels, ""), blank_id=n_labels, word_delimiter=" ", is_bpe=False)
    if len(labels) != n_labels:
        raise ValueError(f"vocabulary has {len(labels)} labels but the CTC head has {n_labels} + blank")
    return vocab


class NemoCTCModel:
    """A restored NeMo ASR model used only for its CTC log-probs."""

    def __init__(
        self,
        path: str | Path,
        device: str = "auto",
        precision: str = "auto",
        origin: Path | None = None,
        native_depthwise: bool = True,
    ) -> None:
        """``origin``: the legacy folder a converted ``.nemo`` came from (run.json names and hashes it);
        ``native_depthwise``: on CPU, run long depthwise convolutions on PyTorch's kernel (2x for QuartzNet).
        """
        self.path = require_local(path, ".nemo file", WHERE_TO_PUT)
        self.origin = origin
        if self.path.is_dir() or self.path.suffix != ".nemo":
            raise ManifestError(self.path, "expected a .nemo file (a tar archive written by NeMo's save_to)")
        import torch
        from nemo.collections.asr.models import ASRModel

        self.device = resolve_device(device)
        self.precision = resolve_precision(precision, self.device)
        with quiet_nemo():
            try:
                model = ASRModel.restore_from(str(self.path), map_location=torch.device(self.device))
            except Exception as exc:  # NeMo raises many unrelated types for a bad archive
                raise ManifestError(self.path, f"cannot restore NeMo model: {exc}") from exc
        model.eval()
        if self.device == "cpu" and native_depthwise:
            native_cpu_long_depthwise(model)
        self.model = model
        self.head = getattr(model, "ctc_decoder", None)
        if self.head is None:
            from nemo.collections.asr.models import EncDecCTCModel

            if not isinstance(model, EncDecCTCModel):
                raise ManifestError(
                    self.path, f"{type(model).__name__} has no CTC head (RNNT/AED-only model)"
                )
            self.head = model.decoder
        self.vocab = nemo_vocabulary(model, self.head)
        self.sample_rate = int(model.cfg.get("sample_rate") or model.preprocessor._sample_rate)
        stride = float(model.cfg.preprocessor.get("window_stride", 0.01))
        self.frame_seconds = stride * int(getattr(model.encoder, "subsampling_factor", 1) or 1)
        self._sha256: str | None = None

    @property
    def architecture(self) -> str:
        head = "ctc_decoder" if self.head is not self.model.decoder else "decoder"
        return f"nemo:{type(self.model).__name__}/{type(self.model.encoder).__name__}/{head}"

    def identity(self) -> dict[str, Any]:
        source = self.origin or self.path
        if self._sha256 is None:
            self._sha256 = sha256_path(source)
        extra = {"converted_to": str(self.path)} if self.origin else {}
        architecture = ("legacy-" if self.origin else "") + self.architecture
        return {**model_identity(self, source, self._sha256, architecture), **extra}

    def log_probs(self, batch: list[np.ndarray]) -> list[np.ndarray]:
        signal, lengths = pad_batch(batch, self.device)
        with autocast(self.device, self.precision):
            features, feature_lengths = self.model.preprocessor(input_signal=signal, length=lengths)
            encoded, encoded_lengths = self.model.encoder(audio_signal=features, length=feature_lengths)
            log_probs = self.head(encoder_output=encoded)
        return split_log_probs(log_probs, encoded_lengths)
