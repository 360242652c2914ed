"""Decoder types by name -> their classes, imported only when used so ``werbench --help`` stays fast.

Parameters are checked against the class itself (its constructor signature, then pydantic's validation of
the dataclass), so a typo or a bad value is reported before any audio is decoded.
"""

from __future__ import annotations

import importlib
import inspect
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from werbench.manifests.errors import ConfigError, MissingDependencyError
from werbench.runners.decoders.base import Decoder


@dataclass(frozen=True, slots=True)
class DecoderEntry:
    """``target`` is ``module:Class``; ``parallel``: slow enough per utterance to pay for worker processes."""

    target: str
    parallel: bool
    summary: str
    path_params: tuple[str, ...] = ()


DECODERS: dict[str, DecoderEntry] = {
    "greedy": DecoderEntry("werbench.runners.decoders.greedy:GreedyDecoder", False, "CTC best path"),
    "beam": DecoderEntry(
        "werbench.runners.decoders.beam_pyctc:BeamSearchDecoder",
        True,
        "pyctcdecode prefix beam search with a KenLM n-gram",
        ("lm", "unigrams"),
    ),
    "beam-fast": DecoderEntry(
        "werbench.runners.decoders.beam_fast:FastBeamDecoder",
        True,
        "pyctcdecode's search compiled with numba: same inputs, OOV spelling and n-best as beam, >10x faster",
        ("lm", "unigrams"),
    ),
    "rescore": DecoderEntry(
        "werbench.runners.decoders.rescore:RescoreDecoder",
        False,
        "KenLM beam n-best rescored by a masked or causal neural LM",
        ("lm", "unigrams", "rescorer"),
    ),
}


def decoder_class(name: str, where: str | Path = "--decoder") -> type:
    """The class registered under ``name``; an unknown name or a missing module is a clear error."""
    entry = DECODERS.get(name)
    if entry is None:
        raise ConfigError(where, f"unknown decoder type {name!r}; choose one of {', '.join(DECODERS)}")
    module_name, _, class_name = entry.target.partition(":")
    try:
        return getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise MissingDependencyError(
            where, f"decoder {name!r} is not available ({entry.target}): {exc}"
        ) from exc


def accepted_params(name: str) -> list[str]:
    """Constructor keyword names of a decoder type (what ``params`` may contain)."""
    signature = inspect.signature(decoder_class(name))
    return [
        p
        for p, spec in signature.parameters.items()
        if spec.kind is spec.POSITIONAL_OR_KEYWORD or spec.kind is spec.KEYWORD_ONLY
    ]


def _check_paths(name: str, params: dict[str, Any], where: str | Path) -> None:
    for key in DECODERS[name].path_params:
        value = params.get(key)
        if value is not None and not Path(value).expanduser().exists():
            raise ConfigError(where, f"decoder {name!r}: file not found: {value}", field=key)
    if params.get("lm") is not None:
        from werbench.manifests.arpa import lm_format
        from werbench.runners.decoders.ngram import is_scorer, scorer_package

        lm = Path(params["lm"]).expanduser()
        lm_format(lm)  # garbage is refused before KenLM (which may abort) sees it
        if is_scorer(lm):
            scorer_package(lm)  # a corrupt package names its file, not the decoder's parameters


def make_decoder(name: str, params: dict[str, Any] | None = None, where: str | Path = "--decoder") -> Decoder:
    """Validate ``params`` against the decoder class and build it.

    A bad setting raises ConfigError; a decoder whose package is not installed, MissingDependencyError.
    """
    import pydantic

    params = dict(params or {})
    cls = decoder_class(name, where)
    accepted = accepted_params(name)
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        takes = f"it accepts {', '.join(accepted)}" if accepted else "it takes no parameters"
        raise ConfigError(
            where, f"decoder {name!r} has no parameter(s) {', '.join(unknown)}; {takes}", field=unknown[0]
        )
    _check_paths(name, params, where)
    try:
        decoder = pydantic.TypeAdapter(cls).validate_python(params)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"]) or None
        raise ConfigError(
            where, _about(name, first["msg"].removeprefix("Value error, ")), field=key
        ) from None
    except (TypeError, ValueError) as exc:
        raise ConfigError(where, _about(name, str(exc))) from None
    nan = next((key for key in params if isinstance(getattr(decoder, key, None), float)
                and math.isnan(getattr(decoder, key))), None)  # fmt: skip
    if nan is not None:  # NaN passes a float check and turns every score into NaN
        raise ConfigError(where, _about(name, f"{nan} is not a number (NaN)"), field=nan)
    return decoder


def _about(name: str, message: str) -> str:
    return message if repr(name) in message else f"decoder {name!r}: {message}"


def file_params(name: str, params: dict[str, Any]) -> dict[str, str]:
    """The file-valued parameters that are set (LM, unigram list, rescorer) for hashing into run.json."""
    return {k: str(params[k]) for k in DECODERS[name].path_params if params.get(k) is not None}
