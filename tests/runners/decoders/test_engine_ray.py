"""``--engine ray`` on a real local Ray cluster gives exactly the local engine's results.

The tiny NeMo model (tests/runners/conftest.py), espeak-ng speech, a real KenLM bigram and a missing audio
file; the same experiment file decoded by both engines (Ray's results and logits cache on S3: a local moto
server), and the same grid tuned by both.
"""

from __future__ import annotations

import fsspec
import pytest
import yaml
from ds2_helpers import save_hostile_checkpoint
from runner_helpers import add_utterances, read_predictions
from typer.testing import CliRunner
from werbench.manifests.errors import ConfigError
from werbench.manifests.io import load_manifest, write_manifest
from werbench.manifests.results import read_run_info, system_dir
from werbench.manifests.schema import Utterance
from werbench.runners.decoders.beam_fast import FastBeamDecoder
from werbench.runners.engine_ray import Cluster, check_engine, describe, ray_map
from werbench.runners.experiment import run_experiment
from werbench.runners.storage import Store
from werbench.runners.tune import parse_grid, shard_spans, tune, write_grid

pytestmark = pytest.mark.integration
FRAME_SECONDS = 0.02
SYSTEMS = ("tiny@greedy", "tiny@beam-fast")


@pytest.fixture(scope="module")
def ray_cluster(s3_server):
    """A local two-CPU cluster started in this process (what ``--engine ray`` without --address does); its
    workers see the S3 server as a cluster's nodes see their object store."""
    ray = pytest.importorskip("ray", reason="Ray is the werbench[ray] extra (scripts/setup.sh installs it)")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="WARNING")
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def bigram(tmp_path_factory):
    from werbench.runners.lm import build_lm, find_tool
    from werbench.runners.tiny import SENTENCES

    if find_tool("lmplz") is None:
        pytest.skip("KenLM lmplz is not installed (scripts/setup.sh builds it)")
    folder = tmp_path_factory.mktemp("bigram")
    (folder / "text.txt").write_text("\n".join(SENTENCES.values()) + "\n", encoding="utf-8")
    build_lm([folder / "text.txt"], folder / "lm.arpa", order=2)
    return folder / "lm.arpa"


