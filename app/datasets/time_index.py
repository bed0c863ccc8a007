"""Time indexes of uploads: find the time column, read its cells, put rows on a regular axis.

Pure: numpy, pandas and the domain error only. pandas reads the dates (ISO 8601, months such as
1959M01, quarters such as 1959Q1) and names the frequencies (offset aliases such as 'MS' or
'W-SAT'), so a stored axis can be continued past its end with pandas' own calendar arithmetic.

Years: a column whose every cell is a 4-digit whole number ('1749', or '1749.0' from a float
column) between FIRST_YEAR and LAST_YEAR is read as years (dates on 1 January, a 'YS-JAN' axis);
any other number makes the column plain numbers, where those cells are numbers too.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, NamedTuple, get_args

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from app.core.errors import InvalidInput

TIME_COLUMN_NAMES = (
    "time", "timestamp", "date", "datetime", "ds", "year", "month", "week", "quarter", "period",
)  # fmt: skip
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


# What parse_times found. "zoned dates" are dates some of whose cells carried a UTC offset: the
# values are UTC all the same, and the axis writes its times with "+00:00".
TimeKind = Literal["dates", "zoned dates", "numbers"]

# The years datetime64[ns] holds whole (it spans 1677-09-21 to 2262-04-11).
FIRST_YEAR, LAST_YEAR = 1678, 2262
# An axis may hold at most this many points per row given (plus 100): gaps are filled, but a
# series that is mostly gaps, or a freq far finer than the times, is refused, not blown up.
MAX_AXIS_GROWTH = 10

# An ASCII decimal number: float() alone would also read other scripts' digits and '1_000'.
_YEAR = re.compile(r"[0-9]{4}(?:\.0*)?")
_MONTH = re.compile(r"[0-9]{4}M[0-9]{1,2}", re.IGNORECASE)  # 1959M01 (IMF, Eurostat, statsmodels)
_QUARTER = re.compile(r"[0-9]{4}-?Q[1-4]", re.IGNORECASE)  # 1959Q1, 1959-Q1
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
_DAY_US = 86_400_000_000
_EXPECTED_TIME = (
    "a number, an ISO 8601 date or datetime, a month (1959-01, 1959M01) or a quarter (1959Q1), "
    f"with dates between {FIRST_YEAR} and {LAST_YEAR}"
)
_ALIASES = "'h', '30min', 'D', 'B', 'W-SUN', 'MS', 'ME', 'QS-JAN', 'QE-DEC', 'YS-JAN', 'YE-DEC'"
_UNITS = {
    "D": "day", "h": "hour", "min": "minute", "s": "second",
    "ms": "millisecond", "us": "microsecond", "ns": "nanosecond",
}  # fmt: skip
_CALENDAR = {
    "B": "business days", "W": "weekly", "MS": "monthly, first day", "ME": "monthly, last day",
    "QS": "quarterly, first day", "QE": "quarterly, last day",
    "YS": "yearly, first day", "YE": "yearly, last day",
}  # fmt: skip


@dataclass(frozen=True)
class TimeAxis:
    """A regular time axis: `length` points from `start`, one `freq` apart.

    Dates: `start` is ISO 8601 (with "+00:00" when the upload was zoned), `freq` a pandas offset
    alias. Numbers: `start` and `freq` (the step) are repr() of floats. Construction checks all
    of it (ValueError), so an axis read back from storage can always be extended.
    """

    kind: Literal["dates", "numbers"]
    start: str
    freq: str
    length: int

    def __post_init__(self) -> None:
        if self.kind not in ("dates", "numbers"):
            raise ValueError(f"kind {self.kind!r} is neither 'dates' nor 'numbers'")
        if isinstance(self.length, bool) or not isinstance(self.length, int) or self.length < 1:
            raise ValueError(f"length {self.length!r} is not a positive integer")
        if self.kind == "numbers":
            _decimal(self.start, "start")
            if _decimal(self.freq, "freq") <= 0:
                raise ValueError(f"freq {self.freq!r} is not a positive step")
            return
        first, offset = _timestamp(self.start), _offset(self.freq)
        if not offset.is_on_offset(first):
            raise ValueError(f"start {self.start!r} does not fall on freq {self.freq!r}")

    def labels(self) -> list[str]:
        """Every point: ISO dates (date only on a daily-or-coarser axis at midnight), or numbers."""
        return self._points(0, self.length)

    def point(self, index: int) -> str:
        """One point, written like labels() (without writing all of them)."""
        return self._points(index, 1)[0]

    def continued(self, steps: int) -> list[str]:
        """The `steps` points after the last one, written like labels()."""
        if steps < 0:
            raise ValueError(f"steps {steps} is negative")
        return self._points(self.length, steps)

    def to_json(self) -> dict[str, object]:
        """A JSON-safe dict that from_json reads back."""
        return {"kind": self.kind, "start": self.start, "freq": self.freq, "length": self.length}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> TimeAxis:
        """The axis to_json wrote; ValueError for anything else."""
        if not isinstance(data, dict):
            raise ValueError("a time axis is a JSON object")
        kind, start, freq, length = (data.get(k) for k in ("kind", "start", "freq", "length"))
        if not (isinstance(start, str) and isinstance(freq, str) and isinstance(length, int)):
            raise ValueError("a time axis has text start and freq and an integer length")
        if kind == "dates" or kind == "numbers":
            return cls(kind, start, freq, length)
        raise ValueError(f"kind {kind!r} is neither 'dates' nor 'numbers'")

    def _points(self, skip: int, count: int) -> list[str]:
        """Points skip .. skip + count - 1, as text."""
        if self.kind == "numbers":
            # Decimal steps, so 0.1 steps print 0.3 rather than 0.30000000000000004.
            start, step = Decimal(self.start), Decimal(self.freq)
            return [repr(float(start + (skip + k) * step)) for k in range(count)]
        first, offset = _timestamp(self.start), _offset(self.freq)
        points = pd.date_range(first + skip * offset, periods=count, freq=offset, unit="us")
        # One format for the whole axis, so labels() and continued() always agree.
        if first == first.normalize() and first + offset == (first + offset).normalize():
            return [str(day) for day in points.strftime("%Y-%m-%d")]
        return [str(point.isoformat()) for point in points]


def find_time_column(header: list[str], time_column: str | None) -> int | None:
    """The time column's position by name: `time_column` if given (InvalidInput
    field="time_column" if absent), else the first header name in TIME_COLUMN_NAMES
    (case-insensitive, stripped), else None. pandas' unnamed index is recognised by its cells
    (parse_times), which the CSV reader has only once it has read the rows."""
    if time_column is not None:
        if time_column not in header:
            raise InvalidInput(
                f"no column named {time_column!r} in the header", field="time_column"
            )
        return header.index(time_column)
    for index, name in enumerate(header):
        if name.strip().lower() in TIME_COLUMN_NAMES:
            return index
    return None


def parse_times(cells: list[str], lines: list[int]) -> tuple[TimeKind, np.ndarray]:
    """Time cells -> ("dates" or "zoned dates", datetime64[ns] in UTC) or ("numbers", float64).

    Accepted: ISO 8601 dates and datetimes with or without a UTC offset (naive ones are read as
    UTC; "zoned dates" when any cell had an offset); years (see the module docstring); months
    "1959-01", "1959M01"; quarters "1959Q1", "1959-Q1" (each read as its first day); plain
    numbers. A cell that fits none, or a column mixing numbers and dates, is InvalidInput
    (field="file") naming its line (lines[i] is the file line of cells[i]) and its value.
    """
    if len(cells) != len(lines):
        raise ValueError("cells and lines differ in length")
    texts = [cell.strip() for cell in cells]
    numbers = np.array([_number(text) for text in texts], dtype=np.float64)  # NaN: not a number
    dates, zoned = _parse_dates(texts, ~np.isnan(numbers))  # NaT: not a date
    _refuse_unreadable(texts, lines, numbers, dates)
    years = np.array([_is_year(text, value) for text, value in zip(texts, numbers, strict=True)])
    plain = ~np.isnan(numbers) & ~years
    dated = ~np.isnat(dates)
    if plain.any() and dated.any():
        raise _mixed(texts, lines, plain, dated)
    if plain.any() or not len(texts):
        return "numbers", numbers
    dates[years] = (numbers[years].astype(np.int64) - 1970).astype("datetime64[Y]")
    return ("zoned dates" if zoned else "dates"), dates


def regularize(
    kind: str,
    times: np.ndarray,
    matrix: np.ndarray,
    columns: list[str],
    lines: list[int],
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
    if kind not in ("dates", "zoned dates", "numbers"):
        raise ValueError(f"unknown time kind {kind!r}")
    if missing not in ("error", "interpolate", "ffill", "zero"):
        raise ValueError(f"unknown missing policy {missing!r}")
    if missing == "error":
        _refuse_empty_cells(matrix, columns, lines)
    order = np.argsort(times, kind="stable")
    sorted_lines = [lines[i] for i in order]
    if kind == "numbers":
        grid = _number_grid(times[order].astype(np.float64), sorted_lines, freq)
    else:
        grid = _date_grid(times[order], sorted_lines, freq, zoned=kind == "zoned dates")
    if missing == "error":
        _refuse_gaps(grid, sorted_lines)
    values = np.full((grid.axis.length, len(columns)), np.nan)
    values[grid.positions] = matrix[order]
    filled_values, filled = _fill(values, grid.x, missing, columns)
    return filled_values, grid.axis, filled


def fill_missing(
    matrix: np.ndarray, columns: list[str], lines: list[int], missing: MissingPolicy
) -> tuple[np.ndarray, dict[str, int]]:
    """Rows without a time index: NaN (empty cells) filled by `missing` along the rows, as
    regularize does in time; with "error", the first empty cell is InvalidInput."""
    if missing == "error":
        _refuse_empty_cells(matrix, columns, lines)
    return _fill(matrix.copy(), np.arange(len(matrix), dtype=np.float64), missing, columns)


def axis_from(start: str, freq: str, length: int) -> TimeAxis:
    """The axis of `length` rows from `start` (ISO 8601, or a number for a numeric axis), one
    `freq` apart (a pandas alias, or the numeric step); InvalidInput naming what is wrong."""
    if ascii_number(start) is not None:
        try:
            return TimeAxis("numbers", repr(float(start)), repr(float(freq)), length)
        except ValueError:
            problem = f"{freq!r} is not a positive step for a numeric start"
            raise InvalidInput(problem, field="freq") from None
    try:
        first = _timestamp(start)
    except ValueError:
        raise InvalidInput(f"{start!r} is neither ISO 8601 nor a number", field="start") from None
    try:
        offset = _offset(freq)
    except ValueError:
        problem = f"{freq!r} is not a frequency ({_ALIASES}, ...)"
        raise InvalidInput(problem, field="freq") from None
    if not offset.is_on_offset(first):
        raise InvalidInput(f"start {start!r} does not fall on freq {freq!r}", field="start")
    return TimeAxis("dates", first.isoformat(), offset.freqstr, length)


def season_length(freq: str | None) -> int:
    """The usual seasonal period of a pandas frequency, in steps: a year of months (12),
    quarters (4), weeks (52) or half-months (24); a week of days (7) or business days (5); a day
    of sub-daily steps (h: 24, 30min: 48, 15min: 96, up to 288 steps of 5min); an hour of finer
    ones (min: 60), a minute of seconds. Multiples divide it (2h: 12, 3MS: 4) when they fit
    evenly. 1 (no season) for yearly, numeric steps, None and anything else."""
    if freq is None or ascii_number(freq) is not None:
        return 1
    try:
        offset = _offset(freq)
    except ValueError:
        return 1
    n = int(offset.n)
    yearly = {
        pd.offsets.MonthBegin: 12, pd.offsets.MonthEnd: 12, pd.offsets.BusinessMonthBegin: 12,
        pd.offsets.BusinessMonthEnd: 12, pd.offsets.SemiMonthBegin: 24,
        pd.offsets.SemiMonthEnd: 24, pd.offsets.QuarterBegin: 4, pd.offsets.QuarterEnd: 4,
        pd.offsets.BQuarterBegin: 4, pd.offsets.BQuarterEnd: 4, pd.offsets.Week: 52,
        pd.offsets.BusinessDay: 5,
    }  # fmt: skip
    for kind, period in yearly.items():
        if isinstance(offset, kind):
            return period // n if period % n == 0 else 1
    if isinstance(offset, pd.offsets.Day):  # not a fixed Tick in pandas 3
        return 7 if n == 1 else 1
    if not isinstance(offset, pd.offsets.Tick):
        return 1  # years and calendar offsets without a usual season
    step_us = int(offset.nanos) // 1000
    if step_us == _DAY_US:
        return 7
    for cycle_us, most in ((_DAY_US, 288), (_DAY_US // 24, 360), (60_000_000, 60)):
        if step_us < cycle_us and cycle_us % step_us == 0 and cycle_us // step_us <= most:
            return int(cycle_us // step_us)
    return 1


# A number in ASCII: float() alone would also read '١٢٣' and '１２３' (other scripts' digits) and
# '1_000' (a Python literal), which no CSV writer means as numbers.
_ASCII_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def ascii_number(text: str) -> float | None:
    """`text` as a float if it is an ASCII decimal number (spaces and tabs around it allowed)."""
    stripped = text.strip(" \t")
    return float(stripped) if _ASCII_NUMBER.fullmatch(stripped) else None


# --- reading cells -------------------------------------------------------------------------


def _number(text: str) -> float:
    """The text as a float if it is an ASCII decimal number, else NaN."""
    value = ascii_number(text)
    return float("nan") if value is None else value


def _is_year(text: str, value: float) -> bool:
    """'1749' or '1749.0' within the years datetime64[ns] holds."""
    return bool(_YEAR.fullmatch(text)) and FIRST_YEAR <= value <= LAST_YEAR


def _parse_dates(texts: list[str], is_number: np.ndarray) -> tuple[np.ndarray, bool]:
    """datetime64[ns] UTC of every non-number text (NaT where it is not a date we read), and
    whether any carried a UTC offset. Each form goes to the pandas reader made for it."""
    dates = np.full(len(texts), np.datetime64("NaT", "ns"))
    rest = [i for i in range(len(texts)) if not is_number[i]]
    months = [i for i in rest if _MONTH.fullmatch(texts[i])]
    quarters = [i for i in rest if _QUARTER.fullmatch(texts[i])]
    iso = sorted(set(rest) - set(months) - set(quarters))
    zoned = False
    if months:
        read = [texts[i].upper() for i in months]
        _put(dates, months, pd.to_datetime(read, format="%YM%m", errors="coerce"))
    if quarters:
        read = [f"{texts[i][:4]}-{3 * int(texts[i][-1]) - 2:02d}" for i in quarters]  # 1st month
        _put(dates, quarters, pd.to_datetime(read, format="%Y-%m", errors="coerce"))
    if iso:
        parsed, zoned = _parse_iso([texts[i] for i in iso])
        _put(dates, iso, parsed)
    return dates, zoned


def _parse_iso(texts: list[str]) -> tuple[Any, bool]:
    """ISO 8601 texts -> naive UTC DatetimeIndex (NaT where not ISO 8601), and whether zoned."""
    parsed = pd.to_datetime(texts, format="ISO8601", errors="coerce", utc=True)
    return parsed.tz_localize(None), _zoned(texts)


def _zoned(texts: list[str]) -> bool:
    """Whether any ISO 8601 text carries a UTC offset: pandas reads them naive only if none does."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # pandas 2 warns on mixed offsets
            plain = pd.to_datetime(texts, format="ISO8601", errors="coerce")
    except ValueError:  # pandas 3 refuses mixed offsets, and zoned cells beside naive ones
        return True
    return getattr(plain, "tz", "mixed") is not None  # pandas 2 gives mixed ones as objects


