"""sclite's ``.pra`` alignment report read back, so tests compare alignments with the binary's own."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class PraUtt:
    """One utterance of sclite's ``.pra`` report: counts, the op of each column and its ref/hyp words."""

    counts: tuple[int, int, int, int]
    ops: str
    ref: tuple[str | None, ...]
    hyp: tuple[str | None, ...]

    def confusions(self) -> list[tuple[str, str]]:
        """Substitution pairs, lower-cased (sclite prints errors in upper case)."""
        columns = zip(self.ops, self.ref, self.hyp, strict=True)
        return [(r.lower(), h.lower()) for op, r, h in columns if op == "S"]


def _pra_cell(line: str, start: int, stop: int) -> str | None:
    """The word in one column of a REF/HYP line; ``None`` for sclite's ``***`` filler or a blank cell."""
    word = line[start:stop].strip()
    return None if not word or set(word) == {"*"} else word


def parse_pra(text: str) -> dict[str, PraUtt]:
    """sclite's ``.pra`` alignment report, per utterance id (columns are read by position, as printed)."""
    out: dict[str, PraUtt] = {}
    blocks = re.findall(
        r"^id: \((.+)\)\nScores: \(#C #S #D #I\) (\d+) (\d+) (\d+) (\d+)$"
        r"(?:\n(?:Attributes:.*\n)?REF:  (.*)\nHYP:  (.*)\nEval: (.*)$)?",  # no columns: nothing aligned
        text,
        re.M,
    )
    for uid, c, s, d, i, ref_line, hyp_line, eval_line in blocks:
        # a column starts where its REF or HYP word does (sclite -D leaves the cell of a word left out blank)
        starts = sorted(
            {m.start() for line in (ref_line, hyp_line) for m in re.finditer(r"(?:(?<= )|^)\S", line)}
        )
        width = max(len(ref_line), len(hyp_line), len(eval_line)) + 1
        bounds = list(zip(starts, [*starts[1:], width], strict=False))  # one more end than starts
        ops = "".join((eval_line[a:b].strip() or "C")[0] for a, b in bounds)
        ref = tuple(_pra_cell(ref_line, a, b) for a, b in bounds)
        hyp = tuple(_pra_cell(hyp_line, a, b) for a, b in bounds)
        out[uid] = PraUtt((int(c), int(s), int(d), int(i)), ops, ref, hyp)
    return out


def list_sclite_fixtures(folder: Path) -> list[tuple[str, Path, Path, Path]]:
    """``(name, ref.trn, hyp.trn, scores json)`` per scored system; the ``.pra`` lies beside the json.

    Fails (never skips) when the folder is missing, empty or incomplete: a parity test that passes because
    it compared nothing would be a silent hole (``shared_dir`` alone skips, when ``../shared`` is absent).
    """
    scored_files = sorted(folder.glob("*.sclite.json")) if folder.is_dir() else []
    if not scored_files:
        pytest.fail(f"{folder} holds no *.sclite.json fixtures although its shared folder exists")
    out = []
    for scored in scored_files:
        name = scored.name.removesuffix(".sclite.json")
        ref, hyp = folder / f"{name.split('_', 1)[0]}_ref.trn", folder / f"{name}.trn"
        missing = [p.name for p in (ref, hyp, folder / f"{name}.sclite.pra") if not p.is_file()]
        if missing:
            pytest.fail(f"sclite fixture {name} in {folder} is incomplete: {', '.join(missing)} missing")
        out.append((name, ref, hyp, scored))
    return out
