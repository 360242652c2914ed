"""werbench's Python API: ``score``, ``load``, ``compare``, ``align`` and ``show`` for notebooks and scripts.

A thin layer over the analysis functions that the commands call (one code path): ``score`` and ``load``
build the tables of ``werbench score``/``report`` (``inputs`` + ``tables.build_tables``), ``compare`` runs
the tests of ``werbench compare`` (``compare.compare_systems``), ``align`` is the one sclite-identical
aligner, ``show`` the dashboard of ``werbench serve``. pandas, numba and Dash load on first call, so
``import werbench`` stays light; nothing is written to disk unless ``cache=True`` asks.

>>> import werbench
>>> scores = werbench.score(["the cat sat", "hello world"], ["the cat sat down", "hello word"])
>>> round(scores.wer, 3)
0.4
>>> werbench.align("the cat sat", "the bat sat").ops
'CSC'
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

from werbench.manifests.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd
    from dash import Dash

    from werbench.aligner.align import Alignment
    from werbench.analysis.compare import Comparison
    from werbench.analysis.gate import GateResult
    from werbench.analysis.inputs import Inputs
    from werbench.analysis.tables import Tables

Texts = Union[Sequence[str], Mapping[str, str], "pd.Series", "pd.DataFrame", str, os.PathLike]
Normalize = Callable[[str], Any] | str | None

__all__ = ["Results", "Scores", "align", "compare", "gate", "load", "score", "show"]


@dataclass
class Scores:
    """Both tables of one scoring: ``utterances`` (a row per test set, system and utterance) and ``summary``
    (a row per test set and system: WER with its 95% CI, CER, SER, S/D/I rates...); columns as in
    docs/ARCHITECTURE.md. ``wer``/``cer``/``ser`` are the single system's pooled rates."""

    utterances: pd.DataFrame
    summary: pd.DataFrame
    normalizer: str
    costs: str
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def _of(cls, tables: Tables, order: Sequence[str] = (), **extra: Any) -> Scores:
        """``order``: system names in the order the caller gave them (texts in memory name no model or
        decoder to group by); otherwise the tables' pipeline order."""
        summary = tables.systems
        if order:
            rank = {system: k for k, system in enumerate(order)}
            summary = summary.sort_values(
                "system", key=lambda s: s.map(rank), kind="stable", ignore_index=True
            )
        return cls(tables.utterances, summary, tables.normalizer, tables.costs, tables.warnings, **extra)

    @property
    def systems(self) -> list[str]:
        """System names in table order (each once, whatever the number of test sets)."""
        return list(dict.fromkeys(self.summary["system"]))

    @property
    def testsets(self) -> list[str]:
        return list(dict.fromkeys(self.summary["testset"]))

    def _one(self, column: str) -> float:
        if len(self.summary) != 1:
            rows = ", ".join(self.summary["testset"] + "/" + self.summary["system"])
            raise ValueError(f"{column} of one system asked, but these scores hold several ({rows}); "
                             "read .summary instead")  # fmt: skip
        return float(self.summary[column].iat[0])

    @property
    def wer(self) -> float:
        return self._one("wer")

    @property
    def cer(self) -> float:
        return self._one("cer")

    @property
    def ser(self) -> float:
        return self._one("ser")

    def _tables(self) -> Tables:
        from werbench.analysis.tables import Tables

        return Tables(self.utterances, self.summary, self.normalizer, self.costs, self.warnings)

    def __repr__(self) -> str:
        from werbench.analysis.score_cli import summary_text

        return summary_text(self._tables())

    def _repr_html_(self) -> str:
        columns = ["testset", "system", "utts", "ref_words", "wer", "wer_lo", "wer_hi", "cer", "ser"]
        return self.summary[columns].to_html(index=False, float_format=lambda v: f"{v:.4f}")


@dataclass(repr=False)
class Results(Scores):
    """A results directory (or reference and hypothesis files) scored: ``Scores`` plus where it came from."""

    path: Path | None = None


# ------------------------------------------------------------------------------------------ the functions


