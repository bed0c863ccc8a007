"""Sorted times placed on a regular grid at their frequency, given or inferred; repeated times,
times off the spacing and axes too sparse for their rows are refused.

Pure: numpy, pandas and the domain error only.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from app.core.errors import InvalidInput
from app.datasets.frequency import (
    consecutive_offset,
    describe_spacing,
    given_step,
    inferred_offset,
    inferred_step,
)
from app.datasets.time_axis import TimeAxis
from app.datasets.time_rules import offset_for

# An axis may hold at most this many points per row given (plus 100): gaps are filled, but a
# series that is mostly gaps, or a freq far finer than the times, is refused, not blown up.
MAX_AXIS_GROWTH = 10
# The grids of at most this many times are kept (the last 64), for the series of a panel that
# share their times: 64 such grids take at most about 6 MB.
CACHED_POINTS = 4096


class Grid(NamedTuple):
    """Sorted rows placed on an axis."""

    axis: TimeAxis
    positions: np.ndarray  # the axis point of each sorted row
    x: np.ndarray  # float64 time of every axis point, for interpolation
    spacing: str  # the step, for messages


def date_grid(times: np.ndarray, lines: Sequence[int], freq: str | None, *, zoned: bool) -> Grid:
    """Sorted datetime64 times on a grid of their pandas offset (UTC-zoned start if `zoned`)."""
    # Microseconds: an axis continued past 2262 (datetime64[ns]'s end) still works.
    stamps = np.asarray(times, dtype="datetime64[us]")
    if len(stamps) <= CACHED_POINTS:
        known = _known_grid(stamps.tobytes(), freq, zoned)
        if known is not None:
            return known
    return _date_grid(stamps, lines, freq, zoned=zoned)


@lru_cache(maxsize=64)
def _known_grid(stamps: bytes, freq: str | None, zoned: bool) -> Grid | None:
    """The grid of times many series of a panel share, found once; None where they are refused
    (the caller finds that again, naming the lines)."""
    times = np.frombuffer(stamps, dtype="datetime64[us]")
    try:
        grid = _date_grid(times, [0] * len(times), freq, zoned=zoned)
    except InvalidInput:
        return None
    grid.positions.flags.writeable = grid.x.flags.writeable = False  # shared by its callers
    return grid


def consecutive_axis(times: np.ndarray, *, zoned: bool) -> TimeAxis | None:
    """The axis of datetime64 times in file order that are each one step after the last (see
    frequency.consecutive_offset): the axis date_grid infers for them, found without sorting
    or placing them; None for any other times."""
    stamps = np.asarray(times, dtype="datetime64[us]")
    offset = consecutive_offset(stamps)
    if offset is None:
        return None
    first = pd.Timestamp(stamps[0])
    first = first.tz_localize("UTC") if zoned else first
    return _dates_axis(str(first.isoformat()), str(offset.freqstr), len(stamps))


@lru_cache(maxsize=1024)
def _dates_axis(start: str, freq: str, length: int) -> TimeAxis:
    """An axis of dates, checked once for the series of a panel that share it (immutable)."""
    return TimeAxis("dates", start, freq, length)


def _date_grid(times: np.ndarray, lines: Sequence[int], freq: str | None, *, zoned: bool) -> Grid:
    axis = None if freq is not None else consecutive_axis(times, zoned=zoned)
    if axis is not None:  # each time one step after the last: the grid is the times
        x = np.asarray(times.astype(np.int64), dtype=np.float64)
        spacing = describe_spacing(offset_for(axis.freq))
        return Grid(axis, np.arange(len(times)), x, spacing)
    index = pd.DatetimeIndex(times)
    _refuse_repeats(index.asi8, lines)
    offset = offset_for(freq) if freq is not None else inferred_offset(index)
    spacing = describe_spacing(offset)
    grid = _date_range(index, offset, spacing, given=freq is not None)
    positions = np.asarray(grid.get_indexer(index), dtype=np.int64)
    if (positions < 0).any():
        raise _off_axis([_show_date(t) for t in index], lines, positions, spacing, freq)
    first = grid[0].tz_localize("UTC") if zoned else grid[0]
    axis = TimeAxis("dates", str(first.isoformat()), str(offset.freqstr), len(grid))
    return Grid(axis, positions, np.asarray(grid.asi8, dtype=np.float64), spacing)


def number_grid(times: np.ndarray, lines: Sequence[int], freq: str | None) -> Grid:
    """Sorted float64 times on a grid of their numeric step."""
    _refuse_repeats(times, lines)
    step = given_step(freq) if freq is not None else inferred_step(times)
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
    return Grid(axis, positions, times[0] + np.arange(length) * step, spacing)


def _refuse_repeats(keys: np.ndarray, lines: Sequence[int]) -> None:
    """InvalidInput naming both lines of the first repeated time (keys are sorted)."""
    repeats = np.flatnonzero(np.diff(keys) == 0)
    if repeats.size:
        first, second = sorted((lines[repeats[0]], lines[repeats[0] + 1]))
        raise InvalidInput(
            f"time repeated on line {first} and line {second}; times must be unique",
            field="time_column",
        )


def _date_range(index: Any, offset: Any, spacing: str, *, given: bool) -> Any:
    """Every point of `offset` from the first time to the last, unless there are too many."""
    first, last = index[0], index[-1]
    reference = pd.Timestamp("2000-01-01")  # per-step length measured where it cannot overflow
    per_step = ((reference + 100 * offset) - reference) / 100
    estimate = int((last - first) / per_step) + 1
    _refuse_sparse(estimate, len(index), spacing, given=given, slack=1.05)
    grid = pd.date_range(first, last, freq=offset, unit="us")
    _refuse_sparse(len(grid), len(index), spacing, given=given)
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
    shown: list[str], lines: Sequence[int], positions: np.ndarray, spacing: str, freq: str | None
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
