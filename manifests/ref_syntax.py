"""sclite's reference notation: alternations ``{ a / b c / @ }`` inside a reference text.

An alternation lets the scorer take whichever alternative aligns best (``@``, sclite's null word, is the
alternative "nothing"); the text between the braces is split on ``/``, each alternative on whitespace, as
sclite does (``{b/c}`` needs no spaces). Words in parentheses such as ``(uh)`` are sclite's optionally
deletable words: sclite (without ``-D``) scores them as plain words (``(uh)`` vs ``uh`` is a substitution,
a missing ``(uh)`` a deletion), and so does werbench unless asked for ``-D`` (``optional_deletable`` in
``aligner.align``); in trn files they must be balanced. The ``text``
field of a manifest uses the same alternation notation (its parentheses are not checked: free text may
hold a lone ``)``). Nested alternations are refused (sclite's own parser does not nest them reliably).
Written by hand: the grammar is four characters, and every error must name its column.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from werbench.manifests.errors import ManifestError
from werbench.manifests.normalize import split_words

NULL_WORD = "@"


class RefSyntaxError(ValueError):
    """A reference whose alternation or parenthesis notation does not parse (the loader adds file/line)."""


@dataclass(frozen=True, slots=True)
class Alternation:
    """``{ a / b c / @ }``: each alternative is a word tuple (``("@",)`` is the null alternative)."""

    options: tuple[tuple[str, ...], ...]


Segment = str | Alternation


def has_alternations(text: str) -> bool:
    """Cheap test before parsing: only texts with a brace need the network form."""
    return "{" in text or "}" in text


def _check_word(word: str) -> str:
    if word.count("(") != word.count(")") or (word.find(")") < word.find("(")):
        raise RefSyntaxError(f"unbalanced parenthesis in {word!r}")
    return word


def _any_word(word: str) -> str:
    return word


def parse_reference(text: str, *, parentheses: bool = False) -> list[Segment]:
    """Words and alternations of one reference; ``RefSyntaxError`` for unbalanced braces, an empty
    alternative, or (``parentheses``, as in trn files) a word with unbalanced parentheses."""
    word = _check_word if parentheses else _any_word
    segments: list[Segment] = []
    at = 0
    while at < len(text):
        open_at = text.find("{", at)
        close_at = text.find("}", at)
        if close_at >= 0 and (open_at < 0 or close_at < open_at):
            raise RefSyntaxError(f"'}}' without '{{' at character {close_at + 1}")
        plain = text[at:] if open_at < 0 else text[at:open_at]
        segments.extend(word(w) for w in split_words(plain))
        if open_at < 0:
            break
        if close_at < 0:
            raise RefSyntaxError(f"'{{' at character {open_at + 1} is never closed")
        inner = text[open_at + 1 : close_at]
        if "{" in inner:
            raise RefSyntaxError(f"nested '{{' at character {open_at + 2 + inner.index('{')}")
        options = tuple(tuple(word(w) for w in split_words(option)) for option in inner.split("/"))
        if any(not option for option in options):
            raise RefSyntaxError(
                f"empty alternative in {text[open_at : close_at + 1]!r} (write @ for 'nothing')"
            )
        segments.append(Alternation(options))
        at = close_at + 1
    return segments


def check_reference(text: str, *, parentheses: bool = False) -> None:
    """Raise ``RefSyntaxError`` when ``text`` has broken notation (the trn and manifest loaders call it)."""
    if has_alternations(text) or (parentheses and ("(" in text or ")" in text)):
        parse_reference(text, parentheses=parentheses)


def check_reference_lines(
    path: str | Path, lines: Iterable[tuple[int, str]], *, parentheses: bool, field: str = "text"
) -> None:
    """Check ``(line, text)`` references; a bad one is a ``ManifestError`` naming file, line and field."""
    for line, text in lines:
        try:
            check_reference(text, parentheses=parentheses)
        except RefSyntaxError as exc:
            raise ManifestError(path, f"{exc} in reference {text[:80]!r}", line=line, field=field) from None


def format_reference(segments: list[Segment]) -> str:
    """The text form of parsed segments (``{ a / b }`` spacing, as sclite prints it)."""
    return " ".join(
        s if isinstance(s, str) else "{ " + " / ".join(" ".join(o) for o in s.options) + " }"
        for s in segments
    )


def normalize_references(texts: Sequence[str], transform: Callable[[str], str]) -> list[str]:
    """``map_words`` of every reference; a batch without alternations goes through ``transform.many``
    where it has one (a ``Normalizer``: each distinct text once)."""
    many = getattr(transform, "many", None)
    if many is not None and not has_alternations("".join(texts)):
        return many(texts)
    return [map_words(text, transform) for text in texts]


def map_words(text: str, transform: Callable[[str], str]) -> str:
    """Apply a text transform (a normaliser) to each plain run and each alternative, keeping the notation.

    An alternative the transform empties becomes ``@`` (the choice of saying nothing stays a choice).
    """
    if not has_alternations(text):
        return transform(text)
    out: list[Segment] = []
    run: list[str] = []
    for segment in [*parse_reference(text), None]:
        if isinstance(segment, str):
            run.append(segment)
            continue
        if run:
            out.extend(split_words(transform(" ".join(run))))
            run = []
        if isinstance(segment, Alternation):
            options = tuple(
                tuple(split_words(transform(" ".join(o)))) or (NULL_WORD,) for o in segment.options
            )
            out.append(Alternation(options))
    return format_reference(out)


@dataclass(frozen=True, slots=True)
class RefNetwork:
    """A reference as the aligner's network: words in order, each word's predecessors, the final words.

    Word k (1-based) follows the words ``preds[k - 1]`` (0 is the start), listed in sclite's order (the
    alternatives in the order written), and the path ends after any of ``finals``.
    """

    words: tuple[str, ...]
    preds: tuple[tuple[int, ...], ...]
    finals: tuple[int, ...]


def reference_network(segments: list[Segment]) -> RefNetwork:
    words: list[str] = []
    preds: list[tuple[int, ...]] = []
    tails: tuple[int, ...] = (0,)
    for segment in segments:
        if isinstance(segment, str):
            words.append(segment)
            preds.append(tails)
            tails = (len(words),)
            continue
        ends = []
        for option in segment.options:
            before = tails
            for word in option:
                words.append(word)
                preds.append(before)
                before = (len(words),)
            ends.extend(before)
        tails = tuple(ends)
    return RefNetwork(tuple(words), tuple(preds), tails if words else ())
