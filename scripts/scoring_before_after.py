"""Before/after of the figures issue 12 changed: WER, CER, failed/missing, rank and p against the best.

Scores the same results directories with an older werbench source tree (``--before``: e.g. the pre-issue
commit, ``git archive 48b7b30 | tar -x -C /tmp/before``) and with the installed one, and prints one row per
test set and system with both figures side by side. ``--generate DIR`` first writes a seeded set made to
show each change: a system that fails on its hardest utterances (ranked on the decoded ones before, on the
whole set now), near-identical systems (Holm-adjusted p-values), a far worse one (p printed as 0 before),
and mixed-case references scored with the text mode ``none`` (case folded before, exact now).

    python scripts/scoring_before_after.py --before /tmp/before --generate /tmp/gen /tmp/gen demo-results
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

# Runs in a child process against either source tree: the old one has top-level packages (``analysis``),
# the new one the ``werbench.*`` namespace, Holm-adjusted ``versus_best`` and ``--missing``.
_FIGURES = r"""
import json, sys
results = sys.argv[1]
if sys.argv[2] == "old":
    from analysis.inputs import read_results
    from analysis.report_data import versus_best
    from analysis.tables import build_tables
    tables = build_tables(read_results(results), n_resamples=1000, seed=0)
    best = {(r.testset, r.system): (r.p_value, None) for r in versus_best(tables).itertuples()}
else:
    from werbench.analysis.compare import versus_best
    from werbench.analysis.table_cache import TableOptions, results_tables
    tables = results_tables(results, TableOptions(n_resamples=1000, seed=0), use_cache=False)
    rows = versus_best(tables.utterances, tables.systems, n_resamples=1000, seed=0).itertuples()
    best = {(r.testset, r.system): (r.p_text, r.p_holm_text) for r in rows}
out = []
for r in tables.systems.itertuples():
    p, holm = best.get((r.testset, r.system), (None, None))
    out.append({"testset": r.testset, "system": r.system, "wer": r.wer, "cer": r.cer, "utts": int(r.utts),
                "failed": int(getattr(r, "failed", 0)), "missing": int(getattr(r, "missing", 0) or 0),
                "normalizer": r.normalizer, "p": p, "p_holm": holm})
print(json.dumps(out))
"""

_TEXT_MODE = r"""
import json, sys
from pathlib import Path
if sys.argv[4] == "old":
    from analysis.inputs import load_inputs
    from analysis.tables import build_tables
    tables = build_tables(load_inputs(sys.argv[1], [sys.argv[2]]), normalize=sys.argv[3], n_resamples=100)
else:
    from werbench.analysis.table_cache import TableOptions, tables_for
    options = TableOptions(normalize=sys.argv[3], n_resamples=100)
    tables = tables_for(Path(sys.argv[1]), [Path(sys.argv[2])], options, use_cache=False)
