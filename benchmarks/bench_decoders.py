"""Decoder speed: pyctcdecode (``beam``) vs flashlight-text (``beam-fast``) on the same log-probs and KenLM.

Prints ms per utterance and WER side by side at beam 64 on ~500-frame utterances, decoded in parallel worker
processes, beside the anchors from the issue. By default the log-probs are synthetic CTC posteriors of
sentences from the Debian fortunes text; the LM is estimated with lmplz from the rest of that text plus the
test sentences' words one per line, as a large LM knows nearly every test word but not the test sentences
(``--open-vocabulary`` leaves those words out: then the lexicon-bound fast path cannot output them). With
``--model`` and ``--manifest`` the log-probs are a real model's, through (and into) the logits cache.

    .venv/bin/python benchmarks/bench_decoders.py [--utts 60] [--jobs 2] [--model M.nemo --manifest M.jsonl]
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from werbench.manifests.normalize import get_normalizer
from werbench.runners.decoders.base import Vocabulary
from werbench.runners.decoders.beam_flashlight import FastBeamDecoder
from werbench.runners.decoders.beam_pyctc import BeamSearchDecoder
from werbench.runners.decoders.synthetic import char_token_ids, synthetic_log_probs
from werbench.runners.lm import build_lm

FORTUNES = Path("/usr/share/games/fortunes")
ANCHORS = "issue anchors: pyctcdecode 500-950 ms/utt, flashlight-text 60-90 ms/utt (500 frames, beam 64); "
ANCHORS += "target: beam-fast >= 10x beam at equal or better WER"
CHAR_LABELS = (" ", *"abcdefghijklmnopqrstuvwxyz", "'", "<blank>")
_WORK: dict = {}


def fortunes_sentences() -> list[str]:
    norm = get_normalizer("nemo")
    lines = []
    for path in sorted(FORTUNES.glob("*")):
        if path.suffix in (".dat", ".u8") or not path.is_file():
            continue
        for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
            text = norm(raw)
            if text and set(text) <= set(CHAR_LABELS[:-1]):
                lines.append(text)
    if not lines:
        sys.exit(
            f"no text under {FORTUNES}: install the Debian package fortunes-min or pass --model/--manifest"
        )
    return lines


def synthetic_set(
    lines: list[str], count: int, frames: int, args
) -> tuple[list[tuple[str, np.ndarray]], Vocabulary]:
    """Utterances of consecutive fortune words, about ``frames`` frames long (about 3 frames per character),
    and the indices of the lines they use (held out of the LM's text)."""
    vocab = Vocabulary(CHAR_LABELS, len(CHAR_LABELS) - 1)
    rng = np.random.default_rng(args.seed)
    out = []
    used: set[int] = set()
    for _ in range(count):
        start = int(rng.integers(len(lines)))
        words: list[str] = []
        line = start
        while len(" ".join(words)) * 3 < frames:
            words += lines[line % len(lines)].split()
            used.add(line % len(lines))
            line += 1
        while len(words) > 1 and len(" ".join(words)) * 3 > frames * 1.1:
            words.pop()
        text = " ".join(words)
        log_probs = synthetic_log_probs(
            char_token_ids(text, vocab),
            vocab.size,
            vocab.blank_id,
            rng,
            frames_per_token=(1, 3),
            confusion=args.confusion,
            sharpness=args.sharpness,
            noise=args.noise,
        )
        out.append((text, log_probs))
    return out, vocab, used


def model_set(args) -> tuple[list[tuple[str, np.ndarray]], Vocabulary]:
    from werbench.runners.tune import load_dev

    utts, vocab, _, _, _ = load_dev(
        args.model, Path(args.manifest), "nemo", device="cpu", cache_dir=args.cache_dir
    )
    return [(u.ref, u.log_probs) for u in utts[: args.utts]], vocab


def _decode(index: int) -> tuple[str, str, float]:
    decoder, vocab, (ref, log_probs) = _WORK["decoder"], _WORK["vocab"], _WORK["utts"][index]
    start = time.perf_counter()
    text = decoder.decode(log_probs, vocab, 0.02).text
    return ref, text, (time.perf_counter() - start) * 1000


def run(decoder, utts, vocab, jobs: int) -> dict:
    from rapidfuzz.distance import Levenshtein

    _WORK.update(decoder=decoder, vocab=vocab, utts=utts)
    decoder.decode(utts[0][1], vocab, 0.02)  # build the LM/lexicon before forking: workers share it
    start = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        results = pool.map(_decode, range(len(utts)), chunksize=1)
    wall = time.perf_counter() - start
    errors = sum(Levenshtein.distance(r.split(), h.split()) for r, h, _ in results)
    words = sum(len(r.split()) for r, _, _ in results)
    times = sorted(ms for _, _, ms in results)
    return {
        "ms": statistics.mean(times),
        "p50": times[len(times) // 2],
        "p90": times[int(len(times) * 0.9)],
        "wer": errors / words,
        "utt_per_s": len(utts) / wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--utts", type=int, default=60)
    parser.add_argument("--frames", type=int, default=500)
    parser.add_argument("--beam", type=int, default=64)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--alpha", type=float, default=0.6)
    parser.add_argument("--beta", type=float, default=1.0)
    parser.add_argument("--order", type=int, default=3)
    parser.add_argument("--confusion", type=float, default=0.15)
    parser.add_argument("--sharpness", type=float, default=6.0)
    parser.add_argument("--noise", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--open-vocabulary",
        action="store_true",
        help="leave the test sentences' unseen words out of the LM (beam-fast cannot output them)",
    )
    parser.add_argument("--lm", help="KenLM file to use instead of one estimated from the fortunes text")
    parser.add_argument("--model", help="real acoustic model (with --manifest): its cached log-probs")
    parser.add_argument("--manifest")
    parser.add_argument("--cache-dir", default=".werbench-cache")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        if args.model:
            utts, vocab = model_set(args)
            held_out: set[int] = set()
        else:
            utts, vocab, held_out = synthetic_set(fortunes_sentences(), args.utts, args.frames, args)
        lm = args.lm
        if lm is None:
            corpus = Path(tmp) / "fortunes.txt"
            text = [line for i, line in enumerate(fortunes_sentences()) if i not in held_out]
            if not args.open_vocabulary:  # like a large LM: the test words are known, the test sentences not
                text += sorted({word for ref, _ in utts for word in ref.split()})
            corpus.write_text("\n".join(text) + "\n", encoding="utf-8")
            lm = str(Path(tmp) / "fortunes.arpa")
            build_lm([corpus], lm, order=args.order)
        from werbench.runners.decoders.ngram import load_unigrams

        known = set(load_unigrams(lm))
        ref_words = [word for ref, _ in utts for word in ref.split()]
        oov = sum(word not in known for word in ref_words) / len(ref_words)
        frames = statistics.mean(len(lp) for _, lp in utts)
        from werbench.runners.decoders.greedy import best_path_text

        greedy_errors = sum(
            __import__("rapidfuzz").distance.Levenshtein.distance(
                ref.split(), best_path_text(lp, vocab).split()
            )
            for ref, lp in utts
        )
        greedy_wer = greedy_errors / sum(len(ref.split()) for ref, _ in utts)
        common = {"lm": lm, "beam_width": args.beam, "alpha": args.alpha, "beta": args.beta}
        rows = {
            "beam (pyctcdecode)": run(BeamSearchDecoder(**common), utts, vocab, args.jobs),
            "beam-fast (flashlight)": run(FastBeamDecoder(**common), utts, vocab, args.jobs),
        }
    print(f"{len(utts)} utterances, {frames:.0f} frames/utt, beam {args.beam}, {args.jobs} worker processes")
    print(f"greedy WER {greedy_wer:.2%}, OOV rate of the references against the LM {oov:.2%}")
    print(f"{'decoder':24} {'ms/utt':>8} {'p50':>8} {'p90':>8} {'utt/s':>7} {'WER':>7}")
    for name, row in rows.items():
        print(
            f"{name:24} {row['ms']:8.1f} {row['p50']:8.1f} {row['p90']:8.1f} {row['utt_per_s']:7.2f} "
            f"{row['wer']:7.2%}"
        )
    slow, fast = rows["beam (pyctcdecode)"], rows["beam-fast (flashlight)"]
    print(
        f"speed-up {slow['ms'] / fast['ms']:.1f}x (per utterance), WER {fast['wer']:.2%} vs {slow['wer']:.2%}"
    )
    print(ANCHORS)


if __name__ == "__main__":
    main()
