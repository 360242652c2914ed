"""Server-side filtering, sorting and paging of the AG Grid row model over pandas."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from werbench.dashboard.grid import FilterError, ServerSideTable, filter_mask, records, sort_head, sort_order


@pytest.fixture()
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "utt_id": [f"u{i:03d}" for i in range(10)],
            "ref": ["the cat", "a dog", "The Cattle", "", "cat nap", "dog", "bird", "cats", "x", "y"],
            "wer": [0.0, 0.5, np.nan, 1.0, 0.25, 0.0, 0.75, 0.1, 0.2, 0.3],
        }
    )


def test_text_filters_are_case_insensitive_and_cover_every_operator(frame: pd.DataFrame) -> None:
    def ids(model: dict) -> list[str]:
        return frame["utt_id"][filter_mask(frame, {"ref": {"filterType": "text", **model}})].tolist()

    assert ids({"type": "contains", "filter": "CAT"}) == ["u000", "u002", "u004", "u007"]
    assert ids({"type": "notContains", "filter": "cat"}) == ["u001", "u003", "u005", "u006", "u008", "u009"]
    assert ids({"type": "equals", "filter": "dog"}) == ["u005"]
    assert ids({"type": "startsWith", "filter": "the"}) == ["u000", "u002"]
    assert ids({"type": "endsWith", "filter": "s"}) == ["u007"]
    assert ids({"type": "blank"}) == ["u003"]


def test_number_filters_with_two_conditions(frame: pd.DataFrame) -> None:
    model = {
        "wer": {
            "filterType": "number",
            "operator": "OR",
            "conditions": [{"type": "greaterThan", "filter": 0.6}, {"type": "equals", "filter": 0}],
        }
    }
    assert frame["utt_id"][filter_mask(frame, model)].tolist() == ["u000", "u003", "u005", "u006"]
    in_range = {"wer": {"filterType": "number", "type": "inRange", "filter": 0.2, "filterTo": 0.3}}
    assert frame["utt_id"][filter_mask(frame, in_range)].tolist() == ["u004", "u008", "u009"]
    blank = {"wer": {"filterType": "number", "type": "blank"}}
    assert frame["utt_id"][filter_mask(frame, blank)].tolist() == ["u002"]


def test_unknown_column_or_operator_is_a_filter_error(frame: pd.DataFrame) -> None:
    with pytest.raises(FilterError, match="unknown column"):
        filter_mask(frame, {"nope": {"filterType": "text", "type": "contains", "filter": "a"}})
    with pytest.raises(FilterError, match="unknown number filter"):
        filter_mask(frame, {"wer": {"filterType": "number", "type": "between", "filter": 1}})


def test_sort_is_stable_and_puts_blanks_last(frame: pd.DataFrame) -> None:
    rows = np.arange(len(frame))
    order = sort_order(frame, rows, [{"colId": "wer", "sort": "desc"}])
    assert frame["utt_id"].to_numpy()[order].tolist()[:3] == ["u003", "u006", "u001"]
    assert frame["utt_id"].to_numpy()[order][-1] == "u002"
    ascending = sort_order(frame, rows, [{"colId": "wer", "sort": "asc"}])
    assert frame["utt_id"].to_numpy()[ascending].tolist()[:2] == ["u000", "u005"]  # ties keep table order


def test_rows_response_pages_the_filtered_sorted_view_and_counts_it(frame: pd.DataFrame) -> None:
    table = ServerSideTable(frame)
    request = {
        "startRow": 1,
        "endRow": 3,
        "sortModel": [{"colId": "utt_id", "sort": "desc"}],
        "filterModel": {"wer": {"filterType": "number", "type": "lessThan", "filter": 0.5}},
    }
    response = table.rows_response(request)
    assert response["rowCount"] == 6
    assert [r["utt_id"] for r in response["rowData"]] == ["u008", "u007"]
    quick = ("cats-only", lambda f: f["ref"].str.contains("cat").to_numpy())
    assert table.rows_response({"startRow": 0, "endRow": 100}, quick)["rowCount"] == 3  # case-sensitive
    assert table.export(request)["utt_id"].tolist() == ["u009", "u008", "u007", "u005", "u004", "u000"]


def test_records_are_json_safe() -> None:
    rows = records(pd.DataFrame({"a": [np.nan, 1.5], "b": [np.int64(3), np.int64(4)], "c": [True, False]}))
    assert rows == [{"a": None, "b": 3, "c": True}, {"a": 1.5, "b": 4, "c": False}]
    assert type(rows[0]["b"]) is int


def _chunked(frame: pd.DataFrame, pieces: int = 3) -> pd.DataFrame:
    """The frame with Arrow-backed columns in several chunks, as a table read from many batches has them."""
    import pyarrow as pa

    bounds = np.linspace(0, len(frame), pieces + 1).astype(int)
    parts = [
        pa.Table.from_pandas(frame.iloc[a:b], preserve_index=False) for a, b in itertools.pairwise(bounds)
    ]
    return pa.concat_tables(parts).to_pandas(types_mapper=pd.ArrowDtype)


def test_a_block_of_a_chunked_arrow_table_is_the_rows_records_give(frame: pd.DataFrame) -> None:
    from werbench.dashboard.grid import block_records

    chunked = _chunked(frame)
    assert chunked["ref"].array._pa_array.num_chunks == 3
    positions = np.array([9, 0, 4, 3, 2])
    columns = ["utt_id", "ref", "wer"]
    assert block_records(chunked, positions, columns) == records(frame.iloc[positions][columns])
    table = ServerSideTable(chunked)
    answer = table.rows_response(
        {"startRow": 0, "endRow": 3, "sortModel": [{"colId": "wer", "sort": "desc"}]}
    )
    assert [r["utt_id"] for r in answer["rowData"]] == ["u003", "u006", "u001"]


def test_row_index_finds_each_id_and_nothing_else() -> None:
    import pyarrow as pa
    from werbench.dashboard.row_index import RowIndex, arrow_column

    ids = ["b", "a", "c", None, "a", "é", "ab"]
    series = _chunked(pd.DataFrame({"utt_id": ids}))["utt_id"]
    index = RowIndex(arrow_column(series))
    assert arrow_column(series).num_chunks == 3  # the chunks as they are, not a copy of the column
    assert [index.position(k) for k in ("a", "ab", "b", "c", "é")] == [1, 6, 0, 2, 5]  # the first "a"
    assert [index.position(k) for k in ("", "aa", "d", "zz")] == [None] * 4
    assert index.shares(pa.chunked_array([pa.array(ids, pa.string())]))
    assert not index.shares(pa.chunked_array([pa.array(ids[::-1])]))


def test_arrow_and_pandas_sorts_agree_with_blanks_last_and_ties_stable() -> None:
    rng = np.random.default_rng(0)
    wer = rng.choice([0.0, 0.25, 0.5, np.nan], 200)
    frame = pd.DataFrame(
        {"wer": wer, "ref": rng.choice(["a b", "b", "", "é c"], 200), "n": rng.integers(0, 3, 200)}
    )
    frame["mixed"] = pd.Series([1, "x"] * 100, dtype=object)  # no Arrow type: pandas sorts it
    rows = np.flatnonzero(rng.random(200) < 0.7)
    for source in (frame, _chunked(frame.drop(columns="mixed"))):
        for model in (
            [{"colId": "wer", "sort": "desc"}, {"colId": "ref"}],
            [{"colId": "n"}, {"colId": "wer"}],
        ):
            for subset in (rows, np.arange(200)):
                keyed = frame[[m["colId"] for m in model]].iloc[subset].reset_index(drop=True)
                expected = keyed.sort_values(
                    [m["colId"] for m in model],
                    ascending=[m.get("sort") != "desc" for m in model],
                    kind="stable",
                    na_position="last",
                ).index.to_numpy()
                assert sort_order(source, subset, model).tolist() == subset[expected].tolist()
    with pytest.raises(TypeError):  # pandas' own answer to an unorderable column, as before
        sort_order(frame, np.arange(200), [{"colId": "mixed"}])


def test_a_table_with_columns_replaced_keeps_the_views_that_read_none_of_them(frame: pd.DataFrame) -> None:
    cat = {"ref": {"filterType": "text", "type": "contains", "filter": "cat"}}
    quick = ("qf:all", lambda f: np.ones(len(f), bool))
    table = ServerSideTable(frame)
    by_wer, cats, masked = (
        table.view(None, [{"colId": "wer"}]),
        table.view(cat, None),
        table.view(None, None, quick),
    )
    replaced = frame.assign(ref=frame["ref"].str.upper())
    carried = table.carried(replaced, ["ref"])
    assert carried.frame is replaced
    assert carried.view(None, [{"colId": "wer"}]) is by_wer  # reads no replaced column: kept
    assert carried.view(cat, None) is not cats  # filters on one: computed again
    assert carried.view(None, None, quick) is not masked  # a quick filter may read any column


def test_a_new_sorts_first_rows_are_selected_as_the_whole_sort_orders_them() -> None:
    """``sort_head``: Arrow's top-k with positions as the last key gives the stable sort's first rows."""
    rng = np.random.default_rng(1)
    n = 3000
    frame = pd.DataFrame(
        {
            "wer": rng.choice([0.0, 0.25, 0.5, np.nan], n),
            "ref": rng.choice(["a b", "b", "", "é c", None], n),
            "n": rng.integers(0, 3, n),
        }
    )
    rows = np.flatnonzero(rng.random(n) < 0.7)
    for source in (frame, _chunked(frame)):
        for model in (
            [{"colId": "wer", "sort": "desc"}, {"colId": "ref"}],
            [{"colId": "ref", "sort": "desc"}],
            [{"colId": "n"}, {"colId": "wer"}],
        ):
            for subset in (rows, np.arange(n)):
                whole = sort_order(source, subset, model)
                for k in (1, 100, 1000):
                    assert sort_head(source, subset, model, k).tolist() == whole[:k].tolist()
    import pyarrow as pa

    nan = pa.array([1.0, float("nan"), None] * 500)  # Arrow NaN beside nulls: the whole sort decides
    assert (
        sort_head(
            pd.DataFrame({"x": pd.arrays.ArrowExtensionArray(nan)}), np.arange(1500), [{"colId": "x"}], 10
        )
        is None
    )


def test_the_grid_answers_a_new_sort_from_its_head_and_sorts_whole_for_a_later_block() -> None:
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"ref": [f"w{v}" for v in rng.integers(0, 50, 5000)], "wer": rng.random(5000)})
    model = [{"colId": "ref", "sort": "desc"}]
    whole = sort_order(frame, np.arange(5000), model)
    table = ServerSideTable(frame)
    first = table.rows_response({"startRow": 0, "endRow": 100, "sortModel": model})
    assert first["rowCount"] == 5000 and not table._views  # selected, not sorted whole
    assert [r["wer"] for r in first["rowData"]] == frame["wer"].round(6).iloc[whole[:100]].tolist()
    later = table.rows_response({"startRow": 4000, "endRow": 4100, "sortModel": model})
    assert [r["wer"] for r in later["rowData"]] == frame["wer"].round(6).iloc[whole[4000:4100]].tolist()
    assert table.view(None, model).tolist() == whole.tolist()


def test_neighbours_keep_the_last_grid_unless_the_list_reads_the_audio(
    results_dir, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Opening an utterance measures its audio (a new grid version): a list that reads no audio-dependent
    column keeps its order in the grid already built; one sorted by an audio metric takes the new grid."""
    from werbench.dashboard.app import create_app

    workspace = create_app(results_dir, cache_dir=tmp_path / "cache").server.config["WERBENCH_WORKSPACE"]
    analysis = workspace.analysis(workspace.default_normalizer)
    testset = analysis.testsets[0]
    systems = tuple(analysis.systems(testset))
    ids = analysis.reference_rows(testset)["utt_id"].tolist()
    context = {"ts": testset, "systems": list(systems), "qf": "all"}
    by_wer = {"sortModel": [{"colId": "s0_wer", "sort": "desc"}]}
    by_level = {"sortModel": [{"colId": "level_db", "sort": "desc"}]}
    analysis.utterance_grid(testset, systems)

    def around(nav) -> tuple[str | None, str | None]:
        return nav.previous, nav.next

    before = analysis.neighbours(context, by_wer, ids[5])
    assert around(analysis.neighbours(context, by_level, ids[3])) == (ids[2], ids[4])  # nothing measured
    builds: list[tuple] = []
    grid_at = analysis._grid_at
    monkeypatch.setattr(analysis, "_grid_at", lambda *a: builds.append(a) or grid_at(*a))
    analysis.utterance_audio_metrics(testset, ids[3])  # as opening it does: a new audio version
    assert analysis.neighbours(context, by_wer, ids[5]) == before and not builds
    assert around(analysis.neighbours(context, by_level, ids[3])) == (None, ids[0]) and builds  # now first
    assert analysis.neighbours(context, by_wer, ids[5]) == before  # the same order in the new grid
