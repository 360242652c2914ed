"""The one aligner behind every count, diff, confusion pair and per-word accuracy in werbench.

``costs="sclite"`` (default) reproduces NIST sclite 2.x (``sclite -i rm``, default weights) exactly, read from
SCTK's ``net_dp.c``/``word.c``: correct 0, substitution 4, insertion 3, deletion 3; each DP cell keeps the
diagonal move when it costs no more than both others, else the deletion when strictly cheaper than the
insertion, else the insertion, and the backtrace from the last cell follows those choices. It treats the
word ``@`` as sclite's null word (inserting or deleting it costs 0.001 and it never appears in the counts).
Words compare exactly, byte for byte, under every costs: what sclite does to the text before it aligns
(ASCII letters lower-cased, one trailing ``*`` of a longer word dropped) is the ``sclite`` text mode
(``manifests.normalize``), so that the text mode ``none`` is truly none. Cell costs are float32 like sclite's.
Unlike sclite, any UTF-8 text works (sclite crashes on some). Reference alternations ``{ a / b c / @ }``
(``manifests.ref_syntax``) are aligned as sclite aligns its reference networks (``net_dp.c``): each DP cell
takes the cheapest predecessor word, the first written on a tie, and the path ends in the first cheapest
final word; the counts and ops are those of the alternative chosen, and ``BatchResult.paths`` gives the
reference as aligned (what sclite's ``.pra`` prints). Words like ``(uh)`` are plain words, as in sclite
without ``-D``; ``optional_deletable=True`` is sclite's ``-D`` (``align_counts``), whose ops add ``d`` and
``i``: an optionally deletable word left out of one side, scored correct.

``costs="unit"`` is unit costs (sub = ins = del = 1). Its error total S + D + I is the Levenshtein distance,
identical to Kaldi's ``compute-wer`` and to jiwer; among the equal-cost alignments it picks the one jiwer 4
reports (rapidfuzz's ``opcodes``: common prefix/suffix kept as matches, backtrace preferring deletion, then
insertion, then the diagonal), so S/D/I equal jiwer's for utterances under ~2000 words (rapidfuzz switches to
Hirschberg's algorithm beyond that). Kaldi's own S/D/I split of the same total can differ on ties, which is
why the old spelling ``costs="kaldi"`` is only a deprecated alias of ``"unit"``. Why sclite is the default:
with sub = 4 < ins + del = 6 but > ins = 3, sclite prefers an insertion plus a correct word over two
substitutions, so its S/D/I breakdown (and therefore confusion pairs) differs from unit-cost tools even when
the WER is the same; NIST scoring is what published ASR results have been checked against for decades.

Words are separated by ASCII whitespace: space, tab, LF, CR, VT, FF (as in sclite; a non-breaking space or
any other Unicode space stays inside a word unless the text mode turns it into a space). The character
alignment used for CER runs the same DP over Unicode code points. CER has two modes
(``cer_counts``): ``levenshtein`` (default) is jiwer's, NeMo's and SDE's CER, unit costs over the exact
characters, each whitespace run between two words one space character, leading/trailing space ignored, so
S + D + I is the edit distance; ``sclite`` is what ``sclite -c`` reports: the word weights 4/3/3 over the
characters with the spaces dropped (its denominators are smaller, and its error count can exceed the edit
distance because a substitution costs more than an insertion).
Pairs without the null word skip the DP cells that no path within a growing cost budget can pass, an
exact cut-off that returns the full DP's ops, ties included (see ``_align_kernels``): several times
faster on the long character sequences of CER.

Why numba rather than numpy or a C extension: the DP is sequential per pair (no useful numpy vectorisation),
while a numba kernel over a whole corpus packed into one UTF-8 buffer tokenises, keys (exact up to 7
bytes, else hashed and confirmed byte by byte) and aligns without per-word Python objects, needs no
compiler at install time, and compiles once into numba's on-disk cache (``cache=True``): the very first
call in a fresh environment spends about 10 s compiling (2 busy cores), later processes load the machine
code in under a second. The kernels release the GIL: a large batch is split over plain Python threads
(thread-safe, unlike numba's own workqueue pool), which mostly helps the character alignment of CER.
"""

