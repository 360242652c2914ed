"""URL state round trips, and the shared memo that lets many users' threads reuse one computation."""

from __future__ import annotations

import threading
import time

from dash import dcc, html
from werbench.dashboard import state as url_state
from werbench.dashboard.memo import Memo


def test_url_state_round_trip_and_defaults() -> None:
    search = url_state.encode(
        {"sys": ["a@greedy", "b@beam"], "chars": False, "grid": {"x": 1}, "ts": "", "n": 3}
    )
    assert search == "?chars=0&grid=%7B%22x%22%3A1%7D&n=3&sys=a%40greedy%2Cb%40beam"
    state = url_state.parse(search)
    assert url_state.get_list(state, "sys", ["a@greedy", "b@beam", "c"], []) == ["a@greedy", "b@beam"]
    assert url_state.get_list({"sys": "gone,stale"}, "sys", ["a", "b"], ["b"]) == ["b"]  # stale links degrade
    assert url_state.get_choice({"a": "nope"}, "a", ["x", "y"], "y") == "y"
    assert url_state.get_json(state, "grid") == {"x": 1}
    assert url_state.get_json({"grid": "{broken"}, "grid") == {}
    assert "grid" not in url_state.view_state(state)  # a grid's filter model updates in place
    assert (
        url_state.link("/compare", {"ts": "t", "norm": "nemo", "id": "u1"}, a="x")
        == "/compare?a=x&norm=nemo&ts=t"
    )


def test_control_values_are_read_from_a_built_layout() -> None:
    layout = html.Div(
        [
            dcc.Dropdown(id=url_state.url_id("sys"), value=["a"]),
            html.Div(dcc.RadioItems(id=url_state.url_id("qf"), value="all")),
            dcc.Input(id="other"),
        ]
    )
    assert url_state.control_values(layout) == {"sys": ["a"], "qf": "all"}


def test_memo_computes_once_for_concurrent_users_and_evicts_least_recent() -> None:
    memo, calls = Memo(maxsize=2), []

    def slow() -> int:
        calls.append(1)
        time.sleep(0.05)
        return 42

    threads = [threading.Thread(target=lambda: memo.get("k", slow)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == [1] and memo.get("k", slow) == 42
    memo.get("a", lambda: 1)
    memo.get("k", slow)  # touch: "a" is now the least recent
    memo.get("b", lambda: 2)
    assert memo.get("a", lambda: -1) == -1 and len(calls) == 1
