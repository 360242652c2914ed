"""werbench serve against NeMo's Speech Data Explorer on the same NeMo manifest, side by side.

    .venv/bin/python benchmarks/bench_sde.py --sde path/to/data_explorer.py [--sde-python PY]
        [--utterances 100000] [--work DIR] [--repeats 5]

SDE is NeMo's ``tools/speech_data_explorer/data_explorer.py`` (not a pip package: pass the file; its
requirements are dash, dash_bootstrap_components, diff_match_patch, editdistance, jiwer>=3.1,<4, librosa,
soundfile; ``--sde-python`` may be another interpreter that has them). Dash 3 removed ``app.run_server``,
which SDE's last line calls; the copy run here has that one call renamed to ``app.run``, nothing else.

One manifest of ``--utterances`` rows (``benchmarks.synthetic_results``: one system's ``pred_text``, a
small pool of real WAV files) is served by each tool in a fresh process; measured over HTTP, as a browser
asks:

- start-up: process start until ``GET /`` answers 200 (both read and score everything before listening):
  SDE cold (``--disable-caching-metrics``) and warm (its pickle cache), werbench cold (empty analysis cache)
  and warm (the cache the cold run filled);
- one filter: SDE's table callback with ``{WER} > T`` (its 10-row page) against werbench's grid callback
  with the column filter ``WER > T%`` (its 100-row block); T changes per repeat so no view is memoised;
- one page: the page/block at row 50% (and further on per repeat), no filter.

Figures are the first call and the median of ``--repeats`` more, printed side by side with the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from werbench.dashboard.callback_client import outputs_of  # noqa: E402

KEEP = ("utt_id", "audio_filepath", "duration", "text", "pred_text", "speaker", "noise")


def make_manifest(work: Path, utterances: int) -> Path:
    """``sde.jsonl``: one synthetic system's predictions as a flat NeMo manifest (scalar fields only)."""
    from benchmarks.synthetic_results import SyntheticSpec, generate

    manifest = work / "sde.jsonl"
    if manifest.is_file() and sum(1 for _ in manifest.open()) == utterances:
        return manifest
    results = generate(
        work / "results",
        SyntheticSpec(utterances=utterances, error_rates={"base@greedy": 0.13}, audio_files=32),
    )
    rows = (results / "synth-clean" / "base@greedy" / "predictions.jsonl").read_text().splitlines()
    with manifest.open("w") as out:
        for line in rows:
            row = json.loads(line)
            out.write(json.dumps({k: row[k] for k in KEEP if k in row}) + "\n")
    return manifest


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status


def _post(url: str, payload: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    request = urllib.request.Request(
        url, json.dumps(payload).encode(), {"Content-Type": "application/json"}, method="POST"
    )
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=600) as response:
        body = json.loads(response.read() or b"{}")
    return (time.perf_counter() - start) * 1000, body


