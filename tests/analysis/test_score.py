"""``werbench score``: sclite's counts on the shared fixtures, results directories, outputs and bad input."""

from __future__ import annotations

import json
import random
from pathlib import Path

import jiwer
import kaldialign
import pandas as pd
import pytest
from typer.testing import CliRunner
from werbench.manifests.results import RunInfo, system_dir, write_run_info

from werbench.cli import app


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WERBENCH_CACHE", str(tmp_path / "cache"))


def score(*args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["score", *map(str, args)])
    return result.exit_code, result.stdout, result.stderr


def test_json_reproduces_sclite_on_every_shared_fixture(sclite_fixtures, tmp_path: Path) -> None:
    for name, ref_trn, hyp_trn, scored in sclite_fixtures:
        out = tmp_path / f"{name}.json"
        code, stdout, stderr = score(ref_trn, hyp_trn, "--json", out)
        assert code == 0, stderr
        expected = json.loads(scored.read_text(encoding="utf-8"))
        got = json.loads(out.read_text(encoding="utf-8"))["systems"][hyp_trn.stem]
        assert got["utterances"] == expected["utterances"], name
        assert {k: got["totals"][k] for k in "CSDI"} == {k: expected["totals"][k] for k in "CSDI"}, name
        assert got["totals"]["wer"] == pytest.approx(expected["totals"]["wer"], abs=1e-4), name
        assert name in stdout and "WER [95% CI]" in stdout


def test_summary_table_and_csv_outputs(sclite_fixtures, tmp_path: Path) -> None:
    _, ref_trn, hyp_trn, scored = sclite_fixtures[0]
    totals = json.loads(scored.read_text(encoding="utf-8"))["totals"]
    code, stdout, _ = score(ref_trn, hyp_trn, "--csv", tmp_path / "sum.csv")
    assert code == 0
    line = next(row for row in stdout.splitlines() if row.startswith(hyp_trn.stem))
    cells = [c.strip() for c in line.split("|")]
    words = totals["C"] + totals["S"] + totals["D"]
    assert cells[2] == str(words) and cells[3] == f"{100 * totals['C'] / words:.1f}"
    assert cells[7].startswith(f"{totals['wer']:.1f} [")
    systems = pd.read_csv(tmp_path / "sum.csv")
    utts = pd.read_csv(tmp_path / "sum_utterances.csv")
    assert systems.loc[0, "wer"] == pytest.approx(totals["wer"] / 100)
    assert utts["utt_id"].tolist() == list(json.loads(scored.read_text(encoding="utf-8"))["utterances"])


def test_unit_costs_give_jiwer_counts(tmp_path: Path) -> None:
    refs = {"s_1": "a b c d", "s_2": "the cat sat", "s_3": "x y z"}
    hyps = {"s_1": "a x c", "s_2": "the the cat", "s_3": "y y z z"}
    (tmp_path / "ref.trn").write_text("".join(f"{t} ({u})\n" for u, t in refs.items()))
    (tmp_path / "sys.trn").write_text("".join(f"{t} ({u})\n" for u, t in hyps.items()))
    code, _, _ = score(
        tmp_path / "ref.trn", tmp_path / "sys.trn", "--costs", "unit", "--json", tmp_path / "k.json"
    )
    assert code == 0
    totals = json.loads((tmp_path / "k.json").read_text())["systems"]["sys"]["totals"]
    out = jiwer.process_words(list(refs.values()), list(hyps.values()))
    assert (totals["C"], totals["S"], totals["D"], totals["I"]) == (
        out.hits,
        out.substitutions,
        out.deletions,
        out.insertions,
    )
    assert totals["wer"] == pytest.approx(100 * out.wer, abs=1e-4)


