"""How the utterance and vocabulary grids look: AG Grid column definitions (with their JavaScript
snippets) and the quick filters, expressed on the grid's columns (``s<k>_<field>`` for the k-th system).

Nothing here computes a number: the columns hold what ``analysis`` computed, the adapter
(``dashboard.data``) lays them out.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from werbench.analysis.audio_metrics import ERROR, LABELS, METRICS
from werbench.analysis.confidence import CONFIDENT, DOUBTFUL
from werbench.analysis.filter_expr import Field
from werbench.dashboard import components as ui
from werbench.dashboard.grid_view import QuickFilter

QUICK_FILTERS = (
    "all", "errors", "a_better", "b_better", "changed", "failed", "hallucinations", "confident_errors",
    "doubtful_right",
)  # fmt: skip
# per-system word counts from analysis.confidence.utterance_confidence (systems with word confidences)
CONFIDENCE_COUNTS = ("confident_errors", "doubtful_right")
PER_SYSTEM = ("wer", "cer", "wmr", "S", "D", "I", "d_minus_i", "hyp")  # per-system grid columns, in order
RATES = ("wer", "cer", "wmr")  # stored as fractions, shown (and written in filter expressions) in percent

_SYSTEM_COLUMN = re.compile(r"s\d+_")  # the grid's per-system columns
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
_FIXED2 = ui.d3_format(".2f")
_AUDIO_COLUMNS = [
    {"field": "freq_bandwidth", "headerName": LABELS["freq_bandwidth"], **_NUMBER, "width": 140,
     "valueFormatter": ui.d3_format(",.0f"), "headerTooltip": "SDE's frequency bandwidth (-50 dB)"},
    {"field": "level_db", "headerName": LABELS["level_db"], **_NUMBER, "width": 100,
     "valueFormatter": ui.d3_format(".1f"), "headerTooltip": "SDE's peak level, dBFS"},
    {"field": "snr_db", "headerName": LABELS["snr_db"], **_NUMBER, "width": 98,
     "valueFormatter": ui.d3_format(".1f"), "headerTooltip": "blind estimate: loud frames over noise floor"},
    {"field": ERROR, "headerName": "Audio problem", "width": 180, **_TEXT, "tooltipField": ERROR},
]  # fmt: skip


def utterance_columns(
    systems: Sequence[str],
    extra: Sequence[str],
    numeric: set[str],
    audio: bool = False,
    speaker: bool = True,
    confidence: Collection[int] = (),
) -> list[dict[str, Any]]:
    """The utterance grid: reference fields (``speaker`` when the test set has any), the audio metrics
    (``audio``: measured on demand), scalar manifest fields ``extra`` (``numeric`` ones filtered as
    numbers), then a column group per system (WER shown, the rest on opening the group; the systems at
    positions ``confidence`` have word confidences: their confident errors and doubtful-right words)."""
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
            "valueFormatter": _FIXED2,
        },
        *([{"field": "speaker", "headerName": "Speaker", "width": 110, **_TEXT}] if speaker else []),
        {"field": "ref_words", "headerName": "Words", **_COUNT, "width": 84},
        {"field": "ref_chars", "headerName": "Chars", **_COUNT, "width": 84},
        {"field": "words_per_s", "headerName": "Words/s", **_NUMBER, "width": 96, "valueFormatter": _FIXED2},
        {"field": "chars_per_s", "headerName": "Chars/s", **_NUMBER, "width": 96, "valueFormatter": _FIXED2},
        *(_AUDIO_COLUMNS if audio else []),
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
                    {"field": f"s{k}_wmr", "headerName": "WMR", **_PCT, "columnGroupShow": "open"},
                    {"field": f"s{k}_S", "headerName": "S", **_COUNT, "columnGroupShow": "open"},
                    {"field": f"s{k}_D", "headerName": "D", **_COUNT, "columnGroupShow": "open"},
                    {"field": f"s{k}_I", "headerName": "I", **_COUNT, "columnGroupShow": "open"},
                    {"field": f"s{k}_d_minus_i", "headerName": "D-I", **_COUNT, "columnGroupShow": "open"},
                    {
                        "field": f"s{k}_hallucination",
                        "headerName": "Hallucination",
                        "headerTooltip": "analysis.hallucinations: insertion runs, loops, words on silence, "
                        "too many words per second",
                        "width": 180,
                        **_TEXT,
                        "tooltipField": f"s{k}_hallucination",
                        "cellStyle": {"function": "params.value ? {color: '#b45309', fontWeight: 600} : {}"},
                        "columnGroupShow": "open",
                    },
                    *(_confidence_columns(k) if k in confidence else []),
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


def _confidence_columns(k: int) -> list[dict[str, Any]]:
    """The k-th system's confident errors and doubtful-but-right words (thresholds in the tooltips)."""
    tips = {
        "confident_errors": f"wrong words (S, I) at confidence >= {CONFIDENT:g} (analysis.confidence)",
        "doubtful_right": f"correct words at confidence < {DOUBTFUL:g} (analysis.confidence)",
    }
    heads = {"confident_errors": "Confident errors", "doubtful_right": "Doubtful right"}
    return [
        {"field": f"s{k}_{c}", "headerName": heads[c], "headerTooltip": tips[c], **_COUNT, "width": 96,
         "columnGroupShow": "open",
         "cellStyle": {"function": "params.value > 0 ? {color: '#b45309', fontWeight: 600} : {}"}}
        for c in CONFIDENCE_COUNTS
    ]  # fmt: skip


