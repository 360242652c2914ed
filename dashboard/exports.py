"""Download routes: leaderboard and per-utterance CSV, the self-contained HTML report, sclite trn files.

They are plain Flask routes (not callbacks) so a link can be shared or fetched with curl; they take only
names (normaliser, test set) from the query string and never a path.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import tempfile
import threading
import weakref
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

import flask
import numpy as np
from werbench.analysis.confidence import DEFAULT_MEASURE, MEASURES
from werbench.analysis.csv_files import csv_chunks
from werbench.dashboard.data import NORMALIZERS
from werbench.dashboard.reporting import html_report, trn_archive
from werbench.dashboard.workspace import Workspace
from werbench.manifests.atomic import atomic_write


def _csv_response(frame, filename: str) -> flask.Response:
    """Streamed in chunks (``analysis.csv_files``): a table never sits in memory as one string."""
    response = flask.Response(csv_chunks(frame), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class ExportFiles:
    """Big exports written once into a folder that lives as long as the server, then sent as files.

    Waitress sends a file from its I/O loop, while a streamed response holds a worker thread, and the GIL,
    for as long as it is generated: the per-utterance CSV of 100k x 4 rows (605 MB) cost about 9 s of CPU on
    every download, and a minute each under 50 clients (``benchmarks/bench_dashboard_load.py``). The
    tables an ``Analysis`` serves do not change while the server runs, so a file per (normaliser, test set)
    stays right; a second request for a file being written waits for it.
    """

    def __init__(self) -> None:
        self._folder: Path | None = None
        self._locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
        self._guard = threading.Lock()

    def path(self, name: str, chunks: Callable[[], Iterator[bytes]]) -> Path:
        """The file ``name`` (made of ``chunks()`` the first time it is asked for)."""
        key = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        with self._guard:
            if self._folder is None:
                self._folder = Path(tempfile.mkdtemp(prefix="werbench-exports-"))
                weakref.finalize(self, shutil.rmtree, self._folder, True)
            lock, target = self._locks[key], self._folder / key
        with lock:
            if not target.is_file():
                with atomic_write(target, "wb", durable=False) as handle:
                    for chunk in chunks():
                        handle.write(chunk)
        return target


def register_exports(server: flask.Flask, workspace: Workspace) -> None:
    files = ExportFiles()

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
        frame, testset = analysis.utterances, flask.request.args.get("ts") or ""
        path = files.path(
            f"utterances\0{analysis.normalizer}\0{testset}", lambda: csv_chunks(frame, testset_rows(frame))
        )
        return flask.send_file(
            path, "text/csv", as_attachment=True, download_name=f"utterances-{analysis.normalizer}.csv"
        )

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
