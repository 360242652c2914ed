from __future__ import annotations

import unicodedata
from importlib import metadata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werbench.manifests import code_version, normalize
from werbench.manifests.errors import ConfigError
from werbench.manifests.normalize import NORMALIZERS, default_normalizer, get_normalizer, split_words
from werbench.manifests.wsj_markup import clean_wsj_transcript


def test_every_normaliser_has_a_stable_spec_and_handles_empty_text():
    names = [n.name for n in NORMALIZERS]
    assert names[:6] == ["none", "sclite", "nemo", "librispeech", "wsj", "wsj-novp"] and "whisper" in names
    for normalizer in NORMALIZERS:
        stamp = f"+{normalizer.stamp}" if normalizer.stamp else ""
        assert normalizer.spec == f"{normalizer.name}@{normalizer.version}{stamp}"
        assert get_normalizer(normalizer.spec) is normalizer
        assert normalizer("") == ""
        assert normalizer("   \t ") in ("", "   \t ")


def test_get_normalizer_rejects_unknown_names_and_versions():
    with pytest.raises(ConfigError, match="unknown normaliser 'nemoo'"):
        get_normalizer("nemoo")
    with pytest.raises(ConfigError, match="version 7"):
        get_normalizer("nemo@7")


def test_a_wrapped_package_version_is_part_of_the_spec(monkeypatch):
    """whisper wraps the unpinned whisper-normalizer: its installed version is in the spec and the caches."""
    installed = get_normalizer("whisper")
    assert installed.spec == f"whisper@1+whisper-normalizer-{metadata.version('whisper-normalizer')}"
    assert get_normalizer("whisper@1") is installed  # recorded before stamps existed: the installed one
    assert get_normalizer(installed.spec) is installed
    with pytest.raises(
        ConfigError, match=r"asks for version 1\+whisper-normalizer-0\.0\.1, this werbench has"
    ):
        get_normalizer("whisper@1+whisper-normalizer-0.0.1")
    monkeypatch.setattr(code_version.metadata, "version", lambda dist: "99.0")
    upgraded = normalize.whisper_normalizer()
    assert upgraded.spec == "whisper@1+whisper-normalizer-99.0" != installed.spec


def test_none_changes_nothing():
    text = "  Mr. O'Brien [door_slam] 42  "
    assert get_normalizer("none")(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello, World!", "hello world"),
        ("Don't STOP - it's twenty-one o'clock.", "don't stop it's twenty one o'clock"),
        ("'Quoted' words and the students' books", "quoted words and the students books"),
        ("It\u2019s curly", "it's curly"),
        ("Paid $5.50 (50%) on 3/4", "paid 5 50 50 on 3 4"),
        ("Café Straße ÉCOLE", "café straße école"),
        ("cafe\u0301 composed", "café composed"),
        ("東京タワー、すごい", "東京タワー すごい"),
        ("snake_case\tand\nnewlines", "snake case and newlines"),
        ("[noise] <unk>", "noise unk"),
    ],
)
def test_nemo_keeps_letters_digits_and_inner_apostrophes(text, expected):
    out = get_normalizer("nemo")(text)
    assert out == expected
    assert out == unicodedata.normalize("NFC", out)


def test_librispeech_only_folds_case_and_spaces():
    assert get_normalizer("librispeech")('  HE SAID,  "HI"\tTO ZOË ') == 'he said, "hi" to zoë'
    assert get_normalizer("librispeech")("STRASSE Straße") == "strasse strasse"


def test_whisper_uses_the_english_normaliser():
    whisper = get_normalizer("whisper")
    assert (
        whisper("Mr. Smith paid twenty-one dollars, uh, for the colour TV.")
        == "mister smith paid $21 for the color tv"
    )
    assert whisper("Café") == "cafe"


