"""The export menu's HTML report and trn files, made by analysis' report modules from the loaded tables.

analysis' report modules are imported when a report is asked for: they pull scipy.stats, jinja2 and
plotly's bundled JavaScript, seconds of start-up that most sessions never use.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

from werbench.dashboard.data import Analysis, decoded

if TYPE_CHECKING:
    from werbench.analysis.tables import Tables


def tables_of(analysis: Analysis) -> Tables:
    """analysis' ``Tables`` again (nested prediction fields decoded), as ``werbench report`` has them."""
    from werbench.analysis.tables import Tables

    spec = (
        str(analysis.system_table["normalizer"].iat[0]) if len(analysis.system_table) else analysis.normalizer
    )
    return Tables(decoded(analysis.utterances), analysis.system_table, spec, "sclite")


def html_report(analysis: Analysis) -> str:
    """The self-contained report (``werbench report --html``), built once per normaliser and kept."""
    from werbench.analysis.report_data import build_report
    from werbench.analysis.report_html import render_html

    return analysis.memo(
        ("html-report",),
        lambda: render_html(build_report(tables_of(analysis), source=analysis.source)),
    )


def trn_archive(analysis: Analysis, testset: str | None) -> bytes:
    """``werbench report --trn`` as a zip: ref.trn and one trn per system for each test set, and a README."""
    from werbench.analysis.report_trn import write_trn_export

    utts = (
        analysis.utterances if not testset else analysis.utterances[analysis.utterances["testset"] == testset]
    )
    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in write_trn_export(tmp, utts):
            archive.write(path, Path(path).relative_to(tmp).as_posix())
    return buffer.getvalue()