from __future__ import annotations

import contextlib
import gc
import math
import os
import re
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from werbench.aligner import _align_kernels as kernels
from werbench.aligner.pairs import aligned_pairs
from werbench.manifests.errors import ConfigError
from werbench.manifests.normalize import split_words
from werbench.manifests.ref_syntax import has_alternations, parse_reference, reference_network

MAX_CELLS = 400_000_000  # one pair's DP matrix (float32): ~1.6 GB; longer pairs are refused, not swapped


@dataclass(frozen=True, slots=True)
class Costs:
    """Edit weights and comparison rules of one alignment flavour."""

    name: str
    sub: float
    ins: float
    dele: float
    null_word: bool  # the word ``@`` is sclite's null word
    tie: int
    null_indel: float = 0.001
    null_sub: float = 1.0

    def __post_init__(self) -> None:
        if self.tie == kernels.TIE_RAPIDFUZZ and (self.sub, self.ins, self.dele) != (1, 1, 1):
            raise ConfigError("costs", "rapidfuzz tie-breaking is defined for unit costs only")

    @property
    def spec(self) -> str:
        """Cache-key form: everything that changes a count."""
        return f"{self.name}:{self.sub}/{self.ins}/{self.dele}:{int(self.null_word)}"


SCLITE = Costs("sclite", 4.0, 3.0, 3.0, null_word=True, tie=kernels.TIE_SCLITE)
UNIT = Costs("unit", 1.0, 1.0, 1.0, null_word=False, tie=kernels.TIE_RAPIDFUZZ)
COSTS = {"sclite": SCLITE, "unit": UNIT}
# Old spellings still accepted, with a DeprecationWarning: "kaldi" named unit costs after a tool whose S/D/I
# split of ties differs from the one these costs report (jiwer's).
DEPRECATED_COSTS = {"kaldi": "unit"}


def get_costs(costs: str | Costs) -> Costs:
    """The costs named ``costs`` (``"sclite"`` or ``"unit"``); a deprecated alias warns and still works."""
    if isinstance(costs, Costs):
        return costs
    if costs in DEPRECATED_COSTS:
        warnings.warn(
            f'costs="{costs}" is deprecated; it means costs="{DEPRECATED_COSTS[costs]}" (unit costs with '
            "jiwer's tie-breaking)",
            DeprecationWarning,
            stacklevel=2,
        )
        costs = DEPRECATED_COSTS[costs]
    try:
        return COSTS[costs]
    except KeyError:
        raise ConfigError("costs", f"unknown costs {costs!r}; choose one of {', '.join(COSTS)}") from None


def char_units(text: str, keep_spaces: bool = True) -> list[str]:
    """Characters exactly as the CER alignment sees them."""
    return list((" " if keep_spaces else "").join(split_words(text)))


@dataclass(frozen=True)
class AlignedText:
    """A hypothesis as shown against its reference: the text, its aligned pairs and its error count."""

    text: str
    pairs: list[tuple[str, str | None, str | None]]
    errors: int


@dataclass(frozen=True, slots=True)
class BatchResult:
    """The array form of a batch: ``counts[k] = (C, S, D, I)`` and, when requested, ``ops[k]``.

    Pairs too large to align (more than ``MAX_CELLS`` DP cells) have counts ``-1`` and ops ``""`` when
    ``oversize="skip"``. ``paths`` (only when some reference has alternations): each reference as aligned,
    the alternatives chosen in place of the braces.
    """

    counts: np.ndarray
    ops: list[str] | None
    paths: list[str] | None = None


@dataclass(frozen=True, slots=True)
class _Batch:
    """What the ``Alignment`` views of one ``align_many`` call share."""

    refs: Sequence[str | Sequence[str]]
    hyps: Sequence[str | Sequence[str]]
    result: BatchResult
    nulls: bool
    unit: str


