"""A series whose times are each one step after the last gets its grid without pandas' offset
arithmetic: the same grid, to the bit, as the general inference gives, for every spacing."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from app.core.errors import InvalidInput
from app.datasets import time_grid, time_index
from app.datasets.frequency import consecutive_offset

FREQUENCIES = ["MS", "QS-JAN", "QS-FEB", "QS-MAR", "YS-JAN", "YS-JUL", "W-MON", "W-SUN", "D",
               "2D", "h", "30min", "15s", "B", "ME", "QE-DEC", "YE-DEC", "27D", "28D", "31D",
               "91D", "365D"]  # fmt: skip
STARTS = ["2020-01-01", "2019-11-01", "2001-03-01", "2024-02-29", "1999-12-31 23:00"]


def grid(times: np.ndarray, zoned: bool) -> object:
    try:
        return time_grid._date_grid(times, list(range(len(times))), None, zoned=zoned)
    except InvalidInput as refused:  # two times a day apart at a month's end read as 'MS'
        return refused.message


def grids(times: np.ndarray, zoned: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    fast = grid(times, zoned)
    with monkeypatch.context() as patched:
        patched.setattr(time_grid, "consecutive_offset", lambda stamps: None)
        return fast, grid(times, zoned)


@pytest.mark.parametrize("freq", FREQUENCIES)
@pytest.mark.parametrize("start", STARTS)
def test_consecutive_times_get_the_grid_the_general_inference_gives(
    freq: str, start: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for length in (2, 3, 4, 13, 40):
        times = np.asarray(pd.date_range(start, periods=length, freq=freq), dtype="datetime64[us]")
        for zoned in (False, True):
            fast, slow = grids(times, zoned, monkeypatch)
            if isinstance(slow, str):
                assert fast == slow
                continue
            assert fast.axis == slow.axis, (freq, start, length)
            assert fast.spacing == slow.spacing
            assert fast.positions.tolist() == slow.positions.tolist()
            assert fast.x.tobytes() == slow.x.tobytes()


def test_the_quick_rule_answers_only_what_it_is_sure_of() -> None:
    def offset(times: list[str]) -> str | None:
        found = consecutive_offset(np.array(times, dtype="datetime64[us]"))
        return None if found is None else str(found.freqstr)

    assert offset(["2020-01-01", "2020-04-01", "2020-07-01"]) == "QS-JAN"  # 91 days twice: leap
    assert offset(["2021-01-01", "2022-01-01", "2023-01-01"]) == "YS-JAN"  # 365 days twice
    assert offset(["2020-01-01", "2020-02-01"]) is None  # two times: MS or 31D
    assert offset(["2020-01-06", "2020-01-13", "2020-01-20"]) == "W-MON"
    assert offset(["2020-01-01", "2020-01-02", "2020-01-04"]) is None  # a gap
    assert offset(["2020-01-31", "2020-02-29", "2020-03-31"]) is None  # month ends
    assert offset(["2020-01-01", "2020-01-29", "2020-02-26"]) is None  # 28 days
    assert offset(["2020-01-01 12:00", "2020-02-01 12:00", "2020-03-01 12:00"]) is None


@pytest.mark.parametrize("freq", ["MS", "QS-APR", "YS-JAN", "W-WED", "D", "h", "15min"])
@pytest.mark.parametrize("zoned", [False, True])
def test_a_series_in_order_one_step_apart_regularizes_as_the_general_path_does(
    freq: str, zoned: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    times = np.asarray(pd.date_range("2021-04-01", periods=30, freq=freq), dtype="datetime64[ns]")
    matrix = np.random.default_rng(1).normal(size=(30, 2))
    kind = "zoned dates" if zoned else "dates"

    def regular() -> tuple[bytes, object, object]:
        values, axis, filled = time_index.regularize(
            kind, times, matrix, ["a", "b"], list(range(2, 32)), freq=None, missing="error"
        )
        return values.tobytes(), axis, filled

    quick = regular()
    with monkeypatch.context() as patched:
        for module in (time_index, time_grid):
            patched.setattr(module, "consecutive_axis", lambda *args, **kwargs: None)
        assert regular() == quick
