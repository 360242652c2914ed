from __future__ import annotations

import pytest
from werbench.manifests.errors import ManifestError
from werbench.manifests.trn import read_trn, write_trn


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
