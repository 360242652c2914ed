"""Results and logits cache on object storage through fsspec: ``memory://`` in this process and ``s3://`` on
a real local S3 server (moto). A run killed mid-batch, or between the final predictions and the deletion of
its batch objects, resumes with every utterance exactly once; analysis refuses a URL with the way forward."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner
from werbench.manifests.errors import ResultsDirError
from werbench.manifests.io import load_manifest, write_manifest
from werbench.manifests.schema import Utterance
from werbench.runners.decode import DecodeJob, run_decode
from werbench.runners.remote_results import RemoteSystem
from werbench.runners.storage import Store

SYSTEM = "test/tiny@greedy"


@pytest.fixture()
def manifest(tmp_path, speech_manifest):
    path = tmp_path / "test.jsonl"
    utts = list(load_manifest(speech_manifest))
    write_manifest(path, [*utts, Utterance(utts[0].audio_filepath, 1.0, "again", utt_id="again")])
    return path


def decode(model, manifest, results, cache):
    job = DecodeJob(manifest, results, system="tiny@greedy", max_batch=1, cache_dir=cache, progress=False)
    return run_decode(job, model)


def test_killed_runs_on_object_storage_resume_exactly(tmp_path, tiny_model, manifest, monkeypatch):
    local = decode(tiny_model, manifest, tmp_path / "local", tmp_path / "cache")
    url, cache = f"memory://{tmp_path.name}/results", f"memory://{tmp_path.name}/cache"
    store = Store(url)
    put_batch, put_final, calls = RemoteSystem.put_batch, RemoteSystem.put_final, []

    def killed_at_the_third_batch(self, rows):
        calls.append(rows)
        if len(calls) == 3:
            raise KeyboardInterrupt  # the batch is in the staging copy, never on storage
        put_batch(self, rows)

    monkeypatch.setattr(RemoteSystem, "put_batch", killed_at_the_third_batch)
    with pytest.raises(KeyboardInterrupt):
        decode(tiny_model, manifest, url, cache)
    assert len(store.keys(f"{SYSTEM}/parts")) == 2
    assert json.loads(store.read(f"{SYSTEM}/run.json"))["extra"]["status"] == "interrupted"

    def killed_before_the_parts_go(self):
        self.store.write(f"{self.prefix}/predictions.jsonl", self.ref.predictions.read_bytes())
        raise KeyboardInterrupt

    monkeypatch.setattr(RemoteSystem, "put_batch", put_batch)
    monkeypatch.setattr(RemoteSystem, "put_final", killed_before_the_parts_go)
    with pytest.raises(KeyboardInterrupt):
        decode(tiny_model, manifest, url, cache)
    assert len(store.keys(f"{SYSTEM}/parts")) == 5  # every row twice: the whole file and the batches

    monkeypatch.setattr(RemoteSystem, "put_final", put_final)
    done = decode(tiny_model, manifest, url, cache)
    assert done.skipped == done.total == 5 and done.location == f"{url}/{SYSTEM}"
    assert store.read(f"{SYSTEM}/predictions.jsonl") == local.ref.predictions.read_bytes()
    assert store.keys(f"{SYSTEM}/parts") == [] and store.read("test/manifest.jsonl")
    info = json.loads(store.read(f"{SYSTEM}/run.json"))
    assert info["extra"]["status"] == "complete" and info["audio_seconds"] == local.info.audio_seconds
    assert len(Store(cache).keys("logits", "*/*/*.npz")) == 5  # one object per utterance


def test_s3_results_and_logits_cache(tmp_path, tiny_model, manifest, s3_server):
    local = decode(tiny_model, manifest, tmp_path / "local", tmp_path / "cache")
    url, cache = f"{s3_server}/{tmp_path.name}/results", f"{s3_server}/{tmp_path.name}/cache"
    first = decode(tiny_model, manifest, url, cache)
    store = Store(url)
    assert store.read(f"{SYSTEM}/predictions.jsonl") == local.ref.predictions.read_bytes()
    assert first.info.extra["totals"]["cached"] == 0 and store.keys(f"{SYSTEM}/parts") == []
    store.remove(SYSTEM, recursive=True)
    again = decode(tiny_model, manifest, url, cache)  # a fresh system over the same (remote) logits
    assert again.info.extra["totals"]["cached"] == 5
    assert store.read(f"{SYSTEM}/predictions.jsonl") == local.ref.predictions.read_bytes()


def test_analysis_and_serve_refuse_urls_with_the_way_forward():
    from werbench.dashboard.workspace import Source

    from werbench.cli import app

    result = CliRunner().invoke(app, ["score", "s3://bucket/results"])
    assert result.exit_code != 0 and "aws s3 sync" in result.output, result.output
    with pytest.raises(ResultsDirError, match="local copy"):
        Source.of("gs://bucket/results")
