"""Reports of a results directory: CSV tables, sclite trn export (re-scored by real sclite), HTML, CLI.

The HTML is also opened in headless Chromium (Debian's, through Playwright) in the browser test.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner
from werbench.analysis.inputs import read_results
from werbench.analysis.report_csv import write_csv_report
from werbench.analysis.report_data import (
    breakdown_fields,
    build_report,
    default_pairs,
    friedman_by_testset,
    parse_pair,
)
from werbench.analysis.report_html import render_html, write_html_report
from werbench.analysis.report_trn import trn_id, write_trn_export
from werbench.analysis.tables import build_tables
from werbench.manifests.results import RunInfo
from werbench.manifests.schema import Utterance
from werbench.runners.decoders.base import lineage_record, stage_record

from werbench.cli import app

SCLITE = shutil.which("sclite") or "/usr/lib/sctk/bin/sclite"
CHROMIUM = Path("/usr/bin/chromium")
VOCAB = ["the", "a", "cat", "dog", "sat", "on", "mat", "and", "then", "went", "home", "over", "under", "big"]
VOCAB += ["small", "red", "café", "naïve", "straße"]
SYSTEMS = ("am@greedy", "am@beam-lm", "other@greedy")


def _corrupt(words: list[str], p: float, rng: random.Random) -> list[str]:
    out: list[str] = []
    for w in words:
        r = rng.random()
        if r < p / 3:
            continue
        out.append(rng.choice(VOCAB) if r < 2 * p / 3 else w)
        if 2 * p / 3 <= r < p:
            out.append(rng.choice(VOCAB))
    return out


def _scenario(root: Path, make_results) -> Path:
    """24 utterances of 6 speakers in 3 noise conditions, 3 systems: stages, n-best, a failure, a gap."""
    rng = random.Random(5)
    manifest = []
    for i in range(24):
        words = [rng.choice(VOCAB) for _ in range(rng.randint(3, 12))]
        manifest.append(
            Utterance(
                audio_filepath=f"/audio/{i}.flac",
                duration=round(rng.uniform(0.5, 24.0), 2),
                text="" if i == 23 else " ".join(words),
                utt_id=f"u{i:02d}",
                speaker=f"spk-{i % 6}",
                extra={"noise": ["clean", "babble", "street"][i % 3]},
            )
        )
    systems: dict[str, dict[str, dict[str, object]]] = {name: {} for name in SYSTEMS}
    for u in manifest:
        words = u.text.split()
        greedy = " ".join(_corrupt(words, 0.35, rng))
        beam = " ".join(_corrupt(words, 0.12, rng))
        systems["am@greedy"][u.utt_id] = {"pred_text": greedy}
        systems["am@beam-lm"][u.utt_id] = {
            "pred_text": beam,
            "greedy_text": greedy,
            "nbest": [{"text": beam, "score": -1.0}, {"text": u.text, "score": -2.5}],
        }
        if u.utt_id == "u05":
            systems["other@greedy"][u.utt_id] = {"pred_text": "", "error": "CUDA out of memory"}
        elif u.utt_id != "u06":  # u06 has no hypothesis at all
            systems["other@greedy"][u.utt_id] = {"pred_text": " ".join(_corrupt(words, 0.2, rng))}
    systems["am@greedy"]["u02"] = {"pred_text": "<script>alert('x')</script> the cat"}
    runs = {
        # what the runners record (run.json decoder.lineage); other@greedy has none and gets no lineage
        "am@greedy": RunInfo(
            "am@greedy",
            "dev",
            model={"sha256": "a" * 64},
            decoder={"type": "greedy", "params": {}, "lineage": lineage_record()},
            normalizer="none@1",
        ),
        "am@beam-lm": RunInfo(
            "am@beam-lm",
            "dev",
            model={"sha256": "a" * 64},
            decoder={
                "type": "beam",
                "params": {"lm": "4gram.arpa"},
                "lineage": lineage_record(stages={"greedy_text": stage_record("greedy")}),
            },
            normalizer="none@1",
        ),
        "other@greedy": RunInfo("other@greedy", "dev", decoder={"type": "greedy"}, normalizer="none@1"),
    }
    return make_results(root, "dev", manifest, systems, runs=runs)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory, make_results) -> Path:
    return _scenario(tmp_path_factory.mktemp("results"), make_results)


@pytest.fixture(scope="module")
def tables(results: Path):
    return build_tables(read_results(results), n_resamples=200)


@pytest.fixture(scope="module")
def report(tables, results: Path):
    return build_report(tables, n_resamples=200, source=str(results))


# ------------------------------------------------------------------------------------------------- data


def test_report_data_defaults(report, tables) -> None:
    assert set(breakdown_fields(tables.utterances)) >= {"speaker", "duration", "noise"}
    assert "text" not in breakdown_fields(tables.utterances)
    assert list(report.breakdowns)[:2] == ["speaker", "duration"]
    best, runner_up = tables.systems.sort_values("wer")["system"].tolist()[:2]
    assert default_pairs(tables.systems) == [("dev", runner_up, best)]
    assert [(c.system_a, c.system_b) for c in report.comparisons] == [(runner_up, best)]
    assert [(s.earlier, s.later) for s in report.lineage] == [("am@greedy", "am@beam-lm")]
    assert report.nbest_summary["system"].tolist() == ["am@beam-lm"]
    assert report.nbest_summary["oracle_wer"].iloc[0] == 0.0  # the reference itself is in every list
    best_row = report.versus_best.set_index("system").loc[best]
    assert best_row["p_value"] is None or pd.isna(best_row["p_value"])
    assert len(report.versus_best) == 3
    friedman = report.friedman["dev"]
    assert friedman.name == "friedman" and friedman.n == 6 and 0 <= friedman.p_value <= 1
    assert friedman.skipped is None


def test_friedman_needs_real_speakers_and_says_why(tables) -> None:
    four = tables.utterances.assign(speaker=tables.utterances["speaker"].str.replace("spk-5", "spk-4"))
    four["speaker"] = four["speaker"].str.replace("spk-4", "spk-3")
    assert friedman_by_testset(four)["dev"].skipped == "only 4 speakers: per-speaker tests need at least 5"
    unknown = friedman_by_testset(tables.utterances.assign(speaker=None))["dev"]
    assert unknown.skipped.startswith("no speakers") and unknown.p_text == "n/a"


def test_pairs_are_parsed_and_checked(tables) -> None:
    assert parse_pair("a@x:b@y") == ("a@x", "b@y")
    with pytest.raises(ValueError, match="A:B"):
        parse_pair("nocolon")
    chosen = build_report(tables, pairs=["am@greedy:am@beam-lm"], n_resamples=50, fields=["noise"])
    assert [(c.system_a, c.system_b) for c in chosen.comparisons] == [("am@greedy", "am@beam-lm")]
    assert list(chosen.breakdowns) == ["noise"]
    with pytest.raises(ValueError, match="no test set has all of 'am@greedy', 'ghost'"):
        build_report(tables, pairs=["am@greedy:ghost"], n_resamples=50)


# -------------------------------------------------------------------------------------------------- CSV


def test_csv_report(report, tables, tmp_path: Path) -> None:
    written = write_csv_report(tmp_path, report)
    names = {p.name for p in written}
    assert {
        "utterances.csv",
        "systems.csv",
        "confusions.csv",
        "inserted.csv",
        "deleted.csv",
        "word_accuracy.csv",
        "breakdown_speaker.csv",
        "breakdown_noise.csv",
        "comparisons.csv",
        "versus_best.csv",
        "lineage.csv",
        "nbest_oracle.csv",
    } <= names
    utts = pd.read_csv(tmp_path / "utterances.csv", keep_default_na=False)
    assert len(utts) == 3 * 24
    nbest = utts.loc[(utts["system"] == "am@beam-lm") & (utts["utt_id"] == "u00"), "nbest"].iloc[0]
    assert json.loads(nbest)[1]["score"] == -2.5
    confusions = pd.read_csv(tmp_path / "confusions.csv")
    by_system = confusions.groupby("system")["count"].sum().to_dict()
    expected = tables.systems.set_index("system")["S"].to_dict()
    assert by_system == {k: v for k, v in expected.items() if v}
    accuracy = pd.read_csv(tmp_path / "word_accuracy.csv")
    scored = tables.systems.set_index("system")
    assert accuracy.groupby("system")["correct"].sum().to_dict() == scored["C"].to_dict()
    comparisons = pd.read_csv(tmp_path / "comparisons.csv")
    assert {"bootstrap_p", "mapsswe_p", "mcnemar_p", "p_b_better"} <= set(comparisons.columns)
    assert {"bootstrap_p_text", "sign_speaker_p_text"} <= set(comparisons.columns)
    assert "0" not in comparisons["bootstrap_p_text"].astype(str).tolist()
    versus = pd.read_csv(tmp_path / "versus_best.csv", keep_default_na=False).set_index("system")
    others = versus[versus.index != versus["best"]]
    assert len(others) == 2 and (others["p_holm"].astype(float) >= others["p_value"].astype(float)).all()


# -------------------------------------------------------------------------------------------------- trn


def test_trn_ids() -> None:
    assert trn_id("1089-134686-0000", "1089") == "1089-134686-0000"  # sclite already reads the speaker
    assert trn_id("u01", "spk-7") == "spk_7-u01"
    assert trn_id("u 01(x)", None) == "u_01_x_"


def test_trn_export_files(tables, tmp_path: Path) -> None:
    written = write_trn_export(tmp_path, tables.utterances)
    folder = tmp_path / "dev"
    assert {p.name for p in written} == {"ref.trn", *(f"{s}.trn" for s in SYSTEMS), "ids.csv", "README.txt"}
    ref_lines = (folder / "ref.trn").read_text(encoding="utf-8").splitlines()
    assert len(ref_lines) == 24 and ref_lines[0].endswith("(spk_0-u00)")
    other = (folder / "other@greedy.trn").read_text(encoding="utf-8").splitlines()
    assert other[5] == " (spk_5-u05)" and other[6] == " (spk_0-u06)"  # failed: empty hypotheses
    readme = (tmp_path / "README.txt").read_text()
    assert "dev/other@greedy: 2 failed" in readme and "sc_stats" in readme
    ids = pd.read_csv(folder / "ids.csv")
    assert ids.iloc[0].tolist() == ["spk_0-u00", "u00"]


@pytest.mark.skipif(not Path(SCLITE).exists(), reason="NIST sclite is not installed")
def test_trn_export_rescored_by_sclite_gives_the_same_counts(tables, tmp_path: Path) -> None:
    write_trn_export(tmp_path, tables.utterances)
    folder = tmp_path / "dev"
    ids = dict(pd.read_csv(folder / "ids.csv").itertuples(index=False, name=None))
    for system in SYSTEMS:
        command = [SCLITE, "-r", "ref.trn", "trn", "-h", f"{system}.trn", "trn", "-i", "rm", "-e", "utf-8"]
        subprocess.run([*command, "-o", "pra"], cwd=folder, check=True, capture_output=True)
        text = (folder / f"{system}.trn.pra").read_text(encoding="utf-8")
        found = re.findall(
            r"^id: \((.+)\)\n(?:.*\n)*?Scores: \(#C #S #D #I\) (\d+) (\d+) (\d+) (\d+)", text, re.M
        )
        theirs = {ids[i]: tuple(map(int, counts)) for i, *counts in found}
        rows = tables.utterances[tables.utterances["system"] == system]  # failed ones too: all deletions
        ours = {r.utt_id: (r.C, r.S, r.D, r.I) for r in rows.itertuples()}
        assert ours and all(theirs[u] == c for u, c in ours.items()), system


# ------------------------------------------------------------------------------------------------- HTML


def test_html_is_self_contained_and_escaped(report) -> None:
    html = render_html(report)
    assert html.startswith("<!DOCTYPE html>")
    assert not re.search(r"<(script|link)[^>]+(src|href)=\"?(https?:)?//", html)  # nothing from a network
    assert "Plotly.newPlot" in html and len(html) > 3_000_000  # plotly.js is inlined
    assert "<script>alert" not in html and "&lt;script&gt;alert" in html
    board = html[
        html.index('class="data leaderboard"') : html.index(
            "</table>", html.index('class="data leaderboard"')
        )
    ]
    order = [board.index(f">{s}<") for s in report.tables.systems.sort_values("wer")["system"]]
    assert order == sorted(order)
    assert '<th class="num">WER %</th><th class="num">95% CI</th><th class="num">Failed</th>' in board
    assert (
        '<th class="num">Missing</th>' in board and "a <em>failed</em> or <em>missing</em> hypothesis" in html
    )
    for section in (
        "leaderboard",
        "breakdowns",
        "errors",
        "comparisons",
        "lineage",
        "utterances",
        "settings",
    ):
        assert f'id="{section}"' in html
    assert (
        "N-best oracle" in html and "CUDA out of memory" in html and "Friedman test of all 3 systems" in html
    )
    assert "No reference carries punctuation or mixed case" in html  # lower-case texts: one line


# -------------------------------------------------------------------------------------------------- CLI


def test_report_command(results: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "out"
    vocab = tmp_path / "lm_words.txt"
    vocab.write_text("\n".join(VOCAB[:10]) + "\n", encoding="utf-8")
    args = ["report", str(results), "--html", str(out / "r.html"), "--csv", str(out / "csv")]
    options = ["--trn", str(out / "trn"), "--resamples", "100", "--no-cache", "--vocab", str(vocab)]
    keywords = tmp_path / "picked.txt"
    keywords.write_text("# three words\n" + "\n".join(VOCAB[:3]) + "\n", encoding="utf-8")
    options += ["--keywords", str(keywords)]
    result = runner.invoke(app, [*args, *options, "--pairs", "am@greedy:am@beam-lm"])
    assert result.exit_code == 0, result.output
    classes = pd.read_csv(out / "csv" / "word_classes.csv").set_index(["class", "system"])
    accuracy = pd.read_csv(out / "csv" / "word_accuracy.csv")
    for system in ("am@greedy", "am@beam-lm"):  # single keywords: recall is their pooled word accuracy
        picked = accuracy[(accuracy["system"] == system) & accuracy["word"].isin(VOCAB[:3])]
        row = classes.loc[("picked", system)]
        assert row["ref_words"] == picked["count"].sum() and row["correct"] == picked["correct"].sum()
        assert row["recall_lo"] <= row["recall"] <= row["recall_hi"]
    assert {"numbers", "oov", "picked"} <= set(classes.index.get_level_values("class"))
    pairs = pd.read_csv(out / "csv" / "word_class_comparisons.csv")
    assert set(pairs["class"]) >= {"picked"} and (pairs["system_b"] == "am@beam-lm").all()
    assert "Words that matter" in (out / "r.html").read_text(encoding="utf-8")
    flags = pd.read_csv(out / "csv" / "hallucinations.csv").set_index("system")
    assert (flags["empty_refs"] == 1).all()  # u23's empty reference is scored and counted, not dropped
    flagged = pd.read_csv(out / "csv" / "hallucinated_utterances.csv", keep_default_na=False)
    assert (flagged.groupby("system").size().reindex(flags.index, fill_value=0) == flags["flagged"]).all()
    assert "Hallucinations and runaway outputs" in (out / "r.html").read_text(encoding="utf-8")
    attribution = pd.read_csv(out / "csv" / "error_attribution.csv").set_index("system")
    scored = pd.read_csv(out / "csv" / "systems.csv").set_index("system")
    errors = scored["S"] + scored["D"] + scored["I"]
    beam = attribution.loc["am@beam-lm"]  # against greedy, whose errors are the acoustic model's
    assert beam["greedy_errors"] == errors["am@greedy"] and beam["errors"] == errors["am@beam-lm"]
    assert beam["fixed"] - beam["introduced"] == beam["greedy_errors"] - beam["errors"]
    assert beam["kept"] + beam["introduced"] == beam["errors"] and beam["search_errors"] >= 0
    assert "Most of am@beam-lm&#39;s" in (out / "r.html").read_text(encoding="utf-8")  # HTML-escaped
    # systems.csv carries each system's answers beside its WER (no confidences were recorded here)
    for system in SYSTEMS:
        assert scored.loc[system, "recall_picked"] == pytest.approx(classes.loc[("picked", system), "recall"])
        assert scored.loc[system, "f1_oov"] == pytest.approx(classes.loc[("oov", system), "f1"], nan_ok=True)
        assert scored.loc[system, "hallucinated_utts"] == flags.loc[system, "flagged"]
    assert scored.loc[
        "am@beam-lm", ["errors_kept", "errors_introduced", "errors_fixed", "search_errors"]
    ].tolist() == [beam["kept"], beam["introduced"], beam["fixed"], beam["search_errors"]]
    assert "conf_auc_roc" not in scored
    oov = pd.read_csv(out / "csv" / "oov.csv")
    assert set(oov["system"]) == set(SYSTEMS) and (oov["oov_rate"] > 0).all()
    assert "OOV rate" in (out / "r.html").read_text(encoding="utf-8")
    assert (out / "r.html").stat().st_size > 3_000_000
    assert (out / "csv" / "comparisons.csv").is_file() and (out / "trn" / "dev" / "ref.trn").is_file()
    assert "am@beam-lm" in result.stdout
    missing = runner.invoke(app, ["report", str(tmp_path / "nowhere"), "--html", str(tmp_path / "x.html")])
    assert missing.exit_code == 1 and "error:" in missing.output and "Traceback" not in missing.output
    nothing = runner.invoke(app, ["report", str(results)])
    assert nothing.exit_code == 2 and "--html" in nothing.output


def test_compare_command_on_files_and_on_a_results_directory(results: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    ref = results / "dev" / "manifest.jsonl"
    greedy, beam = (results / "dev" / s / "predictions.jsonl" for s in ("am@greedy", "am@beam-lm"))
    a, b = tmp_path / "greedy.jsonl", tmp_path / "beam.jsonl"
    shutil.copy(greedy, a)
    shutil.copy(beam, b)
    out = tmp_path / "cmp.json"
    result = runner.invoke(
        app, ["compare", str(ref), str(a), str(b), "--json", str(out), "--resamples", "100", "--no-cache"]
    )
    assert result.exit_code == 0, result.output
    assert "Matched-pair sentence-segment" in result.stdout and "P(B better)" in result.stdout
    payload = json.loads(out.read_text())
    assert f"text mode {payload['normalizer']}, costs sclite" in result.stdout  # what was done to the text
    assert (payload["system_a"], payload["system_b"]) == ("greedy", "beam")
    assert {t["name"] for t in payload["tests"]} >= {"bootstrap", "mapsswe", "sign_speaker", "mcnemar"}
    assert len(payload["utterances"]) == 24
    on_dir = runner.invoke(
        app,
        [
            "compare",
            str(results),
            "am@greedy",
            "am@beam-lm",
            "--flavour",
            "sc_stats",
            "--resamples",
            "100",
            "--no-cache",
        ],
    )
    assert on_dir.exit_code == 0, on_dir.output
    assert "flavour sc_stats" in on_dir.stdout
    bad = runner.invoke(app, ["compare", str(results), "am@greedy", "ghost", "--no-cache"])
    assert bad.exit_code == 1 and "no test set has all of" in bad.output
    bad_flavour = runner.invoke(
        app, ["compare", str(results), "am@greedy", "am@beam-lm", "--flavour", "x", "--no-cache"]
    )
    assert bad_flavour.exit_code == 1 and "unknown flavour" in bad_flavour.output


# ---------------------------------------------------------------------------------------------- browser


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed")
def test_html_report_in_headless_chromium(report, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    page_file = write_html_report(tmp_path / "report.html", report)
    problems: list[str] = []
    remote: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on(
            "request",
            lambda r: remote.append(r.url) if not r.url.startswith(("file:", "data:", "blob:")) else None,
        )
        page.goto(page_file.as_uri())
        page.wait_for_selector(".js-plotly-plot .main-svg")
        systems = page.locator("table.leaderboard td.system").all_inner_texts()
        plots = page.locator("script[data-plot]").count()
        drawn = page.locator(".js-plotly-plot").count()
        # the error tabs switch panels
        page.locator("#errors [data-tab]").nth(1).click()
        second_visible = page.locator("#err-2").is_visible()
        first_hidden = not page.locator("#err-1").is_visible()
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        browser.close()
    assert problems == []
    assert remote == []
    assert [s.strip("★ ").strip() for s in systems] == report.tables.systems.sort_values("wer")[
        "system"
    ].tolist()
    assert plots >= 5 and drawn == plots
    assert second_visible and first_hidden
    assert (tmp_path / "report.png").stat().st_size > 50_000


# ------------------------------------------------------------------------------------------- bad input


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_compare_with_missing_and_duplicate_ids(tmp_path: Path) -> None:
    runner = CliRunner()
    ref = tmp_path / "ref.trn"
    ref.write_text("a b c (s1-u1)\nd e f (s1-u2)\ng h (s2-u3)\n", encoding="utf-8")
    a = tmp_path / "a.trn"
    a.write_text("a b c (s1-u1)\nd e (s1-u2)\ng h (s2-u3)\n", encoding="utf-8")
    b = tmp_path / "b.trn"
    b.write_text("a x c (s1-u1)\ng h (s2-u3)\nextra (s9-u9)\n", encoding="utf-8")  # u2 missing, u9 unknown
    result = runner.invoke(app, ["compare", str(ref), str(a), str(b), "--resamples", "100", "--no-cache"])
    assert result.exit_code == 0, result.output
    assert "utterances: 3 paired" in result.stdout and "left out" not in result.stdout  # u2: all deletions
    assert "have no hypothesis (s1-u2)" in result.output
    ignored = runner.invoke(app, ["compare", str(ref), str(a), str(b), "--missing", "ignore", "--no-cache"])
    assert ignored.exit_code == 0, ignored.output
    assert (
        "1 not decoded by either system (left out: --missing ignore)" in ignored.stdout
        and "no reference utterance (s9-u9)" in result.output
    )
    dup = tmp_path / "dup.trn"
    dup.write_text("a b c (s1-u1)\na b c (s1-u1)\n", encoding="utf-8")
    failed = runner.invoke(app, ["compare", str(ref), str(a), str(dup), "--no-cache"])
    assert failed.exit_code == 1 and "dup.trn:2: utt_id: duplicate utterance id 's1-u1'" in failed.output
    assert "Traceback" not in failed.output


def test_report_with_runs_of_different_normalisers(tmp_path: Path, make_results) -> None:
    manifest = [
        Utterance("/a/1.wav", 1.0, "Hello World", utt_id="u1"),
        Utterance("/a/2.wav", 1.0, "Good day", utt_id="u2"),
    ]
    systems = {"x@greedy": {"u1": {"pred_text": "hello world"}, "u2": {"pred_text": "good day"}},
               "y@greedy": {"u1": {"pred_text": "hello word"}, "u2": {"pred_text": "good"}}}  # fmt: skip
    runs = {"x@greedy": RunInfo("x@greedy", "t", normalizer="nemo@1"), "y@greedy": RunInfo("y@greedy", "t")}
    results = make_results(tmp_path / "R", "t", manifest, systems, runs=runs)
    runner = CliRunner()
    out = tmp_path / "csv"
    refused = runner.invoke(app, ["report", str(results), "--csv", str(out), "--no-cache"])
    assert (
        refused.exit_code == 1
        and "different normalisers" in refused.output
        and "--normalize" in refused.output
    )
    chosen = runner.invoke(
        app,
        [
            "report",
            str(results),
            "--csv",
            str(out),
            "--normalize",
            "nemo",
            "--no-cache",
            "--resamples",
            "100",
        ],
    )
    assert chosen.exit_code == 0, chosen.output
    assert "recorded another normaliser" in chosen.output
    systems_csv = pd.read_csv(out / "systems.csv").set_index("system")
    assert systems_csv.loc["x@greedy", "wer"] == 0.0  # "Hello World" normalised like "hello world"
    assert systems_csv.loc["y@greedy", "wer"] == pytest.approx(2 / 4)


def test_report_of_a_system_that_failed_everywhere(tmp_path: Path, make_results) -> None:
    """Issue 17: the runner-up failed on every utterance (no word-class rows shared with the best), and the
    word-class comparison raised IndexError; the report is written, the failures counted as deletions."""
    manifest = [Utterance(f"/a/u{k}.wav", 1.0, "alpha beta gamma", utt_id=f"u{k}") for k in range(4)]
    good = {u.utt_id: {"pred_text": u.text} for u in manifest}
    failed = {u.utt_id: {"error": "audio file not found"} for u in manifest}
    root = make_results(tmp_path / "results", "ts", manifest, {"good": good, "failed": failed})
    out = tmp_path / "r.html"
    args = ["report", str(root), "--html", str(out), "--resamples", "100", "--no-cache"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert out.is_file()


def test_report_never_writes_over_its_inputs_and_checks_its_options(results: Path, tmp_path: Path) -> None:
    """Issue 17: --html naming a predictions file replaced it; a NaN --silence-db and a --vocab TESTSET that
    names no test set were accepted silently."""
    predictions = next(results.glob("*/*/predictions.jsonl"))
    before = predictions.read_bytes()
    base = ["report", str(results), "--resamples", "100", "--no-cache"]
    vocab = tmp_path / "v.txt"
    vocab.write_text("alpha\n", encoding="utf-8")
    for extra, message in [
        (["--html", str(predictions)], "--html: "),
        (["--csv", str(tmp_path / "c"), "--silence-db", "nan"], "--silence-db: expected a finite level"),
        (["--csv", str(tmp_path / "c"), "--vocab", f"nope={vocab}"], "--vocab: no test set 'nope'"),
    ]:
        result = CliRunner().invoke(app, [*base, *extra])
        assert result.exit_code == 1 and message in result.output, result.output
    assert predictions.read_bytes() == before
    trn, csv = tmp_path / "trn", tmp_path / "c"
    outputs = ["--trn", str(trn), "--csv", str(csv), "--vocab", f"nope={vocab}"]
    result = CliRunner().invoke(app, [*base, *outputs])
    assert result.exit_code == 1 and not trn.exists() and not csv.exists()  # refused before any output
