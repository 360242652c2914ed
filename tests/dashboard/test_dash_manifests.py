"""``werbench serve FILE.jsonl...``: NeMo manifests opened as Speech Data Explorer opens them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner
from werbench.dashboard.workspace import Source
from werbench.manifests.errors import ManifestError

from tests.dashboard.test_dash_views import post_callback, render

TESTSET = "synth-clean"
UTT = "synth-clean-000007"


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def manifests(results_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """From the synthetic results: a dataset manifest (relative audio, no speaker), an SDE comparison
    manifest (pred_text_greedy / pred_text_beam) and a one-system manifest (pred_text)."""
    folder = tmp_path_factory.mktemp("manifests")
    reference = _rows(results_dir / TESTSET / "manifest.jsonl")
    greedy = {
        r["utt_id"]: r["pred_text"]
        for r in _rows(results_dir / TESTSET / "base@greedy" / "predictions.jsonl")
    }
    beam = {
        r["utt_id"]: r["pred_text"]
        for r in _rows(results_dir / TESTSET / "base@beam-lm" / "predictions.jsonl")
    }
    audio_root = results_dir / "audio"
    dataset = [
        {k: v for k, v in r.items() if k != "speaker"}
        | {"audio_filepath": str(Path(r["audio_filepath"]).relative_to(audio_root))}
        for r in reference
    ]
    return {
        "dataset": _write(folder / "train.jsonl", dataset),
        "sde": _write(
            folder / "sde.jsonl",
            [
                r | {"pred_text_greedy": greedy[r["utt_id"]], "pred_text_beam": beam[r["utt_id"]]}
                for r in reference
            ],
        ),
        "one": _write(
            folder / "conformer.jsonl", [r | {"pred_text": greedy[r["utt_id"]]} for r in reference]
        ),
        "audio_root": audio_root,
    }


def _app(source: Source, tmp_path: Path):
    from werbench.dashboard.app import create_app

    return create_app(source, cache_dir=tmp_path / "cache")


def test_sde_manifest_serves_one_system_per_pred_text_field(manifests, results_dir, tmp_path) -> None:
    app = _app(Source.of([manifests["sde"]]), tmp_path)
    analysis = app.server.config["WERBENCH_WORKSPACE"].analysis("none")
    assert analysis.testsets == ["sde"] and analysis.systems("sde") == ["beam", "greedy"]
    scored = analysis.rows("sde", "greedy").loc[UTT]
    from werbench.dashboard.app import create_app

    same = create_app(results_dir, cache_dir=tmp_path / "cache2").server.config["WERBENCH_WORKSPACE"]
    expected = same.analysis("none").rows(TESTSET, "base@greedy").loc[UTT]
    assert (scored["C"], scored["S"], scored["D"], scored["I"]) == tuple(expected[c] for c in "CSDI")
    client = app.server.test_client()
    compare = render(app, client, "/compare?ts=sde&a=greedy&b=beam")
    assert "could not be built" not in compare and "greedy" in compare
    assert client.get(f"/audio/sde/{UTT}").status_code == 200


def test_one_system_manifest_is_named_after_its_file_and_compare_says_what_it_needs(
    manifests, tmp_path
) -> None:
    app = _app(Source.of([manifests["one"]]), tmp_path)
    analysis = app.server.config["WERBENCH_WORKSPACE"].analysis("none")
    assert analysis.systems("conformer") == ["conformer"]
    client = app.server.test_client()
    for path in ("/", "/dataset", "/utterances", "/errors", f"/utterance?ts=conformer&id={UTT}"):
        page = render(app, client, path)
        assert "could not be built" not in page, path
    compare = render(app, client, "/compare")
    assert "could not be built" not in compare
    assert "needs two systems" in compare


def test_manifest_without_predictions_is_a_dataset_explorer(manifests, tmp_path) -> None:
    vocab = tmp_path / "words.txt"
    vocab.write_text("ba\nbe\nlo\n")
    source = Source.of([manifests["dataset"]], audio_base=manifests["audio_root"], vocab=vocab)
    app = _app(source, tmp_path)
    workspace = app.server.config["WERBENCH_WORKSPACE"]
    analysis = workspace.analysis("none")
    assert analysis.testsets == ["train"] and analysis.systems("train") == []
    stats = analysis.dataset_stats("train")
    assert stats.utterances == 40 and stats.speakers == 0
    assert 0 < stats.oov_rate < 1 and stats.oov_source == "words.txt"
    fields = analysis.utterance_grid("train", ()).filter_fields
    assert "speaker" not in fields and "duration" in fields  # the filter help names no field the rows lack
    client = app.server.test_client()
    home = render(app, client, "/")
    assert "Vocabulary" in home and "could not be built" not in home  # the dataset page, at the root
    for path in ("/dataset", "/utterances", "/errors", "/compare", f"/utterance?ts=train&id={UTT}"):
        page = render(app, client, path)
        assert "could not be built" not in page, path
    assert "no predictions" in render(app, client, "/errors").lower()
    # relative audio resolved against --audio-base-path: the audio route serves it
    assert client.get(f"/audio/train/{UTT}").status_code == 200
    grid = analysis.vocabulary_grid("train", ())
    words = grid.table.frame.set_index("word")
    assert words.at["ba", "oov"] == "" and (words["oov"] == "OOV").any()


def test_dataset_only_root_is_the_dataset_page_in_the_menu(manifests, tmp_path) -> None:
    app = _app(Source.of([manifests["dataset"]]), tmp_path)
    _, body = post_callback(
        app.server.test_client(), app, "page.children",
        [{"id": "url", "property": "pathname", "value": "/"},
         {"id": "url", "property": "search", "value": ""}],
        [{"id": "rendered", "property": "data", "value": {}}],
    )  # fmt: skip
    response = body["response"]
    assert response["nav-dataset"]["active"] is True and response["nav-leaderboard"]["active"] is False
    assert "Histogram of any field" in json.dumps(response["page"]["children"])


def test_previous_and_next_follow_the_filter_expression(manifests, tmp_path) -> None:
    """The utterance view's prev/next walk the list the user filtered, expression included."""
    app = _app(Source.of([manifests["sde"]]), tmp_path)
    analysis = app.server.config["WERBENCH_WORKSPACE"].analysis("none")
    frame = analysis.utterance_grid("sde", ("beam", "greedy")).table.frame
    kept = frame.loc[frame["ref_words"] >= frame["ref_words"].median(), "utt_id"].tolist()
    assert 2 < len(kept) < len(frame)
    context = {"ts": "sde", "systems": ["beam", "greedy"], "qf": "all", "q": "words >= "
               + str(frame["ref_words"].median())}  # fmt: skip
    nav = analysis.neighbours(context, {}, kept[1])
    assert (nav.previous, nav.next, nav.position, nav.total) == (kept[0], kept[2], 2, len(kept))
    malformed = analysis.neighbours({**context, "q": "words >>"}, {}, kept[1])
    assert malformed.total == len(frame)  # a malformed expression filters nothing, as the grid shows


