"""``werbench decode / run / import-hyps / convert-legacy``; torch, NeMo and decoders load inside them."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer

DECODER_NAMES = "greedy, beam, beam-fast, rescore"
FORMAT_NAMES = "auto, kaldi, trn, csv, jsonl, whisper, deepspeech"


@contextlib.contextmanager
def _interruptible() -> Iterator[None]:
    """Ctrl-C: say what survives and how to resume, exit 130, no traceback."""
    try:
        yield
    except KeyboardInterrupt:
        typer.echo(
            "\ninterrupted: completed batches are saved; run the same command again to resume.", err=True
        )
        raise typer.Exit(130) from None


def _parse_params(pairs: list[str]) -> dict[str, Any]:
    """``key=value`` pairs; values are read as JSON when they parse (numbers, lists, true), else as text."""
    from werbench.manifests.errors import ConfigError

    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError("--param", f"expected key=value, got {pair!r}")
        try:
            params[key.strip().replace("-", "_")] = json.loads(value)
        except json.JSONDecodeError:
            params[key.strip().replace("-", "_")] = value
    return params


def _print_summary(summary: Any) -> None:
    info = summary.info
    resumed = f", {summary.skipped} already done" if summary.skipped else ""
    typer.echo(
        f"{summary.location or summary.ref.path}: {summary.total} utterances{resumed}, "
        f"{len(summary.failures)} failed; "
        f"audio {info.audio_seconds:.1f} s, AM {info.am_seconds:.2f} s, decode {info.decode_seconds:.2f} s, "
        f"RTFx {info.rtfx if info.rtfx is not None else 'n/a'}"
    )
    for utt_id, error in summary.failures[:10]:
        typer.echo(f"  failed {utt_id}: {error}")
    if len(summary.failures) > 10:
        typer.echo(f"  ... and {len(summary.failures) - 10} more (see 'error' in predictions.jsonl)")


def _fail_if_nothing_decoded(summaries: list[Any]) -> None:
    """A run in which every utterance failed (unreadable audio, a broken LM) is an error, not a result."""
    from werbench.manifests.errors import ManifestError

    for summary in summaries:
        if summary.total and len(summary.failures) >= summary.total:
            raise ManifestError(
                summary.ref.predictions,
                f"every utterance failed ({summary.total}); the first: {summary.failures[0][1]}",
                field="error",
            )


def decode_command(
    model: str = typer.Option(
        ...,
        "--model",
        "-m",
        help="A .nemo file, a legacy NeMo 0.x folder, a Hugging Face CTC folder or a DeepSpeech2 checkpoint "
        "(recognised by content). Never downloaded: it must be a local path.",
    ),
    manifest: Path = typer.Option(..., "--manifest", help="Test-set manifest (NeMo JSON lines)."),
    results: str = typer.Option(
        ...,
        "--results",
        "-r",
        help="Results directory (RESULTS/<testset>/<system>/), or a storage URL (s3://, gs://, file://).",
    ),
    decoder: str = typer.Option("greedy", "--decoder", "-d", help=f"Decoder type: {DECODER_NAMES}."),
    lm: Path | None = typer.Option(
        None,
        "--lm",
        help="KenLM n-gram (.arpa or .bin) or DeepSpeech .scorer (its alpha/beta are the defaults) for "
        "beam/beam-fast/rescore.",
    ),
    unigrams: Path | None = typer.Option(
        None, "--unigrams", help="Unigram list for the LM (one word a line)."
    ),
    rescorer: Path | None = typer.Option(
        None, "--rescorer", help="Neural LM for rescore: a local Hugging Face folder or a .gguf file."
    ),
    alpha: float | None = typer.Option(
        None, "--alpha", help="n-gram LM weight (default 0.5, a .scorer's own)."
    ),
    beta: float | None = typer.Option(
        None, "--beta", help="Word insertion bonus (default 1, a .scorer's own)."
    ),
    gamma: float | None = typer.Option(None, "--gamma", help="Neural LM weight (rescore)."),
    beam_width: int | None = typer.Option(None, "--beam-width", help="Beam width."),
    nbest: int | None = typer.Option(None, "--nbest", help="Hypotheses kept per utterance."),
    hotword: list[str] = typer.Option([], "--hotword", help="Word to boost (repeatable)."),
    param: list[str] = typer.Option(
        [],
        "--param",
        "-p",
        help="Any other decoder parameter as key=value (repeatable), e.g. -p beam_prune_logp=-8.",
    ),
    name: str | None = typer.Option(None, "--name", help="System name (default <model stem>@<decoder>)."),
    testset: str | None = typer.Option(
        None, "--testset", help="Test-set name (default: the manifest's stem)."
    ),
    normalizer: str = typer.Option(
        "nemo", "--normalizer", help="Normaliser recorded for scoring this system."
    ),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda or cuda:N."),
    precision: str = typer.Option(
        "auto", "--precision", help="auto (fp16 on CUDA, fp32 on CPU), fp32, fp16, bf16."
    ),
    batch_seconds: float = typer.Option(
        240.0, "--batch-seconds", min=1.0, help="Padded audio seconds per AM batch."
    ),
    max_batch: int = typer.Option(64, "--max-batch", min=1, help="Utterances per AM batch at most."),
    workers: int | None = typer.Option(
        None, "--workers", min=1, help="Decoder processes (default: cores-1 for beam decoders, 1 otherwise)."
    ),
    cache: str = typer.Option(
        ".werbench-cache", "--cache", help="Logits cache folder, or a storage URL every node sees."
    ),
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not read or write the logits cache."),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace a system decoded with another configuration."
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show the progress bar."),
    trust_model: bool = typer.Option(
        False, "--trust-model", help="Load model files that can run code (pickled checkpoints); see README."
    ),
) -> None:
    """Decode a test set with one model and one decoder into RESULTS/<testset>/<system>/.

    Resumable: after Ctrl-C or a kill, the same command continues where it stopped (nothing lost or doubled).

    Unreadable audio is recorded as a failed utterance and the run goes on.
    """
    with _interruptible():
        from werbench.manifests.io import load_manifest, refuse_empty
        from werbench.manifests.normalize import get_normalizer
        from werbench.manifests.results import system_dir
        from werbench.runners.decode import DecodeJob, default_system_name, run_decode
        from werbench.runners.decoders.registry import make_decoder
        from werbench.runners.models.load import load_model
        from werbench.runners.models.torch_utils import check_device

        options = {
            "lm": lm, "unigrams": unigrams, "rescorer": rescorer,
            "alpha": alpha, "beta": beta, "gamma": gamma,
            "beam_width": beam_width, "nbest": nbest, "hotwords": hotword or None,
        }  # fmt: skip
        params = {k: str(v) if isinstance(v, Path) else v for k, v in options.items() if v is not None}
        params.update(_parse_params(param))
        # Everything checkable is checked before the (slow) model load.
        make_decoder(decoder, params)
        get_normalizer(normalizer)
        check_device(device)
        refuse_empty(manifest)
        for _ in load_manifest(manifest):
            pass
        system = name or default_system_name(model, decoder)
        system_dir(results, testset or manifest.stem, system)  # a name that cannot be a folder, said now
        from werbench.runners.storage import scratch_dir

        loaded = load_model(model, device, precision, cache_dir=scratch_dir(cache), trust_model=trust_model)
        job = DecodeJob(
            manifest=manifest,
            results=results,
            decoder=decoder,
            params=params,
            system=system,
            testset=testset,
            normalizer=normalizer,
            batch_seconds=batch_seconds,
            max_batch=max_batch,
            workers=workers,
            overwrite=overwrite,
            cache_dir=None if no_cache else cache,
            progress=progress,
        )
        summary = run_decode(job, loaded)
        _print_summary(summary)
        _fail_if_nothing_decoded([summary])


def run_command(
    experiment: Path = typer.Argument(
        ..., help="Experiment file (YAML): results, testsets, models, decoders (see runners/experiment.py)."
    ),
    check: bool = typer.Option(False, "--check", help="Only validate the file and everything it names."),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace systems decoded with another configuration."
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars."),
    engine: str = typer.Option(
        "local", "--engine", help="local (this process and its workers) or ray (a Ray cluster)."
    ),
    address: str | None = typer.Option(
        None,
        "--address",
        help="Ray cluster to join: auto, ray://host:10001 or host:6379 (default: start one in-process).",
    ),
    trust_model: bool = typer.Option(
        False, "--trust-model", help="Load model files that can run code (pickled checkpoints); see README."
    ),
) -> None:
    """Decode every test set x model x decoder of an experiment file; systems are named <model>@<decoder>.

    The whole file is validated first: unknown keys, missing files and bad decoder parameters are errors.

    Errors name the YAML line. Each model is loaded once and its log-probs are cached for every decoder.
    """
    with _interruptible():
        from werbench.runners.engine_ray import check_engine, describe, run_experiment_ray
        from werbench.runners.experiment import Experiment, run_experiment

        on_ray = check_engine(engine, address)
        if check:
            parsed = Experiment(experiment)
            parsed.check()
            typer.echo(
                f"{experiment}: OK, {len(parsed.testsets())} test sets x {len(parsed.systems())} systems"
            )
            return
        if on_ray:
            summaries = run_experiment_ray(
                experiment,
                overwrite,
                progress,
                address,
                on_cluster=lambda c: typer.echo(describe(c), err=True),
                trust_model=trust_model,
            )
        else:
            summaries = run_experiment(
                experiment, overwrite=overwrite, progress=progress, trust_model=trust_model
            )
        done = []
        for summary in summaries:
            _print_summary(summary)
            done.append(summary)
        _fail_if_nothing_decoded(done)


def import_hyps_command(
    source: Path = typer.Argument(..., help="Hypothesis file, or a folder of Whisper/DeepSpeech JSON files."),
    manifest: Path = typer.Option(..., "--manifest", help="Reference manifest of the test set."),
    results: Path = typer.Option(..., "--results", "-r", help="Results directory."),
    name: str = typer.Option(..., "--name", help="System name, e.g. whisper-large@imported."),
    fmt: str = typer.Option("auto", "--format", help=f"Input format: {FORMAT_NAMES}."),
    testset: str | None = typer.Option(
        None, "--testset", help="Test-set name (default: the manifest's stem)."
    ),
    normalizer: str = typer.Option(
        "nemo", "--normalizer", help="Normaliser recorded for scoring this system."
    ),
    id_column: str | None = typer.Option(
        None, "--id-column", help="CSV/JSONL field holding the utterance id."
    ),
    text_column: str | None = typer.Option(
        None, "--text-column", help="CSV/JSONL field holding the hypothesis."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a system of the same name."),
) -> None:
    """Import another system's hypotheses as a system in the results directory.

    Formats: Kaldi text, sclite trn, CSV, JSONL with pred_text, Whisper JSON, Mozilla DeepSpeech output.

    Matching is by utterance id, audio path, file name or stem; unmatched manifest lines count as failed.
    """
    from werbench.runners.import_hyps import import_hyps

    info = import_hyps(
        source, manifest, results, name, fmt, testset, normalizer, id_column, text_column, overwrite=overwrite
    )
    typer.echo(f"{results / info.testset / info.system}: " + "; ".join(info.notes))


def convert_legacy_command(
    folder: Path = typer.Argument(
        ...,
        help="Folder with JasperEncoder[-STEP-*].pt, JasperDecoderForCTC[-STEP-*].pt and the model yaml, "
        "or a NeMo 0.11 .nemo archive.",
    ),
    output: Path = typer.Option(
        ..., "-o", "--output", dir_okay=False, help="The .nemo file to write (atomically)."
    ),
) -> None:
    """Convert a NeMo 0.x QuartzNet/Jasper checkpoint folder (or a 0.11 .nemo) into a current .nemo file.

    Reads every 0.x yaml layout (0.8-0.10 sections, 0.11's serialised model) and both state-dict key
    layouts (NeMo 0.9-0.11 and <= 0.8).
    """
    from werbench.runners.models.legacy import convert_legacy

    typer.echo(f"wrote {convert_legacy(folder, output)}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("decode")(decode_command)
    app.command("run")(run_command)
    app.command("import-hyps")(import_hyps_command)
    app.command("convert-legacy")(convert_legacy_command)
