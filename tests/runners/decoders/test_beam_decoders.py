"""Both KenLM beam paths on realistic synthetic CTC posteriors: accuracy, n-best, scores, times, hotwords."""

from __future__ import annotations

import multiprocessing
import pickle

import numpy as np
import pytest
from decoder_helpers import FRAME_SECONDS, make_corpus, wer
from werbench.manifests.errors import ConfigError, ManifestError
from werbench.runners.decoders.base import Vocabulary
from werbench.runners.decoders.beam_fast import FastBeamDecoder
from werbench.runners.decoders.beam_pyctc import BeamSearchDecoder
from werbench.runners.decoders.greedy import best_path_text
from werbench.runners.decoders.ngram import NgramLM, load_unigrams, unigrams_path
from werbench.runners.decoders.synthetic import char_token_ids, synthetic_log_probs

DECODERS = {"beam": BeamSearchDecoder, "beam-fast": FastBeamDecoder}


@pytest.fixture(params=list(DECODERS), scope="module")
def decoder_class(request):
    return DECODERS[request.param]


@pytest.fixture(scope="module")
def decoded(decoder_class, lm_arpa, dev_set, char_vocab):
    decoder = decoder_class(lm=str(lm_arpa), alpha=0.8, beta=1.0, beam_width=32, beam_prune_logp=-30.0)
    return [decoder.decode(lp, char_vocab, FRAME_SECONDS) for _, lp in dev_set]


def test_beam_with_lm_fixes_the_errors_greedy_makes(decoded, dev_set):
    refs = [ref for ref, _ in dev_set]
    greedy_wer = wer(refs, [d.stages["greedy_text"] for d in decoded])
    beam_wer = wer(refs, [d.text for d in decoded])
    assert greedy_wer > 0.2, "the synthetic posteriors should be ambiguous enough to fool greedy decoding"
    assert beam_wer < greedy_wer / 4


def test_nbest_is_ranked_distinct_and_carries_am_and_unweighted_lm_scores(decoded, lm_arpa):
    ngram = NgramLM(lm_arpa)
    assert sum(len(d.nbest) > 1 for d in decoded) >= len(decoded) // 4
    for d in decoded:
        texts = [h.text for h in d.nbest]
        assert d.text == texts[0]
        assert len(set(texts)) == len(texts)
        scores = [h.score for h in d.nbest]
        assert scores == sorted(scores, reverse=True)
        for hyp in d.nbest:
            assert hyp.am_score < 0
            assert hyp.lm_score == pytest.approx(ngram.sentence_score(hyp.text), abs=1e-3)
            assert hyp.neural_score is None


def test_word_times_follow_the_words(decoded, dev_set):
    for d, (_, log_probs) in zip(decoded, dev_set, strict=True):
        assert len(d.word_times) == len(d.text.split())
        flat = [t for span in d.word_times for t in span]
        assert flat == sorted(flat)
        assert all(start < end for start, end in d.word_times)
        assert flat[-1] <= len(log_probs) * FRAME_SECONDS + 1e-6


def _same_search(reference, fast, log_probs, vocab):
    """beam-fast runs pyctcdecode's algorithm: the same n-best texts, scores and word times."""
    expected = reference.decode(log_probs, vocab, FRAME_SECONDS)
    got = fast.decode(log_probs, vocab, FRAME_SECONDS)
    assert [h.text for h in got.nbest] == [h.text for h in expected.nbest]
    for ours, theirs in zip(got.nbest, expected.nbest, strict=True):
        assert ours.score == pytest.approx(theirs.score, abs=1e-3)
        assert ours.am_score == pytest.approx(theirs.am_score, abs=1e-3)
        assert ours.lm_score == pytest.approx(theirs.lm_score, abs=1e-6)
    assert got.word_times == expected.word_times
    return got


def test_both_paths_agree_on_the_same_inputs(lm_arpa, dev_set, char_vocab):
    kwargs = {"lm": str(lm_arpa), "alpha": 0.8, "beta": 1.0, "beam_width": 32}
    reference = BeamSearchDecoder(**kwargs)
    fast = FastBeamDecoder(**kwargs)
    for _, lp in dev_set:
        _same_search(reference, fast, lp, char_vocab)


