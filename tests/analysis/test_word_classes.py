"""Word classes (numbers, OOV, names, keyword lists): by hand, and against texterrors' keyword/OOV figures."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from werbench.analysis import word_classes as wc
from werbench.analysis.vocabulary import Vocabulary
from werbench.manifests.errors import ManifestError
from werbench.manifests.normalize import get_normalizer

REFS = {
    "u1": "we paid twenty dollars to harbor electric",
    "u2": "the dollar fell two percent at harbor",
}
HYPS = {
    "u1": "we paid twenty two dollars to harbor electronic",  # I two, S electric>electronic
    "u2": "the dollar fell percent at harbor",  # D two
}


def _row(table, cls: str, system: str = "sys"):
    return table[(table["class"] == cls) & (table["system"] == system)].iloc[0]


def test_number_rule() -> None:
    assert wc.is_number("2024") and wc.is_number("3.5") and wc.is_number("twenty-one")
    assert wc.is_number("thousand") and not wc.is_number("point") and not wc.is_number("first")
    assert not wc.is_number("-") and not wc.is_number("often")


def test_classes_by_hand(make_utts, tmp_path: Path) -> None:
    keywords = tmp_path / "companies.txt"
    keywords.write_text("# company names\nHarbor Electric\n\n", encoding="utf-8")
    classes = [
        wc.number_class(),
        wc.oov_class(
            Vocabulary(frozenset(" ".join(REFS.values()).split()) - {"harbor", "electric"}, "v", "text")
        ),
        wc.load_keywords(keywords, get_normalizer("nemo")),
    ]
    table = wc.class_table(make_utts(REFS, {"sys": HYPS}), classes, n_resamples=200)
    numbers = _row(table, "numbers")
    # ref: twenty (C), two (D); hyp: twenty (C), two (I)
    assert (numbers.ref_words, numbers.hyp_words, numbers.correct, numbers.hyp_correct) == (2, 2, 1, 1)
    assert numbers.recall == 0.5 and numbers.precision == 0.5 and numbers.f1 == 0.5
    assert numbers.errors == 2 and numbers.wer == 1.0
    assert numbers.error_share == pytest.approx(2 / 3)  # 3 errors in all: I two, S electric, D two
    oov = _row(table, "oov")  # harbor x2 (both C), electric (S)
    assert (oov.ref_words, oov.correct, oov.errors) == (3, 2, 1)
    assert oov.hyp_words == 0 and np.isnan(oov.precision)  # a reference-side class: electronic is no OOV
    company = _row(table, "companies")  # the phrase occurs in u1's reference only; u2's lone harbor is not it
    assert (company.ref_words, company.hyp_words, company.correct, company.hyp_correct) == (2, 0, 1, 0)
    assert company.recall == 0.5 and np.isnan(company.precision) and company.wer == 0.5
    for row in table.itertuples():  # every interval holds its point value
        if not np.isnan(row.recall):
            assert row.recall_lo <= row.recall <= row.recall_hi


def test_counts_in_blocks_equal_counts_at_once(make_utts, tmp_path: Path, monkeypatch) -> None:
    """Rows tagged a few at a time (as 1M-row systems are) give each row the counts of one pass."""
    rng = np.random.default_rng(5)
    words = ["harbor", "electric", "two", "twenty", "dollars", "we", "the", "paid"]
    refs = {f"u{k}": " ".join(rng.choice(words, rng.integers(1, 9))) for k in range(40)}
    hyps = {name: {u: " ".join(rng.choice(words, rng.integers(0, 9))) for u in refs} for name in ("a", "b")}
    keywords = tmp_path / "k.txt"
    keywords.write_text("harbor electric\ntwo\n", encoding="utf-8")
    classes = [wc.number_class(), wc.load_keywords(keywords, get_normalizer("nemo"))]
    utts = make_utts(refs, hyps)
    whole = wc.class_counts(utts, classes)
    monkeypatch.setattr(wc, "_BLOCK", 3)
    blocked = wc.class_counts(utts, classes)
    assert whole.counts.sum() > 0 and np.array_equal(whole.counts, blocked.counts)
    assert whole.rows.equals(blocked.rows)


def test_names_rule() -> None:
    texts = ["Then Alice met Bob in Paris.", "The bank said alice", "I think Paris is big. Then we left"]
    names = wc.names_class(texts, get_normalizer("nemo"))
    assert names is not None and names.words == {
        "bob",
        "paris",
    }  # alice seen in lower case; Then/The/I initial
    assert wc.names_class(["all lower case"], None) is None
    assert wc.names_class(["ALL UPPER CASE"], None) is None


def test_keyword_list_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n\n", encoding="utf-8")
    with pytest.raises(ManifestError, match="no keywords"):
        wc.load_keywords(empty)
    bad = tmp_path / "bad.txt"
    bad.write_text("fine\n...\n", encoding="utf-8")
    with pytest.raises(ManifestError, match=r"bad.txt:2: keyword"):
        wc.load_keywords(bad, get_normalizer("nemo"))
    with pytest.raises(ManifestError, match="not found"):
        wc.load_keywords(tmp_path / "absent.txt")


def test_comparison_says_which_system_recalls_more(make_utts) -> None:
    utts = make_utts(REFS, {"a": HYPS, "b": REFS})
    out = wc.class_comparison(utts, [wc.number_class()], "a", "b", "test", n_resamples=200)
    row = out.iloc[0]
    assert row.recall_a == 0.5 and row.recall_b == 1.0 and row.delta == 0.5
    assert row.delta_lo <= row.delta <= row.delta_hi and row.p_b_better >= 0.5
    # the report counts each test set once for every pair (counted rows holding more systems than the pair)
    more = make_utts(REFS, {"a": HYPS, "b": REFS, "c": HYPS})
    counted = wc.class_counts(more, [wc.number_class()])
    shared = wc.class_comparison(
        more, [wc.number_class()], "a", "b", "test", n_resamples=200, counted=counted
    )
    pd.testing.assert_frame_equal(shared, out)


def test_names_rule_marks_and_sentence_starts() -> None:
    # a token of marks only is no word and ends no sentence (Then counts as mid-sentence); "?" and "!"
    # end one (Eve, Quinn); every text starts one (Zed), whatever the text before it ended with
    texts = ["we met -- Carol . Then Dave", "so Dave! Eve came", "Zed", "and ... zed said. Quinn? Quinn"]
    names = wc.names_class(texts, None)
    assert names is not None and names.words == {"Carol", "Dave", "Then"}


@pytest.mark.skipif(importlib.util.find_spec("texterrors") is None, reason="texterrors is not installed")
def test_keywords_and_oov_match_texterrors(make_utts, tmp_path: Path) -> None:
    """Single-word keywords: texterrors' keyword recall/precision; the OOV class: its OOV-WER (= 1 - recall).
    Unit costs (texterrors' plain Levenshtein) on sentences whose alignment is unique."""
    words = ["twenty", "two", "harbor", "electric"]
    (tmp_path / "kw").write_text("\n".join(words) + "\n", encoding="utf-8")
    (tmp_path / "oov").write_text("harbor\nelectric\n", encoding="utf-8")
    (tmp_path / "ref").write_text("".join(f"{u} {t}\n" for u, t in REFS.items()), encoding="utf-8")
    (tmp_path / "hyp").write_text("".join(f"{u} {t}\n" for u, t in HYPS.items()), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "texterrors.texterrors", "--isark", "--skip-detailed", "--output-format",
         "json", "--keywords-f", "kw", "--oov-list-f", "oov", "ref", "hyp"],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    )  # fmt: skip
    theirs = json.loads(done.stdout)["summary"]
    keywords = wc.load_keywords(tmp_path / "kw")
    vocabulary = Vocabulary(frozenset(" ".join(REFS.values()).split()) - {"harbor", "electric"}, "v", "text")
    table = wc.class_table(
        make_utts(REFS, {"sys": HYPS}), [keywords, wc.oov_class(vocabulary)], n_resamples=100
    )
    kw, oov = _row(table, "kw"), _row(table, "oov")
    assert kw.recall == pytest.approx(theirs["keyword_recall"])
    assert kw.precision == pytest.approx(theirs["keyword_precision"])
    assert (kw.ref_words, kw.hyp_words, kw.correct) == (
        theirs["keyword_count"],
        theirs["keyword_output_count"],
        theirs["keyword_predicted_count"],
    )
    assert oov.ref_words == theirs["oov_word_count"]
    assert 1 - oov.recall == pytest.approx(theirs["oov_wer"] / 100)


def test_keyword_and_vocabulary_files_name_the_bad_line(tmp_path: Path) -> None:
    """Issue 17: a NUL byte in a keyword list was accepted; undecodable bytes in either named no line."""
    from werbench.analysis.vocabulary import load_vocabulary

    for content, message in [(b"alpha\nbe\x00ta\n", "NUL byte"), (b"alpha\ncaf\xe9\n", "not UTF-8")]:
        path = tmp_path / "list.txt"
        path.write_bytes(content)
        with pytest.raises(ManifestError, match=message) as caught:
            wc.load_keywords(path)
        assert caught.value.line == 2
    with pytest.raises(ManifestError, match="not UTF-8") as caught:
        load_vocabulary(path)
    assert caught.value.line == 2
