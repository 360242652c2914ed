"""Sentence scores from neural LMs for n-best rescoring: masked-LM PLL and causal-LM log-likelihood.

Masked LMs (BERT family) use the pseudo-log-likelihood of Salazar et al. 2020, "Masked Language Model
Scoring": every token is masked in turn and scored by the MLM head. All masked copies of all hypotheses go
through the encoder in length-sorted batches and the head runs only on the masked positions, so the cost is
one encoder pass per token without a ``[tokens, vocab]`` projection per copy. Causal LMs score
``log p(w_1..w_n, </s> | <s>)`` in one teacher-forced pass per batch. Models load from a local Hugging Face
folder or a ``.gguf`` file (transformers dequantises GGUF through the ``gguf`` package); nothing is fetched.
All scores are natural-log.
"""

from __future__ import annotations

import functools
import json
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from werbench.manifests.errors import ConfigError, ManifestError

MLM_MODEL_TYPES = {
    "bert",
    "roberta",
    "xlm-roberta",
    "distilbert",
    "albert",
    "electra",
    "camembert",
    "deberta",
}
MLM_HEADS = ("cls", "lm_head", "predictions")
WHERE_TO_PUT = "copy the model folder (config.json, weights, tokenizer files) or a .gguf file to local disk"


def detect_kind(path: str | Path) -> str:
    """``"mlm"`` or ``"causal"`` from the files themselves (a ``.gguf`` file is a causal LM)."""
    path = Path(path)
    if path.is_file() and path.suffix.lower() == ".gguf":
        return "causal"
    config_path = path / "config.json"
    if not config_path.is_file():
        raise ManifestError(path, f"not a local Hugging Face model folder or .gguf file; {WHERE_TO_PUT}")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ManifestError(config_path, f"invalid JSON: {exc.msg}", line=exc.lineno) from None
    architectures = config.get("architectures") or []
    if any(a.endswith("ForMaskedLM") for a in architectures):
        return "mlm"
    if any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in architectures) or config.get("is_decoder"):
        return "causal"
    if config.get("model_type") in MLM_MODEL_TYPES:
        return "mlm"
    raise ManifestError(
        config_path, "cannot tell a masked from a causal LM: set architectures", field="architectures"
    )


def _torch_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


class MaskedLMScorer:
    """Pseudo-log-likelihood of each sentence under a masked LM."""

    kind = "mlm"

    def __init__(self, path: str | Path, device: str = "auto", batch_size: int = 64) -> None:
        import torch
        from transformers import AutoModelForMaskedLM, AutoTokenizer

        self.path = Path(path)
        self.device = _torch_device(device)
        self.batch_size = batch_size
        self.tokenizer = AutoTokenizer.from_pretrained(self.path, local_files_only=True)
        if self.tokenizer.mask_token_id is None:
            raise ManifestError(self.path, "tokenizer has no mask token: not a masked LM")
        model = AutoModelForMaskedLM.from_pretrained(self.path, local_files_only=True, dtype=torch.float32)
        self.model = model.eval().to(self.device)
        self.encoder = getattr(model, model.base_model_prefix, None)
        self.head = next((getattr(model, h) for h in MLM_HEADS if hasattr(model, h)), None)

    def _masked_log_probs(self, input_ids: Any, attention: Any, positions: Any, targets: Any) -> Any:
        """log p(target | sequence with its position masked), one value per row."""
        import torch

        rows = torch.arange(len(positions), device=self.device)
        if self.encoder is not None and self.head is not None:
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention).last_hidden_state
            logits = self.head(hidden[rows, positions])
        else:  # an MLM without a known head attribute: full forward, still correct
            logits = self.model(input_ids=input_ids, attention_mask=attention).logits[rows, positions]
        return torch.log_softmax(logits.float(), dim=-1)[rows, targets]

    def score(self, texts: Sequence[str]) -> list[float]:
        """PLL per text; an empty text scores 0."""
        import torch

        encoded = self.tokenizer(list(texts), add_special_tokens=True, return_special_tokens_mask=True)
        copies = [
            (n, pos, ids)
            for n, (ids, special) in enumerate(
                zip(encoded["input_ids"], encoded["special_tokens_mask"], strict=True)
            )
            for pos in range(len(ids))
            if not special[pos]
        ]
        copies.sort(key=lambda c: len(c[2]))
        scores = [0.0] * len(texts)
        mask_id = self.tokenizer.mask_token_id
        pad_id = self.tokenizer.pad_token_id or 0
        with torch.inference_mode():
            for start in range(0, len(copies), self.batch_size):
                chunk = copies[start : start + self.batch_size]
                width = max(len(ids) for _, _, ids in chunk)
                input_ids = torch.full((len(chunk), width), pad_id, dtype=torch.long)
                attention = torch.zeros((len(chunk), width), dtype=torch.long)
                for row, (_, pos, ids) in enumerate(chunk):
                    input_ids[row, : len(ids)] = torch.tensor(ids)
                    attention[row, : len(ids)] = 1
                    input_ids[row, pos] = mask_id
                positions = torch.tensor([pos for _, pos, _ in chunk], device=self.device)
                targets = torch.tensor([ids[pos] for _, pos, ids in chunk], device=self.device)
                values = self._masked_log_probs(
                    input_ids.to(self.device), attention.to(self.device), positions, targets
                )
                for (n, _, _), value in zip(chunk, values.tolist(), strict=True):
                    scores[n] += value
        return scores


