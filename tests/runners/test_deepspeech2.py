"""DeepSpeech2 checkpoints written in the deepspeech.pytorch / MLPerf package formats load and decode."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from ds2_helpers import AUDIO_CONF, BASE, random_state, save_hostile_checkpoint
from werbench.manifests.errors import ManifestError
from werbench.manifests.io import load_manifest
from werbench.runners.audio import load_audio
from werbench.runners.decoders.greedy import GreedyDecoder
from werbench.runners.models.deepspeech2 import DEFAULT_LABELS
from werbench.runners.models.load import detect_kind, load_model


@pytest.fixture(scope="module")
def audio(speech_manifest):
    return [load_audio(u.audio_filepath, 16000).samples for u in load_manifest(speech_manifest)]


def test_v2_package_loads_decodes_and_is_batch_invariant(tmp_path, audio, torch_threads):
    state = random_state(BASE)
    expected_keys = {
        "conv.seq_module.0.weight", "conv.seq_module.1.running_var", "conv.seq_module.3.weight",
        "rnns.0.rnn.weight_ih_l0", "rnns.0.rnn.weight_hh_l0_reverse", "rnns.1.batch_norm.module.weight",
        "fc.0.module.0.running_mean", "fc.0.module.1.weight",
    }  # fmt: skip
    assert expected_keys <= set(state), "key names must be deepspeech.pytorch's"
    assert state["rnns.0.rnn.weight_ih_l0"].shape == (4 * 24, 41 * 32)
    package = {"version": "0.0.1", "hidden_size": 24, "hidden_layers": 2, "rnn_type": "lstm",
               "audio_conf": AUDIO_CONF, "labels": "".join(DEFAULT_LABELS), "bidirectional": True,
               "state_dict": state, "epoch": 3}  # fmt: skip
    path = tmp_path / "ds2.pth"
    torch.save(package, path)
    assert detect_kind(path) == "deepspeech2"
    model = load_model(path, "cpu", "fp32")
    assert model.vocab.blank_id == 0 and model.vocab.labels[0] == "" and model.vocab.labels[-1] == " "
    assert model.vocab.labels[2] == "a" and model.frame_seconds == pytest.approx(0.02)
    assert model.identity()["architecture"] == "deepspeech2:lstmx2x24-bi"
    batched = model.log_probs(audio)
    for samples, together in zip(audio, batched, strict=True):
        frames = len(samples) // 160 + 1
        assert together.shape == ((frames - 1) // 2 + 1, 29)
        np.testing.assert_allclose(model.log_probs([samples])[0], together, atol=1e-4)
        np.testing.assert_allclose(np.exp(together).sum(axis=1), 1.0, atol=1e-4)
        decoded = GreedyDecoder().decode(together, model.vocab, model.frame_seconds)
        assert set(decoded.text) <= set("abcdefghijklmnopqrstuvwxyz' ")


def test_mlperf_package_unpadded_gru_without_bias_labels_beside(tmp_path, audio, torch_threads):
    cfg = dataclasses.replace(BASE, rnn_type="gru", rnn_bias=False, conv_padding=False, hidden_layers=3)
    state = random_state(cfg, seed=1)
    old = {k.replace("conv.seq_module.", "conv."): v for k, v in state.items()}  # pre-MaskConv names
    assert "conv.0.weight" in old and "rnns.0.rnn.bias_ih_l0" not in old
    torch.save({"version": "0.0.1", "hidden_size": 24, "hidden_layers": 3, "rnn_type": "gru",
                "audio_conf": AUDIO_CONF, "state_dict": old}, tmp_path / "mlperf.pt")  # fmt: skip
    (tmp_path / "labels.json").write_text(json.dumps(list(DEFAULT_LABELS)), encoding="utf-8")
    model = load_model(tmp_path / "mlperf.pt", "cpu", "fp32")
    assert model.config.conv_padding is False and model.config.rnn_type == "gru"
    out = model.log_probs(audio[:1])[0]
    frames = len(audio[0]) // 160 + 1
    assert out.shape == ((frames - 11) // 2 + 1 - 10, 29)
    (tmp_path / "labels.json").unlink()
    with pytest.raises(ManifestError, match=r"labels\.json"):
        load_model(tmp_path / "mlperf.pt", "cpu", "fp32")


def test_v3_lightning_checkpoint_unidirectional_with_lookahead(tmp_path, audio, torch_threads):
    cfg = dataclasses.replace(BASE, bidirectional=False, lookahead_context=5, symmetric_window=False)
    state = random_state(cfg, seed=2)
    assert state["lookahead.0.conv.weight"].shape == (24, 1, 5)
    ckpt = {"state_dict": state,
            "hyper_parameters": {"labels": list(DEFAULT_LABELS), "spect_cfg": AUDIO_CONF,
                                 "model_cfg": {"hidden_size": 24, "hidden_layers": 2}}}  # fmt: skip
    torch.save(ckpt, tmp_path / "last.ckpt")
    model = load_model(tmp_path / "last.ckpt", "cpu", "fp32")
    assert model.identity()["architecture"] == "deepspeech2:lstmx2x24-lookahead5"
    batched = model.log_probs(audio[:2])
    np.testing.assert_allclose(model.log_probs(audio[1:2])[0], batched[1], atol=1e-4)


def test_foreign_or_missing_files_are_clear_errors(tmp_path):
    torch.save({"state_dict": {"layer.weight": torch.zeros(2, 2)}}, tmp_path / "other.pt")
    with pytest.raises(ManifestError, match="not a DeepSpeech2 model"):
        load_model(tmp_path / "other.pt", "cpu", "fp32")
    (tmp_path / "cut.nemo").write_bytes(b"\x1f\x8b\x08 truncated")
    with pytest.raises(ManifestError, match="not a NeMo archive"):
        load_model(tmp_path / "cut.nemo", "cpu", "fp32")
    with pytest.raises(ManifestError, match="werbench never downloads models"):
        load_model(tmp_path / "stt_en_quartznet15x5", "cpu", "fp32")


def test_checkpoint_needing_full_unpickling_is_refused_unless_trusted(tmp_path, audio, torch_threads):
    marker = tmp_path / "code-ran"
    save_hostile_checkpoint(tmp_path / "hostile.pt", marker)
    with pytest.raises(ManifestError, match=r"arbitrary code.*--trust-model"):
        load_model(tmp_path / "hostile.pt", "cpu", "fp32")
    assert not marker.exists(), "the refused checkpoint ran code"
    load_model(tmp_path / "hostile.pt", "cpu", "fp32", trust_model=True)
    assert marker.exists()  # the opt-in really unpickles (and so really runs the file's code)


def test_nemo_config_targets_outside_nemo_are_refused_unless_trusted(tmp_path):
    import io
    import tarfile

    from werbench.runners.models.trust import check_nemo_config

    def archive(name: str, target: str):
        config = f"encoder:\n  _target_: {target}\n  feat_in: 64\n".encode()
        path = tmp_path / name
        with tarfile.open(path, "w") as tar:
            info = tarfile.TarInfo("./model_config.yaml")
            info.size = len(config)
            tar.addfile(info, io.BytesIO(config))
        return path

    check_nemo_config(archive("ok.nemo", "nemo.collections.asr.modules.ConvASREncoder"))
    hostile = archive("hostile.nemo", "os.system")
    with pytest.raises(ManifestError, match=r"encoder\._target_ names 'os.system'.*--trust-model"):
        check_nemo_config(hostile)
    with pytest.raises(ManifestError, match="--trust-model"):
        load_model(hostile, "cpu", "fp32")
