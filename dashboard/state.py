"""The view state lives in the URL query string, so every view is a link that can be shared or bookmarked.

Controls whose id is ``{"type": "url", "key": K}`` are mirrored into ``?K=value`` by one generic callback and
the page is rebuilt from the URL, so a view is a pure function of its link. Stores whose id is
``{"type": "url-json", "key": K}`` (a grid's filter/sort model) are mirrored too, but update in place.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

URL_CONTROL = "url"
URL_STORE = "url-json"
GLOBAL_KEYS = ("ts", "norm")  # carried along by the menu links
IN_PLACE_KEYS = frozenset({"grid"})  # mirrored for links, but the page already shows them: no rebuild
LIST_SEP = ","


def url_id(key: str) -> dict[str, str]:
    """The id of a control that the URL mirrors (property ``value``)."""
    return {"type": URL_CONTROL, "key": key}


def url_store_id(key: str) -> dict[str, str]:
    """The id of a ``dcc.Store`` whose JSON ``data`` the URL mirrors (e.g. a grid's filter/sort model)."""
    return {"type": URL_STORE, "key": key}


def parse(search: str | None) -> dict[str, str]:
    return dict(parse_qsl((search or "").lstrip("?"), keep_blank_values=False))


def encode(state: Mapping[str, Any]) -> str:
    """``?k=v&...`` with keys sorted and empty values dropped; lists are comma-joined, bools are 1/0."""
    pairs = []
    for key in sorted(state):
        value = state[key]
        if value is None or value == "" or value == [] or value == {}:
            continue
        if isinstance(value, bool):
            value = "1" if value else "0"
        elif isinstance(value, list | tuple):
            value = LIST_SEP.join(str(v) for v in value)
        elif isinstance(value, dict):
            value = json.dumps(value, separators=(",", ":"), sort_keys=True)
        pairs.append((key, str(value)))
    return "?" + urlencode(pairs) if pairs else ""


def get_list(state: Mapping[str, str], key: str, allowed: Iterable[str], default: list[str]) -> list[str]:
    """A comma-separated list from the URL, keeping only known values (stale links degrade gracefully)."""
    known = list(allowed)
    chosen = [v for v in state.get(key, "").split(LIST_SEP) if v in known]
    return chosen or [v for v in default if v in known]


def get_choice(state: Mapping[str, str], key: str, allowed: Iterable[str], default: str | None) -> str | None:
    known = list(allowed)
    value = state.get(key)
    if value in known:
        return value
    return default if default in known else (known[0] if known else None)


def get_json(state: Mapping[str, str], key: str) -> dict[str, Any]:
    try:
        value = json.loads(state.get(key, "{}"))
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def view_state(state: Mapping[str, Any]) -> dict[str, str]:
    """The part of the state that defines what the page shows, as the URL spells it (a change rebuilds)."""
    return {k: v for k, v in parse(encode(state)).items() if k not in IN_PLACE_KEYS}


def control_values(layout: Any) -> dict[str, Any]:
    """The values a freshly built page gives its URL-mirrored controls (defaults filled in).

    The router records them, so that the page's first write of its controls into the URL (which only
    spells out those defaults) is not mistaken for a user's change.
    """
    values = {}
    for component in layout._traverse() if hasattr(layout, "_traverse") else ():
        ident = getattr(component, "id", None)
        if isinstance(ident, dict) and ident.get("type") == URL_CONTROL:
            values[ident["key"]] = getattr(component, "value", None)
    return values


def link(path: str, state: Mapping[str, Any], **changes: Any) -> str:
    """``path`` + the global state + ``changes``: how pages link to each other without losing context."""
    merged = {k: state[k] for k in GLOBAL_KEYS if k in state}
    merged.update(changes)
    return path + encode(merged)
