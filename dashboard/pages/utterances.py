"""Utterances: a row per utterance with each system's hypothesis and counts, served page by page."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dash_bootstrap_components as dbc
from dash import Dash, Input, Output, State, ctx, dcc, html, no_update
from werbench.analysis.confidence import CONFIDENT, DEFAULT_MEASURE, DOUBTFUL
from werbench.analysis.filter_expr import FilterError
from werbench.dashboard import components as ui
from werbench.dashboard import state as url_state
from werbench.dashboard.confidence_views import confidence_select
from werbench.dashboard.grid_config import CONFIDENCE_COUNTS, PER_SYSTEM, QUICK_FILTERS
from werbench.dashboard.grid_view import GridTable, QuickFilter, ids, register_server_grid, server_grid
from werbench.dashboard.pages.base import Page, PageContext
from werbench.dashboard.workspace import Workspace

GRID = "utts"
VIEW_KEYS = (
    "ts",
    "norm",
    "sys",
    "qf",
    "a",
    "b",
    "q",
    "grid",
    "cm",
)  # what defines the list an utterance is opened from


def view_context(page: PageContext) -> dict[str, Any]:
    """The grid's identity: which table, which systems and which quick filter."""
    systems = url_state.get_list(page.state, "sys", page.systems, page.systems)
    a = url_state.get_choice(page.state, "a", systems, systems[0] if systems else None)
    b = url_state.get_choice(page.state, "b", systems, systems[1] if len(systems) > 1 else a)
    quick = url_state.get_choice(page.state, "qf", QUICK_FILTERS, "all")
    expression = page.state.get("q", "").strip()
    return {
        "ts": page.testset, "norm": page.normalizer, "systems": systems, "qf": quick, "a": a, "b": b,
        "q": expression, "cm": page.confidence_measure,
    }  # fmt: skip


def provide(workspace: Workspace, context: dict[str, Any]) -> tuple[GridTable, QuickFilter | None]:
    """The grid and the mask of its quick filter AND its filter expression (``Analysis.view_filter``)."""
    analysis = workspace.analysis(context["norm"])
    grid = analysis.utterance_grid(
        context["ts"], tuple(context["systems"]), context.get("cm", DEFAULT_MEASURE)
    )
    return grid, analysis.view_filter(context)


def _field_help(fields: Mapping[str, Any], systems: list[str]) -> list[Any]:
    """The names an expression may use, in full (a placeholder would be cut off and vanish on typing)."""
    per_system = [*PER_SYSTEM, *(n for n in ("hallucination", *CONFIDENCE_COUNTS) if n in fields)]
    plain = [name for name in fields if "[" not in name and name not in per_system and name != "d-i"]
    help_ = ["Fields: ", html.Code(", ".join(plain))]
    if systems:
        help_ += ["; per system: ", html.Code(", ".join(per_system)),
                  f" (the first system's, or name[SYSTEM], e.g. wer[{systems[-1]}])"]  # fmt: skip
    return help_


def _audio_metrics_bar(page: PageContext, context: dict[str, Any]) -> html.Div | None:
    """SDE's audio metrics on demand: measure the rows of this view or all of them, in the background,
    with progress; nothing is decoded until asked (values measured before come back from the cache)."""
    analysis = page.analysis
    if not analysis.has_audio(page.testset):
        return None
    rows = analysis.reference_rows(page.testset)
    total = len(rows)
    measured = analysis.audio_metrics.measured(page.testset)
    recalling = measured < total and analysis.audio_metrics.recall(page.testset, rows["utt_id"].tolist())
    return html.Div(
        [
            html.Span(
                [html.B("Audio metrics "), "(bandwidth, peak level, SNR): "],
                className="small",
            ),
            html.Span(f"{measured:,} of {total:,} utterances measured", id="am-status", className="small"),
            dbc.Progress(
                id="am-progress",
                value=100 * measured / max(total, 1),
                style={"width": "10rem", "height": "6px"},
            ),
            dbc.Button(
                "Measure the rows of this view", id="am-view", size="sm", color="light", className="border"
            ),
            dbc.Button(f"Measure all {total:,}", id="am-all", size="sm", color="light", className="border"),
            dcc.Interval(
                id="am-tick",
                interval=1000,
                disabled=not (recalling or analysis.audio_metrics.progress().running),
            ),
        ],
        className="d-flex flex-wrap align-items-center gap-2 mb-3",
        id="am-bar",
    )


