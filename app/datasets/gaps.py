"""Missing values and missing times: the `missing` policies (error, interpolate, ffill, zero),
the refusals under "error", and the filling under the others.

Pure: numpy, pandas and the domain error only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, get_args

import numpy as np
import pandas as pd

from app.core.errors import InvalidInput
from app.datasets.time_grid import Grid

MissingPolicy = Literal["error", "interpolate", "ffill", "zero"]
MISSING_POLICIES: tuple[MissingPolicy, ...] = get_args(MissingPolicy)


def missing_policy(text: str | None) -> MissingPolicy:
    """The policy `text` names ("error" when None); InvalidInput(field="missing") otherwise."""
    if text is None:
        return "error"
    for policy in MISSING_POLICIES:
        if text == policy:
            return policy
    raise InvalidInput(f"must be one of {', '.join(MISSING_POLICIES)}", field="missing")


def fill_missing(
    matrix: np.ndarray, columns: list[str], lines: Sequence[int], missing: MissingPolicy
) -> tuple[np.ndarray, dict[str, int]]:
    """Rows without a time index: NaN (empty cells) filled by `missing` along the rows, as
    regularize does in time; with "error", the first empty cell is InvalidInput."""
    refuse_empty_cells(matrix, columns, lines, missing)
    return fill_along(matrix.copy(), np.arange(len(matrix), dtype=np.float64), missing, columns)


def refuse_empty_cells(
    matrix: np.ndarray, columns: list[str], lines: Sequence[int], missing: MissingPolicy
) -> None:
    """With missing="error", InvalidInput for the first empty cell (NaN) of `matrix`."""
    if missing != "error":
        return
    holes = np.argwhere(np.isnan(matrix))
    if holes.size:
        row, column = (int(i) for i in holes[0])
        raise InvalidInput(
            f"line {lines[row]}, column {columns[column]!r}: is empty; to fill empty cells and "
            "missing times, upload with the form field missing=interpolate, ffill or zero",
            field="file",
        )


def refuse_gaps(grid: Grid, lines: Sequence[int]) -> None:
    """InvalidInput at the first row that follows a gap in the axis."""
    gaps = np.flatnonzero(np.diff(grid.positions) > 1)
    if not gaps.size:
        return
    i = int(gaps[0])
    before, after = int(grid.positions[i]), int(grid.positions[i + 1])
    labels = grid.axis.labels()
    count = after - before - 1
    raise InvalidInput(
        f"line {lines[i + 1]}: time {labels[after]} follows {labels[before]} (line {lines[i]}), "
        f"but the spacing is {grid.spacing}: {count} time{'s' if count != 1 else ''} missing "
        f"from {labels[before + 1]}; missing='interpolate', 'ffill' or 'zero' fills them",
        field="file",
        code="irregular_time_index",
    )


def fill_along(
    values: np.ndarray, x: np.ndarray, missing: MissingPolicy, columns: list[str]
) -> tuple[np.ndarray, dict[str, int]]:
    """Fill NaN by the policy (interpolating in `x`); how many were filled in each column."""
    holes = np.isnan(values)
    filled = dict(zip(columns, holes.sum(axis=0).tolist(), strict=True))
    if not holes.any():
        return values, filled
    for j, name in enumerate(columns):
        if holes[:, j].all():
            raise InvalidInput(f"column {name!r} has no values to fill from", field="file")
    if missing == "zero":
        return np.where(holes, 0.0, values), filled
    if missing == "ffill":
        frame = pd.DataFrame(values).ffill().bfill()  # bfill: the rows before the first value
        return np.asarray(frame.to_numpy(), dtype=np.float64), filled
    for j in range(values.shape[1]):
        known = ~holes[:, j]
        values[holes[:, j], j] = np.interp(x[holes[:, j]], x[known], values[known, j])
    return values, filled
