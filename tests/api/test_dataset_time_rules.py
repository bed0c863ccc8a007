"""One rule for CSV and JSON: the dates a dataset holds, and what a UTC offset means (a daily
series at local midnight stays daily across a change of clocks)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.test_datasets import dataset_total, error_of, upload_csv, upload_json

OUTSIDE = "is outside the dates a dataset holds, from 1678-01-01 to 2262-04-11"
# Berlin's clocks went forward on 2021-03-28 and back on 2021-10-31.
SPRING = ["2021-03-26T00:00:00+01:00", "2021-03-27T00:00:00+01:00", "2021-03-28T00:00:00+01:00",
          "2021-03-29T00:00:00+02:00", "2021-03-30T00:00:00+02:00"]  # fmt: skip
AUTUMN = ["2021-10-30T00:00:00+02:00", "2021-10-31T00:00:00+02:00", "2021-11-01T00:00:00+01:00"]


def csv_of(cells: list[str]) -> str:
    return "date,y\n" + "".join(f"{cell},{i}\n" for i, cell in enumerate(cells))


def time_of(body: dict[str, Any]) -> dict[str, str]:
    return dict(body["time"])


# -- the dates a dataset holds --------------------------------------------------------------


@pytest.mark.parametrize("start", ["0001-01-01", "1677-12-31", "9999-12-31", "2262-04-12"])
def test_a_json_start_outside_the_dates_is_refused_as_csv_refuses_it(
    client: TestClient, start: str
) -> None:
    json_message = error_of(
        upload_json(client, {"values": [1, 2], "start": start, "freq": "D"}), 422,
        "invalid_input", "start",
    )  # fmt: skip
    assert json_message == f"start {start!r} {OUTSIDE}"
    csv_message = error_of(upload_csv(client, csv_of([start, "2000-01-01"])), 422, "invalid_input",
                           "file")  # fmt: skip
    assert csv_message == f"line 2: time {start!r} {OUTSIDE}"
    assert dataset_total(client) == 0


def test_a_json_axis_that_runs_past_the_last_date_is_refused_naming_its_last_time(
    client: TestClient,
) -> None:
    body = {"values": list(range(20)), "start": "2262-04-01", "freq": "D"}
    message = error_of(upload_json(client, body), 422, "invalid_input", "start")
    assert message == (
        f"the last of 20 rows from start '2262-04-01' at freq 'D', 2262-04-20, {OUTSIDE}"
    )
    monthly = {"series": [{"id": "m", "values": [1] * 24, "start": "2261-01-01", "freq": "MS"}]}
    message = error_of(upload_json(client, monthly), 422, "invalid_input", "series[0].start")
    assert message.startswith("series 'm': the last of 24 rows from start '2261-01-01'")


def test_the_first_and_last_dates_are_accepted_from_csv_and_json(client: TestClient) -> None:
    first = upload_json(client, {"values": [1, 2], "start": "1678-01-01", "freq": "D"})
    assert time_of(first.json()) == {"kind": "dates", "start": "1678-01-01", "end": "1678-01-02",
                                     "freq": "D"}  # fmt: skip
    last = upload_csv(client, csv_of(["2262-04-10", "2262-04-11"]))
    assert time_of(last.json())["end"] == "2262-04-11"


# -- times with a UTC offset ----------------------------------------------------------------


def test_a_zoned_json_start_is_converted_to_utc_as_csv_converts_its_cells(
    client: TestClient,
) -> None:
    cells = ["2020-01-01T09:00:00+05:00", "2020-01-01T10:00:00+05:00", "2020-01-01T11:00:00+05:00"]
    from_csv = time_of(upload_csv(client, csv_of(cells)).json())
    from_json = time_of(
        upload_json(client, {"values": [0, 1, 2], "start": cells[0], "freq": "h"}).json()
    )
    assert from_json == from_csv == {
        "kind": "dates", "start": "2020-01-01T04:00:00+00:00", "end": "2020-01-01T06:00:00+00:00",
        "freq": "h",
    }  # fmt: skip


@pytest.mark.parametrize("cells", [SPRING, AUTUMN])
def test_a_daily_series_at_local_midnight_stays_daily_across_a_change_of_clocks(
    client: TestClient, cells: list[str]
) -> None:
    response = upload_csv(client, csv_of(cells))
    assert response.status_code == 201, response.text
    expected = {"kind": "dates", "start": cells[0][:10], "end": cells[-1][:10], "freq": "D"}
    assert time_of(response.json()) == expected
    values = list(range(len(cells)))
    from_json = upload_json(client, {"values": values, "start": cells[0], "freq": "D"})
    assert time_of(from_json.json()) == expected


def test_a_panel_of_daily_series_at_local_midnight_is_daily(client: TestClient) -> None:
    text = "unique_id,ds,y\n" + "".join(
        f"{name},{cell},{i}\n" for name in ("a", "b") for i, cell in enumerate(SPRING)
    )
    response = upload_csv(client, text)
    assert response.status_code == 201, response.text
    assert {part["time"]["freq"] for part in response.json()["series"]} == {"D"}


def test_zoned_times_that_are_not_all_midnights_are_instants_in_utc(client: TestClient) -> None:
    cells = ["2021-03-27T12:00:00+01:00", "2021-03-28T00:00:00+01:00", "2021-03-28T13:00:00+02:00"]
    response = upload_csv(client, csv_of(cells))  # every 12 hours in UTC
    assert response.status_code == 201, response.text
    assert time_of(response.json()) == {
        "kind": "dates", "start": "2021-03-27T11:00:00+00:00", "end": "2021-03-28T11:00:00+00:00",
        "freq": "12h",
    }  # fmt: skip
