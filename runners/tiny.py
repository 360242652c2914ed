"""Tiny real fixtures for tests and demos: a QuartzNet-style NeMo CTC model and espeak-ng speech.

The model is a genuine ``EncDecCTCModel`` (~100k parameters, character vocabulary, random weights) saved
as ``.nemo``, so tests exercise restore, preprocessing, masking and batching exactly as for a real checkpoint.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from werbench.manifests.io import write_manifest
from werbench.manifests.schema import Utterance

CHAR_LABELS = [" ", *"abcdefghijklmnopqrstuvwxyz", "'"]
SAMPLE_RATE = 16000
SENTENCES = {
    "utt_a": "the quick brown fox jumps over the lazy dog",
    "utt_b": "speech recognition is hard",
    "utt_c": "hello world",
    "utt_d": "seven bright stars were shining over the quiet harbour tonight",
}


def separable_block(
    filters: int,
    kernel: int,
    *,
    stride: int = 1,
    dilation: int = 1,
    repeat: int = 1,
    residual: bool = False,
    separable: bool = True,
) -> dict:
    """One QuartzNet block in ConvASREncoder's ``jasper`` list format."""
    return {
        "filters": filters,
        "repeat": repeat,
        "kernel": [kernel],
        "stride": [stride],
        "dilation": [dilation],
        "dropout": 0.0,
        "residual": residual,
        "separable": separable,
    }


def tiny_config(labels: list[str] | None = None) -> dict[str, Any]:
    """QuartzNet layout in miniature: strided prologue, two residual blocks, 1x1 epilogue, 2x subsampling."""
    blocks = [
        separable_block(64, 33, stride=2),
        separable_block(96, 33, repeat=2, residual=True),
        separable_block(128, 39, repeat=2, residual=True),
        separable_block(128, 1),
    ]
    return ctc_model_config(blocks, labels)


def ctc_model_config(
    blocks: list[dict], labels: list[str] | None = None, features: int = 64
) -> dict[str, Any]:
    """An EncDecCTCModel config (mel features, ConvASREncoder over ``blocks``, character CTC head)."""
    labels = list(labels or CHAR_LABELS)
    return {
        "sample_rate": SAMPLE_RATE,
        "labels": labels,
        "preprocessor": {
            "_target_": "nemo.collections.asr.modules.AudioToMelSpectrogramPreprocessor",
            "sample_rate": SAMPLE_RATE,
            "normalize": "per_feature",
            "window_size": 0.02,
            "window_stride": 0.01,
            "window": "hann",
            "features": features,
            "n_fft": 512,
            "dither": 0.0,
            "pad_to": 16,
        },
        "encoder": {
            "_target_": "nemo.collections.asr.modules.ConvASREncoder",
            "feat_in": features,
            "activation": "relu",
            "conv_mask": True,
            "jasper": blocks,
        },
        "decoder": {
            "_target_": "nemo.collections.asr.modules.ConvASRDecoder",
            "feat_in": blocks[-1]["filters"],
            "num_classes": len(labels),
            "vocabulary": labels,
        },
    }


def build_ctc_model(config: dict[str, Any], seed: int = 0) -> Any:
    """An EncDecCTCModel from ``config`` in eval mode, BatchNorm statistics randomised so that they matter."""
    import torch
    from omegaconf import OmegaConf
    from werbench.runners.models.nemo import quiet_nemo

    torch.manual_seed(seed)
    from nemo.collections.asr.models import EncDecCTCModel

    with quiet_nemo():
        model = EncDecCTCModel(cfg=OmegaConf.create(config))
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm1d):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 1.5)
    return model.eval()


def build_tiny_model(seed: int = 0, labels: list[str] | None = None) -> Any:
    """The tiny QuartzNet-style model (~100k parameters)."""
    return build_ctc_model(tiny_config(labels), seed)


def save_tiny_nemo(path: str | Path, seed: int = 0) -> Path:
    """Build the tiny model and write it as a ``.nemo`` archive."""
    from werbench.runners.models.nemo import quiet_nemo

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = build_tiny_model(seed)
    with quiet_nemo():
        model.save_to(str(path))
    return path


def synthesize_wav(
    text: str, path: str | Path, sample_rate: int = SAMPLE_RATE, voice: str = "en-us"
) -> float:
    """Speak ``text`` with espeak-ng into a mono 16-bit wav at ``sample_rate``; returns its duration."""
    import soundfile
    import soxr

    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise RuntimeError("espeak-ng is not installed (Debian package espeak-ng)")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "espeak.wav"
        subprocess.run(
            [espeak, "-v", voice, "-s", "165", "-w", str(raw), text], check=True, capture_output=True
        )
        samples, rate = soundfile.read(str(raw), dtype="float32")
    if rate != sample_rate:
        samples = soxr.resample(samples, rate, sample_rate)
    soundfile.write(str(path), samples, sample_rate, subtype="PCM_16")
    return len(samples) / sample_rate


