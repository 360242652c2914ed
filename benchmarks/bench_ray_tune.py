"""Tuning-grid throughput: one local process vs the fork pool vs Ray tasks, plus a projection to a cluster.

The dev set is synthetic CTC posteriors of Debian fortune sentences (as in bench_decoders.py), decoded by
``beam-fast`` with a lmplz trigram of the rest of the text. Each variant runs ``--repeat`` times after a
warm-up and its WORST time is reported: one process (jobs=1), the fork pool (jobs=N), Ray with one task
per grid point, and Ray with (point, utterance shard) tasks as ``tune`` makes them for a cluster wider than
the grid. Beside them: the load average, what N busy processes get done next to one on this machine right
now (its free capacity, which bounds any speed-up), the serial part left on the driver (tasks align their
own hypotheses; the driver sums counts), Ray's import and local start-up time, its overhead per task, the
object-store copy of the shared state, and from those a projection for a 16-node x 32-core cluster with its
assumptions.

    .venv/bin/python benchmarks/bench_ray_tune.py [--utts 160] [--frames 400] [--cpus 2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import pickle
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from werbench.runners.decoders.beam_fast import FastBeamDecoder
from werbench.runners.lm import build_lm
from werbench.runners.tune import _SHARED, DevUtt, grid_points, parse_grid, shard_spans, tune

from benchmarks.bench_decoders import fortunes_sentences, synthetic_set

ANCHOR = "issue anchor: Ray on this 2-core machine ~2x one local process (expect ~2x)"
FRAME_SECONDS = 0.02


def differ(rows: list[dict], other: list[dict]) -> int:
    """Grid points whose WER/CER/oracle differ from one process (none: every engine scores the same)."""
    return sum({**a, "seconds": 0} != {**b, "seconds": 0} for a, b in zip(rows, other, strict=True))


def shared_bytes() -> tuple[int, int]:
    """(pickled bytes of tune's shared state, bytes of its log-prob arrays): what ray.put stores once."""
    buffers: list = []
    head = pickle.dumps(dict(_SHARED), protocol=5, buffer_callback=buffers.append)
    arrays = sum(b.raw().nbytes for b in buffers)
    return len(head) + arrays, arrays


def spin(seconds: float) -> int:
    """Pure-Python work for ``seconds`` of wall time: how many loop rounds this process got done."""
    rounds, deadline = 0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        sum(range(2000))
        rounds += 1
    return rounds


def capacity(processes: int, seconds: float = 1.5) -> float:
    """Work ``processes`` busy processes get done together, in units of what one alone gets: 2.0 on two idle
    cores, less when other jobs hold them. No engine can beat it."""
    alone = spin(seconds)
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        together = sum(pool.map(spin, [seconds] * processes))
    return together / max(alone, 1)


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def projection(per_utt_s: float, overhead_s: float, bytes_per_utt: float, score_s: float) -> list[str]:
    """The issue's workload (5k utterances, 100 points) on 16 nodes x 32 cores, from the measured costs."""
    nodes, cores, utts, points, link = 16, 32, 5000, 100, 10e9 / 8
    workers = nodes * cores
    serial = points * utts * per_utt_s
    per_point = utts * per_utt_s + overhead_s
    spans = len(shard_spans(utts, points, workers))
    shard_utts = -(-utts // spans)
    waves = -(-points * spans // workers)
    sharded = waves * (shard_utts * per_utt_s + overhead_s)
    store = utts * bytes_per_utt
    broadcast = store * (nodes - 1) / link  # the driver's copy pulled by every other node once
    return [
        f"projection, 16 nodes x 32 cores = {workers} workers, {utts} utterances, {points}-point grid:",
        f"  one process: {serial / 3600:.1f} CPU-hours ({per_utt_s * 1000:.2f} ms per utterance and point)",
        f"  one task per point: {points} tasks < {workers} workers, so wall = one point = "
        f"{per_point / 60:.1f} min; {points / workers:.0%} of the cores busy",
        f"  (point, utterance shard) tasks as tune makes them: {spans} shards x {points} points = "
        f"{spans * points} tasks of {shard_utts} utterances, {waves} wave(s): {sharded:.1f} s",
        f"  serial on the driver (tasks align their own hypotheses; the driver sums counts): about "
        f"{score_s:.1f} s per run as measured here",
        f"  object store: shared log-probs {store / 2**20:.0f} MiB put once; {nodes - 1} nodes pull it: "
        f"{broadcast:.1f} s at 10 Gbit/s (Ray pulls node to node, so this is an upper bound)",
        "  assumptions: every core decodes as fast as one core here (beam-fast, beam as measured); "
        "the LM file is on every node (shared FS) and loads once per worker process (not counted); "
        f"measured Ray overhead {overhead_s * 1000:.0f} ms per task; the log-probs here are "
        f"{bytes_per_utt / 1024:.0f} KiB per utterance (a 29-label character model at 20 ms frames; a "
        "1024-piece BPE model has ~35x more per second of audio and the broadcast grows with it)",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--utts", type=int, default=160)
    parser.add_argument("--frames", type=int, default=400)
    parser.add_argument("--grid", default="alpha=0.3|0.6|0.9|1.2,beta=0|0.5|1|1.5")
    parser.add_argument("--beam-width", type=int, default=32)
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    args.confusion, args.sharpness, args.noise = 0.3, 7.0, 1.0

    lines = fortunes_sentences()
    dev, vocab, used = synthetic_set(lines, args.utts, args.frames, args)
    scratch = tempfile.TemporaryDirectory(prefix="bench-ray-tune-")  # removed when the script exits
    work = Path(scratch.name)
    text = work / "text.txt"
    text.write_text("\n".join(line for i, line in enumerate(lines) if i not in used) + "\n", encoding="utf-8")
    build_lm([text], work / "lm.arpa", order=3)
    utts = [DevUtt(f"u{i}", ref, lp) for i, (ref, lp) in enumerate(dev)]
    decoder = FastBeamDecoder(lm=str(work / "lm.arpa"), beam_width=args.beam_width)
    grid = parse_grid(args.grid)
    points = len(grid_points(grid))
    decoder.decode(utts[0].log_probs, vocab, FRAME_SECONDS)  # LM loaded before any timing

    def worst(**kwargs) -> tuple[float, list, str]:
        """The slowest of ``--repeat`` runs (after one warm-up), its rows, and the load average before."""
        tune(decoder, utts, vocab, FRAME_SECONDS, grid, **kwargs)  # warm: aligner kernels, Ray workers + LM
        before, times = load(), []
        for _ in range(args.repeat):
            start = time.perf_counter()
            result = tune(decoder, utts, vocab, FRAME_SECONDS, grid, **kwargs)
            times.append(time.perf_counter() - start)
        return max(times), result.rows, before

    print(f"load average before: {load()}; {args.cpus} busy processes do {capacity(args.cpus):.2f}x one")
    one, rows, load_one = worst(jobs=1)
    pool, pool_rows, load_pool = worst(jobs=args.cpus)
    start = time.perf_counter()
    import ray

    imported = time.perf_counter() - start
    ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False, logging_level="WARNING")
    started = time.perf_counter() - start
    from werbench.runners.engine_ray import ray_map

    on_ray, ray_rows, load_ray = worst(jobs=args.cpus, mapper=ray_map)
    wide = 8 * args.cpus  # as if the cluster had 8x the CPUs: tune splits each point by utterances
    spans = len(shard_spans(len(utts), points, wide))
    sharded, shard_rows, load_shard = worst(jobs=wide, mapper=ray_map)
    ray.shutdown()
    after = capacity(args.cpus)
    decode_s = sum(r["seconds"] for r in rows)
    task_s = sum(r["seconds"] for r in ray_rows) / points
    per_utt = decode_s / points / len(utts)
    tasks = points * spans
    scoring = max(0.0, one - decode_s)  # serial: the driver's part while the CPUs wait
    overhead = max(0.0, ((sharded - scoring) * args.cpus - sum(r["seconds"] for r in shard_rows)) / tasks)
    score_s = scoring
    total, arrays = shared_bytes()
    print(
        f"dev set: {len(utts)} utterances x ~{args.frames} frames, {points} grid points, "
        f"beam {args.beam_width}; worst of {args.repeat} runs each"
    )
    for name, seconds, before in (
        ("one process", one, load_one),
        (f"fork pool x{args.cpus}", pool, load_pool),
        (f"ray, {args.cpus} CPUs, {points} tasks", on_ray, load_ray),
        (f"ray, {tasks} (point, shard) tasks", sharded, load_shard),
    ):
        print(
            f"{name:30s} {seconds:7.2f} s  {points / seconds:6.2f} points/s  ({one / seconds:.2f}x)  "
            f"load before {before}"
        )
    print(ANCHOR)
    print(f"capacity after: {args.cpus} busy processes do {after:.2f}x one; load average {load()}")
    print(
        f"serial part (the driver summing counts, bookkeeping): {one - decode_s:.2f} s of the one-process "
        f"{one:.2f} s "
        f"(Amdahl bound at {args.cpus} CPUs: {one / (one - decode_s + decode_s / args.cpus):.2f}x)"
    )
    print(
        f"grid points differing from one process: fork pool {differ(rows, pool_rows)}, "
        f"ray {differ(rows, ray_rows)}, ray sharded {differ(rows, shard_rows)}"
    )
    print(
        f"ray import {imported:.2f} s, local cluster start {started - imported:.2f} s (paid once per command)"
    )
    print(
        f"per grid point (task): {task_s * 1000:.0f} ms; per shard task: {task_s / spans * 1000:.0f} ms; "
        f"Ray overhead per task: {overhead * 1000:.1f} ms"
    )
    print(f"object store: shared state {total / 1024:.0f} KiB put once ({arrays / 1024:.0f} KiB log-probs)")
    for line in projection(per_utt, overhead, arrays / len(utts), score_s):
        print(line)


if __name__ == "__main__":
    main()
