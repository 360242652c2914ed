"""The HTML report for the export menu, rendered by analysis' report module from the tables already loaded."""

from __future__ import annotations

import flask

from dashboard.data import Analysis


def html_report(analysis: Analysis) -> str:
    try:
        from analysis import report_html
    except ImportError:
        flask.abort(503, "the HTML report needs analysis.report_html, which this installation lacks")
    return report_html.render(analysis.utterances, analysis.system_table)
