"""Hostile-input acceptance corpus (issue 17): every entry point fed bad and valid-but-unusual input.

Why: werbench promises that bad input gets exit status 1 (2 for usage errors) and one clear line naming the
file, the line (or key path) and the field, never a traceback or a signal; that valid but unusual input (CRLF,
BOM, empty optional fields, non-ASCII, long lines within the limits) is accepted; that a run in which every
utterance failed exits non-zero; and that nothing already written is replaced or half-written. This script
generates about 800 such cases deterministically, runs each as a ``werbench`` subprocess (``serve`` in a
child that builds the app in-process and renders every page through Flask's test client and the Dash
callback path) and classifies each outcome:

    clear error | error without location | traceback | silent success | crash | accepted | rejected valid
    | overwrite (an input or an existing file replaced, or an output left behind by a failure)
    | broken page (a dashboard view "could not be built") | wrong status (an error exit other than 1/2)

It prints the counts per class and per command, then every case that is neither a clear error nor accepted,
with its command line and the first lines of its output; it exits 1 when any case is one of those.

    .venv/bin/python scripts/hostile_corpus.py                 # everything: ~14 min on 2 busy cores
    .venv/bin/python scripts/hostile_corpus.py --only trn/     # the cases whose name contains "trn/"
    .venv/bin/python scripts/hostile_corpus.py --list          # the case names and expectations
    .venv/bin/python scripts/hostile_corpus.py --keep /tmp/hc  # keep the generated cases to look at
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WERBENCH = Path(sys.executable).parent / "werbench"
DEMO_MODEL = REPO / "demo" / "assets" / "models" / "base.nemo"
PROGRESS = re.compile(r"[\w .-]*:\s*[\d.]+%?\|?.*(it|utt|part|lines)/s\]?\s*")  # a tqdm bar's line
LIMIT_BYTES = 32 * 1024 * 1024  # the longest line werbench reads (README: Untrusted input)

FAILING = ("error without location", "traceback", "silent success", "crash", "rejected valid", "overwrite")
FAILING += ("broken page", "wrong status")


class Dir:
    """A file spec: make a directory here."""


@dataclass(frozen=True)
class Link:
    """A file spec: a symbolic link to ``target``."""

    target: str


Content = bytes | Callable[[], bytes] | Dir | Link


@dataclass(frozen=True)
class Case:
    """One generated input and the command that reads it.

    ``culprit``: text the error must name (a file's basename or an option), any one of them; ``where``: a
    regex the output must also match (the line number, key path or field); ``guard``: files whose bytes must
    not change; ``absent``: outputs that must not exist afterwards (nothing half-written).
    """

    name: str
    command: str
    argv: tuple[str, ...]
    files: dict[str, Content]
    expect: str  # "error" or "ok"
    culprit: tuple[str, ...] = ()
    where: str | None = None
    guard: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()
    codes: tuple[int, ...] = (1, 2)  # exit statuses a clear error may have (ok: the accepted ones)
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Outcome:
    case: Case
    verdict: str
    status: int | None
    output: str
    seconds: float


# ---------------------------------------------------------------------------------------------- contents


def jline(row: object) -> bytes:
    return json.dumps(row, ensure_ascii=False).encode()


def lines(*rows: bytes, end: bytes = b"\n") -> bytes:
    return b"".join(row + end for row in rows)


REF_ROWS = [
    {"audio_filepath": "a1.wav", "duration": 1.5, "text": "the cat sat", "speaker": "s1"},
    {"audio_filepath": "a2.wav", "duration": 2.0, "text": "hello world", "speaker": "s2"},
    {"audio_filepath": "a3.wav", "duration": 1.0, "text": "good morning", "speaker": "s1"},
]
HYP_TEXT = {"a1": "the cat sad", "a2": "hello word", "a3": "good morning"}
HYP_ROWS = [{**row, "pred_text": HYP_TEXT[f"a{i + 1}"]} for i, row in enumerate(REF_ROWS)]
REF_JSONL = lines(*map(jline, REF_ROWS))
REF_TRN = b"the cat sat (a1)\nhello world (a2)\ngood morning (a3)\n"
A_TRN = b"the cat sad (a1)\nhello word (a2)\ngood morning (a3)\n"
B_TRN = b"the cat sat (a1)\nhello world (a2)\ngood mourning (a3)\n"
KALDI = b"a1 the cat sad\na2 hello word\na3 good morning\n"


def wav(seconds: float) -> bytes:
    """A silent 16 kHz 16-bit mono WAV file."""
    data = b"\x00\x00" * int(16000 * seconds)
    fmt = struct.pack("<4sIHHIIHH", b"fmt ", 16, 1, 1, 16000, 32000, 2, 16)
    return (
        b"RIFF"
        + struct.pack("<I", 36 + len(data))
        + b"WAVE"
        + fmt
        + b"data"
        + struct.pack("<I", len(data))
        + data
    )


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def over_limit(prefix: bytes, suffix: bytes) -> Callable[[], bytes]:
    """A line longer than werbench's limit, built only when the case is written."""
    return lambda: prefix + b"x" * (LIMIT_BYTES + 1024) + suffix


def with_line2(rows: list[dict], raw: bytes) -> bytes:
    return lines(jline(rows[0]), raw, jline(rows[2]))


def row2(rows: list[dict], **changes: object) -> dict:
    out = {**rows[1], **changes}
    return {k: v for k, v in out.items() if v is not DROP}


DROP = object()


def swap(**changes: object) -> Callable[[list[dict]], bytes]:
    return lambda rows: with_line2(rows, jline(row2(rows, **changes)))


def raw2(make: Callable[[dict], bytes]) -> Callable[[list[dict]], bytes]:
    return lambda rows: with_line2(rows, make(rows[1]))


def splice(key: str, raw: bytes) -> Callable[[dict], bytes]:
    """Line 2 with ``key``'s value replaced by raw JSON text (what json.dumps cannot write)."""

    def make(row: dict) -> bytes:
        return jline({**row, key: "@@"}).replace(b'"@@"', raw)

    return make


def whole(make: Callable[[list[dict]], bytes]) -> Callable[[list[dict]], bytes]:
    return make


# name -> (content from the good rows, readers it applies to: "syntax" = every reader, "schema" = references)
ManifestVariant = tuple[str, Callable[[list[dict]], bytes] | Content, str]
MANIFEST_ERRORS: list[ManifestVariant] = [
    ("surrogate", raw2(lambda r: jline(r).replace(b'"text": "', b'"text": "\\ud800 ')), "syntax"),
    ("surrogate-pair-half", raw2(lambda r: jline(r).replace(b'"text": "', b'"text": "\\udc00x')), "syntax"),
    ("deep-nesting", raw2(lambda r: jline(r)[:-1] + b', "meta": ' + nested(10000) + b"}"), "syntax"),
    ("number-1e999", raw2(splice("duration", b"1e999")), "schema"),
    ("number-nan", raw2(splice("duration", b"NaN")), "schema"),
    ("number-infinity", raw2(splice("duration", b"-Infinity")), "schema"),
    ("int-5000-digits", raw2(splice("duration", b"1" * 5000)), "syntax"),
    ("nul-byte", raw2(lambda r: jline(r).replace(b"hello", b"hel\x00lo")), "syntax"),
    ("latin1-bytes", raw2(lambda r: jline(r).replace(b"hello", b"h\xe9llo")), "syntax"),
    (
        "truncated-last-line",
        whole(lambda rows: lines(jline(rows[0]), jline(rows[1])) + b'{"audio_fil'),
        "syntax",
    ),
    ("not-json", raw2(lambda r: b"hello world"), "syntax"),
    ("array-line", raw2(lambda r: b"[1, 2, 3]"), "syntax"),
    ("string-line", raw2(lambda r: b'"just a string"'), "syntax"),
    ("empty-file", b"", "syntax"),
    ("only-blank-lines", b"\n\n\n", "syntax"),
    ("duplicate-id", raw2(lambda r: b""), "unique"),  # replaced below: line 2 = line 1
    ("line-over-limit", b"", "syntax"),  # replaced below: built lazily
    ("directory", Dir(), "syntax"),
    ("symlink-loop", Link("the-file"), "syntax"),
    ("missing-file", b"", "syntax"),  # not written
    ("duration-negative", swap(duration=-2.0), "schema"),
    ("duration-string", swap(duration="two"), "schema"),
    ("duration-bool", swap(duration=True), "schema"),
    ("text-missing", swap(text=DROP), "schema"),
    ("text-number", swap(text=42), "schema"),
    ("text-null", swap(text=None), "schema"),
    ("text-object", swap(text={"a": 1}), "schema"),
    ("audio-path-list", swap(audio_filepath=[1]), "schema"),
    ("audio-path-missing", swap(audio_filepath=DROP), "schema"),
    ("alternation-unbalanced", swap(text="{ hello / hallo world"), "alternation"),
]
MANIFEST_OK: list[ManifestVariant] = [
    ("bom-crlf", whole(lambda rows: b"\xef\xbb\xbf" + lines(*map(jline, rows), end=b"\r\n")), "ok"),
    ("non-ascii", swap(text="naïve café 東京 straße"), "ok"),
    ("empty-optional-fields", swap(speaker="", lang=None, notes=[]), "ok"),
    ("long-line-within-limit", swap(notes="y" * (2 * 1024 * 1024)), "ok"),
    (
        "blank-line-between",
        whole(lambda rows: lines(jline(rows[0]), b"", jline(rows[1]), jline(rows[2]))),
        "ok",
    ),
    ("escaped-unicode", raw2(lambda r: jline(r).replace(b"hello", b"h\\u00e9llo")), "ok"),
    ("alternation-valid", swap(text="{ hello / hallo } world"), "alternation-ok"),
]


def manifest_content(variant: ManifestVariant, rows: list[dict], basename: str) -> Content:
    name, make, _ = variant
    if name == "duplicate-id":
        return lines(jline(rows[0]), jline(rows[0]), jline(rows[2]))
    if name == "line-over-limit":
        return over_limit(jline(rows[0])[:-2] + b', "notes": "', b'"}\n')
    if name == "symlink-loop":
        return Link(basename)
    if callable(make):
        return make(rows)
    return make


# ---------------------------------------------------------------------------------------------- case tables

LINE = r":\d+"
LINE_OR_AT = r":\d+|line \d+"  # a whole-file JSON error may say "line 1 column 2" instead
RESULTS_ENV = {"MLFLOW_ALLOW_FILE_STORE": "true"}


def located(basename: str) -> str:
    """file:line (or file, then a field/key after it)."""
    return rf"{re.escape(basename)}(:\d+|: [\w.\[\]-]+:)"


@dataclass(frozen=True)
class Reader:
    """A command that reads one input file: ``argv`` with ``{F}`` where the file goes."""

    command: str
    argv: tuple[str, ...]
    filename: str
    kinds: tuple[str, ...]  # which variants apply
    hyp: bool = False  # reads hypotheses (pred_text rows)
    files: dict[str, Content] = field(default_factory=dict)
    absent: tuple[str, ...] = ()


BASE_FILES: dict[str, Content] = {"ref.jsonl": REF_JSONL, "ref.trn": REF_TRN, "a.trn": A_TRN, "b.trn": B_TRN}
IMPORT = ("-r", "R", "--name", "x@imported")
SCHEMA_READERS = ("syntax", "schema", "unique", "ok")  # "unique": duplicate ids

MANIFEST_READERS = [
    Reader("manifest validate", ("manifest", "validate", "{F}", "--no-audio"), "m.jsonl", SCHEMA_READERS),
    Reader("manifest stats", ("manifest", "stats", "{F}"), "m.jsonl", ("syntax", "schema", "ok")),  # warns
    Reader(
        "manifest to-trn",
        ("manifest", "to-trn", "{F}", "-o", "out.trn"),
        "m.jsonl",
        SCHEMA_READERS,
        absent=("out.trn",),
    ),
    Reader("score", ("score", "{F}", "a.trn", "--no-cache"), "m.jsonl", (*SCHEMA_READERS, "alternation")),
    Reader(
        "score", ("score", "ref.jsonl", "{F}", "--no-cache"), "h.jsonl", ("syntax", "unique", "ok"), hyp=True
    ),
    Reader(
        "compare",
        ("compare", "{F}", "a.trn", "b.trn", "--resamples", "100", "--no-cache"),
        "m.jsonl",
        (*SCHEMA_READERS, "alternation"),
    ),
    Reader(
        "import-hyps",
        ("import-hyps", "k.txt", "--manifest", "{F}", "--format", "kaldi", *IMPORT),
        "m.jsonl",
        SCHEMA_READERS,
        files={"k.txt": KALDI},
        absent=("R",),
    ),
    Reader("serve", ("@serve", "{F}"), "m.jsonl", SCHEMA_READERS),
    Reader(
        "lm build",
        ("lm", "build", "{F}", "-o", "lm.arpa", "--order", "2"),
        "m.jsonl",
        ("syntax",),
        absent=("lm.arpa",),
    ),
    Reader(
        "decode",
        (
            "decode",
            "--model",
            str(DEMO_MODEL),
            "--manifest",
            "{F}",
            "-r",
            "R",
            "--no-progress",
            "--no-cache",
            "--device",
            "cpu",
        ),
        "m.jsonl",
        ("syntax", "schema"),
        absent=("R",),
    ),
]


def manifest_cases() -> Iterator[Case]:
    for reader in MANIFEST_READERS:
        rows = HYP_ROWS if reader.hyp else REF_ROWS
        for variant in MANIFEST_ERRORS + MANIFEST_OK:
            name, _, kind = variant
            if kind.removesuffix("-ok") not in reader.kinds and kind not in reader.kinds:
                continue
            ok = kind in ("ok", "alternation-ok")
            files = {**BASE_FILES, **reader.files}
            if name != "missing-file":
                files[reader.filename] = manifest_content(variant, rows, reader.filename)
            yield reader_case(reader, f"manifest/{name}", files, ok)


def reader_case(reader: Reader, name: str, files: dict[str, Content], ok: bool) -> Case:
    argv = tuple(a.replace("{F}", reader.filename) for a in reader.argv)
    slug = reader.command.replace(" ", "-") + ("-hyp" if reader.hyp else "")
    return Case(
        name=f"{name}/{slug}",
        command=reader.command,
        argv=argv,
        files=files,
        expect="ok" if ok else "error",
        culprit=(reader.filename,),
        where=None
        if name.endswith(("empty-file", "only-blank-lines", "directory", "symlink-loop", "missing-file"))
        else located(reader.filename),
        absent=() if ok else reader.absent,
    )


TRN_ERRORS: list[tuple[str, Content, str]] = [
    ("missing-id-parens", b"the cat sat (a1)\nhello world\ngood morning (a3)\n", "syntax"),
    ("unclosed-id-paren", b"the cat sat (a1)\nhello world (a2\ngood morning (a3)\n", "syntax"),
    ("empty-id", b"the cat sat (a1)\nhello world ()\ngood morning (a3)\n", "syntax"),
    ("duplicate-id", b"the cat sat (a1)\nhello world (a1)\ngood morning (a3)\n", "syntax"),
    ("non-utf8", b"the cat sat (a1)\nh\xe9llo world (a2)\ngood morning (a3)\n", "syntax"),
    ("nul-byte", b"the cat sat (a1)\nhel\x00lo world (a2)\ngood morning (a3)\n", "syntax"),
    ("empty-file", b"", "syntax"),
    ("line-over-limit", over_limit(b"the cat sat (a1)\n", b" (a2)\n"), "syntax"),
    ("directory", Dir(), "syntax"),
    ("missing-file", b"", "syntax"),
    ("unbalanced-alternation", b"the cat sat (a1)\n{ hello / hallo world (a2)\ngood morning (a3)\n", "ref"),
    ("alternation-one-option", b"the cat sat (a1)\n{ hello } world (a2)\ngood morning (a3)\n", "ref-ok"),
    ("stray-close-brace", b"the cat sat (a1)\nhello } world (a2)\ngood morning (a3)\n", "ref"),
]
TRN_OK: list[tuple[str, Content, str]] = [
    ("bom-crlf", b"\xef\xbb\xbfthe cat sat (a1)\r\nhello world (a2)\r\ngood morning (a3)\r\n", "ok"),
    ("non-ascii", b"the cat sat (a1)\nna\xc3\xafve caf\xc3\xa9 (a2)\ngood morning (a3)\n", "ok"),
    ("empty-text", b"the cat sat (a1)\n(a2)\ngood morning (a3)\n", "ok"),
    ("alternation-valid", b"the cat sat (a1)\n{ hello / hallo } world (a2)\ngood morning (a3)\n", "ref-ok"),
    ("trailing-spaces", b"the cat sat (a1)  \nhello  world\t(a2)\ngood morning (a3)\n", "ok"),
]
TRN_READERS = [
    Reader("score", ("score", "{F}", "a.trn", "--no-cache"), "r.trn", ("syntax", "ref", "ok")),
    Reader("score", ("score", "ref.trn", "{F}", "--no-cache"), "h.trn", ("syntax", "ok"), hyp=True),
    Reader(
        "compare",
        ("compare", "{F}", "a.trn", "b.trn", "--resamples", "100", "--no-cache"),
        "r.trn",
        ("syntax", "ref", "ok"),
    ),
    Reader(
        "compare",
        ("compare", "ref.trn", "{F}", "b.trn", "--resamples", "100", "--no-cache"),
        "h.trn",
        ("syntax", "ok"),
        hyp=True,
    ),
    Reader(
        "import-hyps",
        ("import-hyps", "{F}", "--manifest", "ref.jsonl", "--format", "trn", *IMPORT),
        "h.trn",
        ("syntax", "ok"),
        hyp=True,
        absent=("R",),
    ),
    Reader(
        "manifest import",
        ("manifest", "import", "trn", "{F}", "-o", "out.jsonl"),
        "r.trn",
        ("syntax", "ok"),
        absent=("out.jsonl",),
    ),
]


def trn_cases() -> Iterator[Case]:
    for reader in TRN_READERS:
        for name, content, kind in TRN_ERRORS + TRN_OK:
            if kind.removesuffix("-ok") not in reader.kinds:
                continue
            files = {**BASE_FILES}
            if name != "missing-file":
                files[reader.filename] = content
            yield reader_case(reader, f"trn/{name}", files, kind.endswith("ok"))


# import-hyps: (format, filename, error/ok, content, where); the manifest is ref.jsonl
def whisper_dir(**texts: object) -> dict[str, Content]:
    return {f"w/{stem}.json": content for stem, content in texts.items()}


def wjson(text: object, **extra: object) -> bytes:
    return json.dumps({"text": text, "segments": [], "language": "en", **extra}).encode()


WHISPER_GOOD = {s: wjson(t) for s, t in HYP_TEXT.items()}
DS_LIST = [{"wav_filename": f"{s}.wav", "res": t} for s, t in HYP_TEXT.items()]


def ds_list(**change: object) -> bytes:
    rows = [dict(r) for r in DS_LIST]
    rows[1].update(change)
    return json.dumps(rows).encode()


def csv_rows(*rows: bytes, header: bytes = b"utt_id,pred_text") -> bytes:
    return lines(header, *rows)


def jsonl_hyps(line2: bytes) -> bytes:
    return lines(
        jline({"utt_id": "a1", "pred_text": "the cat sad"}), line2, jline({"utt_id": "a3", "pred_text": "x"})
    )


HypCase = tuple[str, str, str, dict[str, Content], bool]
HYP_CASES: list[HypCase] = [
    ("kaldi/nul", "kaldi", "k.txt", {"k.txt": b"a1 the cat\na2 hel\x00lo\na3 good\n"}, False),
    ("kaldi/latin1", "kaldi", "k.txt", {"k.txt": b"a1 the cat\na2 h\xe9llo\na3 good\n"}, False),
    ("kaldi/duplicate-id", "kaldi", "k.txt", {"k.txt": b"a1 the cat\na1 hello\na3 good\n"}, False),
    ("kaldi/no-id-matches", "kaldi", "k.txt", {"k.txt": b"z1 the cat\nz2 hello\nz3 good\n"}, False),
    ("kaldi/empty-file", "kaldi", "k.txt", {"k.txt": b""}, False),
    ("kaldi/line-over-limit", "kaldi", "k.txt", {"k.txt": over_limit(b"a1 the cat\na2 ", b"\n")}, False),
    ("kaldi/directory", "kaldi", "k.txt", {"k.txt": Dir()}, False),
    ("kaldi/bom-crlf", "kaldi", "k.txt", {"k.txt": b"\xef\xbb\xbf" + KALDI.replace(b"\n", b"\r\n")}, True),
    ("kaldi/id-only-line", "kaldi", "k.txt", {"k.txt": b"a1 the cat\na2\na3 good\n"}, True),
    ("kaldi/non-ascii", "kaldi", "k.txt", {"k.txt": "a1 the cat\na2 naïve café\na3 good\n".encode()}, True),
    (
        "csv/unterminated-quote",
        "csv",
        "h.csv",
        {"h.csv": csv_rows(b"a1,the cat", b'a2,"hello world', b"a3,x")},
        False,
    ),
    ("csv/no-text-column", "csv", "h.csv", {"h.csv": csv_rows(b"a1,x", header=b"utt_id,colour")}, False),
    ("csv/no-id-column", "csv", "h.csv", {"h.csv": csv_rows(b"x,y", header=b"foo,pred_text")}, False),
    ("csv/nul", "csv", "h.csv", {"h.csv": csv_rows(b"a1,the cat", b"a2,hel\x00lo", b"a3,x")}, False),
    ("csv/latin1", "csv", "h.csv", {"h.csv": csv_rows(b"a1,the cat", b"a2,h\xe9llo", b"a3,x")}, False),
    ("csv/duplicate-id", "csv", "h.csv", {"h.csv": csv_rows(b"a1,the cat", b"a1,hello", b"a3,x")}, False),
    ("csv/no-id-matches", "csv", "h.csv", {"h.csv": csv_rows(b"z1,the cat", b"z2,hello", b"z3,x")}, False),
    ("csv/empty-file", "csv", "h.csv", {"h.csv": b""}, False),
    ("csv/header-only", "csv", "h.csv", {"h.csv": csv_rows()}, False),
    (
        "csv/bom-crlf",
        "csv",
        "h.csv",
        {"h.csv": b"\xef\xbb\xbfutt_id,pred_text\r\na1,the cat\r\na2,hi\r\na3,x\r\n"},
        True,
    ),
    (
        "csv/quoted-comma",
        "csv",
        "h.csv",
        {"h.csv": csv_rows(b'a1,"the, cat"', b'a2,"say ""hi"""', b"a3,")},
        True,
    ),
    (
        "jsonl/pred-text-number",
        "jsonl",
        "h.jsonl",
        {"h.jsonl": jsonl_hyps(b'{"utt_id": "a2", "pred_text": 5}')},
        False,
    ),
    ("jsonl/array-line", "jsonl", "h.jsonl", {"h.jsonl": jsonl_hyps(b"[]")}, False),
    ("jsonl/truncated", "jsonl", "h.jsonl", {"h.jsonl": jsonl_hyps(b'{"utt_id": "a2", "pred_')}, False),
    (
        "jsonl/surrogate",
        "jsonl",
        "h.jsonl",
        {"h.jsonl": jsonl_hyps(b'{"utt_id": "a2", "pred_text": "\\ud800"}')},
        False,
    ),
    (
        "jsonl/deep-nesting",
        "jsonl",
        "h.jsonl",
        {"h.jsonl": jsonl_hyps(b'{"utt_id": "a2", "x": ' + nested(10000) + b"}")},
        False,
    ),
    (
        "jsonl/duplicate-id",
        "jsonl",
        "h.jsonl",
        {"h.jsonl": jsonl_hyps(b'{"utt_id": "a1", "pred_text": "y"}')},
        False,
    ),
    (
        "jsonl/id-number",
        "jsonl",
        "h.jsonl",
        {"h.jsonl": jsonl_hyps(b'{"utt_id": 7, "pred_text": "y"}')},
        True,  # numeric ids are ids (matched as text)
    ),
    (
        "jsonl/nbest-string",
        "jsonl",
        "h.jsonl",
        {"h.jsonl": jsonl_hyps(b'{"utt_id": "a2", "pred_text": "y", "nbest": "no"}')},
        False,
    ),
    (
        "jsonl/no-id-matches",
        "jsonl",
        "h.jsonl",
        {"h.jsonl": lines(b'{"utt_id": "z1", "pred_text": "y"}')},
        False,
    ),
    (
        "jsonl/bom-crlf",
        "jsonl",
        "h.jsonl",
        {
            "h.jsonl": b"\xef\xbb\xbf"
            + jsonl_hyps(b'{"utt_id": "a2", "pred_text": "y"}').replace(b"\n", b"\r\n")
        },
        True,
    ),
    ("whisper/text-number", "whisper", "w", {**whisper_dir(**WHISPER_GOOD), "w/a2.json": wjson(5)}, False),
    (
        "whisper/segments-object",
        "whisper",
        "w",
        {**whisper_dir(**WHISPER_GOOD), "w/a2.json": wjson("x", segments={})},
        False,
    ),
    (
        "whisper/word-start-string",
        "whisper",
        "w",
        {
            **whisper_dir(**WHISPER_GOOD),
            "w/a2.json": wjson("x", segments=[{"words": [{"start": "0", "end": 1}]}]),
        },
        False,
    ),
    ("whisper/top-level-list", "whisper", "w", {**whisper_dir(**WHISPER_GOOD), "w/a2.json": b"[]"}, False),
    ("whisper/not-json", "whisper", "w", {**whisper_dir(**WHISPER_GOOD), "w/a2.json": b"{text"}, False),
    ("whisper/empty-file", "whisper", "w", {**whisper_dir(**WHISPER_GOOD), "w/a2.json": b""}, False),
    (
        "whisper/latin1",
        "whisper",
        "w",
        {**whisper_dir(**WHISPER_GOOD), "w/a2.json": b'{"text": "h\xe9"}'},
        False,
    ),
    ("whisper/no-id-matches", "whisper", "w", whisper_dir(z1=wjson("x"), z2=wjson("y")), False),
    ("whisper/empty-folder", "whisper", "w", {"w": Dir()}, False),
    (
        "whisper/non-ascii",
        "whisper",
        "w",
        {**whisper_dir(**WHISPER_GOOD), "w/a2.json": wjson("naïve 東京")},
        True,
    ),
    ("deepspeech/res-number", "deepspeech", "d.json", {"d.json": ds_list(res=3)}, False),
    (
        "deepspeech/item-not-object",
        "deepspeech",
        "d.json",
        {"d.json": json.dumps([DS_LIST[0], 5]).encode()},
        False,
    ),
    ("deepspeech/no-wav-filename", "deepspeech", "d.json", {"d.json": ds_list(wav_filename=None)}, False),
    ("deepspeech/transcripts-empty", "deepspeech", "d.json", {"d.json": b'{"transcripts": []}'}, False),
    (
        "deepspeech/confidence-string",
        "deepspeech",
        "d.json",
        {"d.json": b'{"transcripts": [{"confidence": "high", "words": []}]}'},
        False,
    ),
    (
        "deepspeech/words-object",
        "deepspeech",
        "d.json",
        {"d.json": b'{"transcripts": [{"words": {}}]}'},
        False,
    ),
    ("deepspeech/duplicate-id", "deepspeech", "d.json", {"d.json": ds_list(wav_filename="a1.wav")}, False),
    (
        "deepspeech/no-id-matches",
        "deepspeech",
        "d.json",
        {"d.json": json.dumps([{"wav_filename": "z.wav", "res": "x"}]).encode()},
        False,
    ),
    ("deepspeech/ok", "deepspeech", "d.json", {"d.json": ds_list(res="naïve")}, True),
    ("auto/neither-format", "auto", "x.json", {"x.json": b'{"foo": 1}'}, False),
    ("auto/binary-garbage", "auto", "x.bin", {"x.bin": bytes(range(256)) * 4}, False),
]


def import_cases() -> Iterator[Case]:
    for name, fmt, source, files, ok in HYP_CASES:
        culprit = (source, "ref.jsonl") if "no-id-matches" in name else (source,)
        yield Case(
            name=f"import-hyps/{name}",
            command="import-hyps",
            argv=("import-hyps", source, "--manifest", "ref.jsonl", "--format", fmt, *IMPORT),
            files={**BASE_FILES, **files},
            expect="ok" if ok else "error",
            culprit=culprit,
            where=None
            if name.endswith(("empty-folder", "directory", "empty-file", "no-id-matches"))
            else LINE + "|: ",
            absent=() if ok else ("R/ref/x@imported/predictions.jsonl",),
        )


# ---------------------------------------------------------------------------------------------- results dirs

SYS_A, SYS_B = "sysA@imported", "sysB@imported"
PRED_A = f"R/ts/{SYS_A}/predictions.jsonl"
PRED_B = f"R/ts/{SYS_B}/predictions.jsonl"
RUN_B = f"R/ts/{SYS_B}/run.json"


def run_json(name: str, **changes: object) -> bytes:
    info: dict[str, object] = {
        "system": name,
        "testset": "ts",
        "model": {"path": "hyp.txt", "architecture": "imported:kaldi"},
        "decoder": {"type": "imported", "params": {"format": "kaldi"}},
        "lm": None,
        "rescorer": None,
        "normalizer": "nemo@1",
        "versions": {},
        "device": "cpu",
        "audio_seconds": 0.0,
        "am_seconds": 0.0,
        "decode_seconds": 0.0,
        "rtfx": None,
        "created": "2026-01-01T00:00:00+00:00",
        "notes": [],
        "extra": {"status": "complete", "utterances": 3},
    }
    info.update(changes)
    return json.dumps({k: v for k, v in info.items() if v is not DROP}, indent=2).encode()


def predictions(texts: dict[str, str]) -> list[dict]:
    return [{**row, "utt_id": f"a{i + 1}", "pred_text": texts[f"a{i + 1}"]} for i, row in enumerate(REF_ROWS)]


PRED_ROWS_B = predictions({"a1": "the cat sat", "a2": "hello world", "a3": "good mourning"})


def results(**overrides: Content) -> dict[str, Content]:
    files: dict[str, Content] = {
        "R/ts/manifest.jsonl": REF_JSONL,
        PRED_A: lines(*map(jline, predictions(HYP_TEXT))),
        f"R/ts/{SYS_A}/run.json": run_json(SYS_A),
        PRED_B: lines(*map(jline, PRED_ROWS_B)),
        RUN_B: run_json(SYS_B),
    }
    files.update(overrides)
    return {k: v for k, v in files.items() if v != b"<drop>"}


def pred_b(line2: bytes) -> bytes:
    return with_line2(PRED_ROWS_B, line2)


ALL_FAILED = lines(
    *(jline({**r, "utt_id": f"a{i + 1}", "error": "audio unreadable"}) for i, r in enumerate(REF_ROWS))
)
ResultsVariant = tuple[str, dict[str, Content], str, str | None, bool]
RESULTS_VARIANTS: list[ResultsVariant] = [
    ("run-json-not-json", results(**{RUN_B: b"{"}), "run.json", LINE_OR_AT, False),
    ("run-json-empty", results(**{RUN_B: b""}), "run.json", None, False),
    ("run-json-array", results(**{RUN_B: b"[]"}), "run.json", None, False),
    ("run-json-rtfx-string", results(**{RUN_B: run_json(SYS_B, rtfx="fast")}), "run.json", "rtfx", False),
    ("run-json-model-list", results(**{RUN_B: run_json(SYS_B, model=[])}), "run.json", "model", False),
    ("run-json-notes-string", results(**{RUN_B: run_json(SYS_B, notes="x")}), "run.json", "notes", False),
    (
        "run-json-system-missing",
        results(**{RUN_B: run_json(SYS_B, system=DROP)}),
        "run.json",
        "system",
        False,
    ),
    (
        "run-json-normalizer-bogus",
        results(**{RUN_B: run_json(SYS_B, normalizer="bogus@9")}),
        "run.json",
        "normali[sz]er",
        False,
    ),
    ("run-json-deep-nesting", results(**{RUN_B: b'{"x": ' + nested(10000) + b"}"}), "run.json", None, False),
    (
        "run-json-latin1",
        results(**{RUN_B: run_json(SYS_B, device="caf@").replace(b"@", b"\xe9")}),
        "run.json",
        None,
        False,
    ),
    (
        "predictions-truncated",
        results(**{PRED_B: lines(*map(jline, PRED_ROWS_B[:2])) + b'{"audio'}),
        "predictions.jsonl",
        LINE,
        False,
    ),
    ("predictions-not-json-line", results(**{PRED_B: pred_b(b"garbage")}), "predictions.jsonl", LINE, False),
    (
        "predictions-pred-text-number",
        results(**{PRED_B: pred_b(jline({**PRED_ROWS_B[1], "pred_text": 5}))}),
        "predictions.jsonl",
        LINE,
        False,
    ),
    (
        "predictions-nbest-string",
        results(**{PRED_B: pred_b(jline({**PRED_ROWS_B[1], "nbest": "x"}))}),
        "predictions.jsonl",
        LINE,
        False,
    ),
    (
        "predictions-word-times-bad",
        results(**{PRED_B: pred_b(jline({**PRED_ROWS_B[1], "word_times": [[1]]}))}),
        "predictions.jsonl",
        LINE,
        False,
    ),
    (
        "predictions-surrogate",
        results(**{PRED_B: pred_b(jline(PRED_ROWS_B[1]).replace(b"hello", b"\\ud800"))}),
        "predictions.jsonl",
        LINE,
        False,
    ),
    (
        "predictions-latin1",
        results(**{PRED_B: pred_b(jline(PRED_ROWS_B[1]).replace(b"hello", b"h\xe9"))}),
        "predictions.jsonl",
        LINE,
        False,
    ),
    (
        "predictions-nul",
        results(**{PRED_B: pred_b(jline(PRED_ROWS_B[1]).replace(b"hello", b"h\x00"))}),
        "predictions.jsonl",
        LINE,
        False,
    ),
    (
        "predictions-duplicate-id",
        results(**{PRED_B: pred_b(jline(PRED_ROWS_B[0]))}),
        "predictions.jsonl",
        LINE,
        False,
    ),
    (
        "predictions-unknown-id",  # warned about and ignored; the utterance it lacks counts as missing
        results(**{PRED_B: pred_b(jline({**PRED_ROWS_B[1], "utt_id": "zz", "audio_filepath": "zz.wav"}))}),
        "",
        None,
        True,
    ),
    ("predictions-directory", results(**{PRED_B: Dir()}), "predictions.jsonl", None, False),
    (
        "predictions-over-limit",
        results(**{PRED_B: over_limit(jline(PRED_ROWS_B[0]) + b"\n" + b'{"x": "', b'"}\n')}),
        "predictions.jsonl",
        LINE,
        False,
    ),
    ("testset-manifest-broken", results(**{"R/ts/manifest.jsonl": b"{\n"}), "manifest.jsonl", LINE, False),
    ("empty-results-dir", {"R": Dir()}, "R", None, False),
    ("results-is-a-file", {"R": b"not a folder"}, "R", None, False),  # compare reads R as a reference
    ("all-failed-system", results(**{PRED_B: ALL_FAILED}), "", None, True),
    (
        "bom-crlf-predictions",
        results(**{PRED_B: b"\xef\xbb\xbf" + lines(*map(jline, PRED_ROWS_B), end=b"\r\n")}),
        "",
        None,
        True,
    ),
    (
        "non-ascii-predictions",
        results(**{PRED_B: pred_b(jline({**PRED_ROWS_B[1], "pred_text": "naïve 東京"}))}),
        "",
        None,
        True,
    ),
    (
        "empty-hypothesis",
        results(**{PRED_B: pred_b(jline({**PRED_ROWS_B[1], "pred_text": ""}))}),
        "",
        None,
        True,
    ),
    ("run-json-extra-keys", results(**{RUN_B: run_json(SYS_B, future_field={"a": 1})}), "", None, True),
]
RESULTS_READERS: list[tuple[str, tuple[str, ...], tuple[str, ...], tuple[int, ...]]] = [
    ("score", ("score", "R", "--no-cache"), (), (1, 2)),
    (
        "report",
        ("report", "R", "--html", "out.html", "--resamples", "100", "--no-cache"),
        ("out.html",),
        (1, 2),
    ),
    ("compare", ("compare", "R", SYS_A, SYS_B, "--resamples", "100", "--no-cache"), (), (1, 2)),
    (
        "gate",
        ("gate", "R", "--baseline", SYS_A, "--candidate", SYS_B, "--resamples", "100"),
        ("werbench-gate.md", "werbench-gate.xml"),
        (2,),
    ),
    ("log", ("log", "R", "--mlflow", "mlruns", "--no-cache"), (), (1, 2)),
    ("serve", ("@serve", "R"), (), (1, 2)),
]


def results_cases() -> Iterator[Case]:
    for command, argv, outputs, codes in RESULTS_READERS:
        for name, files, culprit, where, ok in RESULTS_VARIANTS:
            if command == "log" and ok and name != "all-failed-system":
                continue  # MLflow is slow; one valid case is enough
            if command == "gate" and name == "predictions-unknown-id":
                continue  # gate refuses a candidate lacking utterances by design (exit 2, naming it)
            yield Case(
                name=f"results/{name}/{command}",
                command=command,
                argv=argv,
                files=files,
                expect="ok" if ok else "error",
                culprit=(culprit, SYS_A) if name == "results-is-a-file" else (culprit,),
                where=where,
                absent=() if ok else outputs,
                codes=(0, 1) if ok and command == "gate" else ((0,) if ok else codes),
                env=RESULTS_ENV,
            )


# ---------------------------------------------------------------------------------------------- options

Opt = tuple[str, str, tuple[str, ...], dict[str, Content], tuple[str, ...], str | None, tuple[str, ...]]
RES = results()
SCORE = ("score", "ref.jsonl", "a.trn", "--no-cache")
COMPARE = ("compare", "ref.jsonl", "a.trn", "b.trn", "--resamples", "100", "--no-cache")
REPORT = ("report", "R", "--resamples", "100", "--no-cache", "--csv", "out-csv")
GATE = ("gate", "R", "--candidate", SYS_B, "--resamples", "100")
TO_TRN = ("manifest", "to-trn", "ref.jsonl")
LM = ("lm", "build", "c.txt", "--order", "2")
CORPUS = {"c.txt": b"the cat sat\nhello world\ngood morning\n"}
EXPERIMENT_BASE = (
    "results: out\ntestsets:\n  - manifest: ref.jsonl\n"
    "models:\n  - path: {model}\ndecoders:\n  - type: greedy\n"
)
# name, command, argv, extra files, culprit, where, guarded files (must keep their bytes)
OPTION_CASES: list[Opt] = [
    (
        "score/json-is-a-directory",
        "score",
        (*SCORE, "--json", "outdir"),
        {"outdir": Dir()},
        ("outdir",),
        None,
        (),
    ),
    (
        "score/json-is-the-reference",
        "score",
        (*SCORE, "--json", "ref.jsonl"),
        {},
        ("ref.jsonl",),
        None,
        ("ref.jsonl",),
    ),
    ("score/json-is-a-hypothesis", "score", (*SCORE, "--json", "a.trn"), {}, ("a.trn",), None, ("a.trn",)),
    (
        "score/csv-is-a-directory",
        "score",
        (*SCORE, "--csv", "outdir"),
        {"outdir": Dir()},
        ("outdir",),
        None,
        (),
    ),
    (
        "score/csv-is-the-reference",
        "score",
        (*SCORE, "--csv", "ref.jsonl"),
        {},
        ("ref.jsonl",),
        None,
        ("ref.jsonl",),
    ),
    ("score/missing-bogus", "score", (*SCORE, "--missing", "bogus"), {}, ("--missing",), None, ()),
    ("score/cer-bogus", "score", (*SCORE, "--cer", "bogus"), {}, ("--cer",), None, ()),
    ("score/costs-bogus", "score", (*SCORE, "--costs", "bogus"), {}, ("--costs",), None, ()),
    (
        "score/normalize-bogus",
        "score",
        (*SCORE, "--normalize", "bogus"),
        {},
        ("--normalize", "bogus"),
        None,
        (),
    ),
    ("score/resamples-negative", "score", (*SCORE, "--resamples", "-5"), {}, ("--resamples",), None, ()),
    (
        "score/resamples-not-a-number",
        "score",
        (*SCORE, "--resamples", "many"),
        {},
        ("--resamples",),
        None,
        (),
    ),
    ("score/seed-negative", "score", (*SCORE, "--seed", "-1"), {}, ("--seed",), None, ()),
    (
        "score/speaker-regex-broken",
        "score",
        (*SCORE, "--speaker-from-id", "(["),
        {},
        ("--speaker-from-id",),
        None,
        (),
    ),
    ("score/no-hypotheses", "score", ("score", "ref.jsonl", "--no-cache"), {}, ("ref.jsonl",), None, ()),
    (
        "score/results-dir-plus-hyps",
        "score",
        ("score", "R", "a.trn", "--no-cache"),
        RES,
        ("R", "a.trn"),
        None,
        (),
    ),
    (
        "score/hyp-is-a-directory",
        "score",
        ("score", "ref.jsonl", "hd", "--no-cache"),
        {"hd": Dir()},
        ("hd",),
        None,
        (),
    ),
    ("score/url-reference", "score", ("score", "s3://bucket/ref.jsonl", "a.trn"), {}, ("s3://",), None, ()),
    (
        "compare/json-is-a-directory",
        "compare",
        (*COMPARE, "--json", "outdir"),
        {"outdir": Dir()},
        ("outdir",),
        None,
        (),
    ),
    ("compare/json-is-an-input", "compare", (*COMPARE, "--json", "b.trn"), {}, ("b.trn",), None, ("b.trn",)),
    ("compare/flavour-bogus", "compare", (*COMPARE, "--flavour", "bogus"), {}, ("--flavour",), None, ()),
    ("compare/missing-bogus", "compare", (*COMPARE, "--missing", "bogus"), {}, ("--missing",), None, ()),
    ("compare/costs-bogus", "compare", (*COMPARE, "--costs", "bogus"), {}, ("--costs",), None, ()),
    (
        "compare/resamples-below-100",
        "compare",
        (*COMPARE[:-3], "--resamples", "5"),
        {},
        ("--resamples",),
        None,
        (),
    ),
    (
        "compare/same-file-twice",
        "compare",
        ("compare", "ref.jsonl", "a.trn", "a.trn", "--resamples", "100"),
        {},
        ("a.trn",),
        None,
        (),
    ),
    (
        "compare/one-system-results",
        "compare",
        ("compare", "R", SYS_A, "nope@x", "--resamples", "100"),
        results(**{PRED_B: b"<drop>", RUN_B: b"<drop>"}),
        ("nope@x",),
        None,
        (),
    ),
    (
        "compare/testset-unknown",
        "compare",
        ("compare", "R", SYS_A, SYS_B, "--testset", "nope"),
        RES,
        ("nope",),
        None,
        (),
    ),
    (
        "report/html-is-a-directory",
        "report",
        (*REPORT, "--html", "outdir"),
        {**RES, "outdir": Dir()},
        ("outdir",),
        None,
        (),
    ),
    (
        "report/html-is-an-input",
        "report",
        (*REPORT, "--html", PRED_A),
        RES,
        ("predictions.jsonl",),
        None,
        (PRED_A,),
    ),
    (
        "report/csv-is-a-file",
        "report",
        (*REPORT, "--csv", "ref.jsonl"),
        RES,
        ("ref.jsonl",),
        None,
        ("ref.jsonl",),
    ),
    (
        "report/trn-is-a-file",
        "report",
        (*REPORT, "--trn", "ref.jsonl"),
        RES,
        ("ref.jsonl",),
        None,
        ("ref.jsonl",),
    ),
    ("report/pairs-no-colon", "report", (*REPORT, "--pairs", "bogus"), RES, ("--pairs", "bogus"), None, ()),
    ("report/pairs-unknown", "report", (*REPORT, "--pairs", "x@y:z@w"), RES, ("x@y", "--pairs"), None, ()),
    ("report/breakdown-unknown", "report", (*REPORT, "--breakdown", "nosuch"), RES, ("nosuch",), None, ()),
    ("report/vocab-missing", "report", (*REPORT, "--vocab", "nope.txt"), RES, ("nope.txt",), None, ()),
    (
        "report/vocab-latin1",
        "report",
        (*REPORT, "--vocab", "v.txt"),
        {**RES, "v.txt": b"caf\xe9\n"},
        ("v.txt",),
        LINE,
        (),
    ),
    (
        "report/vocab-testset-unknown",
        "report",
        (*REPORT, "--vocab", "nope=v.txt"),
        {**RES, "v.txt": b"a\n"},
        ("nope",),
        None,
        (),
    ),
    ("report/keywords-missing", "report", (*REPORT, "--keywords", "k.txt"), RES, ("k.txt",), None, ()),
    (
        "report/keywords-nul",
        "report",
        (*REPORT, "--keywords", "k.txt"),
        {**RES, "k.txt": b"a\x00b\n"},
        ("k.txt",),
        LINE,
        (),
    ),
    (
        "report/insertion-run-1",
        "report",
        (*REPORT, "--insertion-run", "1"),
        RES,
        ("--insertion-run",),
        None,
        (),
    ),
    ("report/silence-db-nan", "report", (*REPORT, "--silence-db", "nan"), RES, ("--silence-db",), None, ()),
    (
        "report/url-results",
        "report",
        ("report", "s3://bucket/r", "--html", "o.html"),
        {},
        ("s3://",),
        None,
        (),
    ),
    (
        "gate/markdown-is-a-directory",
        "gate",
        (*GATE, "--baseline", SYS_A, "--markdown", "outdir"),
        {**RES, "outdir": Dir()},
        ("outdir",),
        None,
        (),
    ),
    (
        "gate/junit-is-an-input",
        "gate",
        (*GATE, "--baseline", SYS_A, "--junit", "R/ts/manifest.jsonl"),
        RES,
        ("manifest.jsonl",),
        None,
        ("R/ts/manifest.jsonl",),
    ),
    ("gate/alpha-above-1", "gate", (*GATE, "--baseline", SYS_A, "--alpha", "2"), RES, ("--alpha",), None, ()),
    ("gate/alpha-nan", "gate", (*GATE, "--baseline", SYS_A, "--alpha", "nan"), RES, ("--alpha",), None, ()),
    (
        "gate/margin-nan",
        "gate",
        (*GATE, "--baseline", SYS_A, "--max-wer-increase", "nan"),
        RES,
        ("--max-wer-increase",),
        None,
        (),
    ),
    ("gate/baseline-unknown", "gate", (*GATE, "--baseline", "nope@x"), RES, ("nope@x",), None, ()),
    (
        "gate/baseline-file-garbage",
        "gate",
        (*GATE, "--baseline", "base.json"),
        {**RES, "base.json": b"{garbage"},
        ("base.json",),
        LINE_OR_AT,
        (),
    ),
    (
        "gate/baseline-file-wrong-shape",
        "gate",
        (*GATE, "--baseline", "base.json"),
        {**RES, "base.json": b"[1, 2]"},
        ("base.json",),
        None,
        (),
    ),
    (
        "gate/save-baseline-over-input",
        "gate",
        ("gate", "R", "--baseline", SYS_A, "--save-baseline", PRED_B),
        RES,
        ("predictions.jsonl",),
        None,
        (PRED_B,),
    ),
    (
        "gate/candidate-unknown",
        "gate",
        ("gate", "R", "--baseline", SYS_A, "--candidate", "nope@x"),
        RES,
        ("nope@x",),
        None,
        (),
    ),
    (
        "to-trn/output-is-the-input",
        "manifest to-trn",
        (*TO_TRN, "-o", "ref.jsonl"),
        {},
        ("ref.jsonl",),
        None,
        ("ref.jsonl",),
    ),
    (
        "to-trn/output-is-a-directory",
        "manifest to-trn",
        (*TO_TRN, "-o", "outdir"),
        {"outdir": Dir()},
        ("outdir",),
        None,
        (),
    ),
    (
        "to-trn/field-unknown",
        "manifest to-trn",
        (*TO_TRN, "-o", "o.trn", "--field", "nosuch"),
        {},
        ("nosuch",),
        None,
        (),
    ),
    (
        "to-trn/normalize-bogus",
        "manifest to-trn",
        (*TO_TRN, "-o", "o.trn", "--normalize", "bogus"),
        {},
        ("bogus", "--normalize"),
        None,
        (),
    ),
    (
        "validate/missing-audio",
        "manifest validate",
        ("manifest", "validate", "ref.jsonl"),
        {},
        ("ref.jsonl",),
        LINE,
        (),
    ),
    (
        "validate/audio-not-audio",
        "manifest validate",
        ("manifest", "validate", "ref.jsonl"),
        {"a1.wav": wav(1.5), "a2.wav": b"RIFF garbage", "a3.wav": wav(1.0)},
        ("ref.jsonl", "a2.wav"),
        LINE,
        (),
    ),
    (
        "validate/audio-is-a-directory",
        "manifest validate",
        ("manifest", "validate", "ref.jsonl"),
        {"a1.wav": wav(1.5), "a2.wav": Dir(), "a3.wav": wav(1.0)},
        ("ref.jsonl", "a2.wav"),
        LINE,
        (),
    ),
    (
        "validate/tolerance-negative",
        "manifest validate",
        ("manifest", "validate", "ref.jsonl", "--tolerance", "-1"),
        {},
        ("--tolerance",),
        None,
        (),
    ),
    (
        "import/format-unknown",
        "manifest import",
        ("manifest", "import", "bogus", ".", "-o", "o.jsonl"),
        {},
        ("bogus", "FORMAT"),
        None,
        (),
    ),
    (
        "import/output-is-a-directory",
        "manifest import",
        ("manifest", "import", "trn", "ref.trn", "-o", "outdir"),
        {"outdir": Dir()},
        ("outdir",),
        None,
        (),
    ),
    (
        "import/output-is-the-source",
        "manifest import",
        ("manifest", "import", "trn", "ref.trn", "-o", "ref.trn"),
        {},
        ("ref.trn",),
        None,
        ("ref.trn",),
    ),
    (
        "import/librispeech-empty",
        "manifest import",
        ("manifest", "import", "librispeech", "ls", "-o", "o.jsonl"),
        {"ls": Dir()},
        ("ls",),
        None,
        (),
    ),
    (
        "import/librispeech-trans-latin1",
        "manifest import",
        ("manifest", "import", "librispeech", "ls", "-o", "o.jsonl"),
        {"ls/1/2/1-2.trans.txt": b"1-2-0001 CAF\xc9\n", "ls/1/2/1-2-0001.flac": b"fLaC"},
        ("1-2.trans.txt",),
        LINE,
        (),
    ),
    (
        "import/kaldi-empty",
        "manifest import",
        ("manifest", "import", "kaldi", "kd", "-o", "o.jsonl"),
        {"kd": Dir()},
        ("kd",),
        None,
        (),
    ),
    (
        "import/kaldi-text-bad",
        "manifest import",
        ("manifest", "import", "kaldi", "kd", "-o", "o.jsonl"),
        {"kd/wav.scp": b"u1 a1.wav\n", "kd/text": b"u1\x00 hi\n", "a1.wav": wav(1.0)},
        ("text",),
        LINE,
        (),
    ),
    (
        "import/deepspeech-bad-header",
        "manifest import",
        ("manifest", "import", "deepspeech", "d.csv", "-o", "o.jsonl"),
        {"d.csv": b"foo,bar\n1,2\n"},
        ("d.csv",),
        None,
        (),
    ),
    (
        "import/deepspeech-bad-size",
        "manifest import",
        ("manifest", "import", "deepspeech", "d.csv", "-o", "o.jsonl"),
        {"d.csv": b"wav_filename,wav_filesize,transcript\na1.wav,lots,hi\n", "a1.wav": wav(1.0)},
        ("d.csv",),
        LINE,
        (),
    ),
    (
        "import/commonvoice-missing-tsv",
        "manifest import",
        ("manifest", "import", "commonvoice", "cv", "-o", "o.jsonl"),
        {"cv": Dir()},
        ("cv", "test.tsv"),
        None,
        (),
    ),
    (
        "import/wsj-empty",
        "manifest import",
        ("manifest", "import", "wsj", "wsj", "-o", "o.jsonl"),
        {"wsj": Dir()},
        ("wsj",),
        None,
        (),
    ),
    (
        "import/an4-empty",
        "manifest import",
        ("manifest", "import", "an4", "an4", "-o", "o.jsonl"),
        {"an4": Dir()},
        ("an4",),
        None,
        (),
    ),
    ("lm/empty-text", "lm build", (*LM, "-o", "lm.arpa"), {"c.txt": b""}, ("c.txt",), None, ()),
    (
        "lm/blank-lines-only",
        "lm build",
        (*LM, "-o", "lm.arpa"),
        {"c.txt": b"\n \n\t\n"},
        ("c.txt",),
        None,
        (),
    ),
    (
        "lm/latin1-text",
        "lm build",
        (*LM, "-o", "lm.arpa"),
        {"c.txt": b"caf\xe9 au lait\n"},
        ("c.txt",),
        LINE,
        (),
    ),
    ("lm/nul-text", "lm build", (*LM, "-o", "lm.arpa"), {"c.txt": b"a\x00b c\n"}, ("c.txt",), LINE, ()),
    (
        "lm/gzip-garbage",
        "lm build",
        ("lm", "build", "c.txt.gz", "-o", "lm.arpa"),
        {"c.txt.gz": b"\x1f\x8bnot gzip"},
        ("c.txt.gz",),
        None,
        (),
    ),
    (
        "lm/text-is-a-directory",
        "lm build",
        ("lm", "build", "cd", "-o", "lm.arpa"),
        {"cd": Dir()},
        ("cd",),
        None,
        (),
    ),
    (
        "lm/output-is-a-directory",
        "lm build",
        (*LM, "-o", "outdir"),
        {**CORPUS, "outdir": Dir()},
        ("outdir",),
        None,
        (),
    ),
    ("lm/output-is-the-input", "lm build", (*LM, "-o", "c.txt"), CORPUS, ("c.txt",), None, ("c.txt",)),
    (
        "lm/order-0",
        "lm build",
        ("lm", "build", "c.txt", "--order", "0", "-o", "lm.arpa"),
        CORPUS,
        ("--order",),
        None,
        (),
    ),
    ("lm/prune-bogus", "lm build", (*LM, "-o", "lm.arpa", "--prune", "x y"), CORPUS, ("--prune",), None, ()),
    (
        "lm/binary-type-bogus",
        "lm build",
        (*LM, "-o", "lm.bin", "--binary-type", "bogus"),
        CORPUS,
        ("--binary-type", "bogus"),
        None,
        (),
    ),
    (
        "lm/tool-bogus",
        "lm build",
        (*LM, "-o", "lm.arpa", "--tool", "bogus"),
        CORPUS,
        ("--tool", "bogus"),
        None,
        (),
    ),
    (
        "lm/memory-bogus",
        "lm build",
        (*LM, "-o", "lm.arpa", "--memory", "lots"),
        CORPUS,
        ("--memory", "lots"),
        None,
        (),
    ),
    (
        "import-hyps/format-bogus",
        "import-hyps",
        ("import-hyps", "k.txt", "--manifest", "ref.jsonl", "--format", "x", *IMPORT),
        {"k.txt": KALDI},
        ("--format", "unknown format"),
        None,
        (),
    ),
    (
        "import-hyps/name-traversal",
        "import-hyps",
        ("import-hyps", "k.txt", "--manifest", "ref.jsonl", "-r", "R", "--name", "../../evil"),
        {"k.txt": KALDI},
        ("--name", "system name '../../evil'"),
        None,
        (),
    ),
    (
        "import-hyps/name-empty",
        "import-hyps",
        ("import-hyps", "k.txt", "--manifest", "ref.jsonl", "-r", "R", "--name", ""),
        {"k.txt": KALDI},
        ("--name", "system name ''"),
        None,
        (),
    ),
    (
        "import-hyps/testset-traversal",
        "import-hyps",
        ("import-hyps", "k.txt", "--manifest", "ref.jsonl", "--testset", "../evil", *IMPORT),
        {"k.txt": KALDI},
        ("--testset", "../evil"),
        None,
        (),
    ),
    (
        "import-hyps/id-column-unknown",
        "import-hyps",
        ("import-hyps", "h.csv", "--manifest", "ref.jsonl", "--id-column", "nosuch", *IMPORT),
        {"h.csv": csv_rows(b"a1,x")},
        ("nosuch",),
        None,
        (),
    ),
    (
        "import-hyps/normalizer-bogus",
        "import-hyps",
        ("import-hyps", "k.txt", "--manifest", "ref.jsonl", "--normalizer", "bogus", *IMPORT),
        {"k.txt": KALDI},
        ("bogus", "--normalizer"),
        None,
        (),
    ),
    (
        "import-hyps/existing-system",
        "import-hyps",
        ("import-hyps", "k.txt", "--manifest", "ref.jsonl", "-r", "R", "--testset", "ts", "--name", SYS_A),
        {**RES, "k.txt": KALDI},
        (SYS_A,),
        None,
        (PRED_A, f"R/ts/{SYS_A}/run.json"),
    ),
    (
        "import-hyps/results-is-a-file",
        "import-hyps",
        ("import-hyps", "k.txt", "--manifest", "ref.jsonl", "-r", "ref.trn", "--name", "x@imported"),
        {"k.txt": KALDI},
        ("ref.trn",),
        None,
        ("ref.trn",),
    ),
    (
        "convert-legacy/empty-folder",
        "convert-legacy",
        ("convert-legacy", "lg", "-o", "o.nemo"),
        {"lg": Dir()},
        ("lg",),
        None,
        (),
    ),
    (
        "convert-legacy/garbage-file",
        "convert-legacy",
        ("convert-legacy", "x.nemo", "-o", "o.nemo"),
        {"x.nemo": b"garbage"},
        ("x.nemo",),
        None,
        (),
    ),
    (
        "convert-legacy/garbage-checkpoint",
        "convert-legacy",
        ("convert-legacy", "lg", "-o", "o.nemo"),
        {
            "lg/JasperEncoder.pt": b"garbage",
            "lg/JasperDecoderForCTC.pt": b"x",
            "lg/quartznet.yaml": b"a: [\n",
        },
        ("lg",),
        None,
        (),
    ),
    (
        "convert-legacy/output-is-a-directory",
        "convert-legacy",
        ("convert-legacy", "x.nemo", "-o", "outdir"),
        {"x.nemo": b"garbage", "outdir": Dir()},
        ("x.nemo", "outdir"),
        None,
        (),
    ),
]


AUDIO: dict[str, Content] = {"a1.wav": wav(1.5), "a2.wav": wav(2.0), "a3.wav": wav(1.0)}


def model_cases() -> Iterator[Opt]:
    """decode/tune with models and LMs that are not what they claim, and bad decoder options."""
    decode = (
        "decode",
        "--manifest",
        "ref.jsonl",
        "-r",
        "R",
        "--no-progress",
        "--no-cache",
        "--device",
        "cpu",
    )
    tune = ("tune", "--dev", "ref.jsonl", "--jobs", "1", "--device", "cpu", "--cache-dir", "cache")
    model = str(DEMO_MODEL)
    garbage_lm = {
        "lm.arpa": b"\\data\\\nngram 1=zz\n",
        "lm.bin": b"mmap lm garbage",
        "lm.scorer": b"PK\x03\x04x",
    }
    for name, files in [
        ("garbage-nemo", {"m.nemo": b"garbage"}),
        ("empty-nemo", {"m.nemo": b""}),
        ("nemo-tar-without-config", {"m.nemo": tar_bytes({"weights.ckpt": b"x"})}),
        ("nemo-config-not-yaml", {"m.nemo": tar_bytes({"model_config.yaml": b"a: [\n"})}),
        (
            "nemo-config-foreign-target",
            {"m.nemo": tar_bytes({"model_config.yaml": b"_target_: os.system\n"})},
        ),
        ("pt-garbage", {"m.pt": b"\x80\x04garbage"}),
        ("model-folder-empty", {"m.nemo": Dir()}),
        ("model-symlink-loop", {"m.nemo": Link("m.nemo")}),
    ]:
        path = next(iter(files))
        yield (f"decode/{name}", "decode", (*decode, "--model", path), files, (path,), None, ())
        yield (
            f"tune/{name}",
            "tune",
            (*tune, "--model", path, "--lm", "c.arpa"),
            {**files, "c.arpa": b"\\data\\\n"},
            (path,),
            None,
            (),
        )
    for lm, content in garbage_lm.items():
        yield (
            f"decode/lm-garbage-{lm}",
            "decode",
            (*decode, "--model", model, "--decoder", "beam", "--lm", lm),
            {lm: content, **AUDIO},
            (lm,),
            None,
            (),
        )
        yield (
            f"tune/lm-garbage-{lm}",
            "tune",
            (*tune, "--model", model, "--lm", lm),
            {lm: content, **AUDIO},
            (lm,),
            None,
            (),
        )
    for name, extra, culprit in [
        ("decoder-bogus", ("--decoder", "bogus"), "--decoder"),
        ("lm-missing", ("--decoder", "beam", "--lm", "nope.arpa"), "nope.arpa"),
        ("lm-without-beam", ("--decoder", "beam"), "--lm"),
        ("param-bogus", ("-p", "bogus=1"), "bogus"),
        ("param-no-equals", ("-p", "beam_width"), "beam_width"),
        ("beam-width-negative", ("--decoder", "beam", "--lm", "lm.arpa", "--beam-width", "-3"), "beam"),
        ("alpha-nan", ("--decoder", "beam", "--lm", "lm.arpa", "--alpha", "nan"), "alpha"),
        ("device-bogus", ("--device", "tpu9"), "--device"),
        ("precision-bogus", ("--precision", "fp3"), "--precision"),
        ("name-traversal", ("--name", "../../evil"), "system name '../../evil'"),
        (
            "rescorer-garbage-gguf",
            ("--decoder", "rescore", "--lm", "lm.arpa", "--rescorer", "r.gguf"),
            "r.gguf",
        ),
        ("unigrams-latin1", ("--decoder", "beam", "--lm", "lm.arpa", "--unigrams", "u.txt"), "u.txt"),
        ("results-is-a-file", ("-r", "ref.trn"), "ref.trn"),
    ]:
        files = {"lm.arpa": ARPA, "r.gguf": b"GGUFgarbage", "u.txt": b"caf\xe9\n", **AUDIO}
        yield (
            f"decode/{name}",
            "decode",
            (*decode, "--model", model, *extra),
            files,
            (culprit,),
            None,
            ("ref.trn",),
        )
    for name, extra, culprit in [
        ("grid-bogus", ("--grid", "alpha=x"), "--grid"),
        ("grid-empty-range", ("--grid", "alpha=2:1:0.5"), "--grid"),
        ("grid-zero-step", ("--grid", "alpha=0:1:0"), "--grid"),
        ("grid-unknown-axis", ("--grid", "delta=1"), "delta"),
        ("decoder-greedy", ("--decoder", "greedy"), "--decoder"),
        ("out-is-a-file", ("--out", "ref.trn"), "ref.trn"),
    ]:
        files = {"lm.arpa": ARPA, **AUDIO}
        yield (
            f"tune/{name}",
            "tune",
            (*tune, "--model", model, "--lm", "lm.arpa", *extra),
            files,
            (culprit,),
            None,
            ("ref.trn",),
        )


ARPA = Link(str(REPO / "demo" / "assets" / "lm" / "general-3gram.arpa"))  # a real LM KenLM loads


def tar_bytes(members: dict[str, bytes]) -> bytes:
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in sorted(members.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 0
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


EXPERIMENTS: list[tuple[str, bytes, str | None]] = [
    ("yaml-syntax-error", b"results: out\ntestsets: [\n", LINE),
    ("empty-file", b"", None),
    ("top-level-list", b"- a\n- b\n", None),
    ("unknown-key", b"resluts: out\n", LINE),
    (
        "testsets-not-a-list",
        EXPERIMENT_BASE.replace("testsets:\n  - manifest: ref.jsonl", "testsets: 5").encode(),
        LINE,
    ),
    ("manifest-missing", EXPERIMENT_BASE.replace("ref.jsonl", "nope.jsonl").encode(), LINE),
    ("manifest-broken", EXPERIMENT_BASE.replace("ref.jsonl", "bad.jsonl").encode(), "bad.jsonl"),
    ("model-missing", EXPERIMENT_BASE.replace("{model}", "nope.nemo").encode(), LINE),
    ("model-garbage", EXPERIMENT_BASE.replace("{model}", "m.nemo").encode(), LINE),
    ("decoder-unknown", EXPERIMENT_BASE.replace("greedy", "bogus").encode(), LINE),
    (
        "decoder-param-type",
        EXPERIMENT_BASE.replace("greedy", "beam\n    params: {lm: lm.arpa, beam_width: x}").encode(),
        LINE,
    ),
    (
        "decoder-param-unknown",
        EXPERIMENT_BASE.replace("greedy", "greedy\n    params: {bogus: 1}").encode(),
        LINE,
    ),
    ("lm-garbage", EXPERIMENT_BASE.replace("greedy", "beam-fast\n    params: {lm: g.arpa}").encode(), LINE),
    (
        "name-invalid",
        EXPERIMENT_BASE.replace("- type: greedy", "- type: greedy\n    name: '../x'").encode(),
        LINE,
    ),
    (
        "alias-bomb",
        b"a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        b"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
        b"e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
        b"g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n",
        None,
    ),
    ("tab-indentation", b"results: out\ntestsets:\n\t- manifest: ref.jsonl\n", LINE),
    ("latin1-bytes", b"results: caf\xe9\n", None),
    ("nul-byte", b"results: o\x00ut\n", None),
    ("python-tag", b"results: !!python/object/apply:os.system ['true']\n", LINE),
    ("ray-negative", (EXPERIMENT_BASE + "ray:\n  am_num_cpus: -1\n").encode(), LINE),
    (
        "workers-zero",
        EXPERIMENT_BASE.replace("- type: greedy", "- type: greedy\n    workers: 0").encode(),
        LINE,
    ),
]


def experiment_cases() -> Iterator[Case]:
    model = str(DEMO_MODEL)
    for name, text, where in EXPERIMENTS:
        files = {
            **BASE_FILES,
            "e.yaml": text.replace(b"{model}", model.encode()),
            "m.nemo": b"garbage",
            "bad.jsonl": b"{\n",
            "g.arpa": b"garbage",
            "lm.arpa": ARPA,
        }
        yield Case(
            f"run/{name}", "run", ("run", "e.yaml", "--check"), files, "error", ("e.yaml", "bad.jsonl"), where
        )
    ok = {**BASE_FILES, "e.yaml": EXPERIMENT_BASE.replace("{model}", model).encode()}
    yield Case("run/valid-check", "run", ("run", "e.yaml", "--check"), ok, "ok")
    crlf = {
        **ok,
        "e.yaml": b"\xef\xbb\xbf" + EXPERIMENT_BASE.replace("{model}", model).replace("\n", "\r\n").encode(),
    }
    yield Case("run/bom-crlf-check", "run", ("run", "e.yaml", "--check"), crlf, "ok")


def all_failed_cases() -> Iterator[Case]:
    """A run in which every utterance failed must exit non-zero (and say why)."""
    decode = ("decode", "--model", str(DEMO_MODEL), "--manifest", "ref.jsonl", "-r", "R", "--no-progress")
    decode += ("--no-cache", "--device", "cpu")
    yield Case(
        "all-failed/decode-audio-missing",
        "decode",
        decode,
        dict(BASE_FILES),
        "error",
        ("ref.jsonl", "a1.wav", "failed"),
    )
    garbage = {**BASE_FILES, "a1.wav": b"RIFFxx", "a2.wav": b"", "a3.wav": b"\x00" * 64}
    yield Case(
        "all-failed/decode-audio-garbage",
        "decode",
        decode,
        garbage,
        "error",
        ("ref.jsonl", "a1.wav", "failed"),
    )
    good = {**BASE_FILES, **AUDIO}
    yield Case("all-failed/decode-valid-audio", "decode", decode, good, "ok")


def option_cases() -> Iterator[Case]:
    for name, command, argv, files, culprit, where, guard in [*OPTION_CASES, *model_cases()]:
        yield Case(
            name=f"options/{name}",
            command=command,
            argv=argv,
            files={**BASE_FILES, **files},
            expect="error",
            culprit=culprit,
            where=where,
            guard=guard,
            env=RESULTS_ENV,
        )


def serve_ok_cases() -> Iterator[Case]:
    yield Case("serve/valid-results", "serve", ("@serve", "R"), results(), "ok")
    yield Case("serve/valid-manifest", "serve", ("@serve", "ref.jsonl"), dict(BASE_FILES), "ok")
    sde = {"h.jsonl": lines(*map(jline, HYP_ROWS))}
    yield Case("serve/valid-sde-manifest", "serve", ("@serve", "h.jsonl"), sde, "ok")


def all_cases() -> list[Case]:
    makers = (manifest_cases, trn_cases, import_cases, results_cases, option_cases, experiment_cases)
    makers += (all_failed_cases, serve_ok_cases)
    cases = [case for make in makers for case in make()]
    names = Counter(case.name for case in cases)
    duplicated = [name for name, n in names.items() if n > 1]
    if duplicated:
        raise SystemExit(f"duplicate case names: {duplicated}")
    return cases


# ---------------------------------------------------------------------------------------------- running


def write_files(root: Path, files: dict[str, Content]) -> None:
    for relative, content in sorted(files.items(), key=lambda item: isinstance(item[1], Link)):
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Dir):
            path.mkdir(exist_ok=True)
        elif isinstance(content, Link):
            path.symlink_to(content.target)
        else:
            path.write_bytes(content() if callable(content) else content)


def digest(path: Path) -> str | None:
    if path.is_dir() or not path.exists():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()


def command_line(case: Case, root: Path) -> list[str]:
    if case.argv[0] == "@serve":
        return [sys.executable, str(Path(__file__).resolve()), "--serve-probe", *case.argv[1:]]
    return [str(WERBENCH), *case.argv]


def run_case(case: Case, root: Path, timeout: float) -> Outcome:
    home = root / case.name.replace("/", "__")
    home.mkdir(parents=True)
    write_files(home, case.files)
    before = {name: digest(home / name) for name in case.guard}
    env = {
        **os.environ,
        "WERBENCH_CACHE": str(home / ".cache"),
        "NO_COLOR": "1",
        "COLUMNS": "200",
        **case.env,
    }
    env.update({"HOME": str(home / ".home"), "PYTHONWARNINGS": "ignore", "CUDA_VISIBLE_DEVICES": ""})
    start = time.monotonic()
    try:
        done = subprocess.run(
            command_line(case, root),
            cwd=home,
            env=env,
            capture_output=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        text = done.stderr.decode("utf-8", "replace")
        stderr = [
            line for line in re.split(r"[\r\n]+", text) if line.strip() and not PROGRESS.fullmatch(line)
        ]
        output = "\n".join(stderr) + "\n--- stdout ---\n" + done.stdout.decode("utf-8", "replace")
        status = done.returncode
    except subprocess.TimeoutExpired as exc:
        status, output = (
            None,
            f"timed out after {timeout:.0f} s\n" + (exc.stderr or b"").decode("utf-8", "replace"),
        )
    seconds = time.monotonic() - start
    changed = [name for name, sha in before.items() if digest(home / name) != sha]
    left = [name for name in case.absent if (home / name).exists()]
    verdict = classify(case, status, output, changed, left)
    (home / ".outcome.txt").write_text(f"{verdict} (exit {status})\n{output}", encoding="utf-8")
    if changed or left:
        output = f"changed: {changed} left behind: {left}\n{output}"
    return Outcome(case, verdict, status, output, seconds)


def classify(case: Case, status: int | None, output: str, changed: list[str], left: list[str]) -> str:
    if status is None or status < 0:
        return "crash"
    if "Traceback (most recent call last)" in output:
        return "traceback"
    if changed or (left and status != 0):
        return "overwrite"
    if case.expect == "ok":
        return "accepted" if status in ((0,) if case.codes == (1, 2) else case.codes) else "rejected valid"
    if status == 0:
        return "silent success"
    if status == 3:
        return "broken page"
    if status not in case.codes:
        return "wrong status"
    named = [bare for culprit in case.culprit for bare in (culprit, culprit.lstrip("-") + ":")]
    names = any(culprit in output for culprit in named) if named else True
    where = case.where is None or re.search(case.where, output) is not None
    return "clear error" if names and where else "error without location"


# ---------------------------------------------------------------------------------------------- serve probe

PAGES = ("/", "/dataset", "/utterances", "/compare", "/errors", "/utterance?ts={ts}&id=a2")


def serve_probe(paths: list[str]) -> int:
    """What ``werbench serve`` does up to serving, then every page through the Dash callback path.

    Exit 1 (one ``error:`` line) when the app refuses the input, as the CLI does; 3 when a page could not be
    built; 0 when every page rendered.
    """
    from werbench.dashboard.app import create_app
    from werbench.dashboard.callback_client import render_page
    from werbench.manifests.errors import WerbenchError

    try:
        app = create_app(
            paths[0] if len(paths) == 1 else paths, cache_dir=tempfile.mkdtemp(prefix="serve-cache")
        )
    except (WerbenchError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    client = app.server.test_client()
    if client.get("/").status_code != 200:
        print("broken page: GET / did not answer 200", file=sys.stderr)
        return 3
    workspace = app.server.config["WERBENCH_WORKSPACE"]
    testsets = list(workspace.analysis(workspace.default_normalizer).leaderboard()["testset"].unique())
    broken = []
    for page in PAGES:
        _, body = render_page(client, app, page.format(ts=testsets[0] if testsets else ""))
        if "could not be built" in json.dumps(body):
            broken.append(page)
    if broken:
        print(f"broken page: {', '.join(broken)} could not be built", file=sys.stderr)
        return 3
    return 0


# ---------------------------------------------------------------------------------------------- report


def table(outcomes: list[Outcome]) -> str:
    classes = sorted({o.verdict for o in outcomes}, key=lambda v: (v in FAILING, v))
    commands = sorted({o.case.command for o in outcomes})
    width = max(len(c) for c in [*commands, "command"]) + 2
    head = "command".ljust(width) + "".join(f"{v[:14]:>16}" for v in classes) + f"{'total':>8}"
    rows = [head, "-" * len(head)]
    for command in [*commands, "all"]:
        mine = [o for o in outcomes if command in ("all", o.case.command)]
        counts = Counter(o.verdict for o in mine)
        rows.append(command.ljust(width) + "".join(f"{counts[v]:>16}" for v in classes) + f"{len(mine):>8}")
    return "\n".join(rows)


def failures(outcomes: list[Outcome]) -> str:
    out = []
    for o in outcomes:
        if o.verdict in FAILING:
            shown = [line for line in o.output.strip().splitlines() if line.strip()]
            first = [line for line in shown if line.startswith(("error", "changed", "Traceback"))] or shown[
                :4
            ]
            out.append(
                f"[{o.verdict}] {o.case.name} (exit {o.status}): werbench {' '.join(o.case.argv)[:160]}"
            )
            out.extend(f"    {line[:200]}" for line in first)
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", help="run the cases whose name contains this (repeatable)")
    parser.add_argument("--keep", type=Path, help="generate the cases into this folder and keep them")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per case (default 60)")
    parser.add_argument("--jobs", type=int, default=2, help="cases run at once (default 2)")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    parser.add_argument("--serve-probe", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_probe:
        return serve_probe(args.serve_probe)
    cases = [c for c in all_cases() if not args.only or any(o in c.name for o in args.only)]
    if args.list:
        print("\n".join(f"{c.expect:5} {c.name}" for c in cases))
        return 0
    root = Path(tempfile.mkdtemp(prefix="hostile-")) if args.keep is None else args.keep
    if args.keep is not None:
        shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    try:
        with ThreadPoolExecutor(max_workers=max(1, min(args.jobs, 2))) as pool:
            outcomes = list(pool.map(lambda case: run_case(case, root, args.timeout), cases))
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    print(table(outcomes))
    bad = failures(outcomes)
    print(
        f"\n{len(outcomes)} cases in {time.monotonic() - start:.0f} s; slowest: "
        + ", ".join(
            f"{o.case.name} {o.seconds:.1f} s" for o in sorted(outcomes, key=lambda o: -o.seconds)[:3]
        )
    )
    if bad:
        print("\nnot a clear error / not accepted:\n" + bad)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
