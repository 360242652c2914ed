"""Describe a manifest: size, speakers, vocabulary, alphabet and the shape of durations and lengths."""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rich.table import Table
from rich.text import Text
from werbench.manifests.errors import ManifestError
from werbench.manifests.io import load_manifest
from werbench.manifests.normalize import Normalizer

QUANTILES = (
    ("min", 0.0),
    ("p5", 0.05),
    ("p25", 0.25),
    ("median", 0.5),
    ("p75", 0.75),
    ("p95", 0.95),
    ("max", 1.0),
)
HISTOGRAM_BINS = 10
BAR_WIDTH = 40


@dataclass(slots=True)
class ManifestStats:
    path: Path
    normalizer: str
    utterances: int = 0
    seconds: float = 0.0
    words: int = 0
    speakers: Counter[str] = field(default_factory=Counter)
    vocabulary: Counter[str] = field(default_factory=Counter)
    characters: Counter[str] = field(default_factory=Counter)
    durations: list[float] = field(default_factory=list)
    word_counts: list[int] = field(default_factory=list)
    empty_text: int = 0
    duplicate_ids: int = 0

    @property
    def hours(self) -> float:
        return self.seconds / 3600.0

    @property
    def alphabet(self) -> str:
        """Every character the texts use except whitespace, sorted by code point."""
        return "".join(sorted(ch for ch in self.characters if not ch.isspace()))


def manifest_stats(path: str | Path, normalizer: Normalizer | None = None) -> ManifestStats:
    """One streaming pass; texts are counted after ``normalizer`` when one is given."""
    stats = ManifestStats(Path(path), normalizer.spec if normalizer else "as written")
    ids: set[str] = set()
    for utt in load_manifest(path, unique_ids=False):
        stats.duplicate_ids += utt.utt_id in ids
        ids.add(utt.utt_id)
        text = normalizer(utt.text) if normalizer else utt.text
        words = text.split()
        stats.utterances += 1
        stats.seconds += utt.duration
        stats.words += len(words)
        stats.vocabulary.update(words)
        stats.characters.update(text)
        stats.durations.append(utt.duration)
        stats.word_counts.append(len(words))
        stats.empty_text += not words
        if utt.speaker is not None:
            stats.speakers[utt.speaker] += 1
    if not stats.utterances:
        raise ManifestError(path, "no utterances in this manifest")
    return stats


def summary_table(stats: ManifestStats) -> Table:
    table = Table(
        title=Text(f"{stats.path}  (text: {stats.normalizer})"), show_header=False, title_justify="left"
    )
    table.add_column("what", style="bold")
    table.add_column("value")
    non_ascii = sum(1 for ch in stats.alphabet if ord(ch) > 127)
    rows = [
        ("utterances", f"{stats.utterances:,}"),
        ("audio", f"{stats.hours:.3f} h ({stats.seconds:,.1f} s)"),
        ("speakers", f"{len(stats.speakers):,}" if stats.speakers else "not given"),
        ("words", f"{stats.words:,}"),
        ("vocabulary", f"{len(stats.vocabulary):,} distinct words"),
        ("alphabet", f"{len(stats.alphabet)} characters ({non_ascii} non-ASCII): {stats.alphabet}"),
        ("empty texts", f"{stats.empty_text:,}"),
    ]
    if stats.speakers:
        per = sorted(stats.speakers.values())
        rows.append(("utts per speaker", f"min {per[0]}, median {per[len(per) // 2]}, max {per[-1]}"))
    for what, value in rows:
        table.add_row(what, Text(value))  # Text: a '[' in the alphabet is not rich markup
    return table


def _bins(data: np.ndarray, integer: bool) -> tuple[np.ndarray, list[str]]:
    """Histogram counts and row labels; whole-number data gets whole-number bins (``3`` or ``4 - 6``)."""
    if integer:
        low, high = int(data.min()), int(data.max()) + 1
        edges = np.unique(np.linspace(low, high, min(HISTOGRAM_BINS, high - low) + 1).round().astype(int))
        counts, _ = np.histogram(data, bins=edges)
        labels = [f"{a}" if b - a == 1 else f"{a} - {b - 1}" for a, b in itertools.pairwise(edges)]
        return counts, labels
    counts, edges = np.histogram(data, bins=HISTOGRAM_BINS if data.max() > data.min() else 1)
    return counts, [f"{a:.2f} - {b:.2f}" for a, b in itertools.pairwise(edges)]


def distribution_table(title: str, values: list[float], unit: str, *, integer: bool = False) -> Table:
    """Quantiles (as the caption) and a text histogram of one per-utterance quantity."""
    table = Table(title=title, title_justify="left")
    table.add_column("range" + (f" ({unit})" if unit else ""), justify="right")
    table.add_column("utterances", justify="right")
    table.add_column("", no_wrap=True)
    if not values:
        return table
    data = np.asarray(values, dtype=float)
    quantiles = ", ".join(f"{name} {np.quantile(data, q):.2f}" for name, q in QUANTILES)
    table.caption = f"{quantiles}, mean {data.mean():.2f}"
    counts, labels = _bins(data, integer)
    peak = max(int(counts.max()), 1)
    for count, label in zip(counts, labels, strict=True):
        table.add_row(label, f"{int(count):,}", "#" * round(BAR_WIDTH * int(count) / peak))
    return table


def stats_tables(stats: ManifestStats) -> list[Table]:
    return [
        summary_table(stats),
        distribution_table("duration", stats.durations, "s"),
        distribution_table("words per utterance", [float(n) for n in stats.word_counts], "", integer=True),
    ]
