"""Compare two systems: utterance and word scatters, improved/regressed lists, significance, 3-way diff."""

from __future__ import annotations

from typing import Any

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from dash import Dash, Input, Output, State, ctx, dcc, html, no_update
from werbench.dashboard import components as ui
from werbench.dashboard import state as url_state
from werbench.dashboard.class_views import class_pairs_grid
from werbench.dashboard.confidence_views import FIXED3, confidence_help, confidence_select, for_measure
from werbench.dashboard.data import PairView
from werbench.dashboard.grid import records
from werbench.dashboard.grid_config import numeric_fields
from werbench.dashboard.pages.base import Page, PageContext
from werbench.dashboard.workspace import Workspace

EMPTY = "\u2205"  # an empty slot in the three-way view
OUTCOME_LABELS = {"improved": "B better", "regressed": "A better", "tied": "tied", "failed": "failed in one"}
MAX_POINTS = 20_000  # a scatter beyond this is a blur that costs megabytes; ties on the diagonal go first
LIST_ROWS = 200
THREE_WAY_ROWS = 12


def default_pair(systems: list[str]) -> tuple[str | None, str | None]:
    """The first system (the first model's first pass: systems come grouped by model, decoders in pipeline
    order) against the same decoder on the next model, e.g. ``base@greedy`` vs ``tuned@greedy``; without
    such a twin, against the next system."""
    if not systems:
        return None, None
    a = systems[0]
    model, _, decoder = a.partition("@")
    twins = [s for s in systems[1:] if s.partition("@")[2] == decoder and s.partition("@")[0] != model]
    return a, twins[0] if twins else (systems[1] if len(systems) > 1 else a)


def _pair(page: PageContext) -> tuple[str | None, str | None]:
    systems = page.systems
    first, second = default_pair(systems)
    a = url_state.get_choice(page.state, "a", systems, first)
    b = url_state.get_choice(page.state, "b", systems, second)
    return a, b


def _scatter_points(per_utt: pd.DataFrame) -> pd.DataFrame:
    if len(per_utt) <= MAX_POINTS:
        return per_utt
    changed = per_utt[per_utt["delta"] != 0]
    ties = per_utt[per_utt["delta"] == 0]
    keep = changed.sample(min(len(changed), MAX_POINTS), random_state=0)
    room = MAX_POINTS - len(keep)
    return pd.concat([keep, ties.sample(min(room, len(ties)), random_state=0)]) if room > 0 else keep


def _utterance_scatter(cmp: PairView) -> go.Figure:
    points = _scatter_points(cmp.per_utterance)
    fig = go.Figure()
    colours = {"improved": "#18bc9c", "regressed": "#e74c3c", "tied": "#95a5a6", "failed": "#f39c12"}
    rng = np.random.default_rng(0)
    for outcome, group in points.groupby("outcome"):
        jitter = rng.uniform(-0.004, 0.004, size=(2, len(group)))  # identical WER pairs would hide each other
        fig.add_trace(
            go.Scattergl(
                x=100 * group["wer_a"] + 100 * jitter[0],
                y=100 * group["wer_b"] + 100 * jitter[1],
                mode="markers",
                name=f"{OUTCOME_LABELS.get(outcome, outcome)} ({len(group):,})",
                customdata=group["utt_id"],
                marker={"size": 6, "opacity": 0.6, "color": colours.get(outcome, "#7f8c8d")},
                hovertemplate="%{customdata}<br>A %{x:.1f}% · B %{y:.1f}%<extra></extra>",
            )
        )
    top = float(max(100 * points["wer_a"].max(), 100 * points["wer_b"].max(), 1.0)) if len(points) else 100.0
    fig.add_shape(type="line", x0=0, y0=0, x1=top, y1=top, line={"dash": "dot", "color": "#7f8c8d"})
    fig.update_layout(xaxis_title=f"WER of A: {cmp.a} (%)", yaxis_title=f"WER of B: {cmp.b} (%)")
    shown = "" if len(points) == len(cmp.per_utterance) else f" (a sample of {len(points):,})"
    fig.update_layout(
        title={
            "text": f"{len(cmp.per_utterance):,} utterances{shown}; click one to open it",
            "font": {"size": 12},
            "x": 0.01,
        }
    )
    return ui.style_figure(fig, height=420)


