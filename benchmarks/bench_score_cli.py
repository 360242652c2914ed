"""Whole-process speed of ``werbench score`` and ``werbench report`` on files, against jiwer in the same run.

Issue #13's command-line rows: ``werbench score REF HYP... --json --csv`` as a user runs it (a fresh
process, an empty cache) on N trn pairs (~13 words, many ties), on the same pairs as NeMo JSONL manifests,
and on N pairs x S systems; anchor: jiwer 4 ``process_words`` in this process on the already-parsed pairs
(per system). ``werbench report RESULTS --html --csv --trn`` on a results directory of N utterances x S
systems (cold). Each figure is the worst of ``--repeat`` runs, each with the load average beside it (the
machine is shared); peak RSS is the command's own (``wait4``). Per-utterance counts are compared with
the NIST sclite binary's where it is installed (``--sclite``, a few minutes per 200k pairs).

The data is generated deterministically (``--seed``) with numpy and Arrow: Zipf-distributed pseudo-words
from a small vocabulary, substitutions drawn from it too, so that many alignments tie.

    .venv/bin/python benchmarks/bench_score_cli.py --rows score,manifests --pairs 200000
    .venv/bin/python benchmarks/bench_score_cli.py --rows systems,report --pairs 1000000 --systems 4 \\
        --anchor-pairs 200000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

WERBENCH = [str(Path(sys.executable).with_name("werbench"))]
TARGETS = {"score": 10.0, "manifests": 10.0, "systems": 10.0}  # x jiwer
RSS_LIMIT_MB = {"systems": 3 * 1024, "report": 4 * 1024}
REPORT_LIMIT_S = 60.0
SYLLABLES = ["ka", "to", "ri", "me", "su", "no", "la", "pe", "di", "go", "an", "ex", "or", "un", "is"]


def load() -> str:
    return "load {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def _join(*parts: str | pa.Array) -> pa.Array:
    """Row-wise concatenation of text columns and literal strings (``""``-separated)."""
    parts = (*parts, "")  # the separator
    return pc.binary_join_element_wise(
        *(pa.scalar(p, pa.large_string()) if isinstance(p, str) else p for p in parts)
    )


class Corpus:
    """N reference utterances and S systems' hypotheses, as Arrow text columns (ids ``spkNNN-uNNNNNNN``)."""

    def __init__(self, pairs: int, systems: int, words: int = 13, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        vocab = np.unique(["".join(rng.choice(SYLLABLES, rng.integers(1, 4))) for _ in range(3000)])
        weights = 1.0 / np.arange(1, len(vocab) + 1)
        weights /= weights.sum()
        self.vocab = pa.array(vocab.tolist(), pa.large_string())
        lengths = np.clip(rng.normal(words, 4, pairs).round(), 1, None).astype(np.int64)
        self.ref_tokens = rng.choice(len(vocab), lengths.sum(), p=weights)
        self.ref_lengths = lengths
        self.ids = _join(
            "spk", pc.cast(pa.array(np.arange(pairs) % 997), pa.large_string()), "-u",
            pc.cast(pa.array(np.arange(pairs)), pa.large_string()),
        )  # fmt: skip
        self.refs = self._texts(self.ref_tokens, lengths)
        self.hyps = [self._corrupt(rng, 0.08 + 0.03 * s, weights) for s in range(systems)]

    def _texts(self, tokens: np.ndarray, lengths: np.ndarray) -> pa.Array:
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        words = pa.LargeListArray.from_arrays(pa.array(offsets), self.vocab.take(pa.array(tokens)))
        return pc.binary_join(words, pa.scalar(" ", pa.large_string()))

    def _corrupt(self, rng: np.random.Generator, rate: float, weights: np.ndarray) -> pa.Array:
        """Per reference word: substitution, deletion, insertion after it (2:1:1) or kept."""
        roll = rng.random(len(self.ref_tokens))
        sub, dele, ins = roll < rate / 2, (roll >= rate / 2) & (roll < rate * 3 / 4), roll >= 1 - rate / 4
        first = np.where(sub, rng.choice(len(weights), len(roll), p=weights), self.ref_tokens)
        second = rng.choice(len(weights), len(roll), p=weights)
        keep = np.stack([~dele, ins], axis=1)
        tokens = np.stack([first, second], axis=1)[keep]
        owner = np.repeat(np.arange(len(self.ref_lengths)), self.ref_lengths)
        lengths = np.bincount(owner, weights=keep.sum(axis=1), minlength=len(self.ref_lengths))
        return self._texts(tokens, lengths.astype(np.int64))

    def write_trn(self, path: Path, texts: pa.Array) -> Path:
        lines = _join(texts, " (", self.ids, ")\n")
        path.write_text("".join(lines.to_pylist()))
        return path

    def manifest_lines(self, texts: pa.Array, pred: pa.Array | None = None) -> pa.Array:
        """JSON lines (the words and ids need no escaping): what a NeMo manifest or result manifest holds."""
        parts = ['{"audio_filepath": "/data/', self.ids, '.wav", "duration": 3.5, "text": "', texts]
        if pred is not None:
            parts += ['", "pred_text": "', pred]
        parts += ['", "utt_id": "', self.ids, '"}\n']
        return _join(*parts)

    def write_jsonl(self, path: Path, texts: pa.Array, pred: pa.Array | None = None) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(self.manifest_lines(texts, pred).to_pylist()))
        return path

    def write_results(self, root: Path) -> Path:
        """RESULTS/bench/<system>/predictions.jsonl + run.json, and the test set's manifest.jsonl."""
        from werbench.manifests.results import RunInfo, system_dir, write_run_info

        self.write_jsonl(root / "bench" / "manifest.jsonl", self.refs)
        for s, hyp in enumerate(self.hyps):
            name = f"model{s}@greedy"
            self.write_jsonl(root / "bench" / name / "predictions.jsonl", self.refs, hyp)
            info = RunInfo(system=name, testset="bench", decoder={"type": "greedy", "params": {}})
            write_run_info(system_dir(root, "bench", name), info)
        return root


