"""sclite ``trn`` export of the normalised texts, so anyone can re-score with NIST sclite and sc_stats.

Per test set: ``<testset>/ref.trn`` and one ``<testset>/<system>.trn`` per system, lines in the same
order, and a ``README.txt`` with the exact commands. The texts are the normalised words werbench aligned,
so ``sclite -i rm`` reproduces werbench's counts (with the default ``--costs sclite``).

Utterance ids become sclite ids: ``sclite -i rm`` takes the speaker to be the id up to its first ``-``
(else ``_``), so when an utterance's speaker is known and is not already that prefix, the id is written
``<speaker>-<utt_id>`` (the speaker's own ``-`` become ``_``), and sc_stats' per-speaker tests then see
the same speakers as werbench's. Whitespace and parentheses, which a trn id cannot hold, become ``_``.
``ids.csv`` maps every written id back to its utterance whenever any id changed.

A failed utterance (no hypothesis, or a decode error) is written with an empty hypothesis: sclite counts
its words as deletions, as werbench does by default (``--missing ignore`` leaves it out instead); the
README lists how many there are per system.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pyarrow as pa
from werbench.aligner.pairs import arrow_texts
from werbench.analysis.speakers import sclite_speaker
from werbench.manifests.atomic import atomic_write
from werbench.manifests.trn import write_trn_columns

_BAD_ID = re.compile(r"[\s()]+")
_BAD_NAME = re.compile(r"[^A-Za-z0-9@._+-]+")


def trn_id(utt_id: str, speaker: object = None) -> str:
    """The sclite id of an utterance (see the module docstring)."""
    clean = _BAD_ID.sub("_", utt_id) or "_"
    if isinstance(speaker, str) and speaker.strip():
        spk = _BAD_ID.sub("_", speaker).replace("-", "_")
        if sclite_speaker(clean) != spk:
            return f"{spk}-{clean}"
    return clean


def _file_name(system: str) -> str:
    return _BAD_NAME.sub("_", system).strip("._") or "system"


def _readme(testsets: dict[str, dict[str, int]]) -> str:
    lines = [
        "sclite trn export written by werbench (normalised texts, the words werbench aligned).",
        "",
        "Re-score one system with NIST sclite (default weights, utf-8 texts):",
        "  sclite -r ref.trn trn -h SYSTEM.trn trn -i rm -e utf-8 -o sum pra",
        "Significance tests across systems with sc_stats:",
        "  for s in SYSTEM1 SYSTEM2; do sclite -r ref.trn trn -h $s.trn trn -i rm -e utf-8 -o sgml; done",
        "  cat *.trn.sgml | sc_stats -p -t mapsswe sign wilc mcn -u -n stats",
        "",
        "Failed utterances are written as empty hypotheses: sclite counts them as deletions, as werbench",
        "does by default (werbench --missing ignore leaves them out):",
    ]
    for testset, failed in testsets.items():
        for system, count in failed.items():
            lines.append(f"  {testset}/{system}: {count} failed")
    if not any(testsets.values()):
        lines.append("  none")
    return "\n".join(lines) + "\n"


def write_trn_export(outdir: str | Path, utts: pd.DataFrame) -> list[Path]:
    """One folder per test set with ``ref.trn`` and ``<system>.trn``; returns the files written."""
    outdir = Path(outdir)
    written: list[Path] = []
    failed_counts: dict[str, dict[str, int]] = {}
    fields = ["testset", "system", "utt_id", "speaker", "ref", "hyp", "failed"]
    for testset, rows in utts[[c for c in fields if c in utts]].groupby("testset", sort=True):
        folder = outdir / _file_name(str(testset))
        systems = sorted(rows["system"].unique())
        first = rows[rows["system"] == systems[0]]
        speakers = first["speaker"] if "speaker" in first else pd.Series(None, index=first.index)
        ids = [trn_id(u, s) for u, s in zip(first["utt_id"], speakers, strict=True)]
        if len(set(ids)) != len(ids):
            raise ValueError(f"{testset}: utterance ids collide once made sclite-safe; rename them")
        order = first["utt_id"].tolist()
        written.append(folder / "ref.trn")
        trn_ids = pa.array(ids, pa.large_string())
        write_trn_columns(written[-1], trn_ids, arrow_texts(first["ref"]))
        failed_counts[str(testset)] = {}
        names: dict[str, str] = {}
        for system in systems:
            frame = rows[rows["system"] == system].set_index("utt_id").reindex(order)
            failed = frame["failed"].fillna(True).astype(bool)
            hyps = frame["hyp"].fillna("").astype(str).where(~failed, "")
            name = _file_name(system)
            if name in names:
                raise ValueError(
                    f"{testset}: systems {names[name]!r} and {system!r} map to the same file {name}.trn"
                )
            names[name] = system
            written.append(folder / f"{name}.trn")
            write_trn_columns(written[-1], trn_ids, arrow_texts(hyps))
            if failed.any():
                failed_counts[str(testset)][system] = int(failed.sum())
        if ids != order:
            written.append(folder / "ids.csv")
            with atomic_write(written[-1]) as handle:
                pd.DataFrame({"trn_id": ids, "utt_id": order}).to_csv(handle, index=False)
    readme = outdir / "README.txt"
    with atomic_write(readme) as handle:
        handle.write(_readme(failed_counts))
    return [*written, readme]
