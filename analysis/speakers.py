"""The one rule for speakers: where an utterance's speaker comes from, and when per-speaker numbers exist.

An utterance's speaker is its ``speaker`` field: a manifest field, set by the importers from a Kaldi
``utt2spk`` or a LibriSpeech path, or for a sclite ``trn`` reference the speaker that sclite itself reads
from the id (``sclite -i rm``: the id up to its first ``-``, else ``_``; that is the trn format's speaker
field, so that sc_stats and werbench see the same speakers). Nothing guesses speakers from id prefixes of
other inputs unless the user gives a rule (``--speaker-from-id REGEX``, ``speaker_from_id=``), applied
only to utterances without a speaker. An utterance without a speaker is left out of per-speaker tests and
is a block of its own in a speaker bootstrap (``analysis.bootstrap.block_codes``). Per-speaker tests need
at least ``MIN_SPEAKERS`` speakers: with fewer, their p-values say next to nothing and they do not run.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from werbench.manifests.errors import ConfigError

MIN_SPEAKERS = 5
SPEAKER_SOURCES = "a manifest 'speaker' field, a Kaldi utt2spk, LibriSpeech paths or --speaker-from-id REGEX"


def sclite_speaker(utt_id: str) -> str | None:
    """The speaker ``sclite -i rm`` reads from a trn id: the text before the first ``-``, else ``_``."""
    for sep in "-_":
        if sep in utt_id:
            return utt_id.split(sep, 1)[0]
    return None


def sclite_speakers(ids: pd.Series) -> pd.Series:
    """``sclite_speaker`` of every id, in Arrow (the text before the first ``-``, else ``_``, else null)."""
    text = pa.array(ids.array, pa.large_string())
    speakers = pa.nulls(len(text), pa.large_string())
    for sep in "_-":  # "-" last: it wins where an id has both
        first = pc.list_element(pc.split_pattern(text, sep, max_splits=1), 0)
        speakers = pc.if_else(pc.match_substring(text, sep), first, speakers)
    return pd.Series(pd.array(speakers, dtype="str"), index=ids.index)


def speaker_rule(pattern: str) -> re.Pattern[str]:
    """Compile a ``--speaker-from-id`` rule: its first group (or whole match) is the speaker."""
    try:
        rule = re.compile(pattern)
    except re.error as exc:
        raise ConfigError("--speaker-from-id", f"{pattern!r} is not a regular expression ({exc})") from None
    if rule.groups > 1:
        raise ConfigError("--speaker-from-id", f"{pattern!r}: use at most one group (the speaker)")
    return rule


def speakers_from_ids(ids: Sequence[str], pattern: str) -> list[str | None]:
    """Each id's speaker by the user's rule (``re.search``); None where the rule does not match."""
    rule = speaker_rule(pattern)
    out: list[str | None] = []
    for utt_id in ids:
        found = rule.search(utt_id)
        out.append((found.group(rule.groups) or None) if found else None)
    return out


def known_speakers(speakers: Sequence[Any] | np.ndarray | pd.Series) -> np.ndarray:
    """True where an utterance has a speaker (not None, NaN or an empty string)."""
    values = pd.Series(np.asarray(speakers, dtype=object))
    return (values.notna() & (values.astype(str) != "")).to_numpy()


def with_speakers(speakers: pd.Series, ids: pd.Series, pattern: str | None) -> pd.Series:
    """The speaker column with the user's id rule filling the utterances that have no speaker."""
    if pattern is None:
        return speakers
    missing = ~known_speakers(speakers)
    if not missing.any():
        speaker_rule(pattern)  # a bad rule is an error even when nothing needs it
        return speakers
    filled = speakers.astype(object).copy()
    filled[missing] = speakers_from_ids([str(u) for u in ids[missing]], pattern)
    return filled


def too_few_speakers(count: int) -> str | None:
    """Why a per-speaker test cannot run with ``count`` speakers, or None when it can."""
    if count == 0:
        return f"no speakers: per-speaker tests need {SPEAKER_SOURCES}"
    if count < MIN_SPEAKERS:
        return (
            f"only {count} speaker{'s' if count > 1 else ''}: per-speaker tests need at least {MIN_SPEAKERS}"
        )
    return None
