"""Errors: top confusion pairs, inserted and deleted words, and WER (with CI) broken down by any field."""

from __future__ import annotations

from typing import Any

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
import pandas as pd
import plotly.graph_objects as go
from dash import Dash, Input, Output, State, dcc, html
from werbench.dashboard import components as ui
from werbench.dashboard import state as url_state
from werbench.dashboard.class_views import CLASSES_HELP, class_grid, recall_figure
from werbench.dashboard.confidence_views import (
    confidence_grid,
    confidence_help,
    confidence_select,
    for_measure,
    reliability_graph,
)
from werbench.dashboard.grid import records
from werbench.dashboard.pages.base import Page, PageContext
from werbench.dashboard.workspace import Workspace

TOP = 50
TABLES = {
    "confusions": ("Top confusion pairs", ["ref_word", "hyp_word"]),
    "inserted": ("Top inserted words", ["word"]),
    "deleted": ("Top deleted words", ["word"]),
}


def _choices(page: PageContext) -> tuple[list[str], str]:
    systems = url_state.get_list(page.state, "sys", page.systems, page.systems[:4])
    fields = page.analysis.breakdown_fields(page.testset)
    by = url_state.get_choice(page.state, "by", fields, "speaker") or "speaker"
    return systems, by


def wide_counts(frame: pd.DataFrame, keys: list[str], systems: list[str], top: int = TOP) -> pd.DataFrame:
    """One row per word (or pair) with a count column per system, ordered by the total over systems."""
    if frame.empty:
        return pd.DataFrame(columns=[*keys, *systems, "total"])
    wide = frame.pivot_table(index=keys, columns="system", values="count", aggfunc="sum", fill_value=0)
    wide = wide.reindex(columns=systems, fill_value=0)
    wide["total"] = wide.sum(axis=1)
    wide = wide.sort_values("total", ascending=False, kind="stable").head(top)
    return wide.reset_index()


def _count_grid(grid_id: str, frame: pd.DataFrame, keys: list[str], systems: list[str]) -> dag.AgGrid:
    renamed = frame.rename(columns={s: f"s{k}" for k, s in enumerate(systems)})
    labels = {"ref_word": "Reference", "hyp_word": "Recognised as", "word": "Word"}
    columns = [{"field": k, "headerName": labels[k], "pinned": "left", "width": 150} for k in keys]
    columns += [
        {"field": f"s{k}", "headerName": s, "type": "rightAligned", "width": 130, "headerTooltip": s}
        for k, s in enumerate(systems)
    ]
    columns.append(
        {"field": "total", "headerName": "Total", "type": "rightAligned", "width": 90, "sort": "desc"}
    )
    return dag.AgGrid(
        id=grid_id,
        rowData=records(renamed),
        columnDefs=columns,
        className="ag-theme-quartz wb-grid",
        defaultColDef={"sortable": True, "resizable": True, "filter": True},
        style={"height": "380px", "width": "100%"},
    )


def _breakdown_figure(frame: pd.DataFrame, by: str) -> go.Figure:
    fig = go.Figure()
    for system, group in frame.groupby("system", sort=False):
        fig.add_bar(
            x=group["value"].astype(str),
            y=100 * group["wer"],
            name=system,
            error_y={
                "type": "data",
                "symmetric": False,
                "array": 100 * (group["wer_hi"] - group["wer"]),
                "arrayminus": 100 * (group["wer"] - group["wer_lo"]),
                "thickness": 1.2,
                "width": 3,
            },
            customdata=group[["utts", "ref_words"]].to_numpy(),
            hovertemplate=f"{by} = %{{x}}<br>WER %{{y:.2f}}%<br>%{{customdata[0]:,}} utts, "
            "%{customdata[1]:,} words<extra>%{fullData.name}</extra>",
        )
    fig.update_layout(barmode="group", xaxis_title=by, yaxis_title="WER (%) with 95% CI", bargap=0.2)
    if frame["value"].nunique() > 25:
        fig.update_xaxes(tickangle=-45)
    return ui.style_figure(fig, height=400)


def _attribution_card(page: PageContext, systems: list[str]) -> Any:
    """Where the errors come from, for the lineage groups (run.json provenance) of the chosen systems."""
    table = page.analysis.error_attribution(page.testset)
    if table.empty:
        return html.Div()
    table = table[table["model"].isin(table.loc[table["system"].isin(systems), "model"])]
    if table.empty:
        return html.Div()
    from werbench.analysis.lineage import attribution_sentence
    from werbench.analysis.report_html import attribution_figure

    sentences = html.Ul(
        [html.Li(attribution_sentence(r)) for r in table.to_dict("records")], className="small"
    )
    count = {"type": "rightAligned", "width": 140}
    columns = [
        {"field": "model", "headerName": "Model", "width": 110},
        {"field": "system", "headerName": "System", "width": 200},
        *({"field": f, "headerName": h, **count} for f, h in (
            ("greedy_errors", "Greedy errors"), ("errors", "Errors"), ("kept", "Kept"),
            ("changed", "Kept, changed"), ("introduced", "Introduced"), ("fixed", "Fixed"),
            ("search_errors", "Search errors"))),
    ]  # fmt: skip
    return ui.card(
        "Where the errors come from (against the acoustic model's greedy best path; matched by place)",
        html.Div(
            [
                sentences,
                ui.graph(ui.style_figure(attribution_figure(table), height=360), "err-attribution"),
                ui.small_grid("err-attribution-grid", table, columns),
            ]
        ),
    )


