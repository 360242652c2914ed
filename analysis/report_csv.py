"""CSV files of a report: one file per table, written atomically, UTF-8, plain ``,``-separated with a header.

``utterances.csv`` (per utterance x system), ``systems.csv`` (per system: the scores, then its punctuation
and case error rates, recall and F1 per word class, confidence AUC-ROC/AUC-PR/NCE/ECE, hallucinated
utterances and error attribution counts; each detailed in its own file below), ``confusions.csv``,
``inserted.csv``, ``deleted.csv``, ``substituted.csv``, ``word_accuracy.csv``, ``oov.csv`` (with a
vocabulary),
``word_classes.csv`` (per system and word class: recall, precision, F1, class WER, share of errors) and
``word_class_comparisons.csv`` (per compared pair and class: recall of each, B - A with its interval),
``hallucinations.csv`` (per system: flagged utterances per reason, insertion rate on silence) and
``hallucinated_utterances.csv`` (each flagged utterance with its reasons), ``error_attribution.csv`` and
``error_attribution_utterances.csv`` (errors kept from the greedy output, introduced, fixed, search errors),
``confidence.csv`` and ``reliability.csv`` (how well word confidence predicts errors, per measure),
``punctuation.csv`` and ``punctuation_marks.csv`` (punctuation error rate and case error rate per system,
precision/recall/F1 per mark; ``systems.csv`` then carries ``per`` and ``case_error_rate`` too),
``breakdown_<field>.csv``, ``versus_best.csv`` (each system against its test set's best: raw and
Holm-adjusted p), ``comparisons.csv`` and ``comparison_utterances.csv``, ``lineage.csv`` and
``lineage_utterances.csv``, ``nbest_oracle.csv`` and ``nbest_utterances.csv`` (when there is data).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
from werbench.analysis.compare import comparison_record
from werbench.analysis.csv_files import write_frame_csv
from werbench.analysis.lineage import step_record
from werbench.analysis.report_data import ReportData, system_figures


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "field"


def _frames(report: ReportData) -> dict[str, pd.DataFrame]:
    frames: dict[str, pd.DataFrame] = {
        "utterances": report.tables.utterances,
        "systems": system_figures(
            report.tables.systems,
            punctuation=report.punctuation,
            classes=report.classes,
            confidence=report.confidence,
            hallucinations=report.hallucinations,
            attribution=report.attribution,
        ),
    }
    frames.update({name: frame for name, frame in report.errors.frames().items() if len(frame.columns)})
    if not report.classes.empty:
        frames["word_classes"] = report.classes
    if not report.class_comparisons.empty:
        frames["word_class_comparisons"] = report.class_comparisons
    if not report.punctuation.empty:
        frames["punctuation"] = report.punctuation
        frames["punctuation_marks"] = report.punctuation_marks
    if not report.confidence.empty:
        frames["confidence"] = report.confidence
        frames["reliability"] = report.reliability
    if not report.attribution.empty:
        frames["error_attribution"] = report.attribution
        frames["error_attribution_utterances"] = report.attribution_utterances
    if not report.hallucinations.empty:
        frames["hallucinations"] = report.hallucinations
        frames["hallucinated_utterances"] = report.hallucinated
    for field, table in report.breakdowns.items():
        frames[f"breakdown_{_safe(field)}"] = table
    if not report.versus_best.empty:
        frames["versus_best"] = report.versus_best
    if report.comparisons:
        frames["comparisons"] = pd.DataFrame([comparison_record(c) for c in report.comparisons])
        frames["comparison_utterances"] = pd.concat(
            [
                c.utterances.assign(testset=c.testset, system_a=c.system_a, system_b=c.system_b)
                for c in report.comparisons
            ],
            ignore_index=True,
        )
    if report.lineage:
        frames["lineage"] = pd.DataFrame([step_record(s) for s in report.lineage])
        frames["lineage_utterances"] = pd.concat(
            [
                s.utterances.assign(testset=s.testset, model=s.model, earlier=s.earlier, later=s.later)
                for s in report.lineage
            ],
            ignore_index=True,
        )
    if not report.nbest_summary.empty:
        frames["nbest_oracle"] = report.nbest_summary
        frames["nbest_utterances"] = report.nbest_utterances
    return frames


def write_csv_report(outdir: str | Path, report: ReportData) -> list[Path]:
    """Write every table of ``report`` into ``outdir``; returns the files written."""
    outdir = Path(outdir)
    return [write_frame_csv(outdir / f"{name}.csv", frame) for name, frame in _frames(report).items()]
