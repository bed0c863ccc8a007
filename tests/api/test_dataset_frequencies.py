"""Frequencies an axis cannot use are refused before anything is stored, CSV and JSON alike;
a dataset stored with one (by an earlier version) still reads, lists and fails its jobs plainly."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from app.core.db import utcnow
from app.datasets import DatasetRow
from tests.api.test_datasets import dataset_total, error_of, upload_csv, upload_json
from tests.factories import store_as_an_earlier_version

# Steps finer than the microsecond an axis is kept to, or longer than the whole date range, and
# steps whose arithmetic overflows pandas in other ways (OverflowError, TypeError,
# NotImplementedError rather than ValueError).
UNUSABLE = [
    "1ns", "500ns", "1500ns", "99999999999999D", "9999YS", "1000YS-JAN",
    "99999999999999999999D", "999999999999999999999us", "9999999999999999999BMS",
    "99999999999999C", "370977CBME",
]  # fmt: skip
WEEK = "date,y\n" + "".join(f"2024-01-0{day},{day}\n" for day in range(1, 8))


@pytest.mark.parametrize("freq", UNUSABLE)
def test_json_start_with_an_unusable_freq_is_refused_and_nothing_is_stored(
    client: TestClient, freq: str
) -> None:
    response = upload_json(client, {"values": [1, 2, 3, 4, 5], "start": "2020-01-01", "freq": freq})
    message = error_of(response, 422, "invalid_input", "freq")
    assert f"freq {freq!r}" in message
    assert dataset_total(client) == 0


@pytest.mark.parametrize("freq", UNUSABLE)
def test_json_series_with_an_unusable_freq_is_refused_naming_the_series(
    client: TestClient, freq: str
) -> None:
    series = [
        {"id": "a", "values": [1, 2], "start": "2020-01-01", "freq": "D"},
        {"id": "b", "values": [1, 2], "start": "2020-01-01", "freq": freq},
    ]
    message = error_of(
        upload_json(client, {"series": series}), 422, "invalid_input", "series[1].freq"
    )
    assert f"freq {freq!r}" in message
    assert dataset_total(client) == 0


@pytest.mark.parametrize("freq", UNUSABLE)
def test_csv_with_an_unusable_freq_is_refused(client: TestClient, freq: str) -> None:
    message = error_of(upload_csv(client, WEEK, freq=freq), 422, "invalid_input", "freq")
    assert f"freq {freq!r}" in message


@pytest.mark.parametrize("freq", ["1ns", "99999999999999D"])
def test_a_one_row_series_with_an_unusable_freq_is_refused(client: TestClient, freq: str) -> None:
    text = "unique_id,date,y\na,2024-01-01,1\n"
    message = error_of(upload_csv(client, text, freq=freq), 422, "invalid_input", "freq")
    assert f"freq {freq!r}" in message


def test_the_finest_and_the_coarsest_usable_steps_are_accepted(client: TestClient) -> None:
    fine = upload_json(client, {"values": [1, 2, 3], "start": "2020-01-01", "freq": "us"})
    assert fine.status_code == 201, fine.text
    assert fine.json()["time"]["end"] == "2020-01-01T00:00:00.000002"
    coarse = upload_json(client, {"values": [1, 2], "start": "1700-01-01", "freq": "500YS-JAN"})
    assert coarse.status_code == 201, coarse.text
    assert coarse.json()["time"]["end"] == "2200-01-01"


def stored_with_axis(client: TestClient, axis: dict[str, object], *, panel: bool) -> str:
    """A dataset row as an earlier version could store it, axis and all."""
    row_id = uuid.uuid4().hex
    part = {"id": "a", "rows": 5, "time_axis": axis, "filled": None}
    row = DatasetRow(
        id=row_id,
        name="old",
        columns=["value"],
        rows=5,
        stats=[{"name": "value", "min": 1.0, "max": 5.0, "mean": 3.0, "std": 1.0}],
        values=b"\0" * 40,
        created_at=utcnow(),
        time_axis=None if panel else axis,
        filled=None,
        series=[part] if panel else None,
    )
    store_as_an_earlier_version(client.app.state.datasets, row)  # type: ignore[attr-defined]
    return row_id


@pytest.mark.parametrize("panel", [False, True])
@pytest.mark.parametrize(
    ("start", "freq"),
    [
        ("2020-01-01T00:00:00", "ns"),
        ("2020-01-01T00:00:00", "500ns"),
        ("2020-01-01T00:00:00", "99999999999999D"),
        ("9999-12-31T00:00:00", "D"),  # a start an earlier version took: past 9999 at once
    ],
)
def test_a_stored_unusable_axis_never_breaks_reading_or_listing(
    client: TestClient, start: str, freq: str, panel: bool
) -> None:
    axis = {"kind": "dates", "start": start, "freq": freq, "length": 5}
    row_id = stored_with_axis(client, axis, panel=panel)
    listed = client.get("/v1/datasets")
    assert listed.status_code == 200, listed.text
    assert [item["id"] for item in listed.json()["items"]] == [row_id]
    read = client.get(f"/v1/datasets/{row_id}")
    assert read.status_code == 200, read.text
    body = read.json()
    time = body["time"] if not panel else body["series"][0]["time"]
    assert time is None  # an axis that cannot be written is shown as none, not a 500


@pytest.mark.parametrize(
    ("values", "start", "freq"),
    [
        (2, "9999-12-31T00:00:00+05:00", "D"),  # a zoned start past the dates, before a step
        (100, "2000-01-01", "99999D"),  # the last row past 9999
        (50, "2000-01-03", "999BQS"),
    ],
)
def test_a_json_axis_that_would_pass_the_dates_is_refused_not_a_500(
    client: TestClient, values: int, start: str, freq: str
) -> None:
    answer = upload_json(client, {"values": list(range(values)), "start": start, "freq": freq})
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == "start"
    assert dataset_total(client) == 0
