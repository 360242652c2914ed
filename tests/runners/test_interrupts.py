"""A Ctrl-C that Python swallows (it landed in a ``__del__``) still stops the decode at the next batch."""

from __future__ import annotations

import gc
import signal
import threading
from collections.abc import Iterator

import pytest
from werbench.runners.interrupts import remembered_interrupts


@pytest.fixture(autouse=True)
def python_sigint_handler() -> Iterator[None]:
    """Python's own SIGINT handler, as in a terminal; a suite started in the background inherits SIGINT
    ignored, and then ``remembered_interrupts`` rightly leaves it alone."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


class RaisesSignalWhenFreed:
    """Delivers SIGINT while Python runs ``__del__``: the KeyboardInterrupt is printed and dropped there."""

    def __del__(self) -> None:
        signal.raise_signal(signal.SIGINT)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the swallowing shown here
def test_a_swallowed_interrupt_is_raised_again_by_check() -> None:
    with remembered_interrupts() as interrupts:
        interrupts.check()  # nothing yet
        RaisesSignalWhenFreed()  # freed at once; its KeyboardInterrupt is "ignored" by Python
        gc.collect()
        assert interrupts.seen
        with pytest.raises(KeyboardInterrupt):
            interrupts.check()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_an_interrupt_still_raises_where_it_lands() -> None:
    with remembered_interrupts() as interrupts, pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)
    assert interrupts.seen and signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_outside_the_main_thread_nothing_is_installed() -> None:
    seen: list[object] = []

    def worker() -> None:
        with remembered_interrupts() as interrupts:
            seen.append(signal.getsignal(signal.SIGINT))
            interrupts.check()

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == [signal.default_int_handler]


def test_an_ignored_sigint_stays_ignored() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # started with nohup or in the background
    with remembered_interrupts() as interrupts:
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        signal.raise_signal(signal.SIGINT)
        interrupts.check()
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