def align(
    ref: str | Sequence[str], hyp: str | Sequence[str], costs: str = "sclite", normalize: str = "none"
) -> Alignment:
    """Align two texts (or word lists) with the sclite-identical aligner; ``.pairs()`` walks the alignment.

    ``normalize``: the text mode applied to both texts (``none``: exactly as written, case-sensitive;
    ``sclite``: what the sclite binary does, ASCII case folded; or any normaliser name).

    >>> a = werbench.align("a b c d", "a x c d e")
    >>> a.ops, a.counts
    ('CSCCI', (3, 1, 0, 1))
    >>> list(a.pairs())[:2]
    [('C', 'a', 'a'), ('S', 'b', 'x')]
    """
    from werbench.aligner.align import align as align_words

    for name, value in (("ref", ref), ("hyp", hyp)):
        if not isinstance(value, str) and not (
            isinstance(value, Sequence) and all(isinstance(w, str) for w in value)
        ):
            raise TypeError(f"{name}: a text or a list of words, got {type(value).__name__}")
    if normalize != "none":
        from werbench.manifests.normalize import get_normalizer
        from werbench.manifests.ref_syntax import map_words

        text_mode = get_normalizer(normalize)
        ref = map_words(ref if isinstance(ref, str) else " ".join(ref), text_mode)
        hyp = text_mode(hyp if isinstance(hyp, str) else " ".join(hyp))
    return align_words(ref, hyp, costs)


def score(
    refs: Texts,
    hyps: Texts | Sequence[str | os.PathLike] | Mapping[str, Texts],
    normalize: Normalize = None,
    costs: str = "sclite",
    *,
    name: str = "hyp",
    cache: bool = False,
    resamples: int = 1000,
    seed: int = 0,
    speaker_from_id: str | None = None,
) -> Scores:
    """Score hypotheses against references, as ``werbench score`` does.

    ``refs`` and ``hyps``: lists of texts (paired by position), dicts id -> text (paired by id), pandas
    Series (by index) or DataFrames (``text``/``pred_text`` column, ids from ``utt_id`` or the index; a
    hypothesis frame without ``pred_text`` holds one system per column), or file paths (a NeMo manifest or
    trn reference; hypothesis files, one or a list). Several systems: a dict name -> texts. ``normalize``:
    a text mode name (``none``: the exact text, ``sclite``: what the sclite binary does, ``nemo``,
    ``whisper``...), any callable text -> text (a jiwer transform too), or None (``sclite`` for a trn
    reference file, else ``none``). ``cache=True`` uses the alignment cache on disk. ``speaker_from_id``: a
    regex whose group (or match) is the speaker of utterances without a speaker field (``--speaker-from-id``).

    >>> s = werbench.score({"u1": "Hello World"}, {"u1": "hello world!"}, normalize="nemo")
    >>> s.wer, s.systems
    (0.0, ['hyp'])
    >>> werbench.score(["a b"], {"x": ["a b"], "y": ["a c"]}).summary[["system", "wer"]].to_dict("records")
    [{'system': 'x', 'wer': 0.0}, {'system': 'y', 'wer': 0.5}]
    """
    if _is_path(refs):
        paths = [hyps] if _is_path(hyps) else hyps
        if not isinstance(paths, Sequence) or not all(_is_path(p) for p in paths):
            raise TypeError("hyps: with a reference file, give hypothesis file paths (one or a list)")
        if callable(normalize):
            raise TypeError("normalize: files are scored with a normaliser name (or None)")
        return Scores._of(_path_tables(Path(refs), [Path(p) for p in paths], normalize, costs, cache,
                                       resamples, seed, speaker_from_id))  # fmt: skip
    from werbench.analysis.inputs import Hypotheses, Inputs, Reference, RefUtt, TestSet, match

    ref_texts = _texts("refs", refs, "text")
    systems = _systems(hyps, list(ref_texts), name)
    label, fn = _normaliser(normalize)
    if fn is not None:
        ref_texts = {uid: _normalised(fn, text, "refs", uid) for uid, text in ref_texts.items()}
        systems = {
            system: {uid: _normalised(fn, text, "hyps", uid) for uid, text in texts.items()}
            for system, texts in systems.items()
        }
    reference = Reference.of("refs", (RefUtt(uid, text) for uid, text in ref_texts.items()))
    testset = TestSet("refs", reference, [Hypotheses.of(s, s, t) for s, t in systems.items()])
    inputs = Inputs([testset])
    match(testset, inputs.warnings)
    tables = _build(inputs, None if fn is not None else label, costs, cache, resamples, seed, speaker_from_id)
    if fn is not None:
        tables.normalizer = label
        tables.systems["normalizer"] = label
    return Scores._of(tables, order=list(systems))


def load(
    source: str | os.PathLike,
    *hyps: str | os.PathLike,
    normalize: str | None = None,
    costs: str = "sclite",
    cache: bool = False,
    resamples: int = 1000,
    seed: int = 0,
    speaker_from_id: str | None = None,
) -> Results:
    """A results directory ``RESULTS/<testset>/<system>/predictions.jsonl`` (or a reference file and
    hypothesis files) scored: ``.systems``, ``.utterances``, ``.summary``. ``normalize=None`` uses what
    the runs recorded; ``cache=True`` reads and writes the table cache (as the CLI does by default);
    ``speaker_from_id`` as in ``score``."""
    if not _is_path(source) or not all(_is_path(h) for h in hyps):
        raise TypeError(f"source: a results directory or file path, got {type(source).__name__}")
    path = Path(source)
    tables = _path_tables(
        path, [Path(h) for h in hyps], normalize, costs, cache, resamples, seed, speaker_from_id
    )
    results = Results._of(tables, path=path)
    return results


