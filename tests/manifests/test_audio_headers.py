from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from corpus_builders import SR, sphere_header, tone, write_audio, write_sphere
from shorten_writer import encode_shorten
from werbench.manifests.audio import audio_info, load_audio, raw_byte_order
from werbench.manifests.errors import ManifestError
from werbench.manifests.shorten import splice_wave_header
from werbench.manifests.sphere import read_sphere_header

needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
POCKETSPHINX_RAW = Path("/usr/share/pocketsphinx/test/data/goforward.raw")  # Debian pocketsphinx-testdata


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".ogg", ".mp3", ".sph"])
def test_header_facts_of_soundfile_formats(tmp_path, suffix):
    path = tmp_path / f"a{suffix}"
    write_audio(path, 0.5, sr=SR)
    info = audio_info(path)
    assert info.sample_rate == SR and info.channels == 1
    assert info.duration == pytest.approx(0.5, abs=0.03)


def test_sphere_written_by_soundfile_and_by_hand_agree(tmp_path):
    samples = tone(0.25, seed=3)
    sf.write(tmp_path / "sf.sph", samples, SR, format="NIST", subtype="PCM_16")
    write_sphere(tmp_path / "ldc.wv1", samples, big_endian=True)
    for name in ("sf.sph", "ldc.wv1"):
        info = audio_info(tmp_path / name)
        assert (info.format, info.subtype, info.frames, info.sample_rate) == (
            "SPHERE",
            "PCM_16",
            len(samples),
            SR,
        )
        np.testing.assert_allclose(load_audio(tmp_path / name, target_sr=None), samples / 32768.0, atol=1e-6)
    header = read_sphere_header(tmp_path / "ldc.wv1")
    assert header.sample_byte_format == "10" and header.fields["database_id"] == "CSR-WSJ"


@needs_ffmpeg
@pytest.mark.parametrize("version", [1, 2])
def test_shorten_sphere_decodes_exactly(tmp_path, version):
    samples = tone(0.3, seed=version)
    path = write_sphere(tmp_path / f"v{version}.wv1", samples, shorten=True, version=version)
    info = audio_info(path)
    assert (info.subtype, info.frames) == ("shorten", len(samples))
    decoded = load_audio(path, target_sr=None)
    np.testing.assert_array_equal(np.round(decoded * 32768).astype(np.int16), samples)
    part = load_audio(path, offset=0.1, duration=0.05, target_sr=None)
    np.testing.assert_array_equal(np.round(part * 32768).astype(np.int16), samples[1600:2400])


@needs_ffmpeg
def test_stereo_shorten_is_mixed_to_mono(tmp_path):
    samples = np.stack([tone(0.2, seed=1), tone(0.2, seed=2)], axis=1)
    path = write_sphere(tmp_path / "st.wv1", samples, shorten=True)
    assert audio_info(path).channels == 2
    np.testing.assert_allclose(load_audio(path, target_sr=None), samples.mean(axis=1) / 32768.0, atol=1e-6)


def test_splicing_puts_a_verbatim_wave_header_after_the_stream_header():
    stream = encode_shorten(tone(0.01))
    spliced = splice_wave_header(stream, SR, 1)
    assert spliced.startswith(b"ajkg") and len(spliced) > len(stream) + 44
    with pytest.raises(ValueError, match="magic"):
        splice_wave_header(b"RIFF....", SR, 1)


@needs_ffmpeg
def test_corrupt_shorten_data_is_reported(tmp_path):
    path = tmp_path / "bad.wv1"
    path.write_bytes(
        sphere_header(
            {"sample_count": 1000, "sample_rate": SR, "sample_coding": "pcm,embedded-shorten-v2.00"}
        )
        + b"ajkg\x02"
    )
    assert audio_info(path).frames == 1000  # the header alone is fine
    with pytest.raises(ManifestError, match="shorten"):
        load_audio(path)


def test_other_sphere_compression_is_reported_not_misread(tmp_path):
    path = tmp_path / "wp.sph"
    fields = {"sample_count": 8000, "sample_rate": SR, "sample_coding": "pcm,embedded-wavpack"}
    path.write_bytes(sphere_header(fields) + b"wvpk" + b"\x00" * 100)
    assert audio_info(path).subtype == "embedded-wavpack"
    with pytest.raises(ManifestError, match="unsupported SPHERE compression 'embedded-wavpack'"):
        load_audio(path)


