"""The utterance view's "as written" switch: the raw diff (case, punctuation) on the normalised alignment."""

from __future__ import annotations

import json

import pytest
from werbench.manifests.io import write_manifest
from werbench.manifests.results import PREDICTIONS, RunInfo, system_dir, write_run_info
from werbench.manifests.schema import Utterance

from tests.dashboard.test_dash_views import render

REF = "We met John Smith in Paris, yesterday."
HYP = "we met john Smyth in paris yesterday."
PLAIN = "we met john smith in paris yesterday"  # a CTC model's output: no case, no marks


@pytest.fixture(scope="module")
def cased_app(tmp_path_factory: pytest.TempPathFactory):
    """One test set of one utterance with a Whisper-like cased, punctuated hypothesis and a plain one,
    scored in nemo mode."""
    from werbench.dashboard.app import create_app

    root = tmp_path_factory.mktemp("cased")
    utt = Utterance(audio_filepath=str(root / "u1.wav"), duration=2.0, text=REF, utt_id="u1")
    write_manifest(root / "dev" / "manifest.jsonl", [utt])
    for system, hyp in (("whisper", HYP), ("plain", PLAIN)):
        folder = system_dir(root, "dev", system)
        folder.path.mkdir(parents=True)
        line = json.dumps(utt.to_json() | {"pred_text": hyp})
        (folder.path / PREDICTIONS).write_text(line + "\n", encoding="utf-8")
        write_run_info(folder, RunInfo(system=system, testset="dev", normalizer="nemo@1"))
    return create_app(root, cache_dir=tmp_path_factory.mktemp("cache"))


def _page(app, query: str, path: str = "/utterance") -> str:
    return render(app, app.server.test_client(), path + query)


def test_the_switch_shows_words_as_written(cased_app) -> None:
    normalised = _page(cased_app, "?ts=dev&id=u1&norm=nemo")
    assert '"we met john smith in paris yesterday"' in normalised  # the normalised reference
    assert '"Paris,"' not in normalised and "written differently" not in normalised
    written = _page(cased_app, "?ts=dev&id=u1&norm=nemo&raw=1")
    assert json.dumps(REF) in written  # the reference as written
    # correct after normalisation but written otherwise: both forms, titled so; the substitution as before
    assert '"Paris,"' in written and '"paris"' in written and "correct, written differently" in written
    assert '"Smith"' in written and '"Smyth"' in written and '"yesterday."' in written
    assert '{"id": {"type": "url", "key": "raw"}, "value": true' in written  # the switch is on


def test_the_leaderboard_shows_the_rates_of_analysis(cased_app) -> None:
    analysis = cased_app.server.config["WERBENCH_WORKSPACE"].analysis("nemo")
    row = analysis.case_punctuation().set_index("system").loc["whisper"]
    # marks: "," deleted, "." correct; case: We, John, Paris of 6 correct words (Smith/Smyth is wrong)
    assert (row.correct, row.deleted, row.case_words, row.case_errors) == (1, 1, 6, 3) and row.wer == 1 / 7
    board = _page(cased_app, "?norm=nemo", "/")
    assert '"lb-casing"' in board and "Casing and punctuation" in board
    assert '"per": 0.5' in board and '"case_error_rate": 0.5' in board


def _grid_rows(tree: object, grid_id: str) -> list[dict] | None:
    """The rowData of the grid ``grid_id`` in a rendered layout."""
    if isinstance(tree, dict):
        props = tree.get("props", {})
        if isinstance(props, dict) and props.get("id") == grid_id:
            return props["rowData"]
        children = list(tree.values())
    else:
        children = tree if isinstance(tree, list) else []
    return next((rows for c in children if (rows := _grid_rows(c, grid_id)) is not None), None)


def test_compare_puts_the_rates_of_a_and_b_side_by_side(cased_app) -> None:
    table = cased_app.server.config["WERBENCH_WORKSPACE"].analysis("nemo").case_punctuation()
    rates = table.set_index("system")[["per", "case_error_rate"]]
    assert rates.loc["plain"].tolist() == [1.0, 4 / 7]  # both marks missed; We, John, Smith, Paris lower
    page = _page(cased_app, "?norm=nemo&ts=dev&a=whisper&b=plain", "/compare")
    assert "punctuation and case" in page
    shown = {r["system"]: r for r in _grid_rows(json.loads(page), "cmp-trust")}
    assert [shown["whisper"]["role"], shown["plain"]["role"]] == ["A", "B"]
    for system, (per, case) in rates.iterrows():
        assert shown[system]["per"] == pytest.approx(per, abs=1e-6)
        assert shown[system]["case_error_rate"] == pytest.approx(case, abs=1e-6)
