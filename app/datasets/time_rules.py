"""The rules every time index follows, CSV and JSON alike, each decided here once: the dates a
dataset may hold, the steps a frequency may take, and what a time written with a UTC offset means.

- Dates lie from FIRST_DATE to LAST_DATE (1678-01-01 to 2262-04-11, the span pandas' nanosecond
  timestamps hold), whether a CSV cell or a JSON `start` and the rows after it.
- A frequency steps forward by whole microseconds (the unit an axis keeps) and by no more than
  that whole span: '1ns' or '99999999999999D' can space no two times of a dataset.
- Times written with a UTC offset are calendar dates when every one is midnight in its own offset
  (a daily series written at local midnight stays daily across a change of clocks); otherwise they
  are instants, converted to UTC and written with "+00:00".

Pure: pandas, the standard library and the domain error only.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from datetime import datetime, time
from typing import Any

import pandas as pd
from pandas.tseries.frequencies import to_offset

from app.core.errors import InvalidInput

FIRST_DATE, LAST_DATE = pd.Timestamp("1678-01-01"), pd.Timestamp("2262-04-11")
DATE_RANGE = "from 1678-01-01 to 2262-04-11"

# Examples of the frequencies pandas names, for messages.
FREQ_EXAMPLES = (
    "'h', '30min', 'D', 'B', 'W-SUN', 'MS', 'ME', 'QS-JAN', 'QE-DEC', 'YS-JAN', 'YE-DEC'"
)

_NANOS_PER_MICRO = 1000
_REFERENCE = pd.Timestamp("2000-01-01").as_unit("us")  # a step measured where it cannot overflow


@functools.lru_cache(maxsize=256)  # read for every stored axis: 10,000 of them in a panel
def usable_offset(freq: str) -> Any:
    """The pandas offset `freq` names, if an axis can step by it (see the module docstring);
    ValueError otherwise, its text the client's answer."""
    try:
        offset = to_offset(freq)
    except Exception as exc:  # noqa: BLE001 - pandas also raises OverflowError and TypeError here
        hint = re.search(r"Did you mean [^?]+\?|Please use '[^']+' instead\.", str(exc))
        raise ValueError(
            f"freq {freq!r} is not a pandas frequency alias such as {FREQ_EXAMPLES}"
            + (f" ({hint.group(0)})" if hint else "")
        ) from None
    if offset.n < 1:
        raise ValueError(f"freq {freq!r} does not step forward; give a positive step")
    if isinstance(offset, pd.offsets.Tick) and int(offset.nanos) % _NANOS_PER_MICRO:
        raise ValueError(
            f"freq {freq!r} is not a whole number of microseconds: times are kept to the "
            "microsecond, so the finest step is 'us'"
        )
    try:
        step = (_REFERENCE + offset) - _REFERENCE
    except Exception:  # noqa: BLE001 - OutOfBounds, OverflowError, TypeError, NotImplementedError
        step = None
    if step is None or step > LAST_DATE - FIRST_DATE:
        raise ValueError(
            f"freq {freq!r} steps further than the whole span of dates a dataset holds "
            f"({DATE_RANGE})"
        )
    return offset


def offset_for(freq: str, *, field: str = "freq") -> Any:
    """usable_offset, its refusal an InvalidInput on `field`."""
    try:
        return usable_offset(freq)
    except ValueError as exc:
        raise InvalidInput(str(exc), field=field) from None


def within_dates(moment: Any) -> bool:
    """Whether a (naive, or UTC) time lies in the dates a dataset holds."""
    naive = moment.tz_convert(None) if moment.tzinfo is not None else moment
    return bool(FIRST_DATE <= naive <= LAST_DATE)


def outside_dates(what: str) -> str:
    """The message for a time outside the dates a dataset holds; `what` names the time."""
    return f"{what} is outside the dates a dataset holds, {DATE_RANGE}"


def calendar_dates(moments: Iterable[datetime]) -> bool:
    """The zone rule: times written with a UTC offset are their calendar dates when every one is
    midnight in its own offset; otherwise they are instants (to be converted to UTC)."""
    return all(moment.time() == time(0) for moment in moments)


def start_time(start: datetime, offset: Any, length: int) -> Any:
    """The first time of an axis of `length` points from `start`, one `offset` apart, under the
    zone rule: naive as written, its calendar date, or the instant in UTC."""
    if start.tzinfo is None:
        return pd.Timestamp(start)
    local = pd.Timestamp(start.replace(tzinfo=None))
    axis = [local] if length == 1 else [local, local + offset]  # the rest step alike
    if calendar_dates(moment.to_pydatetime() for moment in axis):
        return local
    return pd.Timestamp(start).tz_convert("UTC")
