"""CSV uploads: a header row, numeric columns and an optional time index (see time_index)."""

from __future__ import annotations

import csv
import io
import math
import re
from array import array
from collections.abc import Iterator

import numpy as np

from app.core.errors import InvalidInput
from app.core.schemas import MAX_ABS_VALUE
from app.datasets.service import ParsedSeries
from app.datasets.time_index import (
    MissingPolicy,
    TimeKind,
    ascii_number,
    fill_missing,
    find_time_column,
    parse_times,
    regularize,
)
from app.datasets.values import Limits, check_columns

_NOT_FINITE = re.compile(r"[+-]?(?:nan|inf|infinity)", re.IGNORECASE)


def _cell(cell: str, line: int, column: str) -> float:
    """A value cell; NaN when empty (the `missing` policy fills or refuses it later)."""
    value = ascii_number(cell)
    if value is None:
        shown = cell.strip()[:40]
        if not shown:
            return math.nan
        if _NOT_FINITE.fullmatch(shown):
            problem = "value is not finite"
        else:
            problem = f"{shown!r} is not a number"
        raise InvalidInput(f"line {line}, column {column!r}: {problem}", field="file")
    if not math.isfinite(value) or abs(value) > MAX_ABS_VALUE:  # '1e400' reads as infinity
        problem = "is not finite" if not math.isfinite(value) else f"exceeds {MAX_ABS_VALUE:g}"
        raise InvalidInput(f"line {line}, column {column!r}: value {problem}", field="file")
    return value


def _data_lines(reader: Iterator[list[str]]) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of every record after the header, blank lines skipped."""
    for cells in reader:
        if len(cells) > 1 or (cells and cells[0].strip()):  # "," is a row of empty cells
            yield reader.line_num, cells  # type: ignore[attr-defined]


def _header(reader: Iterator[list[str]]) -> list[str]:
    try:
        return [name.strip() for name in next(reader)]
    except StopIteration:
        raise InvalidInput("the file is empty; expected a header row", field="file") from None
    except csv.Error as exc:
        raise InvalidInput(f"line 1: {exc}", field="file") from None


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
) -> ParsedSeries:
    """CSV with a header row -> its values, columns, time axis and filled counts.

    With a time column (found by name, or pandas' unnamed index found by its cells) the rows are
    put on a regular axis by time (see time_index.regularize); without, they stay in file order.
    Empty cells and missing timestamps are filled by `missing`, or refused with "error".
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"the file is not UTF-8 text (byte {exc.start})", field="file") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = _header(reader)
    candidate = _time_column_candidate(header, time_column)
    values, time_cells, lines = _read_rows(reader, header, candidate, limits)
    times: tuple[TimeKind, np.ndarray] | None = None
    if candidate is not None and header[candidate]:
        times = parse_times(time_cells, lines)
    elif candidate is not None:  # unnamed: pandas' index only if its cells are times
        try:
            times = parse_times(time_cells, lines)
        except InvalidInput:
            check_columns(header, "file", limits)  # names the empty header cell
    columns = [name for i, name in enumerate(header) if i != candidate]
    if not columns:
        raise InvalidInput("no value columns besides the time column", field="file")
    check_columns(columns, "file", limits)
    if not lines:
        raise InvalidInput("the file has a header but no rows", field="file")
    matrix = np.frombuffer(values, dtype=np.float64).reshape(len(lines), len(columns)).copy()
    return _arrange(matrix, columns, lines, times, freq=freq, missing=missing, limits=limits)


def _read_rows(
    reader: Iterator[list[str]], header: list[str], time_at: int | None, limits: Limits
) -> tuple[array[float], list[str], list[int]]:
    """Every data line: its value cells as floats (NaN when empty), its time cell as text, and
    its line number."""
    values = array("d")  # 8 bytes a cell; a list of Python floats would take about 32
    time_cells: list[str] = []
    lines: list[int] = []
    try:
        for line, cells in _data_lines(reader):
            if len(cells) != len(header):
                raise InvalidInput(
                    f"line {line} has {len(cells)} cells; the header has {len(header)}",
                    field="file",
                )
            if len(lines) == limits.max_rows:
                raise InvalidInput(f"more than {limits.max_rows} rows", field="file")
            if time_at is not None:
                time_cells.append(cells[time_at])
            values.extend(_cell(c, line, header[i]) for i, c in enumerate(cells) if i != time_at)
            lines.append(line)
    except csv.Error as exc:
        raise InvalidInput(f"line {reader.line_num}: {exc}", field="file") from None  # type: ignore[attr-defined]
    return values, time_cells, lines


def _arrange(
    matrix: np.ndarray,
    columns: list[str],
    lines: list[int],
    times: tuple[TimeKind, np.ndarray] | None,
    *,
    freq: str | None,
    missing: MissingPolicy,
    limits: Limits,
) -> ParsedSeries:
    """Rows on their time axis (or in file order), missing values filled by the policy."""
    if times is None:
        if freq is not None:
            raise InvalidInput("`freq` needs a time column; the file has none", field="freq")
        filled_matrix, filled = fill_missing(matrix, columns, lines, missing)
        return ParsedSeries(filled_matrix, columns, None, filled)
    kind, stamps = times
    regular, axis, filled = regularize(
        kind, stamps, matrix, columns, lines, freq=freq, missing=missing
    )
    if len(regular) > limits.max_rows:
        raise InvalidInput(
            f"{len(regular)} rows once the missing times are inserted; at most {limits.max_rows} "
            "are allowed",
            field="file",
        )
    return ParsedSeries(regular, columns, axis, filled)