def _confidence_card(page: PageContext, systems: list[str]) -> Any:
    """The chosen systems' confidence as an error detector and their reliability diagram
    (analysis.confidence); nothing when none of them recorded word confidences."""
    summary, diagram = page.analysis.confidence()
    if summary.empty:
        return html.Div()
    here = (summary["testset"] == page.testset) & summary["system"].isin(systems)
    if not here.any():
        return html.Div()
    measure = page.confidence_measure
    diagram = for_measure(diagram, measure)
    diagram = diagram[(diagram["testset"] == page.testset) & diagram["system"].isin(systems)]
    return ui.card(
        "Can the confidence be trusted? Error detection and calibration (reliability diagram)",
        html.Div(
            [
                html.P(confidence_help(measure), className="text-muted small"),
                confidence_grid("err-confidence", summary[here], measure),
                reliability_graph(diagram, page.systems, "err-reliability"),
            ]
        ),
        actions=[confidence_select(measure)],
    )


def layout(page: PageContext) -> html.Div:
    if page.testset is None:
        return html.Div([page.header("Errors", "No test sets found."), ui.empty("Nothing to analyse.")])
    if not page.systems:
        return html.Div(
            [
                page.header("Errors", f"{page.testset} has no predictions."),
                ui.empty(
                    "No predictions to analyse: this test set is a dataset (no pred_text in its manifest). "
                    "The Dataset and Utterances pages describe it."
                ),
            ]
        )
    systems, by = _choices(page)
    controls = [
        ui.select("sys", page.systems, systems, multi=True, label="Systems", width="26rem"),
        ui.select(
            "by", page.analysis.breakdown_fields(page.testset), by, label="Break down by", width="12rem"
        ),
    ]
    tables = page.analysis.error_tables(page.testset, tuple(systems))
    cards = []
    for name, (title, keys) in TABLES.items():
        wide = wide_counts(getattr(tables, name), keys, systems)
        cards.append(
            dbc.Col(
                ui.card(
                    title,
                    _count_grid(f"err-{name}", wide, keys, systems),
                    actions=[ui.csv_button(f"err-{name}-csv")],
                ),
                xl=4,
                lg=6,
            )
        )
    breakdown = page.analysis.breakdown(page.testset, tuple(systems), by)
    classes = page.analysis.word_classes(page.testset)
    classes = classes[classes["system"].isin(systems)]
    return html.Div(
        [
            page.header("Errors", f"What goes wrong on {page.testset}, and where.", *controls),
            dbc.Row(cards, className="g-3"),
            ui.card(
                "Words that matter: recall per word class (95% bootstrap CI)",
                html.Div(
                    [
                        html.P(CLASSES_HELP, className="text-muted small"),
                        recall_figure(classes, systems),
                        class_grid("err-classes", classes),
                    ]
                ),
                actions=[ui.csv_button("err-classes-csv")],
            ),
            _attribution_card(page, systems),
            _confidence_card(page, systems),
            ui.card(
                f"WER by {by} (95% bootstrap CI)",
                ui.graph(_breakdown_figure(breakdown, by), "err-breakdown"),
                actions=[ui.csv_button("err-breakdown-csv")],
            ),
            dcc.Download(id="err-download"),
        ]
    )


def register(app: Dash, workspace: Workspace) -> None:
    @app.callback(
        Output("err-download", "data"),
        *[Input(f"err-{name}-csv", "n_clicks") for name in TABLES],
        Input("err-breakdown-csv", "n_clicks"),
        Input("err-classes-csv", "n_clicks"),
        State("url", "search"),
        prevent_initial_call=True,
    )
    def download(*args: Any) -> Any:
        from dash import ctx

        page = PageContext(workspace, url_state.parse(args[-1]))
        systems, by = _choices(page)
        name = str(ctx.triggered_id).removeprefix("err-").removesuffix("-csv")
        if name == "breakdown":
            frame = page.analysis.breakdown(page.testset, tuple(systems), by)
        elif name == "classes":
            frame = page.analysis.word_classes(page.testset)
            frame = frame[frame["system"].isin(systems)]
        else:
            frame = getattr(page.analysis.error_tables(page.testset, tuple(systems)), name)
        return dcc.send_data_frame(frame.to_csv, f"{name}-{page.testset}-{page.normalizer}.csv", index=False)


PAGE = Page("errors", "/errors", "Errors", layout, register)
