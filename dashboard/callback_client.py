"""Call a Dash callback over HTTP exactly as the browser's renderer does, for benchmarks and tests.

Going through ``/_dash-update-component`` (Flask's test client or a live server) measures and checks what a
user gets: routing, argument decoding, the callback, and JSON encoding of the answer.
"""

from __future__ import annotations

import json
import time
from typing import Any


def callback_key(app: Any, first_output: str) -> str:
    """The callback-map key of the callback whose (first) output is ``first_output`` (``"id.prop"``)."""
    for key in app.callback_map:
        if key.lstrip(".").startswith(first_output):
            return key
    raise KeyError(f"no callback outputs {first_output}")


def outputs_of(key: str) -> list[dict[str, Any]]:
    parts = key.strip(".").split("...") if key.startswith("..") else [key]
    outs = []
    for part in parts:
        ident, prop = part.rsplit(".", 1)
        outs.append({"id": json.loads(ident) if ident.startswith("{") else ident, "property": prop})
    return outs


def post_callback(
    client: Any, app: Any, first_output: str, inputs: list[dict[str, Any]], state: list[dict[str, Any]] = ()
) -> tuple[float, dict[str, Any]]:
    """POST one callback; returns (milliseconds, response JSON, ``{}`` when it answered 204 no update)."""
    key = callback_key(app, first_output)
    outputs = outputs_of(key)
    payload = {
        "output": key,
        "outputs": outputs if key.startswith("..") else outputs[0],
        "inputs": inputs,
        "state": list(state),
        "changedPropIds": [f"{inputs[0]['id']}.{inputs[0]['property']}"],
    }
    start = time.perf_counter()
    response = client.post("/_dash-update-component", json=payload)
    elapsed = (time.perf_counter() - start) * 1000
    if response.status_code not in (200, 204):
        raise RuntimeError(f"{first_output}: HTTP {response.status_code}: {response.data[:500]!r}")
    return elapsed, (response.get_json() if response.status_code == 200 else {})


def render_page(client: Any, app: Any, path: str) -> tuple[float, dict[str, Any]]:
    """The router callback building the page at ``path`` (``/utterance?ts=..&id=..``), as the browser asks
    for it on navigation: (milliseconds, response JSON; layout at ``["response"]["page"]["children"]``)."""
    pathname, _, query = path.partition("?")
    return post_callback(
        client,
        app,
        "page.children",
        [
            {"id": "url", "property": "pathname", "value": pathname},
            {"id": "url", "property": "search", "value": f"?{query}" if query else ""},
        ],
        [{"id": "rendered", "property": "data", "value": {}}],
    )
