"""A system's results on object storage while it is decoded: a local staging copy, and a batch per object.

Object stores cannot append, so each (system, batch) is its own object ``<testset>/<system>/parts/<t>.jsonl``
(one atomic PUT) followed by ``run.json``. The engines write the staging folder exactly as a local run
writes its results (the same resume logic reads it); starting, a run rebuilds that folder from storage:
``predictions.jsonl``, then every part in the order written, the last row of an utterance winning. At the
end the driver puts ``predictions.jsonl`` (manifest order), then ``run.json``, then deletes the parts: a
kill between those leaves rows twice, which the next start reads once. Only the driver writes here.
"""

from __future__ import annotations

import hashlib
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

from werbench.manifests.results import PREDICTIONS, RUN_INFO, TESTSET_MANIFEST, SystemRef
from werbench.runners.predictions_file import rows_text
from werbench.runners.storage import Store

PARTS = "parts"


def staging_root(results_url: str, scratch: Path) -> Path:
    """The local folder mirroring ``results_url`` (one per URL, under the local scratch folder)."""
    return scratch / "staging" / hashlib.sha256(results_url.encode()).hexdigest()[:16]


class RemoteSystem:
    """One system's objects under a results URL, mirrored in the staging ``ref`` the engines write."""

    def __init__(self, results_url: str, ref: SystemRef) -> None:
        self.store = Store(results_url)
        self.ref = ref
        self.prefix = f"{ref.testset}/{ref.system}"
        self.manifest_key = f"{ref.testset}/{TESTSET_MANIFEST}"

    def pull(self) -> None:
        """Rebuild the staging folder from storage (what an earlier, maybe killed, run left there)."""
        shutil.rmtree(self.ref.path, ignore_errors=True)
        self.ref.path.mkdir(parents=True, exist_ok=True)
        manifest = self.store.read(self.manifest_key)
        if manifest is not None:
            (self.ref.path.parent / TESTSET_MANIFEST).write_bytes(manifest)
        info = self.store.read(f"{self.prefix}/{RUN_INFO}")
        if info is not None:
            self.ref.run_info_path.write_bytes(info)
        chunks = [self.store.read(f"{self.prefix}/{PREDICTIONS}")]
        chunks += [self.store.read(key) for key in self.store.keys(f"{self.prefix}/{PARTS}", "*.jsonl")]
        data = b"".join(c if c.endswith(b"\n") else c + b"\n" for c in chunks if c)
        if data:
            self.ref.predictions.write_bytes(data)

    def put_manifest(self) -> None:
        if self.store.read(self.manifest_key) is None:
            self.store.write(self.manifest_key, (self.ref.path.parent / TESTSET_MANIFEST).read_bytes())

    def put_batch(self, rows: list[dict[str, Any]]) -> None:
        """One batch as one object, named to sort in the order written (across resumed runs too)."""
        key = f"{self.prefix}/{PARTS}/{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.jsonl"
        self.store.write(key, rows_text(rows).encode())

    def put_run_info(self) -> None:
        self.store.write(f"{self.prefix}/{RUN_INFO}", self.ref.run_info_path.read_bytes())

    def put_final(self) -> None:
        """The finished predictions, then run.json, then the parts they replace go."""
        self.store.write(f"{self.prefix}/{PREDICTIONS}", self.ref.predictions.read_bytes())
        self.put_run_info()
        self.store.remove(f"{self.prefix}/{PARTS}", recursive=True)

    def clear(self) -> None:
        """--overwrite: the earlier configuration's rows go from storage too."""
        self.store.remove(f"{self.prefix}/{PREDICTIONS}")
        self.store.remove(f"{self.prefix}/{PARTS}", recursive=True)
