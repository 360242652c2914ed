"""Tuning-grid throughput: one local process vs the same grid as Ray tasks, plus a projection to a cluster.

The dev set is synthetic CTC posteriors of Debian fortune sentences (as in bench_decoders.py), decoded by
``beam-fast`` with a lmplz trigram of the rest of the text; every grid point is one task that decodes the
whole dev set. It prints the wall time of ``tune`` with one process (jobs=1), the fork pool (jobs=N) and
Ray (``ray_map`` on a local cluster of N CPUs, start-up timed apart), the measured cost per grid point and
per utterance, the object-store copy of the shared state, and from those a projection for a 16-node x
32-core cluster with its assumptions printed beside it.

    .venv/bin/python benchmarks/bench_ray_tune.py [--utts 40] [--frames 400] [--grid 4x4] [--cpus 2]
"""

from __future__ import annotations

import argparse
import pickle
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from werbench.runners.decoders.beam_flashlight import FastBeamDecoder
from werbench.runners.lm import build_lm
from werbench.runners.tune import _SHARED, DevUtt, parse_grid, tune

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


def projection(per_utt_s: float, overhead_s: float, bytes_per_utt: float) -> list[str]:
    """The issue's workload (5k utterances, 100 points) on 16 nodes x 32 cores, from the measured costs."""
    nodes, cores, utts, points, link = 16, 32, 5000, 100, 10e9 / 8
    workers = nodes * cores
    serial = points * utts * per_utt_s
    per_point = utts * per_utt_s + overhead_s
    shard_utts = -(-utts * points // workers)  # (point, utterance shard) tasks: one wave over every core
    sharded = shard_utts * per_utt_s + overhead_s
    store = utts * bytes_per_utt
    broadcast = store * (nodes - 1) / link  # the driver's copy pulled by every other node once
    return [
        f"projection, 16 nodes x 32 cores = {workers} workers, {utts} utterances, {points}-point grid:",
        f"  one process: {serial / 3600:.1f} CPU-hours ({per_utt_s * 1000:.1f} ms per utterance and point)",
        f"  one task per point (as implemented): {points} tasks < {workers} workers, so wall = one point = "
        f"{per_point / 60:.1f} min; {points / workers:.0%} of the cores busy",
        f"  (point, utterance shard) tasks (not implemented): {shard_utts} decodes per task, one wave: "
        f"{sharded:.1f} s + broadcast",
        f"  object store: shared log-probs {store / 2**20:.0f} MiB put once; {nodes - 1} nodes pull it: "
        f"{broadcast:.1f} s at 10 Gbit/s (Ray pulls node to node, so this is an upper bound)",
        "  assumptions: every core decodes as fast as one core here (flashlight-text, beam as measured); "
        "the LM file is on every node (shared FS) and loads once per worker process (not counted); "
        f"measured Ray overhead {overhead_s * 1000:.0f} ms per task; the log-probs here are "
        f"{bytes_per_utt / 1024:.0f} KiB per utterance (a 29-label character model at 20 ms frames; a "
        "1024-piece BPE model has ~35x more per second of audio and the broadcast grows with it)",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--utts", type=int, default=40)
    parser.add_argument("--frames", type=int, default=400)
    parser.add_argument("--grid", default="alpha=0.3|0.6|0.9|1.2,beta=0|0.5|1|1.5")
    parser.add_argument("--beam-width", type=int, default=32)
    parser.add_argument("--cpus", type=int, default=2)
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
    decoder.decode(utts[0].log_probs, vocab, FRAME_SECONDS)  # LM loaded before any timing

    def timed(**kwargs) -> tuple[float, list]:
        start = time.perf_counter()
        result = tune(decoder, utts, vocab, FRAME_SECONDS, grid, **kwargs)
        return time.perf_counter() - start, result.rows

    timed(jobs=1)  # warm: the aligner's compiled kernels load on the first scoring (~1 s)
    one, rows = timed(jobs=1)
    pool, pool_rows = timed(jobs=args.cpus)
    start = time.perf_counter()
    import ray

    imported = time.perf_counter() - start
    ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False, logging_level="WARNING")
    started = time.perf_counter() - start
    from werbench.runners.engine_ray import ray_map

    timed(jobs=args.cpus, mapper=ray_map)  # warm: workers start and load the LM once each
    on_ray, ray_rows = timed(jobs=args.cpus, mapper=ray_map)
    ray.shutdown()
    points = len(rows)
    task_s = sum(r["seconds"] for r in ray_rows) / points
    per_utt = sum(r["seconds"] for r in rows) / points / len(utts)
    overhead = max(0.0, on_ray * args.cpus / points - task_s)
    total, arrays = shared_bytes()
    print(
        f"dev set: {len(utts)} utterances x ~{args.frames} frames, {points} grid points, "
        f"beam {args.beam_width}"
    )
    print(f"one process      {one:7.2f} s  {points / one:6.2f} points/s")
    print(f"fork pool x{args.cpus}     {pool:7.2f} s  {points / pool:6.2f} points/s  ({one / pool:.2f}x)")
    print(
        f"ray, {args.cpus} CPUs      {on_ray:7.2f} s  {points / on_ray:6.2f} points/s  ({one / on_ray:.2f}x)"
    )
    print(ANCHOR)
    print(
        f"grid points differing from one process: fork pool {differ(rows, pool_rows)}, "
        f"ray {differ(rows, ray_rows)}"
    )
    print(
        f"ray import {imported:.2f} s, local cluster start {started - imported:.2f} s (paid once per command)"
    )
    print(f"per grid point (task): {task_s * 1000:.0f} ms; Ray overhead per task: {overhead * 1000:.0f} ms")
    print(f"object store: shared state {total / 1024:.0f} KiB put once ({arrays / 1024:.0f} KiB log-probs)")
    for line in projection(per_utt, overhead, arrays / len(utts)):
        print(line)


if __name__ == "__main__":
    main()