def test_audio_metrics_are_measured_on_demand_and_serve_as_columns_filters_histograms(
    manifests, tmp_path, monkeypatch
) -> None:
    """Nothing is decoded at start-up; "Measure all" fills SDE's columns in the background; they filter,
    histogram and break down; a broken file's row says why and the others are measured."""
    rows = _rows(manifests["one"])
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot audio")
    rows[5]["audio_filepath"] = str(broken)
    bad_utt = rows[5]["utt_id"]
    path = _write(tmp_path / "conformer.jsonl", rows)
    app = _app(Source.of([path]), tmp_path)
    workspace = app.server.config["WERBENCH_WORKSPACE"]
    client = app.server.test_client()
    page = render(app, client, "/utterances?ts=conformer")
    assert "Measure all 40" in page and "0 of 40 utterances measured" in page
    assert '"field": "snr_db"' not in page  # no empty audio columns before anything is measured
    assert workspace.audio_metrics.measured("conformer") == 0  # the page did not decode anything
    context = {"ts": "conformer", "norm": "none", "systems": ["conformer"], "qf": "all", "q": ""}
    post_callback(
        client, app, "am-tick.disabled",
        [{"id": "am-view", "property": "n_clicks", "value": None},
         {"id": "am-all", "property": "n_clicks", "value": 1}],
        [{"id": "utts-grid", "property": "getRowsRequest", "value": None},
         {"id": "utts-ctx", "property": "data", "value": context}],
    )  # fmt: skip
    workspace.audio_metrics._job.join(timeout=120)
    _, tick = post_callback(
        client, app, "am-status.children",
        [{"id": "am-tick", "property": "n_intervals", "value": 1}],
        [{"id": "utts-ctx", "property": "data", "value": context},
         {"id": "utts-grid", "property": "columnDefs", "value": []},
         {"id": "utts-grid", "property": "getRowsRequest", "value": None}],
    )  # fmt: skip
    assert tick["response"]["am-status"]["children"] == "40 of 40 utterances measured"
    assert tick["response"]["utts-ctx"]["data"]["av"] > 0  # the grid reloads with the values
    shown = [c.get("field") for c in tick["response"]["utts-grid"]["columnDefs"]]
    assert {"freq_bandwidth", "level_db", "snr_db", "audio_error"} <= set(shown)  # columns appear

    analysis = workspace.analysis("none")
    frame = analysis.utterance_grid("conformer", ("conformer",)).table.frame.set_index("utt_id")
    assert "unreadable audio" in frame.at[bad_utt, "audio_error"]
    assert np.isnan(frame.at[bad_utt, "freq_bandwidth"])
    good = frame.drop(index=bad_utt)
    assert good["audio_error"].isna().all() and (good["freq_bandwidth"] > 0).all()
    assert good["level_db"].between(-40, 0).all() and good["snr_db"].notna().all()
    mask = analysis.view_filter({**context, "q": f"snr_db > {good['snr_db'].median()} && level_db < 0"})
    assert (
        mask is not None
        and mask[1](frame.reset_index()).sum() == (good["snr_db"] > good["snr_db"].median()).sum()
    )
    errors_only = analysis.view_filter({**context, "q": "audio_error contains unreadable"})
    assert errors_only[1](frame.reset_index()).sum() == 1
    histogram = render(app, client, "/dataset?ts=conformer&hist=freq_bandwidth")
    assert "could not be built" not in histogram and "freq_bandwidth" in histogram
    assert "snr_db" in analysis.breakdown_fields("conformer")
    by_snr = analysis.breakdown("conformer", ("conformer",), "snr_db")
    assert by_snr["utts"].sum() == 40 and "(missing)" in set(by_snr["value"].astype(str))
    assert "could not be built" not in render(app, client, "/errors?ts=conformer&by=snr_db")
    detail = render(app, client, f"/utterance?ts=conformer&id={bad_utt}")
    assert "Audio problem" in detail and "unreadable audio" in detail
    # the next serve reads them back when the page opens, from the disk cache, decoding nothing
    from werbench.analysis import audio_metrics

    monkeypatch.setattr(audio_metrics, "measure_clip", lambda clip: pytest.fail(f"decoded {clip}"))
    second = _app(Source.of([path]), tmp_path)
    again = second.server.config["WERBENCH_WORKSPACE"]
    render(second, second.server.test_client(), "/utterances?ts=conformer")
    again.audio_metrics._job.join(timeout=120)
    assert again.audio_metrics.measured("conformer") == 40  # the broken file's reason too
    refilled = again.analysis("none").utterance_grid("conformer", ("conformer",)).table.frame
    assert np.allclose(refilled["snr_db"].to_numpy(), frame["snr_db"].to_numpy(), equal_nan=True)


