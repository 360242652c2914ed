"""``werbench lm build`` and ``werbench tune``; heavy imports stay inside the command bodies."""

from __future__ import annotations

from pathlib import Path

import typer
from werbench.manifests.errors import ConfigError

lm_app = typer.Typer(help="Build KenLM n-gram language models for the beam decoders.", no_args_is_help=True)


def _parse_prune(spec: str | None) -> list[int]:
    if not spec:
        return []
    try:
        return [int(x) for x in spec.replace(",", " ").split()]
    except ValueError:
        raise ConfigError("--prune", f"{spec!r}: expected integers such as '0 0 1'") from None


@lm_app.command("build")
def build_command(
    texts: list[Path] = typer.Argument(
        ...,
        help="Text files (one sentence per line, .gz allowed) or manifests (.json/.jsonl: their text field).",
    ),
    output: Path = typer.Option(
        ...,
        "-o",
        "--output",
        dir_okay=False,
        help="lm.arpa, or lm.bin/.klm for a KenLM binary (built with build_binary).",
    ),
    order: int = typer.Option(4, "--order", min=1, help="N-gram order."),
    normalize: str = typer.Option(
        "none",
        "--normalize",
        help="Normaliser applied to every line first: the one the model's transcripts use.",
    ),
    prune: str | None = typer.Option(
        None, "--prune", help="lmplz count thresholds per order, e.g. '0 0 1' drops trigrams seen once."
    ),
    binary_type: str = typer.Option(
        "probing", "--binary-type", help="build_binary data structure: probing|trie."
    ),
    memory: str = typer.Option(
        "auto", "--memory", help="lmplz -S: sort memory (e.g. 2G or 20%); auto sizes it from the corpus."
    ),
    tool: str = typer.Option("auto", "--tool", help="auto (lmplz, else kaldingram), lmplz or kaldingram."),
) -> None:
    """Estimate a Kneser-Ney word n-gram with KenLM lmplz; also writes LM.unigrams.txt and LM.build.json."""
    if binary_type not in ("probing", "trie"):
        raise ConfigError("--binary-type", "choose probing or trie")
    from werbench.manifests.atomic import refuse_inputs
    from werbench.runners.lm import build_lm

    refuse_inputs({"--output": output}, texts)
    info = build_lm(
        texts,
        output,
        order=order,
        normalize=normalize,
        prune=_parse_prune(prune),
        binary_type=binary_type,
        memory=memory,
        tool=tool,
    )
    typer.echo(
        f"{info.path}: order {info.order} ({info.tool}), {info.sentences} sentences, {info.words} words, "
        f"{info.vocabulary} unigrams, normaliser {info.normalizer}"
    )
    for note in info.notes:
        typer.secho(f"note: {note}", fg=typer.colors.YELLOW, err=True)


