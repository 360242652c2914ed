"""Every page and callback through the HTTP path the browser uses (Flask test client, no browser)."""

from __future__ import annotations

import io
import json
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from werbench.analysis.report_csv import write_csv_report
from werbench.analysis.report_data import build_report
from werbench.dashboard.callback_client import post_callback, render_page
from werbench.dashboard.data import decoded
from werbench.dashboard.exports import ExportFiles
from werbench.dashboard.reporting import tables_of
from werbench.manifests.trn import parse_trn_line

PAGES = [
    "/",
    "/dataset",
    "/utterances",
    "/compare",
    "/errors",
    "/utterance?ts=synth-clean&id=synth-clean-000007",
]


def render(app, client, path: str) -> str:
    _, body = render_page(client, app, path)
    return json.dumps(body["response"]["page"]["children"])


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders(app, client, path: str) -> None:
    page = render(app, client, path)
    assert "could not be built" not in page
    assert "page-title" in page


def test_pages_show_the_analysis_numbers(app, client, workspace) -> None:
    analysis = workspace.analysis("none")
    board = analysis.leaderboard()
    best = board.loc[board["wer"].idxmin()]
    board_page = render(app, client, "/")
    assert f"{100 * best['wer']:.2f}%" in board_page
    # each system against its test set's best: analysis' Holm-adjusted p, the raw one beside it
    from werbench.analysis.compare import versus_best

    expected = versus_best(analysis.utterances, analysis.system_table).set_index(["testset", "system"])
    shown = board.set_index(["testset", "system"])
    assert shown["p_vs_best_holm"].equals(expected["p_holm"].reindex(shown.index).rename("p_vs_best_holm"))
    assert shown["p_vs_best"].equals(expected["p_value"].reindex(shown.index).rename("p_vs_best"))
    assert "p vs best (Holm)" in board_page and "Holm-Bonferroni adjusted" in board_page
    assert '"field": "failed", "headerName": "Failed"' in board_page
    assert '"field": "missing", "headerName": "Missing"' in board_page
    for text in shown["p_vs_best_holm_text"].dropna():
        assert json.dumps(text)[1:-1] in board_page  # as the page's JSON writes it
    utterance = render(app, client, "/utterance?ts=synth-clean&id=synth-clean-000007")
    row = analysis.rows("synth-clean", "base@greedy").loc["synth-clean-000007"]
    assert f"C {row['C']} \\u00b7 S {row['S']} \\u00b7 D {row['D']} \\u00b7 I {row['I']}" in utterance
    assert "/audio/synth-clean/synth-clean-000007" in utterance


def test_unknown_page_and_unknown_utterance_say_so(app, client) -> None:
    assert "No such page" in render(app, client, "/nope")
    assert "No utterance" in render(app, client, "/utterance?ts=synth-clean&id=missing")


GRID_CONTEXT = {
    "ts": "synth-clean",
    "norm": "none",
    "systems": ["base@greedy", "tuned@beam-lm"],
    "qf": "all",
    "a": "base@greedy",
    "b": "tuned@beam-lm",
}


def rows(app, client, request: dict, **context) -> dict:
    ctx = {**GRID_CONTEXT, **context}
    _, body = post_callback(
        client,
        app,
        "utts-grid.getRowsResponse",
        [{"id": "utts-grid", "property": "getRowsRequest", "value": request}],
        [{"id": "utts-ctx", "property": "data", "value": ctx}],
    )
    return body["response"]


def test_grid_callback_pages_filters_and_mirrors_its_state(app, client, workspace) -> None:
    table = workspace.analysis("none").rows("synth-clean", "tuned@beam-lm")
    request = {
        "startRow": 0,
        "endRow": 10,
        "sortModel": [{"colId": "s1_wer", "sort": "desc"}],
        "filterModel": {"s1_wer": {"filterType": "number", "type": "greaterThan", "filter": 0}},
    }
    out = rows(app, client, request)
    response = out["utts-grid"]["getRowsResponse"]
    assert response["rowCount"] == int((table["wer"] > 0).sum())
    wers = [r["s1_wer"] for r in response["rowData"]]
    assert wers == sorted(wers, reverse=True) and len(wers) == min(10, response["rowCount"])
    assert out["utts-count"]["children"].startswith(f"{response['rowCount']:,} of 40")
    mirrored = out['{"key":"grid","type":"url-json"}']["data"]
    assert mirrored == {"filterModel": request["filterModel"], "sortModel": request["sortModel"]}


