"""The aligner against hand-checked cases, real NIST sclite (fixtures, random tie-heavy pairs) and jiwer."""

from __future__ import annotations

import json
import math
import random

import jiwer
import pytest

from analysis import align as align_module
from analysis.align import align, align_chars, align_counts, align_many, aligned_pairs, split_words
from manifests.trn import read_trn


def test_sclite_prefers_insertion_plus_correct_over_two_substitutions() -> None:
    result = align("the cat sat", "the the cat")
    assert result.ops == "ICCD"
    assert result.counts == (2, 0, 1, 1)
    assert list(result.pairs()) == [
        ("I", None, "the"),
        ("C", "the", "the"),
        ("C", "cat", "cat"),
        ("D", "sat", None),
    ]
    unit = align("the cat sat", "the the cat", "kaldi")
    assert unit.errors == 2 and unit.counts == (2, 0, 1, 1) and unit.ops == "CICD"


def test_weights_four_three_three() -> None:
    assert align("a b c", "a x c").ops == "CSC"  # one substitution (4) beats deletion + insertion (6)
    assert align("a b", "b a").ops == "DCI"  # deletion + insertion (6) beats two substitutions (8)
    assert align("a b", "b a", "kaldi").ops == "ICD"  # a tie at unit costs; jiwer's choice


def test_empty_sides_and_undefined_wer() -> None:
    assert align("x y", "").ops == "DD"
    only_ins = align("", "foo bar")
    assert only_ins.ops == "II" and math.isnan(only_ins.wer)
    assert align("", "").ops == "" and math.isnan(align([], []).wer)
    assert align(["a", "b"], ["a"]).wer == 0.5


def test_sclite_word_rules_case_star_and_null_word() -> None:
    assert align("a b", "A B*").counts == (2, 0, 0, 0)
    assert align("a b", "A B*", "kaldi").counts == (0, 2, 0, 0)
    with_null = align("a @ b", "a b")
    assert with_null.ops == "CC" and list(with_null.pairs()) == [("C", "a", "a"), ("C", "b", "b")]
    assert list(aligned_pairs(["a", "@", "b"], ["x"], "SD")) == [("S", "a", "x"), ("D", "b", None)]
    assert align("a @ b", "a @ b").ops == "CC"  # identical texts: still no op for the null word
    # sclite lower-cases ASCII only: É and é differ, as they do for sclite
    assert align("École été", "école ÉTÉ").counts == (0, 2, 0, 0)


def test_long_words_are_compared_byte_by_byte() -> None:
    # words of more than 7 bytes are keyed by a hash: equal hashes are confirmed, case folding still applies
    assert align("recognition recognitiom", "RECOGNITION recognition").counts == (1, 1, 0, 0)
    assert align("recognition", "RECOGNITION", "kaldi").counts == (0, 1, 0, 0)


def test_non_ascii_words_align_like_placeholders() -> None:
    words = ["été", "中文", "naïve", "😀", "straße", "ещё"]
    rng = random.Random(3)
    refs = [" ".join(rng.choice(words) for _ in range(rng.randint(0, 8))) for _ in range(300)]
    hyps = [" ".join(rng.choice(words) for _ in range(rng.randint(0, 8))) for _ in range(300)]
    ascii_of = {w: f"w{k}" for k, w in enumerate(words)}
    to_ascii = [" ".join(ascii_of[w] for w in text.split()) for text in refs + hyps]
    unicode_counts = [a.counts for a in align_many(refs, hyps)]
    ascii_counts = [a.counts for a in align_many(to_ascii[:300], to_ascii[300:])]
    assert unicode_counts == ascii_counts


def test_word_lists_and_texts_agree_and_bad_lists_are_refused() -> None:
    texts = align_many(["a b c", "d"], ["a c", "d e"])
    lists = align_many([["a", "b", "c"], ["d"]], [["a", "c"], ["d", "e"]])
    assert [a.ops for a in texts] == [a.ops for a in lists] == ["CDC", "CI"]
    assert lists[0].ref == ("a", "b", "c") and texts[1].hyp == ("d", "e")
    with pytest.raises(ValueError, match="no whitespace"):
        align(["new york"], ["new", "york"])
    with pytest.raises(ValueError, match="2 references but 1"):
        align_many(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="unknown costs"):
        align("a", "a", "nist")


def test_words_are_split_on_ascii_whitespace_only() -> None:
    assert split_words(" a\tb\u00a0c \n") == ["a", "b\u00a0c"]
    assert align("a\u00a0b", "a b").counts == (0, 1, 0, 1)


def test_shared_fixtures_identical_to_sclite(sclite_fixtures) -> None:
    for name, ref_trn, hyp_trn, scored in sclite_fixtures:
        expected = json.loads(scored.read_text(encoding="utf-8"))["utterances"]
        refs = dict(read_trn(ref_trn))
        hyps = read_trn(hyp_trn)
        result = align_many([refs[uid] for uid, _ in hyps], [text for _, text in hyps])
        got = {
            uid: dict(zip("CSDI", a.counts, strict=True)) for (uid, _), a in zip(hyps, result, strict=True)
        }
        assert got == expected, name


