"""General-domain sentences from real English text that ships offline with Debian and Python.

Sources (all redistributable): Debian ``fortunes-min`` quotations, the licence texts in
``/usr/share/common-licenses`` and the docstrings of Python's standard library.
"""

from __future__ import annotations

import ast
import re
import sysconfig
from collections.abc import Iterable, Iterator
from pathlib import Path

from werbench.demo.build.normalise import normalise

FORTUNES = Path("/usr/share/games/fortunes")
FORTUNE_FILES = ("fortunes", "literature", "riddles")
LICENCES = Path("/usr/share/common-licenses")
LICENCE_FILES = ("GPL-3", "LGPL-2.1", "Apache-2.0", "MPL-2.0", "GFDL-1.3", "Artistic", "CC0-1.0")
STDLIB_SKIP = (
    "test",
    "idlelib",
    "lib2to3",
    "site-packages",
    "ensurepip",
    "turtledemo",
    "tkinter",
    "pydoc_data",
)

_ABBREVIATIONS = re.compile(r"\b(Mr|Mrs|Ms|Dr|St|Jr|Sr|vs|No)\.")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')]*\s+(?=[\"'(]?[A-Z])")
_ENUMERATION = re.compile(r"^\s*(?:\d+[a-z]?|[a-z]|[ivx]+)[.)]\s+", re.IGNORECASE)


def split_sentences(paragraph: str) -> list[str]:
    """Whitespace-joined paragraph -> sentences; abbreviations with a full stop do not end one."""
    text = _ABBREVIATIONS.sub(r"\1", " ".join(paragraph.split()))
    return [_ENUMERATION.sub("", s) for s in _SENTENCE_END.split(text) if s.strip()]


def fortune_paragraphs(folder: Path = FORTUNES) -> Iterator[str]:
    """Each quotation without its ``-- author`` attribution."""
    for name in FORTUNE_FILES:
        for entry in (folder / name).read_text(encoding="utf-8", errors="replace").split("\n%\n"):
            lines = []
            for line in entry.splitlines():
                if line.strip().startswith("--"):
                    break
                lines.append(line)
            yield " ".join(lines)


def licence_paragraphs(folder: Path = LICENCES) -> Iterator[str]:
    for name in LICENCE_FILES:
        path = folder / name
        if path.is_file():
            yield from re.split(r"\n\s*\n", path.read_text(encoding="utf-8", errors="replace"))


def docstring_paragraphs(stdlib: Path | None = None) -> Iterator[str]:
    """Prose paragraphs of standard-library docstrings (indented blocks and doctests are code, skipped)."""
    root = Path(stdlib or sysconfig.get_paths()["stdlib"])
    for path in sorted(root.rglob("*.py")):
        if any(part in STDLIB_SKIP for part in path.relative_to(root).parts):
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                doc = ast.get_docstring(node)
                if doc:
                    for para in re.split(r"\n\s*\n", doc):
                        if not any(line.startswith((" ", "\t", ">>>")) for line in para.splitlines()):
                            yield para


def sentences(paragraphs: Iterable[str], min_words: int = 4, max_words: int = 14) -> list[str]:
    """Normalised, de-duplicated sentences of a speakable length, in first-seen order."""
    seen: dict[str, None] = {}
    for para in paragraphs:
        for raw in split_sentences(para):
            text = normalise(raw)
            if text and min_words <= len(text.split()) <= max_words:
                seen.setdefault(text, None)
    return list(seen)


def general_corpus() -> dict[str, list[str]]:
    """Sentences per source, so the split can keep every source in every part."""
    return {
        "fortunes": sentences(fortune_paragraphs()),
        "licences": sentences(licence_paragraphs()),
        "python-docstrings": sentences(docstring_paragraphs()),
    }
