"""Error tables replayed from the one alignment: checked by hand and against ``Alignment.pairs()``."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from werbench.aligner.align import align_many
from werbench.analysis import errors, vocabulary
from werbench.manifests.errors import ConfigError, ManifestError
from werbench.manifests.normalize import get_normalizer

REFS = {
    "u1": "the cat sat on the mat",
    "u2": "a b c",
    "u3": "hello world",
    "u4": "",
    "u5": "the naïve café in 東京",
}
HYPS = {
    "u1": "the bat sat on mat mat",
    "u2": "a b c d",
    "u3": "",
    "u4": "oops",
    "u5": "the naive café in 東京 tower",
}


@pytest.fixture
def utts(make_utts) -> pd.DataFrame:
    return make_utts(REFS, {"sys": HYPS})


def test_replay_matches_alignment_pairs() -> None:
    rng = random.Random(3)
    vocab = ["a", "b", "c", "d", "é", "A", "@"]
    for _ in range(300):
        ref = " ".join(rng.choice(vocab) for _ in range(rng.randint(0, 8)))
        hyp = " ".join(rng.choice(vocab) for _ in range(rng.randint(0, 8)))
        alignment = align_many([ref], [hyp])[0]
        assert errors.replay(alignment.ops, ref, hyp) == list(alignment.pairs())


def test_replay_refuses_ops_that_do_not_cover_the_words() -> None:
    with pytest.raises(ValueError, match="ops cover 2 reference words but the row has 3"):
        errors.replay("CC", "a b c", "a b")


def test_word_pairs_by_hand(utts: pd.DataFrame) -> None:
    pairs = errors.word_pairs(utts)
    u1 = pairs[pairs["utt_id"] == "u1"]
    assert "".join(u1["op"]) == "CSCCSC"  # sclite: 'the' -> 'mat' then 'mat' correct
    assert list(u1["position"]) == list(range(6))
    assert list(pairs.loc[pairs["utt_id"] == "u3", "op"]) == ["D", "D"]
    u4 = pairs[pairs["utt_id"] == "u4"]
    assert list(u4["op"]) == ["I"] and u4["hyp_word"].iloc[0] == "oops" and pd.isna(u4["ref_word"].iloc[0])
    assert set(pairs.columns) == set(errors.PAIR_COLUMNS)


def test_error_tables_by_hand(utts: pd.DataFrame) -> None:
    tables = errors.error_tables(utts)
    conf = tables.confusions
    assert set(zip(conf["ref_word"], conf["hyp_word"], conf["count"], strict=True)) == {
        ("cat", "bat", 1),
        ("the", "mat", 1),
        ("naïve", "naive", 1),
    }
    assert conf["share"].sum() == pytest.approx(1.0)
    assert dict(zip(tables.inserted["word"], tables.inserted["count"], strict=True)) == {
        "d": 1,
        "oops": 1,
        "tower": 1,
    }
    assert dict(zip(tables.deleted["word"], tables.deleted["count"], strict=True)) == {"hello": 1, "world": 1}
    sub = tables.substituted.set_index("word")
    assert sub.loc["naïve", "top_replacement"] == "naive"
    acc = tables.word_accuracy.set_index("word")
    assert acc.loc["the", ["count", "correct", "substituted", "deleted"]].tolist() == [3, 2, 1, 0]
    assert acc.loc["the", "accuracy"] == pytest.approx(2 / 3)
    assert acc.loc["東京", "accuracy"] == 1.0
    assert acc["oov"].isna().all()  # no vocabulary given
    assert tables.oov.empty
    assert list(tables.word_accuracy.columns[:3]) == ["testset", "system", "word"]


def test_error_tables_agree_with_alignment_pairs(make_utts) -> None:
    """The vectorised replay counts exactly what iterating the aligner's own pairs counts."""
    rng = random.Random(7)
    vocab = [f"w{i}" for i in range(12)] + ["ß", "ωμέγα"]
    refs = {f"u{k}": " ".join(rng.choice(vocab) for _ in range(rng.randint(0, 15))) for k in range(200)}
    systems = {
        name: {
            u: " ".join(w if rng.random() > p else rng.choice(vocab) for w in t.split())
            for u, t in refs.items()
        }
        for name, p in (("a", 0.2), ("b", 0.4))
    }
    utts = make_utts(refs, systems)
    tables = errors.error_tables(utts)
    for name, hyps in systems.items():
        ids = list(refs)
        pairs = [p for a in align_many([refs[u] for u in ids], [hyps[u] for u in ids]) for p in a.pairs()]
        subs = Counter((r, h) for op, r, h in pairs if op == "S")
        got = tables.confusions[tables.confusions["system"] == name]
        assert (
            dict(zip(zip(got["ref_word"], got["hyp_word"], strict=True), got["count"], strict=True)) == subs
        )
        acc = tables.word_accuracy[tables.word_accuracy["system"] == name].set_index("word")
        correct = Counter(r for op, r, _ in pairs if op == "C")
        total = Counter(r for op, r, _ in pairs if op != "I")
        assert acc["count"].to_dict() == dict(total)
        assert {w: c for w, c in acc["correct"].to_dict().items() if c} == dict(correct)
        inserted = Counter(h for op, _, h in pairs if op == "I")
        got_ins = tables.inserted[tables.inserted["system"] == name]
        assert dict(zip(got_ins["word"], got_ins["count"], strict=True)) == dict(inserted)


