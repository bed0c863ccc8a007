"""Parquet uploads: the columns a CSV file has (a time index, a series id column or a wide
layout, numeric value columns), typed, read by pyarrow.

The time column may hold timestamps, dates, text or numbers: its distinct values are read as a
CSV file's time cells are (time_cells.parse_times), so both formats take the same times. Rows
are counted from 1, so a message's "line N" is the Nth row. Nothing grows a Python object per
row: a panel of millions of rows reads at the speed of its series.
"""

from __future__ import annotations

import io
from typing import Any, BinaryIO, NamedTuple

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
    series_id_column,
    too_many_file_rows,
    wide_series_names,
)
from app.datasets.parsed import ParsedSeries
from app.datasets.time_cells import TimeKind, find_time_column, parse_times
from app.datasets.values import Limits, check_columns

MAGIC = b"PAR1"  # a Parquet file starts and ends with it
PANDAS_INDEX = "__index_level_0__"  # the column pandas' to_parquet writes an unnamed index to


def is_parquet(source: bytes | BinaryIO) -> bool:
    """Whether `source` (bytes, or a seekable file, left at its start) looks like a Parquet
    file: its magic bytes at both ends."""
    if isinstance(source, bytes):
        return len(source) >= 8 and source[:4] == MAGIC and source[-4:] == MAGIC
    size = source.seek(0, io.SEEK_END)
    head = source.seek(0) == 0 and source.read(4)
    tail = size >= 8 and source.seek(size - 4) and source.read(4)
    source.seek(0)
    return head == MAGIC and tail == MAGIC


class _Layout(NamedTuple):
    """Where a file's time, ids and values are, found from its header alone."""

    time_at: int | None
    id_at: int | None
    columns: list[str]  # the value columns
    wide_names: list[str] | None  # a wide file's series ids (its value columns)


def parse_parquet(
    data: bytes | BinaryIO,
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
        file = pq.ParquetFile(io.BytesIO(data) if isinstance(data, bytes) else data)
        header = list(file.schema_arrow.names)
        rows = int(file.metadata.num_rows)
    except (pa.ArrowException, OSError) as exc:
        message = f"the file is not a readable Parquet file ({exc})"
        raise InvalidInput(message, field="file") from None
    found = _layout(header, time_column, id_column, layout, limits)
    panel = found.wide_names is not None or found.id_at is not None
    if rows == 0:
        raise InvalidInput("the file has no rows", field="file")
    if rows > limits.max_rows:  # before a row is read: a small file may unpack to many
        raise too_many_file_rows(limits, panel=panel)
    lines = range(1, rows + 1)
    ids = None
    if found.id_at is not None:
        name = header[found.id_at]
        ids = SeriesIds(limits)
        cells, which, first = _distinct(_read(file, name), name, "series id")
        ids.add_column(cells, [lines[i] for i in first], which)
        del which
    times = None
    if found.time_at is not None:
        times = _times(_read(file, header[found.time_at]), header[found.time_at], lines)
    values = np.empty((rows, len(found.columns)), dtype=np.float64)
    for j, name in enumerate(found.columns):
        values[:, j] = _values(_read(file, name), name)
    return arrange_file(
        values,
        found.columns,
        lines,
        times,
        None,
        ids=ids,
        wide_names=found.wide_names,
        freq=freq,
        missing=missing,
        limits=limits,
    )


def _layout(
    header: list[str],
    time_column: str | None,
    id_column: str | None,
    layout: Layout,
    limits: Limits,
) -> _Layout:
    time_at = find_time_column(header, time_column)
    if time_at is None and PANDAS_INDEX in header:
        time_at = header.index(PANDAS_INDEX)
    wide = layout == "columns_are_series"
    id_at = series_id_column(header, layout, id_column, time_at)
    columns = [name for i, name in enumerate(header) if i not in (time_at, id_at)]
    names = wide_series_names(columns, limits) if wide else None
    if not columns:
        raise InvalidInput("no value columns besides the time column", field="file")
    if names is None:
        check_columns(columns, "file", limits)  # before a column is read by its name
    return _Layout(time_at, id_at, columns, names)


def _read(file: pq.ParquetFile, name: str) -> pa.ChunkedArray:
    """One column, read on its own: a big panel is never held whole, as Arrow and as arrays."""
    try:
        return file.read(columns=[name]).column(0)
    except (pa.ArrowException, OSError) as exc:
        message = f"the file is not a readable Parquet file ({exc})"
        raise InvalidInput(message, field="file") from None


def _values(column: pa.ChunkedArray, name: str) -> np.ndarray:
    """A value column as float64, NaN where a value is missing (null)."""
    kind = column.type
    if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or _is_decimal(kind)):
        raise InvalidInput(
            f"column {name!r} holds {kind}; value columns hold numbers", field="file"
        )
    values = np.asarray(column.cast(pa.float64()).to_numpy(zero_copy_only=False))
    nulls = column.is_null().to_numpy(zero_copy_only=False)
    bad = np.isnan(values) & ~nulls | (np.abs(values) > MAX_ABS_VALUE)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        problem = "is not finite" if not np.isfinite(values[row]) else f"exceeds {MAX_ABS_VALUE:g}"
        raise InvalidInput(f"line {row + 1}, column {name!r}: value {problem}", field="file")
    return values


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
