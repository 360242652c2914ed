"""A real ``werbench decode`` stopped by Ctrl-C, then killed, resumes with nothing lost or doubled."""

from __future__ import annotations

import os
import signal
import subprocess

import pytest
from runner_helpers import foreground_sigint, read_predictions, stop_after, werbench
from werbench.manifests.io import load_manifest, write_manifest
from werbench.manifests.results import read_run_info, system_dir
from werbench.manifests.schema import Utterance
from werbench.runners.decode import DecodeJob, run_decode

pytestmark = [pytest.mark.slow, pytest.mark.integration]
N_UTTS = 400


def start_decode(tmp_path, tiny_nemo, manifest) -> subprocess.Popen:
    cmd = [werbench(), "decode", "-m", str(tiny_nemo), "--manifest", str(manifest),
           "-r", str(tmp_path / "res"), "--testset", "t", "--name", "tiny@greedy", "--max-batch", "1",
           "--no-cache", "--no-progress", "--device", "cpu"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
        preexec_fn=foreground_sigint,
    )


def test_interrupted_then_killed_decode_resumes_exactly(tmp_path, tiny_nemo, tiny_model, speech_manifest):
    source = list(load_manifest(speech_manifest))
    utts = [
        Utterance(u.audio_filepath, u.duration, u.text, utt_id=f"{u.utt_id}-{i:03d}")
        for i in range(N_UTTS // len(source))
        for u in source
    ]
    manifest = tmp_path / "many.jsonl"
    write_manifest(manifest, utts)
    ref = system_dir(tmp_path / "res", "t", "tiny@greedy")

    proc = start_decode(tmp_path, tiny_nemo, manifest)
    stop_after(proc, ref.predictions, 5, signal.SIGINT)
    output = proc.communicate(timeout=60)[0]
    assert proc.returncode == 130 and "run the same command again to resume" in output
    assert read_run_info(ref).extra["status"] == "interrupted"
    after_ctrl_c = len(read_predictions(ref.predictions))

    proc = start_decode(tmp_path, tiny_nemo, manifest)
    stop_after(proc, ref.predictions, after_ctrl_c + 5, signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    partial = [r["utt_id"] for r in read_predictions(ref.predictions)]
    assert after_ctrl_c < len(partial) < N_UTTS and len(set(partial)) == len(partial)

    job = DecodeJob(
        manifest=manifest,
        results=tmp_path / "res",
        testset="t",
        system="tiny@greedy",
        cache_dir=None,
        progress=False,
        max_batch=1,
    )
    summary = run_decode(job, tiny_model)
    assert summary.skipped == len(partial)
    final = read_predictions(ref.predictions)
    assert [r["utt_id"] for r in final] == [u.utt_id for u in utts]
    by_audio = {}
    for row in final:  # the same audio decoded in different runs gives the same text
        assert by_audio.setdefault(row["audio_filepath"], row["pred_text"]) == row["pred_text"]
    assert read_run_info(ref).extra["status"] == "complete"
