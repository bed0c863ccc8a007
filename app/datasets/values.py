"""Turn client-supplied values into a checked float64 matrix [rows, columns].

Shared by JSON uploads, inline job data and forecast contexts, so every path reports the same
errors: ragged rows, non-finite or huge values, bad column names, too many rows or columns. The
request models bound their rows and columns with the same limits and answers (`bounded_rows`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, cast

import numpy as np
from pydantic import Field
from pydantic_core import PydanticCustomError

from app.core.bounds import refuse_over
from app.core.config import Settings
from app.core.errors import InvalidInput, coded_error
from app.core.schemas import MAX_ABS_VALUE, Rows, invisible_character

MAX_COLUMN_NAME = 64


@dataclass(frozen=True)
class Limits:
    """Size limits from settings (see Settings for their defaults); max_rows counts every
    series' rows together."""

    max_rows: int
    max_columns: int
    max_series: int
    max_series_id_length: int

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        """The limits a service instance is configured with."""
        return cls(
            settings.max_dataset_rows,
            settings.max_dataset_columns,
            settings.max_series,
            settings.max_series_id_length,
        )


def too_many(count: int, limit: int, things: str) -> str:
    """What a client reads when it sends `count` rows or columns, over `limit`."""
    return f"{count} {things}; at most {limit} are allowed"


def _too_many_rows(count: int, limit: int) -> PydanticCustomError:
    return coded_error(InvalidInput.code, too_many(count, limit, "rows"))


def _too_many_columns(count: int, limit: int) -> PydanticCustomError:
    return coded_error(InvalidInput.code, too_many(count, limit, "columns"))


def bounded_rows(limits: Limits) -> Any:
    """`Rows` of at most `limits.max_rows`, a bound the request model checks and publishes
    (maxItems), refused as `to_matrix` refuses it."""
    return Annotated[Rows, Field(max_length=limits.max_rows), refuse_over(_too_many_rows)]


def bounded_columns(limits: Limits) -> Any:
    """Column names, at most `limits.max_columns` of them (as `bounded_rows`)."""
    return Annotated[
        list[str], Field(max_length=limits.max_columns), refuse_over(_too_many_columns)
    ]


def default_columns(count: int) -> list[str]:
    """value for one column; value_1, value_2, ... for more."""
    return ["value"] if count == 1 else [f"value_{i + 1}" for i in range(count)]


def check_columns(columns: Sequence[str], field: str, limits: Limits) -> list[str]:
    """Names must be non-empty, short, unique, and not too many."""
    if len(columns) > limits.max_columns:
        raise InvalidInput(too_many(len(columns), limits.max_columns, "columns"), field=field)
    seen: set[str] = set()
    for index, name in enumerate(columns):
        if not name.strip():
            raise InvalidInput(f"column {index + 1} has an empty name", field=field)
        invisible = invisible_character(name)
        if invisible is not None:
            raise InvalidInput(f"column {index + 1} name {invisible}", field=field)
        if len(name) > MAX_COLUMN_NAME:
            raise InvalidInput(
                f"column {index + 1} name is over {MAX_COLUMN_NAME} characters", field=field
            )
        if name in seen:
            raise InvalidInput(f"duplicate column name {name!r}", field=field)
        seen.add(name)
    return list(columns)


def check_values(matrix: np.ndarray, columns: Sequence[str], field: str) -> np.ndarray:
    """Reject NaN, infinity and magnitudes over MAX_ABS_VALUE, naming the first bad cell."""
    bad = ~np.isfinite(matrix) | (np.abs(matrix) > MAX_ABS_VALUE)
    if bad.any():
        row, column = (int(i) for i in np.argwhere(bad)[0])
        value = matrix[row, column]
        problem = (
            "is not finite" if not np.isfinite(value) else f"exceeds {MAX_ABS_VALUE:g} in size"
        )
        raise InvalidInput(
            f"row {row + 1}, column {columns[column]!r}: value {problem}", field=field
        )
    return matrix


def to_matrix(
    values: Sequence[float | Sequence[float]],
    columns: Sequence[str] | None,
    *,
    field: str,
    limits: Limits,
) -> tuple[np.ndarray, list[str]]:
    """A flat list (one column) or a list of rows -> ([rows, columns] float64, column names)."""
    if len(values) == 0:
        raise InvalidInput("no rows", field=field)
    if len(values) > limits.max_rows:
        raise InvalidInput(too_many(len(values), limits.max_rows, "rows"), field=field)
    flat = not isinstance(values[0], list)
    for index, row in enumerate(values):
        if isinstance(row, list) == flat:
            shape = "a number" if flat else "a list"
            raise InvalidInput(
                f"row {index + 1} is not {shape} like row 1; give a flat list of numbers "
                "(one column) or a list of rows",
                field=f"{field}[{index}]",
            )
    rows = cast(
        Sequence[Sequence[float]], [[v] for v in values] if flat else values
    )  # uniform, as checked just above
    width = len(columns) if columns is not None else len(rows[0])
    if width == 0:
        raise InvalidInput("rows have no values", field=field)
    for index, row in enumerate(rows):
        if len(row) != width:
            raise InvalidInput(
                f"row {index + 1} has {len(row)} values; expected {width}",
                field=f"{field}[{index}]",
            )
    names = check_columns(
        columns if columns is not None else default_columns(width),
        "columns" if columns is not None else field,
        limits,
    )
    matrix = np.asarray(rows, dtype=np.float64).reshape(len(rows), width)
    return check_values(matrix, names, field), names


def column_stats(matrix: np.ndarray, columns: Sequence[str]) -> list[dict[str, float | str]]:
    """min, max, mean and std of every column."""
    return [
        {
            "name": name,
            "min": float(matrix[:, i].min()),
            "max": float(matrix[:, i].max()),
            "mean": float(matrix[:, i].mean()),
            "std": float(matrix[:, i].std()),
        }
        for i, name in enumerate(columns)
    ]
