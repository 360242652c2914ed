"""The example notebook runs top to bottom in a real Jupyter kernel (nbclient + ipykernel), dashboard too."""

from __future__ import annotations

import socket
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from benchmarks.synthetic_results import SyntheticSpec, generate

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_example_notebook_executes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    results = generate(tmp_path / "results", SyntheticSpec(utterances=40, audio_files=2))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("WERBENCH_RESULTS", str(results))
    monkeypatch.setenv("WERBENCH_PORT", str(port))
    monkeypatch.setenv("WERBENCH_CACHE", str(tmp_path / "cache"))
    notebook = nbformat.read(REPO / "examples" / "werbench-api.ipynb", as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(REPO / "examples")}}).execute()  # fmt: skip
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    text = "".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert "WER 0.125" in text and "('S', 'the', 'a')" in text and "200 True" in text
    assert any("application/vnd.plotly.v1+json" in o.get("data", {}) for o in outputs)
    assert not (tmp_path / "cache").exists()  # nothing cached unless asked
