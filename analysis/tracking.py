"""``werbench log``: every system of a results directory as an MLflow run, idempotently.

One run per (test set, system), named ``<testset>/<system>`` and found again by its ``werbench.key`` tag: a
digest of the test set, the system, the decode's ``created`` time and model hash (``run.json``), the
normaliser and the costs. Logging the same results again updates those runs (same params, metrics logged
anew, artefacts replaced) instead of adding runs; a re-decode or another normaliser is another run.
Params: model path/sha256/architecture, decoder type and parameters, LM and rescorer path/sha256,
normaliser, costs. Metrics: WER/CER/SER, the WER's 95% CI, S/D/I rates, RTFx, counts. Artefacts: the
results directory's HTML report and the run's own per-utterance CSV.

Everything (tables, report, CSVs) is computed before the tracking server is touched; an HTTP server is
probed first (``/health``) so an unreachable URI is one clear error; a run created by this call that fails
half-way is deleted, so no half-logged run remains. mlflow is optional (``werbench[tracking]``) and imported
only here.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from werbench.analysis.csv_files import json_cells
from werbench.analysis.report_data import build_report
from werbench.analysis.report_html import write_html_report
from werbench.analysis.table_cache import TableOptions, results_tables
from werbench.manifests.errors import ConfigError, MissingDependencyError
from werbench.manifests.results import iter_systems, read_run_info

from werbench._version import __version__

EXPERIMENT = "werbench"
KEY_TAG = "werbench.key"
METRICS = ("wer", "wer_lo", "wer_hi", "cer", "ser", "sub_rate", "del_rate", "ins_rate", "rtfx", "utts",
           "ref_words", "failed")  # fmt: skip
_PARAM_LIMIT = 500  # characters; MLflow's own limit is larger, but a long value is unreadable in its UI


@dataclass
class LoggedRun:
    """One system's run: its MLflow id, and whether this call created it (else updated it)."""

    testset: str
    system: str
    run_id: str
    created: bool


@dataclass
class _Planned:
    testset: str
    system: str
    key: str
    params: dict[str, str]
    metrics: dict[str, float]
    csv: Path
    tags: dict[str, str] = field(default_factory=dict)


def _flat(prefix: str, value: Any, out: dict[str, str]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flat(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif value is not None:
        text = value if isinstance(value, str) else json.dumps(value)
        out[prefix] = text if len(text) <= _PARAM_LIMIT else text[: _PARAM_LIMIT - 1] + "…"


def _plan(results: Path, tables: Any, work: Path) -> list[_Planned]:
    """Params, metrics, tags and the per-utterance CSV of every system, before any server is touched."""
    infos = {(ref.testset, ref.system): read_run_info(ref) for ref in iter_systems(results)}
    utts = json_cells(tables.utterances)
    planned = []
    for row in tables.systems.itertuples(index=False):
        info = infos.get((row.testset, row.system))
        params: dict[str, str] = {}
        if info is not None:
            _flat("model", {k: v for k, v in info.model.items() if k != "vocabulary"}, params)
            _flat("decoder", info.decoder, params)
            _flat("lm", info.lm, params)
            _flat("rescorer", info.rescorer, params)
            _flat("device", info.device, params)
        params |= {"testset": row.testset, "system": row.system, "normalizer": tables.normalizer,
                   "costs": tables.costs}  # fmt: skip
        made, sha = (info.created, (info.model or {}).get("sha256")) if info else (None, None)
        identity = [row.testset, row.system, tables.normalizer, tables.costs, made, sha]
        key = hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:32]
        metrics = {}
        for name in METRICS:
            value = getattr(row, name, None)
            if value is not None and isinstance(value, int | float) and math.isfinite(value):
                metrics[name] = float(value)
        csv = work / f"{len(planned)}" / "utterances.csv"
        csv.parent.mkdir(parents=True)
        utts[(utts["testset"] == row.testset) & (utts["system"] == row.system)].to_csv(csv, index=False)
        tags = {KEY_TAG: key, "werbench.version": __version__, "werbench.results": str(results.resolve())}
        planned.append(_Planned(row.testset, row.system, key, params, metrics, csv, tags))
    return planned


def _mlflow():
    try:
        import mlflow
    except ImportError:
        raise MissingDependencyError(
            "--mlflow", "mlflow is not installed: pip install 'werbench[tracking]'"
        ) from None
    return mlflow


def _local_store(uri: str) -> Path | None:
    """The folder of a file store URI (``file://PATH`` or a bare path); None for other schemes."""
    parsed = urllib.parse.urlparse(uri)
    if parsed.scheme == "file":
        return Path(urllib.request.url2pathname(parsed.path))
    return Path(uri) if not parsed.scheme else None


def _is_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(16) == b"SQLite format 3\0"
    except OSError:
        return False


def _check_local_store(uri: str, store: Path) -> None:
    """A file store is a folder: a regular file on its path (the store or any folder above it) is one
    clear error here, not an ``Errno 20`` from deep inside MLflow."""
    for at in (store, *store.parents):
        if at.is_dir():
            return
        if at.exists():
            hint = f"; it is a SQLite database: give --mlflow sqlite:///{at}" if _is_sqlite(at) else ""
            raise ConfigError("--mlflow", f"{uri}: {at} is a file, not a folder: an MLflow file store "
                              f"is a folder{hint}; nothing logged")  # fmt: skip


def _probe(uri: str) -> None:
    """A local store's path must be a folder, and an HTTP tracking server must answer its health check
    now, or this is one clear error."""
    store = _local_store(uri)
    if store is not None:
        _check_local_store(uri, store)
    if not uri.startswith(("http://", "https://")):
        return
    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=10) as response:
            response.read()
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ConfigError(
            "--mlflow", f"tracking server {uri} is unreachable ({reason}); nothing logged"
        ) from None


