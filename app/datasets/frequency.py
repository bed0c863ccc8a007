"""Frequencies of a time index: a given numeric step checked, a frequency inferred from the
times, its spacing put in words for messages, and the usual season it implies (a given date
frequency is checked by time_rules).

Pure: numpy, pandas and the domain error only. Dates take pandas offsets (aliases such as 'MS'
or 'W-SAT'); numbers take a numeric step.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from app.core.errors import InvalidInput
from app.datasets.time_cells import ascii_number
from app.datasets.time_rules import usable_offset

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
_DAY_US = 86_400_000_000
_UNITS = {
    "D": "day", "h": "hour", "min": "minute", "s": "second",
    "ms": "millisecond", "us": "microsecond", "ns": "nanosecond",
}  # fmt: skip
_CALENDAR = {
    "B": "business days", "W": "weekly", "MS": "monthly, first day", "ME": "monthly, last day",
    "QS": "quarterly, first day", "QE": "quarterly, last day",
    "YS": "yearly, first day", "YE": "yearly, last day",
}  # fmt: skip


def given_step(freq: str) -> float:
    """The positive numeric step `freq` names; InvalidInput(field="freq") otherwise."""
    step = ascii_number(freq.strip())
    if step is None or not (math.isfinite(step) and step > 0):
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


def inferred_offset(index: Any) -> Any:
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
    return _fixed(int(_commonest(np.diff(np.asarray(index.asi8, dtype=np.int64)))))


@lru_cache(maxsize=256)
def _fixed(step_us: int) -> Any:
    if step_us % _DAY_US == 0:
        return to_offset(f"{step_us // _DAY_US}D")
    return to_offset(pd.Timedelta(step_us, unit="us"))


@lru_cache(maxsize=256)
def _named(alias: str) -> Any:
    return to_offset(alias)


def consecutive_offset(stamps: np.ndarray) -> Any:
    """What inferred_offset gives for sorted datetime64[us] times (at least 3) that are each one
    step after the last: a fixed step under 28 days (weekly anchored), or month, quarter or
    year starts; found with numpy alone, as a panel has thousands of such series. None for
    anything else, which inferred_offset decides."""
    if len(stamps) < 3:
        return None  # two times fit several candidates; the general rule breaks the tie
    ticks = stamps.view(np.int64)
    step_us = ticks[1:] - ticks[:-1]
    first_step = int(step_us[0])
    if 0 < first_step < 28 * _DAY_US and (step_us == first_step).all():
        if first_step == 7 * _DAY_US:  # weekly: anchored on the first time's weekday
            weekday = (ticks[0] // _DAY_US + 3) % 7  # 1970-01-01 was a Thursday; Monday 0
            return _named(f"W-{_WEEKDAYS[int(weekday)]}")
        return _fixed(first_step)
    months = stamps.astype("datetime64[M]")
    if not (months.astype(stamps.dtype) == stamps).all():  # not every time a month's start
        return None
    step = np.diff(months.view(np.int64))
    first = int(months[0].view(np.int64)) % 12  # 0: January
    for months_apart, alias in ((1, "MS"), (3, f"QS-{_MONTHS[first % 3]}"),
                                (12, f"YS-{_MONTHS[first]}")):  # fmt: skip
        if (step == months_apart).all():
            return _named(alias)
    return None  # 28 days and over, but not month starts: a month's step may fit some


def inferred_step(times: np.ndarray) -> float:
    """The commonest difference between neighbouring numbers, float noise rounded away."""
    if len(times) < 2:
        raise _too_few_to_infer()
    return float(_commonest(np.array([float(f"{d:.12g}") for d in np.diff(times)])))


def _commonest(diffs: np.ndarray) -> Any:
    """The most frequent value; the smallest among equals."""
    values, counts = np.unique(diffs, return_counts=True)
    return values[int(np.argmax(counts))]


def describe_spacing(offset: Any) -> str:
    """'MS' -> "'MS' (monthly, first day)"; '30min' -> "'30min' (every 30 minutes)"."""
    code, n, alias = str(offset.rule_code).split("-")[0], int(offset.n), str(offset.freqstr)
    if code in _UNITS:
        return f"{alias!r} (every {n} {_UNITS[code]}{'s' if n != 1 else ''})"
    if code in _CALENDAR and n == 1:
        return f"{alias!r} ({_CALENDAR[code]})"
    return repr(alias)


def conventional_horizon(freq: str | None) -> int | None:
    """The horizon forecasters are usually asked for at a pandas frequency, M4's: yearly 6,
    quarterly 8, monthly 18, weekly 13, daily 14, hourly 48; None for anything else (numeric
    steps, multiples, finer steps)."""
    if freq is None or ascii_number(freq) is not None:
        return None
    try:
        offset = usable_offset(freq)
    except ValueError:
        return None
    if int(offset.n) != 1:
        return None
    calendar = {
        pd.offsets.YearBegin: 6, pd.offsets.YearEnd: 6, pd.offsets.BYearBegin: 6,
        pd.offsets.BYearEnd: 6, pd.offsets.QuarterBegin: 8, pd.offsets.QuarterEnd: 8,
        pd.offsets.BQuarterBegin: 8, pd.offsets.BQuarterEnd: 8, pd.offsets.MonthBegin: 18,
        pd.offsets.MonthEnd: 18, pd.offsets.BusinessMonthBegin: 18,
        pd.offsets.BusinessMonthEnd: 18, pd.offsets.Week: 13, pd.offsets.Day: 14,
        pd.offsets.BusinessDay: 14,
    }  # fmt: skip
    for kind, horizon in calendar.items():
        if isinstance(offset, kind):
            return horizon
    if isinstance(offset, pd.offsets.Tick) and int(offset.nanos) == 3_600 * 10**9:
        return 48
    return None


def season_length(freq: str | None) -> int:
    """The usual seasonal period of a pandas frequency, in steps: a year of months (12),
    quarters (4), weeks (52) or half-months (24); a week of days (7) or business days (5); a day
    of sub-daily steps (h: 24, 30min: 48, 15min: 96, up to 288 steps of 5min); an hour of finer
    ones (min: 60), a minute of seconds. Multiples divide it (2h: 12, 3MS: 4) when they fit
    evenly. 1 (no season) for yearly, numeric steps, None and anything else."""
    if freq is None or ascii_number(freq) is not None:
        return 1
    try:
        offset = usable_offset(freq)
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
