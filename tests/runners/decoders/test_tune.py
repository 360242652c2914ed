"""``werbench tune``: grid parsing, grid search (beam and rescore), test-set leak warnings, the CLI."""

from __future__ import annotations

import csv
import dataclasses
import json
import shutil

import pytest
from decoder_helpers import FRAME_SECONDS
from typer.testing import CliRunner
from werbench.manifests.errors import ConfigError, ResultsDirError
from werbench.runners.decoders.beam_fast import FastBeamDecoder
from werbench.runners.decoders.rescore import RescoreDecoder
from werbench.runners.tune import Counts, DevUtt, parse_grid, tune, tuning_set_leaks


def test_grid_specs():
    grid = parse_grid("alpha=0.5:1.5:0.25, beta=0|1|2.5,gamma=0.3")
    assert grid == {"alpha": [0.5, 0.75, 1.0, 1.25, 1.5], "beta": [0.0, 1.0, 2.5], "gamma": [0.3]}
    for bad in ("alpha=1:0:0.5", "delta=1", "alpha=x", "alpha", ""):
        with pytest.raises(ConfigError, match="--grid"):
            parse_grid(bad)
    with pytest.raises(ConfigError, match="coarsen"):
        parse_grid("alpha=0:100:0.001,beta=0:100:0.01")


def test_counts_are_the_aligners_word_and_char_rates():
    counts = Counts()
    counts.add("the cat sat", "the bat sat", ["the cat sat", "a bat"])
    counts.add("hello", "", [""])
    rates = counts.rates()
    assert rates["wer"] == 2 / 4 and rates["oracle_wer"] == 1 / 4
    assert rates["cer"] == (1 + 5) / (11 + 5)


@pytest.fixture(scope="module")
def dev_utts(dev_set):
    return [DevUtt(f"u{i}", ref, lp) for i, (ref, lp) in enumerate(dev_set[:10])]


def test_beam_grid_finds_the_better_weights_and_parallel_equals_serial(lm_arpa, dev_utts, char_vocab):
    decoder = FastBeamDecoder(lm=str(lm_arpa), beam_width=16)
    grid = parse_grid("alpha=0.4|0.8,beta=-30|1")
    streamed = []
    serial = tune(decoder, dev_utts, char_vocab, FRAME_SECONDS, grid, jobs=1, on_row=streamed.append)
    parallel = tune(decoder, dev_utts, char_vocab, FRAME_SECONDS, grid, jobs=2)
    assert len(serial.rows) == 4 and streamed == serial.rows
    strip = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]  # noqa: E731
    assert strip(serial.rows) == strip(parallel.rows)
    by_point = {(r["alpha"], r["beta"]): r for r in serial.rows}
    assert by_point[(0.8, 1.0)]["wer"] < by_point[(0.8, -30.0)]["wer"]
    assert all(r["oracle_wer"] <= r["wer"] and r["gamma"] is None for r in serial.rows)
    best = serial.best
    assert best["beta"] == 1.0 and best["params"]["beta"] == 1.0 and best["decoder"] == "beam-fast"
    assert best["params"]["alpha"] == best["alpha"]