def log_results(
    results: str | Path,
    tracking_uri: str | None = None,
    *,
    experiment: str = EXPERIMENT,
    options: TableOptions = TableOptions(),
    use_cache: bool = True,
) -> list[LoggedRun]:
    """Log every system of ``results`` to MLflow (``tracking_uri``; default: MLflow's own, e.g.
    ``$MLFLOW_TRACKING_URI``): one run each, updated in place when logged again."""
    mlflow = _mlflow()
    results = Path(results)
    uri = tracking_uri or mlflow.get_tracking_uri()
    _probe(uri)
    tables = results_tables(results, options, use_cache=use_cache)
    with tempfile.TemporaryDirectory(prefix="werbench-log-") as tmp:
        work = Path(tmp)
        planned = _plan(results, tables, work)
        report = write_html_report(
            work / "report.html", build_report(tables, n_resamples=options.n_resamples, seed=options.seed,
                                               source=str(results.resolve()))
        )  # fmt: skip
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")  # a server lost mid-way fails fast
        try:
            client = mlflow.MlflowClient(tracking_uri=uri)
            found = client.get_experiment_by_name(experiment)
            experiment_id = found.experiment_id if found else client.create_experiment(experiment)
            return [_log_one(client, experiment_id, plan, report) for plan in planned]
        except mlflow.exceptions.MlflowException as exc:
            raise ConfigError("--mlflow", f"{uri}: {exc.message}") from None


def _log_one(client: Any, experiment_id: str, plan: _Planned, report: Path) -> LoggedRun:
    """Create or find the run by its key, then log everything; a run created here that fails is deleted."""
    from mlflow.entities import Metric, Param, RunTag

    existing = client.search_runs([experiment_id], filter_string=f"tags.`{KEY_TAG}` = '{plan.key}'",
                                  max_results=1)  # fmt: skip
    run = (
        existing[0]
        if existing
        else client.create_run(experiment_id, run_name=f"{plan.testset}/{plan.system}")
    )
    run_id = run.info.run_id
    try:
        stamp = int(time.time() * 1000)
        client.log_batch(
            run_id,
            metrics=[Metric(k, v, stamp, 0) for k, v in plan.metrics.items()],
            params=[Param(k, v) for k, v in plan.params.items()],
            tags=[RunTag(k, v) for k, v in plan.tags.items()],
        )
        client.log_artifact(run_id, str(report))
        client.log_artifact(run_id, str(plan.csv))
        client.set_terminated(run_id, "FINISHED")
    except Exception:
        if not existing:
            client.delete_run(run_id)
        raise
    return LoggedRun(plan.testset, plan.system, run_id, created=not existing)
