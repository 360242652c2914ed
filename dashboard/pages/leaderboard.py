"""Leaderboard: test sets x systems with WER and its 95% CI, CER, SER, S/D/I rates, RTFx, decoder params."""

from __future__ import annotations

from typing import Any

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
import pandas as pd
import plotly.graph_objects as go
from dash import Dash, Input, Output, State, ctx, dcc, html, no_update
from werbench.analysis.system_order import system_key
from werbench.dashboard import components as ui
from werbench.dashboard import state as url_state
from werbench.dashboard.class_views import CLASSES_HELP, class_grid
from werbench.dashboard.confidence_views import confidence_grid, confidence_help, confidence_select
from werbench.dashboard.grid import records
from werbench.dashboard.pages.base import Page, PageContext
from werbench.dashboard.workspace import Workspace

PCT = ui.d3_format(".2%")
NUM = ui.d3_format(",.0f")
FIXED1 = ui.d3_format(",.1f")
# WER cells shaded by their value: a glance finds the hard test sets and the weak systems
HEAT = {
    "function": "params.value == null ? {} : {backgroundColor: 'rgba(231, 76, 60, ' + "
    "Math.min(0.45, 0.03 + 1.6 * params.value).toFixed(3) + ')', fontWeight: 600}"
}


def _columns() -> list[dict[str, Any]]:
    rate = {"type": "rightAligned", "valueFormatter": PCT, "filter": "agNumberColumnFilter", "width": 96}
    return [
        {"field": "testset", "headerName": "Test set", "pinned": "left", "width": 150},
        {
            "field": "system",
            "headerName": "System",
            "pinned": "left",
            "width": 210,
            "cellClass": "fw-semibold",
            "tooltipField": "system",
        },
        {"field": "wer", "headerName": "WER", **rate, "cellClass": "fw-bold", "width": 110},
        {"field": "wer_ci", "headerName": "95% CI", "width": 170, "sortable": False},
        {
            "field": "failed",
            "headerName": "Failed",
            "headerTooltip": "Utterances whose decode failed: scored as all deletions (every WER covers the "
            "whole test set)",
            "type": "rightAligned",
            "valueFormatter": NUM,
            "width": 90,
        },
        {
            "field": "missing",
            "headerName": "Missing",
            "headerTooltip": "Reference utterances without a hypothesis: scored as all deletions",
            "type": "rightAligned",
            "valueFormatter": NUM,
            "width": 95,
        },
        {
            "field": "p_vs_best_holm_text",
            "headerName": "p vs best (Holm)",
            "headerTooltip": "Paired bootstrap against the test set's best system, Holm-Bonferroni adjusted "
            "for the comparisons of every system with the best",
            "type": "rightAligned",
            "width": 130,
            "cellStyle": {"function": "params.data.p_vs_best_holm < 0.05 ? {fontWeight: 600} : {}"},
        },
        {"field": "p_vs_best_text", "headerName": "raw p", "type": "rightAligned", "width": 90},
        {"field": "cer", "headerName": "CER", **rate},
        {"field": "ser", "headerName": "SER", **rate},
        {"field": "sub_rate", "headerName": "Sub", **rate},
        {"field": "del_rate", "headerName": "Del", **rate},
        {"field": "ins_rate", "headerName": "Ins", **rate},
        {"field": "utts", "headerName": "Utts", "type": "rightAligned", "valueFormatter": NUM, "width": 90},
        {
            "field": "ref_words",
            "headerName": "Words",
            "type": "rightAligned",
            "valueFormatter": NUM,
            "width": 100,
        },
        {
            "field": "rtfx",
            "headerName": "RTFx",
            "type": "rightAligned",
            "valueFormatter": FIXED1,
            "width": 90,
        },
        {"field": "decoder", "headerName": "Decoder", "width": 120},
        {
            "field": "params",
            "headerName": "Decoder parameters",
            "flex": 1,
            "minWidth": 220,
            "tooltipField": "params",
        },
    ]