def _initial_sort(
    column_defs: list[dict[str, Any]], sort_model: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Apply a sort model from the URL to the column definitions (AG Grid's initial sort)."""
    order = {s["colId"]: (i, s.get("sort", "asc")) for i, s in enumerate(sort_model or [])}

    def apply(col: dict[str, Any]) -> dict[str, Any]:
        if "children" in col:
            return {**col, "children": [apply(c) for c in col["children"]]}
        if col.get("field") in order:
            index, direction = order[col["field"]]
            return {**col, "sort": direction, "sortIndex": index}
        return {k: v for k, v in col.items() if k not in ("sort", "sortIndex")} if order else col

    return [apply(c) for c in column_defs]


def layout(page: PageContext) -> html.Div:
    if page.testset is None:
        return html.Div([page.header("Utterances", "No test sets found."), ui.empty("Nothing to list.")])
    context = view_context(page)
    systems = context["systems"]
    grid_state = url_state.get_json(page.state, "grid")
    grid, _ = provide(page.workspace, context)
    labels = {
        "all": "All",
        "errors": "Errors only",
        "a_better": "A better than B",
        "b_better": "B better than A",
        "changed": "Changed between decoders",
        "failed": "Failed",
        "hallucinations": "Hallucinations",
        "confident_errors": f"Confident errors (\u2265 {CONFIDENT:g})",
        "doubtful_right": f"Doubtful but right (< {DOUBTFUL:g})",
    }
    # the confidence filters where a shown system's words carry confidences (analysis.confidence)
    confidence = CONFIDENCE_COUNTS[0] in grid.filter_fields
    offered = [q for q in QUICK_FILTERS if q not in CONFIDENCE_COUNTS or confidence]
    quick = html.Div(
        [
            html.Label("Quick filter", className="control-label"),
            dbc.RadioItems(
                id=url_state.url_id("qf"),
                options=[{"label": labels[q], "value": q} for q in offered],
                value=context["qf"],
                inline=True,
                className="btn-group quick-filters",
                inputClassName="btn-check",
                labelClassName="btn btn-outline-primary btn-sm",
                labelCheckedClassName="active",
            ),
        ]
    )
    try:
        page.analysis.expression_filter(context["ts"], tuple(systems), context["q"], context["cm"])
        problem = None
    except FilterError as exc:
        problem = dbc.Alert(
            f"Filter not applied: {exc.message}", color="warning", className="py-1 px-2 mb-0 small",
            id="utts-q-error",
        )  # fmt: skip
    expression = html.Div(
        [
            html.Label("Filter expression", className="control-label"),
            dbc.Input(
                id=url_state.url_id("q"),
                value=context["q"],
                placeholder="e.g. wer > 30 && text contains bank" if systems else "e.g. duration > 10",
                debounce=True,
                size="sm",
                type="text",
                className="font-monospace",
            ),
            problem,
            html.Div(_field_help(grid.filter_fields, systems), className="text-muted small mt-1"),
        ],
        className="flex-grow-1",
        style={"minWidth": "24rem"},
    )
    pair = [
        *([confidence_select(context["cm"])] if confidence else []),
        ui.select("a", systems, context["a"], label="A", width="13rem"),
        ui.select("b", systems, context["b"], label="B", width="13rem"),
    ]
    body = html.Div(
        [
            html.Div(
                [quick, html.Div(pair, className="page-controls")],
                className="d-flex flex-wrap justify-content-between align-items-end gap-3 mb-3",
            )
            if page.systems  # a dataset without predictions: nothing to compare or call an error
            else None,
            html.Div(expression, className="d-flex mb-3"),
            _audio_metrics_bar(page, context),
            dcc.Store(id=url_state.url_store_id("grid"), data=grid_state),
            server_grid(
                GRID,
                _initial_sort(grid.column_defs, grid_state.get("sortModel", [])),
                context,
                filter_model=grid_state.get("filterModel"),
            ),
            html.Div(
                [
                    "Click an utterance id (or double-click a row) to open it. Every column filters and "
                    "sorts on the server; the CSV export holds exactly the rows of this view."
                ],
                className="text-muted small mt-2",
            ),
        ]
    )
    return html.Div(
        [
            page.header(
                "Utterances",
                f"{page.testset}: reference and hypotheses, scored by the one aligner."
                if page.systems
                else f"{page.testset}: the dataset's utterances (no predictions to score).",
                *(
                    [ui.select("sys", page.systems, systems, multi=True, label="Systems", width="26rem")]
                    if page.systems
                    else []
                ),
            ),
            ui.card("Utterances", body),
        ]
    )


def register(app: Dash, workspace: Workspace) -> None:
    register_server_grid(app, GRID, lambda context: provide(workspace, context), url_key="grid")
    _register_audio_metrics(app, workspace)

    grid_id = ids(GRID)["grid"]

    @app.callback(
        Output("url", "pathname", allow_duplicate=True),
        Output("url", "search", allow_duplicate=True),
        Input(grid_id, "cellClicked"),
        Input(grid_id, "cellDoubleClicked"),
        State(grid_id, "getRowsRequest"),
        State(ids(GRID)["ctx"], "data"),
        State("url", "search"),
        prevent_initial_call=True,
    )
    def open_utterance(
        clicked: dict | None, double: dict | None, request: dict | None, context: dict, search: str | None
    ) -> tuple:
        """An utterance-id click, or a double-click anywhere on a row, opens that utterance."""
        double_click = ctx.triggered[0]["prop_id"].endswith("cellDoubleClicked")
        cell = double if double_click else clicked
        if not cell or (not double_click and cell.get("colId") != "utt_id"):
            return no_update, no_update
        if double_click:  # the row's position in the view the grid shows (the same memoised view)
            grid, quick = provide(workspace, context)
            rows = grid.table.view(
                (request or {}).get("filterModel"), (request or {}).get("sortModel"), quick
            )
            index = int(cell.get("rowIndex", -1))
            if not 0 <= index < len(rows):
                return no_update, no_update
            utt_id = str(grid.table.frame["utt_id"].iat[rows[index]])
        else:
            utt_id = str(cell.get("value"))
        state = url_state.parse(search)
        keep = {k: state[k] for k in VIEW_KEYS if k in state}
        return "/utterance", url_state.encode({**keep, "id": utt_id})


def _register_audio_metrics(app: Dash, workspace: Workspace) -> None:
    grid = ids(GRID)

    @app.callback(
        Output("am-tick", "disabled", allow_duplicate=True),
        Output("am-status", "children", allow_duplicate=True),
        Input("am-view", "n_clicks"),
        Input("am-all", "n_clicks"),
        State(grid["grid"], "getRowsRequest"),
        State(grid["ctx"], "data"),
        prevent_initial_call=True,
    )
    def start(view: int | None, every: int | None, request: dict | None, context: dict) -> tuple:
        """Start measuring the rows of the view (filters, quick filter, expression) or all of them."""
        if not (view or every):
            return no_update, no_update
        table, mask = provide(workspace, context)
        frame = table.table.frame
        if ctx.triggered_id == "am-view":
            rows = table.table.view(
                (request or {}).get("filterModel"), (request or {}).get("sortModel"), mask
            )
            frame = frame.iloc[rows]
        store = workspace.audio_metrics
        if not store.start(context["ts"], frame["utt_id"].tolist()):
            return False, "already measuring (another request); progress below"
        return False, f"measuring {len(frame):,} utterances..."

    @app.callback(
        Output("am-status", "children"),
        Output("am-progress", "value"),
        Output("am-tick", "disabled"),
        Output(grid["ctx"], "data", allow_duplicate=True),
        Output(grid["grid"], "columnDefs"),
        Input("am-tick", "n_intervals"),
        State(grid["ctx"], "data"),
        State(grid["grid"], "columnDefs"),
        State(grid["grid"], "getRowsRequest"),
        prevent_initial_call=True,
    )
    def tick(_: int, context: dict, shown: list | None, request: dict | None) -> tuple:
        """Progress while the job runs; when it ends, the grid reloads with the new values (and shows the
        audio columns, the first time there are any)."""
        store = workspace.audio_metrics
        progress = store.progress()
        if progress.running:
            share = 100 * progress.done / max(progress.total, 1)
            return f"measuring: {progress.done:,} of {progress.total:,}", share, False, no_update, no_update
        total = len(workspace.analysis(context["norm"]).reference_rows(context["ts"]))
        measured = store.measured(context["ts"])
        status = f"{measured:,} of {total:,} utterances measured"
        table, _ = provide(workspace, context)
        columns = no_update
        if _fields_of(table.column_defs) != _fields_of(shown or []):
            columns = _initial_sort(table.column_defs, (request or {}).get("sortModel") or [])
        context = {**context, "av": store.version(context["ts"])}
        return status, 100 * measured / max(total, 1), True, context, columns


def _fields_of(column_defs: list[dict[str, Any]]) -> list[str]:
    return [c.get("field", "") for d in column_defs for c in d.get("children", [d])]


PAGE = Page("utterances", "/utterances", "Utterances", layout, register)
