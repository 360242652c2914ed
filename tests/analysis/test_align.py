"""The aligner against hand-checked cases, real NIST sclite (fixtures, random tie-heavy pairs) and jiwer."""

from __future__ import annotations

import dataclasses
import json
import math
import random

import jiwer
import kaldialign
import pyarrow as pa
import pytest
from sclite_pra import list_sclite_fixtures, parse_pra
from werbench.aligner import align as align_module
from werbench.aligner.align import (
    SCLITE,
    Costs,
    align,
    align_chars,
    align_counts,
    align_many,
    cer_counts,
    get_costs,
    split_words,
)
from werbench.aligner.pairs import aligned_pairs, code_units
from werbench.manifests.errors import ConfigError
from werbench.manifests.normalize import get_normalizer
from werbench.manifests.ref_syntax import map_words
from werbench.manifests.trn import read_trn

SCLITE_MODE = get_normalizer("sclite")


def _as_sclite_reads(texts) -> list[str]:
    """Texts in the ``sclite`` text mode (what the binary does to a text before it aligns)."""
    return [map_words(text, SCLITE_MODE) for text in texts]


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
    unit = align("the cat sat", "the the cat", "unit")
    assert unit.errors == 2 and unit.counts == (2, 0, 1, 1) and unit.ops == "CICD"


def test_weights_four_three_three() -> None:
    assert align("a b c", "a x c").ops == "CSC"  # one substitution (4) beats deletion + insertion (6)
    assert align("a b", "b a").ops == "DCI"  # deletion + insertion (6) beats two substitutions (8)
    assert align("a b", "b a", "unit").ops == "ICD"  # a tie at unit costs; jiwer's choice


def test_kaldi_is_a_deprecated_alias_of_unit_costs() -> None:
    with pytest.warns(DeprecationWarning, match='costs="kaldi" is deprecated; it means costs="unit"'):
        old = align("a b", "b a", "kaldi")
    assert old.ops == align("a b", "b a", "unit").ops == "ICD"
    with pytest.warns(DeprecationWarning):
        assert get_costs("kaldi") is get_costs("unit")
    with pytest.raises(ConfigError, match="unknown costs 'levenshtein'; choose one of sclite, unit"):
        get_costs("levenshtein")


def test_empty_sides_and_undefined_wer() -> None:
    assert align("x y", "").ops == "DD"
    only_ins = align("", "foo bar")
    assert only_ins.ops == "II" and math.isnan(only_ins.wer)
    assert align("", "").ops == "" and math.isnan(align([], []).wer)
    assert align(["a", "b"], ["a"]).wer == 0.5


def test_words_compare_exactly_and_the_sclite_text_mode_folds_case_and_star() -> None:
    # the aligner compares words byte for byte under every costs (text mode none is truly none); what
    # sclite does to a text first (ASCII case, one trailing '*') is the sclite text mode's job
    assert align("a b", "A B*").counts == (0, 2, 0, 0)
    assert align(SCLITE_MODE("a b"), SCLITE_MODE("A B*")).counts == (2, 0, 0, 0)
    assert align(SCLITE_MODE("a b"), SCLITE_MODE("A B*"), "unit").counts == (2, 0, 0, 0)
    with_null = align("a @ b", "a b")
    assert with_null.ops == "CC" and list(with_null.pairs()) == [("C", "a", "a"), ("C", "b", "b")]
    assert list(aligned_pairs(["a", "@", "b"], ["x"], "SD")) == [("S", "a", "x"), ("D", "b", None)]
    assert align("a @ b", "a @ b").ops == "CC"  # identical texts: still no op for the null word
    # sclite lower-cases ASCII only: É and é differ, as they do for sclite
    assert align(SCLITE_MODE("École été"), SCLITE_MODE("école ÉTÉ")).counts == (0, 2, 0, 0)


def test_long_words_are_compared_byte_by_byte() -> None:
    # words of more than 7 bytes are keyed by a hash: equal hashes are confirmed byte by byte
    pair = ("recognition recognitiom", "RECOGNITION recognition")
    assert align(*pair).counts == (1, 0, 1, 1)  # only the two lower-case "recognition" match
    assert align(*map(SCLITE_MODE, pair)).counts == (1, 1, 0, 0)
    assert align("recognition", "recognitioN").counts == (0, 1, 0, 0)  # one byte differs, after the hash


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


