"""The compiled pieces under ``beam-fast``: CPython's set order reproduced, the open-addressing map."""

from __future__ import annotations

import numpy as np
from werbench.runners.decoders.prefix_kernel import frame_tokens, insert, lookup, new_table, rehash


def test_frame_tokens_iterate_in_the_order_of_pyctcdecodes_python_set():
    """pyctcdecode loops over ``set(np.where(col >= min)[0]) | {col.argmax()}``; which beam's times a merge
    keeps depends on that order, so the kernel must see the same one, resizes and collisions included."""
    rng = np.random.default_rng(0)
    for _ in range(400):
        labels = int(rng.choice([5, 29, 40, 130, 1025]))
        logits = rng.normal(size=(4, labels)) * rng.choice([1.0, 3.0, 10.0])
        threshold = float(rng.choice([-50.0, -5.0, 0.0, 1.0, 2.0]))
        expected = [[int(v) for v in set(np.where(col >= threshold)[0]) | {col.argmax()}] for col in logits]
        got = frame_tokens(logits, threshold, max(map(len, expected)))
        assert [[int(v) for v in row if v >= 0] for row in got] == expected


def test_map_finds_what_was_inserted_and_survives_a_rehash():
    rng = np.random.default_rng(1)
    keys = np.unique(rng.integers(0, 1 << 62, 3000))
    table = new_table(1000)
    for value, key in enumerate(keys[:1000]):
        insert(table, key, value)
    table = rehash(table, len(keys))
    for value, key in enumerate(keys[1000:], start=1000):
        insert(table, key, value)
    assert [lookup(table, key) for key in keys] == list(range(len(keys)))
    assert lookup(table, (1 << 62) + 5) == -1
