"""What an upload parses into: one series, or many stored one after another (a panel)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from app.datasets.time_axis import TimeAxis


class SeriesPart(NamedTuple):
    """One series of a many-series dataset: its id, how many of the dataset's rows are its own
    (the series are stored one after another, in this order) and its time axis (None: rows in
    order, no timestamps)."""

    id: str
    rows: int
    time_axis: TimeAxis | None


class OneSeries(NamedTuple):
    """One series of a panel, parsed and checked: values [rows, columns] float64 (no NaN), its
    time axis and the values filled in, by column."""

    id: str
    matrix: np.ndarray
    time_axis: TimeAxis | None
    filled: dict[str, int]


class ParsedSeries(NamedTuple):
    """An upload, parsed and checked: values [rows, columns] float64 (no NaN), column names, the
    rows' time axis (None: rows in order) and the values filled in, by column.

    A panel (many series) also has `series` and `series_filled`, one entry per series in stored
    order; its `time_axis` is None (each series has its own) and `filled` holds the totals.
    """

    matrix: np.ndarray
    columns: list[str]
    time_axis: TimeAxis | None = None
    filled: dict[str, int] | None = None
    series: list[SeriesPart] | None = None
    series_filled: list[dict[str, int]] | None = None


def combine(parts: list[OneSeries], columns: list[str]) -> ParsedSeries:
    """The panel of `parts`: their rows concatenated in order, [total rows, columns]."""
    matrix = np.concatenate([part.matrix for part in parts], axis=0)
    totals = {name: sum(part.filled.get(name, 0) for part in parts) for name in columns}
    return ParsedSeries(
        matrix,
        columns,
        None,
        totals if any(part.filled for part in parts) else None,  # JSON series fill nothing
        [SeriesPart(part.id, len(part.matrix), part.time_axis) for part in parts],
        [part.filled for part in parts],
    )
