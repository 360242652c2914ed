"""The typed filter expression: what it selects, and a clear message (with the position) when malformed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from werbench.analysis.filter_expr import Field, FilterError, parse_filter

FRAME = pd.DataFrame(
    {
        "w": [0.10, 0.50, np.nan, 0.31],
        "t": ["the bank", "x y", "bank", None],
        "snr": [5.0, 20.0, 12.0, 30.0],
    }
)
FIELDS = {"wer": Field("w", "number", 100.0), "text": Field("t", "text"), "SNR": Field("snr", "number")}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("wer > 30 && text contains bank", [False, False, False, False]),
        ("wer > 30 || text contains bank", [True, True, True, True]),
        ("wer >= 31", [False, True, False, True]),
        ("wer < 50% and snr != 20", [True, False, False, True]),  # names ignore case; % is decoration
        ("!(wer >= 10)", [False, False, True, False]),  # NaN matches no comparison, so its negation does
        ('text contains "THE B"', [True, False, False, False]),  # quoted, case-insensitive
        ("text !contains bank", [False, True, False, True]),
        ("not text == bank", [True, True, False, True]),
        ("text startswith the || text endswith y", [True, True, False, False]),
        ("(snr > 10 && snr < 25) || wer == 10", [True, True, True, False]),
    ],
)
def test_expressions_select_the_rows_they_say(expression: str, expected: list[bool]) -> None:
    assert parse_filter(expression, FIELDS)(FRAME).tolist() == expected


@pytest.mark.parametrize(
    ("expression", "position", "message"),
    [
        ("", 1, "empty expression"),
        ("wer > ", 7, "expected a value after >"),
        ("wer >> 3", 6, "expected a value after >"),
        ("foo > 3", 1, "unknown field 'foo'; fields: snr, text, wer"),
        ("text > 3", 6, "text fields take"),
        ("wer contains x", 5, "number fields take"),
        ("wer > abc", 7, "expected a number, got 'abc'"),
        ("(wer > 3", 1, "this ( is never closed"),
        ('text contains "abc', 15, "unclosed quote"),
        ("wer > 3 text", 9, "expected && or || before 'text'"),
        ("wer > 3 &&", 11, "expected a field name"),
        ("__import__('os').system('x') > 1", 1, "unknown field"),  # nothing is evaluated as Python
    ],
)
def test_malformed_expressions_say_where_and_why(expression: str, position: int, message: str) -> None:
    with pytest.raises(FilterError) as err:
        parse_filter(expression, FIELDS)
    assert err.value.position == position - 1
    assert f"at character {position}: " in str(err.value) and message in str(err.value)
