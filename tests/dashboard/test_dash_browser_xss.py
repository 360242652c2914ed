"""Transcripts, field names and system names are shown as text, never run: script and img-onerror payloads in
the reference, the hypothesis, a manifest field's name and value and a system's name, through the real
``werbench serve`` in real Chromium, and in the HTML report it exports. A payload that ran would set
``window.__xss`` or open an ``alert``; both are watched on every page.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import quote

import numpy as np
import pytest
import soundfile as sf

from tests.dashboard.test_dash_browser import (  # noqa: F401 - fixtures
    browser_context,
    open_page,
    page,
    serve_werbench,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SCRIPT = "<script>window.__xss='script';alert('script')</script>"
IMG = "<img src=x onerror=\"window.__xss='img';alert('img')\">"
REF = f"hello {SCRIPT} world {IMG}"
HYP = f"hello {IMG} word {SCRIPT}"
FIELD = "<img src=x onerror=window.__xss='field'>"
SYSTEM = "<img src=x onerror=window.__xss='system'>"  # a folder name: no slash
TS = "ts"


@pytest.fixture(scope="module")
def hostile_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("hostile")
    audio = root / "a.wav"
    sf.write(audio, np.zeros(16000, dtype=np.int16), 16000)
    refs = [
        {"audio_filepath": str(audio), "duration": 1.0, "text": REF, "utt_id": f"u{i}", FIELD: SCRIPT}
        for i in range(3)
    ]
    (root / TS).mkdir()
    (root / TS / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in refs))
    for system, hyp in ((SYSTEM, HYP), ("plain@greedy", REF)):
        folder = root / TS / system
        folder.mkdir()
        rows = [r | {"pred_text": hyp} for r in refs]
        (folder / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        info = {"system": system, "testset": TS, "normalizer": "none@1"}
        (folder / "run.json").write_text(json.dumps(info))
    yield from serve_werbench([str(root)], root.parent / "serve.log", tmp_path_factory.mktemp("cache"))


def _nothing_ran(tab, dialogs: list[str]) -> None:
    tab.wait_for_load_state("networkidle")
    tab.wait_for_timeout(300)  # an onerror fires once the broken image has failed to load
    assert tab.evaluate("window.__xss === undefined"), tab.evaluate("window.__xss")
    planted = """[...document.querySelectorAll('[onerror], [onload], script')].filter((e) =>
        (e.getAttribute('onerror') || e.getAttribute('onload') || '').includes('__xss')
        || (e.tagName === 'SCRIPT' && e.textContent.trim().startsWith('window.__xss'))).length"""
    assert tab.evaluate(planted) == 0  # no payload became an element (embedded data JSON may hold it)
    assert dialogs == []


def _shows(tab, text: str) -> bool:
    return tab.evaluate("(t) => document.body.innerText.includes(t)", text)


@pytest.mark.parametrize(
    ("path", "ready", "literals"),
    [
        ("/", "#lb-table .ag-row", [SYSTEM]),
        (f"/utterances?ts={TS}", "#utts-grid .ag-row", [REF]),
        (f"/utterance?ts={TS}&id=u1", "#utt-signal .main-svg", [SYSTEM, FIELD, SCRIPT, IMG]),
        (f"/compare?ts={TS}&a={quote(SYSTEM)}&b=plain%40greedy", "#cmp-scatter .main-svg", [SYSTEM]),
        (f"/errors?ts={TS}", "#err-breakdown .main-svg", [SYSTEM]),
        (f"/dataset?ts={TS}", "#vocab-grid .ag-row", []),
    ],
)
def test_payloads_show_as_text_on_every_page(
    page,  # noqa: F811 - the fixture
    hostile_url: str,
    path: str,
    ready: str,
    literals: list[str],
) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    open_page(page, hostile_url + path, ready)
    _nothing_ran(page, dialogs)
    for literal in literals:
        assert _shows(page, literal), f"{literal!r} is not shown as text on {path}"
    assert page.get_by_text("could not be built").count() == 0


def test_payloads_show_as_text_in_the_html_report(page, hostile_url: str) -> None:  # noqa: F811
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(hostile_url + "/export/report.html")
    _nothing_ran(page, dialogs)
    assert _shows(page, SYSTEM)
    page.evaluate("document.querySelectorAll('details').forEach((d) => { d.open = true; })")
    _nothing_ran(page, dialogs)
    text = page.evaluate("document.body.textContent")  # alignments: one cell per word, maybe collapsed
    assert all(word in text for word in REF.split())
