"""One utterance: every field, word diffs per system, audio with waveform/spectrogram, lineage, n-best."""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
import numpy as np
import plotly.graph_objects as go
from dash import Dash, Input, Output, dcc, html
from plotly.subplots import make_subplots
from werbench.dashboard import components as ui
from werbench.dashboard import state as url_state
from werbench.dashboard.audio import audio_url, signal_view
from werbench.dashboard.confidence_views import confidence_select
from werbench.dashboard.data import HypothesisView, UtteranceDetail
from werbench.dashboard.pages.base import Page, PageContext
from werbench.dashboard.pages.utterances import VIEW_KEYS, view_context
from werbench.dashboard.workspace import Workspace


def _hypothesis(hyp: HypothesisView, systems: list[str], show_chars: bool, as_written: bool) -> html.Div:
    counts = f"C {hyp.C} · S {hyp.S} · D {hyp.D} · I {hyp.I} · WER {ui.pct(hyp.wer)} · CER {ui.pct(hyp.cer)}"
    head = html.Div(
        [
            html.Span(
                [
                    html.Span(
                        className="system-dot", style={"background": ui.system_colour(systems, hyp.system)}
                    ),
                    html.Span(hyp.system, className="system-name"),
                ]
            ),
            html.Span(counts, className="counts"),
        ],
        className="hyp-head",
    )
    if hyp.failed:
        body: Any = dbc.Alert(
            f"decoding failed: {hyp.error or 'no reason recorded'}", color="warning", className="py-1 mb-0"
        )
    elif as_written and hyp.raw_pairs is not None:
        body = ui.word_diff(hyp.raw_pairs, hyp.word_times, confidence=hyp.confidence)
    else:
        body = ui.word_diff(hyp.pairs, hyp.word_times, confidence=hyp.confidence)
    parts = [head, body]
    if as_written and not hyp.failed and hyp.raw_pairs is None:
        parts.append(
            html.Div(
                "Normalised diff: the raw texts do not map word for word onto the normalised ones.",
                className="counts",
            )
        )
    if show_chars and not hyp.failed:
        parts.append(ui.char_diff(hyp.char_pairs()))
    return html.Div(parts, className="hyp-block")


def _fields(detail: UtteranceDetail, audio: dict[str, str]) -> dbc.Table:
    """The manifest's fields, then the audio metrics measured on opening (or why there are none)."""
    rows = [html.Tr([html.Th(k), html.Td(str(v))]) for k, v in detail.fields.items()]
    rows += [html.Tr([html.Th(k), html.Td(v)], className="audio-metric") for k, v in audio.items()]
    return dbc.Table(html.Tbody(rows), className="field-table", size="sm", borderless=True)


def _lineage(detail: UtteranceDetail) -> list[Any]:
    blocks = []
    for model, stages in detail.lineage.items():
        steps = []
        for stage in stages:
            change = []
            if stage.fixed is not None:
                change = [
                    dbc.Badge(f"{stage.fixed} fixed", color="success", className="me-1"),
                    dbc.Badge(
                        f"{stage.introduced} introduced",
                        color="danger" if stage.introduced else "secondary",
                        className="me-1",
                    ),
                ]
            source = f"from {stage.parent}" if stage.parent else "root"
            steps.append(
                html.Div(
                    [
                        html.Div(
                            [
                                html.Span(stage.name, className="system-name me-2"),
                                html.Span(source, className="lineage-parent text-muted me-2"),
                                html.Span(f"{stage.errors} errors", className="counts me-2"),
                                *change,
                            ]
                        ),
                        ui.word_diff(stage.pairs),
                    ],
                    className="lineage-step",
                    style={"marginLeft": f"{1.5 * stage.depth}rem"},
                )
            )
        blocks.append(html.Div([html.H6(f"Model {model}", className="mt-1"), *steps], className="mb-3"))
    return blocks or [
        ui.empty(
            "No decoder lineage: no system recorded what it decoded from (run.json's decoder.lineage), "
            "or none of them has a stage to compare with."
        )
    ]