def test_top_limits_each_system(make_utts) -> None:
    utts = make_utts({"u": "a b c d e"}, {"x": {"u": "q r s t u"}, "y": {"u": "a b c d q"}})
    tables = errors.error_tables(utts, top=2)
    assert tables.confusions.groupby("system").size().to_dict() == {"x": 2, "y": 1}


def test_failed_utterances_are_not_counted_as_deletions(make_utts) -> None:
    utts = make_utts({"u1": "a b", "u2": "c d"}, {"s": {"u1": "a b", "u2": "c d"}}, failed={"s": {"u2"}})
    tables = errors.error_tables(utts)
    assert tables.deleted.empty or "c" not in set(tables.deleted["word"])
    assert set(tables.word_accuracy["word"]) == {"a", "b"}


def test_inconsistent_ops_name_the_utterance(utts: pd.DataFrame) -> None:
    broken = utts.copy()
    broken.loc[broken["utt_id"] == "u2", "ops"] = "CC"
    with pytest.raises(ValueError, match="test/sys/u2: ops cover 2 reference words but the row has 3"):
        errors.error_tables(broken)


def test_words_with_non_ascii_spaces_stay_whole(make_utts) -> None:
    utts = make_utts({"u": "new\u00a0york is big"}, {"s": {"u": "new york is big"}})
    tables = errors.error_tables(utts)
    assert "new\u00a0york" in set(tables.word_accuracy["word"])
    assert tables.inserted["count"].sum() == 1  # one hypothesis word more than the reference
    assert tables.confusions["ref_word"].tolist() == ["new\u00a0york"]


# ------------------------------------------------------------------------------------------ vocabulary


def test_oov_flags_and_rates(utts: pd.DataFrame, tmp_path: Path) -> None:
    words = tmp_path / "words.txt"
    words.write_text("the 10\ncat 4\nsat 3\non 9\nmat 1\na 5\nb 1\nc 1\nhello 2\n")
    vocab = vocabulary.load_vocabulary(words)
    assert vocab.kind == "text" and "hello" in vocab and "10" not in vocab
    tables = errors.error_tables(utts, vocabulary=vocab)
    acc = tables.word_accuracy.set_index("word")
    assert not acc.loc["the", "oov"] and acc.loc["world", "oov"] and acc.loc["東京", "oov"]
    summary = tables.oov.iloc[0]
    # reference tokens: 6 + 3 + 2 + 0 + 5 = 16; OOV: world, naïve, café, in, 東京 (one each)
    assert summary["ref_tokens"] == 16 and summary["oov_tokens"] == 5
    assert summary["oov_rate"] == pytest.approx(5 / 16)
    assert summary["oov_types"] == 5
    assert summary["oov_accuracy"] == pytest.approx(3 / 5)  # café, in, 東京 right; world, naïve wrong
    assert summary["iv_accuracy"] == pytest.approx(8 / 11)


def test_vocabulary_from_running_text(tmp_path: Path) -> None:
    corpus = tmp_path / "lm.txt"
    corpus.write_text("the cat sat\non the mat 2\n")
    assert vocabulary.load_vocabulary(corpus).words == frozenset({"the", "cat", "sat", "on", "mat", "2"})


def test_vocabulary_from_a_manifest_is_normalised(tmp_path: Path) -> None:
    manifest = tmp_path / "train.jsonl"
    rows = [{"audio_filepath": "a.wav", "duration": 1.0, "text": "Hello, World!"}, {"text": "It's OK"}]
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    vocab = vocabulary.load_vocabulary(manifest, get_normalizer("nemo"))
    assert vocab.kind == "manifest"
    assert vocab.words == frozenset({"hello", "world", "it's", "ok"})
    manifest.write_text(json.dumps({"text": 3}) + "\n")
    with pytest.raises(ManifestError, match=r"train\.jsonl:1: text: expected a string"):
        vocabulary.load_vocabulary(manifest)


def test_vocabulary_errors(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="vocabulary file not found"):
        vocabulary.load_vocabulary(tmp_path / "missing.arpa")
    latin1 = tmp_path / "words.txt"
    latin1.write_bytes("caf\xe9\n".encode("latin-1"))
    with pytest.raises(ManifestError, match="not UTF-8"):
        vocabulary.load_vocabulary(latin1)


HAVE_KENLM = shutil.which("lmplz") or (Path(__file__).parents[2] / ".venv/bin/lmplz").exists()


