"""Named, versioned text normalisers, applied identically to references and hypotheses.

Every number werbench reports is stored with the normaliser's ``spec`` (``"nemo@1"``): bump ``version``
whenever a normaliser's output changes for any input, so that results made with different rules never
silently compare. A normaliser that wraps another package also carries that package's installed version
in its spec (``"whisper@1+whisper-normalizer-0.1.15"``): an upgrade that changes its output cannot hide
under the same name.

Text modes, and the rule for spaces: ``none`` is the text exactly as written (case-sensitive, no Unicode
composition); ``sclite`` is what the sclite binary does to a text by default before it aligns (ASCII
letters lower-cased, ``É`` stays ``É``; one trailing ``*`` of a word longer than one character dropped;
the default for trn references). Under both, words are separated by ASCII whitespace only (space, tab, LF,
CR, VT, FF: ``isspace`` in the C locale, as sclite reads words), so a non-breaking space or any other
Unicode space stays inside a word (``split_words``, the aligner's rule too). Every other normaliser first
composes Unicode (NFC), so ``é`` typed two ways is one character, and treats every Unicode whitespace,
the non-breaking space included, as a word separator.
"""

from __future__ import annotations

import functools
import string
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc
import regex
from werbench.manifests.code_version import package_stamp
from werbench.manifests.errors import ConfigError, MissingDependencyError
from werbench.manifests.wsj_markup import clean_wsj_transcript

SPACES = " \t\n\r\x0b\x0c"  # the word separators of the aligner, of sclite and of trn files
_WORD = regex.compile(r"[^ \t\n\r\x0b\x0c]+")
_SPACE_RUN = regex.compile(r"[ \t\n\r\x0b\x0c]+")
_WORD_STAR = regex.compile(r"(?<=[^ ])\*(?= |$)")  # one trailing * of a word longer than one character
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
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
    # the same rule over a whole Arrow column at once (C loops: a trn file of 200k lines in ~0.2 s)
    column: Callable[[pa.Array], pa.Array] | None = field(default=None, repr=False, compare=False)

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
        if self.column is not None:
            return self.column(pa.array(texts, pa.large_string())).to_pylist()
        done = {text: self.func(text) for text in dict.fromkeys(texts)}
        return [done[text] for text in texts]


def split_words(text: str) -> list[str]:
    """Words as the aligner and sclite see them: runs of anything but ASCII whitespace."""
    return _WORD.findall(text)


def _sclite(text: str) -> str:
    """Per word: ASCII lower case, one trailing ``*`` dropped when the word is longer; words joined by one
    space. Done on the whole string (C loops, 5x the per-word version on a 200k-line trn file)."""
    text = _SPACE_RUN.sub(" ", text.translate(_ASCII_LOWER)).strip(" ")
    return _WORD_STAR.sub("", text) if "*" in text else text


def _sclite_column(texts: pa.Array) -> pa.Array:
    """``_sclite`` on a column (Arrow's RE2: ``\\S`` is ASCII-only, as sclite's word rule); each rewrite
    only where some text needs it (a check is 10x cheaper than a rewrite)."""
    texts = pc.ascii_lower(texts)
    if pc.any(pc.match_substring_regex(texts, r"[\t\n\r\x0b\x0c]|  |^ | $")).as_py():
        texts = pc.utf8_trim(pc.replace_substring_regex(texts, r"[ \t\n\r\x0b\x0c]+", " "), " ")
    if pc.any(pc.match_substring(texts, "*")).as_py():
        texts = pc.replace_substring_regex(texts, r"(\S)\*( |$)", r"\1\2")
    return texts


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
    Normalizer(
        "none",
        "2",
        "the text exactly as written: case-sensitive, nothing removed or composed; words split on ASCII "
        "whitespace only (a non-breaking space stays inside a word)",
        _identity,
    ),
    Normalizer(
        "sclite",
        "1",
        "what the sclite binary does by default: ASCII letters lower-cased (É stays É), one trailing * of "
        "a word longer than one character dropped, words split on ASCII whitespace only (a non-breaking "
        "space stays inside a word); the default for trn references",
        _sclite,
        column=_sclite_column,
    ),
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
# Specs whose meaning moved to another name: ``none@1`` was scored with sclite's case folding (the aligner
# folded ASCII case then), which is the ``sclite`` text mode now.
_RENAMED = {"none@1": "sclite"}


def get_normalizer(name: str) -> Normalizer:
    """Look up ``name`` or a full spec; an unknown name, another version or another wrapped package version
    is an error (a spec recorded before stamps existed, ``whisper@1``, is taken as the installed one;
    ``none@1``, recorded before the text modes, is ``sclite``: what its numbers were scored with)."""
    name = _RENAMED.get(name.strip(), name)
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


def default_normalizer(recorded: Iterable[str], *, trn_reference: bool = False) -> str:
    """The text mode when none is asked for: the one every run recorded, else ``sclite`` for trn references
    (sclite's own reading), else ``none``; runs that recorded different ones give ``none`` (the caller
    decides whether that is an error)."""
    specs = {get_normalizer(spec).spec for spec in recorded}
    if len(specs) == 1:
        return specs.pop()
    return get_normalizer("sclite" if trn_reference and not specs else "none").spec


NORMALIZE_HELP = (
    f"Text mode (normaliser) for references and hypotheses: {', '.join(_BY_NAME)}. Default: what the runs "
    "recorded, else sclite for trn references (what the sclite binary does), else none (the exact text)."
)
