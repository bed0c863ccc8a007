"""app.datasets.panel.series_id: what a series id is, CSV and JSON alike (stripped, kept in NFC)."""

from __future__ import annotations

import pytest

from app.datasets import Limits, canonical_series_id
from app.datasets.panel import SeriesIds, series_id

LIMITS = Limits(max_rows=100, max_columns=4, max_series=4, max_series_id_length=8)


@pytest.mark.parametrize(
    ("text", "kept"),
    [(" a ", "a"), ("\ta\t", "a"), ("\u00a0a\u3000", "a"), ("cafe\u0301", "caf\u00e9"),
     ("a b", "a b"), ("\u0430", "\u0430")],
)  # fmt: skip
def test_a_series_id_is_stripped_and_kept_in_nfc(text: str, kept: str) -> None:
    assert series_id(text, LIMITS, where="line 2", field="file") == kept


def test_the_id_limit_counts_the_nfc_characters() -> None:
    assert series_id("e\u0301" * 8, LIMITS, where="line 2", field="file") == "\u00e9" * 8


def test_cells_naming_one_id_are_one_series() -> None:
    ids = SeriesIds(LIMITS)
    for line, cell in enumerate(["a", " a", "cafe\u0301", "caf\u00e9", "a\t"], start=2):
        ids.add(cell, line)
    assert ids.ids == ["a", "caf\u00e9"]
    assert list(ids.rows) == [0, 0, 1, 1, 0]


def test_the_public_rule_is_the_one_uploads_apply() -> None:
    for text in (" a ", "cafe\u0301", "\u0430\t"):
        assert canonical_series_id(text) == series_id(text, LIMITS, where="line 2", field="file")