def test_results_directory_alone(tmp_path: Path) -> None:
    root = tmp_path / "RESULTS"
    rows = {"u1": "The cat sat.", "u2": "On the mat!"}
    for system, hyp in {"m@greedy": "the cat", "m@beam": "the cat sat"}.items():
        ref = system_dir(root, "dev", system)
        ref.path.mkdir(parents=True)
        lines = [
            {
                "audio_filepath": f"/a/{u}.wav",
                "duration": 2.0,
                "text": t,
                "utt_id": u,
                "pred_text": hyp if u == "u1" else "on the mat",
            }
            for u, t in rows.items()
        ]
        ref.predictions.write_text("".join(json.dumps(line) + "\n" for line in lines))
        write_run_info(
            ref, RunInfo(system, "dev", normalizer="nemo@1", audio_seconds=4.0, decode_seconds=0.5)
        )
    code, stdout, stderr = score(root, "--json", tmp_path / "r.json")
    assert code == 0, stderr
    systems = json.loads((tmp_path / "r.json").read_text())["systems"]
    assert systems["m@beam"]["totals"]["wer"] == 0.0 and systems["m@greedy"]["totals"]["D"] == 1
    assert "text mode nemo@1" in stdout and "no manifest.jsonl" in stderr


def test_missing_hypotheses_are_warned_listed_and_count_as_deletions(tmp_path: Path) -> None:
    (tmp_path / "ref.trn").write_text("a b (s_1)\nc d (s_2)\n")
    (tmp_path / "sys.trn").write_text("a b (s_1)\n")
    code, stdout, stderr = score(tmp_path / "ref.trn", tmp_path / "sys.trn", "--json", tmp_path / "o.json")
    assert code == 0 and "warning: ref/sys: 1 of 2 reference utterances have no hypothesis (s_2)" in stderr
    result = json.loads((tmp_path / "o.json").read_text())["systems"]["sys"]
    assert result["failed"] == {"s_2": "no hypothesis for this utterance"}
    assert result["utterances"]["s_2"] == {"C": 0, "S": 0, "D": 2, "I": 0}
    assert result["totals"] == {"C": 2, "S": 0, "D": 2, "I": 0, "wer": 50.0, "failed": 0, "missing": 1}
    assert "WER [95% CI] | failed | missing" in stdout and "failed/missing: deletions" in stdout


def test_missing_ignore_reproduces_sclite_which_scores_decoded_utterances_only(
    tmp_path: Path, run_sclite_pra
) -> None:
    rng = random.Random(7)
    words = ["a", "b", "c", "the", "cat"]
    refs = {f"s_{k:02d}": " ".join(rng.choices(words, k=rng.randint(1, 8))) for k in range(40)}
    hyps = {  # about one word in four wrong, one utterance in five never decoded
        u: " ".join(w if rng.random() > 0.25 else rng.choice(words) for w in text.split())
        for u, text in refs.items()
        if rng.random() > 0.2
    }
    for name, texts in (("ref.trn", refs), ("sys.trn", hyps)):
        (tmp_path / name).write_text("".join(f"{t} ({u})\n" for u, t in texts.items()))
    expected = {u: utt.counts for u, utt in run_sclite_pra(refs, hyps).items()}
    assert len(expected) == len(hyps) < len(refs), "sclite lists only the decoded utterances"
    out = tmp_path / "o.json"
    code, _, _ = score(tmp_path / "ref.trn", tmp_path / "sys.trn", "--missing", "ignore", "--json", out)
    assert code == 0
    ignored = json.loads(out.read_text())["systems"]["sys"]
    assert {u: tuple(c.values()) for u, c in ignored["utterances"].items()} == expected
    assert [ignored["totals"][k] for k in "CSDI"] == [sum(c[k] for c in expected.values()) for k in range(4)]
    code, _, _ = score(tmp_path / "ref.trn", tmp_path / "sys.trn", "--json", out)
    full = json.loads(out.read_text())["systems"]["sys"]
    assert (
        full["totals"]["missing"] == len(refs) - len(hyps)
        and full["totals"]["wer"] > ignored["totals"]["wer"]
    )


def test_non_ascii_words_are_scored(tmp_path: Path) -> None:
    (tmp_path / "ref.trn").write_text("naïve café 中文 😀 (s_1)\n", encoding="utf-8")
    (tmp_path / "sys.trn").write_text("naïve cafe 中文 (s_1)\n", encoding="utf-8")
    code, _, _ = score(tmp_path / "ref.trn", tmp_path / "sys.trn", "--json", tmp_path / "o.json")
    assert code == 0
    counts = json.loads((tmp_path / "o.json").read_text(encoding="utf-8"))["systems"]["sys"]["utterances"][
        "s_1"
    ]
    assert counts == {"C": 2, "S": 1, "D": 1, "I": 0}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.trn", "h.trn"], "trn file not found"),
        (["ref.trn", "bad.jsonl"], "bad.jsonl:1: pred_text: hypothesis must be a string"),
        (["ref.trn", "h.trn", "--costs", "nist"], "unknown costs 'nist'"),
        (["ref.trn", "h.trn", "--normalize", "fancy"], "unknown normaliser 'fancy'"),
    ],
)
def test_bad_input_is_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ref.trn").write_text("a (s_1)\n")
    (tmp_path / "h.trn").write_text("a (s_1)\n")
    (tmp_path / "bad.jsonl").write_text('{"utt_id": "s_1", "pred_text": 1}\n')
    code, stdout, stderr = score(*args)
    assert code == 1 and message in stderr and "Traceback" not in stderr + stdout


