"""Word-class views (analysis.word_classes) shared by the leaderboard, errors and compare pages: a grid of
recall/precision/F1/class WER per system and class, a recall bar chart, and a pair's who-recalls-more grid."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
from dash import dcc
from werbench.dashboard import components as ui

PCT1 = ui.d3_format(".1%")
NUM = ui.d3_format(",.0f")
CLASSES_HELP = (
    "Recall: share of the class's reference words recognised; precision: share of its hypothesis words "
    "that are right (texterrors' keyword measures); class WER: errors touching the class over its "
    "reference words (fstalign's class WER plus false alarms); share: part of all errors."
)


def _interval(lo: pd.Series, hi: pd.Series) -> list[str]:
    return [f"{ui.pct(a, 1)} \u2013 {ui.pct(b, 1)}" for a, b in zip(lo, hi, strict=True)]


def class_grid(grid_id: str, frame: pd.DataFrame, testsets: bool = False) -> Any:
    """One row per (test set,) system and class with the class's figures and 95% intervals."""
    shown = frame[frame["ref_words"] > 0].copy()
    shown["recall_ci"] = _interval(shown["recall_lo"], shown["recall_hi"])
    shown["wer_ci"] = _interval(shown["wer_lo"], shown["wer_hi"])
    rate = {"type": "rightAligned", "valueFormatter": PCT1, "width": 105, "filter": "agNumberColumnFilter"}
    columns: list[dict[str, Any]] = (
        [{"field": "testset", "headerName": "Test set", "width": 140}] if testsets else []
    )
    columns += [
        {"field": "class", "headerName": "Class", "width": 130, "pinned": "left"},
        {"field": "system", "headerName": "System", "width": 200, "tooltipField": "system"},
        {"field": "ref_words", "headerName": "Ref words", "type": "rightAligned", "valueFormatter": NUM,
         "width": 100},
        {"field": "recall", "headerName": "Recall", **rate, "cellClass": "fw-semibold"},
        {"field": "recall_ci", "headerName": "95% CI", "width": 130, "sortable": False},
        {"field": "precision", "headerName": "Precision", **rate},
        {"field": "f1", "headerName": "F1", **rate},
        {"field": "wer", "headerName": "Class WER", **rate},
        {"field": "wer_ci", "headerName": "95% CI", "width": 130, "sortable": False},
        {"field": "error_share", "headerName": "Share of errors", **rate, "width": 130},
    ]  # fmt: skip
    return ui.small_grid(grid_id, shown, columns)


def recall_figure(frame: pd.DataFrame, systems: list[str]) -> dcc.Graph:
    """Recall per class, a bar per system with its 95% interval."""
    fig = go.Figure()
    shown = frame[frame["ref_words"] > 0]
    for system, group in shown.groupby("system", sort=False):
        fig.add_bar(
            x=group["class"], y=100 * group["recall"], name=str(system),
            marker_color=ui.system_colour(systems, str(system)),
            error_y={"type": "data", "symmetric": False, "thickness": 1.2, "width": 3,
                     "array": 100 * (group["recall_hi"] - group["recall"]),
                     "arrayminus": 100 * (group["recall"] - group["recall_lo"])},
            customdata=group[["ref_words"]].to_numpy(),
            hovertemplate="%{x}: recall %{y:.1f}% of %{customdata[0]:,} words<extra>%{fullData.name}</extra>",
        )  # fmt: skip
    fig.update_layout(barmode="group", yaxis_title="recall (%) with 95% CI", yaxis_range=[0, 105])
    return ui.graph(ui.style_figure(fig, height=320))


def class_pairs_grid(grid_id: str, frame: pd.DataFrame) -> Any:
    """Per class: recall of A and of B, B - A with its paired-bootstrap interval, P(B recalls more)."""
    shown = frame[frame["ref_words"] > 0].copy()
    shown["delta_ci"] = [
        f"{100 * lo:+.1f} \u2013 {100 * hi:+.1f} pts" if pd.notna(lo) else "\u2013"
        for lo, hi in zip(shown["delta_lo"], shown["delta_hi"], strict=True)
    ]
    rate = {"type": "rightAligned", "valueFormatter": PCT1, "width": 110}
    columns = [
        {"field": "class", "headerName": "Class", "width": 140, "pinned": "left"},
        {"field": "ref_words", "headerName": "Ref words", "type": "rightAligned", "width": 100},
        {"field": "recall_a", "headerName": "Recall A", **rate},
        {"field": "recall_b", "headerName": "Recall B", **rate},
        {"field": "delta", "headerName": "B \u2212 A", **rate,
         "cellStyle": {"function": "params.data.delta_lo > 0 ? {color: '#15803d', fontWeight: 600} : "
                                   "params.data.delta_hi < 0 ? {color: '#b91c1c', fontWeight: 600} : {}"}},
        {"field": "delta_ci", "headerName": "95% CI", "width": 150, "sortable": False},
        {"field": "p_b_better", "headerName": "P(B recalls more)", **rate, "width": 150},
    ]  # fmt: skip
    return ui.small_grid(grid_id, shown, columns)
