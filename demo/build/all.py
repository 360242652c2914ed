"""Rebuild every demo artefact in order, each step seeded: test sets, training audio, domain LMs, base
(trained from scratch, then on) and tuned models, tiny BERT, tuned decoding weights. Steps whose outputs exist are skipped unless ``--force``.

Run ``nice -n 5 python -m werbench.demo.build.all`` from the repository root (about an hour or two on 2 cores).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from werbench.demo.build.paths import ASSETS, BERT_DIR, LM_DIR, MODELS, TESTSETS, WORK

STEPS: tuple[tuple[str, list[str], Path], ...] = (
    ("real-speech test set", ["werbench.demo.build.real_speech"], TESTSETS / "real-speech" / "manifest.jsonl"),
    ("synthetic speech", ["werbench.demo.build.synth"],
     WORK / "business-train.json"),
    ("domain LMs", ["werbench.demo.build.lm"], LM_DIR / "general-3gram.arpa"),
    ("base model", ["werbench.demo.build.train", "base"], MODELS / "base.nemo"),
    ("base model, continued", ["werbench.demo.build.train", "base-continue"], WORK / "train-base-continue.json"),
    ("tuned model", ["werbench.demo.build.train", "tuned"], MODELS / "tuned.nemo"),
    ("tiny BERT", ["werbench.demo.build.bert"], BERT_DIR / "config.json"),
    ("decoding weights", ["werbench.demo.build.tune_decoding"], ASSETS / "decoding.json"),
)  # fmt: skip


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--force", action="store_true", help="rebuild steps whose outputs already exist")
    args = parser.parse_args(argv)
    for title, module_args, output in STEPS:
        if output.exists() and not args.force:
            print(f"[demo build] {title}: {output} exists, skipped")
            continue
        print(f"[demo build] {title}", flush=True)
        subprocess.run([sys.executable, "-m", *module_args], check=True)


if __name__ == "__main__":
    main()
