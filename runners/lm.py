"""``werbench lm build``: a KenLM word n-gram from text, normalised as the model's transcripts are.

KenLM's ``lmplz``/``build_binary`` do the estimation (found on PATH or beside the venv's python). Where they
are missing, the pure-Python modified Kneser-Ney of ``kaldingram`` writes the ARPA instead; its files carry
no ``<unk>``, so one is added at the probability of the rarest seen word divided by ten. The LM's word list
is kept beside it as ``<lm>.unigrams.txt`` (OOV analysis, decoder lexicons) with the build's provenance in
``<lm>.build.json``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from werbench.manifests.arpa import SENTENCE_MARKERS, read_arpa_unigrams
from werbench.manifests.atomic import atomic_write, check_output_path
from werbench.manifests.errors import ConfigError, ManifestError, MissingDependencyError
from werbench.runners.decoders.ngram import unigrams_path

BINARY_SUFFIXES = (".bin", ".binary", ".klm", ".kenlm")
MANIFEST_SUFFIXES = (".json", ".jsonl")
KALDINGRAM_MAX_ORDER = 5
UNK_BELOW_RAREST = 1.0  # log10: <unk> is ten times rarer than the rarest seen word


@dataclass
class LMBuild:
    """What was built and how; written as ``<lm>.build.json``."""

    path: str
    order: int
    tool: str
    normalizer: str
    sentences: int
    words: int
    vocabulary: int
    unigrams: str
    sources: list[dict[str, str]] = field(default_factory=list)
    prune: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def build_info_path(lm_path: str | Path) -> Path:
    lm_path = Path(lm_path)
    return lm_path.with_name(lm_path.name + ".build.json")


def find_tool(name: str) -> str | None:
    """A KenLM executable on PATH, beside the running python (the venv) or in the set-up's cache."""
    candidates = [
        shutil.which(name),
        str(Path(sys.executable).parent / name),
        str(Path(os.environ.get("WERBENCH_KENLM_BIN", Path.home() / ".cache/werbench/kenlm-bin")) / name),
    ]
    return next((c for c in candidates if c and os.access(c, os.X_OK) and Path(c).is_file()), None)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def iter_source_lines(path: Path) -> Iterator[str]:
    """Sentences of one source: a manifest's ``text`` fields, or a (gzipped) text file's lines."""
    if not path.is_file():
        raise ManifestError(path, "text source not found")
    if path.suffix.lower() in MANIFEST_SUFFIXES:
        from werbench.manifests.io import iter_json_rows

        for line, row in iter_json_rows(path):
            text = row.get("text")
            if not isinstance(text, str):
                raise ManifestError(path, "expected a string", line=line, field="text")
            yield text
        return
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        number = 0
        try:
            for number, line in enumerate(handle, start=1):  # the count also names an undecodable line
                if "\0" in line:
                    raise ManifestError(path, "NUL byte in the line (a binary file?)", line=number)
                yield line
        except UnicodeDecodeError:
            raise ManifestError(path, "not UTF-8 text", line=number + 1) from None
        except (OSError, EOFError, zlib.error) as exc:  # a .gz that is not gzip, or is cut short
            raise ManifestError(path, f"cannot read: {exc}", line=number + 1) from None


def write_corpus(sources: Sequence[Path], normalizer_name: str, out: Path) -> tuple[int, int]:
    """Normalise every source into one sentence-per-line corpus; returns (sentences, words)."""
    from tqdm import tqdm
    from werbench.manifests.normalize import get_normalizer

    normalize = get_normalizer(normalizer_name)
    sentences = words = 0
    with out.open("w", encoding="utf-8") as handle:
        for source in sources:
            for raw in tqdm(iter_source_lines(source), desc=f"normalising {source.name}", unit=" lines"):
                tokens = [w for w in normalize(raw).split() if w not in SENTENCE_MARKERS]
                if tokens:
                    handle.write(" ".join(tokens) + "\n")
                    sentences += 1
                    words += len(tokens)
    if not sentences:
        raise ManifestError(sources[0], f"no text left after normalising with {normalize.spec!r}")
    return sentences, words


def lmplz_memory(corpus: Path, order: int) -> str:
    """``-S`` for lmplz: enough for the corpus' n-grams, at least 64 MiB, at most 10% of RAM (its default).

    lmplz spends seconds just touching the memory it is given, which dominates small builds.
    """
    wanted = max(64 << 20, corpus.stat().st_size * 12 * order)
    try:
        ten_percent = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 10
    except (ValueError, OSError):
        return "10%"
    return f"{min(wanted, ten_percent) >> 20}M"


def run_lmplz(
    lmplz: str, corpus: Path, arpa: Path, order: int, prune: Sequence[int], memory: str
) -> list[str]:
    """Estimate with lmplz; retries with ``--discount_fallback`` where a tiny corpus defeats the estimate."""
    if memory == "auto":
        memory = lmplz_memory(corpus, order)
    command = [lmplz, "-o", str(order), "-S", memory, "-T", str(arpa.parent), "--text", str(corpus)]
    command += ["--arpa", str(arpa)]
    if prune:
        command += ["--prune", *map(str, prune)]
    notes: list[str] = []
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode and "discount" in result.stderr.lower():
        notes.append(
            "lmplz could not estimate Kneser-Ney discounts (corpus too small): used --discount_fallback"
        )
        result = subprocess.run(
            [*command, "--discount_fallback"], capture_output=True, text=True, check=False
        )
    if result.returncode:
        tail = "\n".join(result.stderr.strip().splitlines()[-6:])
        raise ManifestError(corpus, f"lmplz failed (exit {result.returncode}):\n{tail}")
    return notes