@dataclass(frozen=True, order=True)
class Run:
    """One timed run: wall and CPU seconds (user + system: less moved by a shared machine), peak RSS."""

    wall: float
    cpu: float
    rss_mb: float = 0.0
    load: str = ""

    def text(self) -> str:
        rss = f", peak RSS {self.rss_mb:,.0f} MB" if self.rss_mb else ""
        return f"{self.wall:.2f} s wall, {self.cpu:.2f} s CPU{rss} ({self.load})"


# Runs the command and prints its rusage. Linux carries ``ru_maxrss`` across ``exec`` from the launching
# address space, so a command started straight from this process (which holds the generated corpus) would
# report this process' peak; started from this small launcher it reports its own.
_LAUNCHER = """
import os, subprocess, sys, time
start = time.perf_counter()
process = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(process.pid, 0)
wall = time.perf_counter() - start
print(os.waitstatus_to_exitcode(status), wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss)
"""


def run(command: list[str], cache: Path) -> Run:
    """One command with an empty cache of its own, as a user runs it (its own process)."""
    env = {**os.environ, "WERBENCH_CACHE": str(cache)}
    with tempfile.TemporaryFile() as err:
        launcher = [sys.executable, "-c", _LAUNCHER, *command]
        launched = subprocess.run(launcher, stdout=subprocess.PIPE, stderr=err, env=env, text=True)
        code, wall, cpu, maxrss_kb = launched.stdout.split() or ("1", "0", "0", "0")
        if launched.returncode or int(code):
            err.seek(0)
            raise SystemExit(f"{' '.join(command)} failed:\n{err.read().decode()[-3000:]}")
        return Run(float(wall), float(cpu), int(maxrss_kb) / 1024, load())


def runs(name: str, command: list[str], folder: Path, repeat: int) -> list[Run]:
    """``repeat`` cold runs, each printed."""
    figures = []
    for k in range(repeat):
        figures.append(run(command, folder / f"cache-{name}-{k}"))
        print(f"  {name} run {k + 1}: {figures[-1].text()}", flush=True)
    return figures


def jiwer_run(corpus: Corpus, pairs: int) -> Run:
    """jiwer 4 process_words on every system's first ``pairs`` pairs (already parsed), scaled to all."""
    import jiwer

    refs = corpus.refs.slice(0, pairs).to_pylist()
    wall = cpu = 0.0
    for hyps in corpus.hyps:
        texts = hyps.slice(0, pairs).to_pylist()
        start, start_cpu = time.perf_counter(), time.process_time()
        jiwer.process_words(refs, texts)
        wall, cpu = wall + time.perf_counter() - start, cpu + time.process_time() - start_cpu
    scale = len(corpus.refs) / len(refs)
    return Run(wall * scale, cpu * scale, load=load())


def sclite_agreement(corpus: Corpus, scored: dict) -> str:
    """How many utterances of the first system have exactly sclite's counts (the real binary)."""
    from bench_align import run_sclite

    result = run_sclite(corpus.refs.to_pylist(), corpus.hyps[0].to_pylist())
    if result is None:
        return "sclite binary not installed: counts not compared"
    ids = corpus.ids.to_pylist()
    ours = scored["systems"][next(iter(scored["systems"]))]["utterances"]
    agree = sum(result[1].get(f"spk_{k}") == tuple(ours[uid][x] for x in "CSDI") for k, uid in enumerate(ids))
    return f"per-utterance counts identical to the sclite binary's: {agree:,} of {len(ids):,}"


