"""What every page is made of: its context (workspace + URL state) and its descriptor."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from dash import Dash, html
from werbench.analysis.confidence import DEFAULT_MEASURE, MEASURES
from werbench.dashboard import components as ui
from werbench.dashboard.data import NORMALIZERS, Analysis
from werbench.dashboard.state import get_choice
from werbench.dashboard.workspace import Workspace


@dataclass
class PageContext:
    """What a page's layout needs: the workspace, the URL state and the choices derived from both."""

    workspace: Workspace
    state: dict[str, str]

    @cached_property
    def normalizer(self) -> str:
        return get_choice(self.state, "norm", NORMALIZERS, self.workspace.default_normalizer) or "none"

    @cached_property
    def analysis(self) -> Analysis:
        return self.workspace.analysis(self.normalizer)

    @cached_property
    def testset(self) -> str | None:
        return get_choice(self.state, "ts", self.analysis.testsets, None)

    @cached_property
    def confidence_measure(self) -> str:
        """The word-confidence measure the confidence views and filters use (``cm``; analysis.confidence)."""
        return get_choice(self.state, "cm", MEASURES, DEFAULT_MEASURE) or DEFAULT_MEASURE

    @cached_property
    def systems(self) -> list[str]:
        return self.analysis.systems(self.testset) if self.testset else []

    def header(self, title: str, subtitle: str, *controls: Any, testset: bool = True) -> html.Div:
        """Page title with the global choices (test set, normaliser) and the page's own controls."""
        globals_ = ui.testset_and_normalizer(
            self.analysis.testsets, self.testset, NORMALIZERS, self.normalizer
        )
        return ui.page_header(title, subtitle, [*controls, *(globals_ if testset else globals_[1:])])


def _no_callbacks(app: Dash, workspace: Workspace) -> None:
    """Pages without callbacks of their own."""


@dataclass(frozen=True)
class Page:
    name: str
    path: str
    title: str
    layout: Callable[[PageContext], Any]
    register: Callable[[Dash, Workspace], None] = field(default=_no_callbacks)
    in_menu: bool = True

    @staticmethod
    def not_found() -> Page:
        return Page(
            "missing",
            "",
            "Not found",
            lambda ctx: ui.empty("No such page. Use the menu above."),
            in_menu=False,
        )
