"""Tiny corpora in each supported layout, written by the tests themselves (audio by soundfile or by hand)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
from shorten_writer import encode_shorten

SR = 16000


def tone(seconds: float, sr: int = SR, seed: int = 0, channels: int = 1) -> np.ndarray:
    """A voiced-sounding int16 signal: a few harmonics plus a little noise, so byte order is detectable."""
    t = np.arange(round(seconds * sr)) / sr
    rng = np.random.default_rng(seed)
    wave = sum(np.sin(2 * np.pi * f * t) / (i + 1) for i, f in enumerate((180.0, 360.0, 720.0)))
    signal = 6000 * wave + rng.normal(0, 200, len(t))
    out = np.clip(signal, -32768, 32767).astype(np.int16)
    return out if channels == 1 else np.stack([out] * channels, axis=1)


def sphere_header(fields: dict[str, int | str], size: int = 1024) -> bytes:
    lines = ["NIST_1A", f"{size:>7}"]
    for name, value in fields.items():
        lines.append(f"{name} -i {value}" if isinstance(value, int) else f"{name} -s{len(value)} {value}")
    text = "\n".join([*lines, "end_head", ""]).encode("ascii")
    return text + b" " * (size - len(text))


def write_sphere(
    path: Path,
    samples: np.ndarray,
    sr: int = SR,
    *,
    shorten: bool = False,
    big_endian: bool = False,
    version: int = 2,
) -> Path:
    """A SPHERE file as LDC writes them: plain PCM, or ``pcm,embedded-shorten-v2.00`` compressed."""
    frames = samples.reshape(len(samples), -1)
    fields: dict[str, int | str] = {
        "database_id": "CSR-WSJ",
        "utterance_id": path.stem,
        "channel_count": frames.shape[1],
        "sample_count": len(frames),
        "sample_rate": sr,
        "sample_n_bytes": 2,
        "sample_byte_format": "10" if big_endian else "01",
        "sample_sig_bits": 16,
        "sample_coding": "pcm,embedded-shorten-v2.00" if shorten else "pcm",
    }
    if shorten:
        data = encode_shorten(frames, version=version)
    else:
        data = frames.astype(">i2" if big_endian else "<i2").tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(sphere_header(fields) + data)
    return path


def write_audio(path: Path, seconds: float, sr: int = SR, seed: int = 0, channels: int = 1) -> np.ndarray:
    """Write ``seconds`` of signal in the format the suffix names; returns the int16 samples."""
    samples = tone(seconds, sr, seed, channels)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix in (".wv1", ".wv2"):
        write_sphere(path, samples, sr, shorten=True)
    elif suffix == ".sph":
        sf.write(path, samples, sr, format="NIST", subtype="PCM_16")
    elif suffix == ".raw":
        path.write_bytes(samples.astype(">i2").tobytes())  # AN4 ships big-endian raw
    elif suffix == ".mp3":
        sf.write(path, samples.astype(np.float32) / 32768, sr, format="MP3")
    else:
        sf.write(path, samples, sr)
    return samples


@dataclass
class Corpus:
    """Where a built corpus lives and what an import of it must produce."""

    src: Path
    durations: dict[str, float] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    speakers: dict[str, str | None] = field(default_factory=dict)


def _utt(
    corpus: Corpus, utt_id: str, path: Path, seconds: float, text: str, speaker: str | None, seed: int
) -> None:
    write_audio(path, seconds, seed=seed)
    corpus.durations[utt_id] = seconds
    corpus.texts[utt_id] = text
    corpus.speakers[utt_id] = speaker


def make_librispeech(root: Path) -> Corpus:
    corpus = Corpus(root / "LibriSpeech")
    chapters = {
        ("1089", "134686"): ["HE HOPED THERE WOULD BE STEW", "STUFF IT INTO YOU"],
        ("121", "121726"): ["YES"],
    }
    for seed, ((spk, chapter), texts) in enumerate(chapters.items()):
        folder = corpus.src / "test-clean" / spk / chapter
        lines = []
        for i, text in enumerate(texts):
            utt_id = f"{spk}-{chapter}-{i:04d}"
            _utt(corpus, utt_id, folder / f"{utt_id}.flac", 0.8 + 0.1 * i, text, spk, seed + i)
            lines.append(f"{utt_id} {text}\n")
        (folder / f"{spk}-{chapter}.trans.txt").write_text("".join(lines))
    other = corpus.src / "dev-clean" / "84" / "121123"
    write_audio(other / "84-121123-0000.flac", 0.2)
    (other / "84-121123.trans.txt").write_text("84-121123-0000 GO DO YOU HEAR\n")
    return corpus


WSJ_DOT = (
    "[loud_breath] Of course there isn\\'t any *guarantee* the company will keep its hot hand [door_slam>] "
    ",COMMA I\\. B\\. M\\. said th- \\.period (440c0201)\n"
    "The index rose s:o fast <NOISE> ~ (440c0202)\n"
)


def make_wsj(root: Path) -> Corpus:
    """Two WSJ0 eval utterances (one shorten, one plain PCM SPHERE) and a WSJ1 one with an .lsn transcript."""
    corpus = Corpus(root / "wsj")
    session = corpus.src / "11-2.1" / "wsj0" / "si_et_05" / "440"
    write_sphere(session / "440c0201.wv1", tone(0.5, seed=1), shorten=True)
    write_sphere(session / "440c0202.wv1", tone(0.4, seed=2), big_endian=True)
    write_sphere(session / "440c0201.wv2", tone(0.5, seed=3), shorten=True)
    (session / "440c0200.dot").write_text(WSJ_DOT)
    wsj1 = corpus.src / "13-32.1" / "wsj1" / "si_dt_20" / "4k0"
    write_sphere(wsj1 / "4K0C0301.WV1", tone(0.3, seed=4), shorten=True, version=1)
    (wsj1 / "4k0c0301.lsn").write_text("THE DOLLAR FELL .PERIOD (4K0C0301)\n")
    index = corpus.src / "11-13.1" / "wsj0" / "doc" / "indices" / "test" / "nvp" / "si_et_05.ndx"
    index.parent.mkdir(parents=True)
    index.write_text(
        ";; eval92 5k NVP\n;\n11_2_1:wsj0/si_et_05/440/440c0202.wv1\n11_2_1:wsj0/si_et_05/440/440c0201.wv1\n"
    )
    corpus.durations = {"440c0201": 0.5, "440c0202": 0.4, "4k0c0301": 0.3}
    said = "Of course there isn't any guarantee the company will keep its hot hand COMMA I. B. M. said period"
    corpus.texts = {
        "440c0201": said,
        "440c0202": "The index rose so fast",
        "4k0c0301": "THE DOLLAR FELL PERIOD",
    }
    corpus.speakers = {utt: utt[:3] for utt in corpus.durations}
    return corpus


def make_an4(root: Path) -> Corpus:
    """AN4 with one SPHERE and one big-endian raw test utterance, plus one training utterance."""
    corpus = Corpus(root / "an4")
    wav = corpus.src / "wav" / "an4test_clstk"
    _utt(corpus, "an406-fcaw-b", wav / "fcaw" / "an406-fcaw-b.sph", 0.4, "YES", "fcaw", 1)
    _utt(corpus, "cen1-mmxg-b", wav / "mmxg" / "cen1-mmxg-b.raw", 0.3, "ENTER SIX TWO", "mmxg", 2)
    (corpus.src / "etc").mkdir(parents=True)
    (corpus.src / "etc" / "an4_test.transcription").write_text(
        "<s> YES </s> (an406-fcaw-b)\n<s> ENTER SIX TWO </s> (cen1-mmxg-b)\n"
    )
    write_audio(corpus.src / "wav" / "an4_clstk" / "fash" / "an251-fash-b.sph", 0.2)
    (corpus.src / "etc" / "an4_train.transcription").write_text("<s> RUBOUT G M E F </s> (an251-fash-b)\n")
    return corpus


def make_commonvoice(root: Path) -> Corpus:
    corpus = Corpus(root / "cv-corpus" / "en")
    header = "client_id\tpath\tsentence\tup_votes\tdown_votes\tage\tgender\taccents\tlocale\tsegment\n"
    rows = [
        ("c0ffee", "common_voice_en_1.mp3", 'He said "hi" to Zoë.', "twenties", "female"),
        ("beef01", "common_voice_en_2.mp3", "Ninety-nine bottles.", "", ""),
    ]
    lines = [header]
    for seed, (client, name, sentence, age, gender) in enumerate(rows):
        utt_id = name.removesuffix(".mp3")
        _utt(corpus, utt_id, corpus.src / "clips" / name, 0.5, sentence, client, seed)
        lines.append(f"{client}\t{name}\t{sentence}\t2\t0\t{age}\t{gender}\t\ten\t\n")
    (corpus.src / "test.tsv").write_text("".join(lines))
    return corpus


def make_deepspeech(root: Path) -> Corpus:
    corpus = Corpus(root / "ds" / "test.csv")
    lines = ["wav_filename,wav_filesize,transcript\n"]
    for seed, (name, text) in enumerate([("a.wav", "hello, world"), ("b.wav", "good morning")]):
        path = root / "ds" / "clips" / name
        _utt(corpus, path.stem, path, 0.25 + 0.05 * seed, text, None, seed)
        lines.append(f'clips/{name},{path.stat().st_size},"{text}"\n')
    corpus.src.write_text("".join(lines))
    return corpus


def make_deepspeech_pytorch(root: Path) -> Corpus:
    """MLPerf-style CSV (no header) of wav,txt pairs; the JSON form is written beside it."""
    base = root / "libri_test_clean"
    corpus = Corpus(base / "manifest.csv")
    lines, samples = [], []
    for seed, (name, text) in enumerate([("1089-134686-0000", "HE HOPED"), ("1089-134686-0001", "STUFF IT")]):
        _utt(corpus, name, base / "wav" / f"{name}.wav", 0.3, text, None, seed)
        (base / "txt").mkdir(exist_ok=True)
        (base / "txt" / f"{name}.txt").write_text(text + "\n")
        lines.append(f"{base / 'wav' / name}.wav,txt/{name}.txt\n")
        samples.append({"wav_path": f"wav/{name}.wav", "transcript_path": f"txt/{name}.txt"})
    corpus.src.write_text("".join(lines))
    (base / "manifest.json").write_text(json.dumps({"root_path": str(base), "samples": samples}))
    return corpus


def make_kaldi(root: Path) -> Corpus:
    """Two recordings (a wav path and an sph2pipe command) cut into three segments."""
    corpus = Corpus(root / "data" / "test")
    corpus.src.mkdir(parents=True)
    rec1, rec2 = root / "audio" / "rec1.wav", root / "audio" / "rec2.sph"
    write_audio(rec1, 1.0, seed=1)
    write_audio(rec2, 0.8, seed=2)
    (corpus.src / "wav.scp").write_text(f"rec1 {rec1}\nrec2 sph2pipe -f wav -p -c 1 {rec2} |\n")
    (corpus.src / "segments").write_text(
        "spkA-utt1 rec1 0.00 0.40\nspkA-utt2 rec1 0.50 1.00\nspkB-utt3 rec2 0.10 -1\n"
    )
    (corpus.src / "text").write_text(
        "spkA-utt1 HELLO THERE\nspkA-utt2 GENERAL KENOBI\nspkB-utt3 YOU ARE A BOLD ONE\n"
    )
    (corpus.src / "utt2spk").write_text("spkA-utt1 spkA\nspkA-utt2 spkA\nspkB-utt3 spkB\n")
    corpus.durations = {"spkA-utt1": 0.4, "spkA-utt2": 0.5, "spkB-utt3": 0.7}
    corpus.texts = {
        "spkA-utt1": "HELLO THERE",
        "spkA-utt2": "GENERAL KENOBI",
        "spkB-utt3": "YOU ARE A BOLD ONE",
    }
    corpus.speakers = {"spkA-utt1": "spkA", "spkA-utt2": "spkA", "spkB-utt3": "spkB"}
    return corpus


def make_trn(root: Path) -> Corpus:
    corpus = Corpus(root / "refs.trn")
    for seed, (utt_id, text) in enumerate([("spk1-utt1", "(laughs) yes indeed"), ("spk1-utt2", "no")]):
        _utt(corpus, utt_id, root / "trn_audio" / f"{utt_id}.wav", 0.3, text, None, seed)
    corpus.src.write_text("(laughs) yes   indeed (spk1-utt1)\nno (spk1-utt2)\n")
    return corpus
