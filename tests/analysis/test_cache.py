"""The alignment cache: a second run reads instead of aligning; any change of input is a miss."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from werbench.analysis import cache as cache_module
from werbench.analysis import write_behind
from werbench.analysis.cache import AlignmentCache, align_texts, batch_key, default_cache_dir
from werbench.manifests.normalize import get_normalizer

REFS = ["The cat sat.", "on the mat", ""]
HYPS = ["the the cat", "on a mat", "uh"]
NEMO = get_normalizer("nemo")


def test_second_run_reads_the_cache_without_aligning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = AlignmentCache(tmp_path)
    first = align_texts(REFS, HYPS, NEMO, NEMO.spec, cache=cache)
    assert first["ops"].tolist() == ["ICCD", "CSC", "I"] and first["ref"].tolist()[0] == "the cat sat"
    write_behind.wait_all()  # the file is written in a thread
    assert len(list(tmp_path.rglob("*.parquet"))) == 1

    def no_aligning(*args, **kwargs):
        raise AssertionError("aligned although the cache holds this batch")

    monkeypatch.setattr(cache_module, "align_counts", no_aligning)
    second = align_texts(REFS, HYPS, lambda text: pytest.fail("normalised again"), NEMO.spec, cache=cache)
    pd.testing.assert_frame_equal(first, second)


def test_every_input_is_part_of_the_key() -> None:
    base = batch_key(REFS, HYPS, "nemo@1", "sclite", "levenshtein")
    assert base == batch_key(list(REFS), list(HYPS), "nemo@1", "sclite", "levenshtein")
    changed = [
        batch_key(REFS, [*HYPS[:2], "uh uh"], "nemo@1", "sclite", "levenshtein"),
        batch_key(["The cat", " sat.", *REFS[1:]], HYPS, "nemo@1", "sclite", "levenshtein"),
        batch_key(REFS, HYPS, "whisper@1", "sclite", "levenshtein"),
        batch_key(REFS, HYPS, "nemo@1", "unit", "levenshtein"),
        batch_key(REFS, HYPS, "nemo@1", "sclite", "sclite"),
        batch_key(HYPS, REFS, "nemo@1", "sclite", "levenshtein"),
    ]
    assert len({base, *changed}) == 1 + len(changed)


def test_corrupt_file_is_a_miss_and_is_rewritten(tmp_path: Path) -> None:
    cache = AlignmentCache(tmp_path)
    key = batch_key(REFS, HYPS, NEMO.spec, "sclite", "levenshtein")
    cache.path(key).parent.mkdir(parents=True)
    cache.path(key).write_bytes(b"not parquet")
    assert cache.load(key) is None
    frame = align_texts(REFS, HYPS, NEMO, NEMO.spec, cache=cache)
    pd.testing.assert_frame_equal(cache.load(key), frame)


def test_cache_folder_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("WERBENCH_CACHE", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c" / "alignments"
    monkeypatch.delenv("WERBENCH_CACHE")
    assert default_cache_dir() == Path.home() / ".cache" / "werbench" / "alignments"


def test_unwritable_cache_folder_still_gives_the_result(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    frame = align_texts(REFS, HYPS, NEMO, NEMO.spec, cache=AlignmentCache(blocker / "cache"))
    assert frame["ops"].tolist() == ["ICCD", "CSC", "I"]