def _table(frame: pd.DataFrame) -> pd.DataFrame:
    shown = frame.copy()
    shown["wer_ci"] = [
        f"{ui.pct(lo)} \u2013 {ui.pct(hi)}" for lo, hi in zip(shown["wer_lo"], shown["wer_hi"], strict=True)
    ]
    return shown


def _ci_figure(frame: pd.DataFrame) -> go.Figure:
    fig = go.Figure()
    for testset, group in frame.groupby("testset", sort=True):  # rows keep the grouped pipeline order
        fig.add_bar(
            x=group["system"],
            y=100 * group["wer"],
            name=str(testset),
            error_y={
                "type": "data",
                "symmetric": False,
                "array": 100 * (group["wer_hi"] - group["wer"]),
                "arrayminus": 100 * (group["wer"] - group["wer_lo"]),
                "thickness": 1.4,
                "width": 5,
            },
            customdata=list(zip(group["testset"], 100 * group["wer_lo"], 100 * group["wer_hi"], strict=True)),
            hovertemplate="<b>%{x}</b> on %{customdata[0]}<br>WER %{y:.2f}%"
            "<br>95% CI %{customdata[1]:.2f}\u2013%{customdata[2]:.2f}%<extra></extra>",
        )
    fig.update_layout(barmode="group", yaxis_title="WER (%) with 95% bootstrap CI", bargap=0.25)
    return ui.style_figure(fig, height=360)


def _matrix(frame: pd.DataFrame) -> dag.AgGrid:
    """Systems x test sets; a cell opens that system's utterances on that test set."""
    pivot = frame.pivot_table(index="system", columns="testset", values="wer", aggfunc="first")
    decoders = dict(zip(frame["system"], frame["decoder"], strict=True))  # rows: grouped by model
    pivot = pivot.reindex(sorted(pivot.index, key=lambda s: system_key(s, decoders.get(s))))
    rows = [
        {"system": system, **{ts: (None if pd.isna(v) else float(v)) for ts, v in row.items()}}
        for system, row in pivot.iterrows()
    ]
    columns = [{"field": "system", "headerName": "System", "pinned": "left", "minWidth": 220, "flex": 1.4}]
    columns += [
        {
            "field": ts,
            "headerName": ts,
            "type": "rightAligned",
            "valueFormatter": PCT,
            "flex": 1,
            "minWidth": 120,
            "cellStyle": HEAT,
        }
        for ts in pivot.columns
    ]
    return dag.AgGrid(
        id="lb-matrix",
        rowData=rows,
        getRowId="params.data.system",
        columnDefs=columns,
        className="ag-theme-quartz wb-grid",
        defaultColDef={"sortable": True, "resizable": True},
        columnSize="responsiveSizeToFit",
        dashGridOptions={"domLayout": "autoHeight", "tooltipShowDelay": 300},
        style={"width": "100%"},
    )