def _nbest(detail: UtteranceDetail) -> list[Any]:
    cards = []
    for system, rows in detail.nbest.items():
        table = dbc.Table(
            [
                html.Thead(
                    html.Tr(
                        [
                            html.Th(h)
                            for h in ("#", "Hypothesis", "Errors", "WER", "AM", "LM", "Neural", "Score")
                        ]
                    )
                ),
                html.Tbody(
                    [
                        html.Tr(
                            [
                                html.Td(r.rank),
                                html.Td(ui.word_diff(r.pairs)),
                                html.Td(r.errors),
                                html.Td(ui.pct(r.wer)),
                                html.Td(ui.number(r.am_score, 2)),
                                html.Td(ui.number(r.lm_score, 2)),
                                html.Td(ui.number(r.neural_score, 2)),
                                html.Td(ui.number(r.score, 2)),
                            ],
                            className="oracle-row" if r.is_oracle else "",
                        )
                        for r in rows
                    ]
                ),
            ],
            className="wb-table nbest-table",
            size="sm",
            hover=True,
        )
        oracle = next((r for r in rows if r.is_oracle), None)
        note = (
            f"Oracle: rank {oracle.rank} with {oracle.errors} errors (top-1 has {rows[0].errors})."
            if oracle
            else ""
        )
        cards.append(
            html.Div([html.H6(system), html.Div(note, className="counts mb-1"), table], className="mb-3")
        )
    return cards or [ui.empty("No n-best lists were recorded for this utterance.")]