def write_experiment(folder, manifest, model, lm, name: str, storage: str = "") -> str:
    data = {
        "results": f"{storage}results-{name}",
        "cache": f"{storage}cache-{name}",
        "max_batch": 2,
        "testsets": [{"manifest": str(manifest), "name": "synth"}],
        "models": [{"path": str(model), "name": "tiny"}],
        "decoders": [
            {"type": "greedy"},
            {
                "type": "beam-fast",
                "params": {"lm": str(lm), "alpha": 0.5, "beta": 1.0, "beam_width": 8, "nbest": 4},
            },
        ],
        "ray": {"max_retries": 1},
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_experiment_on_ray_with_s3_storage_equals_local(
    tmp_path, ray_cluster, s3_server, tiny_nemo, speech_manifest, bigram, torch_threads
):
    manifest = tmp_path / "synth.jsonl"
    source = list(load_manifest(speech_manifest))
    write_manifest(manifest, [*source, Utterance(source[0].audio_filepath, 1.0, "again", utt_id="again")])
    add_utterances(manifest, [Utterance(str(tmp_path / "gone.wav"), 1.0, "gone", utt_id="gone")])
    run_experiment(write_experiment(tmp_path, manifest, tiny_nemo, bigram, "local"), progress=False)

    from werbench.cli import app

    storage = f"{s3_server}/{tmp_path.name}/"  # results and logits cache on object storage (s3fs)
    experiment = write_experiment(tmp_path, manifest, tiny_nemo, bigram, "ray", storage)
    result = CliRunner().invoke(app, ["run", str(experiment), "--engine", "ray"])
    assert result.exit_code == 0, result.output
    assert "ray: 1 node(s), 2 CPUs" in result.output and "failed gone: audio file not found" in result.output
    assert f"{storage}results-ray/synth/tiny@greedy:" in result.output
    bar = [
        line
        for line in result.output.replace("\r", "\n").splitlines()
        if line.startswith("ray:") and "utt" in line
    ]
    assert bar, result.output  # one bar: utterances/s, RTFx, tasks pending/running/failed
    assert all(f"{k}=" in bar[-1] for k in ("utt_s", "rtfx", "pending", "running", "failed")), bar[-1]
    assert f"{2 * (len(source) + 2)}/{2 * (len(source) + 2)}" in bar[-1] and "failed=0" in bar[-1], bar[-1]
    assert Store(f"{storage}cache-ray").keys("logits", "*/*/*.npz"), "the actor wrote the logits to S3"
    fs, path = fsspec.core.url_to_fs(f"{storage}results-ray")
    fs.get(path, str(tmp_path / "results-ray"), recursive=True)  # the local copy analysis would read
    for system in SYSTEMS:
        local, ray = (system_dir(tmp_path / f"results-{e}", "synth", system) for e in ("local", "ray"))
        assert local.predictions.read_bytes() == ray.predictions.read_bytes()
        rows = read_predictions(ray.predictions)
        assert [r["utt_id"] for r in rows] == [*(u.utt_id for u in source), "again", "gone"]
        assert rows[-1]["error"] == "audio file not found" and rows[-1]["pred_text"] == ""
        if system.endswith("beam-fast"):
            assert all(r["nbest"] for r in rows[:-1]) and max(len(r["nbest"]) for r in rows[:-1]) > 1
        infos = [read_run_info(ref) for ref in (local, ray)]
        same = ("utterances", "failed", "totals", "status", "fingerprint")
        assert {k: infos[0].extra[k] for k in same} == {k: infos[1].extra[k] for k in same}
        assert infos[0].audio_seconds == infos[1].audio_seconds and infos[1].extra["status"] == "complete"
        assert infos[0].decoder == infos[1].decoder and infos[0].lm == infos[1].lm
    cached = read_run_info(system_dir(tmp_path / "results-ray", "synth", SYSTEMS[1])).extra["totals"][
        "cached"
    ]
    assert cached == len(source) + 1, "the second decoder reads the first one's log-probs from the cache"

    again = CliRunner().invoke(app, ["run", str(experiment), "--engine", "ray", "--no-progress"])
    assert (
        again.exit_code == 0
        and f"{len(source) + 2} utterances, {len(source) + 1} already done" in again.output
    )


def test_trust_model_reaches_the_model_actors(tmp_path, ray_cluster, speech_manifest, torch_threads):
    """A checkpoint that runs code when unpickled: refused on Ray with the local engine's error, loaded in
    the actor (which runs its code) only with --trust-model."""
    from werbench.cli import app

    marker = tmp_path / "code-ran"
    model = save_hostile_checkpoint(tmp_path / "hostile.pt", marker)
    data = {"results": "results", "cache": "cache", "testsets": [{"manifest": str(speech_manifest)}],
            "models": [{"path": str(model), "name": "ds2"}], "decoders": [{"type": "greedy"}]}  # fmt: skip
    experiment = tmp_path / "hostile.yaml"
    experiment.write_text(yaml.safe_dump(data), encoding="utf-8")
    command = ["run", str(experiment), "--engine", "ray", "--no-progress"]
    refused = CliRunner().invoke(app, command)
    assert refused.exit_code != 0 and "--trust-model" in refused.output, refused.output
    assert "arbitrary code" in refused.output and "ActorDiedError" not in refused.output
    assert not marker.exists(), "the refused checkpoint ran code"
    trusted = CliRunner().invoke(app, [*command, "--trust-model"])
    assert trusted.exit_code == 0, trusted.output
    assert marker.exists(), "the actor loaded the model without --trust-model's full unpickling"
    rows = read_predictions(system_dir(tmp_path / "results", speech_manifest.stem, "ds2@greedy").predictions)
    assert len(rows) == len(list(load_manifest(speech_manifest))) and not any(r.get("error") for r in rows)


def test_tuning_grid_on_ray_equals_local_whole_or_sharded_by_utterances(
    tmp_path, ray_cluster, dev_set, lm_arpa, char_vocab
):
    from werbench.runners.tune import DevUtt

    utts = [DevUtt(f"u{i}", ref, lp) for i, (ref, lp) in enumerate(dev_set[:8])]
    decoder = FastBeamDecoder(lm=str(lm_arpa), beam_width=16)
    grid = parse_grid("alpha=0.4|0.8,beta=-30|1")
    local = tune(decoder, utts, char_vocab, FRAME_SECONDS, grid, jobs=1)
    assert shard_spans(len(utts), 4, 1) == [(0, 8)] and shard_spans(len(utts), 4, 8) == [
        (0, 2),
        (2, 4),
        (4, 6),
        (6, 8),
    ]
    ray = tune(decoder, utts, char_vocab, FRAME_SECONDS, grid, jobs=8, mapper=ray_map)  # (point, shard) tasks
    timeless = [{k: v for k, v in r.best.items() if k != "seconds"} for r in (local, ray)]
    assert timeless[0] == timeless[1] and ray.best["beta"] == 1.0
    for result, name in ((local, "local"), (ray, "ray")):
        write_grid(tmp_path / f"{name}.csv", [{**r, "seconds": 0} for r in result.rows])
    assert (tmp_path / "local.csv").read_text() == (tmp_path / "ray.csv").read_text()


def test_the_cluster_line_names_its_dashboard_when_it_has_one():
    cluster = Cluster("10.0.0.1:6379", cpus=64, gpus=2, nodes=2, dashboard_url=None)
    assert describe(cluster) == "ray: 2 node(s), 64 CPUs, 2 GPUs at 10.0.0.1:6379"
    cluster.dashboard_url = "http://10.0.0.1:8265"
    assert describe(cluster).endswith("; dashboard http://10.0.0.1:8265")


def test_engine_and_address_are_checked():
    assert check_engine("local", None) is False and check_engine("ray", "auto") is True
    with pytest.raises(ConfigError, match="unknown engine 'spark'"):
        check_engine("spark", None)
    with pytest.raises(ConfigError, match="only --engine ray"):
        check_engine("local", "ray://head:10001")
