"""CSV uploads: a header row, numeric columns and an optional time index (see time_index)."""

from __future__ import annotations

import csv
import io
import math
import re
from array import array
from collections.abc import Iterator
from datetime import datetime
from typing import NamedTuple

import numpy as np

from app.core.errors import InvalidInput
from app.core.schemas import MAX_ABS_VALUE
from app.datasets.csv_columnar import FIRST_LINE, read_columns
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
from app.datasets.time_cells import (
    TIME_COLUMN_NAMES,
    TimeKind,
    ascii_number,
    find_time_column,
    parse_times,
)
from app.datasets.values import Limits, check_columns

_NOT_FINITE = re.compile(r"[+-]?(?:nan|inf|infinity)", re.IGNORECASE)
_PERIOD = re.compile(r"[0-9]{4}(?:-[0-9]{2}|M[0-9]{2}|-?Q[1-4])", re.IGNORECASE)


def _cell(cell: str, line: int, column: str) -> float:
    """A value cell; NaN when empty (the `missing` policy fills or refuses it later)."""
    value = ascii_number(cell)
    if value is None:
        shown = cell.strip()[:40]
        if not shown:
            return math.nan
        if _NOT_FINITE.fullmatch(shown):
            problem = "value is not finite"
        elif _looks_like_time(shown):
            problem = (
                f"{shown!r} is not a number, but a time: name its column with the form field "
                f"time_column (read without it only from a column named "
                f"{', '.join(TIME_COLUMN_NAMES)}, or an unnamed first column)"
            )
        else:
            problem = f"{shown!r} is not a number"
        raise InvalidInput(f"line {line}, column {column!r}: {problem}", field="file")
    if not math.isfinite(value) or abs(value) > MAX_ABS_VALUE:  # '1e400' reads as infinity
        problem = "is not finite" if not math.isfinite(value) else f"exceeds {MAX_ABS_VALUE:g}"
        raise InvalidInput(f"line {line}, column {column!r}: value {problem}", field="file")
    return value


def _looks_like_time(text: str) -> bool:
    """Whether a cell reads as an ISO date or datetime, or a month or quarter such as 1959-01,
    1959M01 or 1959Q1: a time under a column name the time index is not looked for in."""
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return bool(_PERIOD.fullmatch(text))
    return True


def _data_lines(reader: Iterator[list[str]]) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of every record after the header, blank lines skipped."""
    for cells in reader:
        if len(cells) > 1 or (cells and cells[0].strip()):  # "," is a row of empty cells
            yield reader.line_num, cells  # type: ignore[attr-defined]


def _header(reader: Iterator[list[str]]) -> list[str]:
    """The header row's names, stripped; InvalidInput when the file has none."""
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        raise InvalidInput("the file is empty; expected a header row", field="file") from None
    except csv.Error as exc:
        raise InvalidInput(f"line 1: {exc}", field="file") from None
    if not any(header):  # '', ' ', ',', a tab, a form feed, U+2028 ...: nothing but blanks
        raise InvalidInput(
            "line 1 is blank; expected a header row naming the columns, such as date,value",
            field="file",
        )
    return header


def _time_column_candidate(header: list[str], time_column: str | None) -> int | None:
    """The time column by name, or column 0 when it is unnamed (pandas' index, confirmed by its
    cells once they are read)."""
    named = find_time_column(header, time_column)
    if named is None and header and not header[0]:
        return 0
    return named