def _put(dates: np.ndarray, positions: list[int], parsed: Any) -> None:
    """Store parsed times as datetime64[ns]; those out of its range stay NaT (unreadable)."""
    inside = np.asarray((parsed >= pd.Timestamp.min) & (parsed <= pd.Timestamp.max), dtype=bool)
    kept = np.asarray(positions)[inside]
    dates[kept] = np.asarray(parsed[inside].as_unit("ns"), dtype="datetime64[ns]")


def _refuse_unreadable(
    texts: list[str], lines: list[int], numbers: np.ndarray, dates: np.ndarray
) -> None:
    """InvalidInput for the first empty, non-finite or unreadable cell."""
    for text, line, number, date in zip(texts, lines, numbers, dates, strict=True):
        if not text:
            raise InvalidInput(f"line {line}: the time is empty", field="file")
        if np.isinf(number):
            raise InvalidInput(f"line {line}: time value {text[:40]!r} is not finite", field="file")
        if np.isnan(number) and np.isnat(date):
            raise InvalidInput(
                f"line {line}: time value {text[:40]!r} is not a time: expected {_EXPECTED_TIME}",
                field="file",
            )


def _mixed(
    texts: list[str], lines: list[int], plain: np.ndarray, dated: np.ndarray
) -> InvalidInput:
    """The first cell unlike the column's first plain number or date (years are either)."""
    telling = np.flatnonzero(plain | dated)
    first = int(telling[0])
    other = int(telling[np.flatnonzero(dated[telling] != dated[first])[0]])
    kinds = ("a date", "a number") if dated[other] else ("a number", "a date")
    return InvalidInput(
        f"line {lines[other]}: time value {texts[other][:40]!r} is {kinds[0]}, but line "
        f"{lines[first]}'s {texts[first][:40]!r} is {kinds[1]}: a time column holds numbers or "
        "dates, not both",
        field="file",
    )


