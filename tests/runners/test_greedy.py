"""CTC best path on hand-built log-probs: repeats, blanks, word delimiters, BPE pieces and word times."""

from __future__ import annotations

import numpy as np
import pytest
from werbench.runners.decoders.base import Vocabulary
from werbench.runners.decoders.greedy import GreedyDecoder, best_path_text
from werbench.runners.decoders.registry import make_decoder

CHARS = Vocabulary((" ", "a", "b", "c", ""), blank_id=4)


def frames(vocab: Vocabulary, labels: list[str]) -> np.ndarray:
    """One frame per label; the chosen label gets most of the mass (``_`` means blank)."""
    out = np.full((len(labels), vocab.size), np.log(0.01 / (vocab.size - 1)), dtype=np.float32)
    for t, label in enumerate(labels):
        out[t, vocab.blank_id if label == "_" else vocab.labels.index(label)] = np.log(0.99)
    return out


def test_repeats_merge_and_blank_separates_them():
    lp = frames(CHARS, ["a", "a", "_", "a", "b", "b", " ", " ", "c", "_"])
    assert best_path_text(lp, CHARS) == "aab c"


def test_word_times_span_first_to_last_frame_of_each_word():
    decoded = GreedyDecoder().decode(frames(CHARS, ["_", "a", "b", "_", " ", "c", "c", "_"]), CHARS, 0.04)
    assert decoded.text == "ab c"
    assert decoded.word_times == [(0.04, 0.12), (0.2, 0.28)]
    assert len(decoded.nbest) == 1 and decoded.nbest[0].text == "ab c"
    assert decoded.nbest[0].am_score == pytest.approx(8 * np.log(0.99), rel=1e-5)


def test_leading_trailing_and_doubled_delimiters_give_no_empty_words():
    assert best_path_text(frames(CHARS, [" ", "a", " ", "_", " ", "b", " "]), CHARS) == "a b"


def test_sentencepiece_pieces_start_words_at_the_marker():
    vocab = Vocabulary(
        ("▁he", "llo", "▁wor", "ld", "▁", "x", ""), blank_id=6, word_delimiter="▁", is_bpe=True
    )
    decoded = GreedyDecoder().decode(frames(vocab, ["▁he", "llo", "_", "▁", "x", "▁wor", "ld"]), vocab, 0.08)
    assert decoded.text == "hello x world"
    assert decoded.word_times == [(0.0, 0.16), (0.32, 0.4), (0.4, 0.56)]


def test_wordpiece_continuations_join_the_previous_word():
    vocab = Vocabulary(("he", "##llo", "world", ""), blank_id=3, is_bpe=True)
    assert best_path_text(frames(vocab, ["he", "##llo", "_", "world"]), vocab) == "hello world"


def test_special_tokens_never_reach_the_transcript():
    vocab = Vocabulary(("<s>", " ", "a", "<unk>", ""), blank_id=4)
    assert best_path_text(frames(vocab, ["<s>", "a", " ", "<unk>", "a"]), vocab) == "a a"


def test_empty_input_decodes_to_empty_text():
    decoded = GreedyDecoder().decode(np.zeros((0, CHARS.size), dtype=np.float32), CHARS, 0.02)
    assert decoded.text == "" and decoded.word_times == []


def test_registry_builds_greedy_and_rejects_unknown_params():
    from werbench.manifests.errors import ConfigError

    assert make_decoder("greedy").name == "greedy"
    with pytest.raises(ConfigError, match="has no parameter"):
        make_decoder("greedy", {"beam_width": 4})
    with pytest.raises(ConfigError, match="unknown decoder type"):
        make_decoder("viterbi")
