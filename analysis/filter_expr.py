"""Typed filter expressions over a per-utterance table, e.g. ``wer > 30 && text contains bank``.

Speech Data Explorer users filter with expressions beyond a grid's two conditions per column. This is a
small hand-written recursive-descent parser, deliberately not ``eval`` nor ``DataFrame.query`` (both run
Python/numexpr on text a browser sent: a server must not) and not a parser library (pyparsing or lark
would be a dependency for a dozen lines of grammar). Fields are typed, so an unknown field, a number
compared with text, a stray token or an unclosed quote is a ``FilterError`` naming the position, raised
while parsing, before any row is looked at. No regular expressions: a catastrophic pattern would hold a
server thread.

    expr  := and (("||" | "or") and)*
    and   := unary (("&&" | "and") unary)*
    unary := ("!" | "not") unary | "(" expr ")" | FIELD OP VALUE
    OP    := > >= < <= == = !=                         (number fields)
           | == = != contains !contains startswith endswith  (text fields, case-insensitive)
    VALUE := number | "quoted" | 'quoted' | word

A field's ``scale`` lets a rate stored as a fraction be written as shown, in percent (``wer > 30``).
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from werbench.manifests.errors import ConfigError

Mask = Callable[[pd.DataFrame], np.ndarray]
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<op>&&|\|\||!=|==|>=|<=|[<>=!()])
      | (?P<num>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?%?)(?![\w.\[])
      | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<word>[^\s()<>=!&|"']+(?:\[[^\]]*\])?)
    )""",
    re.VERBOSE,
)
_NUMBER_OPS = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
    "==": operator.eq, "=": operator.eq, "!=": operator.ne,
}  # fmt: skip
_TEXT_OPS = ("==", "=", "!=", "contains", "!contains", "startswith", "endswith")


class FilterError(ConfigError):
    """A malformed filter expression: ``str()`` is ``filter: at character N: what was expected``."""

    @classmethod
    def at(cls, position: int, message: str) -> FilterError:
        error = cls("filter", f"at character {position + 1}: {message}")
        error.position = position
        return error


@dataclass(frozen=True)
class Field:
    """A column the expression may name: its kind, and the factor a stored value is shown at."""

    column: str
    kind: Literal["number", "text"]
    scale: float = 1.0


@dataclass(frozen=True)
class _Token:
    kind: str  # op, num, str, word, end
    text: str
    position: int


def _tokens(text: str) -> list[_Token]:
    tokens, at = [], 0
    while at < len(text):
        if text[at:].strip() == "":
            break
        match = _TOKEN.match(text, at)
        if match is None or match.end() == at:
            where = len(text) - len(text[at:].lstrip())
            what = text[where]
            raise FilterError.at(where, "unclosed quote" if what in "\"'" else f"unexpected {what!r}")
        kind = match.lastgroup or "op"
        tokens.append(_Token(kind, match.group(kind), match.start(kind)))
        at = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str, fields: Mapping[str, Field]) -> None:
        self.text = text
        self.fields = {name.lower(): field for name, field in fields.items()}
        self.tokens = _tokens(text)
        self.at = 0

    def peek(self) -> _Token:
        return self.tokens[self.at]

    def take(self) -> _Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def fail(self, token: _Token, message: str) -> FilterError:
        return FilterError.at(token.position, message)

    def keyword(self, *words: str) -> bool:
        token = self.peek()
        if token.text.lower() in words and token.kind in ("op", "word"):
            self.at += 1
            return True
        return False

    def parse(self) -> Mask:
        if self.peek().kind == "end":
            raise self.fail(self.peek(), "empty expression")
        mask = self.disjunction()
        if self.peek().kind != "end":
            raise self.fail(self.peek(), f"expected && or || before {self.peek().text!r}")
        return mask

    def disjunction(self) -> Mask:
        parts = [self.conjunction()]
        while self.keyword("||", "or"):
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else _combine(parts, np.logical_or)

    def conjunction(self) -> Mask:
        parts = [self.unary()]
        while self.keyword("&&", "and"):
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else _combine(parts, np.logical_and)

    def unary(self) -> Mask:
        token = self.peek()
        if token.text == "!" or (token.kind == "word" and token.text.lower() == "not"):
            self.take()
            inner = self.unary()
            return lambda frame: ~inner(frame)
        if token.text == "(":
            self.take()
            inner = self.disjunction()
            if self.take().text != ")":
                raise self.fail(token, "this ( is never closed")
            return inner
        return self.comparison()

    def comparison(self) -> Mask:
        name = self.take()
        if name.kind != "word":
            raise self.fail(name, f"expected a field name, got {name.text or 'the end'!r}")
        field = self.fields.get(name.text.lower())
        if field is None:
            known = ", ".join(sorted(self.fields)[:40])
            raise self.fail(name, f"unknown field {name.text!r}; fields: {known}")
        op = self.operator(field)
        value = self.take()
        if value.kind not in ("num", "str", "word"):
            raise self.fail(value, f"expected a value after {op}, got {value.text or 'the end'!r}")
        if field.kind == "number":
            return _number_mask(field, op, self.number(value))
        text = value.text[1:-1].replace('\\"', '"').replace("\\'", "'") if value.kind == "str" else value.text
        return _text_mask(field, op, text)

    def operator(self, field: Field) -> str:
        token = self.take()
        op = token.text.lower()
        if op == "!" and self.peek().text.lower() == "contains":
            self.take()
            op = "!contains"
        allowed = tuple(_NUMBER_OPS) if field.kind == "number" else _TEXT_OPS
        if op not in allowed:
            raise self.fail(
                token, f"{field.kind} fields take {' '.join(allowed)}; got {token.text or 'the end'!r}"
            )
        return op

    def number(self, token: _Token) -> float:
        if token.kind != "num":
            raise self.fail(token, f"expected a number, got {token.text!r}")
        return float(token.text.rstrip("%"))


def _combine(parts: list[Mask], join: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Mask:
    def mask(frame: pd.DataFrame) -> np.ndarray:
        out = parts[0](frame)
        for part in parts[1:]:
            out = join(out, part(frame))
        return out

    return mask


def _number_mask(field: Field, op: str, value: float) -> Mask:
    compare = _NUMBER_OPS[op]

    def mask(frame: pd.DataFrame) -> np.ndarray:
        values = pd.to_numeric(frame[field.column], errors="coerce").to_numpy(float) * field.scale
        with np.errstate(invalid="ignore"):
            hits = compare(values, value) if math.isfinite(value) else np.zeros(len(values), bool)
        return np.asarray(hits & ~np.isnan(values), bool)  # a missing value matches nothing

    return mask


def _text_mask(field: Field, op: str, value: str) -> Mask:
    needle = value.lower()

    def mask(frame: pd.DataFrame) -> np.ndarray:
        texts = frame[field.column].astype("string").fillna("").str.lower()
        if op in ("==", "="):
            hits = texts == needle
        elif op == "!=":
            hits = texts != needle
        elif op == "startswith":
            hits = texts.str.startswith(needle)
        elif op == "endswith":
            hits = texts.str.endswith(needle)
        else:
            hits = texts.str.contains(needle, regex=False)
            hits = ~hits if op == "!contains" else hits
        return hits.fillna(False).to_numpy(bool)

    return mask


def parse_filter(text: str, fields: Mapping[str, Field]) -> Mask:
    """The row mask ``text`` describes over a frame holding ``fields``' columns; FilterError if malformed."""
    return _Parser(text, fields).parse()
