"""analysis' table cache: a second read gives the same tables and warnings, any change is a miss."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
from werbench.analysis import write_behind
from werbench.analysis.dataset import dataset_stats
from werbench.analysis.table_cache import TableOptions, results_tables
from werbench.manifests.schema import Utterance

TEXTS = {"u1": "the cat sat", "u2": "on the mat", "u3": "a dog"}


def results(root: Path, make_results, beam_u2: str = "on a mat") -> Path:
    manifest = [Utterance(f"/audio/{uid}.wav", 1.0, text, utt_id=uid) for uid, text in TEXTS.items()]
    systems = {
        "m@greedy": {"u1": {"pred_text": "the cat"}, "u2": {"pred_text": "on the mat"}},  # u3 missing
        "m@beam": {
            "u1": {"pred_text": "the cat sat", "nbest": [{"text": "the cat sat", "score": -1.0}]},
            "u2": {"pred_text": beam_u2, "nbest": [{"text": beam_u2, "score": -2.0}]},
            "u3": {"pred_text": "", "error": "out of memory"},
        },
    }
    return make_results(root, "dev", manifest, systems)


def test_second_read_gives_the_same_tables_and_warnings(tmp_path: Path, make_results) -> None:
    folder, cache = results(tmp_path / "r", make_results), tmp_path / "cache"
    first_timings: dict[str, float] = {}
    first = results_tables(folder, cache_dir=cache, timings=first_timings)
    again_timings: dict[str, float] = {}
    again = results_tables(folder, cache_dir=cache, timings=again_timings)
    assert "read_s" in first_timings and set(again_timings) == {"tables_read_s"}
    pd.testing.assert_frame_equal(again.systems, first.systems)
    pd.testing.assert_frame_equal(again.utterances, first.utterances)
    assert (again.normalizer, again.costs, again.warnings) == (first.normalizer, first.costs, first.warnings)
    assert any("1 of 3 reference utterances have no hypothesis (u3)" in w for w in again.warnings)
    beam = again.utterances.set_index(["system", "utt_id"]).loc[("m@beam", "u2")]
    assert beam["nbest"] == [{"text": "on a mat", "score": -2.0}]
    # the reference words' statistics come back with the tables, as the dataset page would count them
    assert (
        again.reference_words
        == first.reference_words
        == {"dev": {"vocabulary": 7, "words": 8, "alphabet": "acdeghmnost"}}
    )
    rows = again.utterances[again.utterances["system"] == "m@beam"]
    assert dataset_stats(rows).alphabet == dataset_stats(rows, words=again.reference_words["dev"]).alphabet
    assert dataset_stats(rows).vocabulary == 7 and dataset_stats(rows).words == 8


def test_an_edited_input_or_another_option_is_a_miss(tmp_path: Path, make_results) -> None:
    folder, cache = results(tmp_path / "r", make_results), tmp_path / "cache"
    before = results_tables(folder, cache_dir=cache).systems.set_index("system")
    results(folder, make_results, beam_u2="on the mat")  # the beam system is now right on u2
    predictions = folder / "dev" / "m@beam" / "predictions.jsonl"
    os.utime(predictions, ns=(1, 1))  # even with an old mtime: the size differs
    after = results_tables(folder, cache_dir=cache).systems.set_index("system")
    assert after.loc["m@beam", "S"] == before.loc["m@beam", "S"] - 1
    timings: dict[str, float] = {}
    unit = results_tables(folder, TableOptions(costs="unit"), cache_dir=cache, timings=timings)
    assert "read_s" in timings and unit.costs == "unit"


def test_a_broken_cache_file_is_a_miss_and_no_cache_writes_nothing(tmp_path: Path, make_results) -> None:
    folder, cache = results(tmp_path / "r", make_results), tmp_path / "cache"
    first = results_tables(folder, cache_dir=cache)
    write_behind.wait_all()  # the cache is written behind
    broken = list((cache / "tables").glob("*.systems.arrow"))
    assert len(broken) == 1
    for path in broken:
        path.write_bytes(b"not arrow")
    timings: dict[str, float] = {}
    again = results_tables(folder, cache_dir=cache, timings=timings)
    assert "read_s" in timings
    pd.testing.assert_frame_equal(again.systems, first.systems)
    fresh = tmp_path / "fresh"
    results_tables(folder, cache_dir=fresh, use_cache=False)
    assert not fresh.exists()


def test_each_normaliser_has_its_own_entry(tmp_path: Path, make_results) -> None:
    folder, cache = results(tmp_path / "r", make_results), tmp_path / "cache"
    seen = []
    for normalize in ("none", "nemo", "none"):
        timings: dict[str, float] = {}
        tables = results_tables(folder, TableOptions(normalize=normalize), cache_dir=cache, timings=timings)
        seen.append((tables.normalizer.split("@")[0], "tables_read_s" in timings))
    assert seen == [("none", False), ("nemo", False), ("none", True)]


def test_a_moved_results_folder_is_a_miss(tmp_path: Path, make_results) -> None:
    folder, cache = results(tmp_path / "r", make_results), tmp_path / "cache"
    results_tables(folder, cache_dir=cache)
    moved = folder.rename(tmp_path / "moved")
    timings: dict[str, float] = {}
    tables = results_tables(moved, cache_dir=cache, timings=timings)
    assert "read_s" in timings  # the tables hold the folder's resolved paths: they are read again
    assert len(tables.utterances) == 6


def test_a_command_that_exits_at_once_still_writes_the_cache(tmp_path: Path, make_results) -> None:
    # enough rows that pyarrow converts with its thread pool, which refuses work once Python is exiting
    manifest = [Utterance(f"/audio/u{k}.wav", 1.0, "a b c", utt_id=f"u{k}") for k in range(6000)]
    predictions = {u.utt_id: {"pred_text": "a b"} for u in manifest}
    folder = make_results(tmp_path / "r", "dev", manifest, {"m@greedy": predictions})
    cache = tmp_path / "cache"
    code = (
        "from pathlib import Path; from analysis.table_cache import results_tables; "
        f"results_tables(Path({str(folder)!r}), cache_dir=Path({str(cache)!r}))"
    )
    repo = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert len(list((cache / "tables").glob("*.arrow"))) == 2  # written behind, finished at exit
    timings: dict[str, float] = {}
    results_tables(folder, cache_dir=cache, timings=timings)
    assert set(timings) == {"tables_read_s"}


def test_manifests_served_as_sde_serves_them_are_cached_whole(tmp_path: Path) -> None:
    """A manifest with predictions and one without (a dataset): both come back from the cache, and an
    edited file is a miss."""
    import json

    from werbench.analysis.table_cache import manifest_tables

    def write(path: Path, with_predictions: bool, pred_u2: str = "on a mat") -> Path:
        rows = [
            {"audio_filepath": f"{uid}.wav", "duration": 1.0, "text": text, "utt_id": uid}
            | ({"pred_text": pred_u2 if uid == "u2" else text} if with_predictions else {})
            for uid, text in TEXTS.items()
        ]
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        return path

    files = [write(tmp_path / "conformer.jsonl", True), write(tmp_path / "train.jsonl", False)]
    cache = tmp_path / "cache"
    first = manifest_tables(files, cache_dir=cache)
    write_behind.wait_all()
    timings: dict[str, float] = {}
    again = manifest_tables(files, cache_dir=cache, timings=timings)
    assert set(timings) == {"tables_read_s"}
    pd.testing.assert_frame_equal(again.utterances, first.utterances)
    pd.testing.assert_frame_equal(again.systems, first.systems)
    assert list(again.datasets) == ["train"]
    pd.testing.assert_frame_equal(again.datasets["train"], first.datasets["train"])
    write(files[0], True, pred_u2="on the mat")
    os.utime(files[0], ns=(1, 1))
    edited = manifest_tables(files, cache_dir=cache, timings=timings)
    assert edited.systems.set_index("system").at["conformer", "S"] == 0


def test_each_systems_rows_read_back_as_one_chunk(tmp_path: Path, make_results) -> None:
    """The cache writes a record batch per (testset, system): a column of many chunks makes every gather
    over it concatenate them all (the dashboard gathers on every request)."""
    import pyarrow.feather as feather

    folder, cache = results(tmp_path / "r", make_results), tmp_path / "cache"
    built = results_tables(folder, cache_dir=cache)
    write_behind.wait_all()
    table = feather.read_table(next((cache / "tables").glob("*.utts.arrow")))
    systems = table.column("system").to_pylist()
    assert [len(c) for c in table.column("hyp").chunks] == [systems.count(s) for s in dict.fromkeys(systems)]
    pd.testing.assert_frame_equal(results_tables(folder, cache_dir=cache).utterances, built.utterances)


def test_a_dataset_alone_is_cached_too(tmp_path: Path) -> None:
    """A manifest without predictions has no utterance rows: the cache still writes (it crashed its writer
    thread on zero rows, and every start rebuilt the tables)."""
    import json

    from werbench.analysis.table_cache import manifest_tables

    path = tmp_path / "train.jsonl"
    rows = [{"audio_filepath": f"{u}.wav", "duration": 1.0, "text": t, "utt_id": u} for u, t in TEXTS.items()]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cache = tmp_path / "cache"
    first = manifest_tables([path], cache_dir=cache)
    assert first.utterances.empty
    write_behind.wait_all()
    timings: dict[str, float] = {}
    again = manifest_tables([path], cache_dir=cache, timings=timings)
    assert set(timings) == {"tables_read_s"}
    pd.testing.assert_frame_equal(again.datasets["train"], first.datasets["train"])