def signal_figure(view: Any) -> go.Figure:
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.04, row_heights=[0.35, 0.65])
    fig.add_trace(
        go.Scatter(
            x=np.concatenate([view.times, view.times[::-1]]),
            y=np.concatenate([view.upper, view.lower[::-1]]),
            fill="toself",
            mode="lines",
            line={"width": 0.6, "color": "#2c3e50"},
            fillcolor="rgba(44,62,80,.55)",
            hoverinfo="skip",
            name="waveform",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Heatmap(
            x=view.spec_times,
            y=view.spec_freqs,
            z=view.spec_db,
            colorscale="Viridis",
            showscale=False,
            hovertemplate="%{x:.2f}s · %{y:.0f} Hz · %{z:.0f} dB<extra></extra>",
        ),
        row=2,
        col=1,
    )
    fig.update_yaxes(showticklabels=False, row=1, col=1)
    fig.update_yaxes(title_text="Hz", row=2, col=1)
    fig.update_xaxes(title_text="seconds", row=2, col=1)
    fig.update_layout(clickmode="event")
    return ui.style_figure(fig, height=300, legend=False)


def layout(page: PageContext) -> html.Div:
    utt_id = page.state.get("id", "")
    if page.testset is None or not page.analysis.has_utterance(page.testset, utt_id):
        return html.Div(
            [
                page.header("Utterance", "Not found."),
                ui.empty(f"No utterance {utt_id!r} in this test set. Open one from the Utterances page."),
            ]
        )
    context = view_context(page)
    detail = page.analysis.utterance_detail(page.testset, utt_id, tuple(context["systems"]), context["cm"])
    grid_state = url_state.get_json(page.state, "grid")
    nav = page.analysis.neighbours(context, grid_state, utt_id)
    keep = {k: page.state[k] for k in VIEW_KEYS if k in page.state}
    show_chars = page.state.get("chars") == "1"
    as_written = page.state.get("raw") == "1"

    def nav_link(target: str | None, label: str, element_id: str, key: str) -> dbc.Button:
        href = (
            "/utterance"
            + url_state.encode(
                {**keep, "id": target, "chars": page.state.get("chars"), "raw": page.state.get("raw")}
            )
            if target
            else None
        )
        return dbc.Button(
            [label, " ", html.Span(key, className="kbd")],
            id=element_id,
            href=href,
            color="light",
            size="sm",
            disabled=target is None,
            className="border",
        )

    navigation = html.Div(
        [
            dbc.Button(
                "← Back to list", href="/utterances" + url_state.encode(keep), color="link", size="sm"
            ),
            nav_link(nav.previous, "Previous", "utt-prev", "←"),
            html.Span(
                f"{nav.position:,} of {nav.total:,} in this view" if nav.position else "not in this view",
                className="counts",
            ),
            nav_link(nav.next, "Next", "utt-next", "→"),
        ],
        className="utt-nav",
    )
    absent = page.workspace.audio_absence(page.testset, utt_id)
    player = html.Div(
        [
            html.Audio(
                id="utt-audio",
                src=audio_url(page.testset, utt_id),
                controls=True,
                preload="metadata",
                className="wb-audio",
            ),
            dcc.Loading(
                dcc.Graph(
                    id="utt-signal",
                    config={"displaylogo": False, "responsive": True},
                    style={"height": "300px"},
                ),
                type="dot",
                color="#18bc9c",
            ),
            dcc.Store(id="utt-key", data={"ts": page.testset, "id": utt_id}),
            html.Div(
                "Click the waveform or spectrogram, or a hypothesis word with a timing, to play from there. "
                "Space plays/pauses.",
                className="counts mt-1",
            ),
        ]
    )
    audio = ui.empty(absent) if absent else player
    confident = any(h.confidence for h in detail.hypotheses)  # words with confidences to colour
    legend = html.Div(
        [
            html.Span("substitution", className="legend-chip op-s"),
            html.Span("deletion", className="legend-chip op-d"),
            html.Span("insertion", className="legend-chip op-i"),
        ]
    )
    transcripts = html.Div(
        [
            *([ui.confidence_legend(context["cm"])] if confident else []),
            html.Div(
                [
                    html.Div("Reference", className="system-name"),
                    html.Div((as_written and detail.raw_ref) or detail.ref, className="reference-text"),
                ],
                className="hyp-block",
            ),
            *[_hypothesis(h, page.systems, show_chars, as_written) for h in detail.hypotheses],
        ]
    )
    char_switch = dbc.Switch(
        id=url_state.url_id("chars"), label="character diff", value=show_chars, className="mb-0 small"
    )
    raw_switch = dbc.Switch(
        id=url_state.url_id("raw"),
        label=html.Span(
            "as written",
            title="Words as written (case and punctuation) on the alignment of the normalised words; off: "
            "the normalised diff the WER counts",
        ),
        value=as_written,
        className="mb-0 small",
    )
    return html.Div(
        [
            page.header(
                f"Utterance {utt_id}",
                " · ".join(
                    [page.testset]
                    + ([f"speaker {detail.fields['speaker']}"] if "speaker" in detail.fields else [])
                    + [f"{ui.number(detail.fields.get('duration'), 2)} s"]
                ),
                navigation,
                *([confidence_select(context["cm"])] if confident else []),
            ),
            dbc.Row(
                [
                    dbc.Col(
                        [
                            ui.card("Transcripts", transcripts, actions=[legend, raw_switch, char_switch]),
                            ui.card("Decoder lineage", _lineage(detail)),
                            ui.card("N-best lists", _nbest(detail)),
                        ]
                        if page.systems
                        else [ui.card("Transcript", transcripts)],  # a dataset: nothing was decoded
                        xl=8,
                    ),
                    dbc.Col(
                        [
                            ui.card("Audio", audio),
                            ui.card(
                                "Fields",
                                _fields(detail, page.analysis.utterance_audio_metrics(page.testset, utt_id)),
                            ),
                        ],
                        xl=4,
                    ),
                ],
                className="g-3",
            ),
        ]
    )


def register(app: Dash, workspace: Workspace) -> None:
    @app.callback(Output("utt-signal", "figure"), Input("utt-key", "data"))
    def draw_signal(key: dict) -> go.Figure:
        source = workspace.audio_source(key["ts"], key["id"])
        if source is None:
            return ui.style_figure(go.Figure(), height=300)
        try:
            return signal_figure(signal_view(source))
        except (OSError, RuntimeError, ValueError) as exc:
            fig = go.Figure()
            fig.add_annotation(text=f"audio unreadable: {exc}", showarrow=False)
            return ui.style_figure(fig, height=300)

    app.clientside_callback(
        """function (click) {
            const audio = document.getElementById('utt-audio');
            if (click && click.points && click.points.length && audio) {
                audio.currentTime = click.points[0].x; audio.play().catch(function () {});
            }
            return window.dash_clientside.no_update;
        }""",
        Output("utt-signal", "id"),
        Input("utt-signal", "clickData"),
        prevent_initial_call=True,
    )


PAGE = Page("utterance", "/utterance", "Utterance", layout, register, in_menu=False)
