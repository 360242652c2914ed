"""Train the demo's acoustic models on CPU: ``base`` from scratch on general-domain speech, ``base-continue``
training it on (a fresh schedule, all the general speech), then ``tuned`` by fine-tuning ``base`` on
business-domain speech (with some general speech mixed in against forgetting).

The model is a small QuartzNet-style character CTC model (NeMo ``EncDecCTCModel``, separable 1-D convolutions,
about 0.35 M parameters, 30 ms output frames). Short kernels, semi-sorted batches, light SpecAugment, AdamW
with a warm-up + cosine schedule and a single torch thread (two threads are several times slower on a busy
shared CPU). On a machine shared with other jobs a step count says little about the time it takes, so the
later stages have a wall-clock budget (``--minutes``) that the cosine schedule follows. Lightning checkpoints
go to demo/.work so an interrupted run resumes (``--resume``, the schedule's clock included). Run
``python -m werbench.demo.build.train --help``.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from werbench.demo.build.normalise import ALPHABET
from werbench.demo.build.paths import MODELS, WORK
from werbench.runners.tiny import separable_block

SEED = 1234
LABELS = list(ALPHABET)


@dataclass(frozen=True, slots=True)
class Stage:
    """Hyper-parameters of one training stage; ``init``: the .nemo (in demo/assets/models) it starts from,
    ``minutes``: a wall-clock budget the schedule follows (:func:`timed_cosine`) instead of ``max_steps``."""

    name: str
    train_manifests: tuple[str, ...]
    dev_manifest: str
    max_steps: int
    lr: float
    warmup_steps: int
    batch_size: int = 12
    max_duration: float = 9.0
    init: str | None = None
    minutes: float | None = None
    out: str | None = None  # the .nemo it writes (default <name>.nemo)


STAGES = {
    "base": Stage(
        "base",
        ("general-train.json",),
        "general-dev.json",
        max_steps=4000,
        lr=3e-3,
        warmup_steps=200,
        max_duration=6.0,
    ),
    # the same model trained on: a fresh warm-up + cosine over 80 minutes on all the general speech (with
    # ``base``'s 33 minutes, inside issue 20's 2-hour budget per model)
    "base-continue": Stage(
        "base-continue",
        ("general-train.json",),
        "general-dev.json",
        max_steps=20000,
        lr=2e-3,
        warmup_steps=200,
        max_duration=6.0,
        init="base.nemo",
        minutes=80,
        out="base.nemo",
    ),
    "tuned": Stage(
        "tuned",
        ("tuned-train.json",),
        "business-dev.json",
        max_steps=1500,
        lr=1.5e-3,
        warmup_steps=50,
        init="base.nemo",
        minutes=8,
    ),
}


def model_config(
    labels: Sequence[str] = LABELS,
    width: int = 128,
    wide: int = 160,
    head: int = 192,
    repeat: int = 2,
    stride: int = 3,
) -> dict[str, Any]:
    """QuartzNet-style encoder (C1, 4 residual B-blocks, C2, C3) with kernels short enough for a CPU.

    A 30 ms output frame (stride 3) still leaves about two frames per character of speech at 1.1x tempo.
    """
    blocks = [separable_block(width, 11, repeat=1, stride=stride, residual=False)]
    blocks += [
        separable_block(width, 13, repeat=repeat, residual=True),
        separable_block(width, 15, repeat=repeat, residual=True),
        separable_block(wide, 17, repeat=repeat, residual=True),
        separable_block(wide, 19, repeat=repeat, residual=True),
    ]
    blocks += [
        separable_block(head, 21, repeat=1, dilation=2, residual=False),
        separable_block(head, 1, repeat=1, residual=False, separable=False),
    ]
    return {
        "sample_rate": 16000,
        "labels": list(labels),
        "preprocessor": {
            "_target_": "nemo.collections.asr.modules.AudioToMelSpectrogramPreprocessor",
            "sample_rate": 16000,
            "features": 64,
            "window_size": 0.025,
            "window_stride": 0.01,
            "n_fft": 512,
            "normalize": "per_feature",
            "dither": 1e-5,
            "pad_to": 16,
            "window": "hann",
        },
        "spec_augment": {
            "_target_": "nemo.collections.asr.modules.SpectrogramAugmentation",
            "freq_masks": 2,
            "freq_width": 12,
            "time_masks": 2,
            "time_width": 0.04,
        },
        "encoder": {
            "_target_": "nemo.collections.asr.modules.ConvASREncoder",
            "feat_in": 64,
            "activation": "relu",
            "conv_mask": True,
            "jasper": blocks,
        },
        "decoder": {
            "_target_": "nemo.collections.asr.modules.ConvASRDecoder",
            "feat_in": head,
            "num_classes": len(labels),
            "vocabulary": list(labels),
        },
    }


def data_config(
    manifests: Sequence[Path], batch_size: int, *, train: bool, max_duration: float
) -> dict[str, Any]:
    config: dict[str, Any] = {
        "manifest_filepath": ",".join(str(m) for m in manifests),
        "sample_rate": 16000,
        "labels": LABELS,
        "batch_size": batch_size,
        "shuffle": train,
        "num_workers": 0,
        "pin_memory": False,
        "max_duration": max_duration if train else None,
        "trim_silence": False,
        "normalize_transcripts": False,
        "drop_last": False,
    }
    if train:
        config |= {
            "use_semi_sorted_batching": True,
            "randomization_factor": 0.2,
            "semi_sort_sampler_seed": SEED,
        }
    return config


def optim_config(stage: Stage, *, timed: bool = False) -> dict[str, Any]:
    """AdamW with warm-up + cosine over the stage's steps; ``timed``: no NeMo scheduler, the
    :func:`timed_cosine` callback drives the rate over a wall-clock budget instead."""
    optim: dict[str, Any] = {"name": "adamw", "lr": stage.lr, "betas": [0.9, 0.98], "weight_decay": 1e-3}
    if not timed:
        optim["sched"] = {
            "name": "CosineAnnealing",
            "warmup_steps": stage.warmup_steps,
            "min_lr": stage.lr / 100,
            "max_steps": stage.max_steps,
        }
    return optim


def cosine_rate(peak: float, step: int, warmup_steps: int, progress: float) -> float:
    """Linear warm-up over ``warmup_steps``, then cosine from ``peak`` to ``peak / 100`` as ``progress``
    (the fraction of the budget spent) goes from 0 to 1."""
    if step < warmup_steps:
        return peak * (step + 1) / warmup_steps
    floor = peak / 100
    return floor + (peak - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, max(0.0, progress))))


def timed_cosine(peak: float, warmup_steps: int, budget_seconds: float) -> Any:
    """A Lightning callback setting the learning rate from the wall-clock time spent, so a run on a shared
    machine of unknown load still anneals fully by its deadline (Lightning's ``max_time`` stops it there).
    The time spent is saved in checkpoints, so ``--resume`` continues the same schedule."""
    from lightning.pytorch.callbacks import Callback

    class TimedCosine(Callback):
        def __init__(self) -> None:
            self.spent = 0.0
            self.mark = time.monotonic()

        def on_train_start(self, trainer: Any, pl_module: Any) -> None:
            self.mark = time.monotonic()

        def on_train_batch_start(self, trainer: Any, pl_module: Any, *args: Any) -> None:
            now = time.monotonic()
            self.spent, self.mark = self.spent + now - self.mark, now
            rate = cosine_rate(peak, trainer.global_step, warmup_steps, self.spent / budget_seconds)
            for group in trainer.optimizers[0].param_groups:
                group["lr"] = rate

        def state_dict(self) -> dict[str, float]:
            return {"spent": self.spent}

        def load_state_dict(self, state: dict[str, float]) -> None:
            self.spent = float(state.get("spent", 0.0))

    return TimedCosine()


def write_tuned_manifest(work: Path, general_share: float = 0.25) -> Path:
    """Business training speech plus a seeded sample of general speech (``general_share`` of the total)."""
    business = (work / "business-train.json").read_text(encoding="utf-8").splitlines()
    general = (work / "general-train.json").read_text(encoding="utf-8").splitlines()
    count = min(len(general), round(len(business) * general_share / (1 - general_share)))
    lines = business + random.Random(SEED).sample(general, count)
    out = work / "tuned-train.json"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def scrub_data_paths(model: Any) -> None:
    """Keep build-machine paths out of the shipped .nemo; its data sections only describe the training."""
    from omegaconf import open_dict

    with open_dict(model.cfg):
        for key in ("train_ds", "validation_ds", "test_ds"):
            if key in model.cfg and model.cfg[key] is not None:
                model.cfg[key].manifest_filepath = None


def progress_printer(every: int) -> Any:
    """A Lightning callback printing one JSON line of loss, batch WER and LR every ``every`` steps (logs stay
    readable in a file, unlike a progress bar)."""
    from lightning.pytorch.callbacks import Callback

    class PrintProgress(Callback):
        def __init__(self) -> None:
            self.started = time.time()

        def on_train_batch_end(self, trainer: Any, pl_module: Any, *args: Any) -> None:
            if trainer.global_step % every:
                return
            metrics = {k: round(float(v), 4) for k, v in trainer.callback_metrics.items()}
            lr = trainer.optimizers[0].param_groups[0]["lr"]
            print(
                json.dumps(
                    {
                        "step": trainer.global_step,
                        "seconds": round(time.time() - self.started),
                        "lr": round(lr, 6),
                        **metrics,
                    }
                ),
                flush=True,
            )

    return PrintProgress()


def train(
    stage: Stage,
    *,
    work: Path,
    out: Path,
    init: Path | None,
    max_steps: int | None,
    resume: bool,
    lr: float | None = None,
    warmup_steps: int | None = None,
    minutes: float | None = None,
    val_every: int,
    threads: int = 1,
) -> dict[str, Any]:
    """Fit one stage and save ``out`` (.nemo); returns timing and the final dev WER."""
    import lightning.pytorch as pl
    import torch
    from lightning.pytorch.callbacks import ModelCheckpoint
    from nemo.collections.asr.models import EncDecCTCModel
    from omegaconf import OmegaConf, open_dict

    torch.set_num_threads(threads)
    pl.seed_everything(SEED, workers=True)
    steps = max_steps or stage.max_steps
    overrides = {"max_steps": steps, "lr": lr or stage.lr, "warmup_steps": warmup_steps or stage.warmup_steps}
    stage = Stage(**{**{f: getattr(stage, f) for f in stage.__slots__}, **overrides})
    train_cfg = data_config(
        [work / m for m in stage.train_manifests],
        stage.batch_size,
        train=True,
        max_duration=stage.max_duration,
    )
    dev_cfg = data_config([work / stage.dev_manifest], 32, train=False, max_duration=stage.max_duration)
    ckpt_dir = work / "checkpoints" / stage.name
    callbacks = [
        ModelCheckpoint(dirpath=ckpt_dir, every_n_train_steps=100, save_last=True, save_top_k=0),
        progress_printer(25),
    ]
    if minutes:
        callbacks.append(timed_cosine(stage.lr, stage.warmup_steps, 60 * minutes))
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=1,
        max_steps=steps,
        max_time={"minutes": minutes} if minutes else None,
        val_check_interval=min(val_every, steps),
        check_val_every_n_epoch=None,
        logger=False,
        gradient_clip_val=5.0,
        log_every_n_steps=25,
        num_sanity_val_steps=0,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=callbacks,
    )
    if init is None:
        cfg = OmegaConf.create(
            model_config()
            | {
                "train_ds": train_cfg,
                "validation_ds": dev_cfg,
                "optim": optim_config(stage, timed=bool(minutes)),
            }
        )
        model = EncDecCTCModel(cfg=cfg, trainer=trainer)
    else:
        model = EncDecCTCModel.restore_from(str(init), map_location="cpu")
        with open_dict(model.cfg):
            model.cfg.optim = OmegaConf.create(optim_config(stage, timed=bool(minutes)))
        model.set_trainer(trainer)
        model.setup_training_data(OmegaConf.create(train_cfg))
        model.setup_validation_data(OmegaConf.create(dev_cfg))
        model.setup_optimization(model.cfg.optim)
    last = ckpt_dir / "last.ckpt"
    started = time.time()
    trainer.fit(model, ckpt_path=str(last) if resume and last.is_file() else None)
    seconds = time.time() - started
    dev = trainer.validate(model, verbose=False)[0]
    scrub_data_paths(model)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.nemo")
    model.save_to(str(tmp))
    tmp.replace(out)
    params = sum(p.numel() for p in model.parameters())
    return {
        "stage": stage.name,
        "steps": trainer.global_step,
        "minutes_budget": minutes,
        "train_seconds": round(seconds, 1),
        "params": params,
        "dev_wer": round(float(dev.get("val_wer", float("nan"))), 4),
        "out": str(out),
        "size_bytes": out.stat().st_size,
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("stage", choices=sorted(STAGES))
    parser.add_argument("--work", type=Path, default=WORK, help="folder with the rendered training manifests")
    parser.add_argument("--out", type=Path, help="output .nemo (default demo/assets/models/<stage>.nemo)")
    parser.add_argument(
        "--init", type=Path, help="starting .nemo (default: the stage's, in demo/assets/models)"
    )
    parser.add_argument("--max-steps", type=int, help="override the stage's step count (smoke tests)")
    parser.add_argument("--lr", type=float, help="override the stage's peak learning rate")
    parser.add_argument("--warmup-steps", type=int, help="override the stage's warm-up steps")
    parser.add_argument(
        "--minutes",
        type=float,
        help="wall-clock budget: stop after this many minutes (or --max-steps), the cosine schedule following "
        "the time spent (for a shared machine of unknown load)",
    )
    parser.add_argument("--val-every", type=int, default=400)
    parser.add_argument("--resume", action="store_true", help="continue from demo/.work/checkpoints/<stage>")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (1 is fastest on a busy shared CPU)"
    )
    args = parser.parse_args(argv)
    stage = STAGES[args.stage]
    init = args.init or (MODELS / stage.init if stage.init else None)
    if stage.name == "tuned":
        write_tuned_manifest(args.work)
    summary = train(
        stage,
        work=args.work,
        out=args.out or MODELS / (stage.out or f"{stage.name}.nemo"),
        init=init,
        max_steps=args.max_steps,
        resume=args.resume,
        lr=args.lr,
        warmup_steps=args.warmup_steps,
        minutes=args.minutes or stage.minutes,
        val_every=args.val_every,
        threads=args.threads,
    )
    (args.work / f"train-{stage.name}.json").write_text(
        json.dumps(summary, indent=2) + "\n", encoding="utf-8"
    )
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