def parse_csv(
    data: bytes,
    *,
    time_column: str | None,
    limits: Limits,
    freq: str | None = None,
    missing: MissingPolicy = "error",
    id_column: str | None = None,
    layout: Layout = "rows",
) -> ParsedSeries:
    """CSV with a header row -> its values, columns, time axis and filled counts.

    With a time column (found by name, or pandas' unnamed index found by its cells) the rows are
    put on a regular axis by time (see time_index.regularize); without, they stay in file order.
    Empty cells and missing timestamps are filled by `missing`, or refused with "error".
    Many series (see panel): a long file has an id column (`id_column`, or one named like
    panel.ID_COLUMN_NAMES), each id's rows one series; with layout "columns_are_series" every
    value column is a series. Each series gets its own axis and its own fill.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"the file is not UTF-8 text (byte {exc.start})", field="file") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = _header(reader)
    candidate = _time_column_candidate(header, time_column)
    wide = layout == "columns_are_series"
    id_at = series_id_column(header, layout, id_column, candidate)
    # A wide file's series, checked before the rows are read: the header may hold too many.
    names = (
        wide_series_names([n for i, n in enumerate(header) if i != candidate], limits)
        if wide
        else []
    )
    ids = None if id_at is None else SeriesIds(limits)
    columns = [name for i, name in enumerate(header) if i not in (candidate, id_at)]
    matrix, time_cells, lines = _read(
        data, reader, header, _Skipped(candidate, id_at, ids, wide), limits
    )
    if not columns:
        raise InvalidInput("no value columns besides the time column", field="file")
    if not lines:
        raise InvalidInput(
            "the file has a header but no rows; add a row of values under it", field="file"
        )
    times = _times(header, candidate, time_cells, lines, limits)
    return arrange_file(
        matrix,
        columns,
        lines,
        times,
        time_cells,
        ids=ids,
        wide_names=names if wide else None,
        freq=freq,
        missing=missing,
        limits=limits,
    )


def _times(
    header: list[str], candidate: int | None, cells: list[str], lines: list[int], limits: Limits
) -> tuple[TimeKind, np.ndarray] | None:
    """The time column's times; pandas' unnamed index only if its cells are times."""
    if candidate is not None and header[candidate]:
        return parse_times(cells, lines)
    if candidate is not None:
        try:
            return parse_times(cells, lines)
        except InvalidInput:
            check_columns(header, "file", limits)  # names the empty header cell
    return None


class _Skipped(NamedTuple):
    """The cells of a row that are not values: its time and its series id."""

    time_at: int | None
    id_at: int | None
    ids: SeriesIds | None  # records each row's id as it is read
    panel: bool  # the row limit counts every series' rows


def _read(
    data: bytes, reader: Iterator[list[str]], header: list[str], skipped: _Skipped, limits: Limits
) -> tuple[np.ndarray, list[str], list[int]]:
    """Every data row: its values [rows, value columns] (NaN where empty), its time cell and its
    line; the series ids go to skipped.ids. Read by columns where the file is well-formed,
    else row by row."""
    read = read_columns(data, len(header), skipped.time_at, skipped.id_at, limits.max_rows)
    if read is None:
        values, time_cells, lines = _read_rows(reader, header, skipped, limits)
        width = len(header) - len({skipped.time_at, skipped.id_at} - {None})
        return np.frombuffer(values).reshape(len(lines), width).copy(), time_cells, lines
    lines = list(range(FIRST_LINE, FIRST_LINE + len(read.values)))
    if skipped.ids is not None and read.id_cells is not None:
        which = read.id_cells.indices.to_numpy()
        _, first = np.unique(which, return_index=True)
        first_lines = (first + FIRST_LINE).tolist()
        skipped.ids.add_column(read.id_cells.dictionary.to_pylist(), first_lines, which)
    return read.values, read.time_cells or [], lines


def _read_rows(
    reader: Iterator[list[str]], header: list[str], skipped: _Skipped, limits: Limits
) -> tuple[array[float], list[str], list[int]]:
    """Every data line: its value cells as floats (NaN when empty), its time cell as text, and
    its line number; the series ids go to skipped.ids."""
    values = array("d")  # 8 bytes a cell; a list of Python floats would take about 32
    time_cells: list[str] = []
    lines: list[int] = []
    time_at, id_at, ids, panel = skipped
    skip = (time_at, id_at)
    try:
        for line, cells in _data_lines(reader):
            if len(cells) != len(header):
                raise InvalidInput(
                    f"line {line} has {len(cells)} cells; the header has {len(header)}",
                    field="file",
                )
            if len(lines) == limits.max_rows:
                raise too_many_file_rows(limits, panel=panel or ids is not None)
            if time_at is not None:
                time_cells.append(cells[time_at])
            if ids is not None and id_at is not None:
                ids.add(cells[id_at], line)
            values.extend(_cell(c, line, header[i]) for i, c in enumerate(cells) if i not in skip)
            lines.append(line)
    except csv.Error as exc:
        raise InvalidInput(f"line {reader.line_num}: {exc}", field="file") from None  # type: ignore[attr-defined]
    return values, time_cells, lines
