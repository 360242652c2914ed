"""Cache files written in a thread, so that whoever asked for the numbers has them without waiting for disk.

A cache write (Parquet with zstd for alignments, a ~500 MB Arrow file for the tables at 100k x 4) is CPU and
disk time that no caller needs to wait for. The threads are not daemons, so a command's process finishes
its writes before it exits; a lookup of a path being written waits for that write (``wait``), so a reader
never sees a missing file that is on its way. The writes themselves are atomic (``atomic_write``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

_pending: dict[Path, threading.Thread] = {}
_lock = threading.Lock()


def submit(path: Path, write: Callable[[], None]) -> None:
    """Run ``write`` (which writes ``path``) in a thread of its own."""

    def run() -> None:
        try:
            write()
        finally:
            with _lock:
                if _pending.get(path) is threading.current_thread():
                    del _pending[path]

    thread = threading.Thread(target=run, name=f"write {path.name}")
    with _lock:
        earlier = _pending.get(path)
        _pending[path] = thread
    if earlier is not None:
        earlier.join()  # one writer per path at a time
    thread.start()


def wait(path: Path) -> None:
    """Until the write of ``path`` in flight (if any) is done."""
    with _lock:
        thread = _pending.get(path)
    if thread is not None:
        thread.join()


def wait_all() -> None:
    """Until every write in flight is done: for a caller that looks at the cache files itself."""
    with _lock:
        threads = list(_pending.values())
    for thread in threads:
        thread.join()
