"""The one rule for speakers: real speaker fields, ids only by the user's rule, five speakers or a reason."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner
from werbench.analysis import speakers as sp
from werbench.analysis.tables import build_tables
from werbench.manifests.errors import ConfigError

from werbench.cli import app


def test_sclite_reads_the_speaker_of_a_trn_id() -> None:
    assert sp.sclite_speaker("1089-134686-0000") == "1089"
    assert sp.sclite_speaker("spk1_u000") == "spk1"
    assert sp.sclite_speaker("sp2_y-u2") == "sp2_y"
    assert sp.sclite_speaker("u3") is None


def test_the_users_rule_fills_only_utterances_without_a_speaker() -> None:
    ids = pd.Series(["a-1", "b-2", "c-3", "nomatch"])
    field = pd.Series(["real", None, "", None], dtype=object)
    assert sp.with_speakers(field, ids, None) is field  # no rule: no guessing
    filled = sp.with_speakers(field, ids, r"^([^-]+)-")
    assert filled.tolist() == ["real", "b", "c", None]
    assert sp.speakers_from_ids(["x_y"], r"^\w") == ["x"]  # no group: the whole match
    with pytest.raises(ConfigError, match=r"--speaker-from-id: '\(' is not a regular expression"):
        sp.with_speakers(field, ids, "(")
    with pytest.raises(ConfigError, match="at most one group"):
        sp.speaker_rule(r"(a)(b)")
    assert sp.known_speakers(np.array(["s", None, "", float("nan")], dtype=object)).tolist() == [
        True,
        False,
        False,
        False,
    ]


def test_too_few_speakers_says_why() -> None:
    assert sp.too_few_speakers(5) is None
    assert sp.too_few_speakers(1) == "only 1 speaker: per-speaker tests need at least 5"
    assert "utt2spk" in sp.too_few_speakers(0) and "--speaker-from-id REGEX" in sp.too_few_speakers(0)


def test_tables_take_speakers_from_the_field_and_the_rule(make_inputs) -> None:
    refs = {f"s{k % 6}-u{k}": "a b c d" for k in range(24)}
    hyps = {u: ("a b c d" if int(u.split("-u")[1]) % 2 else "a x") for u in refs}
    inputs = make_inputs(refs, {"sys": hyps}, speakers={"s0-u0": "alice"})
    plain = build_tables(inputs, n_resamples=100).utterances.set_index("utt_id")["speaker"]
    assert plain["s0-u0"] == "alice" and plain.drop("s0-u0").isna().all()
    ruled = build_tables(inputs, n_resamples=100, speaker_from_id=r"^(s\d)-").utterances.set_index("utt_id")
    assert ruled.loc["s0-u0", "speaker"] == "alice" and ruled.loc["s1-u1", "speaker"] == "s1"
    by_speaker = build_tables(inputs, n_resamples=100, speaker_ci=True, speaker_from_id=r"^(s\d)-").systems
    assert by_speaker["ci"].iat[0] == "speaker"


def _files(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A reference without a speaker field (ids ``spkN-uK``, 6 speakers) and two systems."""
    rng = np.random.default_rng(3)
    words = ["alpha", "beta", "gamma", "delta", "echo"]
    ref, hyp_a, hyp_b = [], [], []
    for k in range(36):
        text = " ".join(rng.choice(words, size=6))
        utt = {"utt_id": f"spk{k % 6}-u{k}", "audio_filepath": f"/a/{k}.wav", "duration": 2.0, "text": text}
        ref.append(utt)
        worse = text.split()
        worse[k % 6] = "zulu"
        hyp_a.append({**utt, "pred_text": " ".join(worse)})
        hyp_b.append({**utt, "pred_text": text if k % 3 else " ".join(worse)})
    paths = tmp_path / "ref.jsonl", tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    for path, rows in zip(paths, (ref, hyp_a, hyp_b), strict=True):
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return paths


def test_compare_command_guesses_no_speakers_unless_given_a_rule(tmp_path: Path) -> None:
    ref, a, b = _files(tmp_path)
    runner = CliRunner()
    plain = runner.invoke(app, ["compare", str(ref), str(a), str(b), "--resamples", "100", "--no-cache"])
    assert plain.exit_code == 0, plain.output
    assert "Sign test (per speaker): not run, no speakers: per-speaker tests need" in plain.stdout
    out = tmp_path / "cmp.json"
    ruled = runner.invoke(
        app,
        [
            "compare",
            str(ref),
            str(a),
            str(b),
            "--no-cache",
            "--json",
            str(out),
            "--resamples",
            "100",
            "--speaker-from-id",
            "^(spk[0-9]+)-",
        ],
    )
    assert ruled.exit_code == 0, ruled.output
    tests = {t["name"]: t for t in json.loads(out.read_text())["tests"]}
    sign = tests["sign_speaker"]
    assert sign["skipped"] is None and sign["n"] + sign["details"]["ties"] == 6  # the rule's six speakers
    assert tests["bootstrap"]["p_text"] == "< 0.01" and tests["bootstrap"]["p_value"] == 0.0
    assert "not run" not in ruled.stdout and "< 0.01" in ruled.stdout
    bad = runner.invoke(app, ["score", str(ref), str(a), "--speaker-from-id", "(", "--no-cache"])
    assert (
        bad.exit_code == 1 and "--speaker-from-id: '(' is not" in bad.output and "Traceback" not in bad.output
    )
