"""Fixtures shared by the analysis tests."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.align import align_counts

SCLITE = shutil.which("sclite") or "/usr/lib/sctk/bin/sclite"


@pytest.fixture(scope="session")
def sclite_fixtures(shared_dir: Path) -> list[tuple[str, Path, Path, Path]]:
    """``(name, ref.trn, hyp.trn, sclite's scores json)`` for each scored system in the shared fixtures."""
    folder = shared_dir / "fixtures" / "sclite"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    out = []
    for scored in sorted(folder.glob("*.sclite.json")):
        name = scored.name.removesuffix(".sclite.json")
        ref = folder / f"{name.split('_', 1)[0]}_ref.trn"
        out.append((name, ref, folder / f"{name}.trn", scored))
    return out


@pytest.fixture(scope="session")
def run_sclite(
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[..., dict[str, tuple[int, int, int, int]]]:
    """Score ``{utt_id: text}`` pairs with the real NIST sclite (``-i rm``): ``(C, S, D, I)`` per id."""
    if not Path(SCLITE).exists():
        pytest.skip("NIST sclite (Debian package sctk) is not installed")

    def run(refs: dict[str, str], hyps: dict[str, str], *flags: str) -> dict[str, tuple[int, int, int, int]]:
        work = tmp_path_factory.mktemp("sclite")
        for name, texts in (("ref.trn", refs), ("hyp.trn", hyps)):
            (work / name).write_text("".join(f"{texts[u]} ({u})\n" for u in refs), encoding="utf-8")
        command = [SCLITE, "-r", "ref.trn", "trn", "-h", "hyp.trn", "trn", "-i", "rm", *flags]
        subprocess.run([*command, "-o", "pra", "-O", "."], cwd=work, check=True, capture_output=True)
        text = (work / "hyp.trn.pra").read_text(encoding="utf-8", errors="replace")
        ids = re.findall(r"^id: \((.+)\)$", text, re.M)
        scores = re.findall(r"^Scores: \(#C #S #D #I\) (\d+) (\d+) (\d+) (\d+)$", text, re.M)
        return {uid: tuple(int(x) for x in s) for uid, s in zip(ids, scores, strict=True)}

    return run


def build_utterance_table(
    refs: dict[str, str],
    systems: dict[str, dict[str, str]],
    *,
    testset: str = "test",
    speakers: dict[str, str] | None = None,
    durations: dict[str, float] | None = None,
    failed: dict[str, set[str]] | None = None,
    extra: dict[str, dict[str, object]] | None = None,
) -> pd.DataFrame:
    """A per-utterance table with the columns docs/ARCHITECTURE.md fixes, aligned by the one aligner.

    ``failed`` maps a system to utterance ids whose decode failed (empty hypothesis, counts of zero).
    ``extra`` maps a column name to per-utterance values (other manifest fields).
    """
    rows = []
    for system, hyps in systems.items():
        ids = list(refs)
        ref_texts = [refs[i] for i in ids]
        hyp_texts = [hyps.get(i, "") for i in ids]
        words = align_counts(ref_texts, hyp_texts, "sclite")
        chars = align_counts(ref_texts, hyp_texts, "sclite", unit="char", want_ops=False)
        for k, utt in enumerate(ids):
            c, s, d, i = (int(x) for x in words.counts[k])
            cc, cs, cd, ci = (int(x) for x in chars.counts[k])
            is_failed = utt in (failed or {}).get(system, set())
            if is_failed:
                c = s = d = i = cc = cs = cd = ci = 0
            ref_words, ref_chars = c + s + d, cc + cs + cd
            row = {
                "testset": testset,
                "system": system,
                "utt_id": utt,
                "ref": ref_texts[k],
                "hyp": "" if is_failed else hyp_texts[k],
                "C": c,
                "S": s,
                "D": d,
                "I": i,
                "ref_words": len(ref_texts[k].split()) if is_failed else ref_words,
                "hyp_words": c + s + i,
                "wer": (s + d + i) / ref_words if ref_words else np.nan,
                "char_C": cc,
                "char_S": cs,
                "char_D": cd,
                "char_I": ci,
                "ref_chars": ref_chars,
                "cer": (cs + cd + ci) / ref_chars if ref_chars else np.nan,
                "sentence_error": bool(s + d + i) and not is_failed,
                "wmr": c / ref_words if ref_words else np.nan,
                "ops": "" if is_failed else words.ops[k],
                "failed": is_failed,
                "duration": (durations or {}).get(utt, 1.0 + len(ref_texts[k]) / 15),
                "speaker": (speakers or {}).get(utt),
            }
            for column, values in (extra or {}).items():
                row[column] = values.get(utt)
            rows.append(row)
    return pd.DataFrame(rows)


@pytest.fixture
def make_utts() -> Callable[..., pd.DataFrame]:
    """Factory for small per-utterance tables: ``make_utts(refs, {system: {utt_id: hyp}}, ...)``."""
    return build_utterance_table
