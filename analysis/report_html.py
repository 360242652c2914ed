"""The self-contained, offline HTML report: one file, plotly.js inlined from the installed plotly package.

The page is rendered from a Jinja2 template (``report_assets/report.html``) with its stylesheet and
script inlined, and every plot travels as a plotly JSON spec drawn by the inlined plotly.js, so the file
opens anywhere without a network. Texts are HTML-escaped by the template; JSON specs are escaped for
``<script>`` blocks. Only bounded slices of large tables go in (the CSV export has everything).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from plotly.offline import get_plotlyjs
from plotly.utils import PlotlyJSONEncoder
from werbench.analysis.compare import Comparison, three_way
from werbench.analysis.confidence import CONFIDENT, DEFAULT_MEASURE, DOUBTFUL
from werbench.analysis.errors import replay
from werbench.analysis.lineage import LineageStep, attribution_sentence
from werbench.analysis.report_data import ReportData
from werbench.analysis.significance import format_p
from werbench.manifests.atomic import atomic_write

from werbench._version import __version__

ASSETS = Path(__file__).with_name("report_assets")
PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#65a30d", "#475569",
           "#ea580c", "#4f46e5", "#0d9488"]  # fmt: skip
DASH = "\u2013"
MAX_GROUPS_PLOTTED = 30
TOP_ERRORS = 15
TOP_UTTERANCES = 12


# ------------------------------------------------------------------------------------------- formatting


def pct(value: Any, digits: int = 2) -> str:
    """A rate as a percentage; a dash for undefined (NaN/None)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return DASH
    return f"{100 * float(value):.{digits}f}"


def p_text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return DASH
    return format_p(value)


