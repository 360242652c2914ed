"""The dashboard under load: N concurrent clients against a real ``werbench serve`` for a fixed time.

    .venv/bin/python benchmarks/bench_dashboard_load.py [--utterances 100000] [--clients 50] [--seconds 120]

Generates (once, seeded) a synthetic results directory with ``benchmarks.synthetic_results``, starts
``werbench serve`` on a free loopback port (waitress, 8 threads), then runs ``--clients`` threads, each a
keep-alive HTTP client doing what a browser does, picked at random: a page through the router callback, a
grid page with random sort/filter (the server-side row model), an audio byte-range request, the
leaderboard CSV export, and (rarely: it is the whole 100k x 4 table) the per-utterance CSV. Warm-up, not
measured: one client through every page, grid sort, audio and both exports (the views are built), then
the full load for ``--warm-seconds`` (thread stacks, allocator arenas and the bounded memos fill). Then
the measured phase. Prints per kind the requests, errors, p50/p95 latency, and the server's RSS after
warm-up, half-way, at the end and its maximum (sampled every second), beside the targets: zero errors,
RSS growth after warm-up <= 10 %. RSS is also
given split (Linux ``/proc``) into anonymous memory (the heap: what could leak or run out) and file-backed
pages (the memory-mapped table cache: page cache shared with other processes, reclaimable, bounded by the
cache files' size); the growth target applies to the anonymous part.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import httpx
import numpy as np
import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _rss_mb(pid: int) -> dict[str, float]:
    """RSS in MB: total, anonymous and file-backed (/proc/PID/status; zeros where there is no such file)."""
    fields = {"VmRSS": "total", "RssAnon": "anon", "RssFile": "file"}
    out = dict.fromkeys(fields.values(), 0.0)
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in fields:
                out[fields[key]] = int(value.split()[0]) / 1024
    except OSError:
        out["total"] = psutil.Process(pid).memory_info().rss / 2**20
    return out


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _callback(deps: list[dict], first_output: str) -> tuple[str, object]:
    """The callback-map key and the ``outputs`` payload of the callback whose first output is given."""
    from werbench.dashboard.callback_client import outputs_of

    key = next(d["output"] for d in deps if d["output"].lstrip(".").startswith(first_output))
    outs = outputs_of(key)
    return key, outs if key.startswith("..") else outs[0]


class Load:
    """What the clients do; ``record`` keeps every latency and error by kind."""

    def __init__(self, base: str, results: Path) -> None:
        self.base = base
        with httpx.Client(base_url=base, timeout=120) as client:
            deps = client.get("/_dash-dependencies").json()
            self.systems_csv = client.get("/export/systems.csv").text
        self.router = _callback(deps, "page.children")
        self.rows = _callback(deps, "utts-grid.getRowsResponse")
        first = sorted(results.glob("*/*/predictions.jsonl"))[0]
        self.testset = first.parent.parent.name
        self.systems = sorted(p.parent.name for p in first.parent.parent.glob("*/predictions.jsonl"))
        with first.open() as handle:
            self.ids = [json.loads(line)["utt_id"] for _, line in zip(range(5000), handle, strict=False)]
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, list[str]] = defaultdict(list)
        self.lock = threading.Lock()

    def _post(
        self, client: httpx.Client, key: str, outputs: object, inputs: list, state: list
    ) -> httpx.Response:
        payload = {
            "output": key,
            "outputs": outputs,
            "inputs": inputs,
            "state": state,
            "changedPropIds": [f"{inputs[0]['id']}.{inputs[0]['property']}"],
        }
        return client.post("/_dash-update-component", json=payload)

    def pages(self, rng: random.Random) -> list[tuple[str, str]]:
        ts = self.testset
        return [
            ("/", ""),
            ("/dataset", f"?ts={ts}"),
            ("/utterances", f"?ts={ts}"),
            ("/compare", f"?ts={ts}&a={self.systems[0]}&b={self.systems[1]}"),
            ("/errors", f"?ts={ts}"),
            ("/utterance", f"?ts={ts}&id={rng.choice(self.ids)}"),
        ]

    def page(self, client: httpx.Client, rng: random.Random, which: int | None = None) -> httpx.Response:
        pages = self.pages(rng)
        path, search = pages[which] if which is not None else rng.choice(pages)
        inputs = [
            {"id": "url", "property": "pathname", "value": path},
            {"id": "url", "property": "search", "value": search},
        ]
        answer = self._post(
            client, *self.router, inputs, [{"id": "rendered", "property": "data", "value": {}}]
        )
        if answer.status_code == 200 and b"could not be built" in answer.content:
            raise RuntimeError(f"page {path}{search}: the view could not be built")
        return answer

    SORTS = ("utt_id", "duration", "ref_words", "s0_wer", "s1_cer", "s0_hyp")

    def grid(self, client: httpx.Client, rng: random.Random, sort: str | None = None) -> httpx.Response:
        start = rng.randrange(0, 90_000 if len(self.ids) >= 5000 else 100) // 100 * 100
        request: dict = {"startRow": start, "endRow": start + 100}
        if sort or rng.random() < 0.5:
            column = sort or rng.choice(self.SORTS)
            request["sortModel"] = [{"colId": column, "sort": rng.choice(["asc", "desc"])}]
        if rng.random() < 0.5:
            request["filterModel"] = {
                "s0_wer": {"filterType": "number", "type": "greaterThan", "filter": rng.uniform(0, 0.3)}
            }
            request["startRow"], request["endRow"] = 0, 100
        context = {"ts": self.testset, "norm": "none", "systems": self.systems, "qf": "all",
                   "a": self.systems[0], "b": self.systems[1]}  # fmt: skip
        return self._post(
            client,
            *self.rows,
            [{"id": "utts-grid", "property": "getRowsRequest", "value": request}],
            [{"id": "utts-ctx", "property": "data", "value": context}],
        )

    def audio(self, client: httpx.Client, rng: random.Random) -> httpx.Response:
        first = rng.randrange(0, 20_000)
        url = f"/audio/{self.testset}/{rng.choice(self.ids)}"
        return client.get(url, headers={"Range": f"bytes={first}-{first + 65_535}"})

    def csv(self, client: httpx.Client, rng: random.Random) -> httpx.Response:
        return client.get("/export/systems.csv")

    def csv_utterances(self, client: httpx.Client, rng: random.Random) -> httpx.Response:
        """Read to the end and dropped as it comes, as a browser saves a download: 100k x 4 rows are
        ~600 MB, and 50 clients holding whole bodies took the load generator itself to 12 GB."""
        with client.stream("GET", f"/export/utterances.csv?ts={self.testset}") as answer:
            for _ in answer.iter_raw():
                pass
        return answer

    def warm_up(self) -> None:
        """One client through every page, every grid sort, a filter, audio and both exports: the views
        every kind reads are built before anything is measured."""
        rng = random.Random(-1)
        with httpx.Client(base_url=self.base, timeout=600) as client:
            answers = [self.page(client, rng, which) for which in range(len(self.pages(rng)))]
            answers += [self.grid(client, rng, column) for column in self.SORTS]
            for kind in ("grid", "audio", "csv", "csv_utterances"):
                answers += [getattr(self, kind)(client, rng) for _ in range(3)]
        self.errors["warm-up"] += [
            f"{a.request.url.path}: HTTP {a.status_code}" for a in answers if a.status_code >= 400
        ]

    KINDS = (("page", 30), ("grid", 40), ("audio", 20), ("csv", 9), ("csv_utterances", 1))

    def client_loop(self, seed: int, until: float) -> None:
        rng = random.Random(seed)
        names = [k for k, _ in self.KINDS]
        weights = [w for _, w in self.KINDS]
        with httpx.Client(base_url=self.base, timeout=300) as client:
            while time.monotonic() < until:
                kind = rng.choices(names, weights)[0]
                start = time.perf_counter()
                try:
                    answer = getattr(self, kind)(client, rng)
                    problem = None if answer.status_code in (200, 204, 206) else f"HTTP {answer.status_code}"
                except Exception as exc:  # every failure is counted; none stops the client
                    problem = repr(exc)[:200]
                elapsed = (time.perf_counter() - start) * 1000
                with self.lock:
                    self.latency[kind].append(elapsed)
                    if problem:
                        self.errors[kind].append(problem)


def _run_clients(load: Load, clients: int, seconds: float, pid: int, seed: int) -> list[dict[str, float]]:
    """``clients`` threads of ``Load.client_loop`` for ``seconds``; the server's RSS once a second."""
    until = time.monotonic() + seconds
    threads = [threading.Thread(target=load.client_loop, args=(seed + i, until)) for i in range(clients)]
    for thread in threads:
        thread.start()
    samples = []
    while any(t.is_alive() for t in threads):
        samples.append(_rss_mb(pid))
        time.sleep(1.0)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--utterances", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--warm-seconds", type=float, default=30.0, help="unmeasured load after warm-up")
    parser.add_argument("--work", type=Path, default=Path("/tmp/werbench-bench-dashboard"))
    args = parser.parse_args()
    from benchmarks.synthetic_results import SyntheticSpec, generate

    results, cache = args.work / f"results-{args.utterances}", args.work / f"cache-{args.utterances}"
    if not (results / ".complete").exists():
        import shutil

        shutil.rmtree(results, ignore_errors=True)
        generate(results, SyntheticSpec(utterances=args.utterances, audio_files=16, seed=0))
        (results / ".complete").touch()
    port = _free_port()
    env = {**os.environ, "WERBENCH_CACHE": str(cache)}
    # the server's log goes to a file: a pipe nobody reads fills up, and waitress' main loop then blocks
    # on its "Task queue depth" warning, stalling every request until the clients time out
    server_log = args.work / "serve.log"
    server = subprocess.Popen(
        [sys.executable, "-c", "from werbench.cli import main; main()", "serve", str(results),
         "--port", str(port), "--threads", "8"],
        env=env, stdout=subprocess.DEVNULL, stderr=server_log.open("wb"),
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    while True:
        try:
            if httpx.get(base + "/", timeout=5).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if server.poll() is not None:
            raise SystemExit(f"serve exited: {server_log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.5)
    start_s = time.monotonic() - started
    process = psutil.Process(server.pid)
    load = Load(base, results)
    warm_started = time.monotonic()
    load.warm_up()
    _run_clients(load, args.clients, args.warm_seconds, process.pid, seed=10_000)
    warm_s = time.monotonic() - warm_started
    load.latency.clear()
    warm_errors = {f"warm-up {k}": list(v) for k, v in load.errors.items()}
    load.errors.clear()
    rss_before = _rss_mb(process.pid)
    rss_samples = [rss_before, *_run_clients(load, args.clients, args.seconds, process.pid, seed=0)]
    rss_after = _rss_mb(process.pid)
    rss_half = rss_samples[len(rss_samples) // 2]
    server.terminate()
    server.wait(timeout=30)
    total = sum(len(v) for v in load.latency.values())
    errors = sum(len(v) for v in load.errors.values())
    every = [x for v in load.latency.values() for x in v]
    print(
        f"\nwerbench dashboard load: {args.utterances:,} utterances x {len(load.systems)} systems, "
        f"{args.clients} clients x {args.seconds:.0f} s ({os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f} at the end); serve up in {start_s:.1f} s, warm-up {warm_s:.0f} s "
        f"(every kind once, then {args.clients} clients x {args.warm_seconds:.0f} s, not measured)"
    )
    print(f"  {'kind':<16}{'requests':>9}{'errors':>8}{'p50 ms':>10}{'p95 ms':>10}")
    for kind, _ in Load.KINDS:
        values = load.latency.get(kind, [])
        if values:
            p50, p95 = np.percentile(values, [50, 95])
            print(f"  {kind:<16}{len(values):>9}{len(load.errors.get(kind, [])):>8}{p50:>10.0f}{p95:>10.0f}")
    p50, p95 = np.percentile(every, [50, 95]) if every else (float("nan"),) * 2
    print(f"  {'all':<16}{total:>9}{errors:>8}{p50:>10.0f}{p95:>10.0f}   target: 0 errors")
    for part, label in (("total", "RSS"), ("anon", "anonymous"), ("file", "file-backed")):
        before, after = rss_before[part], rss_after[part]
        growth = (after - before) / before * 100 if before else float("nan")
        target = "   target: growth <= 10 %" if part == "anon" else ""
        print(
            f"  server {label}: after warm-up {before:.0f} MB, half-way {rss_half[part]:.0f} MB, "
            f"end {after:.0f} MB ({growth:+.1f} %), max {max(r[part] for r in rss_samples):.0f} MB{target}"
        )
    for kind, problems in {**warm_errors, **load.errors}.items():
        print(f"  errors in {kind}: {problems[:3]}")
    queued = server_log.read_text(errors="replace").count("Task queue depth")
    print(f"  waitress 'Task queue depth' warnings: {queued} (requests waiting for one of 8 threads)")


if __name__ == "__main__":
    main()