class Alignment:
    """One aligned pair: ``ops`` over C/S/D/I in order, counts, and the aligned units via ``pairs()``.

    A light view into its batch, so that aligning 100k pairs does not build 100k sets of Python fields.
    """

    __slots__ = ("_batch", "_k")

    def __init__(self, batch: _Batch, k: int) -> None:
        self._batch = batch
        self._k = k

    def _units(self, src: str | Sequence[str]) -> tuple[str, ...]:
        if src is self._batch.refs[self._k] and self._batch.result.paths is not None:
            src = self._batch.result.paths[self._k]
        if not isinstance(src, str):
            return tuple(src)
        unit = self._batch.unit
        return tuple(split_words(src) if unit == "word" else char_units(src, unit == "char"))

    @property
    def ops(self) -> str:
        return self._batch.result.ops[self._k]  # type: ignore[index]

    @property
    def counts(self) -> tuple[int, int, int, int]:
        """``(C, S, D, I)``."""
        c, s, d, i = self._batch.result.counts[self._k].tolist()
        return c, s, d, i

    @property
    def C(self) -> int:
        return self.counts[0]

    @property
    def S(self) -> int:
        return self.counts[1]

    @property
    def D(self) -> int:
        return self.counts[2]

    @property
    def I(self) -> int:  # noqa: E743 (sclite's letter)
        return self.counts[3]

    @property
    def ref(self) -> tuple[str, ...]:
        return self._units(self._batch.refs[self._k])

    @property
    def hyp(self) -> tuple[str, ...]:
        return self._units(self._batch.hyps[self._k])

    @property
    def errors(self) -> int:
        _, s, d, i = self.counts
        return s + d + i

    @property
    def ref_len(self) -> int:
        c, s, d, _ = self.counts
        return c + s + d

    @property
    def hyp_len(self) -> int:
        c, s, _, i = self.counts
        return c + s + i

    @property
    def wer(self) -> float:
        """Error rate of this pair; NaN when the reference is empty (undefined, never a division by zero)."""
        return self.errors / self.ref_len if self.ref_len else math.nan

    def pairs(self) -> Iterator[tuple[str, str | None, str | None]]:
        """``(op, ref_unit | None, hyp_unit | None)`` in alignment order (sclite null words ``@`` skipped)."""
        return iter(aligned_pairs(self.ref, self.hyp, self.ops, skip_nulls=self._batch.nulls))

    def __repr__(self) -> str:
        c, s, d, i = self.counts
        return f"Alignment(ops={self.ops!r}, C={c}, S={s}, D={d}, I={i})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Alignment):
            return NotImplemented
        return (self.ops, self.ref, self.hyp) == (other.ops, other.ref, other.hyp)

    __hash__ = None  # type: ignore[assignment]


def _texts(items: Sequence[str | Sequence[str]]) -> tuple[list[str], np.ndarray]:
    """Word lists joined into texts, plus the word count each list must split back into (-1: was a text)."""
    texts: list[str] = []
    expected = np.full(len(items), -1, np.int64)
    for k, item in enumerate(items):
        if isinstance(item, str):
            texts.append(item)
        else:
            texts.append(" ".join(item))
            expected[k] = len(item)
    return texts, expected