def layout(page: PageContext) -> html.Div:
    frame = page.analysis.leaderboard()
    if frame.empty:
        return html.Div(
            [
                page.header("Leaderboard", "No systems found.", testset=False),
                ui.empty(f"No predictions in {page.workspace.source.label}."),
            ]
        )
    best = frame.loc[frame["wer"].idxmin()]
    cards = dbc.Row(
        [
            dbc.Col(ui.metric_card("Test sets", str(frame["testset"].nunique())), md=2),
            dbc.Col(ui.metric_card("Systems", str(frame["system"].nunique())), md=2),
            dbc.Col(ui.metric_card("Utterances scored", ui.number(frame["utts"].sum())), md=2),
            dbc.Col(
                ui.metric_card(
                    "Best WER", ui.pct(best["wer"]), f"{best['system']} on {best['testset']}", tone="good"
                ),
                md=3,
            ),
            dbc.Col(
                ui.metric_card(
                    "Text mode", page.analysis.text_mode.spec, page.analysis.text_mode.description
                ),
                md=3,
            ),
        ],
        className="g-3 mb-3",
    )
    table = dag.AgGrid(
        id="lb-table",
        rowData=records(_table(frame)),
        getRowId="params.data.testset + '/' + params.data.system",
        columnDefs=_columns(),
        className="ag-theme-quartz wb-grid",
        defaultColDef={"sortable": True, "resizable": True, "filter": True},
        dashGridOptions={
            "domLayout": "autoHeight",
            "tooltipShowDelay": 300,
            "rowSelection": {"mode": "singleRow", "checkboxes": False},
        },
        style={"width": "100%"},
    )
    return html.Div(
        [
            page.header(
                "Leaderboard",
                "Every system on every test set. Click a row or a cell to open its utterances.",
                testset=False,
            ),
            cards,
            ui.card("WER by test set (click a cell to open the utterances)", _matrix(frame)),
            ui.card("WER with 95% confidence interval", ui.graph(_ci_figure(frame), "lb-ci")),
            ui.card(
                "All metrics (p vs best: paired bootstrap, Holm-Bonferroni adjusted; raw p beside it)",
                table,
                actions=[ui.csv_button("lb-csv")],
            ),
            _classes_card(page),
            _confidence_card(page),
            _hallucinations_card(page),
            _casing_card(page),
            dcc.Download(id="lb-download"),
        ]
    )


def _hallucinations_card(page: PageContext) -> Any:
    """Flagged utterances per system and reason, and the insertion rate on silence
    (analysis.hallucinations); the Utterances page's quick filter lists them."""
    frame = page.analysis.hallucinations()
    if frame.empty:
        return html.Div()
    count = {"type": "rightAligned", "valueFormatter": NUM, "width": 110}
    columns = [
        {"field": "testset", "headerName": "Test set", "width": 140},
        {"field": "system", "headerName": "System", "width": 200},
        {"field": "flagged", "headerName": "Flagged", **count, "cellClass": "fw-semibold"},
        {"field": "flagged_rate", "headerName": "Share", "type": "rightAligned", "valueFormatter": PCT,
         "width": 90},
        {"field": "insertion_runs", "headerName": "Insertion runs", **count},
        {"field": "loops", "headerName": "Loops", **count},
        {"field": "on_silence", "headerName": "Words on silence", **count, "width": 130},
        {"field": "too_fast", "headerName": "Too fast", **count},
        {"field": "empty_refs", "headerName": "Empty refs", **count},
        {"field": "silent_utts", "headerName": "Silent utts", **count},
        {"field": "silence_insertion_rate", "headerName": "Insertions per silent utt", "type": "rightAligned",
         "valueFormatter": FIXED1, "width": 170},
    ]  # fmt: skip
    grid = ui.small_grid("lb-hallucinations", frame, columns)
    note = (
        "Insertion runs of 4+ words, repeated n-gram loops the reference does not have, words on silence "
        "(an empty reference, or audio at or below -35 dBFS peak once its audio metrics are measured), "
        "more words than the reference at over 5 words/s. Empty references are scored, not dropped."
    )
    return ui.card(
        "Hallucinations and runaway outputs (Utterances page: quick filter Hallucinations)",
        html.Div([html.P(note, className="text-muted small"), grid]),
    )


