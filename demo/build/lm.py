"""Build the demo's business-domain KenLM 4-gram with werbench's own LM builder (``werbench lm build``).

The corpus is the business generator's training split (dev and test sentences excluded); 3- and 4-grams seen
once are pruned to keep the committed binary small. Run ``python -m werbench.demo.build.lm``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from werbench.demo.build.corpus import business_split
from werbench.demo.build.paths import LM_DIR, TEXT_WORK
from werbench.manifests.atomic import atomic_write

LM_NAME = "business-4gram.bin"


def write_lines(path: Path, lines: Sequence[str]) -> Path:
    with atomic_write(path) as handle:
        handle.write("\n".join(lines) + "\n")
    return path


def business_training_text(folder: Path = TEXT_WORK) -> Path:
    return write_lines(folder / "business-train.txt", business_split().train)


def build(out: Path = LM_DIR / LM_NAME, text: Path | None = None) -> Path:
    from werbench.runners.lm import build_lm

    info = build_lm([text or business_training_text()], out, order=4, prune=[0, 0, 1, 1], binary_type="trie")
    print(
        f"{out}: {info.sentences} sentences, {info.words} words, {info.vocabulary} unigrams, "
        f"{out.stat().st_size / 1e6:.1f} MB"
    )
    return out


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=LM_DIR / LM_NAME)
    args = parser.parse_args(argv)
    build(args.out)


if __name__ == "__main__":
    main()
