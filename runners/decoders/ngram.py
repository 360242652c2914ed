"""KenLM n-gram files as the decoders see them: the unigram list, cached loading, scoring (the file formats
are read by ``manifests.arpa``).

Both beam decoders and the rescorer report ``lm_score`` from :meth:`NgramLM.sentence_score`, so n-best
scores mean the same thing whichever search produced them (natural log, with ``<s>`` and ``</s>``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from pathlib import Path

from werbench.manifests.arpa import lm_format, read_arpa_unigrams, read_unigram_list, unigrams_path
from werbench.manifests.errors import ManifestError
from werbench.manifests.scorer import ScorerPackage, is_scorer, read_scorer

LN10 = math.log(10.0)


def load_unigrams(
    lm_path: str | Path, explicit: str | Path | None = None, alphabet: Sequence[str] | None = None
) -> list[str]:
    """The LM's vocabulary: an explicit list, else the sidecar, else a DeepSpeech scorer's trie (spelled
    with ``alphabet``, the model's labels without the blank), else the ARPA's unigrams."""
    if explicit is not None:
        return read_unigram_list(explicit)
    if is_scorer(lm_path):
        if alphabet is None:
            raise ManifestError(lm_path, "a scorer's words are spelled in the model's alphabet: none given")
        return scorer_package(lm_path).vocabulary(alphabet)
    sidecar = unigrams_path(lm_path)
    if sidecar.is_file():
        return read_unigram_list(sidecar)
    if lm_format(lm_path) == "arpa":
        return read_arpa_unigrams(lm_path)
    raise ManifestError(
        lm_path,
        f"binary LM without a word list: put one word per line in {sidecar.name} beside it "
        "(`werbench lm build` writes it) or pass the unigram list explicitly",
    )


@functools.lru_cache(maxsize=4)
def _read_scorer(path: str, mtime_ns: int) -> ScorerPackage:
    return read_scorer(path)


def scorer_package(path: str | Path) -> ScorerPackage:
    """A DeepSpeech ``.scorer`` package (``manifests.scorer``), read once per process and file version.
    KenLM loads the package itself (it stops at its own end), so the LM path stays the package's."""
    path = Path(path).resolve()
    if not path.is_file():
        raise ManifestError(path, "scorer package not found")
    return _read_scorer(str(path), path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _load_kenlm(path: str, mtime_ns: int):
    import kenlm

    try:
        return kenlm.Model(path)
    except (OSError, RuntimeError) as exc:
        raise ManifestError(path, f"KenLM could not load the model: {exc}") from None


def load_kenlm(path: str | Path):
    """A ``kenlm.Model``, loaded once per process and file version (an ARPA load can take seconds)."""
    path = Path(path).resolve()
    lm_format(path)
    return _load_kenlm(str(path), path.stat().st_mtime_ns)


class NgramLM:
    """Sentence-level scores from a KenLM file; cheap to construct because the model load is cached."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.model = load_kenlm(self.path)

    @property
    def order(self) -> int:
        return int(self.model.order)

    def sentence_score(self, text: str) -> float:
        """Natural-log probability of ``text`` as a whole sentence (with ``<s>`` and ``</s>``)."""
        return float(self.model.score(text, bos=True, eos=True)) * LN10

    def __contains__(self, word: str) -> bool:
        return word in self.model