def _tie_heavy_corpus(seed: int, count: int, vocab: list[str], longest: int) -> tuple[dict, dict]:
    rng = random.Random(seed)
    refs, hyps = {}, {}
    for k in range(count):
        n = rng.randint(0, longest)
        refs[f"spk_{k:05d}"] = " ".join(rng.choice(vocab) for _ in range(n))
        hyps[f"spk_{k:05d}"] = " ".join(rng.choice(vocab) for _ in range(max(0, n + rng.randint(-4, 4))))
    return refs, hyps


def test_random_tie_heavy_pairs_identical_to_real_sclite(run_sclite) -> None:
    # small vocabularies, repeats, case variants, trailing '*' and the null word '@': many equal-cost paths
    refs, hyps = _tie_heavy_corpus(11, 2500, ["a", "b", "c", "A", "b*", "@"], 14)
    more_refs, more_hyps = _tie_heavy_corpus(12, 300, ["x", "y", "z", "x"], 60)
    refs |= {f"long_{k}": t for k, t in more_refs.items()}
    hyps |= {f"long_{k}": t for k, t in more_hyps.items()}
    expected = run_sclite(refs, hyps)
    assert len(expected) == len(refs)
    ids = list(refs)
    result = align_many([refs[i] for i in ids], [hyps[i] for i in ids])
    got = {uid: a.counts for uid, a in zip(ids, result, strict=True)}
    assert got == expected


def test_character_alignment_matches_sclite_c(run_sclite) -> None:
    refs, hyps = _tie_heavy_corpus(13, 800, ["ab", "ba", "a", "abc", "cab", "B"], 6)
    expected = run_sclite(refs, hyps, "-c")
    ids = list(refs)
    batch = align_counts([refs[i] for i in ids], [hyps[i] for i in ids], unit="char_nospace", want_ops=False)
    assert {uid: tuple(c) for uid, c in zip(ids, batch.counts.tolist(), strict=True)} == expected


def test_character_alignment_counts_one_space_between_words() -> None:
    joined = align_chars("ab  cd", "abcd")
    assert joined.ops == "CCDCC" and list(joined.pairs())[2] == ("D", " ", None)
    assert align_chars("ab cd", "abcd", keep_spaces=False).ops == "CCCC"
    assert align_chars(" é ", "É").counts == (0, 1, 0, 0)


def test_unit_costs_match_jiwer_counts_exactly() -> None:
    refs, hyps = _tie_heavy_corpus(21, 3000, ["a", "b", "c"], 12)
    long_refs, long_hyps = _tie_heavy_corpus(22, 100, ["a", "b", "c", "d"], 180)  # > 64 words: block path
    ref_list = [t for t in [*refs.values(), *long_refs.values()]]
    hyp_list = [t for t in [*hyps.values(), *long_hyps.values()]]
    keep = [k for k, r in enumerate(ref_list) if r]  # jiwer refuses empty references
    ours = align_many([ref_list[k] for k in keep], [hyp_list[k] for k in keep], "kaldi")
    for k, result in zip(keep, ours, strict=True):
        out = jiwer.process_words(ref_list[k], hyp_list[k])
        assert result.counts == (out.hits, out.substitutions, out.deletions, out.insertions), (k, ref_list[k])


def test_character_unit_costs_total_matches_jiwer_cer() -> None:
    refs, hyps = _tie_heavy_corpus(23, 400, ["ab", "b", "cab", "ba"], 6)
    pairs = [(r, h) for r, h in zip(refs.values(), hyps.values(), strict=True) if r]
    batch = align_counts([r for r, _ in pairs], [h for _, h in pairs], "kaldi", unit="char", want_ops=False)
    for (ref, hyp), (c, s, d, i) in zip(pairs, batch.counts.tolist(), strict=True):
        out = jiwer.process_characters(ref, hyp)
        assert (c + s + d, s + d + i) == (len(ref), out.substitutions + out.deletions + out.insertions)


def test_threads_split_a_batch_without_changing_it(monkeypatch) -> None:
    refs, hyps = _tie_heavy_corpus(31, 3000, ["a", "b", "c", "d"], 15)
    one = align_counts(list(refs.values()), list(hyps.values()), threads=1, unit="char")
    monkeypatch.setattr(align_module, "PARALLEL_CELLS", 1000)
    three = align_counts(list(refs.values()), list(hyps.values()), threads=3, unit="char")
    assert (one.counts == three.counts).all() and one.ops == three.ops
    monkeypatch.setenv("WERBENCH_THREADS", "5")
    assert align_module.default_threads() == 5


def test_oversize_pairs_are_refused_or_skipped(monkeypatch) -> None:
    monkeypatch.setattr(align_module, "MAX_CELLS", 30)
    with pytest.raises(ValueError, match="pair 1 needs 36 DP cells"):
        align_counts(["a", "a b c d e"], ["a", "a b c d e"])
    batch = align_counts(["a", "a b c d e"], ["a", "a b c d e"], oversize="skip")
    assert batch.counts.tolist() == [[1, 0, 0, 0], [-1, -1, -1, -1]] and batch.ops == ["C", ""]
