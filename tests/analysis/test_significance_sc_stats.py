"""The ``sc_stats`` flavour reproduces NIST sc_stats' numbers on alignments sclite itself made.

The alignments are read back from sclite's SGML output, so this checks the statistics alone, independent
of werbench's aligner. Skips when SCTK is not installed.
"""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from werbench.analysis import significance as sg

SCTK = Path("/usr/lib/sctk/bin")
SCLITE = shutil.which("sclite") or str(SCTK / "sclite")
SC_STATS = shutil.which("sc_stats") or str(SCTK / "sc_stats")

pytestmark = pytest.mark.skipif(not Path(SC_STATS).exists(), reason="NIST SCTK (sc_stats) is not installed")

SYSTEMS = {"alpha": 0.10, "bravo": 0.18, "charlie": 0.11}


def _corrupt(words: list[str], p: float, vocab: list[str], rng: np.random.Generator) -> list[str]:
    out: list[str] = []
    for w in words:
        r = rng.random()
        if r < p / 3:
            continue
        if r < 2 * p / 3:
            out.append(str(rng.choice(vocab)))
        elif r < p:
            out += [w, str(rng.choice(vocab))]
        else:
            out.append(w)
    if rng.random() < p:
        out.append(str(rng.choice(vocab)))
    return out


@pytest.fixture(scope="module")
def sctk_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three systems on 54 utterances of 9 speakers, scored by sclite, compared by sc_stats."""
    work = tmp_path_factory.mktemp("sctk")
    rng = np.random.default_rng(11)
    vocab = [f"w{i}" for i in range(60)]
    refs = {
        f"s{u % 9 + 1}-u{u:03d}": [str(w) for w in rng.choice(vocab, size=rng.integers(4, 16))]
        for u in range(54)
    }
    (work / "ref.trn").write_text("".join(f"{' '.join(w)} ({i})\n" for i, w in refs.items()))
    for name, p in SYSTEMS.items():
        lines = []
        for utt, words in refs.items():
            hyp = words if utt.startswith("s9-") else _corrupt(words, p, vocab, rng)  # s9: a tie everywhere
            lines.append(f"{' '.join(hyp)} ({utt})\n")
        (work / f"{name}.trn").write_text("".join(lines))
        subprocess.run(
            [SCLITE, "-r", "ref.trn", "trn", "-h", f"{name}.trn", "trn", "-i", "rm", "-o", "sgml", "-O", "."],
            cwd=work,
            check=True,
            capture_output=True,
        )
    sgml = "".join((work / f"{n}.trn.sgml").read_text() for n in SYSTEMS)
    for flags, out in ((["-u"], "all"), ([], "pairs")):
        subprocess.run(
            [SC_STATS, "-p", "-t", "mapsswe", "sign", "wilc", "mcn", "-v", *flags, "-n", out],
            cwd=work,
            input=sgml,
            text=True,
            check=True,
            capture_output=True,
        )
    return work


def _read_sgml(path: Path) -> dict[str, tuple[str, str]]:
    """``utt_id -> (speaker, ops)`` from sclite's SGML alignment paths."""
    out: dict[str, tuple[str, str]] = {}
    speaker = utt = None
    for line in path.read_text().splitlines():
        if m := re.match(r'<SPEAKER id="([^"]+)"', line):
            speaker = m.group(1)
        elif m := re.match(r'<PATH id="\(([^)]+)\)"', line):
            utt = m.group(1)
            out[utt] = (speaker, "")
        elif line.startswith("</PATH"):
            utt = None
        elif utt is not None:
            out[utt] = (speaker, "".join(item[0] for item in line.strip().split(":") if item))
    return out


def _scores(work: Path, a: str, b: str) -> sg.PairedScores:
    sys_a, sys_b = _read_sgml(work / f"{a}.trn.sgml"), _read_sgml(work / f"{b}.trn.sgml")
    ids = sorted(sys_a)
    ops_a = [sys_a[i][1] for i in ids]
    ops_b = [sys_b[i][1] for i in ids]
    return sg.PairedScores(
        err_a=np.array([sum(c != "C" for c in o) for o in ops_a]),
        err_b=np.array([sum(c != "C" for c in o) for o in ops_b]),
        ref_words=np.array([sum(c != "I" for c in o) for o in ops_a]),
        ops_a=ops_a,
        ops_b=ops_b,
        speakers=np.array([sys_a[i][0] for i in ids]),
    )