def _as_sclite_prints(word: str | None) -> str | None:
    """A word as sclite prints it in ``.pra``: lower-cased, one trailing ``*`` dropped."""
    if word is None:
        return None
    return (word[:-1] if len(word) > 1 and word.endswith("*") else word).lower()


def _sclite_view(alignment) -> tuple[str, list[tuple[str, str]], list[str | None], list[str | None]]:
    """A werbench alignment as sclite's ``.pra`` shows it: ops, confusion pairs, ref and hyp columns."""
    pairs = [(op, _as_sclite_prints(r), _as_sclite_prints(h)) for op, r, h in alignment.pairs()]
    confusions = [(r, h) for op, r, h in pairs if op == "S"]
    ops = alignment.ops.translate(_OPTIONAL_AS_PRA)  # sclite -D prints a left-out (uh) as correct
    return ops, confusions, [r for _, r, _ in pairs], [h for _, _, h in pairs]


_OPTIONAL_AS_PRA = str.maketrans("di", "CC")


def _assert_alignments_match_pra(ids, alignments, pra, label: str) -> None:
    assert set(pra) == set(ids), label
    for uid, alignment in zip(ids, alignments, strict=True):
        expected = pra[uid]
        ref = [_as_sclite_prints(w) for w in expected.ref]
        hyp = [_as_sclite_prints(w) for w in expected.hyp]
        got = _sclite_view(alignment)
        assert alignment.counts == expected.counts, (label, uid)
        assert got == (expected.ops, expected.confusions(), ref, hyp), (label, uid)


def test_shared_fixtures_identical_to_sclite(sclite_fixtures) -> None:
    for name, ref_trn, hyp_trn, scored in sclite_fixtures:
        expected = json.loads(scored.read_text(encoding="utf-8"))["utterances"]
        refs = dict(read_trn(ref_trn))
        hyps = read_trn(hyp_trn)
        result = align_many(
            _as_sclite_reads(refs[uid] for uid, _ in hyps), _as_sclite_reads(text for _, text in hyps)
        )
        got = {
            uid: dict(zip("CSDI", a.counts, strict=True)) for (uid, _), a in zip(hyps, result, strict=True)
        }
        assert got == expected, name
        pra = parse_pra(scored.with_name(f"{name}.sclite.pra").read_text(encoding="utf-8"))
        _assert_alignments_match_pra([uid for uid, _ in hyps], result, pra, name)


def test_empty_or_incomplete_fixture_folder_fails_not_skips(tmp_path) -> None:
    with pytest.raises(pytest.fail.Exception, match=r"no \*\.sclite\.json"):
        list_sclite_fixtures(tmp_path)
    with pytest.raises(pytest.fail.Exception, match=r"no \*\.sclite\.json"):
        list_sclite_fixtures(tmp_path / "absent")
    (tmp_path / "demo_sys.sclite.json").write_text("{}", encoding="utf-8")
    (tmp_path / "demo_ref.trn").write_text("a (u1)\n", encoding="utf-8")
    with pytest.raises(pytest.fail.Exception, match=r"demo_sys\.trn, demo_sys\.sclite\.pra missing"):
        list_sclite_fixtures(tmp_path)


def _tie_heavy_corpus(seed: int, count: int, vocab: list[str], longest: int) -> tuple[dict, dict]:
    rng = random.Random(seed)
    refs, hyps = {}, {}
    for k in range(count):
        n = rng.randint(0, longest)
        refs[f"spk_{k:05d}"] = " ".join(rng.choice(vocab) for _ in range(n))
        hyps[f"spk_{k:05d}"] = " ".join(rng.choice(vocab) for _ in range(max(0, n + rng.randint(-4, 4))))
    return refs, hyps