def test_quick_filters_use_the_analysis_numbers(app, client, workspace) -> None:
    analysis = workspace.analysis("none")
    a, b = analysis.rows("synth-clean", "base@greedy"), analysis.rows("synth-clean", "tuned@beam-lm")
    everything = {"startRow": 0, "endRow": 100}
    better = rows(app, client, everything, qf="b_better")["utts-grid"]["getRowsResponse"]
    assert {r["utt_id"] for r in better["rowData"]} == set(a.index[b["wer"] < a["wer"]])
    errors = rows(app, client, everything, qf="errors")["utts-grid"]["getRowsResponse"]
    assert errors["rowCount"] == int((a["sentence_error"] | b["sentence_error"]).sum())
    changed = rows(app, client, everything, qf="changed", systems=["base@greedy", "base@beam-lm"])
    greedy, beam = a, analysis.rows("synth-clean", "base@beam-lm")
    assert changed["utts-grid"]["getRowsResponse"]["rowCount"] == int((greedy["hyp"] != beam["hyp"]).sum())


def test_grid_export_holds_exactly_the_filtered_rows(app, client) -> None:
    request = {
        "startRow": 0,
        "endRow": 100,
        "sortModel": [{"colId": "utt_id", "sort": "desc"}],
        "filterModel": {"ref": {"filterType": "text", "type": "contains", "filter": "ba"}},
    }
    shown = rows(app, client, request)["utts-grid"]["getRowsResponse"]
    _, body = post_callback(
        client,
        app,
        "utts-download.data",
        [{"id": "utts-export", "property": "n_clicks", "value": 1}],
        [
            {"id": "utts-grid", "property": "getRowsRequest", "value": request},
            {"id": "utts-ctx", "property": "data", "value": GRID_CONTEXT},
        ],
    )
    download = body["response"]["utts-download"]["data"]
    frame = pd.read_csv(io.StringIO(download["content"]))
    assert frame["utt_id"].tolist() == [r["utt_id"] for r in shown["rowData"]]
    assert frame["reference"].str.contains("ba").all()
    assert {"base@greedy wer", "tuned@beam-lm hyp"} <= set(frame.columns)


def test_export_routes(client, workspace) -> None:
    analysis = workspace.analysis("none")
    systems = pd.read_csv(io.BytesIO(client.get("/export/systems.csv").data))
    assert systems[["testset", "system", "wer"]].equals(analysis.leaderboard()[["testset", "system", "wer"]])
    noisy = client.get("/export/utterances.csv?ts=synth-noisy")
    disposition = noisy.headers["Content-Disposition"]
    assert (
        disposition.startswith("attachment")
        and f"utterances-{workspace.default_normalizer}.csv" in disposition
    )
    utts = pd.read_csv(io.BytesIO(noisy.data))
    assert set(utts["testset"]) == {"synth-noisy"} and len(utts) == 4 * 40
    assert client.get("/export/utterances.csv?ts=synth-noisy").data == noisy.data  # the file written once
    every = pd.read_csv(io.BytesIO(client.get("/export/utterances.csv").data))
    assert len(every) == len(analysis.utterances) and set(every["testset"]) == {"synth-clean", "synth-noisy"}
    archive = zipfile.ZipFile(io.BytesIO(client.get("/export/trn.zip?ts=synth-clean").data))
    names = set(archive.namelist())
    systems = analysis.systems("synth-clean")
    assert {"README.txt", "synth-clean/ref.trn", *(f"synth-clean/{s}.trn" for s in systems)} <= names
    ids = (
        pd.read_csv(io.BytesIO(archive.read("synth-clean/ids.csv"))).set_index("trn_id")["utt_id"]
        if "synth-clean/ids.csv" in names
        else None
    )
    lines = archive.read("synth-clean/ref.trn").decode().splitlines()
    assert len(lines) == 40
    trn_id, text = parse_trn_line("ref.trn", 1, lines[0])
    utt_id = ids[trn_id] if ids is not None else trn_id
    assert text == analysis.rows("synth-clean", "base@greedy").loc[utt_id, "ref"]
    report = client.get("/export/report.html")
    assert report.status_code == 200 and report.mimetype == "text/html"
    assert b"<script" in report.data and b"<script src=" not in report.data  # self-contained
    assert client.get("/export/systems.csv?norm=bogus").status_code == 400


