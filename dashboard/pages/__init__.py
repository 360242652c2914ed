"""The dashboard's pages: each module exposes ``PAGE`` (path, title, layout builder, callbacks)."""

from __future__ import annotations

from werbench.dashboard.pages import compare, dataset, errors, leaderboard, utterance, utterances
from werbench.dashboard.pages.base import Page, PageContext

PAGES: list[Page] = [
    leaderboard.PAGE,
    dataset.PAGE,
    utterances.PAGE,
    compare.PAGE,
    errors.PAGE,
    utterance.PAGE,
]

__all__ = ["PAGES", "Page", "PageContext"]