def compare(
    results: Scores | str | os.PathLike,
    a: str,
    b: str,
    *,
    testset: str | None = None,
    flavour: str = "werbench",
    resamples: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
    speaker_from_id: str | None = None,
) -> Comparison:
    """A (baseline) against B (candidate) on their shared utterances: ``.summary`` (WERs, change,
    improved/regressed counts), ``.tests`` (paired bootstrap, MAPSSWE, sign, Wilcoxon, McNemar) and
    ``.utterances`` (one row per utterance), as ``werbench compare`` prints them.

    >>> c = werbench.compare(werbench.score(["a b c", "d e"], {"A": ["a b c", "d x"], "B": ["a b", "d e"]}),
    ...                      "A", "B")
    >>> c.summary["wer_a"], c.summary["improved"], [t.name for t in c.tests][:2]
    (0.2, 1, ['bootstrap', 'mapsswe'])
    """
    from werbench.analysis.compare import compare_systems

    scores = results if isinstance(results, Scores) else load(results, speaker_from_id=speaker_from_id)
    for side, system in (("a", a), ("b", b)):
        if system not in scores.systems:
            raise ConfigError(side, f"no system {system!r}; systems: {', '.join(scores.systems)}")
    return compare_systems(scores.utterances, a, b, testset=testset, flavour=flavour,  # type: ignore[arg-type]
                           n_resamples=resamples, seed=seed, alpha=alpha)  # fmt: skip


def gate(
    results: str | os.PathLike,
    baseline: str | os.PathLike,
    candidate: str,
    *,
    testsets: Sequence[str] | None = None,
    max_wer_increase: float = 0.1,
    alpha: float = 0.05,
    normalize: str | None = None,
    costs: str = "sclite",
    resamples: int = 1000,
    seed: int = 0,
) -> GateResult:
    """``werbench gate``: ``.passed`` is False when the candidate's WER rose by more than
    ``max_wer_increase`` points, significantly (paired bootstrap, Holm across test sets); ``baseline`` is a
    system of ``results`` or a baseline file. ``analysis.gate.markdown/junit_xml`` render the outcome."""
    from werbench.analysis.gate import run_gate
    from werbench.analysis.table_cache import TableOptions

    options = TableOptions(normalize=normalize, costs=costs, n_resamples=resamples, seed=seed)
    return run_gate(results, baseline, candidate, testsets=testsets, max_wer_increase=max_wer_increase,
                    alpha=alpha, options=options)  # fmt: skip


def show(
    results: Results | str | os.PathLike,
    *,
    normalize: str | None = None,
    port: int = 8050,
    cache: bool = False,
    open_browser: bool = True,
) -> Dash:
    """The dashboard on a results directory: inline in Jupyter (Dash's jupyter mode), else served on
    127.0.0.1:``port`` and opened in the browser (blocking until Ctrl+C); ``normalize``: the text mode shown
    first (default: the one the runs recorded, else ``none``). Returns the Dash app."""
    from werbench.dashboard.app import create_app

    if isinstance(results, Results):
        if results.path is None or not results.path.is_dir():
            raise ConfigError("results", "the dashboard shows a results directory; load() one first")
        results = results.path
    elif not _is_path(results) or not Path(results).is_dir():
        raise ConfigError("results", f"not a results directory: {results!r}")
    keep = None
    if not cache:  # the dashboard caches its tables; a throw-away folder that lives as long as the app
        import tempfile

        keep = tempfile.TemporaryDirectory(prefix="werbench-show-")
    app = create_app(Path(results), normalize=normalize, cache_dir=None if keep is None else keep.name)
    app.server.config["WERBENCH_TMP"] = keep
    if _in_jupyter():
        app.run(jupyter_mode="inline", port=port, host="127.0.0.1")
        return app
    import webbrowser

    import waitress

    url = f"http://127.0.0.1:{port}/"
    print(f"werbench dashboard on {url} (Ctrl+C stops)")
    if open_browser:
        webbrowser.open(url)
    waitress.serve(app.server, host="127.0.0.1", port=port, threads=8, ident="werbench")
    return app


# ------------------------------------------------------------------------------------------ the plumbing


def _is_path(value: Any) -> bool:
    return (
        isinstance(value, str | os.PathLike)
        and not isinstance(value, bytes)
        and (isinstance(value, os.PathLike) or Path(value).exists())
    )


