"""Every beam decoder end to end on a real (tiny, random-weight) NeMo CTC model's log-probs of speech."""

from __future__ import annotations

import pytest
from werbench.runners.decoders.beam_fast import FastBeamDecoder
from werbench.runners.decoders.beam_pyctc import BeamSearchDecoder
from werbench.runners.decoders.ngram import load_unigrams
from werbench.runners.decoders.rescore import RescoreDecoder

pytestmark = [pytest.mark.slow, pytest.mark.integration]


@pytest.fixture(scope="module")
def nemo_log_probs(tiny_model, speech_manifest):
    """The shared tiny NeMo model (tests/runners/conftest.py) run on the shared espeak-ng speech."""
    from werbench.manifests.io import load_manifest
    from werbench.runners.audio import load_audio

    audio = [
        load_audio(u.audio_filepath, tiny_model.sample_rate).samples for u in load_manifest(speech_manifest)
    ]
    return tiny_model, tiny_model.log_probs(audio)


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    from werbench.runners.lm import build_lm, find_tool
    from werbench.runners.tiny import SENTENCES

    if find_tool("lmplz") is None:
        pytest.skip("KenLM lmplz is not installed")
    folder = tmp_path_factory.mktemp("nemo_lm")
    text = folder / "text.txt"
    text.write_text("\n".join(SENTENCES.values()) + "\n", encoding="utf-8")
    build_lm([text], folder / "lm.arpa", order=2)
    return folder / "lm.arpa"


@pytest.mark.parametrize("cls", [BeamSearchDecoder, FastBeamDecoder])
def test_beam_decoders_on_nemo_log_probs(cls, nemo_log_probs, tiny_lm):
    model, batch = nemo_log_probs
    decoder = cls(lm=str(tiny_lm), beam_width=16, nbest=5)
    for log_probs in batch:
        decoded = decoder.decode(log_probs, model.vocab, model.frame_seconds)
        assert decoded.nbest and decoded.text == decoded.nbest[0].text
        assert "greedy_text" in decoded.stages
        assert len(decoded.word_times) == len(decoded.text.split())
        assert all(end <= len(log_probs) * model.frame_seconds + 1e-6 for _, end in decoded.word_times)


def test_beam_fast_matches_beam_on_nemo_log_probs_words_outside_the_lm_included(nemo_log_probs, tiny_lm):
    """On a real model's output beam-fast returns pyctcdecode's n-best, spelled out-of-LM words and all."""
    model, batch = nemo_log_probs
    kwargs = {"lm": str(tiny_lm), "beam_width": 16, "nbest": 5}
    reference, fast = BeamSearchDecoder(**kwargs), FastBeamDecoder(**kwargs)
    words = set(load_unigrams(tiny_lm))
    outside = set()
    for log_probs in batch:
        expected = reference.decode(log_probs, model.vocab, model.frame_seconds)
        got = fast.decode(log_probs, model.vocab, model.frame_seconds)
        assert [h.text for h in got.nbest] == [h.text for h in expected.nbest]
        assert [h.score for h in got.nbest] == pytest.approx([h.score for h in expected.nbest], abs=1e-3)
        assert got.word_times == expected.word_times
        outside |= set(got.text.split()) - words
    assert outside, "a random-weight model's output should need words the LM does not know"


def test_rescore_on_nemo_log_probs(nemo_log_probs, tiny_lm, tiny_bert):
    model, batch = nemo_log_probs
    decoder = RescoreDecoder(rescorer=str(tiny_bert), lm=str(tiny_lm), beam_width=16, device="cpu")
    decoded = decoder.decode(batch[0], model.vocab, model.frame_seconds)
    assert set(decoded.stages) == {"greedy_text", "beam_text"}
    assert all(h.neural_score is not None for h in decoded.nbest)
