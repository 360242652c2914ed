"""Word lists to flag out-of-vocabulary reference words against: an LM's unigrams, a manifest's words, a
word list or a text corpus (``load_vocabulary`` tells them apart by content)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from werbench.manifests.arpa import (
    file_head,
    lm_kind,
    open_text,
    read_arpa_unigrams,
    read_unigram_list,
    unigrams_path,
)
from werbench.manifests.errors import ConfigError, ManifestError
from werbench.manifests.io import iter_json_rows, undecodable_text
from werbench.manifests.normalize import split_words

_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """A word list to flag out-of-vocabulary reference words against (an LM's unigrams, training words)."""

    words: frozenset[str]
    source: str
    kind: str

    def __contains__(self, word: object) -> bool:
        return word in self.words

    def __len__(self) -> int:
        return len(self.words)


@dataclass(frozen=True, slots=True)
class Vocabularies:
    """The vocabulary each test set's OOV words are flagged against: one for every test set, and/or one per
    test set (each decoded with its own domain's LM, where one list for all would call half the words OOV)."""

    default: Vocabulary | None = None
    by_testset: Mapping[str, Vocabulary] = field(default_factory=dict)

    @classmethod
    def of(cls, vocabulary: Vocabulary | Vocabularies | None) -> Vocabularies:
        return vocabulary if isinstance(vocabulary, Vocabularies) else cls(vocabulary)

    def get(self, testset: str) -> Vocabulary | None:
        return self.by_testset.get(testset, self.default)

    def describe(self) -> str | None:
        """One line for a report's settings: each list's source, kind and size, and which test sets use it."""
        named = [("", self.default)] if self.default is not None else []
        named += [(f"{t}: ", v) for t, v in sorted(self.by_testset.items())]
        return "; ".join(f"{t}{v.source} ({v.kind}, {len(v)} words)" for t, v in named) or None


def load_vocabularies(options: Iterable[str], normalize: Callable[[str], str] | None = None) -> Vocabularies:
    """``--vocab`` values: ``PATH`` (every test set) or ``TESTSET=PATH`` (that test set; it wins). A value
    that names an existing file is a path even when it holds ``=``."""
    default, by_testset = None, {}
    for option in options:
        testset, sep, path = option.partition("=")
        if not sep or Path(option).is_file():
            default = load_vocabulary(option, normalize)
        elif not testset:
            raise ConfigError("--vocab", f"{option!r}: give TESTSET=PATH or PATH")
        else:
            by_testset[testset] = load_vocabulary(path, normalize)
    return Vocabularies(default, by_testset)


def _is_word_list(lines: list[str]) -> bool:
    """``word`` or ``word count`` on every line (a unigram list) rather than running text."""
    for line in lines:
        parts = line.split()
        if len(parts) > 2 or (len(parts) == 2 and not _NUMBER.fullmatch(parts[1])):
            return False
    return True


def _text_words(path: Path, normalize: Callable[[str], str] | None) -> Iterator[str]:
    with open_text(path) as handle:
        head = [line for _, line in zip(range(1000), handle, strict=False)]
    as_list = _is_word_list([h for h in head if h.strip()])
    with open_text(path) as handle:
        for line in handle:
            if as_list:
                parts = line.split()
                if parts:
                    yield from split_words(normalize(parts[0]) if normalize else parts[0])
            else:
                yield from split_words(normalize(line) if normalize else line)


def _manifest_words(path: Path, normalize: Callable[[str], str] | None) -> Iterator[str]:
    for number, row in iter_json_rows(path):
        text = row.get("text")
        if not isinstance(text, str):
            raise ManifestError(path, "expected a string", line=number, field="text")
        yield from split_words(normalize(text) if normalize else text)


def load_vocabulary(path: str | Path, normalize: Callable[[str], str] | None = None) -> Vocabulary:
    """Words of an ARPA LM (its unigrams), a NeMo manifest (its texts) or a word list / text corpus.

    ``normalize`` is applied to manifest texts and plain-text lines (ARPA words are taken as they are),
    so pass the normaliser the systems were scored with.
    """
    path = Path(path)
    if not path.is_file():
        raise ManifestError(path, "vocabulary file not found")
    head = file_head(path)
    kind = lm_kind(head)
    if kind == "binary":
        sidecar = unigrams_path(path)
        if sidecar.is_file():  # ``werbench lm build`` keeps the binary's words beside it
            return Vocabulary(frozenset(read_unigram_list(sidecar)), str(sidecar), "lm unigrams")
        raise ManifestError(
            path, f"a KenLM binary without its word list {sidecar.name}; give its ARPA file or a word list"
        )
    if b"\x00" in head and not head.startswith(b"\x1f\x8b"):  # gzip is read as text, unpacked
        at = head.index(b"\x00")
        raise ManifestError(
            path, f"a binary file, not a word list (NUL byte at offset {at})", line=head[:at].count(b"\n") + 1
        )
    name = path.name.lower().removesuffix(".gz")
    try:
        if name.endswith(".arpa") or kind == "arpa":
            return Vocabulary(frozenset(read_arpa_unigrams(path)), str(path), "arpa")
        if name.endswith((".json", ".jsonl")):
            return Vocabulary(frozenset(_manifest_words(path, normalize)), str(path), "manifest")
        return Vocabulary(frozenset(_text_words(path, normalize)), str(path), "text")
    except UnicodeDecodeError as exc:
        raise undecodable_text(path, exc) from None