# --- the axis --------------------------------------------------------------------------------


class _Grid(NamedTuple):
    """Sorted rows placed on an axis."""

    axis: TimeAxis
    positions: np.ndarray  # the axis point of each sorted row
    x: np.ndarray  # float64 time of every axis point, for interpolation
    spacing: str  # the step, for messages


def _date_grid(times: np.ndarray, lines: list[int], freq: str | None, *, zoned: bool) -> _Grid:
    # Microseconds: an axis continued past 2262 (datetime64[ns]'s end) still works.
    index = pd.DatetimeIndex(np.asarray(times, dtype="datetime64[us]"))
    _refuse_repeats(index.asi8, lines)
    offset = _given_offset(freq) if freq is not None else _inferred_offset(index)
    grid = _date_range(index, offset, given=freq is not None)
    positions = np.asarray(grid.get_indexer(index), dtype=np.int64)
    if (positions < 0).any():
        raise _off_axis([_show_date(t) for t in index], lines, positions, _spacing(offset), freq)
    first = grid[0].tz_localize("UTC") if zoned else grid[0]
    axis = TimeAxis("dates", str(first.isoformat()), str(offset.freqstr), len(grid))
    return _Grid(axis, positions, np.asarray(grid.asi8, dtype=np.float64), _spacing(offset))


