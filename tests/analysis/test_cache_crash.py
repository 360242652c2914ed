"""Crash consistency of the caches written behind: kill -9 a writer at random points; the next run never reads
a torn entry (every file at a final path reads back whole, damaged ones count as misses) and recomputes."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest
from werbench.analysis.table_cache import results_tables
from werbench.manifests.schema import Utterance

WORDS = [
    "the",
    "of",
    "and",
    "to",
    "in",
    "a",
    "is",
    "that",
    "for",
    "it",
    "as",
    "was",
    "with",
    "be",
    "by",
    "on",
    "not",
    "he",
    "this",
    "are",
]


def _results(root: Path, make_results, n: int) -> Path:
    rng = random.Random(0)
    audio = root / "a.wav"
    audio.write_bytes(b"")
    utts = [
        Utterance(str(audio), 2.0, " ".join(rng.choices(WORDS, k=rng.randint(5, 40))), utt_id=f"u{i:05d}")
        for i in range(n)
    ]

    def hyp(text: str) -> str:
        words = text.split()
        return " ".join(w if rng.random() > 0.15 else rng.choice(WORDS) for w in words[: len(words) - 1])

    systems = {s: {u.utt_id: {"pred_text": hyp(u.text)} for u in utts} for s in ("a@x", "b@x")}
    return make_results(root / "results", "ts", utts, systems)


def _final_files(cache: Path) -> list[Path]:
    return [p for p in cache.rglob("*") if p.is_file() and not p.name.endswith(".tmp")]


def _torn(path: Path) -> bool:
    """Whether a file at a final cache path fails to read back whole."""
    try:
        if path.suffix == ".parquet":
            pq.read_table(path).to_pandas()
        elif path.suffix == ".arrow":
            feather.read_table(path, memory_map=False)
        elif path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as data:
                data["log_probs"], data["meta"]
    except Exception:
        return True
    return False


def _kill_loop(script: str, env: dict[str, str], kills: int, cache: Path) -> int:
    """Time one whole run of ``script`` (then empty ``cache``), and start it ``kills`` times more, each
    SIGKILLed at a random moment of the second half of that time, when its cache writes happen; returns how
    many were killed while still running. A run that finished wrote everything, so its cache is emptied
    (the next run has writes to kill again); a killed run's cache stays for the next run to read."""
    start = time.monotonic()
    subprocess.run([sys.executable, "-c", script], env=env, check=True)
    whole = time.monotonic() - start
    shutil.rmtree(cache)
    rng = random.Random(1)
    killed = 0
    for round_ in range(kills):
        process = subprocess.Popen([sys.executable, "-c", script], env=env)
        time.sleep(rng.uniform(0.5, 1.0) * whole)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            killed += 1
            process.wait()
        else:
            process.wait()
            if round_ < kills - 1:
                shutil.rmtree(cache, ignore_errors=True)
    return killed


@pytest.mark.slow
def test_kill_minus_nine_during_table_and_alignment_cache_writes(tmp_path, make_results):
    results = _results(tmp_path, make_results, 3000)
    cache = tmp_path / "cache"
    env = {**os.environ, "WERBENCH_CACHE": str(cache), "WERBENCH_THREADS": "1"}
    script = textwrap.dedent(
        f"""
        from werbench.analysis.table_cache import results_tables, TableOptions
        for n in (100, 200, 300):  # several cache keys, so kills land in different writes
            results_tables({str(results)!r}, TableOptions(n_resamples=n))
        """
    )
    reference = results_tables(results, use_cache=False)
    killed = _kill_loop(script, env, 12, cache)
    files = _final_files(cache)
    torn = [p for p in files if _torn(p)]
    assert torn == [], f"torn cache entries at final paths: {torn}"
    assert killed >= 3 and files, f"{killed} of 12 runs killed mid-way, {len(files)} entries written"
    again = results_tables(results, cache_dir=cache)
    pd.testing.assert_frame_equal(
        again.systems[["system", "C", "S", "D", "I", "wer"]],
        reference.systems[["system", "C", "S", "D", "I", "wer"]],
    )
    print(f"cache crash loop: {killed} kills, {len(files)} entries checked, torn reads = {len(torn)}")