def _any_scatter(page: PageContext, a: str, b: str) -> html.Div:
    """SDE's comparison scatter with selectable axes, colour and size: any per-utterance number of either
    system or the reference (colour may also be a text field, e.g. speaker or a manifest tag)."""
    grid = page.analysis.utterance_grid(page.testset, (a, b))
    numbers = numeric_fields(grid.filter_fields)
    frame = grid.table.frame
    texts = [  # categories to colour by: speaker and text manifest fields of few values
        n for n, f in grid.filter_fields.items()
        if f.kind == "text" and n not in ("utt_id", "ref", "text") and "[" not in n
        and not n.startswith("hyp")
        and f.column in frame and frame[f.column].nunique() <= 30
    ]  # fmt: skip
    x = url_state.get_choice(page.state, "sx", list(numbers), f"wer[{a}]")
    y = url_state.get_choice(page.state, "sy", list(numbers), f"wer[{b}]")
    colour = url_state.get_choice(page.state, "sc", ["", *numbers, *texts], "")
    size = url_state.get_choice(page.state, "ss", ["", *numbers], "")
    if len(frame) > MAX_POINTS:
        frame = frame.sample(MAX_POINTS, random_state=0)

    def values(name: str) -> np.ndarray:
        field = numbers[name]
        return pd.to_numeric(frame[field.column], errors="coerce").to_numpy(float) * field.scale

    marker: dict[str, Any] = {"size": 7, "opacity": 0.65, "color": "#2c3e50"}
    if size:
        raw = values(size)
        span = np.nanmax(raw) - np.nanmin(raw) if np.isfinite(raw).any() else 0.0
        marker["size"] = np.nan_to_num(
            4 + 14 * (raw - np.nanmin(raw)) / span if span else np.full(len(raw), 7.0), nan=3.0
        )
    fig = go.Figure()
    if colour in numbers:
        marker.update(color=values(colour), colorscale="Viridis", showscale=True, colorbar={"title": colour})
    if colour and colour not in numbers:
        column = grid.filter_fields[colour].column
        for value, group in frame.groupby(frame[column].astype("string").fillna("(none)")):
            at = frame.index.get_indexer(group.index)
            sizes = marker["size"][at] if size else marker["size"]
            fig.add_trace(go.Scattergl(
                x=values(x)[at], y=values(y)[at], mode="markers", name=str(value), customdata=group["utt_id"],
                marker={**marker, "size": sizes, "color": None},
                hovertemplate="%{customdata}<br>%{x:.3g} · %{y:.3g}<extra></extra>",
            ))  # fmt: skip
    else:
        fig.add_trace(go.Scattergl(
            x=values(x), y=values(y), mode="markers", customdata=frame["utt_id"], marker=marker,
            hovertemplate="%{customdata}<br>%{x:.3g} · %{y:.3g}<extra></extra>",
        ))  # fmt: skip
    fig.update_layout(xaxis_title=x, yaxis_title=y)
    controls = [
        ui.select("sx", list(numbers), x, label="X", width="12rem"),
        ui.select("sy", list(numbers), y, label="Y", width="12rem"),
        ui.select("sc", ["", *numbers, *texts], colour, label="Colour", width="11rem", labels={"": "none"}),
        ui.select("ss", ["", *numbers], size, label="Size", width="11rem", labels={"": "none"}),
    ]
    return ui.card("Scatter of any fields", ui.graph(ui.style_figure(fig, height=460)), actions=controls)