def _pack(texts: Sequence[str], joined: str) -> tuple[np.ndarray, np.ndarray]:
    """All texts in one UTF-8 buffer plus byte offsets: one crossing into numba for a whole corpus."""
    if joined.isascii():
        lengths = np.fromiter(map(len, texts), np.int64, len(texts))
        data = joined.encode("ascii")
    else:
        encoded = [t.encode("utf-8", "surrogatepass") for t in texts]
        lengths = np.fromiter(map(len, encoded), np.int64, len(encoded))
        data = b"".join(encoded)
    offsets = np.zeros(len(texts) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    buf = np.frombuffer(data, np.uint8) if data else np.zeros(0, np.uint8)
    return buf, offsets


def _tokens(items: Sequence[str | Sequence[str]], costs: Costs, unit: str, optional: bool = False) -> tuple:
    expected = None
    try:
        joined = "".join(items)  # type: ignore[arg-type]
        texts = items
    except TypeError:  # some items are word lists
        texts, expected = _texts(items)
        joined = "".join(texts)
    buf, offsets = _pack(texts, joined)  # type: ignore[arg-type]
    if unit != "word":
        return (buf, *kernels.tokenize_chars(buf, offsets, unit == "char"))
    toks = kernels.tokenize_words(buf, offsets, costs.null_word, optional)
    if expected is not None:
        bad = np.flatnonzero((expected >= 0) & (np.diff(toks[4]) != expected))
        if bad.size:
            k = int(bad[0])
            raise ValueError(f"item {k}: words must be non-empty and contain no whitespace: {items[k]!r}")
    return (buf, *toks)


@dataclass(slots=True)
class _Networks:
    """What the kernel needs for the pairs whose reference is a network, and how to report them.

    ``flat``: every reference as plain words (networks' words in layout order); ``graph_at``/``graph``: the
    layouts (``kernels._sclite_network_pair``); ``must``: per pair and word, 1 if it may only be matched,
    2 if no insertion may follow it either (a split compound's parts but the last); ``credit``: per pair,
    ``(first word of a compound alternative, correct words it stands for - its words)``.
    """

    flat: list
    graph_at: np.ndarray
    graph: list[int]
    must: dict[int, list[int]]
    credit: dict[int, list[tuple[int, int]]]

    def add(
        self, k: int, words: Sequence[str], preds: Sequence[Sequence[int]], finals: Sequence[int]
    ) -> None:
        self.flat[k] = " ".join(words)
        self.graph_at[k] = len(self.graph)
        self.graph.extend(x for p in (*preds, finals) for x in (len(p), *p))


def _joins(words: list[str], longest: int) -> Iterator[tuple[int, int, str]]:
    """``(i, j, words i..j joined)`` for each run of two or more adjacent words no longer than ``longest``."""
    for i in range(len(words)):
        text = words[i]
        for j in range(i + 1, len(words)):
            text += words[j]
            if len(text) > longest:
                break
            yield i, j, text


def _compound_network(ref: list[str], hyp: list[str]):
    """The reference with the Open ASR Leaderboard's compound alternatives (kaldialign's
    ``merge_compounds``): two or more adjacent reference words whose concatenation is a hypothesis word,
    or a reference word that is the concatenation of two or more adjacent hypothesis words, may be matched
    in that form at no cost. ``None`` when the pair has no such place."""
    joined_hyp: dict[str, dict[tuple[str, ...], None]] = {}  # joined text -> the distinct ways to split it
    for i, j, text in _joins(hyp, max(map(len, ref), default=0)):
        joined_hyp.setdefault(text, {})[tuple(hyp[i : j + 1])] = None
    hyp_words = set(hyp)
    merges: dict[int, list[tuple[int, str]]] = {}  # last ref word -> (first ref word, the joined word)
    for i, j, text in _joins(ref, max(map(len, hyp), default=0)):
        if text in hyp_words:
            merges.setdefault(j, []).append((i, text))
    splits = {i: joined_hyp[w] for i, w in enumerate(ref) if w in joined_hyp}
    if not merges and not splits:
        return None
    words: list[str] = []
    preds: list[tuple[int, ...]] = []
    must: list[int] = []
    credit: list[tuple[int, int]] = []
    before: list[tuple[int, ...]] = []  # before[i]: the predecessors of original word i
    tails: tuple[int, ...] = (0,)

    def emit(word: str, after: tuple[int, ...], only_match: int) -> int:
        words.append(word)
        preds.append(after)
        must.append(only_match)
        return len(words)

    for i, word in enumerate(ref):
        before.append(tails)
        ends = [emit(word, tails, 0)]
        for start, joined in merges.get(i, []):
            ends.append(emit(joined, before[start], 1))
            credit.append((ends[-1] - 1, i - start))
        for parts in splits.get(i, ()):
            first = after = emit(parts[0], tails, 2)
            for k, part in enumerate(parts[1:], start=2):
                after = emit(part, (after,), 2 if k < len(parts) else 1)
            ends.append(after)
            credit.append((first - 1, 1 - len(parts)))
        tails = tuple(ends)
    return words, preds, tails, must, credit


def _networks(
    refs: Sequence[str | Sequence[str]], hyps: Sequence[str | Sequence[str]], compounds: bool
) -> _Networks | None:
    """References with alternations (and, with ``compounds``, compound alternatives) as networks; ``None``
    when no reference needs one (the common case costs one scan)."""
    if not compounds:
        with contextlib.suppress(TypeError):  # some references are word lists: look at each
            if not has_alternations("".join(refs)):  # type: ignore[arg-type]
                return None
    out = _Networks(list(refs), np.full(len(refs), -1, np.int64), [], {}, {})
    for k, ref in enumerate(refs):
        if isinstance(ref, str) and has_alternations(ref):
            network = reference_network(parse_reference(ref))
            out.add(k, network.words, network.preds, network.finals)
            out.must[k] = [0] * len(network.words)
        elif compounds:
            hyp = hyps[k]
            built = _compound_network(
                split_words(ref) if isinstance(ref, str) else list(ref),
                split_words(hyp) if isinstance(hyp, str) else list(hyp),
            )
            if built is not None:
                words, preds, finals, out.must[k], out.credit[k] = built
                out.add(k, words, preds, finals)
    return out if out.must else None


def align_counts(
    refs: Sequence[str | Sequence[str]],
    hyps: Sequence[str | Sequence[str]],
    costs: str | Costs = "sclite",
    *,
    unit: str = "word",
    want_ops: bool = True,
    oversize: str = "raise",
    threads: int | None = None,
    band: bool = True,
    compounds: bool = False,
    optional_deletable: bool = False,
) -> BatchResult:
    """The fast batch path as arrays (no per-pair objects): what tables and the cache use.

    ``compounds`` scores split and joined compounds as correct, as the Open ASR Leaderboard does
    (kaldialign's ``merge_compounds``): ``data base`` against ``database`` (either way round) costs nothing,
    and the reference keeps its own word count (``C`` counts the words the compound stands for).

    ``optional_deletable`` is ``sclite -D``: a word in parentheses such as ``(uh)``, in the reference or the
    hypothesis, compares by the text inside (``(uh)`` matches ``uh``), and leaving it out costs 2 instead
    of 3 and is scored correct; its ops are ``d`` (a reference word left out) and ``i`` (a hypothesis word
    left out), both counted in ``C`` (so, as in sclite, an ``i`` adds one to ``C + S + D``).

    ``unit`` is ``"word"``, ``"char"`` (spaces between words count as one character) or ``"char_nospace"``.
    ``threads``: how many threads share a large batch (default ``$WERBENCH_THREADS`` or the CPU count,
    at most 8); the kernels release the GIL, so plain Python threads run them in parallel.
    ``band=False`` runs the full float32 DP on every pair (the same results: tests and benchmark compare).
    """
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")
    if unit not in ("word", "char", "char_nospace"):
        raise ValueError(f"unknown unit {unit!r}")
    spec = get_costs(costs)
    if optional_deletable and (spec.tie != kernels.TIE_SCLITE or unit != "word"):
        raise ValueError("optionally deletable words are aligned by words with sclite's rules only")
    networks = _networks(refs, hyps, compounds) if unit == "word" else None
    graph_at, graph = np.full(len(refs), -1, np.int64), np.zeros(0, np.int64)
    if networks is not None:
        if spec.tie != kernels.TIE_SCLITE and any(not any(m) for m in networks.must.values()):
            raise ValueError("reference alternations are aligned by words with sclite's rules only")
        refs, graph_at, graph = networks.flat, networks.graph_at, np.array(networks.graph, np.int64)
    elif unit != "word" and any(isinstance(r, str) and has_alternations(r) for r in refs):
        raise ValueError("reference alternations are aligned by words with sclite's rules only")
    rbuf, r_start, r_end, r_hash, r_null, r_utt, r_opt = _tokens(refs, spec, unit, optional_deletable)
    hbuf, h_start, h_end, h_hash, h_null, h_utt, h_opt = _tokens(hyps, spec, unit, optional_deletable)
    r_must = np.zeros(len(r_hash), np.int8)
    for k, flags in networks.must.items() if networks is not None else ():
        r_must[r_utt[k] : r_utt[k + 1]] = flags
    cells = (np.diff(r_utt) + 1) * (np.diff(h_utt) + 1)
    too_big = cells > MAX_CELLS
    if oversize == "raise" and too_big.any():
        k = int(np.flatnonzero(too_big)[0])
        raise ValueError(f"pair {k} needs {int(cells[k]):,} DP cells (limit {MAX_CELLS:,}); split it")
    f32 = np.float32
    settings = (spec.tie, f32(spec.sub), f32(spec.ins), f32(spec.dele))
    settings += (f32(spec.null_indel), f32(spec.null_sub), want_ops)

    def run(lo: int, hi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Pairs lo..hi-1 (the kernel reads token offsets as absolute indices, so a slice is a batch)."""
        ref_side = (rbuf, r_start, r_end, r_hash, r_null, r_utt[lo : hi + 1], r_opt)
        hyp_side = (hbuf, h_start, h_end, h_hash, h_null, h_utt[lo : hi + 1], h_opt)
        return kernels.align_pairs(
            *ref_side, *hyp_side, *settings, too_big[lo:hi], band, graph_at[lo:hi], graph, r_must
        )

    counts, ops, op_off, used = _in_threads(run, np.where(too_big, 0, cells), threads)

    def on_path_at(k: int, word: int) -> bool:
        return bool(used[r_utt[k] + word])

    paths = None
    if networks is not None:
        paths = list(refs)  # type: ignore[arg-type]
        for k in np.flatnonzero(graph_at >= 0).tolist():
            words = split_words(refs[k])  # type: ignore[arg-type]
            on_path = used[r_utt[k] : r_utt[k + 1]]
            paths[k] = " ".join(w for w, keep in zip(words, on_path, strict=True) if keep)
        for k, credits in networks.credit.items():
            counts[k, 0] += sum(delta for first, delta in credits if on_path_at(k, first))
    if not want_ops:
        return BatchResult(counts, None, paths)
    text = ops.tobytes().decode("ascii")
    bounds = op_off.tolist()
    return BatchResult(counts, [text[bounds[k] : bounds[k + 1]] for k in range(len(bounds) - 1)], paths)


CER_MODES = ("levenshtein", "sclite")


def _cer_alignment(mode: str) -> tuple[Costs, str]:
    if mode not in CER_MODES:
        raise ConfigError("cer", f"unknown CER mode {mode!r}; choose one of {', '.join(CER_MODES)}")
    return (UNIT, "char") if mode == "levenshtein" else (SCLITE, "char_nospace")


def cer_counts(
    refs: Sequence[str], hyps: Sequence[str], mode: str = "levenshtein", *, threads: int | None = None
) -> np.ndarray:
    """Per pair ``(C, S, D, I)`` of the character alignment that CER counts (``-1`` where too long).

    ``levenshtein`` (default): unit costs, exact characters, each space between two words one character:
    S + D + I is the edit distance jiwer, NeMo and SDE divide by the reference characters. ``sclite``: what
    ``sclite -c`` reports, the 4/3/3 weights over the characters with the spaces dropped.
    """
    costs, unit = _cer_alignment(mode)
    if mode == "levenshtein":
        return _levenshtein_char_counts(refs, hyps)
    return align_counts(refs, hyps, costs, unit=unit, want_ops=False, oversize="skip", threads=threads).counts


_ASCII_SPACE = re.compile(r"[\t\n\x0b\x0c\r ]+")  # what the kernels' tokenisers treat as whitespace


def _char_texts(texts: Sequence[str]) -> Sequence[str]:
    """Texts as the character tokeniser sees them: ASCII whitespace runs one space, none at either end."""
    joined = "\x00" + "\x00".join(texts) + "\x00"
    loose = ("  ", "\x00 ", " \x00", "\t", "\n", "\x0b", "\x0c", "\r")
    if not any(pattern in joined for pattern in loose):
        return texts  # the common case: normalised texts
    return [_ASCII_SPACE.sub(" ", t).strip(" ") for t in texts]


def _levenshtein_char_counts(refs: Sequence[str], hyps: Sequence[str]) -> np.ndarray:
    """The ``levenshtein`` CER mode with rapidfuzz's editops, which is what that mode reproduces (jiwer
    runs it): its bit-parallel DP is ~6x the banded char kernel here, with the same counts (tests compare
    both); ``-1`` where a pair is beyond ``MAX_CELLS``, as the kernel path gives."""
    from rapidfuzz.distance import Levenshtein

    editops = Levenshtein.editops
    refs, hyps = _char_texts(refs), _char_texts(hyps)
    counts: list[int] = []
    for ref, hyp in zip(refs, hyps, strict=True):
        if (len(ref) + 1) * (len(hyp) + 1) > MAX_CELLS:
            counts += (-1, -1, -1, -1)
            continue
        ops = editops(ref, hyp).as_list()
        tags = "".join([op[0][0] for op in ops])  # counted in C: a loop over the ops cost most of the time
        subs, dels = tags.count("r"), tags.count("d")
        counts += (len(ref) - subs - dels, subs, dels, len(ops) - subs - dels)
    return np.array(counts, np.int64).reshape(len(refs), 4)


def warm_up() -> None:
    """Load the compiled kernels now (from numba's cache, ~0.6 s), e.g. in a thread while files are read."""
    align_counts(["a b"], ["a c"])
    cer_counts(["a b"], ["a c"])


PARALLEL_CELLS = 20_000_000  # below this many DP cells a batch is not worth splitting


def default_threads() -> int:
    env = os.environ.get("WERBENCH_THREADS")
    return max(1, int(env)) if env and env.isdigit() else min(os.cpu_count() or 1, 8)


def _in_threads(run, cells: np.ndarray, threads: int | None) -> tuple[np.ndarray, ...]:
    """Split a batch into contiguous parts of about equal DP work, align them in threads, and join them."""
    threads = default_threads() if threads is None else max(1, threads)
    total = int(cells.sum())
    if threads == 1 or total < PARALLEL_CELLS or len(cells) < 2 * threads:
        return run(0, len(cells))
    cuts = np.searchsorted(np.cumsum(cells), np.linspace(0, total, threads + 1)[1:-1])
    bounds = [0, *sorted(set(int(c) for c in cuts) - {0, len(cells)}), len(cells)]
    with ThreadPoolExecutor(len(bounds) - 1) as pool:
        parts = list(pool.map(run, bounds[:-1], bounds[1:]))
    offsets, base = [], 0
    for _, ops, op_off, _ in parts:
        offsets.append(op_off[:-1] + base)
        base += len(ops)
    return (
        np.concatenate([part[0] for part in parts]),
        np.concatenate([part[1] for part in parts]),
        np.concatenate([*offsets, np.array([base], np.int64)]),
        np.logical_or.reduce([part[3] for part in parts]),
    )


def align_many(
    refs: Sequence[str | Sequence[str]],
    hyps: Sequence[str | Sequence[str]],
    costs: str | Costs = "sclite",
    *,
    threads: int | None = None,
    optional_deletable: bool = False,
) -> list[Alignment]:
    """Align many pairs in one compiled call; each item is a word list or a text split on whitespace.
    ``optional_deletable``: sclite's ``-D`` (see ``align_counts``)."""
    spec = get_costs(costs)
    result = align_counts(refs, hyps, spec, threads=threads, optional_deletable=optional_deletable)
    batch = _Batch(refs, hyps, result, spec.null_word, "word")
    collecting = gc.isenabled()
    gc.disable()  # 100k acyclic views would otherwise trigger ~150 pointless collections
    try:
        return [Alignment(batch, k) for k in range(len(refs))]
    finally:
        if collecting:
            gc.enable()


def align(
    ref_words: str | Sequence[str],
    hyp_words: str | Sequence[str],
    costs: str | Costs = "sclite",
    *,
    optional_deletable: bool = False,
) -> Alignment:
    """Align one reference with one hypothesis (word lists, or texts split on whitespace)."""
    return align_many([ref_words], [hyp_words], costs, optional_deletable=optional_deletable)[0]


def align_chars(ref_text: str, hyp_text: str, mode: str = "levenshtein") -> Alignment:
    """The character alignment of two texts that CER ``mode`` counts (see ``cer_counts``), for diffs."""
    costs, unit = _cer_alignment(mode)
    result = align_counts([ref_text], [hyp_text], costs, unit=unit)
    return Alignment(_Batch([ref_text], [hyp_text], result, False, unit), 0)
