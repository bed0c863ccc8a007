"""CSV uploads: a header row, numeric columns and an optional time column that orders the rows."""

from __future__ import annotations

import csv
import io
import math
import re
from array import array
from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np

from app.core.errors import InvalidInput
from app.core.schemas import MAX_ABS_VALUE
from app.datasets.values import Limits, check_columns

TIME_COLUMN_NAMES = ("time", "timestamp", "date", "datetime", "ds")


# A number in ASCII: float() alone would also read '١٢٣' and '１２３' (other scripts' digits) and
# '1_000' (a Python literal), which no CSV writer means as numbers.
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NOT_FINITE = re.compile(r"[+-]?(?:nan|inf|infinity)", re.IGNORECASE)


def _number(cell: str) -> float | None:
    """The cell as a float if it is an ASCII decimal number (spaces around allowed), else None."""
    text = cell.strip(" \t")
    return float(text) if _NUMBER.fullmatch(text) else None


class _TimeColumn:
    """The time cells of a file, read as seconds: all numbers, or all ISO 8601 dates."""

    def __init__(self) -> None:
        self.values: list[float] = []
        self.lines: list[int] = []
        self.kind: str | None = None  # "numbers" or "dates", set by the first cell

    def add(self, cell: str, line: int) -> None:
        value, kind = _number(cell), "numbers"
        if _NOT_FINITE.fullmatch(cell.strip()) or (value is not None and not math.isfinite(value)):
            raise InvalidInput(f"line {line}: time value is not finite", field="file")
        if value is None:
            value, kind = self._date(cell, line), "dates"
        if self.kind is None:
            self.kind = kind
        elif kind != self.kind:
            raise InvalidInput(
                f"line {line}: time value {cell[:40]!r} is not like line {self.lines[0]}'s: a "
                f"time column holds numbers or ISO 8601 dates, not both (this one holds "
                f"{self.kind})",
                field="file",
            )
        self.values.append(value)
        self.lines.append(line)

    @staticmethod
    def _date(cell: str, line: int) -> float:
        try:
            moment = datetime.fromisoformat(cell.strip())
        except ValueError:
            raise InvalidInput(
                f"line {line}: time value {cell[:40]!r} is neither a number nor an ISO 8601 date",
                field="file",
            ) from None
        # A date without a zone is read as UTC, never as the server's local time.
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _cell(cell: str, line: int, column: str) -> float:
    value = _number(cell)
    if value is None:
        shown = cell.strip()[:40]
        if not shown:
            problem = "is empty"
        elif _NOT_FINITE.fullmatch(shown):
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


def _header(reader: Iterator[list[str]], limits: Limits) -> list[str]:
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        raise InvalidInput("the file is empty; expected a header row", field="file") from None
    except csv.Error as exc:
        raise InvalidInput(f"line 1: {exc}", field="file") from None
    # Only names here: the count is checked on the value columns, once the time column is known.
    return check_columns(header, "file", Limits(limits.max_rows, max_columns=len(header)))


def _pick_time_column(header: list[str], time_column: str | None) -> int | None:
    if time_column is not None:
        if time_column not in header:
            raise InvalidInput(
                f"no column named {time_column!r} in the header", field="time_column"
            )
        return header.index(time_column)
    found = [i for i, name in enumerate(header) if name.lower() in TIME_COLUMN_NAMES]
    return found[0] if found else None


def _order_by_time(matrix: np.ndarray, times: list[float], lines: list[int]) -> np.ndarray:
    order = np.argsort(np.asarray(times), kind="stable")
    repeats = np.flatnonzero(np.diff(np.asarray(times)[order]) == 0)
    if repeats.size:
        first, second = sorted((lines[order[repeats[0]]], lines[order[repeats[0] + 1]]))
        raise InvalidInput(
            f"time repeated on line {first} and line {second}; times must be unique",
            field="time_column",
        )
    return matrix[order]


def parse_csv(
    data: bytes, *, time_column: str | None, limits: Limits
) -> tuple[np.ndarray, list[str]]:
    """CSV with a header row -> ([rows, columns] float64, column names), ordered by time if any."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"the file is not UTF-8 text (byte {exc.start})", field="file") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = _header(reader, limits)
    time_index = _pick_time_column(header, time_column)
    value_columns = [name for i, name in enumerate(header) if i != time_index]
    if not value_columns:
        raise InvalidInput("no value columns besides the time column", field="file")
    check_columns(value_columns, "file", limits)
    values = array("d")  # 8 bytes a cell; a list of Python floats would take about 32
    count = 0
    times = _TimeColumn()
    try:
        for line, cells in _data_lines(reader):
            if len(cells) != len(header):
                raise InvalidInput(
                    f"line {line} has {len(cells)} cells; the header has {len(header)}",
                    field="file",
                )
            if count == limits.max_rows:
                raise InvalidInput(f"more than {limits.max_rows} rows", field="file")
            if time_index is not None:
                times.add(cells[time_index], line)
            values.extend(_cell(c, line, header[i]) for i, c in enumerate(cells) if i != time_index)
            count += 1
    except csv.Error as exc:
        raise InvalidInput(f"line {reader.line_num}: {exc}", field="file") from None
    if not count:
        raise InvalidInput("the file has a header but no rows", field="file")
    matrix = np.frombuffer(values, dtype=np.float64).reshape(count, len(value_columns)).copy()
    if time_index is not None:
        matrix = _order_by_time(matrix, times.values, times.lines)
    return matrix, value_columns
