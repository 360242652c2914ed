"""End to end with a real tiny NeMo model: greedy decode -> results dir, logits cache, bad audio, resume."""

from __future__ import annotations

import hashlib
import shutil

import numpy as np
import pytest
import soundfile
from runner_helpers import add_utterances, read_predictions
from werbench.manifests.errors import ResultsDirError
from werbench.manifests.io import load_manifest
from werbench.manifests.results import iter_systems, read_run_info
from werbench.manifests.schema import Utterance
from werbench.runners.audio import load_audio
from werbench.runners.decode import DecodeJob, run_decode
from werbench.runners.decoders.confidence import word_confidence
from werbench.runners.decoders.greedy import GreedyDecoder
from werbench.runners.logits_cache import LogitsCache, batch_log_probs, quantize

pytestmark = pytest.mark.integration


def decode(tmp_path, model, manifest, **kwargs):
    job = DecodeJob(
        manifest=manifest,
        results=tmp_path / "results",
        testset="synth",
        system=kwargs.pop("system", "tiny@greedy"),
        cache_dir=kwargs.pop("cache_dir", tmp_path / "cache"),
        progress=False,
        **kwargs,
    )
    return run_decode(job, model)


def test_greedy_decode_writes_predictions_and_run_json(tmp_path, tiny_model, tiny_nemo, speech_manifest):
    summary = decode(tmp_path, tiny_model, speech_manifest)
    utts = list(load_manifest(speech_manifest))
    rows = read_predictions(summary.ref.predictions)
    assert [r["utt_id"] for r in rows] == [u.utt_id for u in utts]
    greedy = GreedyDecoder()
    for utt, row in zip(utts, rows, strict=True):
        assert row["text"] == utt.text and "error" not in row
        audio = load_audio(utt.audio_filepath, 16000)
        direct = greedy.decode(quantize(tiny_model.log_probs([audio.samples])[0]), tiny_model.vocab, 0.02)
        assert row["pred_text"] == direct.text
        assert len(row["word_times"]) == len(row["pred_text"].split())
        assert all(0 <= s <= e <= utt.duration + 0.05 for s, e in row["word_times"])
        assert row["nbest"][0]["text"] == row["pred_text"]
        expected = word_confidence(
            quantize(tiny_model.log_probs([audio.samples])[0]), direct.word_times, 0.02
        )
        assert row["word_confidence"] == expected and len(expected) == len(row["word_times"])

    info = read_run_info(summary.ref)
    assert info.model["sha256"] == hashlib.sha256(tiny_nemo.read_bytes()).hexdigest()
    assert "ConvASREncoder" in info.model["architecture"]
    assert info.model["vocabulary"][-1] == "" and info.model["blank_id"] == 28
    assert info.decoder == {"type": "greedy", "params": {}, "lineage": {"input": "logits", "stages": {}}}
    assert info.normalizer == "nemo@1" and info.device == "cpu"
    assert {"torch", "nemo_toolkit", "numpy"} <= set(info.versions)
    assert info.audio_seconds == pytest.approx(sum(u.duration for u in utts), abs=0.05)
    assert info.am_seconds > 0 and info.rtfx and info.rtfx > 0
    assert info.extra["status"] == "complete" and info.extra["failed"] == []
    assert (tmp_path / "results" / "synth" / "manifest.jsonl").is_file()
    assert [(s.testset, s.system) for s in iter_systems(tmp_path / "results")] == [("synth", "tiny@greedy")]


def test_batched_log_probs_equal_one_at_a_time(tiny_model, speech_manifest):
    audio = [load_audio(u.audio_filepath, 16000).samples for u in load_manifest(speech_manifest)]
    batched = tiny_model.log_probs(audio)
    for samples, together in zip(audio, batched, strict=True):
        alone = tiny_model.log_probs([samples])[0]
        assert alone.shape == together.shape and alone.shape[1] == tiny_model.vocab.size
        np.testing.assert_allclose(alone, together, atol=2e-4)
        np.testing.assert_allclose(np.exp(alone).sum(axis=1), 1.0, atol=1e-4)


def test_logits_cache_hits_and_invalidates(tmp_path, speech_manifest):
    from werbench.runners.models.nemo import NemoCTCModel
    from werbench.runners.tiny import save_tiny_nemo

    model_path = save_tiny_nemo(tmp_path / "m.nemo", seed=1)
    model = NemoCTCModel(model_path, "cpu", "fp32")
    utts = list(load_manifest(speech_manifest))
    cache = LogitsCache(tmp_path / "cache", model.identity())
    first = batch_log_probs(model, utts, cache)
    assert cache.misses == len(utts) and not any(r.cached for r in first)
    again = batch_log_probs(model, utts, cache)
    assert cache.hits == len(utts) and all(r.cached for r in again)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a.log_probs, b.log_probs)
        assert a.am_seconds == pytest.approx(b.am_seconds)

    moved = tmp_path / "copy.wav"
    shutil.copy(utts[0].audio_filepath, moved)
    copied = Utterance(str(moved), utts[0].duration, utts[0].text, utt_id="copy")
    assert not batch_log_probs(model, [copied], cache)[0].cached
    soundfile.write(moved, np.zeros(8000, dtype=np.float32), 16000)  # rewritten audio: new size and mtime
    rewritten = batch_log_probs(model, [copied], cache)[0]
    assert not rewritten.cached and rewritten.audio_seconds == pytest.approx(0.5)

    save_tiny_nemo(model_path, seed=2)  # the same path now holds a different model
    changed = NemoCTCModel(model_path, "cpu", "fp32")
    fresh = LogitsCache(tmp_path / "cache", changed.identity())
    assert fresh.invalidated == 1 and not (tmp_path / "cache" / cache.folder).exists()
    assert not any(r.cached for r in batch_log_probs(changed, utts, fresh))