def _casing_card(page: PageContext) -> Any:
    """Punctuation and case error rates beside the normalised WER (analysis.case_punctuation), when any
    test set's references carry marks or case."""
    frame = page.analysis.case_punctuation()
    if frame.empty:
        return html.Div()
    rate = {"type": "rightAligned", "valueFormatter": PCT, "width": 110}
    count = {"type": "rightAligned", "valueFormatter": NUM, "width": 110}
    columns = [
        {"field": "testset", "headerName": "Test set", "width": 140},
        {"field": "system", "headerName": "System", "width": 200},
        {"field": "wer", "headerName": "WER (normalised)", **rate, "width": 150},
        {"field": "per", "headerName": "PER", **rate, "cellClass": "fw-semibold"},
        {"field": "per_lo", "headerName": "PER low", **rate},
        {"field": "per_hi", "headerName": "PER high", **rate},
        {"field": "case_error_rate", "headerName": "Case errors", **rate, "cellClass": "fw-semibold"},
        {"field": "case_words", "headerName": "Words compared", **count, "width": 140},
        {"field": "ref_marks", "headerName": "Ref marks", **count},
        {"field": "hyp_marks", "headerName": "Hyp marks", **count},
        {"field": "unmapped", "headerName": "Unmapped utts", **count, "width": 130},
    ]
    note = (
        "From the raw texts on the normalised alignment: PER is NeMo's punctuation error rate (wrong, "
        "missing and extra marks over all mark operations), case errors the share of correctly recognised "
        "words written with other case. Utterance view: switch 'as written' for the raw diff."
    )
    return ui.card(
        "Casing and punctuation (95% bootstrap CI)",
        html.Div([html.P(note, className="text-muted small"), ui.small_grid("lb-casing", frame, columns)]),
    )


def _confidence_card(page: PageContext) -> Any:
    """How well each system's word confidence predicts its errors (analysis.confidence): systems whose
    decoders recorded word confidences only."""
    summary, _ = page.analysis.confidence()
    if summary.empty:
        return html.Div()
    measure = page.confidence_measure
    return ui.card(
        "Can the confidence be trusted? Word confidence as an error detector, per system",
        html.Div(
            [
                html.P(confidence_help(measure), className="text-muted small"),
                confidence_grid("lb-confidence", summary, measure, testsets=True),
            ]
        ),
        actions=[confidence_select(measure)],
    )


def _classes_card(page: PageContext) -> Any:
    """Recall, precision and F1 per word class (numbers, OOV, names, keyword lists) of every system."""
    frames = [page.analysis.word_classes(ts) for ts in page.analysis.testsets if page.analysis.systems(ts)]
    frame = (
        pd.concat([f for f in frames if len(f)], ignore_index=True) if any(len(f) for f in frames) else None
    )
    if frame is None or not (frame["ref_words"] > 0).any():
        return html.Div()
    return ui.card(
        "Words that matter: per word class (95% bootstrap CI)",
        html.Div([html.P(CLASSES_HELP, className="text-muted small"), class_grid("lb-classes", frame, True)]),
    )


def register(app: Dash, workspace: Workspace) -> None:
    @app.callback(
        Output("url", "pathname", allow_duplicate=True),
        Output("url", "search", allow_duplicate=True),
        Input("lb-matrix", "cellClicked"),
        Input("lb-table", "cellClicked"),
        Input("lb-ci", "clickData"),
        State("url", "search"),
        prevent_initial_call=True,
    )
    def open_utterances(
        matrix_cell: dict | None, table_cell: dict | None, bar: dict | None, search: str | None
    ) -> tuple:
        state = url_state.parse(search)
        trigger = ctx.triggered_id
        if trigger == "lb-matrix" and matrix_cell and matrix_cell.get("colId") != "system":
            system, testset = str(matrix_cell["rowId"]), matrix_cell["colId"]
        elif trigger == "lb-table" and table_cell:
            testset, system = str(table_cell["rowId"]).split("/", 1)
        elif trigger == "lb-ci" and bar and bar.get("points"):
            point = bar["points"][0]
            system, testset = point["x"], point["customdata"][0]
        else:
            return no_update, no_update
        return "/utterances", url_state.encode({"norm": state.get("norm"), "ts": testset, "sys": [system]})

    @app.callback(
        Output("lb-download", "data"),
        Input("lb-csv", "n_clicks"),
        State("url", "search"),
        prevent_initial_call=True,
    )
    def download(n_clicks: int | None, search: str | None) -> Any:
        page = PageContext(workspace, url_state.parse(search))
        return dcc.send_data_frame(
            page.analysis.system_figures(page.confidence_measure).to_csv,
            f"leaderboard-{page.normalizer}.csv",
            index=False,
        )


PAGE = Page("leaderboard", "/", "Leaderboard", layout, register)
