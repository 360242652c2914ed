"""How the utterance and vocabulary grids look: AG Grid column definitions (with their JavaScript
snippets) and the quick filters, expressed on the grid's columns (``s<k>_<field>`` for the k-th system).

Nothing here computes a number: the columns hold what ``analysis`` computed, the adapter
(``dashboard.data``) lays them out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from werbench.dashboard import components as ui
from werbench.dashboard.grid_view import QuickFilter

QUICK_FILTERS = ("all", "errors", "a_better", "b_better", "changed", "failed")
PER_SYSTEM = ("wer", "cer", "S", "D", "I", "hyp")  # per-system columns of the utterance grid, in order

_TEXT = {
    "filter": "agTextColumnFilter",
    "filterParams": {
        "filterOptions": ["contains", "notContains", "equals", "notEqual", "startsWith", "endsWith"],
        "maxNumConditions": 2,
    },
}
_NUMBER = {"filter": "agNumberColumnFilter", "type": "rightAligned"}
_PCT = {**_NUMBER, "valueFormatter": ui.d3_format(".1%"), "width": 92}
_COUNT = {**_NUMBER, "width": 74}


def utterance_columns(
    systems: Sequence[str], extra: Sequence[str], numeric: set[str]
) -> list[dict[str, Any]]:
    """The utterance grid: reference fields, scalar manifest fields ``extra`` (``numeric`` ones filtered
    as numbers), then a column group per system (WER shown, the rest on opening the group)."""
    defs: list[dict[str, Any]] = [
        {
            "field": "utt_id",
            "headerName": "Utterance",
            "pinned": "left",
            "width": 190,
            **_TEXT,
            "cellClass": "link-cell",
            "tooltipField": "utt_id",
        },
        {"field": "ref", "headerName": "Reference", "width": 340, **_TEXT, "tooltipField": "ref"},
        {
            "field": "duration",
            "headerName": "Dur (s)",
            **_NUMBER,
            "width": 92,
            "valueFormatter": {"function": "params.value == null ? '' : d3.format('.2f')(params.value)"},
        },
        {"field": "speaker", "headerName": "Speaker", "width": 110, **_TEXT},
        {"field": "ref_words", "headerName": "Words", **_COUNT, "width": 84},
        *[{"field": c, "headerName": c, "width": 110, **(_NUMBER if c in numeric else _TEXT)} for c in extra],
    ]
    for k, system in enumerate(systems):
        defs.append(
            {
                "headerName": system,
                "marryChildren": True,
                "children": [
                    {
                        "field": f"s{k}_wer",
                        "headerName": "WER",
                        **_PCT,
                        "cellStyle": {
                            "function": "params.value > 0 ? {color: '#c0392b', fontWeight: 600} : {}"
                        },
                    },
                    {"field": f"s{k}_cer", "headerName": "CER", **_PCT, "columnGroupShow": "open"},
                    {"field": f"s{k}_S", "headerName": "S", **_COUNT, "columnGroupShow": "open"},
                    {"field": f"s{k}_D", "headerName": "D", **_COUNT, "columnGroupShow": "open"},
                    {"field": f"s{k}_I", "headerName": "I", **_COUNT, "columnGroupShow": "open"},
                    {
                        "field": f"s{k}_hyp",
                        "headerName": "Hypothesis",
                        "width": 320,
                        **_TEXT,
                        "tooltipField": f"s{k}_hyp",
                    },
                ],
            }
        )
    return defs


def vocabulary_columns(systems: Sequence[str], source: str | None) -> list[dict[str, Any]]:
    """The vocabulary grid: word, count, OOV flag (against ``source``), each system's accuracy and errors."""
    defs: list[dict[str, Any]] = [
        {
            "field": "word",
            "headerName": "Word",
            "pinned": "left",
            "width": 180,
            "filter": "agTextColumnFilter",
        },
        {
            "field": "count",
            "headerName": "Count",
            "type": "rightAligned",
            "filter": "agNumberColumnFilter",
            "sort": "desc",
            "width": 100,
        },
        {
            "field": "oov",
            "headerName": f"OOV ({source})" if source else "OOV",
            "width": 130,
            "filter": "agTextColumnFilter",
        },
    ]
    for k, system in enumerate(systems):
        defs.append(
            {
                "headerName": system,
                "children": [
                    {
                        "field": f"s{k}_acc",
                        "headerName": "Accuracy",
                        "type": "rightAligned",
                        "filter": "agNumberColumnFilter",
                        "width": 110,
                        "valueFormatter": {**ui.d3_format(".1%")},
                    },
                    {
                        "field": f"s{k}_err",
                        "headerName": "Errors",
                        "type": "rightAligned",
                        "filter": "agNumberColumnFilter",
                        "width": 90,
                    },
                ],
            }
        )
    return defs


def quick_filter(systems: Sequence[str], name: str, a: str | None, b: str | None) -> QuickFilter | None:
    """The mask behind a quick-filter button, on the utterance grid's columns (the analysis' numbers)."""
    if name == "all" or not systems:
        return None
    index = {s: k for k, s in enumerate(systems)}
    if name in ("errors", "failed"):
        column = "sentence_error" if name == "errors" else "failed"
        cols = [f"s{k}_{column}" for k in range(len(systems))]
        return name, lambda f: f[cols].fillna(False).astype(bool).any(axis=1).to_numpy()
    if name in ("a_better", "b_better") and a in index and b in index:
        wa, wb = f"s{index[a]}_wer", f"s{index[b]}_wer"
        first, second = (wa, wb) if name == "a_better" else (wb, wa)
        return f"{name}:{a}:{b}", lambda f: (f[first] < f[second]).fillna(False).to_numpy()
    if name == "changed":
        groups: dict[str, list[int]] = {}
        for s, k in index.items():
            groups.setdefault(s.split("@", 1)[0], []).append(k)
        pairs = [(g[0], k) for g in groups.values() for k in g[1:]]

        def changed(f: pd.DataFrame) -> np.ndarray:
            mask = np.zeros(len(f), dtype=bool)
            for first, other in pairs:
                mask |= (f[f"s{first}_hyp"] != f[f"s{other}_hyp"]).fillna(False).to_numpy()
            return mask

        return name, changed
    return None
