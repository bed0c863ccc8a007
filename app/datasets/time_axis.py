"""TimeAxis, a regular time axis as a value: its checks, labels, JSON form and continued(...).

Pure: pandas, the domain error and time_cells' ASCII numbers. Dates step by pandas offsets
(aliases such as 'MS' or 'W-SAT'), so a stored axis is continued past its end with pandas' own
calendar arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

import pandas as pd
from pandas.tseries.frequencies import to_offset

from app.core.errors import InvalidInput
from app.datasets.time_cells import ascii_number

# Examples of the frequencies pandas names, for messages.
FREQ_EXAMPLES = (
    "'h', '30min', 'D', 'B', 'W-SUN', 'MS', 'ME', 'QS-JAN', 'QE-DEC', 'YS-JAN', 'YE-DEC'"
)


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
        first, offset = iso_timestamp(self.start), positive_offset(self.freq)
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
        first, offset = iso_timestamp(self.start), positive_offset(self.freq)
        points = pd.date_range(first + skip * offset, periods=count, freq=offset, unit="us")
        # One format for the whole axis, so labels() and continued() always agree.
        if first == first.normalize() and first + offset == (first + offset).normalize():
            return [str(day) for day in points.strftime("%Y-%m-%d")]
        return [str(point.isoformat()) for point in points]


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
        first = iso_timestamp(start)
    except ValueError:
        raise InvalidInput(f"{start!r} is neither ISO 8601 nor a number", field="start") from None
    try:
        offset = positive_offset(freq)
    except ValueError:
        problem = f"{freq!r} is not a frequency ({FREQ_EXAMPLES}, ...)"
        raise InvalidInput(problem, field="freq") from None
    if not offset.is_on_offset(first):
        raise InvalidInput(f"start {start!r} does not fall on freq {freq!r}", field="start")
    return TimeAxis("dates", first.isoformat(), offset.freqstr, length)


def iso_timestamp(text: str) -> Any:
    """An ISO 8601 text as a pandas Timestamp (ValueError otherwise, 'now' included)."""
    return pd.Timestamp(datetime.fromisoformat(text))


def positive_offset(alias: str) -> Any:
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