def test_bad_audio_is_recorded_as_failed_and_the_run_goes_on(tmp_path, tiny_model, manifest_copy):
    good = next(iter(load_manifest(manifest_copy)))
    samples, rate = soundfile.read(good.audio_filepath, dtype="float32")
    soundfile.write(tmp_path / "narrow.wav", samples[::2], rate // 2)  # 8 kHz: resampled, noted
    soundfile.write(tmp_path / "stereo.wav", np.stack([samples, samples], axis=1), rate)
    soundfile.write(tmp_path / "tiny_rate.wav", samples[::4], rate // 4)  # 4 kHz: refused
    (tmp_path / "corrupt.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk")
    bad = {
        "narrow": 1.0, "stereo": 1.0, "tiny_rate": 1.0, "corrupt": 1.0, "missing": 1.0,
    }  # fmt: skip
    add_utterances(
        manifest_copy,
        [Utterance(str(tmp_path / f"{name}.wav"), d, "x", utt_id=name) for name, d in bad.items()],
    )
    summary = decode(tmp_path, tiny_model, manifest_copy)
    failed = dict(summary.failures)
    assert set(failed) == {"tiny_rate", "corrupt", "missing"}
    assert "not found" in failed["missing"] and "4000 Hz is too low" in failed["tiny_rate"]
    rows = {r["utt_id"]: r for r in read_predictions(summary.ref.predictions)}
    assert len(rows) == len(list(load_manifest(manifest_copy)))
    assert rows["corrupt"]["pred_text"] == "" and rows["corrupt"]["error"]
    assert "error" not in rows["narrow"] and "error" not in rows["stereo"]
    notes = " ".join(summary.info.notes)
    assert "resampled from 8000 Hz to 16000 Hz (1 utterance)" in notes
    assert "mixed 2 channels to mono (1 utterance)" in notes and "3 utterances failed" in notes

    again = decode(tmp_path, tiny_model, manifest_copy)  # failed ones are retried, nothing duplicated
    assert again.skipped == len(rows) - 3
    assert [r["utt_id"] for r in read_predictions(again.ref.predictions)] == list(rows)


def test_half_written_predictions_resume_without_duplicates(tmp_path, tiny_model, speech_manifest):
    full = decode(tmp_path, tiny_model, speech_manifest)
    lines = full.ref.predictions.read_text(encoding="utf-8").splitlines(keepends=True)
    full.ref.predictions.write_text("".join(lines[:2]) + lines[2][:40], encoding="utf-8")
    resumed = decode(tmp_path, tiny_model, speech_manifest)
    assert resumed.skipped == 2
    assert resumed.ref.predictions.read_text(encoding="utf-8").splitlines(keepends=True) == lines


def test_another_configuration_needs_overwrite(tmp_path, tiny_model, speech_manifest):
    from werbench.runners.models.nemo import NemoCTCModel
    from werbench.runners.tiny import save_tiny_nemo

    decode(tmp_path, tiny_model, speech_manifest)
    other = NemoCTCModel(save_tiny_nemo(tmp_path / "other.nemo", seed=3), "cpu", "fp32")
    with pytest.raises(ResultsDirError, match="different model or decoder"):
        decode(tmp_path, other, speech_manifest)
    replaced = decode(tmp_path, other, speech_manifest, overwrite=True)
    assert read_run_info(replaced.ref).model["path"].endswith("other.nemo")


def test_worker_processes_give_the_same_predictions(tmp_path, tiny_model, speech_manifest):
    inline = decode(tmp_path, tiny_model, speech_manifest, system="inline@greedy")
    pooled = decode(tmp_path, tiny_model, speech_manifest, system="pooled@greedy", workers=2, max_batch=2)
    assert read_predictions(pooled.ref.predictions) == read_predictions(inline.ref.predictions)
    assert pooled.info.extra["totals"]["cached"] == 4


def test_a_bad_device_name_is_an_option_error_before_any_model_loads() -> None:
    """Issue 17: ``--device tpu9`` reached torch in the model load, whose message blamed the model file."""
    from werbench.manifests.errors import ConfigError
    from werbench.runners.models.torch_utils import check_device

    for good in ("auto", "cpu", "cuda", "cuda:1", "mps"):
        assert check_device(good) == good
    for bad in ("tpu9", "cuda:", "cpu ", ""):
        with pytest.raises(ConfigError, match="unknown device") as caught:
            check_device(bad)
        assert caught.value.path == "--device"