def _in_jupyter() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def _texts(arg: str, value: Any, column: str, ids: list[str] | None = None) -> dict[str, str]:
    """One side's texts by utterance id; a list pairs with ``ids`` (the references') by position."""
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        if column not in value.columns and value.shape[1] != 1:
            raise ConfigError(arg, f"a DataFrame needs a {column!r} column (or exactly one column)")
        texts = value[column] if column in value.columns else value.iloc[:, 0]
        if "utt_id" in value.columns:
            texts = pd.Series(texts.to_numpy(), index=value["utt_id"])
        value = texts
    if isinstance(value, pd.Series):
        pairs = list(zip(value.index.astype(str), value.tolist(), strict=True))
    elif isinstance(value, Mapping):
        pairs = [(str(k), v) for k, v in value.items()]
    elif isinstance(value, Sequence) and not isinstance(value, str):
        if ids is not None and len(value) != len(ids):
            raise ConfigError(arg, f"{len(value)} texts for {len(ids)} references (paired by position)")
        pairs = list(zip(ids if ids is not None else map(str, range(len(value))), value, strict=True))
    else:
        raise TypeError(
            f"{arg}: a list, dict, pandas Series/DataFrame or file path, got {type(value).__name__}"
        )
    bad = next(((uid, v) for uid, v in pairs if not isinstance(v, str)), None)
    if bad is not None:
        raise TypeError(f"{arg}: the text of {bad[0]!r} is a {type(bad[1]).__name__}, not a string")
    texts = dict(pairs)
    if len(texts) != len(pairs):
        raise ConfigError(arg, "duplicate utterance ids")
    return texts


def _systems(hyps: Any, ids: list[str], name: str) -> dict[str, dict[str, str]]:
    """Hypotheses by system: a dict of systems, a frame of system columns, or one system's texts."""
    import pandas as pd

    if isinstance(hyps, Mapping) and hyps and all(not isinstance(v, str) for v in hyps.values()):
        return {str(s): _texts(f"hyps[{s!r}]", v, "pred_text", ids) for s, v in hyps.items()}
    if isinstance(hyps, pd.DataFrame) and "pred_text" not in hyps.columns and hyps.shape[1] > 1:
        frame = hyps.set_index("utt_id") if "utt_id" in hyps.columns else hyps
        return {str(s): _texts(f"hyps[{s!r}]", frame[s], "pred_text", ids) for s in frame.columns}
    return {name: _texts("hyps", hyps, "pred_text", ids)}


def _normaliser(normalize: Normalize) -> tuple[str | None, Callable[[str], Any] | None]:
    """A registered name (checked now) or a callable and the label the tables record for it."""
    if normalize is None or isinstance(normalize, str):
        if normalize is not None:
            from werbench.manifests.normalize import get_normalizer

            get_normalizer(normalize)
        return normalize, None
    if not callable(normalize):
        raise TypeError(f"normalize: a normaliser name or a callable, got {type(normalize).__name__}")
    label = getattr(normalize, "__name__", None) or type(normalize).__name__
    return f"callable:{label}", normalize


def _normalised(fn: Callable[[str], Any], text: str, arg: str, uid: str) -> str:
    """``fn(text)`` as one string; jiwer transforms return word lists (possibly nested), joined here."""
    out = fn(text)
    while isinstance(out, list) and len(out) == 1 and isinstance(out[0], list):
        out = out[0]
    if isinstance(out, list) and all(isinstance(w, str) for w in out):
        out = " ".join(out)
    if not isinstance(out, str):
        raise TypeError(f"normalize: returned a {type(out).__name__} for {arg} {uid!r}, not a string")
    return out


def _build(
    inputs: Inputs, normalize: str | None, costs: str, cache: bool, resamples: int, seed: int,
    speaker_from_id: str | None,
) -> Tables:  # fmt: skip
    from werbench.analysis.cache import AlignmentCache, default_cache_dir
    from werbench.analysis.table_cache import TableOptions, inputs_tables

    options = TableOptions(
        normalize=normalize, costs=costs, n_resamples=resamples, seed=seed, speaker_from_id=speaker_from_id
    )
    return inputs_tables(inputs, options, AlignmentCache(default_cache_dir()) if cache else None)


def _path_tables(
    ref: Path, hyps: list[Path], normalize: str | None, costs: str, cache: bool, resamples: int, seed: int,
    speaker_from_id: str | None,
) -> Tables:  # fmt: skip
    from werbench.analysis.table_cache import TableOptions, tables_for

    options = TableOptions(
        normalize=normalize, costs=costs, n_resamples=resamples, seed=seed, speaker_from_id=speaker_from_id
    )
    return tables_for(ref, hyps, options, use_cache=cache)
