"""Word classes on the dashboard: the leaderboard, errors and compare pages show analysis' figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from werbench.dashboard.callback_client import post_callback
from werbench.dashboard.workspace import Source
from werbench.manifests.errors import ManifestError


@pytest.fixture(scope="module")
def keyword_app(results_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    from werbench.dashboard.app import create_app

    words = tmp_path_factory.mktemp("keywords") / "frequent.txt"
    words.write_text("ba\nbe\nde da\n", encoding="utf-8")  # two words and a phrase of the synthetic language
    source = Source.of(results_dir, keywords=[words])
    return create_app(source, cache_dir=tmp_path_factory.mktemp("cache"))


def _shown(value: float) -> str:
    """A figure as the grids' row data carries it (``dashboard.grid.records``: 6 decimals)."""
    return json.dumps(round(float(value), 6))


def _render(app, path: str, query: str = "") -> str:
    client = app.server.test_client()
    _, body = post_callback(
        client, app, "page.children",
        [{"id": "url", "property": "pathname", "value": path},
         {"id": "url", "property": "search", "value": query}],
        [{"id": "rendered", "property": "data", "value": {}}],
    )  # fmt: skip
    return json.dumps(body["response"]["page"]["children"])


def test_pages_show_the_class_figures_of_analysis(keyword_app) -> None:
    analysis = keyword_app.server.config["WERBENCH_WORKSPACE"].analysis("none")
    table = analysis.word_classes("synth-clean")
    row = table[(table["class"] == "frequent") & (table["system"] == "base@greedy")].iloc[0]
    assert row.ref_words > 20 and 0 < row.recall < 1
    board = _render(keyword_app, "/")
    assert "Words that matter" in board and '"lb-classes"' in board
    assert _shown(row.recall) in board  # the grid's row data is analysis' number
    errors = _render(keyword_app, "/errors", "?ts=synth-clean")
    assert '"err-classes"' in errors and _shown(row.recall) in errors
    systems = analysis.systems("synth-clean")
    pair = analysis.word_class_comparison("synth-clean", systems[0], systems[1])
    compare = _render(keyword_app, "/compare", f"?ts=synth-clean&a={systems[0]}&b={systems[1]}")
    assert '"cmp-classes"' in compare
    frequent = pair[pair["class"] == "frequent"].iloc[0]
    assert _shown(frequent.delta) in compare


def test_a_bad_keyword_list_is_an_error_at_start(results_dir: Path, tmp_path: Path) -> None:
    from werbench.dashboard.app import create_app

    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing here\n", encoding="utf-8")
    with pytest.raises(ManifestError, match="no keywords"):
        create_app(Source.of(results_dir, keywords=[empty]), cache_dir=tmp_path / "cache")


def test_errors_page_says_where_the_errors_come_from(keyword_app) -> None:
    analysis = keyword_app.server.config["WERBENCH_WORKSPACE"].analysis("none")
    table = analysis.error_attribution("synth-clean").set_index("system")
    scored = analysis.system_table[analysis.system_table["testset"] == "synth-clean"].set_index("system")
    beam = table.loc["base@beam-lm"]  # the synthetic beam+LM decoder over base's logits, greedy its root
    assert (
        beam["root"] == "base@greedy" and beam["errors"] == scored.loc["base@beam-lm", ["S", "D", "I"]].sum()
    )
    assert beam["greedy_errors"] == scored.loc["base@greedy", ["S", "D", "I"]].sum()
    assert beam["kept"] + beam["introduced"] == beam["errors"] and beam["fixed"] > 0
    page = _render(keyword_app, "/errors", "?ts=synth-clean")
    assert '"err-attribution-grid"' in page and "Where the errors come from" in page
    assert f"{int(beam['fixed']):,} greedy errors" in page  # the sentence analysis wrote