def score_row(name: str, corpus: Corpus, folder: Path, args: argparse.Namespace, anchor: Run) -> None:
    if name == "manifests":
        ref = corpus.write_jsonl(folder / "ref.jsonl", corpus.refs)
        hyps = [
            corpus.write_jsonl(folder / f"sys{s}.jsonl", corpus.refs, h) for s, h in enumerate(corpus.hyps)
        ]
    else:
        ref = corpus.write_trn(folder / "ref.trn", corpus.refs)
        hyps = [corpus.write_trn(folder / f"sys{s}.trn", h) for s, h in enumerate(corpus.hyps)]
    out = folder / "out"
    command = [*WERBENCH, "score", str(ref), *map(str, hyps), "--json", f"{out}.json", "--csv", f"{out}.csv"]
    figures = runs(name, command, folder, args.repeat)
    worst, rss = max(figures), max(f.rss_mb for f in figures)
    ratio, cpu_ratio = anchor.wall / worst.wall, anchor.cpu / max(f.cpu for f in figures)
    target = TARGETS[name]
    rss_limit = RSS_LIMIT_MB.get(name)
    verdict = "met" if ratio >= target and (rss_limit is None or rss <= rss_limit) else "MISSED"
    rss_note = f" (limit {rss_limit:,} MB)" if rss_limit else ""
    print(
        f"{name}: {len(corpus.refs):,} pairs x {len(corpus.hyps)} systems; werbench worst of {len(figures)}: "
        f"{worst.text()}; {ratio:.1f}x jiwer's wall (target >= {target:.0f}x), {cpu_ratio:.1f}x its CPU; "
        f"peak RSS {rss:,.0f} MB{rss_note}: {verdict}",
        flush=True,
    )
    if args.sclite and name == "score":
        print("  " + sclite_agreement(corpus, json.loads(Path(f"{out}.json").read_text())), flush=True)


def report_row(corpus: Corpus, folder: Path, args: argparse.Namespace) -> None:
    results = corpus.write_results(folder / "results")
    out = folder / "report"
    outputs = ["--html", f"{out}.html", "--csv", f"{out}-csv", "--trn", f"{out}-trn"]
    command = [*WERBENCH, "report", str(results), *outputs]
    figures = runs("report", command, folder, args.repeat)
    worst, rss = max(figures), max(f.rss_mb for f in figures)
    verdict = "met" if worst.wall <= REPORT_LIMIT_S and rss <= RSS_LIMIT_MB["report"] else "MISSED"
    print(
        f"report: {len(corpus.refs):,} utterances x {len(corpus.hyps)} systems, HTML + CSV + trn, cold, "
        f"worst of {len(figures)}: {worst.text()} (target <= {REPORT_LIMIT_S:.0f} s wall); peak RSS "
        f"{rss:,.0f} MB (limit {RSS_LIMIT_MB['report']:,} MB): {verdict}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="score,manifests", help="score, manifests, systems, report")
    parser.add_argument("--pairs", type=int, default=200_000)
    parser.add_argument("--systems", type=int, default=1, help="systems of the systems and report rows")
    parser.add_argument(
        "--anchor-pairs", type=int, default=0, help="time jiwer on this many, scaled (0: all)"
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sclite", action="store_true", help="compare counts with the sclite binary")
    args = parser.parse_args()
    rows = args.rows.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        single = Corpus(args.pairs, 1, seed=args.seed) if {"score", "manifests"} & set(rows) else None
        several = (
            Corpus(args.pairs, args.systems, seed=args.seed) if {"systems", "report"} & set(rows) else None
        )
        print(f"data generated in {time.perf_counter() - start:.1f} s ({load()})", flush=True)
        for corpus in (single, several):
            if corpus is None:
                continue
            pairs = min(args.anchor_pairs or args.pairs, args.pairs)
            anchor = jiwer_run(corpus, pairs)
            scaled = f" (scaled from {pairs:,} pairs)" if pairs < args.pairs else ""
            print(
                f"anchor: jiwer 4 process_words in-process, {args.pairs:,} pairs x {len(corpus.hyps)}: "
                f"{anchor.text()}{scaled}",
                flush=True,
            )
            names = ("score", "manifests") if corpus is single else ("systems", "report")
            for name in names:
                if name not in rows:
                    continue
                if name == "report":
                    report_row(corpus, folder, args)
                else:
                    score_row(name, corpus, folder, args, anchor)


if __name__ == "__main__":
    main()
