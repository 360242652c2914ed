"""Dataset statistics (Speech Data Explorer parity): sizes, alphabet, histograms, per-word accuracy table."""

from __future__ import annotations

import dash_bootstrap_components as dbc
import numpy as np
from dash import Dash, html
from werbench.analysis.dataset import DatasetStats
from werbench.dashboard import components as ui
from werbench.dashboard.grid_config import numeric_fields
from werbench.dashboard.grid_view import GridTable, register_server_grid, server_grid
from werbench.dashboard.pages.base import Page, PageContext
from werbench.dashboard.state import get_choice, get_list
from werbench.dashboard.workspace import Workspace

GRID = "vocab"


def _histogram(values: np.ndarray, title: str, unit: str, colour: str, bins: int = 40) -> html.Div:
    """Bins on the server: 100k raw values would be megabytes of JSON for a picture of 40 bars. A plain
    figure dict (``ui.figure_dict``): five validated plotly figures cost most of the page's first visit."""
    values = values[np.isfinite(values)]
    counts, edges = np.histogram(values, bins=bins) if len(values) else (np.zeros(0), np.zeros(1))
    bar = {
        "type": "bar",
        "x": ((edges[:-1] + edges[1:]) / 2).tolist(),
        "y": counts.tolist(),
        "width": (np.diff(edges) * 0.92).tolist(),
        "marker": {"color": colour},
        "hovertemplate": f"%{{x:.1f}} {unit}: %{{y:,}} utterances<extra></extra>",
    }
    median: dict = {}
    if len(values):
        at = float(np.median(values))
        median = {
            "shapes": [
                {"type": "line", "x0": at, "x1": at, "xref": "x", "y0": 0, "y1": 1, "yref": "y domain",
                 "line": {"dash": "dot", "color": "#7f8c8d"}}
            ],
            "annotations": [
                {"text": f"median {at:.1f}", "x": at, "xref": "x", "y": 1, "yref": "y domain",
                 "xanchor": "left", "yanchor": "bottom", "showarrow": False}
            ],
        }  # fmt: skip
    return ui.graph(
        ui.figure_dict(
            [bar],
            height=260,
            legend=False,
            bargap=0.02,
            xaxis={"title": {"text": f"{title} ({unit})" if unit else title}},
            yaxis={"title": {"text": "utterances"}},
            **median,
        )
    )


def vocabulary_grid(workspace: Workspace, context: dict) -> tuple[GridTable, None]:
    analysis = workspace.analysis(context["norm"])
    return analysis.vocabulary_grid(context["ts"], tuple(context["systems"])), None


def _any_field_histogram(page: PageContext, systems: list[str]) -> html.Div:
    """SDE's histogram of any numeric field: WER, CER, WMR, D, I of each system, rates, custom fields."""
    fields = numeric_fields(page.analysis.grid_fields(page.testset, tuple(systems)))
    default = next((n for n in fields if n.startswith("wer[")), "duration")
    name = get_choice(page.state, "hist", list(fields), default)
    field = fields[name]
    grid = page.analysis.numeric_grid(page.testset, tuple(systems), confidence=False)  # no flags either
    if field.column not in grid.frame:  # a confidence count: computed on its first use
        grid = page.analysis.numeric_grid(page.testset, tuple(systems))
    values = grid.frame[field.column].to_numpy(float) * field.scale
    unit = "%" if field.scale == 100 else ""
    return ui.card(
        "Histogram of any field",
        _histogram(values, name, unit, "#8e44ad", bins=50),
        actions=[ui.select("hist", list(fields), name, label="Field", width="18rem")],
    )


def _reference_histograms(stats: DatasetStats) -> dbc.Row:
    """Duration, words, characters and speaking rate of the test set's utterances."""
    hist = stats.histograms
    return dbc.Row(
        [
            dbc.Col(
                ui.card("Duration", _histogram(hist["duration"], "duration", "s", "#2c3e50")), lg=6, xl=3
            ),
            dbc.Col(
                ui.card("Words per utterance", _histogram(hist["words"], "words", "words", "#18bc9c")),
                lg=6,
                xl=3,
            ),
            dbc.Col(
                ui.card(
                    "Characters per utterance", _histogram(hist["chars"], "characters", "chars", "#3498db")
                ),
                lg=6,
                xl=3,
            ),
            dbc.Col(
                ui.card(
                    "Speaking rate", _histogram(hist["word_rate"], "speaking rate", "words/s", "#e67e22")
                ),
                lg=6,
                xl=3,
            ),
        ],
        className="g-3",
    )


def layout(page: PageContext) -> html.Div:
    if page.testset is None:
        return html.Div([page.header("Dataset", "No test sets found."), ui.empty("Nothing to describe.")])
    stats = page.analysis.dataset_stats(page.testset)
    systems = get_list(page.state, "sys", page.systems, page.systems)
    cards = dbc.Row(
        [
            dbc.Col(ui.metric_card("Utterances", ui.number(stats.utterances)), md=2),
            dbc.Col(
                ui.metric_card("Hours", ui.number(stats.hours, 2), f"{ui.number(stats.seconds)} s"), md=2
            ),
            dbc.Col(
                ui.metric_card("Speakers", ui.number(stats.speakers))
                if stats.speakers
                else ui.metric_card("Speakers", ui.DASH, "no speaker field"),
                md=2,
            ),
            dbc.Col(
                ui.metric_card("Vocabulary", ui.number(stats.vocabulary), f"{ui.number(stats.words)} words"),
                md=2,
            ),
            dbc.Col(ui.metric_card("Alphabet", ui.number(len(stats.alphabet)), "distinct characters"), md=2),
            dbc.Col(
                ui.metric_card("OOV rate", ui.pct(stats.oov_rate), stats.oov_source or "no LM vocabulary"),
                md=2,
            ),
        ],
        className="g-3 mb-3",
    )
    histograms = page.analysis.memo(  # the same figures on every visit: plotly builds them once
        ("dataset-histograms", page.testset), lambda: _reference_histograms(stats)
    )
    context = {"ts": page.testset, "norm": page.normalizer, "systems": systems}
    column_defs = page.analysis.vocabulary_column_defs(page.testset, tuple(systems))  # rows: on request
    any_field = _any_field_histogram(page, systems)
    return html.Div(
        [
            page.header(
                "Dataset",
                f"Reference statistics of {page.testset} after the {page.normalizer} normaliser.",
                *(
                    [
                        ui.select(
                            "sys",
                            page.systems,
                            systems,
                            multi=True,
                            label="Systems (word accuracy)",
                            width="24rem",
                        )
                    ]
                    if page.systems  # a dataset without predictions has no accuracy to show
                    else []
                ),
            ),
            cards,
            ui.card("Alphabet", html.Div(stats.alphabet, className="alphabet")),
            histograms,
            any_field,
            ui.card(
                "Vocabulary: per-word accuracy by system" if page.systems else "Vocabulary",
                server_grid(GRID, column_defs, context, height="60vh"),
            ),
        ]
    )


def register(app: Dash, workspace: Workspace) -> None:
    register_server_grid(app, GRID, lambda context: vocabulary_grid(workspace, context))


PAGE = Page("dataset", "/dataset", "Dataset", layout, register)
