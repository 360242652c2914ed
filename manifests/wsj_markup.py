"""Clean-up of WSJ (CSR-I/II) transcript markup, following LDC's ``dot_spec`` conventions.

Each rule below is applied in this order, token by token after the bracket rules:

1. ``[door_slam]``, ``[<door_slam]``, ``[door_slam>]``, ``[/phone_ring]``, ``[phone_ring/]`` - non-speech
   events (alone, overlapping the previous/next word, start/end of a long event): removed.
2. ``<NOISE>``, ``<SPOKEN_NOISE>``, ``<UNK>``, ``<SIL>``, ``<s>``, ``</s>`` - special tokens: removed;
   ``<word>`` - a word the speaker said and then retracted (verbal deletion): kept as ``word``.
3. ``\\`` - the escape character of dot files (``I\\. B\\. M\\.``, ``isn\\'t``): removed; the escaped
   character stays.
4. Verbalised punctuation - the punctuation a VP speaker read aloud, written as the mark followed by its name
   (``,COMMA``, ``.PERIOD``, ``"DOUBLE-QUOTE``, ``--DASH``, ``(LEFT-PAREN``...): switchable with
   ``verbalized_punctuation``: ``"words"`` keeps the spoken name (``COMMA``), ``"drop"`` removes the token.
   ``%PERCENT`` and ``.POINT`` are words read in non-VP prompts too (``10.5%``), so they are always kept.
5. ``*word*`` - a mispronounced word: the asterisks are removed, the word kept.
6. ``:`` - lengthened sound (``s:o``, ``so:``): removed.
7. ``~`` - truncated utterance - and ``.`` alone - a pause: removed.
8. Word fragments ``th-`` / ``-tion`` (a leading or trailing hyphen): removed; inner hyphens stay.
"""

from __future__ import annotations

import re
from typing import Literal

VpMode = Literal["words", "drop"]
VP_MODES: tuple[VpMode, ...] = ("words", "drop")

_EVENT = re.compile(r"\[[^\[\]]*\]")
_ANGLE = re.compile(r"<(/?[^<>\s]+)>")
_SPECIAL_TOKENS = {"noise", "spoken_noise", "unk", "sil", "s", "/s", "vocalized-noise", "laughter"}
_VP = re.compile(r"^[^\w\s]+([A-Za-z]+(?:-[A-Za-z]+)*)$")
_ALWAYS_SPOKEN = {"PERCENT", "POINT"}
VERBALIZED_PUNCTUATION = frozenset(
    [
        "PERIOD",
        "COMMA",
        "QUOTE",
        "UNQUOTE",
        "DOUBLE-QUOTE",
        "END-QUOTE",
        "END-OF-QUOTE",
        "CLOSE-QUOTE",
        "OPEN-QUOTE",
        "SINGLE-QUOTE",
        "QUESTION-MARK",
        "EXCLAMATION-POINT",
        "EXCLAMATION-MARK",
        "COLON",
        "SEMI-COLON",
        "SEMICOLON",
        "HYPHEN",
        "DASH",
        "DOUBLE-DASH",
        "LEFT-PAREN",
        "RIGHT-PAREN",
        "OPEN-PAREN",
        "CLOSE-PAREN",
        "PAREN",
        "END-PAREN",
        "UN-PAREN",
        "END-OF-PAREN",
        "PARENTHESES",
        "LEFT-BRACE",
        "RIGHT-BRACE",
        "LEFT-BRACKET",
        "RIGHT-BRACKET",
        "AMPERSAND",
        "SLASH",
        "ELLIPSIS",
        "DOT",
        "APOSTROPHE",
    ]
)


def _angle(match: re.Match[str]) -> str:
    inner = match.group(1)
    return " " if inner.lower() in _SPECIAL_TOKENS else f" {inner} "


def _token(token: str, vp: VpMode) -> str:
    match = _VP.match(token)
    if match:
        name = match.group(1)
        if name.upper() in _ALWAYS_SPOKEN:
            return name
        if name.upper() in VERBALIZED_PUNCTUATION:
            return name if vp == "words" else ""
    token = token.replace("*", "").replace(":", "").replace("~", "")
    if token == "." or token.startswith("-") or token.endswith("-"):
        return ""
    return token


def clean_wsj_transcript(text: str, verbalized_punctuation: VpMode = "words") -> str:
    """Apply the rules of the module docstring; case is left alone (normalisers fold it)."""
    if verbalized_punctuation not in VP_MODES:
        raise ValueError(f"verbalized_punctuation must be one of {VP_MODES}, got {verbalized_punctuation!r}")
    text = _EVENT.sub(" ", text)
    text = _ANGLE.sub(_angle, text)
    text = text.replace("\\", "")
    words = (_token(token, verbalized_punctuation) for token in text.split())
    return " ".join(word for word in words if word)