@pytest.mark.skipif(not HAVE_KENLM, reason="KenLM's lmplz is not installed")
def test_vocabulary_from_a_real_kenlm_arpa_and_binary(tmp_path: Path) -> None:
    bin_dir = Path(__file__).parents[2] / ".venv/bin"
    lmplz = shutil.which("lmplz") or str(bin_dir / "lmplz")
    build_binary = shutil.which("build_binary") or str(bin_dir / "build_binary")
    corpus = "the cat sat on the mat\nthe dog sat on the log\na cat and a dog\n"
    arpa = tmp_path / "lm.arpa"
    command = [lmplz, "-o", "2", "--discount_fallback", "-S", "50M", "-T", str(tmp_path)]
    with arpa.open("w") as out:
        subprocess.run(command, input=corpus, text=True, stdout=out, check=True, stderr=subprocess.DEVNULL)
    vocab = vocabulary.load_vocabulary(arpa)
    assert vocab.kind == "arpa"
    assert vocab.words == frozenset(
        ["the", "cat", "sat", "on", "mat", "dog", "log", "a", "and"]
    )  # no <s>, </s>, <unk>
    binary = tmp_path / "lm.bin"
    subprocess.run([build_binary, str(arpa), str(binary)], check=True, capture_output=True)
    with pytest.raises(ManifestError, match=r"KenLM binary without its word list lm\.bin\.unigrams\.txt"):
        vocabulary.load_vocabulary(binary)
    (tmp_path / "lm.bin.unigrams.txt").write_text("<s>\nthe\ncat\n</s>\n")  # as `werbench lm build` writes it
    assert vocabulary.load_vocabulary(binary).words == frozenset({"the", "cat"})


def test_each_test_set_gets_its_own_vocabulary(tmp_path: Path, make_utts) -> None:
    """``--vocab TESTSET=PATH``: a test set decoded with its own domain's LM is flagged against that LM's
    words, not another domain's; a plain PATH serves the test sets not named."""
    refs, hyps = {"u1": "the cat sat", "u2": "buy shares"}, {"u1": "the cat sat", "u2": "by shares"}
    utts = pd.concat([make_utts(refs, {"s": hyps}, testset=t) for t in ("general", "business")])
    (tmp_path / "general.txt").write_text("the cat sat\n")
    (tmp_path / "business.txt").write_text("buy shares\n")
    (tmp_path / "odd=name.txt").write_text("the\n")
    vocabs = vocabulary.load_vocabularies(
        [
            f"business={tmp_path / 'business.txt'}",
            str(tmp_path / "odd=name.txt"),
            f"general={tmp_path / 'general.txt'}",
        ]
    )
    assert vocabs.default is not None and vocabs.default.words == frozenset(
        {"the"}
    )  # a file with '=' is a path
    assert set(vocabs.by_testset) == {"general", "business"} and "general: " in (vocabs.describe() or "")
    acc = errors.error_tables(utts, vocabulary=vocabs).word_accuracy.set_index(["testset", "word"])["oov"]
    assert acc[("general", "buy")] and not acc[("general", "cat")]
    assert acc[("business", "cat")] and not acc[("business", "buy")]
    with pytest.raises(ConfigError, match="--vocab"):
        vocabulary.load_vocabularies(["=x.txt"])
    with pytest.raises(ManifestError, match="vocabulary file not found"):
        vocabulary.load_vocabularies(["general=nowhere.txt"])


def test_word_accuracy_side_by_side(make_utts) -> None:
    utts = make_utts(
        {"u1": "a b a", "u2": "b c"}, {"x": {"u1": "a b a", "u2": "b d"}, "y": {"u1": "a a", "u2": "c"}}
    )
    accuracy = errors.error_tables(utts).word_accuracy
    side = errors.word_accuracy_side_by_side(accuracy, ["y", "x"]).set_index("word")
    assert list(side.index) == ["a", "b", "c"]  # most frequent first, then by word
    assert side["count"].tolist() == [2, 2, 1]
    assert side["accuracy_1"].tolist() == [1.0, 1.0, 0.0] and side["errors_1"].tolist() == [0, 0, 1]
    assert side["accuracy_0"].tolist() == [1.0, 0.0, 1.0] and side["errors_0"].tolist() == [0, 2, 0]


def test_every_utterance_failed_gives_empty_tables_with_their_columns(tmp_path, make_results):
    """Found by the hostile-input corpus: the Dataset/Compare pages and the HTML report broke on a results
    directory whose every utterance failed (error tables without columns)."""
    from werbench.analysis.errors import error_tables
    from werbench.analysis.report_data import build_report
    from werbench.analysis.report_html import render_html
    from werbench.analysis.table_cache import results_tables
    from werbench.manifests.schema import Utterance

    utts = [Utterance(str(tmp_path / f"u{i}.wav"), 1.0, "a b", utt_id=f"u{i}") for i in range(3)]
    failed = {u.utt_id: {"pred_text": "", "error": "boom"} for u in utts}
    tables = results_tables(
        make_results(tmp_path / "r", "ts", utts, {"a@x": failed, "b@x": failed}), use_cache=False
    )
    accuracy = error_tables(tables.utterances).word_accuracy
    assert accuracy.empty and {"testset", "system", "word", "count", "accuracy"} <= set(accuracy.columns)
    assert "<html" in render_html(build_report(tables)).lower()
