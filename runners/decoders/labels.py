"""How CTC labels mark words: sentencepiece and wordpiece markers, and labels that never reach a transcript.

Shared by the greedy and the beam decoders, which both turn label sequences into words.
"""

from __future__ import annotations

import re

from werbench.runners.decoders.base import Vocabulary

BPE_MARK = "▁"
WORDPIECE_MARK = "##"
SPECIAL_LABEL = re.compile(r"^(<[^<>\s]+>|\[[^\[\]\s]+\])$")


def special_label_ids(vocab: Vocabulary) -> list[int]:
    """Labels such as ``<unk>``, ``<s>`` or ``[PAD]`` that never belong in a transcript (blank excluded)."""
    return [i for i, label in enumerate(vocab.labels) if i != vocab.blank_id and SPECIAL_LABEL.match(label)]


def bpe_style(vocab: Vocabulary) -> str | None:
    """``"sentencepiece"`` (``▁`` starts words), ``"wordpiece"`` (``##`` continues them), None: characters."""
    labels = vocab.labels
    if any(label.startswith(BPE_MARK) for label in labels):
        return "sentencepiece"
    if any(label.startswith(WORDPIECE_MARK) for label in labels):
        return "wordpiece"
    if vocab.is_bpe:
        raise ValueError("BPE vocabulary without '▁' or '##' word-boundary markers is not supported")
    return None