def test_trn_reference_alternations_scored_as_real_sclite(run_sclite, tmp_path: Path) -> None:
    # werbench score on a trn reference with alternations, @ and (uh): sclite's counts per utterance
    refs = {
        "s_1": "a { b / c } d",
        "s_2": "the { data base / database } is { @ / uh } up",
        "s_3": "(uh) yes { i / i'm } { am / @ } here",
        "s_4": "{ x y / z } w",
        "s_5": "hello world",
    }
    hyps = {
        "s_1": "a c d",
        "s_2": "the database is up",
        "s_3": "uh yes i'm here",
        "s_4": "q w",
        "s_5": "hello",
    }
    (tmp_path / "ref.trn").write_text("".join(f"{t} ({u})\n" for u, t in refs.items()))
    (tmp_path / "sys.trn").write_text("".join(f"{t} ({u})\n" for u, t in hyps.items()))
    code, _, stderr = score(tmp_path / "ref.trn", tmp_path / "sys.trn", "--json", tmp_path / "out.json")
    assert code == 0, stderr
    got = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))["systems"]["sys"]["utterances"]
    expected = run_sclite(refs, hyps)
    assert {u: tuple(got[u][k] for k in "CSDI") for u in refs} == expected
    assert expected["s_2"] == (4, 0, 0, 0) and expected["s_3"] == (3, 1, 0, 0)


@pytest.mark.parametrize("ids", ["rm", "spu_id"])
def test_optional_deletable_is_sclite_minus_d(run_sclite_pra, tmp_path: Path, ids: str) -> None:
    # --optional-deletable on trn files with (uh) words in both: sclite -D's counts, totals and .pra
    # alignments (read back from the tables' ops through the one walker)
    from werbench.analysis.errors import replay
    from werbench.analysis.table_cache import TableOptions, tables_for

    rng = random.Random(5)
    vocab = ["a", "b", "uh", "(uh)", "(um)", "UM", "(b)", "c*"]
    refs, hyps = {}, {}
    for k in range(400):
        refs[f"spk_{k:04d}"] = " ".join(rng.choice(vocab) for _ in range(rng.randint(1, 8)))
        hyps[f"spk_{k:04d}"] = " ".join(rng.choice(vocab) for _ in range(rng.randint(0, 8)))
    refs["spk_0400"] = "the { data base / database } (uh) is up"
    hyps["spk_0400"] = "the database um is up"
    (tmp_path / "ref.trn").write_text("".join(f"{t} ({u})\n" for u, t in refs.items()))
    (tmp_path / "sys.trn").write_text("".join(f"{t} ({u})\n" for u, t in hyps.items()))
    code, stdout, stderr = score(
        tmp_path / "ref.trn", tmp_path / "sys.trn", "--optional-deletable", "--json", tmp_path / "out.json"
    )
    assert code == 0, stderr
    assert "optional words deletable (sclite -D)" in stdout
    pra = run_sclite_pra(refs, hyps, "-D", ids=ids)
    system = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))["systems"]["sys"]
    assert {u: tuple(system["utterances"][u][k] for k in "CSDI") for u in refs} == {
        u: pra[u].counts for u in refs
    }
    assert tuple(system["totals"][k] for k in "CSDI") == tuple(
        map(sum, zip(*(p.counts for p in pra.values()), strict=True))
    )
    tables = tables_for(
        tmp_path / "ref.trn", [tmp_path / "sys.trn"], TableOptions(optional_deletable=True), use_cache=False
    )
    sclite_ops = str.maketrans("di", "CC")  # sclite's .pra prints a word left out under -D as correct
    left_out = 0
    for row in tables.utterances.itertuples(index=False):
        expected = pra[row.utt_id]
        pairs = replay(row.ops, row.ref, row.hyp)
        left_out += sum(op in "di" for op, _, _ in pairs)
        assert row.ops.translate(sclite_ops) == expected.ops, row.utt_id
        assert [r for _, r, _ in pairs] == [w and w.lower() for w in expected.ref], row.utt_id
        assert [h for _, _, h in pairs] == [w and w.lower() for w in expected.hyp], row.utt_id
    assert left_out > 100  # the set exercises the -D rule, not only plain words


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a { b / c d", "'{' at character 3 is never closed"),
        ("a b } c", "'}' without '{'"),
        ("a { b / } c", "empty alternative"),
        ("a (uh b", "unbalanced parenthesis in '\\(uh'"),
    ],
)
def test_bad_reference_notation_names_file_line_and_field(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "ref.trn").write_text(f"fine words (s_1)\n{text} (s_2)\n")
    (tmp_path / "sys.trn").write_text("fine words (s_1)\na b c (s_2)\n")
    code, _, stderr = score(tmp_path / "ref.trn", tmp_path / "sys.trn")
    assert code != 0
    assert f"{tmp_path / 'ref.trn'}:2: text:" in stderr and message.replace("\\", "") in stderr


