"""Two Ray nodes on one machine (``ray start --head`` plus a worker node with its own CPUs and temp dir).

A job submitted with ``--address`` runs on both, survives Ctrl-C (resumable) and the worker node's raylet
being SIGKILLed mid-run, and ends with every utterance exactly once."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml
from runner_helpers import foreground_sigint, read_predictions, stop_after, werbench
from werbench.manifests.io import load_manifest, write_manifest
from werbench.manifests.results import read_run_info, system_dir
from werbench.manifests.schema import Utterance

pytestmark = [pytest.mark.slow, pytest.mark.integration]
COPIES = 40  # x 4 utterances, one per batch: long enough to interrupt and to lose a node mid-run
SYSTEMS = ("tiny@greedy", "tiny@beam-fast")
# A raylet that died is declared dead after 3 missed 1 s health checks (default: 5 x 3 s); the cluster
# listens on 127.0.0.1 only, so the test runs it (and its driver) without Ray's token authentication.
CLUSTER_ENV = {
    "RAY_health_check_period_ms": "1000",
    "RAY_health_check_failure_threshold": "3",
    "RAY_AUTH_MODE": "disabled",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ray_start(*args: str, temp_dir: Path, cpus: int) -> None:
    """``ray start`` with every port chosen free: other Ray clusters may run on this machine."""
    ports = ["--node-manager-port", "--object-manager-port", "--metrics-export-port", "--dashboard-port",
             "--runtime-env-agent-port", "--dashboard-agent-listen-port",
             "--dashboard-agent-grpc-port"]  # fmt: skip
    cmd = [sys.executable, "-m", "ray.scripts.scripts", "start", *args, "--node-ip-address", "127.0.0.1",
           "--num-cpus", str(cpus), "--temp-dir", str(temp_dir), "--disable-usage-stats",
           "--object-store-memory", str(100 * 2**20)]  # fmt: skip
    for flag in ports:
        cmd += [flag, str(free_port())]
    done = subprocess.run(cmd, env={**os.environ, **CLUSTER_ENV}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def node_processes(temp_dir: Path, name: str | None = None) -> list:
    """This test's Ray processes, told from everyone else's by the node's temp dir on their command line."""
    import psutil

    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        line = " ".join(proc.info["cmdline"] or [])
        if str(temp_dir) in line and (name is None or proc.info["name"] == name):
            found.append(proc)
    return found


def ran_here(temp_dir: Path, what: str) -> bool:
    """Whether a worker process of this node logged running ``what`` (Ray marks each task in its log)."""
    return any(
        what in log.read_text(errors="replace") for log in temp_dir.glob("session_*/logs/worker-*.out")
    )


@pytest.fixture()
def two_nodes():
    pytest.importorskip("ray", reason="Ray is the werbench[ray] extra (scripts/setup.sh installs it)")
    # Short paths: Ray's Unix sockets live under the temp dir and their paths are limited to 107 bytes.
    head, worker = (Path(tempfile.mkdtemp(prefix=f"wb-{n}-", dir="/tmp")) for n in ("head", "work"))
    port = free_port()
    try:
        ray_start("--head", "--port", str(port), "--ray-client-server-port", str(free_port()),
                  "--include-dashboard", "false", temp_dir=head, cpus=2)  # fmt: skip
        ray_start("--address", f"127.0.0.1:{port}", temp_dir=worker, cpus=1)
        yield f"127.0.0.1:{port}", head, worker
    finally:
        for temp_dir in (head, worker):
            for proc in node_processes(temp_dir):
                proc.kill()
            shutil.rmtree(temp_dir, ignore_errors=True)


def start_run(bench: Path, address: str) -> subprocess.Popen:
    cmd = [werbench(), "run", str(bench), "--engine", "ray", "--address", address, "--no-progress"]
    return subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, **CLUSTER_ENV, "OMP_NUM_THREADS": "1"},
        text=True,
        preexec_fn=foreground_sigint,
    )


def test_job_on_two_nodes_survives_ctrl_c_and_a_killed_node(tmp_path, two_nodes, tiny_nemo, speech_manifest):
    address, head, worker = two_nodes
    from werbench.runners.lm import build_lm
    from werbench.runners.tiny import SENTENCES

    (tmp_path / "text.txt").write_text("\n".join(SENTENCES.values()) + "\n", encoding="utf-8")
    build_lm([tmp_path / "text.txt"], tmp_path / "lm.arpa", order=2)
    source = list(load_manifest(speech_manifest))
    utts = [Utterance(u.audio_filepath, u.duration, u.text, utt_id=f"{u.utt_id}-{i:03d}")
            for i in range(COPIES) for u in source]  # fmt: skip
    write_manifest(tmp_path / "many.jsonl", utts)
    bench = tmp_path / "bench.yaml"
    beam = {"lm": str(tmp_path / "lm.arpa"), "beam_width": 16, "nbest": 2}
    bench.write_text(yaml.safe_dump({
        "results": "results", "cache": None, "max_batch": 1,
        "testsets": [{"manifest": str(tmp_path / "many.jsonl"), "name": "many"}],
        "models": [{"path": str(tiny_nemo), "name": "tiny"}],
        "decoders": [{"type": "greedy"}, {"type": "beam-fast", "params": beam}],
    }), encoding="utf-8")  # fmt: skip
    refs = [system_dir(tmp_path / "results", "many", s) for s in SYSTEMS]

    proc = start_run(bench, address)
    stop_after(proc, refs[0].predictions, 5, signal.SIGINT)
    output = proc.communicate(timeout=120)[0]
    assert proc.returncode == 130 and "run the same command again to resume" in output, output
    assert read_run_info(refs[0]).extra["status"] == "interrupted"
    before = len(read_predictions(refs[0].predictions))

    proc = start_run(bench, address)
    deadline = time.monotonic() + 240
    while not ran_here(worker, ":task_name:decode_batch_task") and proc.poll() is None:
        assert time.monotonic() < deadline, "no task reached the worker node"
        time.sleep(0.05)
    assert proc.poll() is None, "the job ended before its worker node could be killed"
    (raylet,) = node_processes(worker, "raylet")
    raylet.send_signal(signal.SIGKILL)
    output = proc.communicate(timeout=300)[0]
    assert proc.returncode == 0, output
    assert f"{len(utts)} utterances, {before} already done" in output
    assert ran_here(head, ":task_name:decode_batch_task") or ran_here(head, ":actor_name:AcousticModelWorker")
    for ref in refs:
        rows = read_predictions(ref.predictions)
        assert [r["utt_id"] for r in rows] == [u.utt_id for u in utts], "each utterance exactly once"
        assert not any(r.get("error") for r in rows)
        by_audio = {}  # the same audio gives the same text whichever node or run decoded it
        for row in rows:
            assert by_audio.setdefault(row["audio_filepath"], row["pred_text"]) == row["pred_text"]
        info = read_run_info(ref)
        assert info.extra["status"] == "complete" and info.extra["utterances"] == len(utts)