def test_utterance_without_audio_says_why(manifests, tmp_path) -> None:
    """Without --audio-base-path the relative paths resolve beside the manifest, where no audio is."""
    app = _app(Source.of([manifests["dataset"]]), tmp_path)
    client = app.server.test_client()
    page = render(app, client, f"/utterance?ts=train&id={UTT}")
    assert "could not be built" not in page
    assert "audio file not found" in page.lower()
    assert client.get(f"/audio/train/{UTT}").status_code == 404


def test_one_system_without_speakers_or_audio_renders_every_page(manifests, tmp_path) -> None:
    """The hardest small case: one system, no speaker field, audio paths that lead nowhere."""
    rows = [r | {"pred_text": r["text"].replace("ba", "be")} for r in _rows(manifests["dataset"])]
    app = _app(Source.of([_write(tmp_path / "solo.jsonl", rows)]), tmp_path)
    client = app.server.test_client()
    for path in ("/", "/dataset", "/utterances", "/errors", "/errors?by=speaker", "/compare"):
        page = render(app, client, path)
        assert "could not be built" not in page, path
    utterance = render(app, client, f"/utterance?ts=solo&id={UTT}")
    assert "audio file not found" in utterance.lower() and "Audio problem" in utterance
    assert "solo \\u00b7 " in utterance and "speaker \\u2013" not in utterance  # no empty speaker
    # serve -a (SDE's --estimate-audio-metrics): every row measured in the background, each says why not
    workspace = app.server.config["WERBENCH_WORKSPACE"]
    assert workspace.estimate_audio_metrics()
    workspace.audio_metrics._job.join(timeout=60)
    frame = workspace.analysis("none").utterance_grid("solo", ("solo",)).table.frame
    assert (frame["audio_error"] == "audio file not found").all() and frame["snr_db"].isna().all()


