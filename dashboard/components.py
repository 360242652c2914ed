"""Shared look of every page: headers, metric cards, word diffs, plot styling, download buttons."""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterable, Sequence
from typing import Any

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
import pandas as pd
import plotly.graph_objects as go
from dash import dcc, html
from werbench.analysis.confidence import CONFIDENT, DOUBTFUL
from werbench.dashboard.grid import records
from werbench.dashboard.state import url_id

# One colour per operation, used by word diffs, legends and plots alike.
# "d"/"i" (sclite -D): an optionally deletable word left out of the reference or hypothesis, correct
OP_CLASS = {"C": "op-c", "S": "op-s", "D": "op-d", "I": "op-i", "d": "op-c", "i": "op-c"}
OP_TITLE = {
    "C": "correct",
    "S": "substitution",
    "D": "deletion",
    "I": "insertion",
    "d": "optional word left out (correct)",
    "i": "optional word inserted (correct)",
}
SYSTEM_COLOURS = ("#2c3e50", "#18bc9c", "#e67e22", "#3498db", "#9b59b6", "#e74c3c", "#95a5a6", "#f1c40f")
DASH = "\u2013"  # shown for a missing number


def d3_format(spec: str) -> dict[str, str]:
    """An AG Grid valueFormatter using d3-format (bundled with dash-ag-grid); blanks show as a dash."""
    return {"function": f"params.value == null ? '{DASH}' : d3.format('{spec}')(params.value)"}


FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"