def filter_fields(
    systems: Sequence[str],
    extra: Sequence[str],
    numeric: set[str],
    audio: bool = False,
    speaker: bool = True,
    confidence: Collection[int] = (),
) -> dict[str, Field]:
    """The names a filter expression (``analysis.filter_expr``) may use on the utterance grid: reference
    fields (``text`` is the normalised reference), ``speaker`` where the rows have one, the audio metrics,
    manifest fields, and per system ``wer[NAME]`` etc.; the bare ``wer`` is the first system's. Rates are
    written in percent, as shown. Systems at positions ``confidence`` add ``confident_errors[NAME]`` and
    ``doubtful_right[NAME]``."""
    fields = {
        "utt_id": Field("utt_id", "text"),
        "text": Field("ref", "text"),
        "ref": Field("ref", "text"),
        **({"speaker": Field("speaker", "text")} if speaker else {}),
        "duration": Field("duration", "number"),
        "words": Field("ref_words", "number"),
        "chars": Field("ref_chars", "number"),
        "words_per_s": Field("words_per_s", "number"),
        "chars_per_s": Field("chars_per_s", "number"),
    }
    if audio:
        fields.update({m: Field(m, "number") for m in METRICS} | {ERROR: Field(ERROR, "text")})
    fields.update({c: Field(c, "number" if c in numeric else "text") for c in extra})
    for k, system in enumerate(systems):
        for name in PER_SYSTEM:
            field = Field(
                f"s{k}_{name}", "text" if name == "hyp" else "number", 100.0 if name in RATES else 1.0
            )
            names = (name, "d-i") if name == "d_minus_i" else (name,)
            for alias in names:
                fields[f"{alias}[{system}]"] = field
                if k == 0:
                    fields[alias] = field
        fields[f"hallucination[{system}]"] = Field(f"s{k}_hallucination", "text")
        if k == 0:
            fields["hallucination"] = fields[f"hallucination[{system}]"]
        for name in CONFIDENCE_COUNTS if k in confidence else ():
            fields[f"{name}[{system}]"] = Field(f"s{k}_{name}", "number")
            fields.setdefault(name, fields[f"{name}[{system}]"])
    return fields


def numeric_fields(fields: Mapping[str, Field]) -> dict[str, Field]:
    """Every numeric field of the utterance grid once (for histograms and scatters): reference and
    manifest fields by name, each system's by ``name[system]`` (the filter expression's names)."""
    return {
        name: field
        for name, field in fields.items()
        if field.kind == "number"
        and ("[" in name) == bool(_SYSTEM_COLUMN.match(field.column))
        and not name.startswith("d-i")
    }


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
    if name == "hallucinations":
        cols = [f"s{k}_hallucination" for k in range(len(systems))]
        return name, lambda f: (f[cols].fillna("") != "").any(axis=1).to_numpy()
    if name in CONFIDENCE_COUNTS:  # any system with such a word; systems without confidences have no column

        def counted(f: pd.DataFrame) -> np.ndarray:
            cols = [c for k in range(len(systems)) if (c := f"s{k}_{name}") in f]
            return (f[cols] > 0).any(axis=1).to_numpy() if cols else np.zeros(len(f), dtype=bool)

        return name, counted
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
