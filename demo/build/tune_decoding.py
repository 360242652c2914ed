"""Tune the demo's LM weights with ``werbench tune`` per domain, on that domain's dev set (never a test set)
with the model the domain's story is about (business: ``tuned``, general: ``base``), and write
demo/assets/decoding.json, which ``werbench demo`` decodes with. Run ``python -m werbench.demo.build.tune_decoding``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from werbench.demo.build.paths import ASSETS, BERT_DIR, LM_DIR, MODELS, WORK
from werbench.manifests.atomic import atomic_write
from werbench.manifests.io import load_manifest, write_manifest

BEAM_GRID = "alpha=0.3|0.6|1.0|1.5|2.0,beta=0|1|2|3"
RESCORE_GRID = "gamma=0|0.1|0.2|0.4|0.8"
BEAM_WIDTH = 32
NBEST = 8
DOMAIN_MODELS = {"business": "tuned", "general": "base"}


def dev_subset(domain: str, count: int, work: Path = WORK) -> Path:
    """The first ``count`` dev utterances of ``domain`` (the whole dev set costs too much CPU for a grid)."""
    out = work / f"{domain}-dev-{count}.json"
    write_manifest(out, list(load_manifest(work / f"{domain}-dev.json"))[:count])
    return out


def run_tune(
    domain: str, dev: Path, decoder: str, grid: str, out: Path, params: dict[str, Any]
) -> dict[str, Any]:
    """One ``werbench tune`` run; returns its best.json."""
    argv = [
        sys.executable, "-c", "from werbench.cli import main; main()", "tune",
        "--model", str(MODELS / f"{DOMAIN_MODELS[domain]}.nemo"), "--dev", str(dev), "--decoder", decoder,
        "--lm", str(LM_DIR / f"{domain}-4gram.bin"), "--grid", grid,
        "--beam-width", str(BEAM_WIDTH), "--out", str(out), "--jobs", "1", "--device", "cpu",
        "--cache-dir", str(WORK / "cache"),
    ]  # fmt: skip
    for key, value in params.items():
        argv += ["--param", f"{key}={value}"]
    if decoder == "rescore":
        argv += ["--rescorer", str(BERT_DIR)]
    subprocess.run(argv, check=True)
    return json.loads((out / "best.json").read_text(encoding="utf-8"))


def tune_domain(domain: str, utterances: int) -> dict[str, Any]:
    """Beam weights (alpha, beta) on the fast beam, then the rescorer's weight (gamma) on top of them."""
    dev = dev_subset(domain, utterances)
    beam = run_tune(domain, dev, "beam-fast", BEAM_GRID, WORK / f"tune-{domain}-beam", {"nbest": NBEST})
    alpha, beta = beam["alpha"], beam["beta"]
    rescore = run_tune(
        domain, dev, "rescore", RESCORE_GRID, WORK / f"tune-{domain}-rescore",
        {"alpha": alpha, "beta": beta, "nbest": NBEST, "first_pass": "beam-fast"},
    )  # fmt: skip
    shared = {"alpha": alpha, "beta": beta, "beam_width": BEAM_WIDTH}
    return {
        "beam": shared,
        "rescore": {**shared, "gamma": rescore["gamma"], "nbest": NBEST},
        "rescore_causal": {**shared, "gamma": rescore["gamma"], "nbest": NBEST},
        "tuned_on": f"{domain} dev, first {utterances} utterances, {DOMAIN_MODELS[domain]} model",
        "dev_wer": {"beam-fast": beam["wer"], "rescore-bert": rescore["wer"]},
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--utterances", type=int, default=50, help="dev utterances per domain to tune on")
    parser.add_argument("--only", nargs="*", choices=sorted(DOMAIN_MODELS), help="re-tune only these domains")
    args = parser.parse_args(argv)
    path = ASSETS / "decoding.json"
    kept = json.loads(path.read_text(encoding="utf-8")) if path.is_file() and args.only else {}
    decoding = {domain: weights for domain, weights in kept.items() if domain in DOMAIN_MODELS}
    for domain in args.only or sorted(DOMAIN_MODELS):
        decoding[domain] = tune_domain(domain, args.utterances)
    with atomic_write(path) as handle:
        json.dump(decoding, handle, indent=2)
        handle.write("\n")
    print(json.dumps(decoding, indent=2))


if __name__ == "__main__":
    main()
