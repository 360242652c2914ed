"""Download routes: leaderboard and per-utterance CSV, the self-contained HTML report, sclite trn files.

They are plain Flask routes (not callbacks) so a link can be shared or fetched with curl; they take only
names (normaliser, test set) from the query string and never a path.
"""

from __future__ import annotations

import io

import flask
import numpy as np
from werbench.analysis.confidence import DEFAULT_MEASURE, MEASURES
from werbench.dashboard.data import NORMALIZERS
from werbench.dashboard.reporting import html_report, trn_archive
from werbench.dashboard.workspace import Workspace


def _csv_response(frame, filename: str, rows=None) -> flask.Response:
    """Streamed in chunks (``analysis.csv_files``): a 400k-row table never sits in memory as one string."""
    from werbench.analysis.csv_files import csv_chunks

    response = flask.Response(csv_chunks(frame, rows), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def register_exports(server: flask.Flask, workspace: Workspace) -> None:
    def analysis_from_query():
        norm = flask.request.args.get("norm", workspace.default_normalizer)
        if norm not in NORMALIZERS:
            flask.abort(400, f"unknown normaliser {norm!r}")
        return workspace.analysis(norm)

    def testset_rows(frame):
        """Positions of the rows of the test set asked for (all rows without ``ts``); no filtered copy."""
        testset = flask.request.args.get("ts")
        return None if not testset else np.flatnonzero((frame["testset"] == testset).to_numpy())

    @server.route("/export/systems.csv")
    def export_systems() -> flask.Response:
        analysis = analysis_from_query()
        measure = flask.request.args.get("cm", DEFAULT_MEASURE)
        if measure not in MEASURES:
            flask.abort(400, f"unknown confidence measure {measure!r}")
        return _csv_response(analysis.system_figures(measure), f"leaderboard-{analysis.normalizer}.csv")

    @server.route("/export/utterances.csv")
    def export_utterances() -> flask.Response:
        analysis = analysis_from_query()
        frame = analysis.utterances
        return _csv_response(frame, f"utterances-{analysis.normalizer}.csv", testset_rows(frame))

    @server.route("/export/trn.zip")
    def export_trn() -> flask.Response:
        """sclite trn files (analysis.report_trn), normalised as scored, for ``sclite -i rm`` and sc_stats."""
        analysis = analysis_from_query()
        data = trn_archive(analysis, flask.request.args.get("ts"))
        return flask.send_file(
            io.BytesIO(data),
            mimetype="application/zip",
            as_attachment=True,
            download_name=f"trn-{analysis.normalizer}.zip",
        )

    @server.route("/export/report.html")
    def export_report() -> flask.Response:
        """The self-contained HTML report that ``werbench report`` writes (analysis' report module)."""
        analysis = analysis_from_query()
        response = flask.Response(html_report(analysis), mimetype="text/html")
        response.headers["Content-Disposition"] = (
            f'inline; filename="werbench-report-{analysis.normalizer}.html"'
        )
        return response
