"""DeepSpeech ``.scorer`` packages (KenLM binary + vocabulary trie + default alpha/beta) in both beam
decoders and in tuning; the packages are built here in generate_scorer_package's format around a real
KenLM binary from the project's KenLM build."""

from __future__ import annotations

import pytest
from decoder_helpers import CHAR_LABELS, FRAME_SECONDS
from scorer_writer import write_scorer
from werbench.manifests.errors import ManifestError
from werbench.manifests.scorer import read_scorer
from werbench.runners.decoders.beam_fast import FastBeamDecoder
from werbench.runners.decoders.beam_pyctc import BeamSearchDecoder
from werbench.runners.decoders.ngram import load_unigrams, unigrams_path
from werbench.runners.decoders.registry import make_decoder
from werbench.runners.tune import DevUtt, default_grid, tune

ALPHABET = CHAR_LABELS[:-1]  # DeepSpeech's alphabet: the labels without the blank (space first)
ALPHA, BETA = 0.75, 1.85


@pytest.fixture(scope="module")
def scorer(lm_binary):
    words = load_unigrams(lm_binary)
    return write_scorer(lm_binary.with_name("lm.scorer"), lm_binary, words, ALPHABET, ALPHA, BETA)


def test_package_is_read_back(scorer, lm_binary) -> None:
    package = read_scorer(scorer)
    assert package.lm_bytes == lm_binary.stat().st_size
    assert (package.alpha, package.beta, package.utf8) == (ALPHA, BETA, False)
    assert sorted(package.vocabulary(ALPHABET)) == sorted(load_unigrams(lm_binary))


def test_utf8_mode_words_are_bytes(tmp_path, lm_binary) -> None:
    path = write_scorer(tmp_path / "u.scorer", lm_binary, ["naïve", "über"], ALPHABET, 1.0, 2.0, utf8=True)
    assert sorted(read_scorer(path).vocabulary([])) == ["naïve", "über"]


@pytest.mark.parametrize("decoder_class", [BeamSearchDecoder, FastBeamDecoder], ids=["beam", "beam-fast"])
def test_both_decoders_use_the_embedded_lm_and_weights(decoder_class, scorer, lm_binary, dev_set, char_vocab):
    """With no weights given the package's are used, and the output is the plain binary's at those weights
    (that binary's word list is its sidecar, the package's is its trie)."""
    from_package = decoder_class(lm=str(scorer), beam_width=16)
    assert (from_package.alpha, from_package.beta) == (ALPHA, BETA)
    assert not unigrams_path(scorer).exists()
    plain = decoder_class(lm=str(lm_binary), alpha=ALPHA, beta=BETA, beam_width=16)
    for _, log_probs in dev_set[:4]:
        ours = from_package.decode(log_probs, char_vocab, FRAME_SECONDS)
        assert ours.text == plain.decode(log_probs, char_vocab, FRAME_SECONDS).text
        assert ours.text.split()  # the LM and its words were used: the hypothesis has words
    given = decoder_class(lm=str(scorer), alpha=0.3)
    assert (given.alpha, given.beta) == (0.3, BETA)  # a weight given wins; the other stays the package's


def test_registry_records_the_package_weights(scorer) -> None:
    params = make_decoder("beam-fast", {"lm": str(scorer)}).params()
    assert (params["alpha"], params["beta"], params["lm"]) == (ALPHA, BETA, str(scorer.resolve()))


def test_tune_scores_the_package_weights(scorer, dev_set, char_vocab) -> None:
    grid = default_grid(scorer)
    assert ALPHA in grid["alpha"] and BETA in grid["beta"]
    decoder = make_decoder("beam", {"lm": str(scorer), "beam_width": 8})
    utts = [DevUtt(f"u{i}", ref, lp) for i, (ref, lp) in enumerate(dev_set[:4])]
    result = tune(decoder, utts, char_vocab, FRAME_SECONDS, {"beta": [0.0, BETA]})
    assert [(row["alpha"], row["beta"]) for row in result.rows] == [(ALPHA, 0.0), (ALPHA, BETA)]


def test_corrupt_packages_are_clear_errors(tmp_path, scorer, lm_binary) -> None:
    data = scorer.read_bytes()
    cases = {
        "cut.scorer": (data[:-40], "trie cut short"),
        "old.scorer": (data.replace(b"EIRT\x06", b"EIRT\x05", 1), "version 5; werbench reads version 6"),
        "plain.scorer": (lm_binary.read_bytes(), "without the vocabulary trie"),
        "text.scorer": (b"hello world\n" * 10, "not a KenLM model"),
    }
    for name, (content, message) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(ManifestError, match=message) as err:
            make_decoder("beam", {"lm": str(path)})
        assert name in str(err.value)
    wrong_alphabet = read_scorer(scorer)
    with pytest.raises(ManifestError, match="built for another alphabet"):
        wrong_alphabet.vocabulary(ALPHABET[:5])


def test_rescore_takes_the_package_weights_for_its_first_pass_and_rerank(scorer, tmp_path) -> None:
    from werbench.runners.decoders.rescore import RescoreDecoder

    decoder = RescoreDecoder(rescorer=str(tmp_path), lm=str(scorer))  # the neural LM loads on first use
    assert (decoder.alpha, decoder.beta) == (ALPHA, BETA)
    assert (decoder.first_pass_decoder().alpha, decoder.first_pass_decoder().beta) == (ALPHA, BETA)
