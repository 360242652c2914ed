"""Cache files written behind: a reader of a path in flight waits for it; writes of one path keep order."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from werbench.analysis import write_behind


def slow_write(path: Path, text: str, started: threading.Event | None = None):
    def write() -> None:
        if started is not None:
            started.set()
        time.sleep(0.2)
        path.write_text(text, encoding="utf-8")

    return write


def test_wait_returns_once_the_file_is_written(tmp_path: Path) -> None:
    path, started = tmp_path / "a.arrow", threading.Event()
    write_behind.submit(path, slow_write(path, "done", started))
    started.wait()
    assert not path.exists()  # still being written: the caller went on
    write_behind.wait(path)
    assert path.read_text(encoding="utf-8") == "done"


def test_writes_of_one_path_run_one_after_another(tmp_path: Path) -> None:
    path = tmp_path / "b.arrow"
    write_behind.submit(path, slow_write(path, "first"))
    write_behind.submit(path, slow_write(path, "second"))  # waits for the first
    write_behind.wait_all()
    assert path.read_text(encoding="utf-8") == "second"
