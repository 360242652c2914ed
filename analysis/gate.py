"""The CI regression gate: does the candidate system make significantly more word errors than the baseline?

Per test set, the baseline and the candidate are paired on their utterances and the WER increase
``WER(candidate) - WER(baseline)`` is tested against the allowed margin with the paired bootstrap of
``significance.paired_bootstrap`` (Bisani & Ney 2004): shifting the candidate's errors by ``margin x
reference words`` per utterance makes its one-sided p-value ``P(increase <= margin)`` over the replicates.
The p-values of the test sets are Holm-corrected (family-wise error rate ``alpha`` across test sets). A
test set *fails* when its observed increase exceeds the margin and its corrected p-value is below alpha.

The baseline is a system of the same results directory or a baseline file (``save_baseline``): the
baseline run's raw hypotheses per test set, committed beside the code, rescored with today's normaliser
and costs. Both systems must cover exactly the same utterances: a hypothesis missing on either side is
an error, not a silently smaller test. Outputs (Markdown for a pull-request comment, JUnit XML for CI) are
rendered in full before either file is written, each atomically.
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from werbench.analysis.compare import pair_frame
from werbench.analysis.inputs import NO_HYPOTHESIS, Hypotheses, Inputs, match, read_results, shown_ids
from werbench.analysis.significance import format_p, holm, paired_bootstrap
from werbench.analysis.table_cache import TableOptions, inputs_tables
from werbench.analysis.tables import Tables
from werbench.manifests.atomic import atomic_write
from werbench.manifests.errors import ConfigError, ManifestError

BASELINE_FORMAT = "werbench-gate-baseline/1"


@dataclass(frozen=True, slots=True)
class TestsetVerdict:
    """One test set's outcome; rates are fractions, ``p_value`` Holm-corrected."""

    __test__ = False

    testset: str
    utts: int
    ref_words: int
    wer_baseline: float
    wer_candidate: float
    p_raw: float
    p_value: float
    failed: bool

    @property
    def increase(self) -> float:
        return self.wer_candidate - self.wer_baseline


@dataclass
class GateResult:
    """All test sets' verdicts; ``passed`` is the gate's answer (exit status 0)."""

    baseline: str
    candidate: str
    max_wer_increase: float  # WER points (percent), as given
    alpha: float
    verdicts: list[TestsetVerdict]
    normalizer: str
    warnings: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not any(v.failed for v in self.verdicts)


def save_baseline(results: str | Path, system: str, out: str | Path) -> Path:
    """Write ``system``'s raw hypotheses (and decode failures) of every test set as a baseline file."""
    inputs = read_results(results)
    testsets: dict[str, dict] = {}
    for testset in inputs.testsets:
        hyps = next((h for h in testset.systems if h.system == system), None)
        if hyps is None:
            continue
        frame = hyps.frame
        ok = frame["failure"].isna()
        testsets[testset.name] = {
            "hypotheses": dict(zip(frame["utt_id"][ok], frame["pred_text"][ok], strict=True)),
            "failed": dict(zip(frame["utt_id"][~ok], frame["failure"][~ok], strict=True)),
        }
    if not testsets:
        raise ConfigError("--baseline", f"no system {system!r} in {results}; systems: {_systems(inputs)}")
    payload = {"format": BASELINE_FORMAT, "system": system, "testsets": testsets}
    with atomic_write(out) as handle:
        json.dump(payload, handle, ensure_ascii=False, indent=1)
        handle.write("\n")
    return Path(out)


def _systems(inputs: Inputs) -> str:
    return ", ".join(sorted({h.system for t in inputs.testsets for h in t.systems}))