def _number_grid(times: np.ndarray, lines: list[int], freq: str | None) -> _Grid:
    _refuse_repeats(times, lines)
    step = _given_step(freq) if freq is not None else _inferred_step(times)
    ratio = (times - times[0]) / step
    positions = np.rint(ratio).astype(np.int64)
    spacing = f"a step of {step!r}"
    off = np.abs(ratio - positions) > 1e-6  # float noise is not a break
    if off.any():
        positions[off] = -1
        raise _off_axis([repr(float(t)) for t in times], lines, positions, spacing, freq)
    _refuse_repeats(positions, lines)  # distinct times closer than the step allows
    length = int(positions[-1]) + 1
    _refuse_sparse(length, len(times), spacing, given=freq is not None)
    axis = TimeAxis("numbers", repr(float(times[0])), repr(step), length)
    return _Grid(axis, positions, times[0] + np.arange(length) * step, spacing)


def _refuse_repeats(keys: np.ndarray, lines: list[int]) -> None:
    """InvalidInput naming both lines of the first repeated time (keys are sorted)."""
    repeats = np.flatnonzero(np.diff(keys) == 0)
    if repeats.size:
        first, second = sorted((lines[repeats[0]], lines[repeats[0] + 1]))
        raise InvalidInput(
            f"time repeated on line {first} and line {second}; times must be unique",
            field="time_column",
        )


