"""The dashboard in real headless Chromium (Debian's, via Playwright): pages, grid, audio, pairs, export.

The server is the real ``werbench serve`` command (waitress) in a subprocess on a free loopback port; one
server and one browser serve the whole module. Screenshots of every page go to ``tmp_path`` and are
copied to /tmp/werbench_shots/ for a person to look at.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path("/tmp/werbench_shots")
# Chromium's own noise, not the page's: GPU readback performance notes from the software renderer.
IGNORED = ("GL Driver Message", "GPU stall due to ReadPixels")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_werbench(args: list[str], log: Path, cache: Path) -> Iterator[str]:
    """Run the real ``werbench serve ARGS`` on a free loopback port until the generator is closed; yields its
    URL once the root page answers 200 (the log's tail names what went wrong when it never does)."""
    port = free_port()
    env = {**os.environ, "WERBENCH_CACHE": str(cache)}
    command = [
        sys.executable,
        "-c",
        "from werbench.cli import main; main()",
        "serve",
        *args,
        "--port",
        str(port),
    ]
    with log.open("w") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        try:
            with urllib.request.urlopen(url + "/", timeout=5) as answer:
                if answer.status == 200:
                    break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"werbench serve did not come up:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
    yield url
    process.terminate()
    process.wait(timeout=20)


@pytest.fixture(scope="module")
def server_url(results_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from serve_werbench(
        [str(results_dir), "--threads", "4"],
        tmp_path_factory.mktemp("serve") / "serve.log",
        tmp_path_factory.mktemp("cache"),
    )


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory: pytest.TempPathFactory):
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is not installed")
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            viewport={"width": 1440, "height": 1000},
            accept_downloads=True,
        )
        yield context
        context.close()


@pytest.fixture()
def page(browser_context):
    page = browser_context.new_page()
    page.console_errors = []
    page.on(
        "console",
        lambda m: m.type == "error" and not m.text.startswith(IGNORED) and page.console_errors.append(m.text),
    )
    page.on("pageerror", lambda e: page.console_errors.append(f"uncaught: {e}"))
    yield page
    page.close()


def shoot(page, tmp_path: Path, name: str) -> None:
    page.wait_for_load_state("networkidle")
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    SHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, SHOTS / path.name)


def open_page(page, url: str, ready: str) -> None:
    page.goto(url)
    page.wait_for_selector(ready, timeout=30_000)
    page.wait_for_load_state("networkidle")


@pytest.mark.parametrize(
    ("path", "name", "ready"),
    [
        ("/", "leaderboard", "#lb-table .ag-row"),
        ("/dataset?ts=synth-clean", "dataset", "#vocab-grid .ag-row"),
        ("/utterances?ts=synth-clean", "utterances", "#utts-grid .ag-row"),
        ("/compare?ts=synth-clean&a=base@greedy&b=tuned@beam-lm", "compare", "#cmp-scatter .main-svg"),
        ("/errors?ts=synth-noisy", "errors", "#err-breakdown .main-svg"),
        ("/utterance?ts=synth-clean&id=synth-clean-000004", "utterance", "#utt-signal .main-svg"),
    ],
)
def test_page_opens_without_console_errors(
    page, server_url: str, tmp_path: Path, path: str, name: str, ready: str
) -> None:
    open_page(page, server_url + path, ready)
    assert page.locator(".page-title").first.is_visible()
    assert page.get_by_text("could not be built").count() == 0
    shoot(page, tmp_path, name)
    assert page.console_errors == []


