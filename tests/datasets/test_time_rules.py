"""app.datasets.time_rules: usable frequencies, the dates a dataset holds, the zone rule, and what
reads a stored axis that an earlier version let through."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest

from app.core.db import utcnow
from app.core.errors import InvalidInput
from app.datasets import DatasetRepository, DatasetRow, TimeAxis, load_values
from app.datasets.frequency import conventional_horizon, season_length
from app.datasets.time_rules import (
    calendar_dates,
    offset_for,
    start_time,
    usable_offset,
    within_dates,
)
from tests.factories import store_as_an_earlier_version


@pytest.mark.parametrize("freq", ["us", "2us", "1000ns", "s", "30min", "h", "D", "B", "W-SUN",
                                  "MS", "QE-DEC", "YS-JAN", "500YS-JAN", "bh"])  # fmt: skip
def test_usable_frequencies_are_their_pandas_offsets(freq: str) -> None:
    assert usable_offset(freq).n >= 1


@pytest.mark.parametrize(
    ("freq", "problem"),
    [
        ("1ns", "is not a whole number of microseconds"),
        ("500ns", "is not a whole number of microseconds"),
        ("1500ns", "is not a whole number of microseconds"),
        ("99999999999999D", "steps further than the whole span of dates a dataset holds"),
        ("9999YS", "steps further than the whole span of dates a dataset holds"),
        ("1000YS-JAN", "steps further than the whole span of dates a dataset holds"),
        ("-1D", "does not step forward"),
        ("0D", "does not step forward"),
        ("fortnightly", "is not a pandas frequency alias such as"),
    ],
)
def test_unusable_frequencies_are_refused_saying_why(freq: str, problem: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        offset_for(freq, field="series[2].freq")
    assert refused.value.field == "series[2].freq"
    assert refused.value.message.startswith(f"freq {freq!r} {problem}")


def test_the_season_of_an_unusable_frequency_is_none_not_a_crash() -> None:
    assert [season_length(freq) for freq in ("ns", "500ns", "99999999999999D")] == [1, 1, 1]
    assert season_length("us") == 1
    assert season_length("h") == 24


@pytest.mark.parametrize(
    ("text", "inside"),
    [("1678-01-01", True), ("2262-04-11", True), ("1677-12-31T23:59", False),
     ("2262-04-11T00:00:01", False), ("2000-01-01T05:00+05:00", True)],
)  # fmt: skip
def test_the_dates_a_dataset_holds(text: str, inside: bool) -> None:
    import pandas as pd

    assert within_dates(pd.Timestamp(datetime.fromisoformat(text))) is inside


def test_the_zone_rule_reads_local_midnights_as_calendar_dates() -> None:
    midnights = [datetime.fromisoformat(t) for t in ("2021-03-28T00:00+01:00", "2021-03-29")]
    assert calendar_dates(midnights)
    assert not calendar_dates([*midnights, datetime.fromisoformat("2021-03-29T01:00+02:00")])


@pytest.mark.parametrize(
    ("start", "freq", "length", "first"),
    [
        ("2021-03-28T00:00:00+01:00", "D", 3, "2021-03-28T00:00:00"),  # a calendar date
        ("2021-03-28T00:00:00+01:00", "h", 1, "2021-03-28T00:00:00"),  # one time: a date too
        ("2021-03-28T00:00:00+01:00", "h", 3, "2021-03-27T23:00:00+00:00"),  # instants
        ("2021-03-28T09:30:00-04:00", "D", 3, "2021-03-28T13:30:00+00:00"),
        ("2021-03-28T09:30:00", "h", 3, "2021-03-28T09:30:00"),  # naive: as written
    ],
)
def test_a_json_start_follows_the_zone_rule(start: str, freq: str, length: int, first: str) -> None:
    moment = start_time(datetime.fromisoformat(start), usable_offset(freq), length)
    assert moment.isoformat() == first


@pytest.mark.parametrize(
    "data",
    [
        {"kind": "dates", "start": "2020-01-01T00:00:00", "freq": "ns", "length": 5},
        {"kind": "dates", "start": "2020-01-01T00:00:00", "freq": "99999999999999D", "length": 1},
        {"kind": "dates", "start": "2020-01-01T00:00:00", "freq": "D", "length": 10**9},
        {"kind": "numbers", "start": "1e308", "freq": "1e308", "length": 3},
    ],
)
def test_an_axis_that_cannot_be_written_is_a_value_error(data: dict[str, object]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each entry fails its own way
        TimeAxis.from_json(data)


def test_a_forecast_axis_may_run_on_past_the_last_date_but_not_past_9999() -> None:
    yearly = TimeAxis("dates", "2262-01-01T00:00:00", "YS-JAN", 3)
    assert yearly.continued(2) == ["2265-01-01", "2266-01-01"]
    with pytest.raises(InvalidInput) as refused:
        yearly.continued(10_000)
    assert refused.value.field == "horizon"
    assert refused.value.message == (
        "10000 steps of 'YS-JAN' after the last time 2264-01-01 pass 9999-12-31, the last date "
        "written in ISO 8601; ask for fewer steps"
    )


def test_a_stored_axis_an_earlier_version_let_through_fails_a_job_plainly(
    datasets: DatasetRepository,
) -> None:
    row = DatasetRow(
        id=uuid.uuid4().hex, name=None, columns=["y"], rows=5, stats=[],
        values=b"\0" * 40, created_at=utcnow(), filled=None, series=None,
        time_axis={"kind": "dates", "start": "2020-01-01T00:00:00", "freq": "ns", "length": 5},
    )  # fmt: skip
    store_as_an_earlier_version(datasets, row)
    with pytest.raises(InvalidInput) as refused:
        load_values(datasets=datasets, dataset_id=row.id)
    assert refused.value.field == "data.dataset_id"
    assert refused.value.message.startswith(f"dataset {row.id!r} has a time axis that cannot be")
    assert refused.value.message.endswith("upload its data again")


@pytest.mark.parametrize(
    ("freq", "horizon"),
    [("YS", 6), ("YE-DEC", 6), ("QS-JAN", 8), ("QE-DEC", 8), ("MS", 18), ("ME", 18),
     ("W-SUN", 13), ("D", 14), ("B", 14), ("h", 48),
     ("30min", None), ("2h", None), ("3MS", None), ("1.5", None), (None, None)],
)  # fmt: skip
def test_each_calendar_frequency_has_m4s_horizon_and_the_others_none(
    freq: str | None, horizon: int | None
) -> None:
    assert conventional_horizon(freq) == horizon