def test_mixed_pred_text_and_pred_text_fields_are_refused(manifests, tmp_path) -> None:
    rows = _rows(manifests["one"])
    rows[3]["pred_text_beam"] = "x"
    path = _write(tmp_path / "mixed.jsonl", rows)
    with pytest.raises(ManifestError) as err:
        Source.of([path]) and _app(Source.of([path]), tmp_path)
    assert err.value.line == 4 and err.value.field == "pred_text" and "mixed.jsonl" in str(err.value)


def test_system_name_colliding_between_files_is_refused(manifests, tmp_path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    twin = _write(other / "conformer.jsonl", _rows(manifests["one"]))
    with pytest.raises(ManifestError, match="system name 'conformer' is also the name of a system in"):
        _app(Source.of([manifests["one"], twin]), tmp_path)


def test_vocab_that_is_not_text_is_refused(manifests, tmp_path) -> None:
    binary = tmp_path / "vocab.bin"
    binary.write_bytes(b"ba\nbe\n\x00\x01\x02")
    with pytest.raises(ManifestError, match="binary file, not a word list") as err:
        _app(Source.of([manifests["dataset"]], vocab=binary), tmp_path)
    assert err.value.line == 3


def test_serve_command_reports_bad_manifests_without_a_traceback(manifests, tmp_path) -> None:
    from werbench.cli import app as cli

    rows = _rows(manifests["sde"])
    rows[1]["pred_text"] = "x"
    path = _write(tmp_path / "bad.jsonl", rows)
    result = CliRunner().invoke(cli, ["serve", str(path)])
    assert result.exit_code == 1
    assert "bad.jsonl:2: pred_text:" in result.output and "Traceback" not in result.output


def test_opening_utterances_one_by_one_keeps_the_memos_bounded(manifests, tmp_path) -> None:
    """Each utterance opened measures its audio (a new version of the audio metrics): the grid, the
    audio breakdown and the hallucination summary of older versions are dropped, not kept beside the new
    ones (the load test's RSS grew with every utterance page a client opened)."""
    rows = _rows(manifests["one"])
    app = _app(Source.of([_write(tmp_path / "conformer.jsonl", rows)]), tmp_path)
    analysis = app.server.config["WERBENCH_WORKSPACE"].analysis("none")
    sizes = []
    for row in rows[:6]:
        analysis.utterance_audio_metrics("conformer", row["utt_id"])
        grid = analysis.utterance_grid("conformer", ("conformer",))
        analysis.breakdown("conformer", ("conformer",), "snr_db")
        summary = analysis.hallucinations()
        sizes.append(tuple(len(m._values) for m in (analysis._memo, analysis._views, analysis._audio)))
    assert analysis.audio_metrics.version("conformer") >= 6  # six versions were built
    assert sizes[1:] == [sizes[1]] * 5, sizes  # and each replaced the one before
    assert grid.table.frame["snr_db"].notna().sum() == 6 and len(summary) == 1


def test_an_empty_manifest_is_refused_before_serving(tmp_path: Path) -> None:
    """Issue 17: serving an empty manifest started a dashboard over nothing, with a warning only."""
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n \n", encoding="utf-8")
    with pytest.raises(ManifestError, match="no utterances") as caught:
        Source.of(empty)
    assert caught.value.path == str(empty)