def run_kaldingram(corpus: Path, arpa: Path, order: int, prune: Sequence[int]) -> list[str]:
    """Pure-Python Kneser-Ney, then ``<unk>`` added so KenLM and pyctcdecode treat OOV words sanely."""
    try:
        from kaldingram.train import NgramCounts
    except ImportError:
        raise MissingDependencyError(
            "lmplz", "KenLM's lmplz was not found and the fallback package kaldingram is not installed"
        ) from None
    if order > KALDINGRAM_MAX_ORDER:
        raise ConfigError("--order", f"the kaldingram fallback supports orders up to {KALDINGRAM_MAX_ORDER}")
    counts = NgramCounts(order)
    with corpus.open(encoding="utf-8") as handle:
        for line in handle:
            counts.add_raw_counts_from_line(line.strip())
    # lmplz drops n-grams seen <= threshold times; kaldingram's cutoffs drop those seen < threshold.
    cutoffs = [0, *(t + 1 if t else 0 for t in list(prune)[1:order])]
    if any(cutoffs):
        counts.apply_count_cutoffs(cutoffs + [0] * (order - len(cutoffs)))
    counts.cal_discounting_constants()
    counts.cal_f()
    counts.cal_bow()
    with arpa.open("w", encoding="utf-8") as handle:
        counts.print_as_arpa(fout=handle)
    add_unk(arpa)
    return ["estimated with kaldingram (lmplz not found); <unk> added to the ARPA"]


def add_unk(arpa: Path) -> None:
    """Insert a ``<unk>`` unigram (and fix the header count) in an ARPA file that lacks one."""
    lines = arpa.read_text(encoding="utf-8").split("\n")
    start = lines.index("\\1-grams:")
    end = lines.index("", start)
    entries = [line.split("\t") for line in lines[start + 1 : end]]
    if any(len(e) > 1 and e[1] == "<unk>" for e in entries):
        return
    seen = [float(e[0]) for e in entries if len(e) > 1 and e[1] not in SENTENCE_MARKERS]
    unk_logp = min(seen) - UNK_BELOW_RAREST
    lines.insert(start + 1, f"{unk_logp:.7f}\t<unk>\t0.0000000")
    header = next(i for i, line in enumerate(lines) if line.startswith("ngram 1="))
    lines[header] = f"ngram 1={len(entries) + 1}"
    arpa.write_text("\n".join(lines), encoding="utf-8")


def run_build_binary(build_binary: str, arpa: Path, out: Path, binary_type: str) -> None:
    result = subprocess.run(
        [build_binary, binary_type, str(arpa), str(out)], capture_output=True, text=True, check=False
    )
    if result.returncode:
        tail = "\n".join(result.stderr.strip().splitlines()[-6:])
        raise ManifestError(arpa, f"build_binary failed (exit {result.returncode}):\n{tail}")


def build_lm(
    sources: Sequence[str | Path],
    out: str | Path,
    *,
    order: int = 4,
    normalize: str = "none",
    prune: Sequence[int] = (),
    binary_type: str = "probing",
    memory: str = "auto",
    tool: str = "auto",
) -> LMBuild:
    """Build ``out`` (ARPA, or KenLM binary for ``.bin``/``.klm``) plus its unigram list and build record."""
    sources = [Path(s) for s in sources]
    out = check_output_path(out)
    if not sources:
        raise ConfigError("TEXT", "give at least one text file or manifest")
    for source in sources:
        if not source.is_file():
            raise ManifestError(source, "text source not found")
    if order < 1:
        raise ConfigError("--order", "must be at least 1")
    if prune and (len(prune) > order or any(p < 0 for p in prune) or list(prune) != sorted(prune)):
        raise ConfigError(
            "--prune", "one non-negative, non-decreasing count threshold per order, at most --order"
        )
    if tool not in ("auto", "lmplz", "kaldingram"):
        raise ConfigError("--tool", "choose auto, lmplz or kaldingram")
    lmplz = find_tool("lmplz") if tool != "kaldingram" else None
    if tool == "lmplz" and lmplz is None:
        raise MissingDependencyError("lmplz", "not found on PATH or beside python; run scripts/setup.sh")
    binary = out.suffix.lower() in BINARY_SUFFIXES
    build_binary = find_tool("build_binary") if binary else None
    if binary and build_binary is None:
        raise MissingDependencyError(
            out, "a binary LM needs KenLM's build_binary, which was not found; write .arpa instead"
        )

    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".lmbuild-", dir=out.parent) as tmp:
        corpus, arpa = Path(tmp) / "corpus.txt", Path(tmp) / "lm.arpa"
        sentences, words = write_corpus(sources, normalize, corpus)
        if lmplz:
            notes = run_lmplz(lmplz, corpus, arpa, order, prune, memory)
        else:
            notes = run_kaldingram(corpus, arpa, order, prune)
        vocabulary = read_arpa_unigrams(arpa)
        staged = Path(tmp) / "lm.out"
        if binary:
            run_build_binary(build_binary, arpa, staged, binary_type)
        else:
            arpa.rename(staged)
        os.replace(staged, out)

    with atomic_write(unigrams_path(out)) as handle:
        handle.write("\n".join(vocabulary) + "\n")
    from werbench.manifests.normalize import get_normalizer

    info = LMBuild(
        path=str(out.resolve()),
        order=order,
        tool="lmplz" if lmplz else "kaldingram",
        normalizer=get_normalizer(normalize).spec,
        sentences=sentences,
        words=words,
        vocabulary=len(vocabulary),
        unigrams=str(unigrams_path(out).resolve()),
        sources=[{"path": str(s.resolve()), "sha256": _sha256(s)} for s in sources],
        prune=list(prune),
        notes=notes,
    )
    with atomic_write(build_info_path(out)) as handle:
        json.dump(asdict(info), handle, indent=2)
    return info
