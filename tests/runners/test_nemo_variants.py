"""NeMo beyond character QuartzNet: a BPE hybrid RNNT-CTC Conformer is read through its CTC head."""

from __future__ import annotations

import numpy as np
import pytest
from werbench.manifests.io import load_manifest
from werbench.runners.audio import load_audio
from werbench.runners.decoders.greedy import GreedyDecoder
from werbench.runners.models.load import detect_kind, load_model
from werbench.runners.tiny import save_tiny_hybrid_bpe_nemo

pytestmark = pytest.mark.integration


def test_hybrid_bpe_conformer_uses_its_ctc_head(tmp_path, speech_manifest, torch_threads):
    path = save_tiny_hybrid_bpe_nemo(tmp_path / "hybrid.nemo")
    assert detect_kind(path) == "nemo"
    model = load_model(path, "cpu", "fp32", cache_dir=tmp_path / "cache")
    identity = model.identity()
    assert identity["architecture"] == "nemo:EncDecHybridRNNTCTCBPEModel/ConformerEncoder/ctc_decoder"
    vocab = model.vocab
    assert vocab.is_bpe and vocab.word_delimiter == "▁" and vocab.blank_id == vocab.size - 1
    assert vocab.labels[-1] == "" and any(label.startswith("▁") for label in vocab.labels)
    assert model.frame_seconds == pytest.approx(0.04)
    audio = [load_audio(u.audio_filepath, 16000).samples for u in load_manifest(speech_manifest)]
    batched = model.log_probs(audio)
    for samples, out in zip(audio, batched, strict=True):
        assert out.shape[1] == vocab.size
        assert abs(out.shape[0] - len(samples) / 16000 / 0.04) <= 2
        np.testing.assert_allclose(np.exp(out).sum(axis=1), 1.0, atol=1e-4)
        decoded = GreedyDecoder().decode(out, vocab, model.frame_seconds)
        assert "▁" not in decoded.text and len(decoded.word_times) == len(decoded.text.split())
    np.testing.assert_allclose(model.log_probs(audio[:1])[0], batched[0], atol=1e-4)
