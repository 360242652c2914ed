"""Systems are listed grouped by model, decoders in pipeline order (greedy, beam, rescore), by test set."""

from __future__ import annotations

import pandas as pd
from werbench.analysis.system_order import order_systems, system_key


def test_systems_group_by_model_with_decoders_in_pipeline_order():
    rows = [
        ("general", "tuned@rescore-bert", "rescore"),
        ("business", "tuned@greedy", "greedy"),
        ("business", "base@rescore-bert", "rescore"),
        ("business", "base@beam-fast-kenlm4", "beam-fast"),
        ("business", "base@beam-kenlm4", "beam"),
        ("business", "base@greedy", "greedy"),
        ("business", "pocketsphinx@default", float("nan")),  # imported: no known decoder type
        ("business", "base@zz-imported", None),
    ]
    table = pd.DataFrame(rows, columns=["testset", "system", "decoder"], index=[7, 3, 5, 1, 0, 2, 4, 6])
    ordered = order_systems(table)
    assert list(ordered["system"]) == [
        "base@greedy", "base@beam-kenlm4", "base@beam-fast-kenlm4", "base@rescore-bert", "base@zz-imported",
        "pocketsphinx@default", "tuned@greedy", "tuned@rescore-bert",
    ]  # fmt: skip
    assert list(ordered["testset"]) == ["business"] * 7 + ["general"]
    assert list(ordered.index) == list(range(8))
    assert system_key("base@greedy", "greedy") < system_key("base@b", "beam") < system_key("tuned@a", None)
    assert order_systems(table.iloc[:0]).empty
