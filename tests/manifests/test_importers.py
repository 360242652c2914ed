from __future__ import annotations

import json
import shutil

import pytest
import werbench.manifests.importers.convert as convert
from corpus_builders import (
    Corpus,
    make_an4,
    make_commonvoice,
    make_deepspeech,
    make_deepspeech_pytorch,
    make_kaldi,
    make_librispeech,
    make_trn,
    make_wsj,
    write_audio,
)
from werbench.manifests.errors import ManifestError
from werbench.manifests.importers import IMPORTERS, ImportOptions, import_corpus
from werbench.manifests.io import load_manifest
from werbench.manifests.normalize import get_normalizer


def _import(fmt, src, out, **options):
    summary = import_corpus(fmt, src, out, ImportOptions(**options), progress=False)
    return summary, {u.utt_id: u for u in load_manifest(out)}


def _check(corpus: Corpus, utts: dict, duration_tolerance: float = 0.002) -> None:
    assert sorted(utts) == sorted(corpus.texts)
    for utt_id, utt in utts.items():
        assert utt.text == corpus.texts[utt_id], utt_id
        assert utt.speaker == corpus.speakers[utt_id], utt_id
        assert utt.duration == pytest.approx(corpus.durations[utt_id], abs=duration_tolerance), utt_id


def test_every_format_is_registered_with_help():
    assert set(IMPORTERS) == {
        "librispeech",
        "wsj",
        "an4",
        "commonvoice",
        "deepspeech",
        "deepspeech-pytorch",
        "kaldi",
        "trn",
    }
    assert all(len(imp.layout) > 40 for imp in IMPORTERS.values())


def test_librispeech(tmp_path):
    corpus = make_librispeech(tmp_path)
    summary, utts = _import("librispeech", corpus.src, tmp_path / "ls.jsonl", subset="test-clean")
    _check(corpus, utts)
    assert summary.written == 3 and summary.sample_rates == {16000: 3}
    assert utts["1089-134686-0000"].extra == {"chapter": "134686"}
    assert utts["1089-134686-0000"].audio_filepath.endswith("test-clean/1089/134686/1089-134686-0000.flac")
    _, everything = _import("librispeech", corpus.src, tmp_path / "all.jsonl")
    assert len(everything) == 4
    with pytest.raises(ManifestError, match="folder not found"):
        _import("librispeech", corpus.src, tmp_path / "x.jsonl", subset="test-other")


@pytest.mark.skipif(
    shutil.which("ffmpeg") is None, reason="shorten needs ffmpeg only to decode, not to import"
)
def test_wsj_index_cleanup_and_channels(tmp_path):
    corpus = make_wsj(tmp_path)
    _, utts = _import("wsj", corpus.src, tmp_path / "all.jsonl")
    _check(corpus, utts)
    subset_path = tmp_path / "eval.jsonl"
    _import("wsj", corpus.src, subset_path, subset="si_et_05")
    assert [u.utt_id for u in load_manifest(subset_path)] == ["440c0202", "440c0201"]
    _, raw = _import("wsj", corpus.src, tmp_path / "raw.jsonl", wsj_cleanup=False)
    assert raw["440c0202"].text == "The index rose s:o fast <NOISE> ~"
    _, novp = _import("wsj", corpus.src, tmp_path / "novp.jsonl", wsj_vp="drop")
    assert novp["4k0c0301"].text == "THE DOLLAR FELL"
    _, wv2 = _import("wsj", corpus.src, tmp_path / "wv2.jsonl", wsj_channel="wv2")
    assert list(wv2) == ["440c0201"] and wv2["440c0201"].audio_filepath.endswith(".wv2")
    with pytest.raises(ManifestError, match=r"si_et_05.ndx:3: audio_filepath: no 440c0202.wv2"):
        _import("wsj", corpus.src, tmp_path / "bad.jsonl", subset="si_et_05", wsj_channel="wv2")


def test_wsj_normalised_import(tmp_path):
    corpus = make_wsj(tmp_path)
    out = tmp_path / "n.jsonl"
    import_corpus(
        "wsj",
        corpus.src,
        out,
        ImportOptions(subset="si_et_05"),
        normalizer=get_normalizer("nemo"),
        progress=False,
    )
    texts = [u.text for u in load_manifest(out)]
    assert (
        texts[1]
        == "of course there isn't any guarantee the company will keep its hot hand comma i b m said period"
    )


def test_an4_sphere_and_raw(tmp_path):
    corpus = make_an4(tmp_path)
    _, utts = _import("an4", corpus.src, tmp_path / "an4.jsonl", subset="test")
    _check(corpus, utts)
    assert utts["cen1-mmxg-b"].audio_filepath.endswith(".raw")
    _, both = _import("an4", corpus.src, tmp_path / "both.jsonl")
    assert both["an251-fash-b"].text == "RUBOUT G M E F" and both["an251-fash-b"].speaker == "fash"
    (corpus.src / "wav" / "an4test_clstk" / "fcaw" / "an406-fcaw-b.sph").unlink()
    with pytest.raises(
        ManifestError, match=r"an4_test.transcription:1: audio_filepath: no audio file an406-fcaw-b"
    ):
        _import("an4", corpus.src, tmp_path / "x.jsonl", subset="test")