def test_a_big_export_is_written_once_however_many_ask_for_it(tmp_path: Path) -> None:
    files, calls = ExportFiles(), []

    def chunks():
        calls.append(1)
        time.sleep(0.2)  # the others ask while it is being written
        yield from (b"a,b\n", b"1,2\n")

    with ThreadPoolExecutor(4) as pool:
        paths = list(pool.map(lambda _: files.path("one", chunks), range(4)))
    assert len(set(paths)) == 1 and paths[0].read_bytes() == b"a,b\n1,2\n" and len(calls) == 1
    assert files.path("two", lambda: iter([b"x\n"])).read_bytes() == b"x\n" and len(calls) == 1
    folder = paths[0].parent
    files = None  # the last reference
    assert not folder.exists()  # the folder lives as long as the server's ExportFiles


def test_leaderboard_csv_has_the_reports_system_figures(client, workspace, tmp_path: Path) -> None:
    """The dashboard's leaderboard CSV and the report's systems.csv give each system the same answers
    beside its WER (word classes, confidence, hallucinations, attribution); the measure is chosen by cm."""
    analysis = workspace.analysis(workspace.default_normalizer)
    exported = pd.read_csv(io.BytesIO(client.get("/export/systems.csv").data))
    write_csv_report(tmp_path, build_report(tables_of(analysis)))
    written = pd.read_csv(tmp_path / "systems.csv")
    added = {"hallucinated_utts", "errors_kept", "errors_introduced", "errors_fixed", "conf_auc_roc"}
    assert added <= set(written.columns) <= set(exported.columns)
    keys = ["testset", "system"]
    pd.testing.assert_frame_equal(
        exported[written.columns].sort_values(keys, ignore_index=True),
        written.sort_values(keys, ignore_index=True),
        check_dtype=False,
    )
    by_measure = pd.read_csv(io.BytesIO(client.get("/export/systems.csv?cm=max_prob_min").data))
    assert not by_measure["conf_auc_roc"].equals(exported["conf_auc_roc"])
    assert client.get("/export/systems.csv?cm=bogus").status_code == 400


def test_utterance_lineage_and_nbest_agree_with_analysis_on_the_whole_test_set(workspace) -> None:
    from werbench.analysis.lineage import decoder_lineage
    from werbench.analysis.nbest import nbest_oracle
    from werbench.manifests.normalize import get_normalizer

    analysis = workspace.analysis("none")
    systems = tuple(analysis.systems("synth-clean"))
    utts = decoded(pd.concat([analysis.rows("synth-clean", s) for s in systems], ignore_index=True))
    normalize = get_normalizer("none")
    steps = {s.model: s for s in decoder_lineage(utts, normalize=normalize, systems=analysis.system_table)}
    oracle, _ = nbest_oracle(utts, normalize=normalize)
    checked = nbest_checked = 0
    for utt_id in analysis.reference_rows("synth-clean").index[:12]:
        detail = analysis.utterance_detail("synth-clean", utt_id, systems)
        for model, step in steps.items():
            expected = step.utterances.set_index("utt_id").loc[utt_id]
            later = detail.lineage[model][-1]
            assert (later.fixed, later.introduced, later.errors) == (
                expected["fixed"],
                expected["introduced"],
                expected["err_later"],
            )
            checked += 1
        assert sorted(detail.nbest) == ["base@beam-lm", "tuned@beam-lm"]  # every beam line has a list
        assert all(len(h.word_times or []) == len(h.hyp.split()) for h in detail.hypotheses)  # a time a word
        for system, views in detail.nbest.items():
            rank = oracle.set_index(["system", "utt_id"]).loc[(system, utt_id), "oracle_rank"]
            assert [v.rank for v in views if v.is_oracle] == [rank]
            assert min(v.errors for v in views) == views[rank - 1].errors
            nbest_checked += 1
    assert checked == 24 and nbest_checked == 24


def test_normaliser_switch_rescores_through_analysis(app, client, workspace) -> None:
    nemo = workspace.analysis("nemo")
    assert set(nemo.leaderboard()["normalizer"]) == {"nemo@1"}
    assert nemo is workspace.analysis("nemo")  # computed once, shared by every user
    page = render(app, client, "/?norm=nemo")
    assert "nemo" in page and "could not be built" not in page


def test_the_dashboard_opens_on_the_recorded_text_mode_and_names_it(
    app, client, workspace, results_dir
) -> None:
    # the synthetic runs recorded none@1 (before the text modes, scored with sclite's case folding): serve
    # opens on what that meant, sclite@1, and the header and leaderboard name the mode in use
    assert workspace.default_normalizer == "sclite"
    page = render(app, client, "/")
    assert "Text mode" in page and "sclite@1" in page and "ASCII letters lower-cased" in page
    exact = render(app, client, "/?norm=none")
    assert "none@2" in exact and "the text exactly as written" in exact
    from werbench.dashboard.workspace import Workspace

    assert Workspace(results_dir, default_normalizer="none").default_normalizer == "none"


