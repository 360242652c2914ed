"""Speed of the analysis views on a large benchmark: error tables, breakdowns, significance, report.

Builds N utterances (default 100,000, ~20 words, ~10% word errors, 1,000 speakers) for S systems
(default 12) in memory, runs ``build_tables`` once (the aligner; timed separately by bench_align.py),
then times each view the reports and the dashboard compute, and prints each figure beside its anchor.

    .venv/bin/python benchmarks/bench_analysis_reports.py [--utts 100000] [--systems 12] [--boot 1000]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from werbench.analysis.breakdown import breakdown
from werbench.analysis.compare import compare_systems
from werbench.analysis.errors import error_tables
from werbench.analysis.inputs import Hypotheses, Inputs, Reference, RefUtt, TestSet, match
from werbench.analysis.nbest import nbest_oracle
from werbench.analysis.report_data import build_report
from werbench.analysis.report_html import render_html
from werbench.analysis.tables import build_tables
from werbench.manifests.normalize import get_normalizer

# what "feels instant" means for a 100k x 12 benchmark, per view
ANCHORS = {
    "error tables (all systems)": 15.0,
    "breakdown by speaker, 1000 groups (all systems)": 10.0,
    "breakdown by duration (all systems)": 5.0,
    "compare one pair: every test": 5.0,
    "n-best oracle (one system, 4-best)": 15.0,
    "build_report (everything)": 90.0,
    "render HTML": 10.0,
}


def corpus(n_utts: int, n_systems: int, seed: int) -> Inputs:
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(5000)]
    utts = []
    for k in range(n_utts):
        words = rng.choices(vocab, k=rng.randint(14, 26))
        utts.append(RefUtt(f"u{k:06d}", " ".join(words), rng.uniform(1, 30), f"spk{k % 1000}"))
    systems = []
    for s in range(n_systems):
        p = 0.06 + 0.01 * s
        texts, fields = {}, {}
        for utt in utts:
            uid = utt.utt_id
            out = []
            for w in utt.text.split():
                r = rng.random()
                if r < p / 3:
                    continue
                out.append(rng.choice(vocab) if r < 2 * p / 3 else w)
                if 2 * p / 3 <= r < p:
                    out.append(rng.choice(vocab))
            texts[uid] = " ".join(out)
            if s == 0:
                fields[uid] = {
                    "nbest": [{"text": texts[uid]}, {"text": utt.text}, {"text": ""}, {"text": "w1"}]
                }
        systems.append(Hypotheses.of(f"m{s}@beam", Path(f"m{s}.jsonl"), texts, fields=fields))
    inputs = Inputs([TestSet("bench", Reference.of(Path("bench.jsonl"), utts), systems)])
    match(inputs.testsets[0], inputs.warnings)
    return inputs


def timed(label: str, fn):
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    anchor = ANCHORS.get(label)
    verdict = "" if anchor is None else ("  ok" if seconds <= anchor else "  SLOW")
    print(
        f"{label:<52} {seconds:8.2f} s" + (f"   (anchor <= {anchor:.0f} s){verdict}" if anchor else ""),
        flush=True,
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--utts", type=int, default=100_000)
    parser.add_argument("--systems", type=int, default=12)
    parser.add_argument("--boot", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"{args.utts:,} utterances x {args.systems} systems, {args.boot} bootstrap resamples")
    inputs = timed("make corpus", lambda: corpus(args.utts, args.systems, args.seed))
    tables = timed(
        "build_tables (align + per-system CIs)",
        lambda: build_tables(inputs, normalize="none", n_resamples=args.boot),
    )
    utts = tables.utterances
    timed("error tables (all systems)", lambda: error_tables(utts))
    timed(
        "breakdown by speaker, 1000 groups (all systems)",
        lambda: breakdown(utts, "speaker", n_resamples=args.boot),
    )
    timed("breakdown by duration (all systems)", lambda: breakdown(utts, "duration", n_resamples=args.boot))
    timed(
        "compare one pair: every test",
        lambda: compare_systems(utts, "m0@beam", "m1@beam", n_resamples=args.boot),
    )
    none = get_normalizer("none")
    timed("n-best oracle (one system, 4-best)", lambda: nbest_oracle(utts, normalize=none))
    report = timed("build_report (everything)", lambda: build_report(tables, n_resamples=args.boot))
    html = timed("render HTML", lambda: render_html(report))
    print(f"HTML size: {len(html) / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