def _word_scatter(cmp: PairView) -> go.Figure:
    words = cmp.word_accuracy.dropna().sort_values("count", ascending=False).head(3000)
    fig = go.Figure(
        go.Scattergl(
            x=100 * words["accuracy_a"],
            y=100 * words["accuracy_b"],
            mode="markers",
            text=words["word"],
            customdata=words["count"],
            marker={
                "size": np.clip(np.sqrt(words["count"].to_numpy(dtype=float)) * 2, 4, 28),
                "opacity": 0.55,
                "color": words["accuracy_b"] - words["accuracy_a"],
                "colorscale": [[0, "#e74c3c"], [0.5, "#95a5a6"], [1, "#18bc9c"]],
                "cmid": 0,
                "line": {"width": 0},
            },
            hovertemplate="<b>%{text}</b> (%{customdata:,} in reference)<br>"
            "A %{x:.1f}% · B %{y:.1f}%<extra></extra>",
        )
    )
    fig.add_shape(type="line", x0=0, y0=0, x1=100, y1=100, line={"dash": "dot", "color": "#7f8c8d"})
    fig.update_layout(
        xaxis_title=f"word accuracy of A: {cmp.a} (%)", yaxis_title=f"word accuracy of B: {cmp.b} (%)"
    )
    return ui.style_figure(fig, height=420, legend=False)


def _p_hint(test: Any) -> str:
    text = test.p_text
    return f"bootstrap p {text}" if text.startswith("<") else f"bootstrap p = {text}"


def _tests_table(cmp: PairView) -> html.Div:
    rows = []
    for test in cmp.tests:
        better = {"A": cmp.a, "B": cmp.b}.get(test.better or "", "\u2013")
        verdict = (
            html.Span("not run", className="p-ns", title=test.skipped)
            if test.skipped
            else html.Span("significant", className="p-sig")
            if test.significant
            else html.Span("not significant", className="p-ns")
        )
        rows.append(
            html.Tr(
                [
                    html.Td(test.title),
                    html.Td(test.unit),
                    html.Td(f"{test.n:,}"),
                    html.Td("\u2013" if test.skipped else f"{test.statistic:.4g}"),
                    html.Td(test.p_text, title=test.skipped or None),
                    html.Td(better),
                    html.Td(verdict),
                ]
            )
        )
    head = html.Thead(
        html.Tr(
            [html.Th(h) for h in ("Test", "Unit", "N", "Statistic", "p-value", "Favours", "At \u03b1 = 0.05")]
        )
    )
    notes = [
        html.P(f"{test.title}: not run, {test.skipped}.", className="text-muted small")
        for test in cmp.tests
        if test.skipped
    ]
    return html.Div(
        [dbc.Table([head, html.Tbody(rows)], className="wb-table", hover=True, size="sm"), *notes]
    )


def _list_grid(grid_id: str, frame: pd.DataFrame) -> dag.AgGrid:
    pct = {
        "type": "rightAligned",
        "width": 90,
        "valueFormatter": ui.d3_format(".1%"),
    }
    columns = [
        {"field": "utt_id", "headerName": "Utterance", "width": 180, "cellClass": "link-cell"},
        {"field": "wer_a", "headerName": "WER A", **pct},
        {"field": "wer_b", "headerName": "WER B", **pct},
        {"field": "delta", "headerName": "Δ errors", "type": "rightAligned", "width": 96},
        {"field": "ref", "headerName": "Reference", "flex": 1, "minWidth": 240, "tooltipField": "ref"},
    ]
    return dag.AgGrid(
        id=grid_id,
        rowData=records(frame[["utt_id", "wer_a", "wer_b", "delta", "ref"]]),
        columnDefs=columns,
        getRowId="params.data.utt_id",
        className="ag-theme-quartz wb-grid",
        defaultColDef={"sortable": True, "resizable": True, "filter": True},
        style={"height": "340px", "width": "100%"},
    )


