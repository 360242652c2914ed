"""Acoustic-model speed: the real QuartzNet15x5 architecture (18.9M parameters, random weights) on CPU.

Anchor (issue #4): RTFx (audio seconds / compute seconds) of the acoustic model through werbench's NeMo
adapter, and of a whole greedy ``run_decode`` (audio reading, AM, decoding, fsync'd writes) - the
decode should cost little beyond the AM - plus a second decode served by the logits cache. NVIDIA's
QuartzNet paper targets GPUs; on CPU the figure to beat is real time (RTFx > 1) by a wide margin: we
expect RTFx >= 10 on 2 cores at batch 8, so a one-hour test set takes under 6 minutes.

    .venv/bin/python benchmarks/bench_am_rtf.py [--threads 2] [--device cuda] [--precision fp16] [--utts 8]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ANCHOR_RTFX = 10.0


def quartznet15x5_blocks() -> list[dict]:
    """QuartzNet 15x5: prologue, 5 groups of 3 residual blocks repeated 5 times, two epilogue convolutions."""
    from werbench.runners.tiny import separable_block

    blocks = [separable_block(256, 33, stride=2)]
    for filters, kernel in ((256, 33), (256, 39), (512, 51), (512, 63), (512, 75)):
        blocks += [separable_block(filters, kernel, repeat=5, residual=True) for _ in range(3)]
    blocks.append(separable_block(512, 87, dilation=2))
    blocks.append({**separable_block(1024, 1), "separable": False})
    return blocks


def noise_like_speech(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Amplitude-modulated noise: content does not change a convolutional model's cost, length does."""
    n = int(seconds * 16000)
    envelope = 0.5 + 0.5 * np.sin(np.linspace(0, seconds * 2 * np.pi * 3, n))
    return (0.1 * rng.standard_normal(n) * envelope).astype(np.float32)


def time_batches(model, seconds: float, batch: int, rng: np.random.Generator) -> tuple[float, float]:
    """(wall-clock RTFx, CPU-time RTFx): the second is immune to other processes sharing the cores."""
    audio = [noise_like_speech(seconds * rng.uniform(0.9, 1.0), rng) for _ in range(batch)]
    model.log_probs(audio[:1])  # warm-up: masks and buffers sized on first use
    wall, cpu = time.perf_counter(), time.process_time()
    model.log_probs(audio)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    total = sum(len(a) for a in audio) / 16000
    return total / wall, total / cpu


def end_to_end(model, folder: Path, utts: int, rng: np.random.Generator) -> list[tuple[str, float, float]]:
    """Greedy decode of a manifest of wav files: no cache, cache miss (filling), cache hit."""
    import soundfile
    from werbench.manifests.io import write_manifest
    from werbench.manifests.schema import Utterance
    from werbench.runners.decode import DecodeJob, run_decode

    rows = []
    for i in range(utts):
        samples = noise_like_speech(rng.uniform(4, 16), rng)
        path = folder / f"utt{i:03d}.wav"
        soundfile.write(path, samples, 16000)
        rows.append(Utterance(str(path), len(samples) / 16000, "x", utt_id=f"utt{i:03d}"))
    manifest = folder / "bench.jsonl"
    write_manifest(manifest, rows)
    out = []
    for label, cache, system in (
        ("greedy, no cache", None, "a@greedy"),
        ("greedy, cache miss", folder / "cache", "b@greedy"),
        ("greedy, cache hit", folder / "cache", "c@greedy"),
    ):
        job = DecodeJob(
            manifest, folder / "results", system=system, testset="bench", cache_dir=cache, progress=False
        )
        start = time.perf_counter()
        summary = run_decode(job, model)
        wall = time.perf_counter() - start
        out.append((label, summary.info.audio_seconds / wall, summary.info.audio_seconds))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default 2)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--utts", type=int, default=8, help="utterances in the end-to-end decode")
    args = parser.parse_args()

    import torch
    from werbench.runners.models.nemo import NemoCTCModel
    from werbench.runners.tiny import build_ctc_model, ctc_model_config

    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        net = build_ctc_model(ctc_model_config(quartznet15x5_blocks()))
        params = sum(p.numel() for p in net.parameters())
        net.save_to(str(folder / "qn15x5.nemo"))
        model = NemoCTCModel(folder / "qn15x5.nemo", args.device, args.precision)
        print(f"QuartzNet15x5 (random weights): {params / 1e6:.1f}M parameters, device {model.device}, "
              f"{model.precision}, {args.threads} torch threads")  # fmt: skip
        variants = {"werbench adapter": model}
        if model.device == "cpu":
            variants["oneDNN for all convs"] = NemoCTCModel(
                folder / "qn15x5.nemo", args.device, args.precision, native_depthwise=False
            )
        print(f"{'variant':>22} {'utterance':>10} {'batch':>6} {'wall RTFx':>10} {'CPU-time RTFx':>14}")
        measured = {}
        for name, variant in variants.items():
            for seconds, batch in ((10, 1), (10, 8)):
                wall, cpu = time_batches(variant, seconds, batch, rng)
                measured[name, batch] = wall
                print(f"{name:>22} {seconds:>9}s {batch:>6} {wall:>10.1f} {cpu:>14.1f}")
        best = measured["werbench adapter", 8]
        verdict = "met" if best >= ANCHOR_RTFX else "NOT met"
        print(f"\nanchor: AM RTFx >= {ANCHOR_RTFX:.0f} at batch 8 (wall clock) -> measured {best:.1f}: "
              f"{verdict} (CPU-time RTFx is what other processes on the cores do not distort)")  # fmt: skip
        print(
            f"\nend to end ({args.utts} utterances of 4-16 s, wall clock including audio reading and writes):"
        )
        for label, rtfx, audio in end_to_end(model, folder, args.utts, rng):
            print(f"  {label:<22} RTFx {rtfx:>8.1f}   ({audio:.0f} s of audio)")


if __name__ == "__main__":
    main()
