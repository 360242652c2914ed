"""Legacy NeMo 0.x checkpoints written by the test in both key layouts convert to identical log-probs."""

from __future__ import annotations

import re
import tarfile

import numpy as np
import pytest
import torch
import yaml
from typer.testing import CliRunner
from werbench.manifests.errors import ManifestError
from werbench.manifests.io import load_manifest
from werbench.runners.audio import load_audio
from werbench.runners.models.legacy import convert_legacy, find_legacy_checkpoint
from werbench.runners.models.load import detect_kind, load_model
from werbench.runners.models.nemo import NemoCTCModel
from werbench.runners.tiny import CHAR_LABELS, build_tiny_model, tiny_config

pytestmark = pytest.mark.integration


def old_keys(state: dict) -> dict:
    """NeMo <= 0.8 names: block list ``conv``, MaskedConv1d params directly on the module, no BN counters."""
    out = {}
    for key, value in state.items():
        if key.endswith("num_batches_tracked"):
            continue
        key = re.sub(r"^(encoder\.\d+)\.mconv\.", r"\1.conv.", key)
        out[key.replace(".conv.weight", ".weight").replace(".conv.bias", ".bias")] = value
    return out


def legacy_yaml(layout: str) -> dict:
    cfg = tiny_config()
    pre = {k: v for k, v in cfg["preprocessor"].items() if k not in ("_target_", "sample_rate")}
    pre.update(dither=0.00001, stft_conv=True)
    encoder = {"activation": "relu", "conv_mask": True, "jasper": cfg["encoder"]["jasper"]}
    if layout == "0.9":
        return {"model": "QuartzNet", "sample_rate": 16000, "AudioToMelSpectrogramPreprocessor": pre,
                "JasperEncoder": encoder, "labels": CHAR_LABELS}  # fmt: skip
    pre["feat_type"] = "logfbank"
    return {"model": "Jasper", "sample_rate": 16000, "AudioPreprocessing": pre,
            "JasperEncoder": {"init_params": encoder}, "labels": CHAR_LABELS}  # fmt: skip


@pytest.fixture(scope="module")
def reference(tmp_path_factory, torch_threads):
    """The tiny model as a current .nemo plus its encoder/decoder state dicts."""
    model = build_tiny_model(seed=7)
    path = tmp_path_factory.mktemp("ref") / "reference.nemo"
    model.save_to(str(path))
    return path, model.encoder.state_dict(), model.decoder.state_dict()


def write_legacy(folder, reference, layout: str):
    _, encoder, decoder = reference
    folder.mkdir(parents=True)
    encoder = old_keys(encoder) if layout == "0.8" else encoder
    torch.save(encoder, folder / "JasperEncoder-STEP-2000.pt")
    torch.save(decoder, folder / "JasperDecoderForCTC-STEP-2000.pt")
    torch.save(decoder, folder / "JasperDecoderForCTC-STEP-1000.pt")  # an older step without its encoder
    (folder / "quartznet.yaml").write_text(yaml.safe_dump(legacy_yaml(layout)), encoding="utf-8")
    return folder


@pytest.mark.parametrize("layout", ["0.9", "0.8"])
def test_both_layouts_convert_to_identical_log_probs(tmp_path, reference, speech_manifest, layout):
    folder = write_legacy(tmp_path / f"legacy-{layout}", reference, layout)
    if layout == "0.8":
        saved = torch.load(folder / "JasperEncoder-STEP-2000.pt")
        assert "encoder.0.conv.0.weight" in saved and not any(".mconv." in k for k in saved)
    assert find_legacy_checkpoint(folder).step == 2000
    converted = convert_legacy(folder, tmp_path / "converted.nemo")
    audio = [load_audio(u.audio_filepath, 16000).samples for u in load_manifest(speech_manifest)]
    expected = NemoCTCModel(reference[0], "cpu", "fp32").log_probs(audio)
    got = NemoCTCModel(converted, "cpu", "fp32").log_probs(audio)
    for a, b in zip(expected, got, strict=True):
        np.testing.assert_array_equal(a, b)


def nemo_0_11_yaml() -> str:
    """The tiny model in NeMo 0.11's serialised-model layout, as examples/asr/configs/quartznet15x5.yaml
    writes it (``dither: 1e-05``, which YAML 1.1 reads as text, included)."""
    cfg = tiny_config()
    pre = {k: v for k, v in cfg["preprocessor"].items() if k not in ("_target_", "sample_rate")}
    pre.update(dither=0.00001, stft_conv=True)
    blocks = cfg["encoder"]["jasper"]
    module = lambda spec, params: {"header": {"full_spec": spec}, "init_params": params}  # noqa: E731
    doc = {
        "header": {"collection_type": "asr", "collection_version": None, "nemo_core_version": "0.11.0b0",
                   "full_spec": "nemo.collections.asr.models.asrconvctcmodel.QuartzNet"},
        "init_params": {
            "decoder_params": module("nemo.collections.asr.JasperDecoderForCTC", {
                "feat_in": blocks[-1]["filters"], "num_classes": len(CHAR_LABELS),
                "vocabulary": CHAR_LABELS}),
            "encoder_params": module("nemo.collections.asr.JasperEncoder", {
                "activation": "relu", "conv_mask": True, "feat_in": pre["features"], "jasper": blocks}),
            "preprocessor_params": module("nemo.collections.asr.AudioToMelSpectrogramPreprocessor", pre),
            "spec_augment_params": module("nemo.collections.asr.SpectrogramAugmentation",
                                          {"rect_freq": 50, "rect_masks": 5, "rect_time": 120}),
        },
    }  # fmt: skip
    return yaml.safe_dump(doc).replace("dither: 1.0e-05", "dither: 1e-05")