def test_filter_expression_selects_on_the_server_and_a_malformed_one_says_why(app, client, workspace) -> None:
    analysis = workspace.analysis("none")
    a, b = analysis.rows("synth-clean", "base@greedy"), analysis.rows("synth-clean", "tuned@beam-lm")
    expression = "wer > 10 && wer[tuned@beam-lm] <= 10 && text contains ba"
    out = rows(app, client, {"startRow": 0, "endRow": 100}, q=expression)["utts-grid"]["getRowsResponse"]
    expected = a.index[(a["wer"] > 0.1) & (b["wer"] <= 0.1) & a["ref"].str.contains("ba")]
    assert {r["utt_id"] for r in out["rowData"]} == set(expected) and out["rowCount"] == len(expected)
    combined = rows(app, client, {"startRow": 0, "endRow": 100}, q="d-i > 0", qf="b_better")
    picked = a.index[(a["D"] - a["I"] > 0) & (b["wer"] < a["wer"])]
    assert combined["utts-grid"]["getRowsResponse"]["rowCount"] == len(picked)
    page = render(app, client, "/utterances?q=wer%20%3E%3E%203")
    assert "Filter not applied: at character 6: expected a value after &gt;" in page.replace(">", "&gt;")
    assert "could not be built" not in page
    malformed = rows(app, client, {"startRow": 0, "endRow": 100}, q="wer >> 3")
    assert malformed["utts-grid"]["getRowsResponse"]["rowCount"] == 40  # not applied, not a server error


def test_grid_has_sde_columns_from_analysis(workspace) -> None:
    analysis = workspace.analysis("none")
    frame = analysis.utterance_grid("synth-clean", ("base@greedy",)).table.frame.set_index("utt_id")
    rows = analysis.rows("synth-clean", "base@greedy")
    assert (frame["ref_chars"] == rows["ref_chars"]).all()
    assert np.allclose(frame["words_per_s"], rows["ref_words"] / rows["duration"])
    assert np.allclose(frame["chars_per_s"], rows["ref_chars"] / rows["duration"])
    assert (frame["s0_wmr"] == rows["wmr"]).all() and (frame["s0_d_minus_i"] == rows["D"] - rows["I"]).all()


@pytest.mark.parametrize("field", ["wer[tuned@beam-lm]", "I[base@greedy]", "chars_per_s", "duration"])
def test_dataset_page_draws_a_histogram_of_any_numeric_field(app, client, field: str) -> None:
    from urllib.parse import quote

    page = render(app, client, f"/dataset?hist={quote(field)}")
    assert "Histogram of any field" in page and "could not be built" not in page
    assert f'"value": "{field}"' in page


@pytest.mark.parametrize(
    "query",
    [
        "",
        "&sx=duration&sy=wer%5Bbase%40greedy%5D&sc=noise&ss=words_per_s",
        "&sc=cer%5Bbase%40greedy%5D&ss=I%5Bbase%40greedy%5D",
    ],
)
def test_compare_scatter_takes_any_axes_colour_and_size(app, client, query: str) -> None:
    page = render(app, client, "/compare?ts=synth-clean&a=base@greedy&b=tuned@beam-lm" + query)
    assert "Scatter of any fields" in page and "could not be built" not in page
    if "sx=duration" in query:
        assert '"title": {"text": "duration"}' in page or '"xaxis": {"title": {"text": "duration"}' in page
    if "sc=noise" in query:
        assert '"name": "clean"' in page and '"name": "snr10"' in page  # one trace per category


def test_systems_are_grouped_by_model_and_compare_opens_on_the_models_first_passes(app, client, workspace):
    """Dropdowns list each model's decoders greedy first; Compare's default pair is the first pass of the
    first two models (the reference checkpoint against the tuned model), not two decoders of one model."""
    from werbench.dashboard.pages.compare import default_pair

    systems = workspace.analysis("none").systems("synth-clean")
    assert systems == ["base@greedy", "base@beam-lm", "tuned@greedy", "tuned@beam-lm"]
    assert default_pair(systems) == ("base@greedy", "tuned@greedy")
    assert default_pair(["a@beam", "a@greedy"]) == ("a@beam", "a@greedy")  # no twin: the next system
    assert default_pair([]) == (None, None)
    page = render(app, client, "/compare?ts=synth-clean")
    assert "WER of A: base@greedy" in page and "WER of B: tuned@greedy" in page
