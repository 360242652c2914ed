"""Hugging Face Wav2Vec2ForCTC / HubertForCTC built from a config, saved locally, loaded by content."""

from __future__ import annotations

import json

import numpy as np
import pytest
from werbench.manifests.io import load_manifest
from werbench.runners.audio import load_audio
from werbench.runners.decoders.greedy import GreedyDecoder
from werbench.runners.models.load import detect_kind, load_model

pytestmark = pytest.mark.integration

TOKENS = ["<pad>", "<s>", "</s>", "<unk>", "|", *"ETAONIHSRDLUMWCFGYPBVK'XJQZ"]


def save_tiny_hf(folder, arch: str) -> None:
    import torch
    from transformers import (
        HubertConfig,
        HubertForCTC,
        Wav2Vec2Config,
        Wav2Vec2CTCTokenizer,
        Wav2Vec2FeatureExtractor,
        Wav2Vec2ForCTC,
        Wav2Vec2Processor,
    )

    folder.mkdir()
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(TOKENS)}), encoding="utf-8")
    tokenizer = Wav2Vec2CTCTokenizer(
        str(folder / "vocab.json"), unk_token="<unk>", pad_token="<pad>", word_delimiter_token="|"
    )
    extractor = Wav2Vec2FeatureExtractor(
        feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True, return_attention_mask=True
    )
    sizes = dict(
        vocab_size=len(TOKENS), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64,
        conv_dim=(32,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2, pad_token_id=0,
        feat_extract_norm="layer", do_stable_layer_norm=True,
    )  # fmt: skip
    torch.manual_seed(0)
    model = (
        Wav2Vec2ForCTC(Wav2Vec2Config(**sizes)) if arch == "wav2vec2" else HubertForCTC(HubertConfig(**sizes))
    )
    model.save_pretrained(folder)
    Wav2Vec2Processor(feature_extractor=extractor, tokenizer=tokenizer).save_pretrained(folder)


@pytest.mark.parametrize("arch", ["wav2vec2", "hubert"])
def test_local_hf_ctc_model_loads_and_decodes(tmp_path, speech_manifest, torch_threads, arch):
    folder = tmp_path / arch
    save_tiny_hf(folder, arch)
    assert detect_kind(folder) == "hf"
    model = load_model(folder, "cpu", "fp32")
    assert model.vocab.blank_id == 0 and model.vocab.labels[0] == "" and model.vocab.labels[4] == " "
    assert model.frame_seconds == pytest.approx(0.02) and model.sample_rate == 16000
    identity = model.identity()
    assert identity["architecture"] == ("hf:Wav2Vec2ForCTC" if arch == "wav2vec2" else "hf:HubertForCTC")
    assert len(identity["sha256"]) == 64
    audio = [load_audio(u.audio_filepath, 16000).samples for u in load_manifest(speech_manifest)][:3]
    batched = model.log_probs(audio)
    for samples, out in zip(audio, batched, strict=True):
        assert out.shape == (int(model.model._get_feat_extract_output_lengths(len(samples))), len(TOKENS))
        np.testing.assert_allclose(model.log_probs([samples])[0], out, atol=1e-3)
        text = GreedyDecoder().decode(out, model.vocab, model.frame_seconds).text
        assert "<" not in text and "|" not in text


def test_folder_without_ctc_config_is_rejected(tmp_path):
    from werbench.manifests.errors import ManifestError

    (tmp_path / "bert").mkdir()
    (tmp_path / "bert" / "config.json").write_text('{"architectures": ["BertForMaskedLM"]}', encoding="utf-8")
    with pytest.raises(ManifestError, match="neither a Hugging Face CTC model"):
        load_model(tmp_path / "bert", "cpu", "fp32")
