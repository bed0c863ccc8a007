"""TimeAxis, a regular time axis as a value: its checks, labels, JSON form, last(...) and
continued(...).

Pure: pandas, the domain error, time_cells' ASCII numbers and time_rules. Dates step by pandas
offsets (aliases such as 'MS' or 'W-SAT'), so a stored axis is continued past its end with
pandas' own calendar arithmetic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

import pandas as pd

from app.core.errors import InvalidInput
from app.datasets.time_cells import ascii_number
from app.datasets.time_rules import (
    offset_for,
    outside_dates,
    start_time,
    usable_offset,
    within_dates,
)

# The last time ISO 8601 writes with four-digit years; pandas steps no calendar offset past it.
LAST_WRITTEN = pd.Timestamp("9999-12-31T23:59:59.999999")


@dataclass(frozen=True)
class TimeAxis:
    """A regular time axis: `length` points from `start`, one `freq` apart.

    Dates: `start` is ISO 8601 (with "+00:00" when the upload was zoned), `freq` a pandas offset
    alias an axis can step by (time_rules.usable_offset). Numbers: `start` and `freq` (the step)
    are repr() of floats. Construction checks all of it (ValueError), its last point included,
    so an axis read back from storage can be written, and extended up to 9999-12-31.
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
            start, step = _decimal(self.start, "start"), _decimal(self.freq, "freq")
            if step <= 0:
                raise ValueError(f"freq {self.freq!r} is not a positive step")
            if not math.isfinite(float(start + (self.length - 1) * step)):
                raise ValueError(
                    f"the axis from {self.start} by {self.freq} passes a float's range"
                )
            return
        first, offset = iso_timestamp(self.start), usable_offset(self.freq)
        if not offset.is_on_offset(first):
            raise ValueError(f"start {self.start!r} does not fall on freq {self.freq!r}")
        last = _moment(first, offset, self.length - 1)  # ValueError when past what pandas holds
        if _naive(last) > LAST_WRITTEN:
            raise ValueError(f"the axis from {self.start} at {self.freq!r} passes 9999-12-31")

    def labels(self) -> list[str]:
        """Every point: ISO dates (date only on a daily-or-coarser axis at midnight), or numbers."""
        return self._points(0, self.length)

    def point(self, index: int) -> str:
        """One point, written like labels() (without writing all of them)."""
        if self.kind == "numbers":
            return self._points(index, 1)[0]
        first, offset = iso_timestamp(self.start), usable_offset(self.freq)
        moment = _moment(first, offset, index)
        return str(moment.strftime("%Y-%m-%d") if _date_only(first, offset) else moment.isoformat())

    def last(self, count: int) -> list[str]:
        """The last `count` points (all of them if it has fewer), written like labels()."""
        count = min(max(count, 0), self.length)
        return self._points(self.length - count, count)

    def continued(self, steps: int) -> list[str]:
        """The `steps` points after the last one, written like labels(); InvalidInput
        (field="horizon") when they would pass 9999-12-31, the last date ISO 8601 writes."""
        if steps < 0:
            raise ValueError(f"steps {steps} is negative")
        if self.kind == "dates" and steps:
            self._refuse_past_written(steps)
        return self._points(self.length, steps)

    def _refuse_past_written(self, steps: int) -> None:
        first, offset = iso_timestamp(self.start), usable_offset(self.freq)
        try:
            end = _moment(first, offset, self.length + steps - 1)
        except ValueError:
            end = None
        if end is None or _naive(end) > LAST_WRITTEN:
            raise InvalidInput(
                f"{steps} steps of {self.freq!r} after the last time "
                f"{self.point(self.length - 1)} pass 9999-12-31, the last date written in "
                "ISO 8601; ask for fewer steps",
                field="horizon",
            )

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
        first, offset = iso_timestamp(self.start), usable_offset(self.freq)
        points = pd.date_range(first + skip * offset, periods=count, freq=offset, unit="us")
        if _date_only(first, offset):
            return [str(day) for day in points.strftime("%Y-%m-%d")]
        return [str(point.isoformat()) for point in points]


def axis_from(start: str, freq: str, length: int) -> TimeAxis:
    """The axis of `length` rows from `start` (ISO 8601, or a number for a numeric axis), one
    `freq` apart (a pandas alias, or the numeric step), under the rules of time_rules (the dates
    a dataset holds, usable steps, the zone rule); InvalidInput naming what is wrong."""
    if ascii_number(start) is not None:
        try:
            return TimeAxis("numbers", repr(float(start)), repr(float(freq)), length)
        except ValueError:
            problem = f"{freq!r} is not a positive step for a numeric start"
            raise InvalidInput(problem, field="freq") from None
    try:
        written = datetime.fromisoformat(start)
    except ValueError:
        raise InvalidInput(f"{start!r} is neither ISO 8601 nor a number", field="start") from None
    if not within_dates(pd.Timestamp(written)):  # before stepping from it
        raise InvalidInput(outside_dates(f"start {start!r}"), field="start")
    offset = offset_for(freq)
    first = start_time(written, offset, length)
    if not within_dates(first):
        raise InvalidInput(outside_dates(f"start {start!r}"), field="start")
    if not offset.is_on_offset(first):
        raise InvalidInput(f"start {start!r} does not fall on freq {freq!r}", field="start")
    try:
        last = _moment(first, offset, length - 1)
    except ValueError:
        last = None
    if last is None or not within_dates(last):
        shown = "past what can be written" if last is None else _shown(last)
        what = f"the last of {length} rows from start {start!r} at freq {freq!r}, {shown},"
        raise InvalidInput(outside_dates(what), field="start")
    return TimeAxis("dates", first.isoformat(), offset.freqstr, length)


def iso_timestamp(text: str) -> Any:
    """An ISO 8601 text as a pandas Timestamp (ValueError otherwise, 'now' included)."""
    return pd.Timestamp(datetime.fromisoformat(text))


def _moment(first: Any, offset: Any, steps: int) -> Any:
    """The time `steps` steps of `offset` after `first`; ValueError past what pandas holds."""
    try:
        return first + steps * offset
    except Exception as exc:  # noqa: BLE001 - OutOfBounds, OverflowError, NotImplementedError
        raise ValueError(
            f"{steps} steps of {offset.freqstr!r} from {first} overflow: {exc}"
        ) from None


def _date_only(first: Any, offset: Any) -> bool:
    """Whether an axis is written as dates: daily or coarser, at midnight. One format for the
    whole axis, so labels(), point() and continued() always agree."""
    return bool(first == first.normalize() and first + offset == (first + offset).normalize())


def _shown(moment: Any) -> str:
    if _naive(moment) > LAST_WRITTEN:  # no four-digit year to write it with
        return "past 9999-12-31"
    return str(moment.date()) if moment == moment.normalize() else str(moment.isoformat())


def _naive(moment: Any) -> Any:
    """A time without its zone (UTC when it had one)."""
    return moment.tz_convert(None) if moment.tzinfo is not None else moment


def from_storage(data: Any) -> TimeAxis:
    """TimeAxis.from_json of an axis read back from storage, where an earlier version's looser
    rules may have left one no rule accepts now: ValueError for it, whatever pandas raised."""
    try:
        return TimeAxis.from_json(data)
    except ValueError:
        raise
    except Exception as exc:  # noqa: BLE001 - pandas raises OverflowError, NotImplementedError
        raise ValueError(f"the stored time axis cannot be used: {exc}") from None


def _decimal(text: str, name: str) -> Decimal:
    """A finite number written as text (ValueError otherwise)."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{name} {text!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"{name} {text!r} is not finite")
    return value
