"""Ctrl-C that is never lost: a long decode must stop when asked, whatever Python was running at that moment.

Python turns SIGINT into a KeyboardInterrupt at whatever bytecode runs next. When that is a ``__del__`` method
or a weakref callback (audio files and tensors are freed all the time in a decode loop), Python prints
"Exception ignored" and drops it, and the run goes on to the end as if nobody had pressed Ctrl-C. So the
handler here raises as usual and also remembers the signal; the decode loop calls ``check`` after each
batch, which raises it again if it was swallowed.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType


class Interrupts:
    """Whether SIGINT arrived since ``remembered_interrupts`` began."""

    def __init__(self) -> None:
        self.seen = False

    def handler(self, signum: int, frame: FrameType | None) -> None:
        self.seen = True
        raise KeyboardInterrupt

    def check(self) -> None:
        """Raise the interrupt again if one arrived (it may have been swallowed where it landed)."""
        if self.seen:
            raise KeyboardInterrupt


@contextlib.contextmanager
def remembered_interrupts() -> Iterator[Interrupts]:
    """Install the remembering handler in the main thread while Python's default one is in place."""
    state = Interrupts()
    if threading.current_thread() is not threading.main_thread():
        yield state  # signal handlers can only be set from the main thread; nothing to remember here
        return
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield state  # someone else (an embedding application, an ignored SIGINT) decides
        return
    signal.signal(signal.SIGINT, state.handler)
    try:
        yield state
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