def test_random_tie_heavy_pairs_identical_to_real_sclite(run_sclite_pra) -> None:
    # small vocabularies, repeats, case variants, trailing '*' and the null word '@': many equal-cost paths;
    # sclite's .pra alignment (op sequence, confusion pairs, columns) must be werbench's, not only the counts
    refs, hyps = _tie_heavy_corpus(11, 2500, ["a", "b", "c", "A", "b*", "@"], 14)
    more_refs, more_hyps = _tie_heavy_corpus(12, 300, ["x", "y", "z", "x"], 60)
    refs |= {f"long_{k}": t for k, t in more_refs.items()}
    hyps |= {f"long_{k}": t for k, t in more_hyps.items()}
    pra = run_sclite_pra(refs, hyps)
    ids = list(refs)
    result = align_many(_as_sclite_reads(refs[i] for i in ids), _as_sclite_reads(hyps[i] for i in ids))
    _assert_alignments_match_pra(ids, result, pra, "tie-heavy")


def test_character_alignment_matches_sclite_c(run_sclite) -> None:
    refs, hyps = _tie_heavy_corpus(13, 800, ["ab", "ba", "a", "abc", "cab", "B"], 6)
    expected = run_sclite(refs, hyps, "-c")
    ids = list(refs)
    counts = cer_counts(
        _as_sclite_reads(refs[i] for i in ids), _as_sclite_reads(hyps[i] for i in ids), "sclite"
    )
    assert {uid: tuple(c) for uid, c in zip(ids, counts.tolist(), strict=True)} == expected


def test_character_alignment_counts_one_space_between_words() -> None:
    joined = align_chars("ab  cd", "abcd")
    assert joined.ops == "CCDCC" and list(joined.pairs())[2] == ("D", " ", None)
    assert align_chars("ab cd", "abcd", "sclite").ops == "CCCC"
    assert align_chars(" é ", "É").counts == (0, 1, 0, 0)
    assert align_chars("Ab", "ab").counts == (1, 1, 0, 0), "the default CER compares exact characters"


def test_unit_costs_match_jiwer_counts_exactly() -> None:
    refs, hyps = _tie_heavy_corpus(21, 3000, ["a", "b", "c"], 12)
    long_refs, long_hyps = _tie_heavy_corpus(22, 100, ["a", "b", "c", "d"], 180)  # > 64 words: block path
    ref_list = [t for t in [*refs.values(), *long_refs.values()]]
    hyp_list = [t for t in [*hyps.values(), *long_hyps.values()]]
    keep = [k for k, r in enumerate(ref_list) if r]  # jiwer refuses empty references
    ours = align_many([ref_list[k] for k in keep], [hyp_list[k] for k in keep], "unit")
    for k, result in zip(keep, ours, strict=True):
        out = jiwer.process_words(ref_list[k], hyp_list[k])
        assert result.counts == (out.hits, out.substitutions, out.deletions, out.insertions), (k, ref_list[k])


def test_character_unit_costs_total_matches_jiwer_cer() -> None:
    refs, hyps = _tie_heavy_corpus(23, 400, ["ab", "b", "cab", "ba"], 6)
    pairs = [(r, h) for r, h in zip(refs.values(), hyps.values(), strict=True) if r]
    batch = align_counts([r for r, _ in pairs], [h for _, h in pairs], "unit", unit="char", want_ops=False)
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


def _mutated(rng: random.Random, ref: list[str], units: list[str], error_rate: float) -> list[str]:
    """``ref`` with substitutions, deletions, insertions and the odd moved block, at about ``error_rate``."""
    hyp: list[str] = []
    for unit in ref:
        roll = rng.random()
        if roll < error_rate / 3:
            hyp.append(rng.choice(units))
        elif roll < error_rate * 2 / 3:
            continue
        elif roll < error_rate:
            hyp.extend([unit, rng.choice(units)])
        else:
            hyp.append(unit)
    if hyp and rng.random() < 0.2:  # a block moved elsewhere: the optimal path leaves the diagonal
        start = rng.randrange(len(hyp))
        block = hyp[start : start + rng.randint(1, 12)]
        del hyp[start : start + len(block)]
        at = rng.randint(0, len(hyp))
        hyp[at:at] = block
    return hyp