def test_bad_alternation_in_a_manifest_names_its_line(tmp_path: Path) -> None:
    rows = [
        {"audio_filepath": "u1.wav", "utt_id": "u1", "text": "one (two", "duration": 1.0},
        {"audio_filepath": "u2.wav", "utt_id": "u2", "text": "a { b", "duration": 1.0},
    ]
    (tmp_path / "test.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    (tmp_path / "sys.trn").write_text("one two (u1)\na b (u2)\n")
    code, _, stderr = score(tmp_path / "test.jsonl", tmp_path / "sys.trn")
    assert code != 0 and f"{tmp_path / 'test.jsonl'}:2: text: '{{' at character 3 is never closed" in stderr


def test_the_old_cer_spelling_still_works_and_says_what_replaces_it(tmp_path: Path) -> None:
    ref, hyp = tmp_path / "ref.trn", tmp_path / "hyp.trn"
    ref.write_text("the cat sat (u1)\nab cd (u2)\n", encoding="utf-8")
    hyp.write_text("the bat sat (u1)\nabcd (u2)\n", encoding="utf-8")
    outputs = {}
    for name, flags in {"new": ["--cer", "sclite"], "old": ["--cer-no-spaces"]}.items():
        out = tmp_path / f"{name}.json"
        code, _, stderr = score(ref, hyp, "--json", out, *flags)
        assert code == 0, stderr
        outputs[name] = (json.loads(out.read_text())["systems"]["hyp"]["cer"], stderr)
    assert outputs["old"][0] == outputs["new"][0]
    assert "--cer-spaces/--cer-no-spaces are deprecated; use --cer sclite" in outputs["old"][1]
    assert "--cer-spaces" not in score("--help")[1]  # hidden


def test_merge_compounds_changes_only_what_it_says(tmp_path: Path) -> None:
    # both figures: sclite's (a split compound is a substitution plus an insertion) and the leaderboard's
    refs = {"s_1": "the data base is down", "s_2": "a whitepaper on it", "s_3": "hello world"}
    hyps = {"s_1": "the database is down", "s_2": "a white paper on it", "s_3": "hello word"}
    (tmp_path / "ref.trn").write_text("".join(f"{t} ({u})\n" for u, t in refs.items()))
    (tmp_path / "sys.trn").write_text("".join(f"{t} ({u})\n" for u, t in hyps.items()))
    figures = {}
    for flags in ((), ("--merge-compounds",)):
        out = tmp_path / f"out{len(flags)}.json"
        code, stdout, stderr = score(tmp_path / "ref.trn", tmp_path / "sys.trn", "--json", out, *flags)
        assert code == 0, stderr
        assert ("compounds merged" in stdout) == bool(flags)
        figures[flags] = json.loads(out.read_text(encoding="utf-8"))
    plain, merged = figures[()], figures[("--merge-compounds",)]
    assert merged["compounds_merged"] and not plain["compounds_merged"]
    assert {k: plain["systems"]["sys"]["totals"][k] for k in "CSDI"} == {"C": 7, "S": 3, "D": 1, "I": 1}
    assert {k: merged["systems"]["sys"]["totals"][k] for k in "CSDI"} == {"C": 10, "S": 1, "D": 0, "I": 0}
    leaderboard = kaldialign.batch_error_rate(
        [refs[u].split() for u in refs], [hyps[u].split() for u in refs], merge_compounds=True
    )
    assert merged["systems"]["sys"]["totals"]["wer"] == pytest.approx(100 * leaderboard["err_rate"], abs=1e-4)


def _spaced_corpus(seed: int, count: int, vocab: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """Pairs whose words are joined by a mix of spaces, tabs, non-breaking and em spaces."""
    rng = random.Random(seed)
    gaps = [" ", " ", "\t", " \t ", "\u00a0", "\u2003"]

    def text() -> str:
        words = [rng.choice(vocab) for _ in range(rng.randint(1, 7))]
        return words[0] + "".join(rng.choice(gaps) + w for w in words[1:])

    ids = [f"spk{k % 7}_{k:04d}" for k in range(count)]
    return {u: text() for u in ids}, {u: text() for u in ids}


def _score_utterances(tmp_path: Path, refs: dict, hyps: dict, *options: str) -> dict[str, tuple]:
    (tmp_path / "ref.trn").write_text("".join(f"{t} ({u})\n" for u, t in refs.items()), encoding="utf-8")
    (tmp_path / "sys.trn").write_text("".join(f"{t} ({u})\n" for u, t in hyps.items()), encoding="utf-8")
    code, stdout, stderr = score(
        tmp_path / "ref.trn", tmp_path / "sys.trn", *options, "--json", tmp_path / "o"
    )
    assert code == 0, stderr
    got = json.loads((tmp_path / "o").read_text(encoding="utf-8"))
    assert got["normalizer"] in stdout  # the table names the text mode it used
    return got["normalizer"], {
        u: tuple(c[k] for k in "CSDI") for u, c in got["systems"]["sys"]["utterances"].items()
    }


def test_text_modes_sclite_and_none_against_the_binary(run_sclite, tmp_path: Path) -> None:
    # the sclite text mode (the default for trn input) is what the binary does by default: ASCII case
    # folded (not É/é), one trailing '*' dropped, words split on tabs and spaces but not on a non-breaking
    # or an em space; none is exact: the binary's case-sensitive -s, on words without a trailing '*'
    refs, hyps = _spaced_corpus(5, 600, ["a", "A", "b*", "b", "É", "é", "x\u00a0y", "x", "y"])
    mode, got = _score_utterances(tmp_path, refs, hyps)
    assert mode == "sclite@1" and got == run_sclite(refs, hyps)
    refs, hyps = _spaced_corpus(6, 600, ["a", "A", "b", "B", "É", "é", "x\u00a0y", "x", "y"])
    mode, got = _score_utterances(tmp_path, refs, hyps, "--normalize", "none")
    assert mode == "none@2" and got == run_sclite(refs, hyps, "-s")
    assert got != run_sclite(refs, hyps)  # the corpus does tell the two modes apart


def test_none_is_truly_none_and_trn_input_defaults_to_sclite(tmp_path: Path) -> None:
    refs, hyps = {"u_1": "The Dollar fell"}, {"u_1": "the dollar fell"}
    assert _score_utterances(tmp_path, refs, hyps) == ("sclite@1", {"u_1": (3, 0, 0, 0)})
    assert _score_utterances(tmp_path, refs, hyps, "-n", "none") == ("none@2", {"u_1": (1, 2, 0, 0)})
    rows = [{"audio_filepath": "u.wav", "utt_id": "u_1", "text": "The Dollar fell", "duration": 1.0}]
    (tmp_path / "test.jsonl").write_text(json.dumps(rows[0]) + "\n")
    code, stdout, stderr = score(tmp_path / "test.jsonl", tmp_path / "sys.trn", "--json", tmp_path / "m")
    assert code == 0, stderr
    got = json.loads((tmp_path / "m").read_text(encoding="utf-8"))
    assert got["normalizer"] == "none@2" and "text mode none@2" in stdout  # SDE (no normalisation): 66.7%
    assert got["systems"]["sys"]["totals"]["wer"] == pytest.approx(100 * 2 / 3, abs=1e-3)