row = tables.systems.iloc[0]
print(json.dumps({"wer": row.wer, "cer": row.cer, "normalizer": row.normalizer}))
"""


def _run(code: str, tree: Path | None, *args: str) -> object:
    """Run ``code`` with the installed werbench, or with the source tree ``tree`` first on the path (its
    layout, ``old`` top-level packages or the ``werbench.*`` namespace, is the code's last argument)."""
    namespaced = tree is None or "package-dir" in (tree / "pyproject.toml").read_text(encoding="utf-8")
    args = (*args, "new" if namespaced else "old")
    env = dict(
        os.environ, WERBENCH_CACHE=str(Path(os.environ.get("TMPDIR", "/tmp")) / "werbench-before-after")
    )
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    done = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, cwd=tree or Path.cwd(), capture_output=True, text=True
    )
    if done.returncode:
        raise SystemExit(f"scoring failed ({tree or 'installed'}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def generate(root: Path, seed: int = 12, n_utts: int = 400, n_speakers: int = 20) -> Path:
    """A seeded results directory (test set ``gen``) plus ``ref.trn``/``clean.trn`` with mixed case."""
    from werbench.manifests.results import RunInfo, system_dir, write_run_info

    rng = np.random.default_rng(seed)
    common = [f"w{k}" for k in range(300)] + ["Paris", "NASA", "Monday", "John", "IBM", "London"]
    refs, manifest = {}, []
    for k in range(n_utts):
        words = rng.choice(common, size=int(rng.integers(3, 25))).tolist()
        uid = f"spk{k % n_speakers:02d}-utt{k:04d}"
        refs[uid] = " ".join(words)
        speaker = f"spk{k % n_speakers:02d}"
        manifest.append(
            {"audio_filepath": f"/audio/{uid}.wav", "duration": 0.4 * len(words), "text": refs[uid],
             "utt_id": uid, "speaker": speaker}
        )  # fmt: skip

    def corrupt(text: str, rate: float) -> str:
        out = []
        for word in text.split():
            draw = rng.random()
            if draw < rate * 0.6:  # a near miss: one letter changed (CER counts it, WER a whole word)
                out.append(word[:-1] + "x")
            elif draw < rate * 0.8:
                continue
            elif draw < rate:
                out.extend([word, rng.choice(common)])
            else:
                out.append(word)
        return " ".join(out).lower()  # lower-case output: case errors only where the text mode is none

    hardest = set(sorted(refs, key=lambda u: -len(refs[u].split()))[: n_utts // 6])
    systems = {
        "base@greedy": {u: {"pred_text": corrupt(t, 0.12)} for u, t in refs.items()},
        "base@beam": {u: {"pred_text": corrupt(t, 0.115)} for u, t in refs.items()},
        "crashy@beam": {
            u: {"pred_text": "", "error": "CUDA out of memory"}
            if u in hardest
            else {"pred_text": corrupt(t, 0.10)}
            for u, t in refs.items()
        },
        "tiny@greedy": {u: {"pred_text": corrupt(t, 0.30)} for u, t in refs.items()},
    }
    (root / "gen").mkdir(parents=True, exist_ok=True)
    (root / "gen" / "manifest.jsonl").write_text("".join(json.dumps(m) + "\n" for m in manifest))
    for system, preds in systems.items():
        ref = system_dir(root, "gen", system)
        ref.path.mkdir(parents=True, exist_ok=True)
        rows = (json.dumps(m | preds[m["utt_id"]]) + "\n" for m in manifest)
        (ref.path / "predictions.jsonl").write_text("".join(rows))
        write_run_info(ref, RunInfo(system=system, testset="gen", normalizer="nemo@1"))
    (root / "ref.trn").write_text("".join(f"{t} ({u})\n" for u, t in refs.items()))
    clean = {u: " ".join(w if rng.random() > 0.05 else "uh" for w in t.split()) for u, t in refs.items()}
    (root / "clean.trn").write_text("".join(f"{t.lower()} ({u})\n" for u, t in clean.items()))
    return root


def _pct(value: float | None) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{100 * value:.2f}"


def _p(value: float | str | None) -> str:
    """A p-value as printed (the new tables give it as text already); ``best`` where there is none."""
    if value is None or value == "" or (isinstance(value, float) and math.isnan(value)):
        return "best"
    return value if isinstance(value, str) else f"{value:.3g}"


def _ranks(rows: list[dict]) -> dict[tuple[str, str], int]:
    out = {}
    for testset in {r["testset"] for r in rows}:
        group = sorted(
            (r for r in rows if r["testset"] == testset),
            key=lambda r: (math.inf if r["wer"] is None or math.isnan(r["wer"]) else r["wer"], r["system"]),
        )
        out |= {(testset, r["system"]): k + 1 for k, r in enumerate(group)}
    return out


def compare(before: Path, results: Path) -> list[str]:
    """Markdown rows: every (test set, system) of ``results`` before and after."""
    old, new = _run(_FIGURES, before, str(results)), _run(_FIGURES, None, str(results))
    old_rank, new_rank = _ranks(old), _ranks(new)
    old_by = {(r["testset"], r["system"]): r for r in old}
    lines = []
    for r in new:
        key = (r["testset"], r["system"])
        o = old_by.get(key, {})
        p_new = f"{_p(r['p'])} (Holm {_p(r['p_holm'])})" if _p(r["p"]) != "best" else "best"
        lines.append(
            f"| {results.name}/{r['testset']} | {r['system']} | {_pct(o.get('wer'))} -> {_pct(r['wer'])} | "
            f"{_pct(o.get('cer'))} -> {_pct(r['cer'])} | {o.get('utts', '-')} -> {r['utts']} "
            f"(failed {r['failed']}, missing {r['missing']}) | {old_rank.get(key, '-')} -> {new_rank[key]} | "
            f"{_p(o.get('p'))} -> {p_new} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("results", nargs="+", type=Path, help="Results directories to score both ways.")
    parser.add_argument("--before", type=Path, required=True, help="The older werbench source tree.")
    parser.add_argument("--generate", type=Path, help="Write the generated set here first.")
    args = parser.parse_args()
    if args.generate:
        generate(args.generate)
    print("| set | system | WER % | CER % | utterances scored | rank | p vs best |")
    print("|---|---|---|---|---|---|---|")
    for results in args.results:
        print("\n".join(compare(args.before.resolve(), results.resolve())))
    if args.generate:
        ref, hyp = str((args.generate / "ref.trn").resolve()), str((args.generate / "clean.trn").resolve())
        print("\nText modes on generated/ref.trn (mixed case) vs clean.trn (lower case):\n")
        print("| --normalize | before WER % (spec) | after WER % (spec) |\n|---|---|---|")
        for mode in ("none", "sclite"):
            old = _run(_TEXT_MODE, args.before.resolve(), ref, hyp, mode) if mode == "none" else None
            new = _run(_TEXT_MODE, None, ref, hyp, mode)
            shown = f"{_pct(old['wer'])} ({old['normalizer']})" if old else "(no such mode)"
            print(f"| {mode} | {shown} | {_pct(new['wer'])} ({new['normalizer']}) |")


if __name__ == "__main__":
    main()