def test_commonvoice_tsv_keeps_quotes_and_speaker_facts(tmp_path):
    corpus = make_commonvoice(tmp_path)
    _, utts = _import("commonvoice", corpus.src, tmp_path / "cv.jsonl")
    _check(corpus, utts, duration_tolerance=0.06)  # MP3 frame padding
    assert utts["common_voice_en_1"].extra == {"age": "twenties", "gender": "female", "locale": "en"}
    assert utts["common_voice_en_2"].extra == {"locale": "en"}
    _, same = _import("commonvoice", corpus.src / "test.tsv", tmp_path / "cv2.jsonl")
    assert sorted(same) == sorted(utts)
    with pytest.raises(ManifestError, match="file not found"):
        _import("commonvoice", corpus.src, tmp_path / "x.jsonl", subset="dev")


def test_deepspeech_csv(tmp_path):
    corpus = make_deepspeech(tmp_path)
    _, utts = _import("deepspeech", corpus.src, tmp_path / "ds.jsonl")
    _check(corpus, utts)
    corpus.src.write_text("wav_filename,wav_filesize,transcript\nclips/a.wav,3,hello\n")
    with pytest.raises(ManifestError, match=r"test.csv:2: wav_filesize: .* the CSV says 3"):
        _import("deepspeech", corpus.src, tmp_path / "x.jsonl")
    corpus.src.write_text("wav_filename,transcript\nclips/a.wav,hello\nclips/a.wav,again\n")
    with pytest.raises(
        ManifestError, match=r"test.csv:3: utt_id: duplicate utterance id 'a' \(first at .*test.csv:2\)"
    ):
        _import("deepspeech", corpus.src, tmp_path / "x.jsonl")
    corpus.src.write_text("filename,text\na.wav,hi\n")
    with pytest.raises(ManifestError, match=r"test.csv:1: wav_filename: header lacks column"):
        _import("deepspeech", corpus.src, tmp_path / "x.jsonl")
    corpus.src.write_text("wav_filename,transcript\nclips/a.wav,hi,extra\n")
    with pytest.raises(ManifestError, match=r"test.csv:2: row has 3 fields, the header 2"):
        _import("deepspeech", corpus.src, tmp_path / "x.jsonl")


def test_deepspeech_pytorch_csv_and_json(tmp_path):
    corpus = make_deepspeech_pytorch(tmp_path)
    _, utts = _import("deepspeech-pytorch", corpus.src, tmp_path / "dp.jsonl")
    _check(corpus, utts)
    _, from_json = _import("deepspeech-pytorch", corpus.src.with_suffix(".json"), tmp_path / "dpj.jsonl")
    _check(corpus, from_json)
    (corpus.src.parent / "txt" / "1089-134686-0001.txt").unlink()
    with pytest.raises(ManifestError, match=r"manifest.csv:2: txt_path: transcript .* not found"):
        _import("deepspeech-pytorch", corpus.src, tmp_path / "x.jsonl")


def test_kaldi_segments_and_sph2pipe(tmp_path):
    corpus = make_kaldi(tmp_path)
    _, utts = _import("kaldi", corpus.src, tmp_path / "k.jsonl")
    _check(corpus, utts)
    assert (utts["spkA-utt2"].offset, utts["spkB-utt3"].offset) == (0.5, 0.1)
    assert utts["spkB-utt3"].audio_filepath.endswith("rec2.sph")
    (corpus.src / "segments").write_text(
        "spkA-utt1 rec1 0.0 0.4\nspkA-utt2 rec1 0.5 3.0\nspkB-utt3 rec2 0 -1\n"
    )
    with pytest.raises(ManifestError, match=r"segments:2: duration: segment 0.5 \+ 2.5 s runs past the end"):
        _import("kaldi", corpus.src, tmp_path / "x.jsonl")


@pytest.mark.parametrize(
    "command",
    [
        "sph2pipe -f wav -t 1:2 {p} |",
        "sph2pipe -c 2 {p} |",
        "sox {p} -t wav - tempo 1.1 |",
        "gunzip -c {p} | sox - |",
        "cat {p} {p} |",
    ],
)
def test_kaldi_rejects_commands_that_edit_the_audio(tmp_path, command):
    corpus = make_kaldi(tmp_path)
    (corpus.src / "wav.scp").write_text(f"rec1 {tmp_path}/audio/rec1.wav\nrec2 {command.format(p='x.sph')}\n")
    with pytest.raises(ManifestError, match=r"wav.scp:2: path: unsupported piped command"):
        _import("kaldi", corpus.src, tmp_path / "x.jsonl")