def _three_way(page: PageContext, cmp: PairView) -> html.Div:
    changed = cmp.per_utterance.assign(size=cmp.per_utterance["delta"].abs())
    changed = changed[changed["size"] > 0].sort_values(["size", "utt_id"], ascending=[False, True])
    blocks = []
    for utt_id in changed["utt_id"].head(THREE_WAY_ROWS):
        slots = page.analysis.three_way(cmp.testset, utt_id, cmp.a, cmp.b)
        cells = []
        for column in slots:  # analysis.compare.Column: ref, a, a_op, b, b_op ("" where a side has nothing)
            cells.append(
                html.Div(
                    [
                        html.Div(column.ref or EMPTY, className="tw-ref"),
                        html.Div(column.a or EMPTY, className=f"tw-hyp {ui.OP_CLASS.get(column.a_op, '')}"),
                        html.Div(column.b or EMPTY, className=f"tw-hyp {ui.OP_CLASS.get(column.b_op, '')}"),
                    ],
                    className="tw-slot",
                )
            )
        link = url_state.link("/utterance", page.state, id=utt_id, sys=[cmp.a, cmp.b])
        blocks.append(
            html.Div(
                [html.A(utt_id, href=link, className="system-name"), html.Div(cells, className="tw-row")],
                className="tw-block",
            )
        )
    legend = html.Div(
        [
            html.Span("rows: reference / A / B", className="counts me-3"),
            html.Span("substitution", className="legend-chip op-s"),
            html.Span("deletion", className="legend-chip op-d"),
            html.Span("insertion", className="legend-chip op-i"),
        ],
        className="mb-2",
    )
    return html.Div([legend, *blocks] if blocks else [ui.empty("The two systems agree on every utterance.")])


def _trust_card(page: PageContext, a: str, b: str) -> Any:
    """A and B side by side on what WER hides: confidence as an error detector (analysis.confidence, where
    recorded), hallucination flags (analysis.hallucinations) and, where the references carry them, the
    punctuation and case error rates (analysis.case_punctuation)."""
    summary, _ = page.analysis.confidence()
    flags = page.analysis.hallucinations()
    casing = page.analysis.case_punctuation()
    pair = pd.DataFrame({"role": ["A", "B"], "system": [a, b]})
    kept = ["system", "auc_roc", "auc_pr", "nce", "ece", "confident_errors", "doubtful_right"]
    measure = page.confidence_measure
    if len(summary):
        here = for_measure(summary, measure)
        pair = pair.merge(here.loc[here["testset"] == page.testset, kept], on="system", how="left")
    flagged = ["system", "flagged", "insertion_runs", "loops", "on_silence", "too_fast"]
    pair = pair.merge(flags.loc[flags["testset"] == page.testset, flagged], on="system", how="left")
    if len(casing) and (casing["testset"] == page.testset).any():
        marks = ["system", "per", "case_error_rate"]
        pair = pair.merge(casing.loc[casing["testset"] == page.testset, marks], on="system", how="left")
    # two rows: no filters (their icons would cut the headers short)
    score = {"type": "rightAligned", "valueFormatter": FIXED3, "width": 95, "filter": False}
    rate = {"type": "rightAligned", "valueFormatter": ui.d3_format(".2%"), "width": 110, "filter": False}
    count = {"type": "rightAligned", "valueFormatter": ui.d3_format(",.0f"), "width": 105, "filter": False}
    columns = [
        {"field": "role", "headerName": "", "width": 50, "pinned": "left", "filter": False},
        {"field": "system", "headerName": "System", "width": 190, "filter": False},
        *([{"headerName": "Word confidence", "children": [
            {"field": "auc_roc", "headerName": "AUC-ROC", **score},
            {"field": "auc_pr", "headerName": "AUC-PR", **score},
            {"field": "nce", "headerName": "NCE", **score},
            {"field": "ece", "headerName": "ECE", **score},
            {"field": "confident_errors", "headerName": "Confident errors", **count, "width": 135},
            {"field": "doubtful_right", "headerName": "Doubtful right", **count, "width": 125},
        ]}] if "auc_roc" in pair else []),
        {"headerName": "Hallucination flags (utterances)", "children": [
            {"field": "flagged", "headerName": "Flagged", **count, "cellClass": "fw-semibold"},
            {"field": "insertion_runs", "headerName": "Insertion runs", **count, "width": 125},
            {"field": "loops", "headerName": "Loops", **count, "width": 80},
            {"field": "on_silence", "headerName": "On silence", **count},
            {"field": "too_fast", "headerName": "Too fast", **count, "width": 90},
        ]},
        *([{"headerName": "As written", "children": [
            {"field": "per", "headerName": "PER", **rate},
            {"field": "case_error_rate", "headerName": "Case errors", **rate},
        ]}] if "per" in pair else []),
    ]  # fmt: skip
    recorded = "auc_roc" in pair
    note = confidence_help(measure) if recorded else "Neither system recorded word confidences."
    return ui.card(
        "What WER hides: trust in the confidence, made-up words"
        + (", punctuation and case" if "per" in pair else ""),
        html.Div([html.P(note, className="text-muted small"), ui.small_grid("cmp-trust", pair, columns)]),
        actions=[confidence_select(measure)] if recorded else [],
    )