@pytest.mark.parametrize(
    ("raw", "words", "drop"),
    [
        ("[loud_breath] hello [<door_slam] world [door_slam>]", "hello world", "hello world"),
        ("[phone_ring/] one two [/phone_ring]", "one two", "one two"),
        ("<NOISE> yes <spoken_noise> <s> </s>", "yes", "yes"),
        ("I <meant> said", "I meant said", "I meant said"),
        ("I\\. B\\. M\\. isn\\'t here", "I. B. M. isn't here", "I. B. M. isn't here"),
        (
            'stop ,COMMA go .PERIOD "DOUBLE-QUOTE hi \\.period',
            "stop COMMA go PERIOD DOUBLE-QUOTE hi period",
            "stop go hi",
        ),
        (
            "(LEFT-PAREN aside )RIGHT-PAREN --DASH -HYPHEN",
            "LEFT-PAREN aside RIGHT-PAREN DASH HYPHEN",
            "aside",
        ),
        ("ten %PERCENT three .POINT five", "ten PERCENT three POINT five", "ten PERCENT three POINT five"),
        ("a *mispronounced* wo:rd so:", "a mispronounced word so", "a mispronounced word so"),
        ("cut off ~ . here", "cut off here", "cut off here"),
        ("the th- -tion twenty-one", "the twenty-one", "the twenty-one"),
        ("'em 'til rock", "'em 'til rock", "'em 'til rock"),
        ("", "", ""),
    ],
)
def test_wsj_markup_rules(raw, words, drop):
    assert clean_wsj_transcript(raw, "words") == words
    assert clean_wsj_transcript(raw, "drop") == drop


def test_wsj_normalisers_clean_then_apply_nemo_rules():
    raw = "[loud_breath] The *DOW* rose ,COMMA s:o I\\. B\\. M\\. said th- <NOISE>"
    assert get_normalizer("wsj")(raw) == "the dow rose comma so i b m said"
    assert get_normalizer("wsj-novp")(raw) == "the dow rose so i b m said"
    with pytest.raises(ValueError, match="verbalized_punctuation"):
        clean_wsj_transcript("x", "spoken")  # type: ignore[arg-type]


def test_text_modes_none_and_sclite_and_the_space_rule():
    sclite, none = get_normalizer("sclite"), get_normalizer("none")
    assert none("The  Dollar\tfell*") == "The  Dollar\tfell*"  # truly none
    # sclite: ASCII letters only, one trailing * of a longer word, words on ASCII whitespace (not U+00A0)
    assert sclite("The  Dollar\tFELL** É b\u00a0C * @") == "the dollar fell* É b\u00a0c * @"
    assert split_words("a\tb\u00a0c\u2003d \x0be\x0c") == ["a", "b\u00a0c\u2003d", "e"]
    assert get_normalizer("nemo")("a\u00a0b\u2003c") == "a b c"  # the other normalisers split on both
    assert get_normalizer("none@1") is sclite  # recorded before the text modes: scored with sclite's folding
    assert default_normalizer([]) == "none@2" and default_normalizer([], trn_reference=True) == "sclite@1"
    assert default_normalizer(["none@1", "sclite@1"]) == "sclite@1"
    assert default_normalizer(["nemo@1", "sclite@1"], trn_reference=True) == "none@2"
    with pytest.raises(ConfigError, match="version 2"):
        get_normalizer("sclite@2")


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet="aZé*\u00a0\u2003 \t\n\r\x0b\x0c", max_size=16))
def test_sclite_mode_works_word_by_word(text: str) -> None:
    """The sclite mode runs on whole strings, and on whole Arrow columns, for speed; its rule is per word:
    ASCII lower case, one trailing ``*`` dropped from a word longer than one character, words joined by one
    space (Unicode spaces stay inside words)."""
    words = [w.translate(str.maketrans("Z", "z")) for w in split_words(text)]
    expected = " ".join(w[:-1] if len(w) > 1 and w.endswith("*") else w for w in words)
    sclite = get_normalizer("sclite")
    assert sclite(text) == expected
    assert sclite.many([text, "A*", text]) == [expected, "a", expected]