def synthesize_manifest(
    folder: str | Path, sentences: dict[str, str] | None = None, sample_rate: int = SAMPLE_RATE
) -> Path:
    """One wav per sentence plus ``manifest.jsonl`` (NeMo format) in ``folder``; returns the manifest path."""
    folder = Path(folder)
    utts = []
    for utt_id, text in (sentences or SENTENCES).items():
        wav = folder / f"{utt_id}.wav"
        duration = synthesize_wav(text, wav, sample_rate)
        utts.append(Utterance(str(wav), round(duration, 3), text, utt_id=utt_id))
    manifest = folder / "manifest.jsonl"
    write_manifest(manifest, utts)
    return manifest


def train_tokenizer(folder: str | Path, texts: list[str], vocab_size: int = 40) -> Path:
    """A SentencePiece BPE tokenizer in NeMo's layout (``tokenizer.model`` + ``vocab.txt``) in ``folder``."""
    import sentencepiece

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    corpus = folder / "corpus.txt"
    corpus.write_text("\n".join(texts) + "\n", encoding="utf-8")
    sentencepiece.SentencePieceTrainer.train(
        input=str(corpus), model_prefix=str(folder / "tokenizer"), vocab_size=vocab_size, model_type="bpe",
        character_coverage=1.0, bos_id=-1, eos_id=-1, minloglevel=2,
    )  # fmt: skip
    pieces = [line.split("\t", 1)[0] for line in (folder / "tokenizer.vocab").read_text("utf-8").splitlines()]
    (folder / "vocab.txt").write_text("".join(f"{p}\n" for p in pieces), encoding="utf-8")
    return folder


def hybrid_bpe_config(tokenizer_dir: str | Path, d_model: int = 32) -> dict[str, Any]:
    """A tiny Conformer hybrid RNNT-CTC BPE model: 4x subsampling, RNNT decoder/joint, aux CTC head."""
    preprocessor = tiny_config()["preprocessor"]
    return {
        "sample_rate": SAMPLE_RATE,
        "model_defaults": {"enc_hidden": d_model, "pred_hidden": d_model},
        "tokenizer": {"dir": str(tokenizer_dir), "type": "bpe"},
        "preprocessor": preprocessor,
        "encoder": {
            "_target_": "nemo.collections.asr.modules.ConformerEncoder", "feat_in": preprocessor["features"],
            "feat_out": -1, "n_layers": 2, "d_model": d_model, "subsampling": "dw_striding",
            "subsampling_factor": 4, "subsampling_conv_channels": d_model, "ff_expansion_factor": 2,
            "self_attention_model": "rel_pos", "n_heads": 2, "conv_kernel_size": 9, "dropout": 0.0,
            "dropout_pre_encoder": 0.0, "dropout_emb": 0.0, "dropout_att": 0.0,
        },
        "decoder": {
            "_target_": "nemo.collections.asr.modules.RNNTDecoder", "normalization_mode": None,
            "random_state_sampling": False, "blank_as_pad": True,
            "prednet": {"pred_hidden": d_model, "pred_rnn_layers": 1},
        },
        "joint": {
            "_target_": "nemo.collections.asr.modules.RNNTJoint", "log_softmax": None,
            "preserve_memory": False, "fuse_loss_wer": False,
            "jointnet": {"joint_hidden": d_model, "activation": "relu", "dropout": 0.0},
        },
        "decoding": {"strategy": "greedy_batch", "greedy": {"max_symbols": 5}},
        "loss": {"loss_name": "default"},
        "aux_ctc": {
            "ctc_loss_weight": 0.3, "use_cer": False, "ctc_reduction": "mean_batch",
            "decoder": {"_target_": "nemo.collections.asr.modules.ConvASRDecoder", "feat_in": d_model,
                        "num_classes": -1, "vocabulary": []},
            "decoding": {"strategy": "greedy"},
        },
    }  # fmt: skip


def save_tiny_hybrid_bpe_nemo(path: str | Path, texts: list[str] | None = None, seed: int = 0) -> Path:
    """A tiny hybrid RNNT-CTC Conformer with a SentencePiece vocabulary, saved as ``.nemo``."""
    import torch
    from omegaconf import OmegaConf
    from werbench.runners.models.nemo import quiet_nemo

    path = Path(path)
    tokenizer = train_tokenizer(
        path.parent / f"{path.stem}-tokenizer", texts or list(SENTENCES.values()) * 20
    )
    torch.manual_seed(seed)
    from nemo.collections.asr.models import EncDecHybridRNNTCTCBPEModel

    with quiet_nemo():
        model = EncDecHybridRNNTCTCBPEModel(cfg=OmegaConf.create(hybrid_bpe_config(tokenizer)))
        model.save_to(str(path))
    return path