def _add_baseline_file(inputs: Inputs, path: Path) -> str:
    """The baseline file's hypotheses as one more system of each test set it covers; its name."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(path, f"not a readable baseline file ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != BASELINE_FORMAT:
        raise ManifestError(
            path, f"not a werbench gate baseline file (format {BASELINE_FORMAT})", field="format"
        )
    name = f"{data.get('system', 'baseline')} (baseline file)"
    by_name = {t.name: t for t in inputs.testsets}
    for testset, entry in data["testsets"].items():
        if testset in by_name:
            hyps = Hypotheses.of(name, path, entry.get("hypotheses", {}), entry.get("failed", {}))
            known = set(by_name[testset].reference.frame["utt_id"])
            unknown = [uid for uid in hyps.frame["utt_id"] if uid not in known]
            if unknown:
                raise ManifestError(
                    path,
                    f"{testset}: {len(unknown)} utterances the test set lacks ({shown_ids(unknown)}); "
                    "the test set changed since this baseline",
                )
            by_name[testset].systems.append(hyps)
            match(by_name[testset], [])  # missing ones become NO_HYPOTHESIS, which the gate refuses
    return name


def _check_system(inputs: Inputs, option: str, system: str) -> None:
    if not any(h.system == system for t in inputs.testsets for h in t.systems):
        raise ConfigError(option, f"no system {system!r}; systems: {_systems(inputs)}")


def _check_coverage(inputs: Inputs, testset: str, systems: tuple[str, str], where: dict[str, str]) -> None:
    """Both systems must have a hypothesis (or a recorded decode failure) for every utterance."""
    (entry,) = [t for t in inputs.testsets if t.name == testset]
    for hyps in entry.systems:
        if hyps.system in systems:
            missing = hyps.frame["utt_id"][hyps.frame["failure"] == NO_HYPOTHESIS]
            if len(missing):
                raise ManifestError(
                    where[hyps.system],
                    f"{testset}: {hyps.system!r} and the test set do not share utterances: no hypothesis "
                    f"for {len(missing)} of {len(hyps.frame)} ({shown_ids(missing)})",
                )


def run_gate(
    results: str | Path,
    baseline: str | Path,
    candidate: str,
    *,
    testsets: Sequence[str] | None = None,
    max_wer_increase: float = 0.1,
    alpha: float = 0.05,
    options: TableOptions = TableOptions(),
) -> GateResult:
    """Gate ``candidate`` against ``baseline`` (a system name, or a baseline file path) on ``testsets``
    (default: every test set that has both); ``max_wer_increase`` in WER points."""
    if not (0 < alpha < 1) or not math.isfinite(max_wer_increase) or max_wer_increase < 0:
        raise ConfigError("--alpha/--max-wer-increase", "alpha must be in (0, 1), the margin >= 0")
    results = Path(results)
    inputs = read_results(results)
    where = {candidate: "--candidate"}
    baseline_path = Path(baseline)
    if baseline_path.suffix == ".json" and baseline_path.is_file():
        base = _add_baseline_file(inputs, baseline_path)
        where[base] = str(baseline_path)
    else:
        base = str(baseline)
        _check_system(inputs, "--baseline", base)
        where[base] = "--baseline"
    _check_system(inputs, "--candidate", candidate)
    if base == candidate:
        raise ConfigError("--candidate", f"the candidate is the baseline ({candidate!r})")
    have = {t.name: {h.system for h in t.systems} for t in inputs.testsets}
    both = [name for name, systems in have.items() if {base, candidate} <= systems]
    chosen = list(testsets) if testsets else both
    for name in chosen:
        if name not in have:
            raise ConfigError("--testset", f"no test set {name!r}; test sets: {', '.join(have)}")
        if name not in both:
            raise ConfigError("--testset", f"{name}: not both {base!r} and {candidate!r} were run on it")
    if not chosen:
        raise ConfigError("--candidate", f"no test set has both {base!r} and {candidate!r}")
    for name in chosen:
        _check_coverage(inputs, name, (base, candidate), where)
    inputs.testsets = [t for t in inputs.testsets if t.name in chosen]
    for t in inputs.testsets:
        t.systems = [h for h in t.systems if h.system in (base, candidate)]
    tables = inputs_tables(inputs, options)
    rows = [_testset_row(tables, base, candidate, name, max_wer_increase / 100, options) for name in chosen]
    # a bootstrap p-value below its resolution enters the adjustment as the resolution (an upper bound)
    adjusted = holm([max(r[5], 1.0 / options.n_resamples) for r in rows]).tolist()
    verdicts = [
        TestsetVerdict(*row, p_value=p, failed=row[4] - row[3] > max_wer_increase / 100 and p < alpha)
        for row, p in zip(rows, adjusted, strict=True)
    ]
    return GateResult(base, candidate, max_wer_increase, alpha, verdicts, tables.normalizer, tables.warnings)


def _testset_row(
    tables: Tables, base: str, candidate: str, testset: str, margin: float, options: TableOptions
) -> tuple[str, int, int, float, float, float]:
    """Paired counts and the one-sided bootstrap p-value of ``increase <= margin`` on one test set."""
    pairs = pair_frame(tables.utterances, base, candidate, testset)
    ok = pairs[~pairs["failed"]]
    if ok.empty:
        raise ManifestError(testset, f"{base!r} and {candidate!r} share no decoded utterance")
    ref = ok["ref_words"].to_numpy(np.float64)
    err_a, err_b = ok["err_a"].to_numpy(np.float64), ok["err_b"].to_numpy(np.float64)
    words = float(ref.sum())
    boot = paired_bootstrap(
        err_a, err_b - margin * ref, ref, n_resamples=options.n_resamples, seed=options.seed
    )
    p_raw = 1.0 - boot.details["p_a_better"]  # P(WER(cand) - margin <= WER(base)) over the replicates
    return testset, len(ok), int(words), err_a.sum() / words, err_b.sum() / words, p_raw


# ------------------------------------------------------------------------------------------------ outputs


def _p_equals(p: float) -> str:
    text = format_p(p)
    return text if text.startswith("<") else f"= {text}"


def _pct(value: float) -> str:
    return f"{100 * value:.2f}%"


def markdown(result: GateResult) -> str:
    """A pull-request comment: the verdict, then one table row per test set."""
    status = "passed" if result.passed else "FAILED"
    lines = [
        f"## werbench gate {status}: `{result.candidate}` against `{result.baseline}`",
        "",
        f"Fails a test set when WER rises by more than {result.max_wer_increase:g} points and the rise is "
        f"significant (paired bootstrap, Holm-corrected across {len(result.verdicts)} test sets, "
        f"alpha {result.alpha:g}). Text mode `{result.normalizer}`.",
        "",
        "| test set | utterances | words | baseline WER | candidate WER | change | p (Holm) | verdict |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for v in result.verdicts:
        verdict = "**regression**" if v.failed else "ok"
        lines.append(
            f"| {v.testset} | {v.utts} | {v.ref_words} | {_pct(v.wer_baseline)} | {_pct(v.wer_candidate)} "
            f"| {100 * v.increase:+.2f} | {format_p(v.p_value)} | {verdict} |"
        )
    lines += [f"- warning: {w}" for w in result.warnings]
    return "\n".join(lines) + "\n"


def junit_xml(result: GateResult) -> bytes:
    """One ``<testcase>`` per test set (a ``<failure>`` where it regressed), as CI systems display it."""
    suite = ET.Element(
        "testsuite",
        name=f"werbench gate {result.candidate} vs {result.baseline}",
        tests=str(len(result.verdicts)),
        failures=str(sum(v.failed for v in result.verdicts)),
        errors="0",
    )
    for v in result.verdicts:
        case = ET.SubElement(suite, "testcase", classname="werbench.gate", name=v.testset)
        summary = (
            f"WER {_pct(v.wer_baseline)} -> {_pct(v.wer_candidate)} ({100 * v.increase:+.2f} points, "
            f"margin {result.max_wer_increase:g}), p {_p_equals(v.p_value)} (Holm), alpha {result.alpha:g}"
        )
        if v.failed:
            ET.SubElement(case, "failure", message=f"significant WER regression: {summary}").text = summary
        else:
            ET.SubElement(case, "system-out").text = summary
    return ET.tostring(ET.ElementTree(suite).getroot(), encoding="utf-8", xml_declaration=True)


def write_outputs(result: GateResult, markdown_out: Path | None, junit_out: Path | None) -> list[Path]:
    """Both files rendered first, then each written atomically: never a partial file."""
    rendered = [(markdown_out, markdown(result).encode()), (junit_out, junit_xml(result))]
    written = []
    for path, data in rendered:
        if path is not None:
            with atomic_write(path, "wb") as handle:
                handle.write(data)
            written.append(path)
    return written
