"""Confidence views (analysis.confidence) shared by the leaderboard, errors, compare and utterances pages: the
measure chooser, a grid of how well each system's word confidence predicts its errors, the reliability
diagram."""

from __future__ import annotations

from typing import Any

import pandas as pd
from werbench.analysis.confidence import CONFIDENT, DEFAULT_MEASURE, DOUBTFUL, MEASURES
from werbench.dashboard import components as ui

FIXED3 = ui.d3_format(".3f")
MEASURE_LABELS = {
    "max_prob_mean": "mean max-probability, the default",
    "max_prob_min": "min max-probability",
    "entropy": "entropy (NeMo's default)",
}


def confidence_help(measure: str) -> str:
    """What the confidence figures mean, for the measure shown."""
    return (
        f"Word confidence ({MEASURE_LABELS[measure]}, from the CTC frame posteriors of each word's frames) "
        "as an error detector: AUC-ROC and AUC-PR of flagging wrong words by low confidence (0.5 = chance), "
        "NCE (normalised cross entropy as sclite computes it: above 0 beats always guessing the accuracy), "
        "ECE (expected calibration error over 10 bins: 0 = calibrated). Confident errors: wrong words at "
        f"confidence \u2265 {CONFIDENT:g}; doubtful but right: correct words below {DOUBTFUL:g} (the "
        "Utterances page filters both). The entropy measure ranks errors well but is not a probability: "
        "its thresholds and ECE read best with the max-probability measures."
    )


def confidence_select(measure: str) -> Any:
    """The measure chooser (URL key ``cm``), the same on every page that shows confidences."""
    return ui.select(
        "cm", MEASURES, measure, label="Confidence measure", width="13rem", labels=MEASURE_LABELS
    )


def for_measure(frame: pd.DataFrame, measure: str = DEFAULT_MEASURE) -> pd.DataFrame:
    """The rows of one measure of ``confidence_tables``' summary or reliability diagram."""
    return frame[frame["measure"] == measure] if len(frame) else frame


def confidence_grid(grid_id: str, summary: pd.DataFrame, measure: str, testsets: bool = False) -> Any:
    """One row per (test set,) system under ``measure``: words, AUC-ROC, AUC-PR, NCE, ECE, mean
    confidence, accuracy, confident errors, doubtful right (and unmatched utterances where there are)."""
    shown = for_measure(summary, measure)
    score = {"type": "rightAligned", "valueFormatter": FIXED3, "width": 112, "filter": "agNumberColumnFilter"}
    count = {"type": "rightAligned", "valueFormatter": ui.d3_format(",.0f"), "width": 100}
    columns: list[dict[str, Any]] = (
        [{"field": "testset", "headerName": "Test set", "width": 140}] if testsets else []
    )
    columns += [
        {"field": "system", "headerName": "System", "width": 200, "tooltipField": "system"},
        {"field": "words", "headerName": "Words", **count},
        {"field": "auc_roc", "headerName": "AUC-ROC", **score, "cellClass": "fw-semibold"},
        {"field": "auc_pr", "headerName": "AUC-PR", **score},
        {"field": "nce", "headerName": "NCE", **score, "width": 95},
        {"field": "ece", "headerName": "ECE", **score, "width": 95},
        {"field": "mean_confidence", "headerName": "Mean conf.", **score, "width": 122},
        {"field": "accuracy", "headerName": "Accuracy", "type": "rightAligned",
         "valueFormatter": ui.d3_format(".1%"), "width": 112},
        {"field": "confident_errors", "headerName": "Confident errors", **count, "width": 165},
        {"field": "doubtful_right", "headerName": "Doubtful right", **count, "width": 140},
    ]  # fmt: skip
    if len(shown) and shown["unmatched"].gt(0).any():
        columns.append({"field": "unmatched", "headerName": "Unmatched utts", **count, "width": 140,
                        "headerTooltip": "utterances whose confidences could not be mapped onto the "
                                         "normalised words (left out)"})  # fmt: skip
    return ui.small_grid(grid_id, shown, columns)


def reliability_graph(diagram: pd.DataFrame, systems: list[str], graph_id: str) -> Any:
    """The reliability diagram (analysis.report_html's figure) in the dashboard's style and system colours."""
    from werbench.analysis.report_html import reliability_figure

    colours = {s: ui.system_colour(systems, s) for s in diagram["system"].unique()}
    return ui.graph(ui.style_figure(reliability_figure(diagram, colours), height=380), graph_id)
