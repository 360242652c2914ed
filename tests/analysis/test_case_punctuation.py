"""Casing and punctuation (``analysis.case_punctuation``): by hand, and against NeMo's ``punct_er``."""

from __future__ import annotations

import random
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from werbench.analysis import case_punctuation as cp
from werbench.analysis.report_csv import write_csv_report
from werbench.analysis.report_data import build_report
from werbench.analysis.report_html import render_html
from werbench.analysis.tables import build_tables
from werbench.manifests.normalize import get_normalizer

NEMO = get_normalizer("nemo")
REFS = {
    "u1": "Hi, dear! Nice to see you. What's",
    "u2": "We met John Smith in Paris, yesterday.",
    "u3": "Is it done? Yes , it is.",
}
HYPS = {
    "u1": "Hi dear! Nice to see you! What's?",  # , deleted; . -> !; ? inserted
    "u2": "we met john Smith in paris yesterday.",  # We, John, Paris lower-cased; , deleted
    "u3": "Is it done? Yes it is.",  # the stand-alone comma deleted
}


def _tables(make_inputs, refs, hyps, normalize: str = "nemo", **systems):
    inputs = make_inputs(refs, {"sys": hyps, **systems})
    utts = build_tables(inputs, normalize=normalize, n_resamples=20).utterances
    return cp.case_punctuation_tables(utts, get_normalizer(normalize), n_resamples=200)


def _mark(table, mark: str):
    return table[table["mark"] == mark].iloc[0]


def test_by_hand(make_inputs) -> None:
    summary, marks = _tables(make_inputs, REFS, HYPS)
    row = summary.iloc[0]
    # ref marks: , ! . (u1) , . (u2) ? , . (u3) = 8; hyp: ! ! ? (u1) . (u2) ? . (u3) = 6
    assert (row.ref_marks, row.hyp_marks, row.utts, row.unmapped) == (8, 6, 3, 0)
    # correct: ! (u1), . (u2), ? . (u3) = 4; substituted: . -> ! (u1); deleted: , (u1) , (u2) , (u3);
    # inserted: ? (u1)
    assert (row.correct, row.substituted, row.deleted, row.inserted) == (4, 1, 3, 1)
    assert row.per == pytest.approx(5 / 9)
    assert row.per_lo <= row.per <= row.per_hi
    # case: 20 correct words (7 + 7 + 6), We/John/Paris written lower case
    assert (row.case_words, row.case_errors) == (20, 3) and row.case_error_rate == pytest.approx(3 / 20)
    assert row.ref_cased and row.hyp_cased and row.ref_punctuated and row.hyp_punctuated
    comma, period, bang = _mark(marks, ","), _mark(marks, "."), _mark(marks, "!")
    assert (comma.ref_marks, comma.hyp_marks, comma.deleted, comma.recall, comma.per) == (3, 0, 3, 0.0, 1.0)
    assert np.isnan(comma.precision) and np.isnan(comma.f1)
    assert (period.correct, period.substituted, period.precision, period.recall) == (2, 1, 1.0, 2 / 3)
    assert (bang.ref_marks, bang.hyp_marks, bang.correct, bang.precision, bang.recall) == (1, 2, 1, 0.5, 1.0)
    assert bang.f1 == pytest.approx(2 / 3) and bang.per == 0.0  # NeMo's rate: ops of reference "!" only


def test_marks_follow_the_alignment(make_inputs) -> None:
    """A mark after a deleted word stays in the region of the word before it; a substituted word keeps its
    gap; an utterance whose raw text does not map is counted, not measured."""
    refs = {"a": "Yes, we can go.", "b": "Go home, now.", "c": "{ Uh / @ } fine."}
    hyps = {"a": "Yes can go.", "b": "Go house, now!", "c": "fine."}
    row = _tables(make_inputs, refs, hyps)[0].iloc[0]
    # a: "we" deleted, its comma region is Yes's: ref "," vs hyp "" -> deleted; "." correct
    # b: house for home keeps its comma (correct); . -> ! substituted; c: alternation: unmapped
    assert (row.utts, row.unmapped) == (2, 1)
    assert (row.correct, row.substituted, row.deleted, row.inserted) == (2, 1, 1, 0)
    refs = {"a": "Yes we, can go."}
    hyps = {"a": "Yes, can go."}  # the deleted word's comma written after the word before: correct
    row = _tables(make_inputs, refs, hyps)[0].iloc[0]
    assert (row.correct, row.deleted, row.inserted) == (2, 0, 0)


def test_no_case_or_punctuation(make_inputs) -> None:
    """Lower-case references without marks: nothing to measure, both tables empty; a test set with case
    but no marks gets a case rate and no punctuation rate."""
    summary, marks = _tables(make_inputs, {"u1": "we met john"}, {"u1": "We met John."})
    assert summary.empty and marks.empty
    assert list(summary.columns) == cp.SUMMARY_COLUMNS and list(marks.columns) == cp.MARK_COLUMNS
    summary, marks = _tables(make_inputs, {"u1": "We met John"}, {"u1": "we met John."})
    row = summary.iloc[0]
    assert np.isnan(row.per) and not row.ref_punctuated and row.hyp_punctuated and marks.empty
    assert (row.case_words, row.case_errors) == (3, 1)
    summary, _ = _tables(make_inputs, {"u1": "We met John."}, {"u1": "WE MET JOHN"})
    row = summary.iloc[0]  # a system that writes no case and no marks: measured, and said so
    assert not row.hyp_cased and not row.hyp_punctuated and row.case_error_rate == 1.0 and row.per == 1.0