def layout(page: PageContext) -> html.Div:
    a, b = _pair(page)
    if page.testset is None or a is None or b is None or a == b:
        have = ", ".join(page.systems) or "no system"
        return html.Div(
            [
                page.header("Compare", "Needs a test set with two systems."),
                ui.empty(
                    f"Compare needs two systems on one test set; {page.testset or 'this view'} has {have}. "
                    "Add another: a second predictions file (werbench serve a.jsonl b.jsonl), "
                    "pred_text_<name> fields in one manifest, or another system folder in the results "
                    "directory."
                ),
            ]
        )
    cmp = page.analysis.comparison(page.testset, a, b)
    summary = cmp.summary  # paired numbers: utterances that failed in either system are left out
    delta = summary["wer_change"]
    boot = next((t for t in cmp.tests if t.name == "bootstrap"), None)
    cards = dbc.Row(
        [
            dbc.Col(ui.metric_card("WER of A", ui.pct(summary["wer_a"]), a), md=2),
            dbc.Col(ui.metric_card("WER of B", ui.pct(summary["wer_b"]), b), md=2),
            dbc.Col(
                ui.metric_card(
                    "B \u2212 A",
                    f"{100 * delta:+.2f} pts",
                    f"{100 * summary['relative_change']:+.1f}% relative",
                    tone="good" if delta < 0 else ("bad" if delta > 0 else ""),
                ),
                md=2,
            ),
            dbc.Col(
                ui.metric_card("B better", ui.number(cmp.summary["improved"]), "utterances", tone="good"),
                md=2,
            ),
            dbc.Col(
                ui.metric_card("A better", ui.number(cmp.summary["regressed"]), "utterances", tone="bad"),
                md=2,
            ),
            dbc.Col(
                ui.metric_card(
                    "Tied",
                    ui.number(cmp.summary["tied"]),
                    _p_hint(boot) if boot else "utterances",
                ),
                md=2,
            ),
        ],
        className="g-3 mb-3",
    )
    improved = cmp.per_utterance[cmp.per_utterance["delta"] < 0].sort_values("delta").head(LIST_ROWS)
    regressed = cmp.per_utterance[cmp.per_utterance["delta"] > 0].sort_values("delta", ascending=False)
    controls = [
        ui.select("a", page.systems, a, label="System A", width="15rem"),
        ui.select("b", page.systems, b, label="System B", width="15rem"),
    ]
    return html.Div(
        [
            page.header(
                "Compare",
                f"{a} (A) against {b} (B) on {page.testset}: paired, utterance by utterance.",
                *controls,
            ),
            cards,
            dbc.Row(
                [
                    dbc.Col(
                        ui.card("Per-utterance WER", ui.graph(_utterance_scatter(cmp), "cmp-scatter")), lg=6
                    ),
                    dbc.Col(
                        ui.card("Per-word accuracy (reference words)", ui.graph(_word_scatter(cmp))), lg=6
                    ),
                ],
                className="g-3",
            ),
            _any_scatter(page, a, b),
            ui.card("Significance tests (the NIST sc_stats set, computed by analysis)", _tests_table(cmp)),
            ui.card(
                "Words that matter: which system recalls each word class (paired bootstrap of B \u2212 A)",
                class_pairs_grid("cmp-classes", page.analysis.word_class_comparison(page.testset, a, b)),
            ),
            _trust_card(page, a, b),
            dbc.Row(
                [
                    dbc.Col(
                        ui.card(
                            f"B better than A ({cmp.summary['improved']:,})",
                            _list_grid("cmp-improved", improved),
                            actions=[ui.csv_button("cmp-improved-csv")],
                        ),
                        lg=6,
                    ),
                    dbc.Col(
                        ui.card(
                            f"A better than B ({cmp.summary['regressed']:,})",
                            _list_grid("cmp-regressed", regressed.head(LIST_ROWS)),
                            actions=[ui.csv_button("cmp-regressed-csv")],
                        ),
                        lg=6,
                    ),
                ],
                className="g-3",
            ),
            ui.card("Three-way diff of the most changed utterances", _three_way(page, cmp)),
            dcc.Download(id="cmp-download"),
        ]
    )


