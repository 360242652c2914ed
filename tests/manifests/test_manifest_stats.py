from __future__ import annotations

import io

from rich.console import Console
from werbench.manifests.io import write_manifest
from werbench.manifests.normalize import get_normalizer
from werbench.manifests.schema import Utterance
from werbench.manifests.stats import manifest_stats, stats_tables


def _manifest(tmp_path):
    path = tmp_path / "m.jsonl"
    write_manifest(
        path,
        [
            Utterance("/a/1.wav", 1.0, "Hello, world", speaker="s1"),
            Utterance("/a/2.wav", 2.0, "hello again [noise]", speaker="s1"),
            Utterance("/a/3.wav", 3.5, "Grüße", speaker="s2"),
            Utterance("/a/4.wav", 0.5, "", speaker="s2"),
        ],
    )
    return path


def test_counts_as_written_and_after_normalising(tmp_path):
    stats = manifest_stats(_manifest(tmp_path))
    assert (stats.utterances, stats.seconds, len(stats.speakers), stats.words) == (4, 7.0, 2, 6)
    assert len(stats.vocabulary) == 6 and stats.empty_text == 1
    assert stats.alphabet == ",GH[]adeghilnorsw\u00df\u00fc"
    assert stats.word_counts == [2, 3, 1, 0]
    nemo = manifest_stats(_manifest(tmp_path), get_normalizer("nemo"))
    assert sorted(nemo.vocabulary) == ["again", "grüße", "hello", "noise", "world"]
    assert nemo.normalizer == "nemo@1" and "," not in nemo.alphabet


def test_tables_render_quantiles_and_histograms(tmp_path):
    out = io.StringIO()
    console = Console(file=out, width=120)
    for table in stats_tables(manifest_stats(_manifest(tmp_path))):
        console.print(table)
    text = out.getvalue()
    assert "0.002 h (7.0 s)" in text and "min 2, median 2, max 2" in text
    assert "19 characters (2 non-ASCII): ,GH[]adeghilnorswßü" in text
    assert "median 1.50, p75 2.38, p95 3.27, max 3.50" in text
    assert "│ 0.50 - 0.80 │          1 │ " + "#" * 40 in text
    assert [line.split("│")[1].strip() for line in text.splitlines() if line.count("│") == 4][-4:] == [
        "0",
        "1",
        "2",
        "3",
    ]