def num(value: Any, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return DASH
    return f"{value:,.{digits}f}"


def _script_json(obj: Any) -> Markup:
    """JSON that is safe inside ``<script type="application/json">``."""
    text = json.dumps(obj, cls=PlotlyJSONEncoder, ensure_ascii=False)
    return Markup(text.replace("</", "<\\/").replace("<!--", "<\\!--"))


# ------------------------------------------------------------------------------------------------ plots


@dataclass(frozen=True, slots=True)
class Plot:
    id: str
    spec: Markup
    height: int


class _Plots:
    """Numbered plot specs for one page, and one colour per system on every plot."""

    def __init__(self, systems: list[str]) -> None:
        self.count = 0
        self.colour = {name: PALETTE[k % len(PALETTE)] for k, name in enumerate(sorted(set(systems)))}

    def add(self, fig: go.Figure, height: int = 360, legend_top: bool = False) -> Plot:
        """``legend_top``: the legend above the plot, clear of long slanted category labels."""
        self.count += 1
        fig.update_layout(
            height=height,
            margin={"l": 60, "r": 20, "t": 48 if legend_top else 24, "b": 60},
            font={"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12},
            paper_bgcolor="rgba(0,0,0,0)",
            plot_bgcolor="#ffffff",
            legend={"orientation": "h", "y": 1.02, "yanchor": "bottom"}
            if legend_top
            else {"orientation": "h", "y": -0.2},
            colorway=PALETTE,
        )
        fig.update_yaxes(gridcolor="#e5e7eb", zerolinecolor="#cbd5e1")
        return Plot(f"plot-{self.count}", _script_json(fig.to_plotly_json()), height)


def _error_bars(frame: pd.DataFrame, metric: str) -> dict[str, Any]:
    value = frame[metric].astype(float) * 100
    return {
        "type": "data",
        "symmetric": False,
        "array": (frame[f"{metric}_hi"].astype(float) * 100 - value).clip(lower=0).round(4).tolist(),
        "arrayminus": (value - frame[f"{metric}_lo"].astype(float) * 100).clip(lower=0).round(4).tolist(),
        "thickness": 1.2,
        "width": 4,
        "color": "#334155",
    }


def wer_plot(plots: _Plots, systems: pd.DataFrame) -> Plot:
    fig = go.Figure()
    several = systems["testset"].nunique() > 1
    for k, (testset, group) in enumerate(systems.groupby("testset", sort=True)):
        group = group.sort_values("wer")
        colours = PALETTE[k % len(PALETTE)] if several else [plots.colour[s] for s in group["system"]]
        fig.add_bar(
            name=str(testset),
            x=group["system"].tolist(),
            y=(group["wer"].astype(float) * 100).round(4).tolist(),
            error_y=_error_bars(group, "wer"),
            marker_color=colours,
            hovertemplate="%{x}<br>WER %{y:.2f}%<extra>" + str(testset) + "</extra>",
        )
    fig.update_layout(barmode="group", yaxis_title="WER (%) with 95% CI", showlegend=several)
    return plots.add(fig, height=400, legend_top=True)


def breakdown_plot(plots: _Plots, table: pd.DataFrame, field: str) -> tuple[Plot, list[Any]]:
    """Grouped bars of WER per group and system; at most ``MAX_GROUPS_PLOTTED`` groups (the largest)."""
    sizes = table.groupby(field, observed=True)["utts"].max().sort_values(ascending=False)
    shown = list(sizes.index[:MAX_GROUPS_PLOTTED])
    order = [g for g in table[field].drop_duplicates() if g in shown]
    fig = go.Figure()
    for (testset, system), group in table.groupby(["testset", "system"], sort=True):
        group = group.set_index(field).reindex(order).reset_index()
        label = system if table["testset"].nunique() == 1 else f"{testset}/{system}"
        fig.add_bar(
            name=label,
            x=[str(g) for g in group[field]],
            y=(group["wer"].astype(float) * 100).round(4).tolist(),
            error_y=_error_bars(group, "wer"),
            marker_color=plots.colour.get(system, PALETTE[0]),
            customdata=group["utts"].tolist(),
            hovertemplate="%{x}<br>WER %{y:.2f}%<br>%{customdata} utterances<extra>" + label + "</extra>",
        )
    fig.update_layout(barmode="group", yaxis_title="WER (%)", xaxis_title=field, xaxis_type="category")
    return plots.add(fig), shown


def outcome_plot(plots: _Plots, comparison: Comparison) -> Plot:
    ok = comparison.utterances[comparison.utterances["outcome"] != "failed"]
    delta = ok["delta"].clip(-10, 10)
    counts = delta.value_counts().sort_index()
    colors = ["#16a34a" if d < 0 else "#dc2626" if d > 0 else "#94a3b8" for d in counts.index]
    fig = go.Figure(go.Bar(x=counts.index.tolist(), y=counts.tolist(), marker_color=colors,
                           hovertemplate="%{y} utterances with %{x:+d} errors<extra></extra>"))  # fmt: skip
    fig.update_layout(
        xaxis_title=f"word errors of {comparison.system_b} minus {comparison.system_a} (clipped to ±10)",
        yaxis_title="utterances",
        bargap=0.1,
    )
    return plots.add(fig, height=260)


# ------------------------------------------------------------------------------------------ view model


def diff_cells(ops: str, ref: str, hyp: str) -> list[dict[str, Any]]:
    return [{"op": op, "ref": r, "hyp": h} for op, r, h in replay(ops, ref, hyp)]


def _records(frame: pd.DataFrame, limit: int | None = None) -> list[dict[str, Any]]:
    frame = frame.head(limit) if limit else frame
    return frame.to_dict(orient="records")


def _leaderboards(report: ReportData) -> list[dict[str, Any]]:
    systems = report.tables.systems
    best = report.versus_best.set_index(["testset", "system"]) if not report.versus_best.empty else None
    boards = []
    for testset, group in systems.groupby("testset", sort=True):
        rows = []
        for rank, row in enumerate(group.sort_values(["wer", "system"]).to_dict(orient="records"), start=1):
            vs = (
                best.loc[(testset, row["system"])]
                if best is not None and (testset, row["system"]) in best.index
                else None
            )
            row["rank"] = rank
            row["p_vs_best"] = None if vs is None else vs["p_holm"]  # Holm-adjusted: decides the mark
            row["p_vs_best_text"] = "" if vs is None else vs["p_holm_text"]
            row["p_vs_best_raw"] = "" if vs is None else vs["p_text"]
            rows.append(row)
        boards.append({"testset": testset, "rows": rows, "friedman": report.friedman.get(str(testset))})
    return boards


def _error_panels(report: ReportData) -> list[dict[str, Any]]:
    errors = report.errors
    panels = []
    for (testset, system), _ in report.tables.systems.groupby(["testset", "system"], sort=True):

        def pick(frame: pd.DataFrame, testset=testset, system=system) -> pd.DataFrame:
            if frame.empty or "system" not in frame:
                return frame
            return frame[(frame["testset"] == testset) & (frame["system"] == system)]

        accuracy = pick(errors.word_accuracy)
        frequent = accuracy[accuracy["count"] >= 3].sort_values(
            ["accuracy", "count"], ascending=[True, False]
        )
        oov = pick(errors.oov)
        panels.append(
            {
                "testset": testset,
                "system": system,
                "confusions": _records(pick(errors.confusions), TOP_ERRORS),
                "inserted": _records(pick(errors.inserted), TOP_ERRORS),
                "deleted": _records(pick(errors.deleted), TOP_ERRORS),
                "substituted": _records(pick(errors.substituted), TOP_ERRORS),
                "hard_words": _records(frequent, TOP_ERRORS),
                "oov": _records(oov)[0] if len(oov) else None,
            }
        )
    return panels


def _worst(report: ReportData) -> list[dict[str, Any]]:
    utts = report.tables.utterances
    fields = ["testset", "system", "utt_id", "failed", "failure", "S", "D", "I", "ref_words", "wer"]
    out = []  # texts are fetched for the shown rows only (a million rows' texts are never copied)
    for (testset, system), rows in utts[[c for c in fields if c in utts]].groupby(["testset", "system"]):
        ok = rows[~rows["failed"]].assign(errors=lambda f: f["S"] + f["D"] + f["I"])
        worst = ok.sort_values(["errors", "wer", "utt_id"], ascending=[False, False, True]).head(
            TOP_UTTERANCES
        )
        worst = worst.join(utts.loc[worst.index, ["ops", "ref", "hyp"]])
        items = [
            {"utt_id": r.utt_id, "errors": int(r.errors), "ref_words": int(r.ref_words), "wer": r.wer,
             "cells": diff_cells(r.ops, r.ref, r.hyp)}
            for r in worst.itertuples(index=False)
            if r.errors > 0
        ]  # fmt: skip
        failed = rows.loc[rows["failed"], ["utt_id", "failure"]].head(TOP_UTTERANCES)
        out.append(
            {
                "testset": testset,
                "system": system,
                "shown": items,
                "failed": _records(failed),
                "failed_total": int(rows["failed"].sum()),
            }
        )
    return out


def _comparison_view(plots: _Plots, comparison: Comparison) -> dict[str, Any]:
    ok = comparison.utterances[comparison.utterances["outcome"] != "failed"]
    changed = ok.assign(size=ok["delta"].abs()).sort_values(["size", "utt_id"], ascending=[False, True])
    changed = changed[changed["size"] > 0].head(TOP_UTTERANCES)
    items = [
        {"utt_id": r.utt_id, "err_a": int(r.err_a), "err_b": int(r.err_b), "outcome": r.outcome,
         "columns": three_way(r.ref, r.hyp_a, r.ops_a, r.hyp_b, r.ops_b)}
        for r in changed.itertuples(index=False)
    ]  # fmt: skip
    boot = next((t for t in comparison.tests if t.name == "bootstrap"), None)
    return {
        "c": comparison,
        "boot": boot,
        "shown": items,
        "plot": outcome_plot(plots, comparison) if len(ok) else None,
    }


def attribution_figure(table: pd.DataFrame) -> go.Figure:
    """Per system (``lineage.error_attribution``'s rows): errors stacked as kept from the greedy output and
    introduced by the decoder, the greedy errors it fixed below zero, its search errors as a marker (the
    report's and the dashboard's Errors page's figure)."""
    labels = table["system"].tolist()
    fig = go.Figure()
    for column, name, colour, sign in (
        ("kept", "kept from greedy (acoustic)", "#64748b", 1),
        ("introduced", "introduced by decoder/LM", "#dc2626", 1),
        ("fixed", "greedy errors fixed", "#16a34a", -1),
    ):  # fmt: skip
        fig.add_bar(x=labels, y=(sign * table[column]).tolist(), name=name, marker_color=colour)
    fig.add_scatter(x=labels, y=table["search_errors"].tolist(), mode="markers",
                    name="search errors (in its n-best)",
                    marker={"symbol": "diamond", "size": 10, "color": "#d97706"})  # fmt: skip
    fig.update_layout(barmode="relative", yaxis_title="word errors")
    return fig


def _attribution_view(plots: _Plots, report: ReportData) -> list[dict[str, Any]]:
    """Per test set: one sentence per system, the stacked bars and the table."""
    views = []
    for testset, table in report.attribution.groupby("testset", sort=True):
        rows = _records(table)
        for row in rows:
            row["sentence"] = attribution_sentence(row)
        plot = plots.add(attribution_figure(table), height=400, legend_top=True)
        views.append({"testset": testset, "rows": rows, "plot": plot})
    return views


def reliability_figure(diagram: pd.DataFrame, colour: Mapping[str, str]) -> go.Figure:
    """Accuracy against mean confidence per bin (``confidence.reliability``), a line per system in its
    ``colour``; the diagonal is perfect calibration (the report's and the dashboard's figure)."""
    fig = go.Figure()
    fig.add_scatter(
        x=[0, 1], y=[0, 1], mode="lines", name="calibrated", line={"dash": "dot", "color": "#94a3b8"}
    )
    for (testset, system), group in diagram[diagram["words"] > 0].groupby(["testset", "system"], sort=True):
        name = str(system) if diagram["testset"].nunique() == 1 else f"{system} ({testset})"
        fig.add_scatter(
            x=group["confidence"].round(4).tolist(), y=group["accuracy"].round(4).tolist(),
            mode="lines+markers", name=name, marker_color=colour.get(system),
            customdata=group["words"].tolist(),
            hovertemplate="confidence %{x:.2f}: %{y:.1%} correct of %{customdata:,} words<extra>"
            + name + "</extra>",
        )  # fmt: skip
    fig.update_layout(
        xaxis_title="mean confidence (bin)",
        yaxis_title="share correct",
        xaxis_range=[0, 1],
        yaxis_range=[0, 1.02],
    )
    return fig


def _confidence_view(plots: _Plots, report: ReportData) -> dict[str, Any] | None:
    """The default measure's figures per system, and its reliability diagram per test set (one line per
    system: all test sets in one plot are unreadable)."""
    if report.confidence.empty:
        return None
    default = report.confidence[report.confidence["measure"] == DEFAULT_MEASURE]
    diagram = report.reliability[report.reliability["measure"] == DEFAULT_MEASURE]
    return {
        "rows": _records(default),
        "others": _records(report.confidence[report.confidence["measure"] != DEFAULT_MEASURE]),
        "plots": [
            (testset, plots.add(reliability_figure(part, plots.colour), height=400, legend_top=True))
            for testset, part in diagram.groupby("testset", sort=True)
        ],
        "measure": DEFAULT_MEASURE,
        "confident": CONFIDENT,
        "doubtful": DOUBTFUL,
    }


def _punctuation_view(report: ReportData) -> list[dict[str, Any]]:
    """Per test set: each system's normalised WER beside its punctuation and case error rates, and the
    per-mark table (``analysis.case_punctuation``); empty when no reference carries marks or case."""
    if report.punctuation.empty:
        return []
    wer = report.tables.systems[["testset", "system", "wer"]]
    rows = report.punctuation.merge(wer, on=["testset", "system"], how="left")
    return [
        {
            "testset": testset,
            "rows": _records(group),
            "marks": _records(report.punctuation_marks[report.punctuation_marks["testset"] == testset]),
        }
        for testset, group in rows.groupby("testset", sort=True)
    ]


def _lineage_view(steps: list[LineageStep]) -> list[dict[str, Any]]:
    views = []
    for step in steps:
        views.append(
            {"step": step, "fixed": _records(step.fixed, 10), "introduced": _records(step.introduced, 10)}
        )
    return views


def class_plot(plots: _Plots, rows: pd.DataFrame) -> Plot:
    """Recall per word class, a bar per system with its 95% interval."""
    fig = go.Figure()
    for system, group in rows.groupby("system", sort=True):
        fig.add_bar(
            name=str(system), x=group["class"].tolist(),
            y=(group["recall"].astype(float) * 100).round(3).tolist(),
            error_y=_error_bars(group, "recall"), marker_color=plots.colour.get(system),
            hovertemplate="%{x}: recall %{y:.1f}%<extra>" + str(system) + "</extra>",
        )  # fmt: skip
    fig.update_layout(barmode="group", yaxis_title="recall %", yaxis_range=[0, 105])
    return plots.add(fig, height=300)


def _class_boards(plots: _Plots, report: ReportData) -> list[dict[str, Any]]:
    boards = []
    if report.classes.empty:
        return boards
    for testset, rows in report.classes.groupby("testset", sort=True):
        rows = rows[rows["ref_words"] > 0]
        if rows.empty:
            continue
        boards.append({"testset": testset, "rows": _records(rows), "plot": class_plot(plots, rows)})
    return boards


def _class_pairs(report: ReportData, comparison: Comparison) -> list[dict[str, Any]]:
    frame = report.class_comparisons
    if frame.empty:
        return []
    mine = frame[
        (frame["testset"] == comparison.testset)
        & (frame["system_a"] == comparison.system_a)
        & (frame["system_b"] == comparison.system_b)
        & (frame["ref_words"] > 0)
    ]
    return _records(mine)


def view_model(report: ReportData) -> dict[str, Any]:
    systems = report.tables.systems
    plots = _Plots(systems["system"].tolist())
    breakdown_views = []
    for field, table in report.breakdowns.items():
        plot, shown = breakdown_plot(plots, table, field)
        rows = _records(table[table[field].isin(shown)])
        breakdown_views.append(
            {"field": field, "plot": plot, "shown": len(shown), "total": table[field].nunique(), "rows": rows}
        )
    return {
        "title": "werbench report",
        "version": __version__,
        "report": report,
        "settings": report.settings,
        "source": report.source,
        "created": report.created,
        "warnings": report.tables.warnings,
        "n_testsets": systems["testset"].nunique(),
        "n_systems": systems["system"].nunique(),
        "n_utts": int(report.tables.utterances["utt_id"].nunique()),
        "leaderboards": _leaderboards(report),
        "wer_plot": wer_plot(plots, systems) if len(systems) else None,
        "breakdowns": breakdown_views,
        "error_panels": _error_panels(report),
        "classes": _class_boards(plots, report),
        "hallucinations": _records(report.hallucinations),
        "hallucinated": _records(
            report.hallucinated.sort_values(["insertion_run", "system"], ascending=[False, True]),
            TOP_ERRORS * 2,
        )
        if not report.hallucinated.empty
        else [],
        "comparisons": [
            {**_comparison_view(plots, c), "classes": _class_pairs(report, c)} for c in report.comparisons
        ],  # anchors cmp-1, cmp-2, ...
        "lineage": _lineage_view(report.lineage),
        "attribution": _attribution_view(plots, report),
        "confidence": _confidence_view(plots, report),
        "punctuation": _punctuation_view(report),
        "nbest": _records(report.nbest_summary),
        "worst": _worst(report),
        "palette": PALETTE,
    }


# ------------------------------------------------------------------------------------------- rendering


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(ASSETS),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(pct=pct, p=p_text, num=num)
    return env


def render_html(report: ReportData) -> str:
    """The whole report as one HTML document (about 5 MB, most of it plotly.js)."""
    env = _environment()
    return env.get_template("report.html").render(
        **view_model(report),
        css=Markup((ASSETS / "report.css").read_text(encoding="utf-8")),
        script=Markup((ASSETS / "report.js").read_text(encoding="utf-8")),
        plotly_js=Markup(get_plotlyjs()),
    )


def write_html_report(path: str | Path, report: ReportData) -> Path:
    path = Path(path)
    with atomic_write(path) as handle:
        handle.write(render_html(report))
    return path