class Server:
    """A dashboard in its own process; ``started_s`` is the time until ``GET /`` answered 200."""

    def __init__(self, command: list[str], env: dict[str, str], log: Path, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        start = time.perf_counter()
        self.process = subprocess.Popen(command, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"{command[:3]} exited {self.process.returncode}; see {log}")
            try:
                if _get(self.base + "/") == 200:
                    break
            except OSError:
                time.sleep(0.05)
        self.started_s = time.perf_counter() - start
        with urllib.request.urlopen(self.base + "/_dash-dependencies", timeout=30) as response:
            self.callbacks = json.loads(response.read())

    def call(self, output: str, inputs: list[dict], state: list[dict] = ()) -> tuple[float, dict[str, Any]]:
        """POST the callback whose outputs include ``output`` (``"id.prop"``), as the renderer does."""
        key = next(c["output"] for c in self.callbacks if output in c["output"])
        outputs = outputs_of(key)
        payload = {
            "output": key, "outputs": outputs if key.startswith("..") else outputs[0], "inputs": inputs,
            "state": list(state), "changedPropIds": [f"{inputs[0]['id']}.{inputs[0]['property']}"],
        }  # fmt: skip
        return _post(self.base + "/_dash-update-component", payload)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _timed(call: Callable[[int], float], repeats: int) -> dict[str, float]:
    first = call(0)
    rest = [call(k) for k in range(1, repeats + 1)]
    return {"first_ms": first, "median_ms": statistics.median(rest)}


def measure_sde(server: Server, utterances: int, repeats: int) -> dict[str, Any]:
    def table(page: int, query: str) -> float:
        inputs = [
            {"id": "datatable", "property": "page_current", "value": page},
            {"id": "datatable", "property": "sort_by", "value": []},
            {"id": "datatable", "property": "filter_query", "value": query},
        ]
        ms, body = server.call("datatable.data", inputs)
        assert body["response"]["datatable"]["data"], "SDE returned no rows"
        return ms

    pages = utterances // 10
    return {
        "filter": _timed(lambda k: table(0, f"{{WER}} > {30 + k}"), repeats),
        "page": _timed(lambda k: table((pages // 2 + 97 * k) % pages, ""), repeats),
    }


def measure_werbench(server: Server, utterances: int, repeats: int) -> dict[str, Any]:
    context = {"ts": "sde", "norm": "none", "systems": ["sde"], "qf": "all", "a": "sde", "b": "sde", "q": ""}

    def rows(start: int, filter_model: dict) -> float:
        request = {"startRow": start, "endRow": start + 100, "filterModel": filter_model, "sortModel": []}
        ms, body = server.call(
            "utts-grid.getRowsResponse",
            [{"id": "utts-grid", "property": "getRowsRequest", "value": request}],
            [{"id": "utts-ctx", "property": "data", "value": context}],
        )
        assert body["response"]["utts-grid"]["getRowsResponse"]["rowData"], "werbench returned no rows"
        return ms

    def wer_above(k: int) -> dict:
        return {"s0_wer": {"filterType": "number", "type": "greaterThan", "filter": (30 + k) / 100}}

    return {
        "filter": _timed(lambda k: rows(0, wer_above(k)), repeats),
        "page": _timed(lambda k: rows((utterances // 2 + 970 * k) % (utterances - 100), {}), repeats),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sde", type=Path, required=True, help="NeMo's data_explorer.py")
    parser.add_argument("--sde-python", default=sys.executable, help="interpreter with SDE's requirements")
    parser.add_argument("--utterances", type=int, default=100_000)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "werbench-bench-sde")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    manifest = make_manifest(args.work, args.utterances)
    sde = args.work / "data_explorer.py"
    sde.write_text(args.sde.read_text().replace("app.run_server(", "app.run("))
    werbench = [str(Path(sys.executable).with_name("werbench")), "serve", str(manifest)]
    cache = args.work / "werbench-cache"
    shutil.rmtree(cache, ignore_errors=True)
    for stale in args.work.glob("sde_*.pkl"):  # SDE's metrics cache, named after the manifest
        stale.unlink()
    env = dict(os.environ)
    runs = [
        ("SDE cold", [args.sde_python, str(sde), str(manifest), "--disable-caching-metrics"], measure_sde),
        ("SDE warm (pickle written)", [args.sde_python, str(sde), str(manifest)], None),
        ("SDE warm", [args.sde_python, str(sde), str(manifest)], None),
        ("werbench cold", werbench, measure_werbench),
        ("werbench warm", werbench, None),
    ]
    figures: dict[str, Any] = {}
    for name, command, measure in runs:
        port = _free_port()
        extra = ["--port", str(port)]
        server = Server(command + extra, {**env, "WERBENCH_CACHE": str(cache)}, args.work / "log.txt", port)
        try:
            figures[name] = {"start_s": server.started_s}
            if measure is not None:
                figures[name].update(measure(server, args.utterances, args.repeats))
        finally:
            server.stop()
        print(f"{name}: {json.dumps(figures[name])}", flush=True)
    print(
        f"\n{args.utterances:,} utterances, one system; {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}"
    )
    for kind in ("cold", "warm"):
        sde_s, ours_s = figures[f"SDE {kind}"]["start_s"], figures[f"werbench {kind}"]["start_s"]
        print(f"start-up {kind:4}: SDE {sde_s:7.1f} s   werbench {ours_s:6.1f} s   ({sde_s / ours_s:.1f}x)")
    for what in ("filter", "page"):
        for stat in ("first_ms", "median_ms"):
            sde_ms, ours_ms = figures["SDE cold"][what][stat], figures["werbench cold"][what][stat]
            ratio = sde_ms / ours_ms
            print(f"{what:6} {stat:9}: SDE {sde_ms:8.1f} ms   werbench {ours_ms:7.1f} ms   ({ratio:.1f}x)")
    (args.work / "figures.json").write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