@pytest.mark.parametrize("order", ["big", "little"])
def test_raw_byte_order_is_detected(tmp_path, order):
    samples = tone(0.3, seed=5)
    path = tmp_path / "x.raw"
    path.write_bytes(samples.astype(">i2" if order == "big" else "<i2").tobytes())
    assert raw_byte_order(path) == order.upper()
    info = audio_info(path)
    assert (info.sample_rate, info.frames, info.format) == (16000, len(samples), "RAW")
    np.testing.assert_allclose(load_audio(path), samples / 32768.0, atol=1e-6)


@pytest.mark.skipif(
    not POCKETSPHINX_RAW.is_file(), reason="Debian package pocketsphinx-testdata is not installed"
)
def test_byte_order_of_real_speech(tmp_path):
    swapped = tmp_path / "goforward.raw"
    speech = np.frombuffer(POCKETSPHINX_RAW.read_bytes(), dtype="<i2")
    swapped.write_bytes(speech.astype(">i2").tobytes())
    assert (raw_byte_order(POCKETSPHINX_RAW), raw_byte_order(swapped)) == ("LITTLE", "BIG")
    np.testing.assert_array_equal(load_audio(swapped), load_audio(POCKETSPHINX_RAW))
    assert audio_info(swapped).duration == pytest.approx(2.786, abs=0.001)


def test_ulaw_sphere(tmp_path):
    path = tmp_path / "u.sph"
    sf.write(path, tone(0.2, sr=8000), 8000, format="NIST", subtype="ULAW")
    info = audio_info(path)
    assert (info.subtype, info.sample_rate, info.frames) == ("ULAW", 8000, 1600)
    assert np.abs(load_audio(path, target_sr=None) - tone(0.2, sr=8000) / 32768.0).max() < 0.02


def test_offset_duration_mono_and_resampling(tmp_path):
    stereo = tone(1.0, sr=8000, channels=2)
    path = tmp_path / "s.wav"
    sf.write(path, stereo, 8000)
    native = load_audio(path, offset=0.25, duration=0.5, target_sr=None)
    assert native.dtype == np.float32 and native.shape == (4000,)
    np.testing.assert_allclose(native, stereo[2000:6000, 0] / 32768.0, atol=1e-6)
    upsampled = load_audio(path, offset=0.25, duration=0.5, target_sr=16000)
    assert upsampled.dtype == np.float32 and upsampled.shape == (8000,)
    with pytest.raises(ManifestError, match=r"offset 2\.0 s is outside"):
        load_audio(path, offset=2.0)


def test_missing_corrupt_and_truncated_audio(tmp_path):
    with pytest.raises(ManifestError, match="audio file not found") as caught:
        audio_info(tmp_path / "nope.wav")
    assert caught.value.field == "audio_filepath"
    (tmp_path / "junk.wav").write_bytes(b"this is not audio at all" * 10)
    with pytest.raises(ManifestError, match="unreadable audio"):
        audio_info(tmp_path / "junk.wav")
    path = write_sphere(tmp_path / "cut.sph", tone(0.5))
    path.write_bytes(path.read_bytes()[:3000])
    with pytest.raises(ManifestError, match="truncated"):
        audio_info(path)
    (tmp_path / "odd.raw").write_bytes(b"\x00\x01\x02")
    with pytest.raises(ManifestError, match="odd byte count"):
        audio_info(tmp_path / "odd.raw")


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (b"NIST_1A\n   1024\nsample_rate -i 16000\nend_head\n", "sample_count"),
        (b"NIST_1A\n   1024\nsample_count -i x\nend_head\n", "bad -i value"),
        (b"NIST_1A\n   1024\nsample_count -i 5\n", "no end_head"),
        (b"NIST_1A\n   abc\n", "bad header size"),
    ],
)
def test_bad_sphere_headers_name_the_field(tmp_path, header, message):
    path = tmp_path / "h.sph"
    path.write_bytes(header.ljust(1024, b" ") + b"\x00" * 64)
    with pytest.raises(ManifestError, match=message) as caught:
        audio_info(path)
    assert str(caught.value).startswith(str(path))