class CausalLMScorer:
    """``log p(sentence, </s> | <s>)`` under a causal LM (GPT-style, Llama, SmolLM2 GGUF ...)."""

    kind = "causal"

    def __init__(self, path: str | Path, device: str = "auto", batch_size: int = 16) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.path = Path(path)
        self.device = _torch_device(device)
        self.batch_size = batch_size
        if self.path.is_file():
            where, extra = self.path.parent, {"gguf_file": self.path.name}
        else:
            where, extra = self.path, {}
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(where, local_files_only=True, **extra)
            model = AutoModelForCausalLM.from_pretrained(
                where, local_files_only=True, dtype=torch.float32, **extra
            )
        except (OSError, ValueError, ImportError, struct.error) as exc:  # struct: a truncated .gguf header
            raise ManifestError(self.path, f"cannot load causal LM: {exc}") from None
        self.model = model.eval().to(self.device)
        tok = self.tokenizer
        self.start_id = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
        self.end_id = tok.eos_token_id
        if self.start_id is None:
            raise ManifestError(
                self.path, "tokenizer has neither a BOS nor an EOS token to start sentences with"
            )

    def sequences(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids scored per text: start token, the text's tokens, then the end token if there is one."""
        encoded = self.tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        end = [self.end_id] if self.end_id is not None else []
        return [[self.start_id, *ids, *end] for ids in encoded]

    def score(self, texts: Sequence[str]) -> list[float]:
        import torch

        sequences = self.sequences(texts)
        order = sorted(range(len(texts)), key=lambda i: len(sequences[i]))
        scores = [0.0] * len(texts)
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                chunk = order[start : start + self.batch_size]
                width = max(len(sequences[i]) for i in chunk)
                input_ids = torch.zeros((len(chunk), width), dtype=torch.long)
                attention = torch.zeros((len(chunk), width), dtype=torch.long)
                for row, i in enumerate(chunk):
                    input_ids[row, : len(sequences[i])] = torch.tensor(sequences[i])
                    attention[row, : len(sequences[i])] = 1
                input_ids, attention = input_ids.to(self.device), attention.to(self.device)
                logits = self.model(input_ids=input_ids, attention_mask=attention).logits[:, :-1].float()
                picked = torch.log_softmax(logits, dim=-1).gather(-1, input_ids[:, 1:, None])[..., 0]
                totals = (picked * attention[:, 1:]).sum(dim=1)
                for i, value in zip(chunk, totals.tolist(), strict=True):
                    scores[i] = value
        return scores


@functools.lru_cache(maxsize=2)
def _load(path: str, kind: str, device: str, batch_size: int) -> MaskedLMScorer | CausalLMScorer:
    if kind == "mlm":
        return MaskedLMScorer(path, device, batch_size)
    return CausalLMScorer(path, device, batch_size)


def load_neural_lm(
    path: str | Path, kind: str = "auto", device: str = "auto", batch_size: int = 32
) -> MaskedLMScorer | CausalLMScorer:
    """The scorer for ``path``, loaded once per process (``kind``: auto, mlm or causal)."""
    resolved = Path(path).expanduser().resolve()
    if not resolved.exists():
        raise ManifestError(resolved, f"neural LM not found; {WHERE_TO_PUT}")
    if kind == "auto":
        kind = detect_kind(resolved)
    if kind not in ("mlm", "causal"):
        raise ConfigError("rescorer_kind", f"unknown neural LM kind {kind!r}; choose auto, mlm or causal")
    return _load(str(resolved), kind, device, batch_size)
