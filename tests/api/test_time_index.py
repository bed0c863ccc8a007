"""Uploads with a time index through the API: found, its frequency inferred or given, gaps
filled by the `missing` policy, shown on the dataset."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

MakeClient = Callable[..., TestClient]


def upload(client: TestClient, text: str, **form: str) -> dict[str, object]:
    answer = client.post(
        "/v1/datasets", files={"file": ("s.csv", text.encode(), "text/csv")}, data=form
    )
    body: dict[str, object] = answer.json()
    body["status"] = answer.status_code
    return body


def test_a_year_column_is_the_time_axis_not_a_value(client: TestClient) -> None:
    """statsmodels' sunspots as CSV: YEAR holds floats like 1700.0."""
    text = "YEAR,SUNACTIVITY\n" + "".join(f"{1700 + i}.0,{i % 11}.5\n" for i in range(30))
    body = upload(client, text)
    assert body["status"] == 201, body
    assert body["columns"] == ["SUNACTIVITY"]
    assert body["time"] == {"kind": "dates", "start": "1700-01-01", "end": "1729-01-01",
                            "freq": "YS-JAN"}  # fmt: skip


@pytest.mark.parametrize(
    ("cells", "freq"),
    [
        (["1959M01", "1959M02", "1959M03"], "MS"),
        (["1959Q1", "1959Q2", "1959Q3"], "QS-JAN"),
        (["2024-01-31", "2024-02-29", "2024-03-31"], "ME"),
        (["2024-01-01 00:00", "2024-01-01 00:30", "2024-01-01 01:00"], "30min"),
        (["0.5", "1.0", "1.5"], "0.5"),
    ],
)
def test_the_frequency_is_inferred(client: TestClient, cells: list[str], freq: str) -> None:
    text = "period,x\n" + "".join(f"{cell},{i}\n" for i, cell in enumerate(cells))
    body = upload(client, text)
    assert body["status"] == 201, body
    assert body["time"]["freq"] == freq  # type: ignore[index]


def test_a_given_freq_wins_and_a_wrong_one_is_named(client: TestClient) -> None:
    text = "date,x\n2024-01-01,1\n2024-01-08,2\n2024-01-15,3\n"
    assert upload(client, text, freq="W-MON")["time"]["freq"] == "W-MON"  # type: ignore[index]
    refused = upload(client, text, freq="MS")
    assert (refused["status"], refused["error"]["field"]) == (422, "freq")  # type: ignore[index]
    refused = upload(client, "x\n1\n2\n", freq="D")
    assert (refused["status"], refused["error"]["field"]) == (422, "freq")  # type: ignore[index]


@pytest.mark.parametrize(
    ("missing", "values"),
    [("interpolate", [1.0, 2.0, 3.0, 4.0]), ("ffill", [1.0, 1.0, 1.0, 4.0]),
     ("zero", [1.0, 0.0, 0.0, 4.0])],
)  # fmt: skip
def test_each_policy_fills_cells_and_missing_times(
    client: TestClient, missing: str, values: list[float]
) -> None:
    text = "date,x\n2024-01-01,1\n2024-01-02,\n2024-01-04,4\n"  # an empty cell, a missing day
    assert upload(client, text)["status"] == 422
    body = upload(client, text, missing=missing)
    assert body["status"] == 201, body
    assert body["length"] == 4
    assert body["filled"] == {"x": 2}
    assert body["stats"][0]["mean"] == pytest.approx(sum(values) / 4)  # type: ignore[index]


def test_an_irregular_index_names_the_row_and_the_spacing(client: TestClient) -> None:
    body = upload(client, "date,x\n2024-01-01,1\n2024-01-02,2\n2024-01-03,3\n2024-01-05,5\n")
    assert body["status"] == 422
    error = body["error"]
    assert error["code"] == "irregular_time_index"  # type: ignore[index]
    assert error["message"].startswith("line 5: time 2024-01-05")  # type: ignore[index]
    assert "'D'" in error["message"]  # type: ignore[index]


def test_an_unknown_policy_is_refused(client: TestClient) -> None:
    body = upload(client, "x\n1\n2\n", missing="guess")
    assert (body["status"], body["error"]["field"]) == (422, "missing")  # type: ignore[index]


def test_a_json_series_takes_start_and_freq(client: TestClient) -> None:
    body = {"values": [1, 2, 3], "start": "2024-01-01", "freq": "MS"}
    answer = client.post("/v1/datasets", json=body)
    assert answer.status_code == 201, answer.text
    assert answer.json()["time"]["end"] == "2024-03-01"
    alone = client.post("/v1/datasets", json={"values": [1, 2], "start": "2024-01-01"})
    assert (alone.status_code, alone.json()["error"]["field"]) == (422, "freq")
    off = client.post("/v1/datasets", json={"values": [1, 2], "start": "2024-01-15", "freq": "MS"})
    assert (off.status_code, off.json()["error"]["field"]) == (422, "start")
