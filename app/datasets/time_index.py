"""Rows put on a regular time axis: sorted by time, placed on the grid of their frequency, and
the missing times and empty cells refused or filled by the `missing` policy.

Pure: numpy and the domain modules beside it. The time column is read by time_cells, the axis
is a time_axis.TimeAxis, the grid and its frequency come from time_grid, the filling from gaps.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import get_args, overload

import numpy as np

from app.datasets.gaps import (
    MISSING_POLICIES,
    MissingPolicy,
    fill_along,
    refuse_empty_cells,
    refuse_gaps,
)
from app.datasets.time_axis import TimeAxis
from app.datasets.time_cells import TimeKind
from app.datasets.time_grid import consecutive_axis, date_grid, number_grid


def regularize(
    kind: str,
    times: np.ndarray,
    matrix: np.ndarray,
    columns: list[str],
    lines: Sequence[int],
    *,
    freq: str | None,
    missing: MissingPolicy,
) -> tuple[np.ndarray, TimeAxis, dict[str, int]]:
    """Rows ordered by time on a regular axis: (values [points, columns] float64 without NaN,
    the axis, how many values were filled per column).

    `kind` and `times` are what parse_times returned; `matrix` [rows, columns] may hold NaN
    (empty cells); lines[i] is the file line of row i. The frequency is inferred from the times
    unless `freq` is given (InvalidInput field="freq" when pandas does not know it or the times do
    not fall on it). Times missing from the axis are inserted; with `missing` other than "error"
    they are filled like empty cells: "interpolate" (linear in time; the edges take the nearest
    value), "ffill" (the first rows, with nothing before them, are filled backwards), "zero".
    With "error", an empty cell or a missing time is InvalidInput. Times off the axis are always
    InvalidInput (field="file", code="irregular_time_index"), naming the line and the spacing.
    """
    if not (len(times) == len(matrix) == len(lines) and matrix.shape[1:] == (len(columns),)):
        raise ValueError("times, matrix rows, lines and columns do not match")
    if not len(times):
        raise ValueError("no rows")
    if kind not in get_args(TimeKind):
        raise ValueError(f"unknown time kind {kind!r}")
    if missing not in MISSING_POLICIES:
        raise ValueError(f"unknown missing policy {missing!r}")
    if kind != "numbers" and freq is None and not np.isnan(matrix).any():
        axis = consecutive_axis(times, zoned=kind == "zoned dates")
        if axis is not None:  # in order, one step apart, nothing empty: nothing to place or fill
            return matrix, axis, dict.fromkeys(columns, 0)
    refuse_empty_cells(matrix, columns, lines, missing)
    order = np.argsort(times, kind="stable")
    sorted_lines = _Reordered(lines, order)
    if kind == "numbers":
        grid = number_grid(times[order].astype(np.float64), sorted_lines, freq)
    else:
        grid = date_grid(times[order], sorted_lines, freq, zoned=kind == "zoned dates")
    if missing == "error":
        refuse_gaps(grid, sorted_lines)
    values = np.full((grid.axis.length, len(columns)), np.nan)
    values[grid.positions] = matrix[order]
    filled_values, filled = fill_along(values, grid.x, missing, columns)
    return filled_values, grid.axis, filled


class _Reordered(Sequence[int]):
    """lines[order[i]]: looked up only where a message names a line, so ordering a series'
    rows makes no Python int per row."""

    def __init__(self, lines: Sequence[int], order: np.ndarray) -> None:
        self._lines, self._order = lines, order

    def __len__(self) -> int:
        return len(self._order)

    @overload
    def __getitem__(self, index: int) -> int: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[int]: ...
    def __getitem__(self, index: int | slice) -> int | Sequence[int]:
        if isinstance(index, slice):
            return [self._lines[int(i)] for i in self._order[index]]
        return self._lines[int(self._order[index])]