def _timestamp(text: str) -> Any:
    """An ISO 8601 text as a pandas Timestamp (ValueError otherwise, 'now' included)."""
    return pd.Timestamp(datetime.fromisoformat(text))


def _offset(alias: str) -> Any:
    """A pandas offset with a positive step (ValueError otherwise)."""
    offset = to_offset(alias)
    if offset.n < 1:
        raise ValueError(f"freq {alias!r} does not step forward")
    return offset


def _decimal(text: str, name: str) -> Decimal:
    """A finite number written as text (ValueError otherwise)."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{name} {text!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"{name} {text!r} is not finite")
    return value


def _given_offset(freq: str) -> Any:
    try:
        return _offset(freq)
    except ValueError as exc:
        hint = re.search(r"Did you mean [^?]+\?|Please use '[^']+' instead\.", str(exc))
        raise InvalidInput(
            f"freq {freq!r} is not a pandas frequency alias such as {_ALIASES}"
            + (f" ({hint.group(0)})" if hint else ""),
            field="freq",
        ) from None


def _given_step(freq: str) -> float:
    step = _number(freq.strip())
    if not (np.isfinite(step) and step > 0):
        raise InvalidInput(
            f"freq {freq!r}: the times are numbers, so freq is their step, a positive number "
            "such as '1' or '0.5'",
            field="freq",
        )
    return step


def _too_few_to_infer() -> InvalidInput:
    return InvalidInput(
        "one time only: no frequency can be inferred from it; give freq", field="freq"
    )


def _inferred_offset(index: Any) -> Any:
    """The candidate that most pairs of neighbouring times are exactly one step of; the first
    listed wins a tie (W-SAT over '7D', 'D' over 'B' for a Monday-to-Friday week)."""
    if len(index) < 2:
        raise _too_few_to_infer()
    first = index[0]
    family = (first.month - 1) % 3  # quarters: Jan/Apr/Jul/Oct is family 0
    aliases = [
        f"W-{_WEEKDAYS[first.weekday()]}", "MS", "ME",
        f"QS-{_MONTHS[family]}", f"QE-{_MONTHS[family + 9]}",
        f"YS-{_MONTHS[first.month - 1]}", f"YE-{_MONTHS[first.month - 1]}",
    ]  # fmt: skip
    candidates = [to_offset(alias) for alias in aliases] + [_tick(index), to_offset("B")]
    steps = [int(np.sum(index[:-1] + offset == index[1:])) for offset in candidates]
    return candidates[int(np.argmax(steps))]


def _tick(index: Any) -> Any:
    """The commonest spacing as a fixed offset: whole days as 'D'/'2D', else 'h', '30min'..."""
    common = _commonest(np.diff(np.asarray(index.asi8, dtype=np.int64)))
    if common % _DAY_US == 0:
        return to_offset(f"{common // _DAY_US}D")
    return to_offset(pd.Timedelta(int(common), unit="us"))


def _inferred_step(times: np.ndarray) -> float:
    """The commonest difference between neighbouring numbers, float noise rounded away."""
    if len(times) < 2:
        raise _too_few_to_infer()
    return float(_commonest(np.array([float(f"{d:.12g}") for d in np.diff(times)])))


def _commonest(diffs: np.ndarray) -> Any:
    """The most frequent value; the smallest among equals."""
    values, counts = np.unique(diffs, return_counts=True)
    return values[int(np.argmax(counts))]


def _date_range(index: Any, offset: Any, *, given: bool) -> Any:
    """Every point of `offset` from the first time to the last, unless there are too many."""
    first, last = index[0], index[-1]
    reference = pd.Timestamp("2000-01-01")  # per-step length measured where it cannot overflow
    per_step = ((reference + 100 * offset) - reference) / 100
    estimate = int((last - first) / per_step) + 1
    _refuse_sparse(estimate, len(index), _spacing(offset), given=given, slack=1.05)
    grid = pd.date_range(first, last, freq=offset, unit="us")
    _refuse_sparse(len(grid), len(index), _spacing(offset), given=given)
    return grid


def _refuse_sparse(
    length: int, rows: int, spacing: str, *, given: bool, slack: float = 1.0
) -> None:
    limit = MAX_AXIS_GROWTH * rows + 100
    if length > limit * slack:
        where = "freq" if given else "file"
        raise InvalidInput(
            f"an axis at {spacing} from the first time to the last has about {length} points, "
            f"over {limit} for {rows} rows: the times are too sparse for that spacing",
            field=where,
            code=None if given else "irregular_time_index",
        )


def _off_axis(
    shown: list[str], lines: list[int], positions: np.ndarray, spacing: str, freq: str | None
) -> InvalidInput:
    """The first sorted time that is not on the axis, and the spacing it breaks."""
    i = int(np.flatnonzero(positions < 0)[0])
    if freq is not None:
        where = f" counted from the first time {shown[0]} (line {lines[0]})" if i else ""
        return InvalidInput(
            f"line {lines[i]}: time {shown[i]} does not fall on freq {freq!r}{where}",
            field="freq",
        )
    if i == 0:  # the later times agree on a spacing that the first one is not on
        problem = f"the first time {shown[0]} is off the spacing of the times after it, {spacing}"
    else:
        problem = (
            f"time {shown[i]} breaks the regular spacing that the times take from {shown[0]} "
            f"(line {lines[0]}), {spacing}; the time before it is {shown[i - 1]} "
            f"(line {lines[i - 1]})"
        )
    return InvalidInput(f"line {lines[i]}: {problem}", field="file", code="irregular_time_index")


def _show_date(moment: Any) -> str:
    return str(moment.date()) if moment == moment.normalize() else str(moment.isoformat())


def _spacing(offset: Any) -> str:
    """'MS' -> "'MS' (monthly, first day)"; '30min' -> "'30min' (every 30 minutes)"."""
    code, n, alias = str(offset.rule_code).split("-")[0], int(offset.n), str(offset.freqstr)
    if code in _UNITS:
        return f"{alias!r} (every {n} {_UNITS[code]}{'s' if n != 1 else ''})"
    if code in _CALENDAR and n == 1:
        return f"{alias!r} ({_CALENDAR[code]})"
    return repr(alias)


# --- missing values ------------------------------------------------------------------------


def _refuse_empty_cells(matrix: np.ndarray, columns: list[str], lines: list[int]) -> None:
    holes = np.argwhere(np.isnan(matrix))
    if holes.size:
        row, column = (int(i) for i in holes[0])
        raise InvalidInput(f"line {lines[row]}, column {columns[column]!r}: is empty", field="file")


def _refuse_gaps(grid: _Grid, lines: list[int]) -> None:
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


def _fill(
    values: np.ndarray, x: np.ndarray, missing: MissingPolicy, columns: list[str]
) -> tuple[np.ndarray, dict[str, int]]:
    """Fill NaN by the policy; how many were filled in each column."""
    holes = np.isnan(values)
    filled = {name: int(holes[:, j].sum()) for j, name in enumerate(columns)}
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
