"""Time cells read: find an upload's time column and read its cells as dates or numbers.

Pure: numpy, pandas and the domain error only. pandas reads the dates: ISO 8601 dates and
datetimes, months such as 1959M01, quarters such as 1959Q1.

Years: a column whose every cell is a 4-digit whole number ('1749', or '1749.0' from a float
column) between FIRST_YEAR and LAST_YEAR is read as years (dates on 1 January, a 'YS-JAN' axis);
any other number makes the column plain numbers, where those cells are numbers too.

The dates a column may hold and what a UTC offset means are time_rules' (one rule with JSON).
"""

from __future__ import annotations

import re
import warnings
from datetime import datetime
from typing import Any, Literal

import numpy as np
import pandas as pd

from app.core.errors import InvalidInput
from app.datasets.time_rules import (
    DATE_RANGE,
    FIRST_DATE,
    LAST_DATE,
    calendar_dates,
    outside_dates,
    within_dates,
)

TIME_COLUMN_NAMES = (
    "time", "timestamp", "date", "datetime", "ds", "year", "month", "week", "quarter", "period",
)  # fmt: skip

# What parse_times found. "zoned dates" are instants some of whose cells carried a UTC offset:
# the values are UTC all the same, and the axis writes its times with "+00:00". Zoned cells that
# are all local midnights are calendar dates instead (time_rules' zone rule): plain "dates".
TimeKind = Literal["dates", "zoned dates", "numbers"]

# Four-digit years read as years: those the dates a dataset holds begin.
FIRST_YEAR, LAST_YEAR = FIRST_DATE.year, LAST_DATE.year

_YEAR = re.compile(r"[0-9]{4}(?:\.0*)?")  # 1749, or 1749.0 from a float column
_MONTH = re.compile(r"[0-9]{4}M[0-9]{1,2}", re.IGNORECASE)  # 1959M01 (IMF, Eurostat, statsmodels)
_QUARTER = re.compile(r"[0-9]{4}-?Q[1-4]", re.IGNORECASE)  # 1959Q1, 1959-Q1
_YEAR_MONTH = re.compile(r"[0-9]{4}-[0-9]{2}")  # 1959-01, ISO 8601's month
_EXPECTED_TIME = (
    "a number, an ISO 8601 date or datetime, a month (1959-01, 1959M01) or a quarter (1959Q1), "
    f"with dates {DATE_RANGE}"
)

# A number in ASCII: float() alone would also read '١٢٣' and '１２３' (other scripts' digits) and
# '1_000' (a Python literal), which no CSV writer means as numbers.
_ASCII_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def ascii_number(text: str) -> float | None:
    """`text` as a float if it is an ASCII decimal number (spaces and tabs around it allowed)."""
    stripped = text.strip(" \t")
    return float(stripped) if _ASCII_NUMBER.fullmatch(stripped) else None


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
    # A panel repeats its times in every series: each distinct cell is read once, at its first
    # line, which is where a refusal names it (every rule below holds for the set of cells).
    inverse, distinct = pd.factorize(np.asarray(cells, dtype=object))  # in order of appearance
    if len(distinct) == len(cells):
        return _parse_distinct(cells, lines)
    _, at = np.unique(inverse, return_index=True)  # the first position of each cell, in order
    kind, times = _parse_distinct(list(distinct), [lines[i] for i in at])
    return kind, times[inverse]


def _parse_distinct(cells: list[str], lines: list[int]) -> tuple[TimeKind, np.ndarray]:
    texts = [cell.strip() for cell in cells]
    numbers = np.array([_number(text) for text in texts], dtype=np.float64)  # NaN: not a number
    dates, zoned = _parse_dates(texts, ~np.isnan(numbers))  # NaT: not a date
    _refuse_unreadable(texts, lines, numbers, dates)
    years = np.array(
        [_is_year(text, value) for text, value in zip(texts, numbers, strict=True)], dtype=bool
    )
    plain = ~np.isnan(numbers) & ~years
    dated = ~np.isnat(dates)
    if plain.any() and dated.any():
        raise _mixed(texts, lines, plain, dated)
    if plain.any() or not len(texts):
        return "numbers", numbers
    dates[years] = (numbers[years].astype(np.int64) - 1970).astype("datetime64[Y]")
    return ("zoned dates" if zoned else "dates"), dates


def _number(text: str) -> float:
    """The text as a float if it is an ASCII decimal number, else NaN."""
    value = ascii_number(text)
    return float("nan") if value is None else value


def _is_year(text: str, value: float) -> bool:
    """'1749' or '1749.0' within the years of the dates a dataset holds."""
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
    """ISO 8601 texts -> naive DatetimeIndex (NaT where not ISO 8601), and whether they are
    zoned instants (UTC) rather than dates or naive times (see time_rules' zone rule)."""
    parsed = pd.to_datetime(texts, format="ISO8601", errors="coerce", utc=True)
    if not _zoned(texts):
        return parsed.tz_localize(None), False
    local = _calendar_dates(texts)
    if local is not None:
        return local, False
    return parsed.tz_localize(None), True


def _calendar_dates(texts: list[str]) -> Any:
    """The texts' calendar dates (datetime64[us]) when the zone rule reads them so (every one a
    midnight in its own offset); None otherwise."""
    moments = []
    for text in texts:
        try:
            moments.append(datetime.fromisoformat(text))
        except ValueError:  # a form only pandas reads: an instant, as pandas reads it
            return None
    if not calendar_dates(moments):
        return None
    naive = [moment.replace(tzinfo=None) for moment in moments]
    return pd.DatetimeIndex(np.array(naive, dtype="datetime64[us]"))


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
    """Store parsed times as datetime64[ns]; those outside the dates a dataset holds stay NaT
    (refused by _refuse_unreadable, which names the range)."""
    inside = np.asarray((parsed >= FIRST_DATE) & (parsed <= LAST_DATE), dtype=bool)
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
        if np.isnan(number) and np.isnat(date) and _outside_dates(text):
            raise InvalidInput(outside_dates(f"line {line}: time {text[:40]!r}"), field="file")
        if np.isnan(number) and np.isnat(date):
            raise InvalidInput(
                f"line {line}: time value {text[:40]!r} is not a time: expected {_EXPECTED_TIME}",
                field="file",
            )


def _outside_dates(text: str) -> bool:
    """Whether an unreadable time cell is a date, but outside the dates a dataset holds."""
    try:
        if _MONTH.fullmatch(text) or _QUARTER.fullmatch(text):
            quarter = _QUARTER.fullmatch(text) is not None
            month = 3 * int(text[-1]) - 2 if quarter else int(text[5:])
            moment = datetime(int(text[:4]), month, 1)
        else:
            moment = datetime.fromisoformat(text + ("-01" if _YEAR_MONTH.fullmatch(text) else ""))
    except ValueError:
        return False
    return not within_dates(pd.Timestamp(moment.replace(tzinfo=None)).as_unit("us"))


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