def test_beam_fast_spells_words_outside_the_lm_as_pyctcdecode_does(lm_arpa, corpus, char_vocab):
    """Out-of-vocabulary words are spelled at pyctcdecode's unknown-word penalty (it could not before)."""
    known = {w for line in corpus for w in line.split()}
    oov = ["qzx", "blorf", "vintrek", "mugwal"]
    assert not known & set(oov)
    rng = np.random.default_rng(5)
    kwargs = {"lm": str(lm_arpa), "alpha": 0.5, "beta": 1.0, "beam_width": 16, "hotwords": ("vintrek",)}
    reference, fast = BeamSearchDecoder(**kwargs), FastBeamDecoder(**kwargs)
    emitted = set()
    for i, sentence in enumerate(make_corpus(6, seed=321)):
        sentence = f"{oov[i % 4]} {sentence} {oov[(i + 1) % 4]}"
        log_probs = synthetic_log_probs(
            char_token_ids(sentence, char_vocab), char_vocab.size, char_vocab.blank_id, rng, confusion=0.1
        )
        emitted |= set(_same_search(reference, fast, log_probs, char_vocab).text.split()) & set(oov)
    assert emitted == set(oov)


def test_hotword_outside_the_lm_is_recovered(decoder_class, lm_arpa, char_vocab):
    sentence = "the teacher reads werbench every night"
    rng = np.random.default_rng(3)
    log_probs = synthetic_log_probs(
        char_token_ids(sentence, char_vocab), char_vocab.size, char_vocab.blank_id, rng, confusion=0.0
    )
    with_hotword = decoder_class(lm=str(lm_arpa), hotwords=("werbench",), hotword_weight=12.0)
    assert "werbench" in with_hotword.decode(log_probs, char_vocab, FRAME_SECONDS).text.split()


def test_bpe_vocabulary(decoder_class, lm_arpa, bpe_tokenizer, bpe_vocab):
    rng = np.random.default_rng(11)
    refs, greedy, beam = [], [], []
    decoder = decoder_class(lm=str(lm_arpa), alpha=0.8, beta=1.0, beam_width=32)
    for sentence in make_corpus(12, seed=99):
        ids = bpe_tokenizer.encode(sentence).ids
        log_probs = synthetic_log_probs(
            ids, bpe_vocab.size, bpe_vocab.blank_id, rng, frames_per_token=(1, 3), confusion=0.3
        )
        decoded = decoder.decode(log_probs, bpe_vocab, FRAME_SECONDS)
        refs.append(sentence)
        greedy.append(best_path_text(log_probs, bpe_vocab))
        beam.append(decoded.text)
        assert "<" not in decoded.text, "special tokens must never be emitted"
    assert wer(refs, beam) < wer(refs, greedy) / 4


def test_both_paths_agree_on_a_bpe_vocabulary(lm_arpa, bpe_tokenizer, bpe_vocab):
    rng = np.random.default_rng(12)
    kwargs = {"lm": str(lm_arpa), "alpha": 0.8, "beta": 1.0, "beam_width": 16}
    reference, fast = BeamSearchDecoder(**kwargs), FastBeamDecoder(**kwargs)
    for sentence in make_corpus(4, seed=98):
        ids = bpe_tokenizer.encode(sentence).ids
        log_probs = synthetic_log_probs(
            ids, bpe_vocab.size, bpe_vocab.blank_id, rng, frames_per_token=(1, 3), confusion=0.3
        )
        _same_search(reference, fast, log_probs, bpe_vocab)


def test_binary_lm_decodes_like_the_arpa(tmp_path, corpus_file, lm_arpa, dev_set, char_vocab, decoder_class):
    from werbench.runners.lm import build_lm

    binary = tmp_path / "lm.bin"
    build_lm([corpus_file], binary, order=3)
    assert unigrams_path(binary).is_file()
    arpa_decoder = decoder_class(lm=str(lm_arpa), alpha=0.8)
    binary_decoder = decoder_class(lm=str(binary), alpha=0.8)
    for _, lp in dev_set[:5]:
        assert (
            arpa_decoder.decode(lp, char_vocab, FRAME_SECONDS).text
            == binary_decoder.decode(lp, char_vocab, FRAME_SECONDS).text
        )


def test_binary_lm_without_a_word_list_is_a_clear_error(tmp_path, corpus_file):
    from werbench.runners.lm import build_lm

    binary = tmp_path / "lm.bin"
    build_lm([corpus_file], binary, order=2)
    unigrams_path(binary).unlink()
    with pytest.raises(ManifestError, match="word list"):
        load_unigrams(binary)


def _decode_in_worker(args):
    decoder, log_probs, vocab = args
    return decoder.decode(log_probs, vocab, FRAME_SECONDS).text


def test_decoders_pickle_and_run_in_worker_processes(decoder_class, lm_arpa, dev_set, char_vocab):
    decoder = decoder_class(lm=str(lm_arpa), alpha=0.8)
    assert pickle.loads(pickle.dumps(decoder)) == decoder
    serial = [decoder.decode(lp, char_vocab, FRAME_SECONDS).text for _, lp in dev_set[:6]]
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        parallel = pool.map(_decode_in_worker, [(decoder, lp, char_vocab) for _, lp in dev_set[:6]])
    assert parallel == serial