@pytest.mark.slow
def test_kill_minus_nine_during_logits_cache_writes(tmp_path):
    cache = tmp_path / "cache"
    audio_dir = tmp_path / "audio"
    audio_dir.mkdir()
    script = textwrap.dedent(
        f"""
        import numpy as np
        from pathlib import Path
        from werbench.manifests.schema import Utterance
        from werbench.runners.logits_cache import LogitsCache, UttLogits
        cache = LogitsCache({str(cache)!r}, {{"sha256": "0" * 64, "path": "m"}})
        for i in range(150):
            audio = Path({str(audio_dir)!r}) / f"u{{i}}.wav"
            audio.write_bytes(bytes([i % 251]) * 64)
            log_probs = np.random.default_rng(i).standard_normal((3000, 40)).astype(np.float32)
            cache.put(UttLogits(Utterance(str(audio), 1.0, "x"), log_probs))
        """
    )
    env = {**os.environ}
    killed = _kill_loop(script, env, 10, cache)
    from werbench.manifests.schema import Utterance
    from werbench.runners.logits_cache import LogitsCache

    reader = LogitsCache(cache, {"sha256": "0" * 64, "path": "m"})
    entries = 0
    for i in range(150):
        audio = audio_dir / f"u{i}.wav"
        if not audio.exists():
            continue
        got = reader.get(Utterance(str(audio), 1.0, "x"))
        if got is None:
            continue
        entries += 1
        expected = np.random.default_rng(i).standard_normal((3000, 40)).astype(np.float16).astype(np.float32)
        assert got.log_probs.shape == expected.shape  # a hit is always the whole, right entry
        np.testing.assert_allclose(got.log_probs, expected, rtol=0, atol=2e-3)  # float16 storage
    assert killed >= 5 and entries > 0
    torn = [p for p in _final_files(cache) if p.suffix == ".npz" and _torn(p)]
    assert torn == []
    print(f"logits crash loop: {killed} kills, {entries} entries read back whole, torn reads = {len(torn)}")


def test_damaged_cache_entries_are_misses_and_recomputed(tmp_path, make_results):
    """What a power cut can leave (writes behind skip fsync): truncated or overwritten files are misses."""
    results = _results(tmp_path, make_results, 40)
    cache = tmp_path / "cache"
    first = results_tables(results, cache_dir=cache)
    from werbench.analysis import write_behind

    write_behind.wait_all()
    files = [p for p in _final_files(cache) if p.suffix in (".parquet", ".arrow")]
    assert {p.suffix for p in files} == {".parquet", ".arrow"}
    for index, path in enumerate(files):
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2] if index % 2 else b"\0" * len(data))
    again = results_tables(results, cache_dir=cache)
    pd.testing.assert_frame_equal(again.systems, first.systems)
    write_behind.wait_all()
    assert not any(_torn(p) for p in _final_files(cache) if p.suffix in (".parquet", ".arrow"))


def test_damaged_logits_entry_is_a_miss(tmp_path):
    from werbench.runners.logits_cache import LogitsCache, UttLogits

    audio = tmp_path / "a.wav"
    audio.write_bytes(b"x" * 64)
    utt = Utterance(str(audio), 1.0, "x")
    cache = LogitsCache(tmp_path / "cache", {"sha256": "1" * 64, "path": "m"})
    cache.put(UttLogits(utt, np.ones((10, 5), np.float32)))
    (entry,) = [p for p in _final_files(tmp_path / "cache") if p.suffix == ".npz"]
    data = bytearray(entry.read_bytes())
    for damaged in (bytes(data[: len(data) // 2]), bytes(data[:40]) + b"\xff" * (len(data) - 40), b""):
        entry.write_bytes(damaged)
        assert cache.get(utt) is None
    data[len(data) // 2] ^= 0xFF  # one flipped bit inside the compressed array: the zip CRC catches it
    entry.write_bytes(bytes(data))
    assert cache.get(utt) is None