def register(app: Dash, workspace: Workspace) -> None:
    @app.callback(
        Output("url", "pathname", allow_duplicate=True),
        Output("url", "search", allow_duplicate=True),
        Input("cmp-scatter", "clickData"),
        Input("cmp-improved", "cellClicked"),
        Input("cmp-regressed", "cellClicked"),
        State("url", "search"),
        prevent_initial_call=True,
    )
    def open_utterance(
        point: dict | None, improved: dict | None, regressed: dict | None, search: str | None
    ) -> tuple:
        if ctx.triggered_id == "cmp-scatter":
            utt_id = point["points"][0].get("customdata") if point and point.get("points") else None
        else:
            cell = improved if ctx.triggered_id == "cmp-improved" else regressed
            utt_id = cell.get("rowId") if cell else None
        if not utt_id:
            return no_update, no_update
        state = url_state.parse(search)
        page = PageContext(workspace, state)
        a, b = _pair(page)
        return "/utterance", url_state.encode(
            {"norm": state.get("norm"), "ts": page.testset, "id": utt_id, "sys": [a, b], "qf": "all"}
        )

    @app.callback(
        Output("cmp-download", "data"),
        Input("cmp-improved-csv", "n_clicks"),
        Input("cmp-regressed-csv", "n_clicks"),
        State("url", "search"),
        prevent_initial_call=True,
    )
    def download(_improved: Any, _regressed: Any, search: str | None) -> Any:
        page = PageContext(workspace, url_state.parse(search))
        a, b = _pair(page)
        cmp = page.analysis.comparison(page.testset, a, b)
        outcome = "improved" if ctx.triggered_id == "cmp-improved-csv" else "regressed"
        frame = cmp.per_utterance[cmp.per_utterance["outcome"] == outcome]
        frame = frame.rename(
            columns={"hyp_a": f"hyp {a}", "hyp_b": f"hyp {b}", "wer_a": f"wer {a}", "wer_b": f"wer {b}"}
        )
        name = f"{outcome}-{a}-vs-{b}.csv".replace("@", "_")
        return dcc.send_data_frame(frame.to_csv, name, index=False)


PAGE = Page("compare", "/compare", "Compare", layout, register)
