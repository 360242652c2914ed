"""The order systems are listed in: grouped by model, each model's decoders in pipeline order (greedy, then
beam searches, then rescorers), so a table reads as "what each stage adds" rather than a shuffled ranking.

System names follow ``<model>@<decoder>``; the decoder type comes from the system's ``run.json``.
"""

from __future__ import annotations

import pandas as pd

# first pass, then searches with an LM, then n-best rescoring; any other type (imported, ...) after them
DECODER_RANK = {"greedy": 0, "beam": 1, "beam-fast": 2, "rescore": 3}


def system_key(system: str, decoder: object) -> tuple[str, int, str]:
    """Sort key of one system: its model, its decoder type's pipeline stage (unknown or missing last), then
    its name."""
    rank = DECODER_RANK.get(decoder, len(DECODER_RANK)) if isinstance(decoder, str) else len(DECODER_RANK)
    return system.split("@", 1)[0], rank, system


def order_systems(systems: pd.DataFrame) -> pd.DataFrame:
    """Rows of a per-system table (``testset``, ``system``, ``decoder`` columns) by test set, then
    :func:`system_key`; the index is renumbered."""
    if systems.empty:
        return systems
    decoders = systems["decoder"] if "decoder" in systems else pd.Series(None, index=systems.index)
    keys = [
        (str(t), *system_key(str(s), d))
        for t, s, d in zip(systems["testset"], systems["system"], decoders, strict=True)
    ]
    order = sorted(range(len(keys)), key=keys.__getitem__)
    return systems.iloc[order].reset_index(drop=True)