def _unified_p_values(work: Path) -> dict[tuple[str, str, str], str]:
    """``(test, row system, column system) -> p`` text from sc_stats' unified comparison matrix."""
    names = [f"{n}.trn" for n in SYSTEMS]
    out: dict[tuple[str, str, str], str] = {}
    row = None
    for line in (work / "all.stats.unified").read_text().splitlines():
        # "|  MP  || alpha.trn |  | alpha.trn  0.002  ** |  ~  0.936  ||  MP  |": test, row, cells
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 + len(names) or cells[0] not in ("MP", "SI", "WI", "MN"):
            continue
        row = cells[2] or row
        for col_name, cell in zip(names, cells[3 : 3 + len(names)], strict=True):
            if m := re.search(r"(<0\.001|\d\.\d{3})", cell):
                out[(cells[0], row.removesuffix(".trn"), col_name.removesuffix(".trn"))] = m.group(1)
    return out


def _close(ours: float, theirs: str) -> bool:
    if theirs == "<0.001":
        return ours < 0.001
    return abs(ours - float(theirs)) <= 0.0005 + 1e-9


PAIRS = list(itertools.combinations(SYSTEMS, 2))


@pytest.mark.parametrize(("a", "b"), PAIRS)
def test_mapsswe_matches_sc_stats(sctk_run: Path, a: str, b: str) -> None:
    text = (sctk_run / "pairs.stats.mapsswe").read_text()
    m = re.search(
        rf"MTCH_PR_RESULTS \(systems: {a}\.trn {b}\.trn\) \(# segs: (\d+)\).*?\(mean: ([-\d.]+)\) "
        r"\(std dev: ([-\d.]+)\) \(Z Stat: ([-\d.]+)\)",
        text,
    )
    assert m, f"no MAPSSWE result for {a} vs {b} in sc_stats' report"
    scores = _scores(sctk_run, a, b)
    res = sg.mapsswe(scores.ops_a, scores.ops_b)
    assert res.n == int(m.group(1))
    assert res.details["mean_diff"] == pytest.approx(float(m.group(2)), abs=5e-4)
    assert res.details["std_diff"] == pytest.approx(float(m.group(3)), abs=5e-4)
    assert res.statistic == pytest.approx(float(m.group(4)), abs=5e-4)


@pytest.mark.parametrize(("a", "b"), PAIRS)
def test_p_values_match_sc_stats(sctk_run: Path, a: str, b: str) -> None:
    theirs = _unified_p_values(sctk_run)
    scores = _scores(sctk_run, a, b)
    ours = {r.name: r for r in sg.run_tests(scores, flavour="sc_stats", n_resamples=10)}
    for code, name in (
        ("MP", "mapsswe"),
        ("SI", "sign_speaker"),
        ("WI", "wilcoxon_speaker"),
        ("MN", "mcnemar"),
    ):
        assert _close(ours[name].p_value, theirs[(code, a, b)]), (
            code,
            ours[name].p_value,
            theirs[(code, a, b)],
        )


def test_sign_and_wilcoxon_details_match_sc_stats(sctk_run: Path) -> None:
    """The speaker tables: ties (speaker s9 is identical in every system) and rank sums."""
    sign = (sctk_run / "pairs.stats.sign").read_text()
    wilc = (sctk_run / "pairs.stats.wilc").read_text()
    plus = [int(x) for x in re.findall(r"N\(\+\) =\s+(\d+)", sign)]
    zero = [int(x) for x in re.findall(r"N\(0\) =\s+(\d+)", sign)]
    rank_sums = re.findall(r"Sum of\s+\d+ positive ranks =\s+([\d.]+)", wilc)
    z_stats = [float(x) for x in re.findall(r"The Z statistic = ([-\d.]+)", wilc)]
    assert len(plus) == len(zero) == len(rank_sums) == len(z_stats) == len(PAIRS)
    for k, (a, b) in enumerate(PAIRS):
        scores = _scores(sctk_run, a, b)
        rates_a = sg.speaker_error_rates(scores.err_a, scores.ref_words, scores.speakers)
        rates_b = sg.speaker_error_rates(scores.err_b, scores.ref_words, scores.speakers)
        x_a = np.array([rates_a[s] for s in sorted(rates_a)])
        x_b = np.array([rates_b[s] for s in sorted(rates_b)])
        sign_res = sg.sign_test(x_a, x_b, flavour="sc_stats")
        assert sign_res.details["ties"] == zero[k] >= 1
        wil = sg.wilcoxon_test(x_a, x_b, flavour="sc_stats")
        assert abs(wil.statistic) == pytest.approx(abs(z_stats[k]), abs=5e-3)
        # sc_stats' "positive" ranks are the speakers won by the system better on average
        positive = "rank_sum_a_better" if x_a.sum() <= x_b.sum() else "rank_sum_b_better"
        assert wil.details[positive] == pytest.approx(float(rank_sums[k]))
