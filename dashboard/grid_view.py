"""AG Grid components backed by a server-side table (infinite row model) and their callbacks.

A page puts ``server_grid(name, ...)`` in its layout with a context dict (what table, which quick filter);
``register_server_grid`` answers the grid's block requests, purges the grid's cache when the context
changes, and exports exactly the rows the user is looking at (filter + sort + quick filter) as CSV.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import dash_ag_grid as dag
import numpy as np
import pandas as pd
from dash import ClientsideFunction, Dash, Input, Output, State, dcc, html, no_update
from werbench.dashboard.components import csv_button
from werbench.dashboard.grid import FilterError, ServerSideTable
from werbench.dashboard.state import url_store_id

log = logging.getLogger(__name__)
QuickFilter = tuple[str, Callable[[pd.DataFrame], np.ndarray]]
BLOCK_SIZE = 100


@dataclass(frozen=True)
class GridTable:
    """A table to serve plus how to show it: AG Grid column definitions and CSV header labels."""

    table: ServerSideTable
    column_defs: list[dict[str, Any]]
    csv_labels: dict[str, str] = field(default_factory=dict)
    filename: str = "table.csv"
    csv_columns: list[str] | None = None  # None: every column of the table
    filter_fields: Mapping[str, Any] = field(default_factory=dict)  # names a filter expression may use


Provider = Callable[[dict[str, Any]], tuple[GridTable, QuickFilter | None]]


def ids(name: str) -> dict[str, str]:
    return {k: f"{name}-{k}" for k in ("grid", "ctx", "purge", "export", "download", "count")}


def server_grid(
    name: str,
    column_defs: list[dict[str, Any]],
    context: dict[str, Any],
    *,
    filter_model: dict | None = None,
    height: str = "68vh",
) -> html.Div:
    """The grid, its context store, its CSV button and row counter."""
    i = ids(name)
    options: dict[str, Any] = {
        "rowModelType": "infinite",
        "cacheBlockSize": BLOCK_SIZE,
        "maxBlocksInCache": 20,
        "infiniteInitialRowCount": 1,
        "rowSelection": {"mode": "singleRow", "checkboxes": False},
        "tooltipShowDelay": 400,
        "enableCellTextSelection": True,
        "suppressCellFocus": False,
        "animateRows": False,
    }
    grid = dag.AgGrid(
        id=i["grid"],
        rowModelType="infinite",
        columnDefs=column_defs,
        defaultColDef={
            "sortable": True,
            "resizable": True,
            "filter": True,
            "floatingFilter": True,
            "minWidth": 70,
            "filterParams": {"maxNumConditions": 2, "buttons": ["reset"]},
        },
        dashGridOptions=options,
        filterModel=filter_model or {},
        style={"height": height, "width": "100%"},
        className="ag-theme-quartz wb-grid",
    )
    return html.Div(
        [
            dcc.Store(id=i["ctx"], data=context),
            dcc.Store(id=i["purge"]),
            dcc.Download(id=i["download"]),
            html.Div(
                [html.Span(id=i["count"], className="grid-count"), csv_button(i["export"], "Export CSV")],
                className="grid-toolbar",
            ),
            grid,
        ]
    )


def register_server_grid(app: Dash, name: str, provider: Provider, *, url_key: str | None = None) -> None:
    """Callbacks for one named grid; with ``url_key`` its filter/sort model is mirrored into the URL."""
    i = ids(name)
    outputs = [Output(i["grid"], "getRowsResponse"), Output(i["count"], "children")]
    if url_key:
        outputs.append(Output(url_store_id(url_key), "data"))

    @app.callback(
        *outputs, Input(i["grid"], "getRowsRequest"), State(i["ctx"], "data"), prevent_initial_call=True
    )
    def rows(request: dict | None, context: dict) -> tuple:
        if not request:
            return (no_update,) * len(outputs)
        try:
            grid, quick = provider(context or {})
            response = grid.table.rows_response(request, quick)
        except FilterError as exc:
            log.warning("grid %s: %s", name, exc)
            response = {"rowData": [], "rowCount": 0}
        total = len(grid.table.frame)
        count = f"{response['rowCount']:,} of {total:,} rows"
        out: tuple = (response, count)
        if url_key:
            model = {k: request[k] for k in ("filterModel", "sortModel") if request.get(k)}
            out += (model,)
        return out

    app.clientside_callback(
        ClientsideFunction("werbench", "purgeGrid"),
        Output(i["purge"], "data"),
        Input(i["ctx"], "data"),
        State(i["grid"], "id"),
        prevent_initial_call=True,
    )

    @app.callback(
        Output(i["download"], "data"),
        Input(i["export"], "n_clicks"),
        State(i["grid"], "getRowsRequest"),
        State(i["ctx"], "data"),
        prevent_initial_call=True,
    )
    def export(n_clicks: int | None, request: dict | None, context: dict) -> Any:
        if not n_clicks:
            return no_update
        grid, quick = provider(context or {})
        try:
            frame = grid.table.export(request, quick)
        except FilterError:
            frame = grid.table.frame
        if grid.csv_columns is not None:
            frame = frame[grid.csv_columns]
        frame = frame.rename(columns=grid.csv_labels)
        return dcc.send_data_frame(frame.to_csv, grid.filename, index=False)
