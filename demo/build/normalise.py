"""Spell text as the demo's character models do: lower-case a-z, apostrophe, single spaces, numbers as words.

Sentences that cannot be read unambiguously (code, markup, digits glued to letters) are rejected, not mangled.
"""

from __future__ import annotations

import re
import unicodedata

from num2words import num2words

ALPHABET = " abcdefghijklmnopqrstuvwxyz'"
_CODE_LIKE = re.compile(r"[_(){}\[\]<>=/\\*`@#|~^$+]|\.\w|e\.g|i\.e|etc\.")
_GLUED_DIGIT = re.compile(r"\d[a-zA-Z]|[a-zA-Z]\d")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_DROP = re.compile(r"[.,;:!?\"]")
_SPACE_LIKE = re.compile(r"[\u2010-\u2015\-/]+")
_ALLOWED_SINGLE_LETTERS = {"a", "i", "o"}


def number_words(value: int | float | str) -> str:
    """Cardinal in American reading style ("one hundred twenty three"), decimals read digit by digit."""
    text = num2words(float(value) if "." in str(value) else int(value))
    return " ".join(w for w in re.split(r"[\s,\-]+", text) if w and w != "and")


def year_words(year: int) -> str:
    """Years as they are read aloud: 1998 -> nineteen ninety eight."""
    return " ".join(w for w in re.split(r"[\s,\-]+", num2words(year, to="year")) if w and w != "and")


def normalise(raw: str, *, max_word_len: int = 16) -> str | None:
    """Raw English sentence -> model spelling, or None when it should not be used as speech text."""
    text = unicodedata.normalize("NFKC", raw).replace("\u2019", "'").replace("\u2018", "'")
    if _CODE_LIKE.search(text) or _GLUED_DIGIT.search(text):
        return None
    text = text.replace("&", " and ").replace("%", " percent ")
    text = _NUMBER.sub(lambda m: f" {number_words(m.group())} ", text)
    text = _SPACE_LIKE.sub(" ", _DROP.sub(" ", text.lower()))
    words = [w.strip("'") for w in text.split()]
    words = [w for w in words if w]
    if any(ch not in ALPHABET for w in words for ch in w):
        return None
    if any(len(w) > max_word_len or (len(w) == 1 and w not in _ALLOWED_SINGLE_LETTERS) for w in words):
        return None
    return " ".join(words)