def test_nemo_0_11_serialised_model_converts_like_the_0_9_layout(tmp_path, reference, speech_manifest):
    """A 0.11 model's files (module.yaml, JasperEncoder.pt, JasperDecoderForCTC.pt), loose or in its .nemo
    archive, give the log-probs the 0.8-0.10 path gives on the same weights."""
    _, encoder, decoder = reference
    folder = tmp_path / "quartznet-0.11"
    folder.mkdir()
    torch.save(encoder, folder / "JasperEncoder.pt")
    torch.save(decoder, folder / "JasperDecoderForCTC.pt")
    text = nemo_0_11_yaml()
    (folder / "module.yaml").write_text(text, encoding="utf-8")
    assert yaml.safe_load(text)["init_params"]["preprocessor_params"]["init_params"]["dither"] == "1e-05"
    assert detect_kind(folder) == "legacy"
    assert find_legacy_checkpoint(folder).encoder_path.name == "JasperEncoder.pt"
    new = NemoCTCModel(convert_legacy(folder, tmp_path / "0.11.nemo"), "cpu", "fp32")
    old_folder = write_legacy(tmp_path / "quartznet-0.9", reference, "0.9")
    old = NemoCTCModel(convert_legacy(old_folder, tmp_path / "0.9.nemo"), "cpu", "fp32")
    assert new.vocab.labels == old.vocab.labels
    # the same files as NeMo 0.11's own .nemo (a gzipped tar of .nemo_tmp/), which load_model opens too
    archive = tmp_path / "QuartzNet15x5-En-Base.nemo"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=".nemo_tmp")
    assert detect_kind(archive) == "legacy" and detect_kind(reference[0]) == "nemo"
    packed = load_model(archive, "cpu", "fp32", cache_dir=tmp_path / "cache")
    audio = [load_audio(u.audio_filepath, 16000).samples for u in load_manifest(speech_manifest)]
    expected = old.log_probs(audio)
    for got in (new.log_probs(audio), packed.log_probs(audio)):
        for a, b in zip(expected, got, strict=True):
            np.testing.assert_array_equal(a, b)


def test_load_model_converts_a_legacy_folder_once(tmp_path, reference):
    folder = write_legacy(tmp_path / "wsj_quartznet", reference, "0.9")
    assert detect_kind(folder) == "legacy"
    model = load_model(folder, "cpu", "fp32", cache_dir=tmp_path / "cache")
    identity = model.identity()
    assert identity["path"] == str(folder.resolve())
    assert identity["architecture"].startswith("legacy-nemo:EncDecCTCModel")
    assert model.vocab.labels[:-1] == tuple(CHAR_LABELS) and model.vocab.blank_id == len(CHAR_LABELS)
    converted = list((tmp_path / "cache" / "converted").glob("*.nemo"))
    assert len(converted) == 1
    mtime = converted[0].stat().st_mtime_ns
    load_model(folder, "cpu", "fp32", cache_dir=tmp_path / "cache")
    assert converted[0].stat().st_mtime_ns == mtime


def test_mismatched_checkpoint_names_the_offending_key(tmp_path, reference):
    folder = write_legacy(tmp_path / "bad", reference, "0.9")
    state = torch.load(folder / "JasperEncoder-STEP-2000.pt")
    state["encoder.0.mconv.0.conv.weight"] = torch.zeros(3, 3, 3)
    torch.save(state, folder / "JasperEncoder-STEP-2000.pt")
    with pytest.raises(ManifestError, match=r"encoder\.0\.mconv\.0\.conv\.weight.*shape"):
        convert_legacy(folder, tmp_path / "out.nemo")
    assert not (tmp_path / "out.nemo").exists()


def test_folder_without_decoder_is_a_clear_error(tmp_path, reference):
    folder = write_legacy(tmp_path / "partial", reference, "0.9")
    for path in folder.glob("JasperDecoderForCTC-*.pt"):
        path.unlink()
    with pytest.raises(ManifestError, match="neither a Hugging Face CTC model nor a legacy"):
        load_model(folder, "cpu", "fp32", cache_dir=tmp_path / "cache")


def test_convert_legacy_command(tmp_path, reference):
    from werbench.cli import app

    folder = write_legacy(tmp_path / "cli", reference, "0.8")
    result = CliRunner().invoke(app, ["convert-legacy", str(folder), "-o", str(tmp_path / "cli.nemo")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "cli.nemo").is_file() and detect_kind(tmp_path / "cli.nemo") == "nemo"
    missing = CliRunner().invoke(
        app, ["convert-legacy", str(tmp_path / "nowhere"), "-o", str(tmp_path / "x.nemo")]
    )
    assert missing.exit_code == 1 and "legacy NeMo folder needs" in missing.output
