"""Named, versioned text normalisers, applied identically to references and hypotheses.

Every number werbench reports is stored with the normaliser's ``spec`` (``"nemo@1"``): bump ``version``
whenever a normaliser's output changes for any input, so that results made with different rules never
silently compare. A normaliser that wraps another package also carries that package's installed version
in its spec (``"whisper@1+whisper-normalizer-0.1.15"``): an upgrade that changes its output cannot hide
under the same name. All of them first compose Unicode (NFC), so ``é`` typed two ways is one character.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import regex
from werbench.manifests.code_version import package_stamp
from werbench.manifests.errors import ConfigError, MissingDependencyError
from werbench.manifests.wsj_markup import clean_wsj_transcript

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u00b4": "'"})
_NOT_WORD = regex.compile(r"[^\p{L}\p{M}\p{N}'\s]+")
_STRAY_APOSTROPHE = regex.compile(r"(?<![\p{L}\p{M}\p{N}])'|'(?![\p{L}\p{M}\p{N}])")


@dataclass(frozen=True, slots=True)
class Normalizer:
    """A text normaliser with a stable identity; call it on a string."""

    name: str
    version: str
    description: str
    func: Callable[[str], str] = field(repr=False, compare=False)
    stamp: str = ""  # "<distribution>-<installed version>" of a wrapped package, else empty

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}" + (f"+{self.stamp}" if self.stamp else "")

    def __call__(self, text: str) -> str:
        return self.func(text)

    def many(self, texts: Iterable[str]) -> list[str]:
        """Every text normalised, each distinct text once (corpora repeat texts; ``none`` copies none)."""
        texts = list(texts)
        if self.func is _identity:
            return texts
        done = {text: self.func(text) for text in dict.fromkeys(texts)}
        return [done[text] for text in texts]


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _identity(text: str) -> str:
    return text


def _librispeech(text: str) -> str:
    return _collapse(unicodedata.normalize("NFC", text).casefold())


def _nemo(text: str) -> str:
    text = unicodedata.normalize("NFC", text).translate(_APOSTROPHES).lower()
    text = _NOT_WORD.sub(" ", text)
    return _collapse(_STRAY_APOSTROPHE.sub(" ", text))


def _wsj(text: str) -> str:
    return _nemo(clean_wsj_transcript(text, "words"))


def _wsj_novp(text: str) -> str:
    return _nemo(clean_wsj_transcript(text, "drop"))


@functools.cache
def _whisper_english() -> Callable[[str], str]:
    try:  # loads a spelling table: only when used
        from whisper_normalizer.english import EnglishTextNormalizer
    except ImportError:
        raise MissingDependencyError(
            "normalizer", "whisper needs the whisper-normalizer package (pip install whisper-normalizer)"
        ) from None
    return EnglishTextNormalizer()


def _whisper(text: str) -> str:
    return _whisper_english()(unicodedata.normalize("NFC", text))


def whisper_normalizer() -> Normalizer:
    """Whisper's English normaliser, stamped with the installed whisper-normalizer version."""
    return Normalizer(
        "whisper",
        "1",
        "OpenAI Whisper's English normaliser (whisper_normalizer package), as the Open ASR Leaderboard uses: "
        "spelled numbers to digits, British to American spelling, fillers and bracketed text removed",
        _whisper,
        stamp=package_stamp("whisper-normalizer"),
    )


NORMALIZERS: list[Normalizer] = [
    Normalizer("none", "1", "text unchanged", _identity),
    Normalizer(
        "nemo",
        "1",
        "lower-case; every character that is not a letter, mark, digit or an apostrophe inside a word "
        "becomes a space (so 'twenty-one' -> 'twenty one', digits stay digits); whitespace collapsed - the "
        "text NeMo character models are trained on",
        _nemo,
    ),
    Normalizer("librispeech", "1", "case-folded and whitespace collapsed, nothing else", _librispeech),
    Normalizer(
        "wsj",
        "1",
        "WSJ transcript markup removed (noise markers, *, :, ~, fragments; verbalised punctuation kept as "
        "its spoken name), then the nemo rules",
        _wsj,
    ),
    Normalizer(
        "wsj-novp",
        "1",
        "as wsj, but verbalised punctuation tokens (,COMMA .PERIOD ...) are removed",
        _wsj_novp,
    ),
    whisper_normalizer(),
]
_BY_NAME = {normalizer.name: normalizer for normalizer in NORMALIZERS}


def get_normalizer(name: str) -> Normalizer:
    """Look up ``name`` or a full spec; an unknown name, another version or another wrapped package version
    is an error (a spec recorded before stamps existed, ``whisper@1``, is taken as the installed one)."""
    base, _, version = name.strip().partition("@")
    version, _, stamp = version.partition("+")
    normalizer = _BY_NAME.get(base)
    if normalizer is None:
        raise ConfigError("normalizer", f"unknown normaliser {name!r}; choose one of {', '.join(_BY_NAME)}")
    if (version and version != normalizer.version) or (stamp and stamp != normalizer.stamp):
        raise ConfigError(
            "normalizer",
            f"{name!r} asks for version {name.partition('@')[2]}, this werbench has {normalizer.spec}",
        )
    return normalizer