def test_grid_rates_are_what_werbench_score_reports(tmp_path, lm_arpa, dev_utts, char_vocab):
    """The same hypotheses scored by ``werbench score``: identical WER and CER (one aligner for both)."""
    from werbench.cli import app

    decoder = FastBeamDecoder(lm=str(lm_arpa), beam_width=16)
    row = tune(decoder, dev_utts, char_vocab, FRAME_SECONDS, parse_grid("alpha=0.4,beta=-30")).rows[0]
    point = dataclasses.replace(decoder, alpha=0.4, beta=-30.0)
    refs = [{"audio_filepath": f"/dev/{u.utt_id}.wav", "duration": 1.0, "text": u.ref} for u in dev_utts]
    hyps = [
        {**ref, "pred_text": point.decode(u.log_probs, char_vocab, FRAME_SECONDS).text}
        for ref, u in zip(refs, dev_utts, strict=True)
    ]
    _write_manifest(tmp_path / "ref.jsonl", refs)
    _write_manifest(tmp_path / "hyp.jsonl", hyps)
    args = ["score", str(tmp_path / "ref.jsonl"), str(tmp_path / "hyp.jsonl"), "--normalize", "none"]
    result = CliRunner().invoke(app, [*args, "--json", str(tmp_path / "score.json"), "--no-cache"])
    assert result.exit_code == 0, result.output
    scored = json.loads((tmp_path / "score.json").read_text())["systems"]["hyp"]
    assert row["wer"] > 0 and row["cer"] > 0, "a weak point: errors to count"
    assert scored["totals"]["wer"] == round(100 * row["wer"], 4)
    assert scored["cer"] == round(100 * row["cer"], 4)


def test_rescore_grid_reranks_one_set_of_nbest_lists(lm_arpa, tiny_causal, dev_utts, char_vocab):
    decoder = RescoreDecoder(rescorer=str(tiny_causal), lm=str(lm_arpa), alpha=0.8, device="cpu", nbest=8)
    result = tune(decoder, dev_utts, char_vocab, FRAME_SECONDS, parse_grid("alpha=0.4|0.8,gamma=0|0.5|1"))
    assert len(result.rows) == 6
    assert len({r["oracle_wer"] for r in result.rows}) == 1, "re-ranking cannot change the n-best lists"
    assert result.best["params"]["first_alpha"] == 0.8
    assert result.best["params"]["gamma"] == result.best["gamma"]
    with pytest.raises(ConfigError, match="gamma"):
        tune(FastBeamDecoder(lm=str(lm_arpa)), dev_utts, char_vocab, FRAME_SECONDS, parse_grid("gamma=1"))


