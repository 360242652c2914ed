"""The Dash application: shell, router and URL-state sync; each page lives in ``dashboard/pages``.

``create_app`` builds a fresh app per call with its own ``Workspace`` (no module-level mutable state), so
tests, ``werbench serve`` and ``werbench demo`` can each hold one, and waitress threads share it safely.
A hand-written router is used instead of Dash Pages because Dash Pages keeps a process-global registry.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import dash_bootstrap_components as dbc
from dash import ALL, Dash, Input, Output, State, ctx, dcc, html
from dash.exceptions import PreventUpdate
from werbench.dashboard import state as url_state
from werbench.dashboard.audio import register_audio_route
from werbench.dashboard.auth import require_basic_auth
from werbench.dashboard.exports import register_exports
from werbench.dashboard.pages import PAGES, Page, PageContext
from werbench.dashboard.security import content_security_policy, harden
from werbench.dashboard.workspace import Source, Workspace

from werbench._version import __version__

log = logging.getLogger(__name__)
ASSETS = Path(__file__).with_name("assets")


def _navbar() -> dbc.Navbar:
    links = [
        dbc.NavItem(dbc.NavLink(page.title, href=page.path, id=f"nav-{page.name}", active=False))
        for page in PAGES
        if page.in_menu
    ]
    exports = dbc.DropdownMenu(
        [
            dbc.DropdownMenuItem(
                "HTML report (self-contained)",
                id="export-html",
                href="/export/report.html",
                external_link=True,
                target="_blank",
            ),
            dbc.DropdownMenuItem(
                "Leaderboard CSV", id="export-systems", href="/export/systems.csv", external_link=True
            ),
            dbc.DropdownMenuItem(
                "Per-utterance CSV", id="export-utterances", href="/export/utterances.csv", external_link=True
            ),
            dbc.DropdownMenuItem(
                "sclite trn files (zip)", id="export-trn", href="/export/trn.zip", external_link=True
            ),
        ],
        label="Export",
        nav=True,
        in_navbar=True,
        align_end=True,
        id="export-menu",
    )
    brand = html.A(
        [
            html.Span("W", className="wb-logo"),
            "werbench",
            html.Span(f"v{__version__}", className="wb-version"),
        ],
        href="/",
        className="navbar-brand wb-brand",
    )
    return dbc.Navbar(
        dbc.Container(
            [brand, dbc.Nav(links, navbar=True, className="me-auto ms-3"), dbc.Nav([exports], navbar=True)],
            fluid=True,
        ),
        color="primary",
        dark=True,
        className="wb-navbar",
        sticky="top",
    )


def _shell() -> html.Div:
    return html.Div(
        [
            dcc.Location(id="url", refresh="callback-nav"),
            dcc.Store(id="rendered", data={}),
            _navbar(),
            dbc.Container(
                dcc.Loading(
                    html.Div(id="page"),
                    type="dot",
                    color="#18bc9c",
                    delay_show=300,
                    target_components={"page": "children"},
                    overlay_style={"visibility": "visible", "opacity": 0.55},
                ),
                fluid=True,
                className="wb-main",
            ),
            html.Div(
                ["werbench ", __version__, " · every number from the one sclite-compatible aligner"],
                className="footer",
            ),
        ]
    )


def _page_for(pathname: str | None, context: PageContext) -> Page:
    """The page at ``pathname``; the root is the leaderboard, or the Dataset page when what was opened has
    no systems at all (manifests without predictions: SDE's dataset explorer), so the menu marks that."""
    path = (pathname or "/").rstrip("/") or "/"
    if path == "/" and context.analysis.system_table.empty and context.analysis.testsets:
        path = "/dataset"
    for page in PAGES:
        if page.path == path:
            return page
    return Page.not_found()


def _register_router(app: Dash, workspace: Workspace) -> None:
    @app.callback(
        Output("page", "children"),
        Output("rendered", "data"),
        *[Output(f"nav-{p.name}", "active") for p in PAGES if p.in_menu],
        *[Output(f"nav-{p.name}", "href") for p in PAGES if p.in_menu],
        Output("export-html", "href"),
        Output("export-systems", "href"),
        Output("export-utterances", "href"),
        Output("export-trn", "href"),
        Input("url", "pathname"),
        Input("url", "search"),
        State("rendered", "data"),
    )
    def route(pathname: str | None, search: str | None, rendered: dict | None) -> tuple:
        state = url_state.parse(search)
        view = url_state.view_state(state)
        if (rendered or {}) == {"path": pathname, "view": view}:
            raise PreventUpdate  # only an in-place key (a grid's filter model) changed
        context = PageContext(workspace, state)
        page = _page_for(pathname, context)
        try:
            content = page.layout(context)
            view = url_state.view_state({**state, **url_state.control_values(content)})
        except Exception:  # a broken view must not take the app down; show it and log the cause
            log.exception("page %s failed", pathname)
            content = dbc.Alert(
                "This view could not be built; the server log has the details.", color="danger"
            )
        menu = [p for p in PAGES if p.in_menu]
        keep = {k: state[k] for k in url_state.GLOBAL_KEYS if state.get(k)}
        export_query = url_state.encode(keep)
        return (
            content,
            {"path": pathname, "view": view},
            *[p is page for p in menu],
            *[url_state.link(p.path, keep) for p in menu],
            f"/export/report.html{export_query}",
            f"/export/systems.csv{export_query}",
            f"/export/utterances.csv{export_query}",
            f"/export/trn.zip{export_query}",
        )

    @app.callback(
        Output("url", "search", allow_duplicate=True),
        Input({"type": url_state.URL_CONTROL, "key": ALL}, "value"),
        Input({"type": url_state.URL_STORE, "key": ALL}, "data"),
        State("url", "search"),
        prevent_initial_call=True,
    )
    def mirror_controls(values: list, stores: list, search: str | None) -> str:
        """Write every URL-mirrored control into the query string (keeping keys of other pages' links)."""
        state: dict[str, Any] = url_state.parse(search)
        for item, value in zip(ctx.inputs_list[0], values, strict=True):
            state[item["id"]["key"]] = value
        for item, value in zip(ctx.inputs_list[1], stores, strict=True):
            state[item["id"]["key"]] = value
        new_search = url_state.encode(state)
        if new_search == (search or ""):
            raise PreventUpdate
        return new_search


def create_app(
    source: str | Path | Source,
    normalize: str | None = None,
    *,
    users: Mapping[str, str] | None = None,
    cache_dir: str | Path | None = None,
    warm: bool = True,
    allowed_hosts: Iterable[str] | None = None,
) -> Dash:
    """A ready-to-serve Dash app over a results directory or manifests (``workspace.Source``); ``users``
    turns on HTTP Basic auth for every route; ``allowed_hosts`` (when given) are the only ``Host`` names
    answered (see ``dashboard.security``)."""
    source = source if isinstance(source, Source) else Source.of(source)
    workspace = Workspace(source, default_normalizer=normalize, cache_dir=cache_dir)
    if warm:
        workspace.analysis(workspace.default_normalizer)  # load/score now, so the first page view is fast
    app = Dash(
        __name__,
        title="werbench",
        update_title=None,
        assets_folder=str(ASSETS),
        serve_locally=True,
        suppress_callback_exceptions=True,
        compress=False,
    )
    app.layout = _shell()
    if users:
        require_basic_auth(app.server, users)
    register_audio_route(app.server, workspace.audio_source)
    register_exports(app.server, workspace)
    _register_router(app, workspace)
    for page in PAGES:
        page.register(app, workspace)
    harden(app.server, content_security_policy(app.csp_hashes()), allowed_hosts)
    app.server.config["WERBENCH_WORKSPACE"] = workspace
    return app
