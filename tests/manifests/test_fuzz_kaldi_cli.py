"""Property-based fuzzing of Kaldi data directories and of every option of the analysis and manifest commands,
in process: exit 0, or 1 with a message naming the file, or 2 (usage) naming the option; never another
exception, never a half-written output. Failures found are kept as ``@example`` regressions below."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import typer
from hypothesis import example, given
from hypothesis import strategies as st
from typer.testing import CliRunner
from werbench.manifests.io import load_manifest

from benchmarks.synthetic_results import SyntheticSpec, generate
from tests.manifests.test_fuzz_inputs import LONG, SHORT, _mutate, text
from werbench.cli import app

KALDI_FILES = ("wav.scp", "text", "utt2spk", "segments")
word = st.text(st.characters(min_codepoint=33, max_codepoint=0x2FF), min_size=1, max_size=8)
seconds = st.one_of(st.floats(-2, 3), st.sampled_from(["nan", "inf", "-1", "1e309", "x", ""]))
commands = st.sampled_from(["", "sph2pipe -f wav {} |", "flac -c -d -s {} |", "sox {} -t wav - |", "cat {} |",
                            "sox {} -t wav - trim 0 1 |", "{}:123", "gunzip -c {} | sox - |"])  # fmt: skip


@st.composite
def kaldi_dir(draw) -> dict[str, str]:
    """wav.scp/text/utt2spk/segments contents for a few recordings and utterances, valid or nearly."""
    recs = draw(st.lists(word, min_size=1, max_size=3, unique=True))
    utts = draw(st.lists(word, min_size=1, max_size=4, unique=True))
    scp = "".join(f"{r} {draw(commands).format('{AUDIO}') or '{AUDIO}'}\n" for r in recs)
    files = {"wav.scp": scp, "text": "".join(f"{u} {draw(text)}\n" for u in utts)}
    if draw(st.booleans()):
        files["utt2spk"] = "".join(f"{u} {draw(word)}\n" for u in utts)
    if draw(st.booleans()):
        rows = [f"{u} {draw(st.sampled_from([*recs, 'nope']))} {draw(seconds)} {draw(seconds)}" for u in utts]
        files["segments"] = "".join(r + "\n" for r in rows)
    return files


def _invoke(args: list[str]):
    with tempfile.TemporaryDirectory() as cwd:  # hostile relative paths land here, not in the checkout
        previous = os.getcwd()
        os.chdir(cwd)
        try:
            result = CliRunner().invoke(app, args)
        finally:
            os.chdir(previous)
    assert result.exit_code in (0, 1, 2), (args, result.exit_code, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit), (args, result.exception)
    assert "Traceback" not in result.output, result.output
    return result


def _import_kaldi(root: Path, files: dict[str, str], damaged: str, how: int, where: int) -> None:
    root.mkdir()
    audio = root / "a.wav"
    sf.write(audio, np.zeros(8000, dtype=np.int16), 16000)
    for name, content in files.items():
        raw = content.replace("{AUDIO}", str(audio)).encode("utf-8", "surrogatepass")
        (root / name).write_bytes(_mutate(raw, how, where) if name == damaged else raw)
    out = root / "out.jsonl"
    result = _invoke(["manifest", "import", "kaldi", str(root), "-o", str(out)])
    if result.exit_code == 0:
        rows = list(load_manifest(out))
        assert all(r.duration >= 0 and np.isfinite(r.offset) for r in rows), rows
        assert len({r.utt_id for r in rows}) == len(rows)
    else:
        assert not out.exists(), "a refused import must not leave an output"
        assert str(root) in result.output, result.output


@SHORT
@given(kaldi_dir(), st.sampled_from(KALDI_FILES), st.integers(0, 20), st.integers(0, 10_000))
@example({"wav.scp": "r {AUDIO}\n", "text": "u hi\n", "segments": "u r nan 1\n"}, "text", 0, 0)  # found
@example({"wav.scp": "r {AUDIO}\n", "text": "u hi\n", "segments": "u r 0 inf\n"}, "text", 0, 0)  # found
@example({"wav.scp": "0 {AUDIO}\n", "text": "0 \n"}, "wav.scp", 6, 3)  # found: a path too long for the OS
def test_kaldi_dirs(tmp_path_factory, files, damaged, how, where) -> None:
    _import_kaldi(tmp_path_factory.mktemp("kaldi") / "d", files, damaged, how, where)


@pytest.mark.slow
@LONG
@given(kaldi_dir(), st.sampled_from(KALDI_FILES), st.integers(0, 20), st.integers(0, 100_000))
def test_kaldi_dirs_long(tmp_path_factory, files, damaged, how, where) -> None:
    _import_kaldi(tmp_path_factory.mktemp("kaldi") / "d", files, damaged, how, where)


# ---------------------------------------------------------------------------- every option, hostile values

HOSTILE = st.one_of(
    st.sampled_from(["", "0", "-1", "-0.5", "nan", "inf", "-inf", "1e309", "99999999999999999999", "abc",
                     "1.5", "☃", "\ud800", "..", "/", "/nonexistent/x", "{DIR}", "{REF}", "--help", "a=b"]),
    text,
)  # fmt: skip


@pytest.fixture(scope="module")
def cli_inputs(tmp_path_factory) -> dict[str, str]:
    """A small real results directory, its reference manifest, one system's predictions, a hypothesis file;
    ``PRISTINE`` keeps a copy that every call starts from (a hostile ``--json {REF}`` replaces an input)."""
    root = tmp_path_factory.mktemp("cli")
    results = generate(root / "results", SyntheticSpec(utterances=6, testsets=("t",), seed=5))
    ref = results / "t" / "manifest.jsonl"
    rows = [json.loads(x) for x in ref.read_text().splitlines()]
    hyp = root / "hyp.trn"
    hyp.write_text("".join(f"{r['text']} ({r['utt_id']})\n" for r in rows))
    systems = sorted(p.name for p in (results / "t").iterdir() if p.is_dir())
    pristine = tmp_path_factory.mktemp("cli-pristine") / "inputs"
    shutil.copytree(root, pristine)
    return {"RESULTS": str(results), "REF": str(ref), "HYP": str(hyp), "A": systems[0], "B": systems[1],
            "DIR": str(root), "OUT": str(root / "out"), "PRISTINE": str(pristine)}  # fmt: skip


BASES = {
    ("score",): ["{REF}", "{HYP}"],
    ("compare",): ["{REF}", "{HYP}", "{HYP}"],
    ("gate",): ["{RESULTS}", "--baseline", "{A}", "--candidate", "{B}"],
    ("report",): ["{RESULTS}", "--csv", "{OUT}/csv"],
    ("manifest", "validate"): ["--no-audio", "{REF}"],
    ("manifest", "stats"): ["{REF}"],
    ("manifest", "to-trn"): ["{REF}", "-o", "{OUT}/ref.trn"],
    ("manifest", "normalizers"): [],
    ("import-hyps",): ["{HYP}", "--manifest", "{REF}", "--results", "{OUT}/results", "--system", "x@y"],
}


def _options(path: tuple[str, ...]) -> list[tuple[str, bool]]:
    """(option name, is a flag) of the command, from its click definition: new options are fuzzed too."""
    command = typer.main.get_command(app)
    for name in path:
        command = command.get_command(None, name)
    return [(p.opts[-1], bool(getattr(p, "is_flag", False)))
            for p in command.params if p.opts[0].startswith("-") and p.name != "help"]  # fmt: skip


def _fill(args: list[str], inputs: dict[str, str]) -> list[str]:
    return [a.format(**inputs) if "{" in a and "}" in a else a for a in args]


@st.composite
def hostile_call(draw) -> tuple[tuple[str, ...], list[str]]:
    path = draw(st.sampled_from(sorted(BASES)))
    extra: list[str] = []
    for option, flag in draw(st.lists(st.sampled_from(_options(path)), min_size=1, max_size=2)):
        extra += [option] if flag else [option, draw(HOSTILE)]
    return path, extra


def _check_call(inputs, path, extra) -> None:
    """Exit 2 is a usage error naming the option, except for ``gate``, whose 2 is any "could not gate"
    (1 is a regression): there it is one ``error:`` line. Each call starts from the pristine inputs."""
    shutil.rmtree(inputs["DIR"])
    shutil.copytree(inputs["PRISTINE"], inputs["DIR"])
    args = [*path, *_fill(BASES[path], inputs), *(x.replace("{DIR}", inputs["DIR"]) for x in extra)]
    args = [a.replace("{REF}", inputs["REF"]) for a in args]
    result = _invoke(args)
    if result.exit_code == 2:
        named = any(o in result.output for o in extra if o.startswith("-")) or "Usage" in result.output
        could_not_gate = path == ("gate",) and result.output.startswith("error: ")
        assert named or could_not_gate, result.output


@SHORT
@given(hostile_call())
@example(call=(("report",), ["--resamples", "99999999999999999999"]))  # found: numpy's dimension error
def test_every_option_with_hostile_values(cli_inputs, call) -> None:
    _check_call(cli_inputs, *call)


@pytest.mark.slow
@LONG
@given(hostile_call())
def test_every_option_with_hostile_values_long(cli_inputs, call) -> None:
    _check_call(cli_inputs, *call)
