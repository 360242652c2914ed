"""``werbench log --mlflow``: runs with params, metrics and artefacts in a real MLflow store (SQLite, and a
real ``mlflow server`` on 127.0.0.1), updated not duplicated; an unreachable server or a failure leaves
nothing."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import mlflow
import pytest
from typer.testing import CliRunner
from werbench.manifests.results import RunInfo
from werbench.manifests.schema import Utterance

from werbench.cli import app


@pytest.fixture
def results(tmp_path: Path, make_results, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # MLflow's SQLite store keeps artefacts in ./mlruns by default
    manifest = [Utterance(f"/a/{k}.wav", 1.0, f"word{k} alpha beta", utt_id=f"u{k}") for k in range(8)]
    hyps = {
        "tuned@beam": {u.utt_id: {"pred_text": u.text} for u in manifest},
        "base@greedy": {u.utt_id: {"pred_text": u.text.replace("beta", "b")} for u in manifest},
    }
    runs = {
        "tuned@beam": RunInfo("tuned@beam", "dev", model={"path": "/m/tuned.nemo", "sha256": "ab" * 32},
                              decoder={"type": "beam", "params": {"alpha": 0.5, "beta": 1.0}},
                              lm={"path": "/m/lm.bin", "sha256": "cd" * 32}, normalizer="nemo@1",
                              rtfx=42.0, created="2026-12-01T10:00:00"),
        "base@greedy": RunInfo("base@greedy", "dev", model={"path": "/m/base.nemo", "sha256": "ef" * 32},
                               decoder={"type": "greedy", "params": {}}, normalizer="nemo@1",
                               created="2026-12-01T09:00:00"),
    }  # fmt: skip
    return make_results(tmp_path / "results", "dev", manifest, hyps, runs=runs)


def _log(results: Path, uri: str) -> tuple[int, str]:
    out = CliRunner().invoke(app, ["log", str(results), "--mlflow", uri, "--no-cache"])
    return out.exit_code, out.output


def _check_logged_twice(results: Path, uri: str) -> None:
    code, output = _log(results, uri)
    assert code == 0 and output.count("created ") == 2, output
    code, output = _log(results, uri)
    assert code == 0 and output.count("updated ") == 2, output
    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("werbench")
    runs = {r.info.run_name: r for r in client.search_runs([experiment.experiment_id])}
    assert sorted(runs) == ["dev/base@greedy", "dev/tuned@beam"]
    tuned = runs["dev/tuned@beam"].data
    assert tuned.params["model.sha256"] == "ab" * 32 and tuned.params["decoder.params.alpha"] == "0.5"
    assert tuned.params["lm.sha256"] == "cd" * 32 and tuned.params["normalizer"] == "nemo@1"
    assert tuned.metrics["wer"] == 0.0 and tuned.metrics["rtfx"] == 42.0
    base = runs["dev/base@greedy"].data.metrics
    assert base["wer"] == pytest.approx(1 / 3) and base["wer_lo"] <= base["wer"] <= base["wer_hi"]
    assert {"cer", "ser", "utts"} <= set(base)
    run_id = runs["dev/base@greedy"].info.run_id
    assert sorted(a.path for a in client.list_artifacts(run_id)) == ["report.html", "utterances.csv"]
    csv = Path(client.download_artifacts(run_id, "utterances.csv"))
    assert len(csv.read_text().splitlines()) == 9 and "base@greedy" in csv.read_text()


def test_a_local_store_gets_one_run_per_system_updated_in_place(results: Path, tmp_path: Path) -> None:
    _check_logged_twice(results, f"sqlite:///{tmp_path}/mlflow.db")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_server_is_one_clear_error(results: Path) -> None:
    uri = f"http://127.0.0.1:{_free_port()}"
    code, output = _log(results, uri)
    assert (
        code == 1
        and f"--mlflow: tracking server {uri} is unreachable" in output
        and "nothing logged" in output
    )


def test_a_run_that_fails_half_way_is_not_left_behind(results: Path, tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("artefacts cannot go below a file\n")
    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment_id = client.create_experiment("werbench", artifact_location=str(blocker / "artifacts"))
    code, output = _log(results, uri)
    assert code == 1 and "error:" in output
    assert client.search_runs([experiment_id]) == []  # the run created before the artefact failed is gone


@pytest.mark.slow
def test_a_real_mlflow_server_gets_the_runs(results: Path, tmp_path: Path) -> None:
    port = _free_port()
    command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
               "--backend-store-uri", f"sqlite:///{tmp_path}/server.db", "--artifacts-destination",
               str(tmp_path / "artifacts"), "--workers", "1"]  # fmt: skip
    server = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=2):
                    break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "mlflow server did not start"
                time.sleep(0.5)
        _check_logged_twice(results, uri)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def test_a_store_path_that_is_a_file_is_one_clear_error(
    results: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression (hostile corpus): ``--mlflow file://<a regular file>`` ended in a traceback."""
    store = tmp_path / "mlruns.txt"
    store.write_text("not a store\n")
    database = tmp_path / "mlflow.db"
    mlflow.MlflowClient(tracking_uri=f"sqlite:///{database}").search_experiments()
    cases = {
        f"file://{store}": f"{store} is a file, not a folder",
        str(store / "below"): f"{store} is a file, not a folder",
        f"file://{database}": f"it is a SQLite database: give --mlflow sqlite:///{database}",
    }
    for uri, expected in cases.items():
        out = CliRunner().invoke(app, ["log", str(results), "--mlflow", uri, "--no-cache"])
        lines = out.output.strip().splitlines()
        assert out.exit_code == 1 and isinstance(out.exception, SystemExit), out.output
        assert len(lines) == 1 and lines[0].startswith(f"error: --mlflow: {uri}: ") and expected in lines[0]
    assert store.read_text() == "not a store\n"
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)  # MLflow 3 refuses folder stores then
    out = CliRunner().invoke(app, ["log", str(results), "--mlflow", str(tmp_path / "store"), "--no-cache"])
    assert out.exit_code == 1 and isinstance(out.exception, SystemExit), out.output
    assert (
        out.output.startswith(f"error: --mlflow: {tmp_path / 'store'}: ")
        and len(out.output.splitlines()) == 1
    )