def test_kaldi_without_segments_uses_wav_scp_ids(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    write_audio(tmp_path / "u1.flac", 0.3)
    (data / "wav.scp").write_text("u1 flac -c -d -s ../u1.flac |\nu2 ../u2.flac\n")
    (data / "text").write_text("u1 HI\n")
    _, utts = _import("kaldi", data, tmp_path / "k.jsonl", audio_dir=data)
    assert utts["u1"].duration == pytest.approx(0.3) and utts["u1"].speaker is None
    (data / "text").write_text("u1 HI\nu3 THERE\n")
    with pytest.raises(ManifestError, match=r"text:2: utt_id: recording 'u3' is not in wav.scp"):
        _import("kaldi", data, tmp_path / "k.jsonl", audio_dir=data)


def test_trn_with_audio_and_reference_only(tmp_path):
    corpus = make_trn(tmp_path)
    _, utts = _import("trn", corpus.src, tmp_path / "t.jsonl", audio_dir=tmp_path / "trn_audio")
    _check(corpus, utts)
    _, refs = _import("trn", corpus.src, tmp_path / "r.jsonl")
    assert refs["spk1-utt1"].duration == 0 and refs["spk1-utt1"].extra == {"reference_only": True}
    (tmp_path / "trn_audio" / "spk1-utt2.wav").unlink()
    with pytest.raises(ManifestError, match=r"refs.trn:2: audio_filepath: no audio file named spk1-utt2"):
        _import("trn", corpus.src, tmp_path / "t.jsonl", audio_dir=tmp_path / "trn_audio")


def test_corrupt_and_missing_audio_name_the_listing_line_or_are_skipped(tmp_path):
    corpus = make_deepspeech(tmp_path)
    (tmp_path / "ds" / "clips" / "b.wav").write_bytes(b"RIFF garbage that is not a wave file")
    corpus.src.write_text("wav_filename,transcript\nclips/a.wav,one\nclips/b.wav,two\nclips/c.wav,three\n")
    with pytest.raises(ManifestError, match=r"test.csv:3: audio_filepath: .*b.wav: unreadable audio"):
        _import("deepspeech", corpus.src, tmp_path / "x.jsonl")
    summary = import_corpus("deepspeech", corpus.src, tmp_path / "x.jsonl", skip_bad=True, progress=False)
    assert summary.written == 1 and len(summary.skipped) == 2
    assert "test.csv:4: audio_filepath" in summary.skipped[1] and "audio file not found" in summary.skipped[1]


def test_listings_with_crlf_are_read_and_non_utf8_bytes_name_the_line(tmp_path):
    corpus = make_librispeech(tmp_path)
    trans = corpus.src / "test-clean" / "1089" / "134686" / "1089-134686.trans.txt"
    trans.write_bytes(trans.read_bytes().replace(b"\n", b"\r\n"))
    _, utts = _import("librispeech", corpus.src, tmp_path / "ls.jsonl", subset="test-clean")
    assert utts["1089-134686-0001"].text == "STUFF IT INTO YOU"
    cv = make_commonvoice(tmp_path)
    tsv = cv.src / "test.tsv"
    tsv.write_bytes(tsv.read_bytes().replace("Zoë".encode(), "Zo\xeb".encode("latin-1")))
    with pytest.raises(ManifestError, match=r"test.tsv:2: not UTF-8"):
        _import("commonvoice", cv.src, tmp_path / "cv.jsonl")


def test_subset_where_none_exists_and_unknown_format(tmp_path):
    corpus = make_deepspeech(tmp_path)
    with pytest.raises(ManifestError, match="has no subsets"):
        _import("deepspeech", corpus.src, tmp_path / "x.jsonl", subset="test")
    with pytest.raises(ManifestError, match="unknown format 'timit'"):
        import_corpus("timit", corpus.src, tmp_path / "x.jsonl")


def test_failed_or_interrupted_import_leaves_the_old_output_and_no_partial_file(tmp_path, monkeypatch):
    corpus = make_librispeech(tmp_path)
    out = tmp_path / "out" / "m.jsonl"
    out.parent.mkdir()
    out.write_text('{"audio_filepath": "old.wav", "duration": 1, "text": "old"}\n')
    before = out.read_bytes()
    (corpus.src / "test-clean" / "121" / "121726" / "121-121726-0000.flac").unlink()
    with pytest.raises(ManifestError, match="audio file not found"):
        _import("librispeech", corpus.src, out)
    assert out.read_bytes() == before and sorted(p.name for p in out.parent.iterdir()) == ["m.jsonl"]

    real_info, calls = convert.audio_info, []

    def interrupted(path):  # Ctrl-C arriving while the second header is read
        calls.append(path)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_info(path)

    monkeypatch.setattr(convert, "audio_info", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _import("librispeech", corpus.src, tmp_path / "out" / "new.jsonl", subset="test-clean")
    assert sorted(p.name for p in out.parent.iterdir()) == ["m.jsonl"]
    assert json.loads(out.read_text())["text"] == "old"