def test_registry_builds_and_validates_these_decoders(lm_arpa):
    from werbench.runners.decoders.registry import make_decoder

    for name, cls in DECODERS.items():
        decoder = make_decoder(name, {"lm": str(lm_arpa), "alpha": 1.5, "hotwords": ["zebra"]})
        assert isinstance(decoder, cls)
        params = decoder.params()
        assert params["alpha"] == 1.5 and params["hotwords"] == ["zebra"] and params["lm"] == str(lm_arpa)
        with pytest.raises(ConfigError, match="beam_width"):
            make_decoder(name, {"lm": str(lm_arpa), "beam_width": 0})
        with pytest.raises(ConfigError, match="NaN") as caught:  # issue 17: NaN passed the float check
            make_decoder(name, {"lm": str(lm_arpa), "alpha": float("nan")})
        assert caught.value.field == "alpha"


def test_bad_inputs_are_clear_errors(decoder_class, lm_arpa, char_vocab):
    with pytest.raises(ValueError, match="KenLM"):
        decoder_class()
    decoder = decoder_class(lm=str(lm_arpa))
    with pytest.raises(ValueError, match="do not match"):
        decoder.decode(np.zeros((10, 5), np.float32), char_vocab, FRAME_SECONDS)
    empty = decoder.decode(np.zeros((0, char_vocab.size), np.float32), char_vocab, FRAME_SECONDS)
    assert empty.text == "" and empty.word_times == []


def test_fast_path_refuses_an_lm_it_cannot_spell(tmp_path, lm_arpa, char_vocab):
    upper = Vocabulary(tuple(label.upper() if len(label) == 1 else label for label in char_vocab.labels), 28)
    log_probs = np.log(np.full((20, upper.size), 1 / upper.size, np.float32))
    with pytest.raises(ValueError, match="casing"):
        FastBeamDecoder(lm=str(lm_arpa)).decode(log_probs, upper, FRAME_SECONDS)


def test_blank_position_and_delimiter_conventions_do_not_matter(decoder_class, lm_arpa, dev_set, char_vocab):
    """wav2vec2 layout: blank (``<pad>``) first, ``|`` delimits words, ``<s>``/``</s>``/``<unk>`` labels."""
    extra = ("<s>", "</s>", "<unk>")
    labels = ["<pad>", *extra, *("|" if label == " " else label for label in char_vocab.labels[:-1])]
    w2v = Vocabulary(tuple(labels), blank_id=0, word_delimiter="|")
    order = [char_vocab.blank_id] + [char_vocab.blank_id] * len(extra) + list(range(char_vocab.size - 1))
    decoder = decoder_class(lm=str(lm_arpa), alpha=0.8)
    for _, log_probs in dev_set[:5]:
        permuted = log_probs[:, order].copy()
        permuted[:, 1 : 1 + len(extra)] = -30.0  # specials the model never emits
        expected = decoder.decode(log_probs, char_vocab, FRAME_SECONDS)
        got = decoder.decode(permuted, w2v, FRAME_SECONDS)
        assert got.text == expected.text
        assert got.stages["greedy_text"] == expected.stages["greedy_text"]


def test_beam_fast_is_reproducible_whatever_the_heap(lm_arpa, char_vocab):
    """The flashlight-text search this decoder replaced ordered tied hypotheses by heap address (2-3 of 16
    grid points differed run to run). The same posteriors decoded between allocations of random sizes must
    give the same n-best lists and scores: ties are broken by a stable sort, never by memory layout."""
    rng = np.random.default_rng(7)
    oov = ["qzx", "blorf", "vintrek", "mugwal"]
    sentences = [f"{oov[i % 4]} {s} {oov[(i + 1) % 4]} {oov[(i + 2) % 4]}"
                 for i, s in enumerate(make_corpus(20, seed=123))]  # fmt: skip
    posteriors = [
        synthetic_log_probs(
            char_token_ids(s, char_vocab), char_vocab.size, char_vocab.blank_id, rng, confusion=0.3
        )
        for s in sentences
    ]
    kept: list[list[bytearray]] = []
    rounds = []
    for _ in range(4):
        out = []
        for alpha, beta in ((0.3, 0.0), (1.2, 1.5)):
            decoder = FastBeamDecoder(lm=str(lm_arpa), alpha=alpha, beta=beta, beam_width=8, nbest=8)
            for log_probs in posteriors:
                kept.append([bytearray(int(n)) for n in rng.integers(1, 4000, rng.integers(0, 300))])
                decoded = decoder.decode(log_probs, char_vocab, FRAME_SECONDS)
                out.append([(h.text, h.score, h.am_score, h.lm_score) for h in decoded.nbest])
        rounds.append(out)
    assert all(out == rounds[0] for out in rounds[1:])
