"""Build the demo's domain language models with werbench's own LM builder (``werbench lm build``): a KenLM
4-gram per domain for the beam decoders, and a general-domain ARPA 3-gram for pocketsphinx.

Each corpus is its domain's training split (dev and test sentences excluded); n-grams of order 3 and above
seen once are pruned to keep the committed files small. Run ``python -m werbench.demo.build.lm``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from werbench.demo.build.corpus import Split, business_split, general_split
from werbench.demo.build.paths import LM_DIR, TEXT_WORK
from werbench.manifests.atomic import atomic_write


@dataclass(frozen=True, slots=True)
class DomainLM:
    """One committed LM: its file name (``.bin``: KenLM trie binary, ``.arpa``: text, which pocketsphinx
    reads), the domain split whose training text it is built from, its order and count pruning."""

    name: str
    split: Callable[[], Split]
    order: int
    prune: tuple[int, ...]


LMS = (
    DomainLM("business-4gram.bin", business_split, 4, (0, 0, 1, 1)),
    DomainLM("general-4gram.bin", general_split, 4, (0, 0, 1, 1)),
    DomainLM("general-3gram.arpa", general_split, 3, (0, 0, 1)),
)


def write_lines(path: Path, lines: Sequence[str]) -> Path:
    with atomic_write(path) as handle:
        handle.write("\n".join(lines) + "\n")
    return path


def build(lm: DomainLM, folder: Path = LM_DIR, text_folder: Path = TEXT_WORK) -> Path:
    from werbench.runners.lm import build_lm

    domain = lm.name.split("-", 1)[0]
    text = write_lines(text_folder / f"{domain}-train.txt", lm.split().train)
    out = folder / lm.name
    info = build_lm([text], out, order=lm.order, prune=list(lm.prune), binary_type="trie")
    print(
        f"{out}: {info.sentences} sentences, {info.words} words, {info.vocabulary} unigrams, "
        f"{out.stat().st_size / 1e6:.1f} MB"
    )
    return out


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="*", choices=[lm.name for lm in LMS], help="build only these")
    parser.add_argument("--folder", type=Path, default=LM_DIR)
    args = parser.parse_args(argv)
    for lm in LMS:
        if not args.only or lm.name in args.only:
            build(lm, args.folder)


if __name__ == "__main__":
    main()