def test_filter_grid_open_utterance_and_play_its_audio(
    page, server_url: str, workspace, tmp_path: Path
) -> None:
    rows = workspace.analysis("none").rows("synth-clean", "base@greedy")
    open_page(page, server_url + "/utterances?ts=synth-clean", "#utts-grid .ag-row")
    page.locator("#utts-grid .ag-floating-filter-input input").first.fill("synth-clean-00001")
    page.wait_for_function(
        "document.querySelector('.grid-count') && document.querySelector('.grid-count').textContent"
        ".startsWith('10 of 40')",
        timeout=15_000,
    )
    page.wait_for_url(
        re.compile(r".*grid=.*synth-clean-00001.*"), timeout=15_000
    )  # the filter is in the link
    expected = sorted(u for u in rows.index if u.startswith("synth-clean-00001"))
    first = page.locator("#utts-grid .ag-row[row-index='0'] [col-id='utt_id']")
    assert first.inner_text() == expected[0]
    first.click()
    page.wait_for_url("**/utterance?**", timeout=15_000)
    page.wait_for_selector("#utt-audio", timeout=15_000)
    assert f"Utterance {expected[0]}" in page.locator(".page-title").inner_text()
    assert "1 of 10 in this view" in page.content()
    src = page.locator("#utt-audio").get_attribute("src")
    answer = page.request.get(server_url + src)
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("audio/")
    assert answer.body()[:4] == b"RIFF"
    ranged = page.request.get(server_url + src, headers={"Range": "bytes=0-1023"})
    assert ranged.status == 206 and len(ranged.body()) == 1024
    page.keyboard.press("ArrowRight")  # keyboard navigation to the next utterance of the filtered view
    page.wait_for_function(f"!document.querySelector('.page-title').textContent.includes('{expected[0]}')")
    assert expected[1] in page.locator(".page-title").inner_text()
    assert page.console_errors == []


def test_confident_errors_filter_and_words_coloured_by_confidence(page, server_url: str, workspace) -> None:
    """The synthetic systems record word confidences: under the mean max-probability some errors are
    confident; the quick filter keeps exactly analysis' rows, and the opened utterance colours its words."""
    analysis = workspace.analysis("none")
    systems = analysis.systems("synth-clean")
    context = {
        "ts": "synth-clean",
        "systems": systems,
        "qf": "confident_errors",
        "q": "",
        "cm": "max_prob_mean",
    }
    grid = analysis.utterance_grid("synth-clean", tuple(systems), "max_prob_mean").table.frame
    expected = int(analysis.view_filter(context)[1](grid).sum())
    assert 0 < expected < 40
    open_page(page, server_url + "/utterances?ts=synth-clean&cm=max_prob_mean", "#utts-grid .ag-row")
    page.get_by_text("Confident errors (\u2265 0.9)").click()
    page.wait_for_url("**qf=confident_errors**", timeout=15_000)
    page.wait_for_function(
        f"document.querySelector('.grid-count').textContent.startsWith('{expected} of 40')", timeout=15_000
    )
    page.locator("#utts-grid .ag-row[row-index='0'] [col-id='utt_id']").click()
    page.wait_for_url("**/utterance?**", timeout=15_000)
    page.wait_for_selector(".word-diff .conf-high", timeout=15_000)
    assert page.locator(".confidence-legend").is_visible()
    assert page.console_errors == []


def test_switch_the_comparison_pair(page, server_url: str, workspace) -> None:
    open_page(
        page, server_url + "/compare?ts=synth-clean&a=base@greedy&b=tuned@beam-lm", "#cmp-scatter .main-svg"
    )
    page.locator(".page-controls .wb-select").nth(1).click()
    page.get_by_role("option", name="tuned@greedy", exact=True).click()
    page.wait_for_url("**b=tuned%40greedy**", timeout=15_000)
    page.wait_for_function(
        "document.querySelector('.page-subtitle').textContent.includes('tuned@greedy (B)')", timeout=15_000
    )
    comparison = workspace.analysis("none").comparison("synth-clean", "base@greedy", "tuned@greedy")
    assert f"{comparison.summary['improved']:,}" in page.locator(".metric-card").nth(3).inner_text()
    assert page.console_errors == []


def test_export_downloads_the_filtered_rows(page, server_url: str, workspace, tmp_path: Path) -> None:
    analysis = workspace.analysis("none")
    open_page(page, server_url + "/utterances?ts=synth-clean&qf=errors", "#utts-grid .ag-row")
    with page.expect_download(timeout=20_000) as download:
        page.locator("#utts-export").click()
    saved = tmp_path / "export.csv"
    download.value.save_as(saved)
    frame = pd.read_csv(saved)
    shown = analysis.utterance_grid("synth-clean", tuple(analysis.systems("synth-clean"))).table.frame
    any_error = shown[[c for c in shown.columns if c.endswith("_sentence_error")]].any(axis=1)
    assert sorted(frame["utt_id"]) == sorted(shown.loc[any_error, "utt_id"])
    assert page.console_errors == []