def _write_manifest(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")


def test_tuning_on_a_reported_test_set_is_flagged(tmp_path):
    rows = [{"audio_filepath": f"/data/{i}.wav", "duration": 1.0, "text": "x"} for i in range(4)]
    dev = tmp_path / "dev.jsonl"
    _write_manifest(dev, rows)
    results = tmp_path / "results"
    _write_manifest(results / "clean" / "manifest.jsonl", rows)
    _write_manifest(results / "other" / "sys@greedy" / "predictions.jsonl", [{**rows[0], "pred_text": "x"}])
    _write_manifest(results / "far" / "manifest.jsonl", [{"audio_filepath": "/elsewhere.wav", "duration": 1}])
    warnings = tuning_set_leaks(dev, [results])
    assert len(warnings) == 2
    assert "IS the reported test set 'clean'" in warnings[0]
    assert "1 of 4 tuning utterances" in warnings[1] and "'other'" in warnings[1]
    with pytest.raises(ResultsDirError, match="results directory not found"):
        tuning_set_leaks(dev, [tmp_path / "absent"])  # was a silent 'no leak' on a mistyped path


def test_a_bad_results_option_fails_before_the_model_and_lm_load(tmp_path):
    """Regression (hostile corpus): ``tune --results <a directory>`` ran into a 300 s timeout: a folder
    that is no results directory was skipped silently and the whole default grid decoded. Now it is one
    clear line before anything loads (the model and LM here are garbage: they are never read)."""
    from werbench.cli import app

    dev = tmp_path / "dev.jsonl"
    _write_manifest(dev, [{"audio_filepath": "a.wav", "duration": 1.0, "text": "x"}])
    (tmp_path / "garbage.nemo").write_bytes(b"\0" * 64)
    (tmp_path / "garbage.arpa").write_text("not an lm\n")
    plain = tmp_path / "plain"
    (plain / "sub").mkdir(parents=True)
    (plain / "notes.txt").write_text("hello\n")
    (plain / "loop").symlink_to(plain / "loop")
    cases = {
        plain: "not a results directory",
        tmp_path / "absent": "results directory not found",
        dev: "expected a results directory, got a file",
    }
    for results, expected in cases.items():
        args = ["tune", "--model", str(tmp_path / "garbage.nemo"), "--dev", str(dev)]
        args += [
            "--lm",
            str(tmp_path / "garbage.arpa"),
            "--results",
            str(results),
            "--out",
            str(tmp_path / "t"),
        ]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
        assert result.output.startswith(f"error: {results}: --results: ") and expected in result.output
        assert len(result.output.strip().splitlines()) == 1, result.output
    assert not (tmp_path / "t").exists()


def test_leak_check_survives_hostile_rows(tmp_path):
    """A symlink loop as audio path and a non-numeric offset: compared as written, not a traceback."""
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    rows = [{"audio_filepath": str(loop / "a.wav"), "duration": 1.0, "text": "x", "offset": "soon"}]
    dev = tmp_path / "dev.jsonl"
    _write_manifest(dev, rows)
    results = tmp_path / "results"
    _write_manifest(results / "test" / "sys@greedy" / "predictions.jsonl", [{**rows[0], "pred_text": "x"}])
    (warning,) = tuning_set_leaks(dev, [results])
    assert "1 of 1 tuning utterances" in warning and "'test'" in warning


@pytest.mark.slow
@pytest.mark.integration
def test_cli_tunes_a_real_nemo_model_end_to_end(tmp_path, tiny_bert, tiny_nemo, speech_manifest):
    """Tiny NeMo model, espeak-ng speech, lmplz LM, logits cache, grid CSV, best.json and the leak warning."""
    from werbench.runners.lm import build_lm, find_tool
    from werbench.runners.tiny import SENTENCES

    from werbench.cli import app

    if find_tool("lmplz") is None:
        pytest.skip("KenLM lmplz is not installed")
    model, dev = tiny_nemo, speech_manifest
    text = tmp_path / "text.txt"
    text.write_text("\n".join(SENTENCES.values()) + "\n", encoding="utf-8")
    lm = tmp_path / "lm.arpa"
    build_lm([text], lm, order=2)
    results = tmp_path / "results"
    (results / "dev").mkdir(parents=True)
    shutil.copy(dev, results / "dev" / "manifest.jsonl")
    out = tmp_path / "tune"
    args = ["tune", "--model", str(model), "--dev", str(dev), "--decoder", "beam-fast", "--lm", str(lm)]
    args += ["--grid", "alpha=0.5|1,beta=0|1", "--out", str(out), "--results", str(results), "--jobs", "2"]
    args += ["--cache-dir", str(tmp_path / "cache"), "--device", "cpu", "--param", "beam_width=8"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "WARNING" in result.output and "IS the reported test set 'dev'" in result.output
    with (out / "grid.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 4 and {r["alpha"] for r in rows} == {"0.5", "1.0"}
    best = json.loads((out / "best.json").read_text())
    assert best["params"]["beam_width"] == 8 and best["warnings"] and best["dev"]["utts"] == len(SENTENCES)
    assert min(float(r["wer"]) for r in rows) == best["wer"]
    cached = sorted((tmp_path / "cache").rglob("*.npz"))
    assert len(cached) == len(SENTENCES), "dev log-probs go through the logits cache"

    rescore = [*args[:6], "rescore", *args[7:]]
    rescore[rescore.index("--grid") + 1] = "alpha=0.5,gamma=0|0.5"
    rescore += ["--rescorer", str(tiny_bert), "--out", str(tmp_path / "tune_rescore")]
    result = CliRunner().invoke(app, rescore)
    assert result.exit_code == 0, result.output
    with (tmp_path / "tune_rescore" / "grid.csv").open() as handle:
        assert [r["gamma"] for r in csv.DictReader(handle)] == ["0.0", "0.5"]
    assert sorted((tmp_path / "cache").rglob("*.npz")) == cached
