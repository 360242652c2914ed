"""A memo shared by every user of the dashboard: each derived view is computed once, under its own lock."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")


class Memo:
    """Per-object memo keyed by immutable arguments; a lock per key so concurrent users compute once.

    With ``maxsize`` the least recently used entries go first: views keyed by a choice of systems have
    as many variants as users make choices, and each can hold a 100k-row table.
    """

    def __init__(self, maxsize: int | None = None) -> None:
        self._values: OrderedDict[Hashable, Any] = OrderedDict()
        self._locks: dict[Hashable, threading.Lock] = {}
        self._guard = threading.Lock()
        self._maxsize = maxsize

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        with self._guard:
            if key in self._values:
                self._values.move_to_end(key)
                return self._values[key]
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            with self._guard:
                if key in self._values:
                    return self._values[key]
            try:
                value = compute()
            except BaseException:
                with self._guard:  # a view that cannot be built leaves no lock behind (one per bad key)
                    self._locks.pop(key, None)
                raise
            with self._guard:
                self._values[key] = value
                self._locks.pop(key, None)
                while self._maxsize is not None and len(self._values) > self._maxsize:
                    self._values.popitem(last=False)
        return value

    def newest(self, key: Hashable, version: int, compute: Callable[[], T]) -> T:
        """``get`` of ``(key, version)`` that drops ``key``'s older versions (versions only grow: an old one
        is never asked for again, and each can hold a column per row)."""
        value = self.get((key, version), compute)
        with self._guard:
            for old in [k for k in self._values if isinstance(k, tuple) and len(k) == 2 and k[0] == key]:
                if old[1] < version:
                    del self._values[old]
        return value