def pct(value: float | None, digits: int = 2) -> str:
    """Rates are fractions in the tables and percentages on screen."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return DASH
    return f"{100 * value:.{digits}f}%"


def number(value: float | int | None, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return DASH
    return f"{value:,.{digits}f}"


def page_header(title: str, subtitle: str, controls: Sequence[Any] = ()) -> html.Div:
    return html.Div(
        [
            html.Div([html.H2(title, className="page-title"), html.P(subtitle, className="page-subtitle")]),
            html.Div(list(controls), className="page-controls"),
        ],
        className="page-header",
    )


def labelled(label: str, control: Any, width: str = "14rem") -> html.Div:
    return html.Div([html.Label(label, className="control-label"), control], style={"width": width})


def select(
    key: str,
    options: Iterable[str],
    value: Any,
    *,
    multi: bool = False,
    label: str = "",
    width: str = "14rem",
    clearable: bool = False,
    labels: dict[str, str] | None = None,
) -> html.Div:
    """A dropdown mirrored into the URL under ``key``."""
    opts = [{"label": (labels or {}).get(o, o), "value": o} for o in options]
    control = dcc.Dropdown(
        id=url_id(key), options=opts, value=value, multi=multi, clearable=clearable, className="wb-select"
    )
    return labelled(label, control, width) if label else control


def testset_and_normalizer(
    testsets: Sequence[str], testset: str | None, normalizers: Sequence[str], normalizer: str
) -> list[html.Div]:
    """The two global choices every page header carries."""
    return [
        select("ts", testsets, testset, label="Test set", width="13rem"),
        select("norm", normalizers, normalizer, label="Text mode", width="10rem"),
    ]


def metric_card(label: str, value: str, hint: str = "", tone: str = "") -> dbc.Card:
    return dbc.Card(
        dbc.CardBody(
            [
                html.Div(label, className="metric-label"),
                html.Div(value, className=f"metric-value {tone}"),
                html.Div(hint, className="metric-hint"),
            ]
        ),
        className="metric-card",
    )


def card(title: str, body: Any, *, actions: Sequence[Any] = (), class_name: str = "") -> dbc.Card:
    header = dbc.CardHeader(
        [html.Span(title, className="card-title-text"), html.Div(list(actions), className="card-actions")],
        className="wb-card-header",
    )
    return dbc.Card([header, dbc.CardBody(body)], className=f"wb-card {class_name}")


def csv_button(button_id: Any, label: str = "CSV") -> dbc.Button:
    return dbc.Button(["⤓ ", label], id=button_id, size="sm", color="light", className="wb-download")


def empty(message: str) -> html.Div:
    return html.Div(message, className="empty-state")


def confidence_class(value: float) -> str:
    """The confidence band of a hypothesis word: at or above ``CONFIDENT`` high, below ``DOUBTFUL`` low
    (the thresholds of the "confident errors" and "doubtful but right" filters), else mid."""
    return "conf-high" if value >= CONFIDENT else "conf-low" if value < DOUBTFUL else "conf-mid"


def confidence_legend(measure: str) -> html.Span:
    """What the overline colours of hypothesis words mean (their ``measure``, analysis.confidence)."""
    return html.Span(
        [
            html.Span("confidence", className="me-1"),
            html.Span(f"\u2265 {CONFIDENT:g}", className="legend-chip w conf-high"),
            html.Span(f"{DOUBTFUL:g}\u2013{CONFIDENT:g}", className="legend-chip w conf-mid"),
            html.Span(f"< {DOUBTFUL:g}", className="legend-chip w conf-low"),
        ],
        className="confidence-legend small",
        title=f"Line over a word: its confidence ({measure}, analysis.confidence). A confident "
        f"error is a wrong word at {CONFIDENT:g} or more; doubtful but right, a correct word under "
        f"{DOUBTFUL:g}.",
    )


def word_diff(
    pairs: Iterable[tuple[str, str | None, str | None]],
    times: Sequence[Sequence[float]] | None = None,
    clickable_id: dict | None = None,
    confidence: Sequence[float] | None = None,
) -> html.Div:
    """Reference and hypothesis interleaved: substitutions show ``ref → hyp``, deletions struck out.

    With ``times`` (one ``[start, end]`` per hypothesis word) hypothesis words carry ``data-start`` so a click
    seeks the audio player there (assets/werbench.js); with ``confidence`` (one per hypothesis word) they
    carry a line in their confidence band's colour (``confidence_class``) and say it on hover.
    """
    spans: list[Any] = []
    hyp_index = 0
    for op, ref, hyp in pairs:
        start = conf = None
        if hyp is not None:
            if times is not None and hyp_index < len(times):
                start = times[hyp_index][0]
            if confidence is not None and hyp_index < len(confidence):
                conf = confidence[hyp_index]
            hyp_index += 1
        attrs = {"data-start": f"{start:.3f}"} if start is not None else {}
        title = OP_TITLE[op] + (f" at {start:.2f}s" if start is not None else "")
        written = op == "C" and hyp is not None and hyp != ref  # a raw diff: written differently
        title += ", written differently" if written else ""
        title += f" \u00b7 confidence {conf:.2f}" if conf is not None else ""
        band = "" if conf is None else " " + confidence_class(conf)
        if op == "S" or written:
            content = [
                html.Span(ref, className="ref-word"),
                html.Span("→", className="arrow"),
                html.Span(hyp, className="hyp-word" + band),
            ]
            band = ""  # on the recognised word only
        else:
            content = ref if op in "CD" else hyp
        spans.append(
            html.Span(
                content,
                className=f"w {OP_CLASS[op]}" + band + (" seekable" if attrs else ""),
                title=title,
                **attrs,
            )
        )
        spans.append(" ")
    return html.Div(spans, className="word-diff")


def char_diff(pairs: Iterable[tuple[str, str | None, str | None]]) -> html.Div:
    """Character alignment shown as two rows, reference above hypothesis, errors coloured."""
    ref_row, hyp_row = [], []
    for op, ref, hyp in pairs:
        cls = f"c {OP_CLASS[op]}"
        ref_row.append(html.Span("·" if ref in (None, " ") else ref, className=cls))
        hyp_row.append(html.Span("·" if hyp in (None, " ") else hyp, className=cls))
    return html.Div(
        [html.Div(ref_row, className="char-row"), html.Div(hyp_row, className="char-row")],
        className="char-diff",
    )


def style_figure(fig: go.Figure, *, height: int = 340, legend: bool = True) -> go.Figure:
    """One plot style for the whole product."""
    fig.update_layout(
        template="plotly_white",
        height=height,
        margin={"l": 56, "r": 16, "t": 28, "b": 48},
        font={"family": FONT, "size": 12, "color": "#2c3e50"},
        colorway=list(SYSTEM_COLOURS),
        showlegend=legend,
        legend={"orientation": "h", "y": 1.08, "x": 0},
        hoverlabel={"font": {"family": FONT}},
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
    )
    fig.update_xaxes(gridcolor="#ecf0f1", zerolinecolor="#dfe6e9")
    fig.update_yaxes(gridcolor="#ecf0f1", zerolinecolor="#dfe6e9")
    return fig


@functools.cache
def _styled_layout(height: int, legend: bool) -> str:
    """``style_figure``'s layout, as JSON, built once per size (its template is deep-copied and validated
    on every figure: ~40 ms each)."""
    return json.dumps(json.loads(style_figure(go.Figure(), height=height, legend=legend).to_json())["layout"])


def figure_dict(data: list[dict[str, Any]], *, height: int = 340, legend: bool = True, **layout: Any) -> dict:
    """A figure in ``style_figure``'s style as the plain dict ``dcc.Graph`` takes, for figures drawn on
    every visit of a page: traces and ``layout`` keys as plotly.js reads them (a dict merged into the
    style's, e.g. an axis' title beside its grid colour), nothing validated."""
    styled = json.loads(_styled_layout(height, legend))
    for key, value in layout.items():
        styled[key] = {**styled.get(key, {}), **value} if isinstance(value, dict) else value
    return {"data": data, "layout": styled}


def graph(figure: go.Figure | dict, graph_id: Any = None, **kwargs: Any) -> dcc.Graph:
    props = {"figure": figure, "config": {"displaylogo": False, "responsive": True}, **kwargs}
    return dcc.Graph(id=graph_id, **props) if graph_id is not None else dcc.Graph(**props)


def system_colour(systems: Sequence[str], system: str) -> str:
    return (
        SYSTEM_COLOURS[list(systems).index(system) % len(SYSTEM_COLOURS)] if system in systems else "#7f8c8d"
    )


def small_grid(grid_id: str, frame: pd.DataFrame, columns: list[dict[str, Any]]) -> dag.AgGrid:
    """A grid as tall as its rows, for the short summary tables (a row per system or class)."""
    return dag.AgGrid(
        id=grid_id, rowData=records(frame), columnDefs=columns, className="ag-theme-quartz wb-grid",
        defaultColDef={"sortable": True, "resizable": True, "filter": True},
        dashGridOptions={"domLayout": "autoHeight", "tooltipShowDelay": 300}, style={"width": "100%"},
    )  # fmt: skip