def test_report_section_and_csv(make_inputs, tmp_path: Path) -> None:
    """Whisper-like cased, punctuated output: the HTML section beside the normalised WER, both CSV files,
    and systems.csv's columns."""
    lower = {u: re.sub(r"[,.!?]", "", t.lower()) for u, t in REFS.items()}  # a CTC model's output
    tables = build_tables(make_inputs(REFS, {"sys": HYPS, "ctc": lower}), normalize="nemo", n_resamples=20)
    report = build_report(tables, n_resamples=50)
    written = {p.name for p in write_csv_report(tmp_path, report)}
    assert {"punctuation.csv", "punctuation_marks.csv"} <= written
    systems = pd.read_csv(tmp_path / "systems.csv").set_index("system")
    assert systems.loc["sys", "per"] == pytest.approx(5 / 9) and systems.loc["ctc", "per"] == 1.0
    assert systems.loc["ctc", "case_error_rate"] == pytest.approx(
        report.punctuation.set_index("system").loc["ctc", "case_error_rate"]
    )
    marks = pd.read_csv(tmp_path / "punctuation_marks.csv", keep_default_na=False)
    assert set(marks["mark"]) == {",", ".", "?", "!"}
    html = render_html(report)
    section = html[
        html.index('<section id="casing">') : html.index("</section>", html.index('<section id="casing">'))
    ]
    assert "Casing and punctuation" in section and "WER % (normalised)" in section
    assert ">55.6<" in section and ">100.0<" in section  # sys's and ctc's PER
    assert "No reference carries" not in section and "<code>;</code>" in html


def test_raw_diff_shows_words_as_written() -> None:
    pairs = cp.raw_diff("CCCS", "Twenty-one, Mr. Smith!", "twenty one Mr Smyth", "twenty one mr smith",
                        "twenty one mr smyth", NEMO)  # fmt: skip
    assert pairs == [("C", "Twenty", "twenty"), ("C", "one,", "one"), ("C", "Mr.", "Mr"),
                     ("S", "Smith!", "Smyth")]  # fmt: skip
    pairs = cp.raw_diff("CC", "— Hello world", "hello — world", "hello world", "hello world", NEMO)
    assert pairs == [("C", "— Hello", "hello —"), ("C", "world", "world")]
    assert cp.raw_diff("C", "{ a / b }", "a", "a", "a", NEMO) is None  # alternations do not map


def _random_pair(rng: random.Random) -> tuple[str, str]:
    """The same words on both sides, as written; per utterance one kind of change to the marks: some gaps
    lose marks, or gain some, or have theirs replaced by as many others (see ``test_matches_nemo_punct_er``).
    """
    vocabulary = ["alpha", "Beta", "gamma", "delta", "what's", "It's", "omega", "zeta", "eta", "Theta"]
    marks = ".,?!:;"
    mode = rng.choice(["drop", "add", "replace"])

    def gap_marks() -> str:
        draw = rng.random()
        return (
            "" if draw < 0.5 else rng.choice(marks) if draw < 0.85 else rng.choice(marks) + rng.choice(marks)
        )

    def change(gap: str) -> str:
        if rng.random() < 0.5:
            return gap
        if mode == "drop":
            return gap[rng.randint(0, len(gap)) :] if gap else gap
        if mode == "add":
            return rng.choice(marks) + gap
        return "".join(rng.choice(marks) for _ in gap)

    def write(words: list[str], gaps: list[str]) -> str:
        parts = [gaps[0]] if gaps[0] else []
        for word, gap in zip(words, gaps[1:], strict=True):
            parts.append(word + gap if rng.random() < 0.8 or not gap else f"{word} {gap}")
        return " ".join(parts)

    words = [rng.choice(vocabulary) for _ in range(rng.randint(1, 9))]
    ref_gaps = [gap_marks() for _ in range(len(words) + 1)]
    return write(words, ref_gaps), write(words, [change(g) for g in ref_gaps])


def test_matches_nemo_punct_er(make_inputs) -> None:
    """300 random pairs where the definitions meet: the same words as written (NeMo aligns the raw words, case
    and all), and per utterance marks only dropped, only added or only replaced in place (where one gap
    loses a mark and the next gains one, NeMo's backtrace may pair them across the word as a substitution,
    module docstring): every mark's correct/substitution/deletion/insertion counts and the PER are NeMo's."""
    from nemo.collections.common.metrics.punct_er import DatasetPunctuationErrorRate

    rng = random.Random(19)
    pairs = [_random_pair(rng) for _ in range(300)]
    refs = {f"u{k}": ref for k, (ref, _) in enumerate(pairs)}
    hyps = {f"u{k}": hyp for k, (_, hyp) in enumerate(pairs)}
    summary, marks = _tables(make_inputs, refs, hyps)
    nemo = DatasetPunctuationErrorRate(list(refs.values()), list(hyps.values()), list(cp.MARKS))
    nemo.compute()
    assert summary.iloc[0].unmapped == 0 and summary.iloc[0].correct > 100
    assert summary.iloc[0].per == pytest.approx(nemo.punct_er)
    names = {
        "correct": "Correct",
        "substituted": "Substitutions",
        "deleted": "Deletions",
        "inserted": "Insertions",
    }
    for mark in cp.MARKS:
        ours = marks[marks["mark"] == mark].iloc[0]
        theirs = {
            name: sum(amounts[mark][key] for amounts in nemo.operation_amounts) for name, key in names.items()
        }
        assert {name: int(ours[name]) for name in names} == theirs, mark
        assert ours.per == pytest.approx(1 - nemo.operation_rates[mark]["Correct"])