def _random_pairs(
    seed: int, count: int, units: list[str], longest: int
) -> tuple[list[list[str]], list[list[str]]]:
    """Pairs of unit lists from light to heavy error rates, plus unrelated pairs and very unequal lengths."""
    rng = random.Random(seed)
    refs, hyps = [], []
    for k in range(count):
        ref = rng.choices(units, k=rng.randint(0, longest))
        kind = k % 5
        if kind == 0:
            hyp = rng.choices(units, k=rng.randint(0, longest))  # unrelated: costs far from the diagonal
        elif kind == 1:
            hyp = _mutated(rng, ref, units, 0.02)
        elif kind == 2:
            hyp = _mutated(rng, ref, units, rng.choice([0.1, 0.2, 0.4]))
        elif kind == 3:
            hyp = _mutated(rng, ref, units, 0.6)
        else:  # one side much shorter than the other
            hyp = ref[rng.randint(0, len(ref)) :] if rng.random() < 0.5 else ref + rng.choices(units, k=40)
        refs.append(ref)
        hyps.append(hyp)
    return refs, hyps


def _band_agrees_with_full_dp(refs: list[str], hyps: list[str], costs: str | Costs, unit: str) -> None:
    full = align_counts(refs, hyps, costs, unit=unit, band=False, threads=1)
    banded = align_counts(refs, hyps, costs, unit=unit, threads=1)
    assert full.ops is not None and banded.ops is not None
    for k, (ops_full, ops_banded) in enumerate(zip(full.ops, banded.ops, strict=True)):
        assert ops_banded == ops_full, (k, refs[k], hyps[k])
    assert (banded.counts == full.counts).all()


@pytest.mark.parametrize("unit", ["char", "char_nospace"])
def test_banded_character_alignment_is_the_full_dp(unit: str) -> None:
    # tiny alphabets make equal-cost paths common; case variants and non-ASCII check the keys
    refs, hyps = _random_pairs(41, 1500, ["a", "b", "A", "c", " ", "é", "É", "中"], 300)
    more_refs, more_hyps = _random_pairs(42, 1500, ["a", "b"], 120)
    texts = ["".join(units) for units in refs + more_refs], ["".join(units) for units in hyps + more_hyps]
    _band_agrees_with_full_dp(*texts, "sclite", unit)


def test_banded_word_alignment_is_the_full_dp() -> None:
    # long words are keyed by hash and confirmed byte by byte; '@' pairs keep the full DP
    words = ["a", "b", "B", "c*", "recognition", "RECOGNITION", "recognitiom", "été"]
    refs, hyps = _random_pairs(43, 2000, words, 150)
    null_refs, null_hyps = _random_pairs(44, 200, [*words, "@"], 40)
    _band_agrees_with_full_dp(
        [" ".join(w) for w in refs + null_refs], [" ".join(w) for w in hyps + null_hyps], "sclite", "word"
    )


def test_banded_alignment_with_other_weights_is_the_full_dp() -> None:
    # unequal insertion and deletion weights move the band's bound; fractional weights keep the full DP
    refs, hyps = _random_pairs(45, 600, ["a", "b", "c"], 100)
    texts = ["".join(units) for units in refs], ["".join(units) for units in hyps]
    for sub, ins, dele in [(5.0, 2.0, 3.0), (1.0, 4.0, 1.0), (2.5, 1.5, 1.5)]:
        costs = dataclasses.replace(SCLITE, name="test", sub=sub, ins=ins, dele=dele)
        _band_agrees_with_full_dp(*texts, costs, "char")


def test_long_character_pairs_identical_to_sclite_c(run_sclite) -> None:
    # the banded DP on long, error-heavy character sequences against the real sclite's full DP
    refs, hyps = _random_pairs(46, 250, ["a", "b", "c", "B", " "], 200)
    ids = [f"long_{k:04d}" for k in range(len(refs))]
    ref_texts = {uid: " ".join("".join(units).split()) for uid, units in zip(ids, refs, strict=True)}
    hyp_texts = {uid: " ".join("".join(units).split()) for uid, units in zip(ids, hyps, strict=True)}
    expected = run_sclite(ref_texts, hyp_texts, "-c")
    batch = align_counts(
        _as_sclite_reads(ref_texts[i] for i in ids),
        _as_sclite_reads(hyp_texts[i] for i in ids),
        unit="char_nospace",
    )
    assert {uid: tuple(c) for uid, c in zip(ids, batch.counts.tolist(), strict=True)} == expected


