"""The demo's build scripts on small real inputs: text normalisation and splits, TTS + noise, the real-speech
importer, and smoke runs (a few steps) of the acoustic-model and BERT training."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from werbench.demo.build.business_text import BusinessGenerator
from werbench.demo.build.normalise import ALPHABET, normalise, number_words, year_words
from werbench.manifests.errors import ManifestError
from werbench.manifests.io import load_manifest, write_manifest
from werbench.manifests.schema import Utterance

needs_tts = pytest.mark.skipif(
    not (shutil.which("flite") and shutil.which("sox")), reason="flite and sox (Debian) are needed"
)


def test_numbers_are_read_the_american_way():
    assert number_words(123) == "one hundred twenty three"
    assert number_words("3.25") == "three point two five"
    assert year_words(1998) == "nineteen ninety eight"


def test_normalise_spells_and_rejects_what_cannot_be_read():
    assert normalise('Prices rose 12% in 1990 -- the "big" year!') == (
        "prices rose twelve percent in one thousand nine hundred ninety the big year"
    )
    assert normalise("It's the dog's bone.") == "it's the dog's bone"
    for code_like in (
        "Call foo_bar() now",
        "See e.g. the docs",
        "x = 3",
        "the 1990s were fun",
        "path/to/file",
    ):
        assert normalise(code_like) is None, code_like
    assert normalise("Caf\u00e9 au lait") is None  # not spellable with the model's alphabet


def test_business_generator_is_seeded_and_speakable():
    first, again = BusinessGenerator(7).sentences(300), BusinessGenerator(7).sentences(300)
    assert first == again
    assert first != BusinessGenerator(8).sentences(300)
    assert len(set(first)) == 300
    assert all(set(s) <= set(ALPHABET) for s in first)
    assert any("percent" in s for s in first) and any("dollars" in s for s in first)


def test_committed_test_sets_are_disjoint_from_training_text(repo_dir):
    from werbench.demo.build.corpus import business_split

    split = business_split()
    committed = {
        u.text for u in load_manifest(repo_dir / "demo/assets/testsets/business-synth/manifest.jsonl")
    }
    assert committed == set(split.test)
    assert not committed & set(split.train) and not committed & set(split.dev)


def test_sphinx_transcription_reader(tmp_path):
    from werbench.demo.build.real_speech import read_sphinx_transcription

    good = tmp_path / "transcription"
    good.write_text("<s> ten of clubs  </s> (001)\n\nfive five (004)\n")
    assert list(read_sphinx_transcription(good)) == [("001", "ten of clubs"), ("004", "five five")]
    bad = tmp_path / "bad"
    bad.write_text("<s> no id here </s>\n")
    with pytest.raises(ManifestError, match=r"bad:1"):
        list(read_sphinx_transcription(bad))


def test_committed_real_speech_set_matches_its_sources(repo_dir):
    from werbench.demo.build.real_speech import SPHINX_DATA, all_recordings

    if not SPHINX_DATA.is_dir():
        pytest.skip("pocketsphinx-testdata is not installed")
    committed = {
        u.utt_id: u.text for u in load_manifest(repo_dir / "demo/assets/testsets/real-speech/manifest.jsonl")
    }
    assert committed == {r.utt_id: r.text for r in all_recordings()}


@needs_tts
def test_rendered_speech_and_noise_at_the_requested_snr():
    from werbench.demo.build.voices import VOICES, add_noise, render_speech, rms

    speech = render_speech(VOICES["flite-slt"], "shares rose ten cents", 1.1)
    assert speech.dtype == np.float32 and 0.8 < len(speech) / 16000 < 3.0
    noisy = add_noise(speech, "pink", 10.0, np.random.default_rng(0), seed=1)
    snr = 20 * np.log10(rms(speech) / rms(noisy - speech))
    assert abs(snr - 10.0) < 0.5
    assert np.max(np.abs(noisy)) <= 0.97 + 1e-6


def _tiny_training_set(folder: Path, texts: list[str]) -> Path:
    import soundfile as sf
    from werbench.demo.build.voices import VOICES, render_speech

    utts = []
    for i, text in enumerate(texts):
        path = folder / f"utt{i}.wav"
        sf.write(path, render_speech(VOICES[("flite-slt", "flite-rms")[i % 2]], text, 1.0), 16000)
        utts.append(Utterance(str(path), sf.info(path).duration, text))
    manifest = folder / "set.json"
    write_manifest(manifest, utts)
    return manifest


@pytest.mark.slow
@pytest.mark.integration
@needs_tts
def test_training_smoke_base_then_tuned(tmp_path):
    """A few real optimisation steps of both stages; the saved models load and transcribe."""
    from werbench.demo.build.train import STAGES, train

    manifest = _tiny_training_set(
        tmp_path, ["the cat sat on the mat", "shares rose ten cents", "a good year"]
    )
    for name in ("general-train", "general-dev", "business-dev", "tuned-train"):
        shutil.copy(manifest, tmp_path / f"{name}.json")
    base = train(STAGES["base"], work=tmp_path, out=tmp_path / "base.nemo", init=None, max_steps=3,
                 resume=False, val_every=3)  # fmt: skip
    assert base["steps"] == 3 and 200_000 < base["params"] < 2_000_000
    tuned = train(STAGES["tuned"], work=tmp_path, out=tmp_path / "tuned.nemo", init=tmp_path / "base.nemo",
                  max_steps=2, resume=False, val_every=2, minutes=30)  # fmt: skip
    assert tuned["params"] == base["params"]
    assert tuned["steps"] == 2 and tuned["minutes_budget"] == 30  # the wall-clock schedule, capped by steps

    from nemo.collections.asr.models import EncDecCTCModel

    model = EncDecCTCModel.restore_from(str(tmp_path / "tuned.nemo"), map_location="cpu")
    assert list(model.decoder.vocabulary) == list(ALPHABET)
    assert model.cfg.train_ds.manifest_filepath is None  # no build-machine paths in the shipped file
    texts = model.transcribe([u.audio_filepath for u in load_manifest(manifest)], batch_size=2, verbose=False)
    assert len(texts) == 3


def test_timed_cosine_warms_up_then_anneals_with_the_time_spent():
    from werbench.demo.build.train import cosine_rate

    assert cosine_rate(1e-3, 0, 10, 0.0) == pytest.approx(1e-4)  # linear warm-up by steps
    assert cosine_rate(1e-3, 9, 10, 0.0) == pytest.approx(1e-3)
    assert cosine_rate(1e-3, 50, 10, 0.5) == pytest.approx((1e-3 + 1e-5) / 2)
    assert cosine_rate(1e-3, 50, 10, 1.0) == pytest.approx(1e-5)  # the floor at the deadline, and after it
    assert cosine_rate(1e-3, 50, 10, 1.7) == pytest.approx(1e-5)
    rates = [cosine_rate(1e-3, 50, 10, p / 10) for p in range(11)]
    assert rates == sorted(rates, reverse=True)


@pytest.mark.slow
def test_bert_smoke_trains_and_scores(tmp_path):
    from werbench.demo.build.bert import train
    from werbench.runners.decoders.neural_lm import MaskedLMScorer

    sentences = BusinessGenerator(3).sentences(200)
    summary = train(tmp_path / "bert", sentences[:180], sentences[180:], steps=3, batch_size=16)
    assert 500_000 < summary["params"] < 4_000_000
    scores = MaskedLMScorer(tmp_path / "bert", device="cpu").score(
        ["shares rose ten cents", "cents ten rose"]
    )
    assert len(scores) == 2 and all(np.isfinite(scores))
