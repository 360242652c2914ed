"""Fixtures shared by the analysis tests."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from sclite_pra import PraUtt, list_sclite_fixtures, parse_pra
from werbench.analysis.inputs import Hypotheses, Inputs, Reference, RefUtt, TestSet, match
from werbench.analysis.tables import build_tables
from werbench.manifests.io import write_manifest
from werbench.manifests.results import PREDICTIONS, RunInfo, system_dir, write_run_info
from werbench.manifests.schema import Utterance

SCLITE = shutil.which("sclite") or "/usr/lib/sctk/bin/sclite"


@pytest.fixture(scope="session")
def sclite_fixtures(shared_dir: Path) -> list[tuple[str, Path, Path, Path]]:
    """``(name, ref.trn, hyp.trn, sclite's scores json)`` per system in ``../shared/fixtures/sclite``."""
    return list_sclite_fixtures(shared_dir / "fixtures" / "sclite")


@pytest.fixture(scope="session")
def run_sclite_pra(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., dict[str, PraUtt]]:
    """Score ``{utt_id: text}`` pairs with the real NIST sclite (``-i rm`` unless ``ids`` says otherwise).

    Returns sclite's own alignment of each utterance, read from its ``.pra`` report.
    """
    if not Path(SCLITE).exists():
        pytest.skip("NIST sclite (Debian package sctk) is not installed")

    def run(refs: dict[str, str], hyps: dict[str, str], *flags: str, ids: str = "rm") -> dict[str, PraUtt]:
        work = tmp_path_factory.mktemp("sclite")
        for name, texts in (("ref.trn", refs), ("hyp.trn", hyps)):
            lines = (f"{texts[u]} ({u})\n" for u in refs if u in texts)  # a hypothesis may be missing
            (work / name).write_text("".join(lines), encoding="utf-8")
        command = [SCLITE, "-r", "ref.trn", "trn", "-h", "hyp.trn", "trn", "-i", ids, *flags]
        subprocess.run([*command, "-o", "pra", "-O", "."], cwd=work, check=True, capture_output=True)
        return parse_pra((work / "hyp.trn.pra").read_text(encoding="utf-8", errors="replace"))

    return run


@pytest.fixture(scope="session")
def run_sclite(run_sclite_pra) -> Callable[..., dict[str, tuple[int, int, int, int]]]:
    """Score ``{utt_id: text}`` pairs with the real NIST sclite (``-i rm``): ``(C, S, D, I)`` per id."""

    def run(refs: dict[str, str], hyps: dict[str, str], *flags: str) -> dict[str, tuple[int, int, int, int]]:
        return {uid: utt.counts for uid, utt in run_sclite_pra(refs, hyps, *flags).items()}

    return run


def build_inputs(
    refs: dict[str, str],
    systems: dict[str, dict[str, str]],
    *,
    testset: str = "test",
    speakers: dict[str, str] | None = None,
    durations: dict[str, float] | None = None,
    failed: dict[str, set[str]] | None = None,
    fields: dict[str, dict[str, object]] | None = None,
    pred_fields: dict[str, dict[str, dict[str, object]]] | None = None,
) -> Inputs:
    """In-memory inputs of one test set: ``systems`` maps a system to ``{utt_id: hypothesis}``.

    ``failed`` maps a system to ids whose decode failed; ``fields`` maps a manifest field to per-utterance
    values; ``pred_fields`` maps a system to per-utterance prediction extras (``nbest``, ``greedy_text``).
    """
    utts = [
        RefUtt(
            uid,
            text,
            duration=(durations or {}).get(uid, 1.0 + len(text) / 15),
            speaker=(speakers or {}).get(uid),
            fields={name: values[uid] for name, values in (fields or {}).items() if uid in values},
        )
        for uid, text in refs.items()
    ]
    reference = Reference.of(Path(f"{testset}.jsonl"), utts)
    hyps = []
    for system, texts in systems.items():
        bad = (failed or {}).get(system, set())
        hyps.append(
            Hypotheses.of(
                system,
                Path(f"{system}.jsonl"),
                texts={u: t for u, t in texts.items() if u not in bad},
                failed={u: "decode failed" for u in bad},
                fields=(pred_fields or {}).get(system, {}),
            )
        )
    inputs = Inputs([TestSet(testset, reference, hyps)])
    match(inputs.testsets[0], inputs.warnings)
    return inputs


def build_utterance_table(
    refs: dict[str, str], systems: dict[str, dict[str, str]], missing: str = "deletions", **kwargs
) -> pd.DataFrame:
    """The real per-utterance table (``build_tables``, normaliser ``none``) of ``build_inputs``."""
    inputs = build_inputs(refs, systems, **kwargs)
    return build_tables(inputs, normalize="none", n_resamples=50, missing=missing).utterances


@pytest.fixture
def make_utts() -> Callable[..., pd.DataFrame]:
    """Factory for small per-utterance tables: ``make_utts(refs, {system: {utt_id: hyp}}, ...)``."""
    return build_utterance_table


@pytest.fixture
def make_inputs() -> Callable[..., Inputs]:
    """Factory for in-memory ``Inputs`` of one test set (see ``build_inputs``)."""
    return build_inputs


def write_results(
    root: Path,
    testset: str,
    manifest: list[Utterance],
    systems: dict[str, dict[str, dict[str, object]]],
    *,
    runs: dict[str, RunInfo] | None = None,
    with_manifest: bool = True,
) -> Path:
    """A results directory ``root/<testset>/<system>/predictions.jsonl`` (+ ``run.json``, ``manifest.jsonl``).

    ``systems`` maps a system to ``{utt_id: prediction fields}`` (``pred_text``, ``error``, ``nbest``,
    ``greedy_text``...); each prediction line is the manifest line plus those fields.
    """
    if with_manifest:
        write_manifest(root / testset / "manifest.jsonl", manifest)
    for system, predictions in systems.items():
        ref = system_dir(root, testset, system)
        lines = [
            json.dumps(u.to_json() | predictions[u.utt_id], ensure_ascii=False)
            for u in manifest
            if u.utt_id in predictions
        ]
        ref.path.mkdir(parents=True, exist_ok=True)
        (ref.path / PREDICTIONS).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        info = (runs or {}).get(system) or RunInfo(system=system, testset=testset, normalizer="none@1")
        write_run_info(ref, info)
    return root


@pytest.fixture(scope="session")
def make_results() -> Callable[..., Path]:
    """Factory for results directories in a test's tmp_path (see ``write_results``)."""
    return write_results
