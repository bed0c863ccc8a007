"""Parquet uploads: the columns a CSV file has (a time index, a series id column or a wide
layout, numeric value columns), typed, read by pyarrow.

The time column may hold timestamps, dates, text or numbers: its distinct values are read as a
CSV file's time cells are (time_cells.parse_times), so both formats take the same times. Rows
are counted from 1, so a message's "line N" is the Nth row. Nothing grows a Python object per
row: a panel of millions of rows reads at the speed of its series.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from app.core.errors import InvalidInput
from app.core.schemas import MAX_ABS_VALUE
from app.datasets.gaps import MissingPolicy
from app.datasets.panel import (
    Layout,
    SeriesIds,
    arrange_file,
    find_id_column,
    too_many_rows,
    wide_series_names,
)
from app.datasets.parsed import ParsedSeries
from app.datasets.time_cells import TimeKind, find_time_column, parse_times
from app.datasets.values import Limits

MAGIC = b"PAR1"  # a Parquet file starts and ends with it
PANDAS_INDEX = "__index_level_0__"  # the column pandas' to_parquet writes an unnamed index to


def is_parquet(data: bytes) -> bool:
    """Whether `data` looks like a Parquet file (its magic bytes at both ends)."""
    return len(data) >= 8 and data[:4] == MAGIC and data[-4:] == MAGIC


def parse_parquet(
    data: bytes,
    *,
    time_column: str | None,
    limits: Limits,
    freq: str | None = None,
    missing: MissingPolicy = "error",
    id_column: str | None = None,
    layout: Layout = "rows",
) -> ParsedSeries:
    """A Parquet file -> its values, columns, time axis and filled counts, by the rules of
    csv_format.parse_csv (the time column by name, or pandas' index column)."""
    try:
        file = pq.ParquetFile(io.BytesIO(data))
        header = list(file.schema_arrow.names)
        rows = int(file.metadata.num_rows)
    except (pa.ArrowException, OSError) as exc:
        raise InvalidInput(
            f"the file is not a readable Parquet file ({exc})", field="file"
        ) from None
    time_at = find_time_column(header, time_column)
    if time_at is None and PANDAS_INDEX in header:
        time_at = header.index(PANDAS_INDEX)
    wide = layout == "columns_are_series"
    if wide and id_column is not None:
        message = "a file whose columns are series has no id column"
        raise InvalidInput(message, field="id_column")
    id_at = None if wide else find_id_column(header, id_column, time_at)
    value_at = [i for i in range(len(header)) if i not in (time_at, id_at)]
    columns = [header[i] for i in value_at]
    names = wide_series_names(columns, limits) if wide else None
    if not columns:
        raise InvalidInput("no value columns besides the time column", field="file")
    if rows == 0:
        raise InvalidInput("the file has no rows", field="file")
    if rows > limits.max_rows:  # before a row is read: a small file may unpack to many
        if wide or id_at is not None:
            raise too_many_rows(limits, "file")
        raise InvalidInput(f"more than {limits.max_rows} rows", field="file")
    try:
        table = file.read()
    except (pa.ArrowException, OSError) as exc:
        raise InvalidInput(
            f"the file is not a readable Parquet file ({exc})", field="file"
        ) from None
    lines = range(1, rows + 1)
    ids = None
    if id_at is not None:
        ids = SeriesIds(limits)
        cells, which, first = _distinct(table.column(id_at), header[id_at], "series id")
        ids.add_column(cells, [lines[i] for i in first], which)
    times = None if time_at is None else _times(table.column(time_at), header[time_at], lines)
    return arrange_file(
        _values(table, value_at),
        columns,
        lines,
        times,
        None,
        ids=ids,
        wide_names=names,
        freq=freq,
        missing=missing,
        limits=limits,
    )


def _values(table: pa.Table, value_at: list[int]) -> np.ndarray:
    """The value columns [rows, columns] float64, NaN where a value is missing (null)."""
    matrix = np.empty((table.num_rows, len(value_at)), dtype=np.float64)
    for j, at in enumerate(value_at):
        column, name = table.column(at), table.column_names[at]
        kind = column.type
        if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or _is_decimal(kind)):
            raise InvalidInput(
                f"column {name!r} holds {kind}; value columns hold numbers", field="file"
            )
        matrix[:, j] = column.cast(pa.float64()).to_numpy(zero_copy_only=False)
        nulls = column.is_null().to_numpy(zero_copy_only=False)
        bad = np.isnan(matrix[:, j]) & ~nulls | (np.abs(matrix[:, j]) > MAX_ABS_VALUE)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            value = matrix[row, j]
            problem = "is not finite" if not np.isfinite(value) else f"exceeds {MAX_ABS_VALUE:g}"
            raise InvalidInput(f"line {row + 1}, column {name!r}: value {problem}", field="file")
    return matrix


def _is_decimal(kind: Any) -> bool:
    return bool(pa.types.is_decimal(kind))


def _distinct(
    column: pa.ChunkedArray, name: str, what: str
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """A text, number, date or timestamp column's distinct values as text, in order of first
    appearance; the position of each row's among them; the first row of each."""
    if column.null_count:
        row = int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0])
        raise InvalidInput(f"line {row + 1}: the {what} is empty (column {name!r})", field="file")
    try:
        encoded = column.combine_chunks().dictionary_encode()
        cells = pc.cast(encoded.dictionary, pa.string()).to_pylist()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise InvalidInput(
            f"column {name!r} holds {column.type}, which is not read as a {what}", field="file"
        ) from None
    which = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    _, first = np.unique(which, return_index=True)
    return cells, which, first


def _times(column: pa.ChunkedArray, name: str, lines: range) -> tuple[TimeKind, np.ndarray]:
    """The time column read as a CSV file's time cells are, each distinct value once."""
    cells, which, first = _distinct(column, name, "time")
    kind, times = parse_times(cells, [lines[i] for i in first])
    return kind, times[which]
