"""``werbench lm build``: lmplz and the kaldingram fallback, normalisation, binaries, sidecars, CLI errors."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner
from werbench.manifests.errors import ConfigError, ManifestError
from werbench.runners.decoders.ngram import LN10, NgramLM, lm_format, read_arpa_unigrams, unigrams_path
from werbench.runners.lm import build_info_path, build_lm, find_tool

needs_lmplz = pytest.mark.skipif(find_tool("lmplz") is None, reason="KenLM lmplz is not installed")

RAW_TEXT = "The CAT sat, on the mat!\nA dog's bone -- and the CAT.\n\nthe mat is red\n"


@needs_lmplz
def test_arpa_is_normalised_and_keeps_its_word_list(tmp_path):
    source = tmp_path / "raw.txt"
    source.write_text(RAW_TEXT * 20, encoding="utf-8")
    out = tmp_path / "lm.arpa"
    info = build_lm([source], out, order=3, normalize="nemo")
    assert lm_format(out) == "arpa"
    words = unigrams_path(out).read_text(encoding="utf-8").split()
    assert sorted(words) == sorted(
        {"the", "cat", "sat", "on", "mat", "a", "dog's", "bone", "and", "is", "red"}
    )
    assert info.sentences == 60 and info.words == 20 * (6 + 6 + 4) and info.vocabulary == 11
    record = json.loads(build_info_path(out).read_text())
    assert record["normalizer"] == "nemo@1" and record["tool"] == "lmplz" and record["order"] == 3
    assert len(record["sources"][0]["sha256"]) == 64
    lm = NgramLM(out)
    assert lm.order == 3
    assert lm.sentence_score("the cat sat on the mat") > lm.sentence_score("mat the on sat cat the")


@needs_lmplz
def test_binary_output_scores_like_the_arpa(tmp_path):
    source = tmp_path / "raw.txt"
    source.write_text(RAW_TEXT * 20, encoding="utf-8")
    arpa, binary = tmp_path / "lm.arpa", tmp_path / "lm.klm"
    build_lm([source], arpa, order=3, normalize="nemo")
    build_lm([source], binary, order=3, normalize="nemo", binary_type="trie")
    assert lm_format(binary) == "binary"
    assert unigrams_path(binary).read_text() == unigrams_path(arpa).read_text()
    sentence = "the cat sat on the red mat"
    assert NgramLM(binary).sentence_score(sentence) == pytest.approx(
        NgramLM(arpa).sentence_score(sentence), abs=0.05
    )


@needs_lmplz
def test_tiny_corpus_falls_back_to_default_discounts(tmp_path):
    source = tmp_path / "tiny.txt"
    source.write_text("hello world\nhello there\n", encoding="utf-8")
    info = build_lm([source], tmp_path / "lm.arpa", order=4)
    assert any("discount_fallback" in note for note in info.notes)
    assert NgramLM(tmp_path / "lm.arpa").sentence_score("hello world") < 0


def test_kaldingram_fallback_adds_unk(tmp_path):
    pytest.importorskip("kaldingram")
    source = tmp_path / "raw.txt"
    source.write_text(RAW_TEXT * 5, encoding="utf-8")
    out = tmp_path / "lm.arpa"
    info = build_lm([source], out, order=3, normalize="nemo", tool="kaldingram")
    assert info.tool == "kaldingram"
    text = out.read_text(encoding="utf-8")
    unigram_lines = text.split("\\1-grams:\n")[1].split("\n\n")[0].splitlines()
    assert f"ngram 1={len(unigram_lines)}" in text
    assert any(line.split("\t")[1] == "<unk>" for line in unigram_lines)
    assert "<unk>" not in read_arpa_unigrams(out)
    lm = NgramLM(out)
    seen, unseen = lm.sentence_score("the cat"), lm.sentence_score("the zebra")
    assert unseen < seen < 0
    # <unk> sits one log10 step under the rarest seen word
    rarest = min(
        float(line.split("\t")[0]) for line in unigram_lines if line.split("\t")[1] not in ("<s>", "<unk>")
    )
    unk = next(float(line.split("\t")[0]) for line in unigram_lines if line.split("\t")[1] == "<unk>")
    assert unk == pytest.approx(rarest - 1.0)
    assert LN10 > 2


def test_kaldingram_fallback_rejects_orders_it_cannot_estimate(tmp_path):
    pytest.importorskip("kaldingram")
    source = tmp_path / "raw.txt"
    source.write_text(RAW_TEXT, encoding="utf-8")
    with pytest.raises(ConfigError, match="up to 5"):
        build_lm([source], tmp_path / "lm.arpa", order=6, tool="kaldingram")


@needs_lmplz
def test_manifest_text_is_a_source(tmp_path):
    manifest = tmp_path / "train.jsonl"
    rows = [{"audio_filepath": f"/a/{i}.wav", "duration": 1.0, "text": "Hello World"} for i in range(5)]
    manifest.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    build_lm([manifest], tmp_path / "lm.arpa", order=2, normalize="librispeech")
    assert set(unigrams_path(tmp_path / "lm.arpa").read_text().split()) == {"hello", "world"}


def test_bad_inputs_are_clear_errors(tmp_path):
    with pytest.raises(ManifestError, match="not found"):
        build_lm([tmp_path / "missing.txt"], tmp_path / "lm.arpa")
    empty = tmp_path / "empty.txt"
    empty.write_text("!!! ...\n", encoding="utf-8")
    with pytest.raises(ManifestError, match="no text left"):
        build_lm([empty], tmp_path / "lm.arpa", normalize="nemo")
    with pytest.raises(ConfigError, match="--prune"):
        build_lm([empty], tmp_path / "lm.arpa", order=2, prune=[0, 1, 1])
    not_arpa = tmp_path / "x.arpa"
    not_arpa.write_text("hello\n", encoding="utf-8")
    with pytest.raises(ManifestError, match="not a KenLM model"):
        lm_format(not_arpa)
    assert not (tmp_path / "lm.arpa").exists()


@needs_lmplz
def test_cli_builds_and_reports_errors_without_a_traceback(tmp_path):
    from werbench.cli import app

    source = tmp_path / "raw.txt"
    source.write_text(RAW_TEXT * 20, encoding="utf-8")
    runner = CliRunner()
    out = tmp_path / "lm.arpa"
    result = runner.invoke(
        app, ["lm", "build", str(source), "-o", str(out), "--order", "2", "--normalize", "nemo"]
    )
    assert result.exit_code == 0, result.output
    assert "11 unigrams" in result.output and out.is_file()
    bad = runner.invoke(app, ["lm", "build", str(source), "-o", str(out), "--prune", "0 x"])
    assert bad.exit_code == 1 and "--prune" in bad.output and "Traceback" not in bad.output
    help_text = runner.invoke(app, ["lm", "build", "--help"]).output
    assert "--normalize" in help_text and "--prune" in help_text


def test_cli_never_replaces_its_text_and_refuses_nul_bytes(tmp_path):
    """Issue 17: ``-o`` naming the corpus itself replaced it with the LM; a NUL byte went into lmplz."""
    from werbench.cli import app

    source = tmp_path / "raw.txt"
    source.write_text(RAW_TEXT * 20, encoding="utf-8")
    before = source.read_bytes()
    runner = CliRunner()
    same = runner.invoke(app, ["lm", "build", str(source), "-o", str(source), "--order", "2"])
    assert same.exit_code == 1 and "--output" in same.output and "is an input" in same.output, same.output
    assert source.read_bytes() == before
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"hello world\nhel\x00lo\n")
    with pytest.raises(ManifestError, match="NUL byte") as caught:
        build_lm([binary], tmp_path / "b.arpa", order=2)
    assert caught.value.line == 2


def test_unreadable_sources_and_word_lists_name_the_file(tmp_path):
    """Issue 17: a ``.gz`` that is not gzip printed only "Unknown compression method"; a non-UTF-8
    ``--unigrams`` list failed every utterance with a bare UnicodeDecodeError after the acoustic model ran."""
    from werbench.manifests.arpa import read_unigram_list

    fake = tmp_path / "c.txt.gz"
    fake.write_bytes(b"\x1f\x8bnot gzip at all")
    with pytest.raises(ManifestError, match="cannot read") as caught:
        build_lm([fake], tmp_path / "x.arpa", order=2)
    assert caught.value.path == str(fake)
    words = tmp_path / "u.txt"
    words.write_bytes(b"alpha\ncaf\xe9\n")
    with pytest.raises(ManifestError, match="not UTF-8") as caught:
        read_unigram_list(words)
    assert caught.value.line == 2
