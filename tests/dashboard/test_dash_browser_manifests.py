"""``werbench serve FILE.jsonl`` in real headless Chromium: the dataset explorer and the filter expression
(screenshots copied to /tmp/werbench_shots/ for a person to look at)."""

from __future__ import annotations

import json
import shutil
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dashboard.test_dash_browser import (  # noqa: F401 - fixtures
    SHOTS,
    browser_context,
    open_page,
    page,
    serve_werbench,
    server_url,
    shoot,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def dataset_url(results_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``serve train.jsonl --audio-base-path AUDIO --vocab words.txt``: no predictions, no speaker."""
    folder = tmp_path_factory.mktemp("dataset")
    audio_root = results_dir / "audio"
    rows = [json.loads(x) for x in (results_dir / "synth-clean" / "manifest.jsonl").read_text().splitlines()]
    lines = [
        json.dumps(
            {k: v for k, v in r.items() if k != "speaker"}
            | {"audio_filepath": str(Path(r["audio_filepath"]).relative_to(audio_root))}
        )
        for r in rows
    ]
    (folder / "train.jsonl").write_text("\n".join(lines) + "\n")
    (folder / "words.txt").write_text("ba\nbe\nlo\nda\nka\n")
    yield from serve_werbench(
        [
            str(folder / "train.jsonl"),
            "--audio-base-path", str(audio_root), "--vocab", str(folder / "words.txt"),
        ],
        folder / "serve.log",
        tmp_path_factory.mktemp("cache"),
    )  # fmt: skip


def test_dataset_only_manifest_is_explored(page, dataset_url: str, tmp_path: Path) -> None:  # noqa: F811
    open_page(page, dataset_url + "/", "#vocab-grid .ag-row")
    assert page.get_by_text("Histogram of any field").count() == 1
    assert page.get_by_text("words.txt").count() >= 1  # the OOV card names the --vocab file
    shoot(page, tmp_path, "sde-dataset-only")
    open_page(page, dataset_url + "/utterance?ts=train&id=synth-clean-000007", "#utt-signal .main-svg")
    assert page.locator("#utt-audio").count() == 1
    shoot(page, tmp_path, "sde-dataset-utterance")
    assert page.console_errors == []


def test_filter_expression_in_the_browser(page, server_url: str, tmp_path: Path) -> None:  # noqa: F811
    query = urllib.parse.quote("wer > 20 && text contains ba")
    open_page(page, f"{server_url}/utterances?ts=synth-clean&q={query}", "#utts-grid .ag-row")
    shown = page.locator("#utts-count").inner_text()
    assert " of 40" in shown and not shown.startswith("40 of")
    shoot(page, tmp_path, "sde-filter")
    open_page(
        page, f"{server_url}/utterances?ts=synth-clean&q={urllib.parse.quote('wer >> 3')}", "#utts-grid"
    )
    assert page.get_by_text("Filter not applied").count() == 1
    shoot(page, tmp_path, "sde-filter-malformed")
    assert page.console_errors == []


def test_compare_scatter_of_any_fields(page, server_url: str, tmp_path: Path) -> None:  # noqa: F811
    query = "ts=synth-clean&a=base@greedy&b=tuned@beam-lm&sx=duration&sc=noise&ss=words_per_s"
    open_page(page, f"{server_url}/compare?{query}", "#cmp-scatter .main-svg")
    card = page.locator(".wb-card", has_text="Scatter of any fields")
    assert card.locator(".main-svg").count() >= 1 and card.get_by_text("clean").count() >= 1
    card.scroll_into_view_if_needed()
    card.screenshot(path=str(tmp_path / "sde-scatter.png"))
    SHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(tmp_path / "sde-scatter.png", SHOTS / "sde-scatter.png")
    assert page.console_errors == []


def test_audio_metrics_measured_on_demand_in_the_browser(page, dataset_url: str, tmp_path: Path) -> None:  # noqa: F811
    """Only utterances opened before are measured; "Measure all" fills SDE's columns with progress; they
    then filter."""
    open_page(page, dataset_url + "/utterances?ts=train", "#utts-grid .ag-row")
    measured, _, rest = page.locator("#am-status").inner_text().partition(" of ")
    assert int(measured) <= 1 and rest == "40 utterances measured"  # at most the one an earlier test opened
    page.locator("#am-all").click()
    page.wait_for_function(
        "document.querySelector('#am-status').innerText === '40 of 40 utterances measured'", timeout=120_000
    )
    cell = page.locator('#utts-grid .ag-row [col-id="freq_bandwidth"]').first
    # the column shows at once, blank (an en dash); its values come with the grid's next rows
    page.wait_for_function(
        "!['', '\\u2013', undefined].includes("
        "(document.querySelector('#utts-grid .ag-row [col-id=\"freq_bandwidth\"]') || {}).innerText)"
    )
    assert float(cell.inner_text().replace(",", "")) > 0
    shoot(page, tmp_path, "sde-audio-metrics")
    query = urllib.parse.quote("snr_db > 20 && freq_bandwidth > 1000")
    open_page(page, f"{dataset_url}/utterances?ts=train&q={query}", "#utts-grid .ag-row")
    shown = page.locator("#utts-count").inner_text()
    assert " of 40" in shown and not shown.startswith("0 of")
    shoot(page, tmp_path, "sde-audio-filter")
    assert page.console_errors == []