def _parse_params(items: list[str]) -> dict[str, object]:
    """``key=value`` pairs; values are parsed as JSON where they can be (numbers, true, lists)."""
    import json

    params: dict[str, object] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError("--param", f"{item!r}: expected KEY=VALUE")
        try:
            params[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            params[key.strip()] = value
    return params


def tune_command(
    model: Path = typer.Option(
        ..., "--model", help="Acoustic model: .nemo, legacy folder, HF folder or DS2 file."
    ),
    dev: Path = typer.Option(..., "--dev", help="Tuning manifest (JSON lines). Never a set you report on."),
    decoder: str = typer.Option("beam-fast", "--decoder", help="beam, beam-fast or rescore."),
    lm: Path = typer.Option(
        ..., "--lm", help="KenLM n-gram (ARPA or binary) or a DeepSpeech .scorer package."
    ),
    grid: str | None = typer.Option(
        None,
        "--grid",
        help="Axes alpha, beta (and gamma for rescore): start:stop:step, a|b|c or a value; comma-separated. "
        "Default alpha=0.25:2.0:0.25,beta=0:3:0.5 (plus a .scorer's own alpha and beta); an axis left out "
        "takes the decoder's default (a .scorer's own weight).",
    ),
    rescorer: Path | None = typer.Option(
        None, "--rescorer", help="Neural LM for rescore: HF folder or .gguf."
    ),
    unigrams: Path | None = typer.Option(
        None, "--unigrams", help="Word list of a binary LM without sidecar."
    ),
    beam_width: int = typer.Option(64, "--beam-width", min=1),
    param: list[str] = typer.Option(
        [], "--param", help="Any other decoder parameter as KEY=VALUE (repeatable)."
    ),
    out: Path = typer.Option(Path("tune"), "--out", help="Folder for grid.csv and best.json."),
    results: list[Path] = typer.Option(
        [], "--results", help="Results folders to check that the tuning set is not a reported test set."
    ),
    normalize: str = typer.Option("nemo", "--normalize", help="Normaliser for references and hypotheses."),
    jobs: int = typer.Option(
        0, "--jobs", min=0, help="Worker processes (0: one per CPU core; on Ray, the cluster's CPUs)."
    ),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda (acoustic model, neural LM)."),
    cache_dir: str = typer.Option(
        ".werbench-cache",
        "--cache-dir",
        help="Logits cache folder, or a storage URL (s3://, gs://, file://).",
    ),
    engine: str = typer.Option(
        "local", "--engine", help="local (worker processes) or ray (grid points as Ray tasks)."
    ),
    address: str | None = typer.Option(
        None, "--address", help="Ray cluster: auto, ray://host:10001 or host:6379 (default: start one)."
    ),
    trust_model: bool = typer.Option(
        False, "--trust-model", help="Load model files that can run code (pickled checkpoints); see README."
    ),
) -> None:
    """Grid-search alpha/beta (and gamma) on cached dev log-probs; writes grid.csv and best.json."""
    from werbench.runners.engine_ray import check_engine

    on_ray = check_engine(engine, address)
    from werbench.runners.decoders.registry import make_decoder
    from werbench.runners.tune import (
        default_grid,
        load_dev,
        parse_grid,
        sha256_file,
        tune,
        tuning_set_leaks,
        write_best,
        write_grid,
    )

    if decoder not in ("beam", "beam-fast", "rescore"):
        raise ConfigError("--decoder", "tuning applies to beam, beam-fast and rescore")
    warnings = tuning_set_leaks(dev, results)  # first: a bad --results fails before the LM and model load
    params = {"lm": str(lm), "beam_width": beam_width, **_parse_params(param)}
    if unigrams is not None:
        params["unigrams"] = str(unigrams)
    if decoder == "rescore":
        if rescorer is None:
            raise ConfigError("--rescorer", "the rescore decoder needs a neural LM")
        params.update(rescorer=str(rescorer), device=device)
    built = make_decoder(decoder, params)
    axes = parse_grid(grid) if grid else default_grid(lm)
    for warning in warnings:
        typer.secho(f"WARNING: {warning}", fg=typer.colors.RED, bold=True, err=True)
    if not results:
        typer.echo(
            "note: pass --results RESULTS to check that the tuning set is not a reported test set",
            err=True,
        )
    utts, vocab, frame_seconds, identity, notes = load_dev(
        model, dev, normalize, device=device, cache_dir=cache_dir, trust_model=trust_model
    )
    from werbench.runners.tune import default_jobs

    rows: list[dict] = []
    grid_csv = out / "grid.csv"

    def on_row(row: dict) -> None:
        rows.append(row)
        write_grid(grid_csv, rows)

    mapper = {}
    if on_ray:
        from werbench.runners.engine_ray import connect, describe, ray_map

        cluster = connect(address)
        typer.echo(describe(cluster), err=True)
        mapper = {"mapper": ray_map}
        jobs = jobs or max(1, int(cluster.cpus))  # tasks at once: what the grid is split for
    result = tune(
        built, utts, vocab, frame_seconds, axes, normalize, jobs or default_jobs(), on_row, **mapper
    )
    context = {
        "dev": {"path": str(dev.resolve()), "sha256": sha256_file(dev), "utts": len(utts)},
        "model": {k: identity.get(k) for k in ("path", "sha256", "architecture")},
        "lm": {"path": str(lm.resolve()), "sha256": sha256_file(lm)},
        "normalizer": normalize,
        "grid": axes,
        "warnings": warnings,
        "notes": notes,
    }
    write_best(out / "best.json", result.best, context)
    best = result.best
    weights = ", ".join(f"{a}={best[a]}" for a in ("alpha", "beta", "gamma") if best.get(a) is not None)
    typer.echo(
        f"best: {weights}: WER {best['wer']:.2%}, CER {best['cer']:.2%}, oracle WER {best['oracle_wer']:.2%} "
        f"on {len(utts)} utterances; grid in {grid_csv}"
    )
    for warning in warnings:
        typer.secho(f"WARNING: {warning}", fg=typer.colors.RED, bold=True, err=True)


def register(app: typer.Typer) -> None:
    """Add ``lm`` (a sub-app) and ``tune`` to the root app."""
    app.add_typer(lm_app, name="lm")
    app.command("tune")(tune_command)