def _jiwer_errors(refs: list[str], hyps: list[str]) -> list[int]:
    """Per-pair character edit distances from jiwer's batch API (one call for the whole corpus)."""
    out = jiwer.process_characters(refs, hyps)
    return [
        sum(
            max(c.ref_end_idx - c.ref_start_idx, c.hyp_end_idx - c.hyp_start_idx)
            for c in chunks
            if c.type != "equal"
        )
        for chunks in out.alignments
    ]


def test_default_cer_is_jiwer_cer_on_fifty_thousand_pairs() -> None:
    # a binary alphabet is where the 4/3/3 character alignment and the edit distance differ most
    rng = random.Random(51)
    refs: list[str] = []
    hyps: list[str] = []
    for alphabet in (["a", "b"], ["a", "b", "c", "d"], ["ab", "ba", "é", "É", "中", "'"]):
        for _ in range(17_000):
            words = [rng.randint(1, 6) for _ in range(rng.randint(1, 6))]
            refs.append(" ".join("".join(rng.choices(alphabet, k=n)) for n in words))
            hyp_words = [rng.randint(1, 6) for _ in range(rng.randint(0, 6))]
            hyps.append(" ".join("".join(rng.choices(alphabet, k=n)) for n in hyp_words))
    counts = cer_counts(refs, hyps)
    errors = counts[:, 1:].sum(axis=1)
    assert errors.tolist() == _jiwer_errors(refs, hyps)
    assert (counts[:, :3].sum(axis=1) == [len(r) for r in refs]).all(), "reference characters, spaces counted"
    assert int(errors.sum()) / sum(map(len, refs)) == pytest.approx(jiwer.cer(refs, hyps), abs=1e-12)
    weighted = (
        align_counts(refs[:17_000], hyps[:17_000], unit="char", want_ops=False).counts[:, 1:].sum(axis=1)
    )
    assert (weighted > errors[:17_000]).any(), (
        "4/3/3 weights (the old default) can count more than the distance"
    )


def _alternation_corpus(seed: int, count: int) -> tuple[dict[str, str], dict[str, str]]:
    """References mixing words, ``(uh)``-style words and alternations (multi-word, ``@``, adjacent, at
    either end) over a tiny vocabulary, so that many alternatives tie; hypotheses from the same words."""
    rng = random.Random(seed)
    vocab = ["a", "b", "c", "A", "(uh)", "@"]
    refs, hyps = {}, {}
    for k in range(count):
        parts = []
        for _ in range(rng.randint(0, 6)):
            if rng.random() < 0.4:
                options = [
                    " ".join(rng.choice(vocab[:4]) for _ in range(rng.randint(1, 3)))
                    for _ in range(rng.randint(2, 3))
                ]
                if rng.random() < 0.4:
                    options[rng.randrange(len(options))] = "@"
                parts.append("{ " + " / ".join(options) + " }")
            else:
                parts.append(rng.choice(vocab))
        refs[f"spk_{k:05d}"] = " ".join(parts)
        hyps[f"spk_{k:05d}"] = " ".join(rng.choice(vocab[:5]) for _ in range(rng.randint(0, 8)))
    return refs, hyps


@pytest.mark.parametrize("ids", ["rm", "spu_id"])
def test_reference_alternations_aligned_as_real_sclite(run_sclite_pra, ids: str) -> None:
    # every alternation case (chosen alternative, @ alternative, multi-word, ties between alternatives,
    # alternations side by side) against the binary's .pra: counts, op sequence, confusion pairs, columns
    refs, hyps = _alternation_corpus(21, 1500)
    pra = run_sclite_pra(refs, hyps, ids=ids)
    ids_ = list(refs)
    result = align_many(_as_sclite_reads(refs[i] for i in ids_), _as_sclite_reads(hyps[i] for i in ids_))
    _assert_alignments_match_pra(ids_, result, pra, f"alternations -i {ids}")


