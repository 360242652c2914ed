from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werbench.manifests.errors import ManifestError
from werbench.manifests.trn import ID_BREAKS, iter_trn, read_trn, write_trn


def test_id_is_the_text_inside_the_final_parentheses(tmp_path):
    path = tmp_path / "ref.trn"
    path.write_bytes(
        b"(laughs) yes  (well) indeed (spk1-utt1)\r\n\n;; a comment line\nno (spk1-utt2)\n"
        b"\xc3\xa9t\xc3\xa9 (spk2-utt1)\n (spk2-utt2)\n"
    )
    assert read_trn(path) == [
        ("spk1-utt1", "(laughs) yes (well) indeed"),
        ("spk1-utt2", "no"),
        ("spk2-utt1", "été"),
        ("spk2-utt2", ""),
    ]


def test_round_trip(tmp_path):
    pairs = [("a_1", "hello world"), ("b-2", "ça va"), ("c", "")]
    assert write_trn(tmp_path / "x.trn", pairs) == 3
    assert read_trn(tmp_path / "x.trn") == pairs
    assert (tmp_path / "x.trn").read_text().splitlines()[0] == "hello world (a_1)"


@pytest.mark.parametrize(
    ("content", "line", "message"),
    [
        (b"ok (u1)\nno id here\n", 2, "expected 'text (utt_id)'"),
        (b"ok (u1)\nempty id ()\n", 2, "bad utterance id"),
        (b"ok (u1)\nagain (u1)\n", 2, "duplicate utterance id 'u1' (first on line 1)"),
        (b"ok (u1)\n\xff\xfe bad (u2)\n", 2, "not UTF-8"),
    ],
)
def test_errors_name_file_line_and_field(tmp_path, content, line, message):
    path = tmp_path / "bad.trn"
    path.write_bytes(content)
    with pytest.raises(ManifestError) as caught:
        read_trn(path)
    assert caught.value.line == line
    assert str(caught.value).startswith(f"{path}:{line}: ")
    assert message in str(caught.value)


def test_write_refuses_ids_that_would_not_read_back(tmp_path):
    with pytest.raises(ManifestError, match="cannot be written"):
        write_trn(tmp_path / "x.trn", [("has space", "text")])
    assert not (tmp_path / "x.trn").exists()
    with pytest.raises(ManifestError, match="trn file not found"):
        read_trn(tmp_path / "missing.trn")


def test_id_breaks_are_pythons_white_space_and_parentheses():
    # the columnar writer checks ids with this list: it must be what str.isspace knows
    assert set(ID_BREAKS) == {chr(c) for c in range(0x110000) if chr(c).isspace()} | set("()")


_PIECES = ["a", "bc", "é", " ", "  ", "\t", "\r", "(", ")", "(u1)", "(u2)", " (x-1)", ";;", "{", "}", "/",
           "\v", "\xa0", "\u2028", "\ufeff", "\n", "\n\n", "\xff"]  # fmt: skip


def _line_reader(path):
    """What the line reader alone gives (or raises): the meaning the columnar reader must keep."""
    try:
        return [(uid, text) for _, uid, text in iter_trn(path)]
    except ManifestError as exc:
        return ("error", exc.line, exc.field)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.lists(st.sampled_from(_PIECES), max_size=8), max_size=6))
def test_columnar_reader_reads_what_the_line_reader_reads(tmp_path_factory, lines):
    path = tmp_path_factory.mktemp("trn") / "f.trn"
    path.write_bytes("\n".join("".join(line) for line in lines).encode("utf-8", "surrogateescape"))
    if b"\xc3\xbf" in path.read_bytes():  # the "\xff" piece: a byte that is not UTF-8
        path.write_bytes(path.read_bytes().replace(b"\xc3\xbf", b"\xff"))
    try:
        got = read_trn(path)
    except ManifestError as exc:
        got = ("error", exc.line, exc.field)
    assert got == _line_reader(path)


def test_trn_words_split_on_ascii_whitespace_only(tmp_path):
    # as sclite reads a trn line: tabs separate words, a non-breaking space does not (and is written back)
    path = tmp_path / "ref.trn"
    path.write_text("a\tb\u00a0c   d\u2003e (u1)\t\n", encoding="utf-8")
    assert read_trn(path) == [("u1", "a b\u00a0c d\u2003e")]
    write_trn(path, [("u1", "x\ty\u00a0z")])
    assert path.read_text(encoding="utf-8") == "x y\u00a0z (u1)\n"


def test_a_nul_byte_is_refused_with_its_line(tmp_path):
    """Issue 17: a NUL byte (a binary file) was read as part of a word by the fast and the line reader."""
    from werbench.manifests.trn import trn_columns

    path = tmp_path / "bin.trn"
    path.write_bytes(b"the cat (a1)\nhel\x00lo world (a2)\n")
    for read in (lambda: list(iter_trn(path)), lambda: trn_columns(path)):
        with pytest.raises(ManifestError, match="NUL byte") as caught:
            read()
        assert caught.value.line == 2