def _optional_corpus(seed: int, count: int) -> tuple[dict, dict]:
    """Optionally deletable words on both sides, matching, substituted or left out, with and without
    alternations, over a tiny vocabulary (many ties between leaving a word out and aligning it)."""
    rng = random.Random(seed)
    vocab = ["a", "b", "uh", "(uh)", "(um)", "UM", "(a)", "()", "@", "b*"]
    refs, hyps = {}, {}
    for k in range(count):
        words = [rng.choice(vocab) for _ in range(rng.randint(0, 9))]
        if words and rng.random() < 0.2:
            words[rng.randrange(len(words))] = "{ (uh) / a b / @ }"
        refs[f"spk_{k:05d}"] = " ".join(words)
        hyps[f"spk_{k:05d}"] = " ".join(rng.choice(vocab[:8]) for _ in range(rng.randint(0, 9)))
    return refs, hyps


@pytest.mark.parametrize("ids", ["rm", "spu_id"])
def test_optionally_deletable_words_aligned_as_real_sclite_minus_d(run_sclite_pra, ids: str) -> None:
    # sclite -D: (uh) compares as uh, leaving it out of either side costs 2 and is correct; the binary's
    # .pra (counts, op sequence, confusion pairs, columns) must be werbench's
    refs, hyps = _optional_corpus(31, 2000)
    pra = run_sclite_pra(refs, hyps, "-D", ids=ids)
    ids_ = list(refs)
    result = align_many(
        _as_sclite_reads(refs[i] for i in ids_),
        _as_sclite_reads(hyps[i] for i in ids_),
        optional_deletable=True,
    )
    _assert_alignments_match_pra(ids_, result, pra, f"-D -i {ids}")


def test_optionally_deletable_ops() -> None:
    left_out = align("a (uh) b", "a b", optional_deletable=True)
    assert left_out.ops == "CdC" and left_out.counts == (3, 0, 0, 0)
    assert list(left_out.pairs()) == [("C", "a", "a"), ("d", "(uh)", None), ("C", "b", "b")]
    extra = align("x y", "x (uh) y", optional_deletable=True)
    assert extra.ops == "CiC" and extra.counts == (3, 0, 0, 0) and extra.ref_len == 3  # as sclite counts
    assert align("a (uh) b", "a b").counts == (2, 0, 1, 0)  # without -D a plain word
    assert align("(uh)", "uh", optional_deletable=True).ops == "C"
    with pytest.raises(ValueError, match="sclite's rules only"):
        align_counts(["(uh)"], ["a"], "unit", optional_deletable=True)


def test_alternation_reference_as_aligned() -> None:
    batch = align_counts(["a { b c / d } e", "x y"], ["a d e", "x"])
    assert batch.paths == ["a d e", "x y"]
    assert batch.ops == ["CCC", "CD"]
    assert align("{ b / @ } c", "c").ref == ("@", "c") and align("{ b / @ } c", "c").counts == (1, 0, 0, 0)
    with pytest.raises(ValueError, match="sclite's rules only"):
        align_counts(["{ a / b }"], ["a"], "unit")


def test_the_one_walker_over_aligned_pairs() -> None:
    """Characters (spaces included), many rows at once, and ops that do not fit the units are refused."""
    assert aligned_pairs(["a", " ", "b"], ["a", "b"], "CDC", skip_nulls=False) == [
        ("C", "a", "a"),
        ("D", " ", None),
        ("C", "b", "b"),
    ]
    coded = code_units(
        ["CS", "IC"],
        pa.array(["x", "y", "z"], pa.large_string()),
        pa.array(["x", "q", "n", "z"], pa.large_string()),
    )
    assert coded.tuples() == [("C", "x", "x"), ("S", "y", "q"), ("I", None, "n"), ("C", "z", "z")]
    assert coded.row.tolist() == [0, 0, 1, 1] and coded.ref_index.tolist() == [0, 1, 0, 0]
    with pytest.raises(ValueError, match="the ops consume 2 reference units, there are 1"):
        aligned_pairs(["a"], ["a", "b"], "CS")


def _compound_corpus(seed: int, count: int) -> tuple[list[str], list[str]]:
    """Pairs full of split/joined compounds: pieces that join into other words of the vocabulary."""
    rng = random.Random(seed)
    pieces = ["a", "b", "ab", "ba", "aba", "c", "bc"]
    refs, hyps = [], []
    for _ in range(count):
        ref = [rng.choice(pieces) for _ in range(rng.randint(0, 8))]
        hyp = list(ref)
        for _ in range(rng.randint(0, 4)):  # join or split a few places, or make a plain error
            k = rng.randrange(len(hyp) + 1)
            move = rng.random()
            if move < 0.35 and k + 1 < len(hyp):
                hyp[k : k + 2] = [hyp[k] + hyp[k + 1]]
            elif move < 0.7 and k < len(hyp) and len(hyp[k]) > 1:
                cut = rng.randint(1, len(hyp[k]) - 1)
                hyp[k : k + 1] = [hyp[k][:cut], hyp[k][cut:]]
            else:
                hyp.insert(k, rng.choice(pieces))
        refs.append(" ".join(ref))
        hyps.append(" ".join(hyp))
    return refs, hyps


def test_merged_compounds_match_the_open_asr_leaderboard() -> None:
    # the leaderboard scores with kaldialign's batch_error_rate(merge_compounds=True): per pair its error
    # total and reference length are ours, and so is the pooled WER
    refs, hyps = _compound_corpus(61, 4000)
    counts = align_counts(refs, hyps, "unit", compounds=True).counts
    for k, (ref, hyp) in enumerate(zip(refs, hyps, strict=True)):
        expected = kaldialign.edit_distance(ref.split(), hyp.split(), merge_compounds=True)
        assert (int(counts[k, 1:].sum()), int(counts[k, :3].sum())) == (
            expected["total"],
            expected["ref_len"],
        ), (
            ref,
            hyp,
        )
    pooled = kaldialign.batch_error_rate(
        [r.split() for r in refs], [h.split() for h in hyps], merge_compounds=True
    )
    assert counts[:, 1:].sum() / counts[:, :3].sum() == pytest.approx(pooled["err_rate"], abs=1e-12)
    plain = align_counts(refs, hyps, "unit").counts
    assert plain[:, 1:].sum() > counts[:, 1:].sum(), "the corpus must have compounds to forgive"


def test_merged_compound_alignment_reads_back() -> None:
    batch = align_counts(
        ["the data base is up", "whitepaper now"], ["the database is up", "white paper now"], compounds=True
    )
    assert batch.counts.tolist() == [[5, 0, 0, 0], [2, 0, 0, 0]]
    assert batch.paths == ["the database is up", "white paper now"]  # the reference as aligned
    assert batch.ops == ["CCCC", "CCC"]
    assert align_counts(["data base"], ["database"]).counts.tolist() == [[0, 1, 1, 0]]  # off by default


def test_levenshtein_cer_counts_are_the_char_kernels() -> None:
    # cer_counts runs rapidfuzz's editops for the default mode: the same S/D/I split as the unit-cost
    # char kernel (full DP), ties included, with the kernel's whitespace rules and size limit
    refs, hyps = _random_pairs(61, 1500, ["a", "b", " ", "é", "中", "\t", "  ", "\xa0"], 150)
    refs, hyps = ["".join(u) for u in refs] + [" a\tb ", ""], ["".join(u) for u in hyps] + ["a  b", "x y"]
    kernel = align_counts(refs, hyps, "unit", unit="char", want_ops=False, oversize="skip", band=False)
    assert cer_counts(refs, hyps).tolist() == kernel.counts.tolist()


def test_levenshtein_cer_skips_pairs_beyond_the_limit(monkeypatch) -> None:
    monkeypatch.setattr(align_module, "MAX_CELLS", 30)
    assert cer_counts(["ab", "abcdef"], ["ab", "abcdef"]).tolist() == [[2, 0, 0, 0], [-1, -1, -1, -1]]
