"""Many series through /v1/datasets: long and wide CSV, JSON series, the read view, the limits,
every refusal (nothing stored), and single-series uploads answered as before."""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from tests.api.test_datasets import dataset_total, error_of, upload_csv, upload_json
from tests.conftest import AppFactory

LONG = (
    "unique_id,ds,y\n"
    "b,2024-01-03,30\na,2024-01-01,1\nb,2024-01-02,20\na,2024-01-02,\na,2024-01-03,3\n"
)


def test_long_csv_is_stored_as_series_shown_on_read_not_in_the_list(client: TestClient) -> None:
    response = upload_csv(client, LONG, missing="interpolate")
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["length"], body["series_count"], body["time"]) == (5, 2, None)
    assert body["filled"] == {"y": 1}
    assert body["series"] == [
        {
            "id": "b",
            "length": 2,
            "time": {"kind": "dates", "start": "2024-01-02", "end": "2024-01-03", "freq": "D"},
            "filled": {"y": 0},
        },
        {
            "id": "a",
            "length": 3,
            "time": {"kind": "dates", "start": "2024-01-01", "end": "2024-01-03", "freq": "D"},
            "filled": {"y": 1},
        },
    ]
    assert body["stats"][0]["mean"] == float(np.mean([20, 30, 1, 2, 3]))
    assert client.get(f"/v1/datasets/{body['id']}").json() == body
    listed = client.get("/v1/datasets").json()["items"][0]
    assert (listed["series_count"], listed["series"]) == (2, None)


def test_a_pandas_long_frame_uploads_with_different_lengths_and_starts(
    client: TestClient,
) -> None:
    frame = pd.concat(
        pd.DataFrame(
            {"item_id": name, "date": pd.date_range(start, periods=n, freq="W-SUN"), "sales": n}
        )
        for name, start, n in [("p1", "2023-01-01", 10), ("p2", "2023-03-05", 4)]
    )
    response = upload_csv(client, frame.to_csv(index=False))
    assert response.status_code == 201, response.text
    series = response.json()["series"]
    assert [(s["id"], s["length"], s["time"]["start"]) for s in series] == [
        ("p1", 10, "2023-01-01"),
        ("p2", 4, "2023-03-05"),
    ]


def test_json_series_and_wide_csv(client: TestClient) -> None:
    body = {
        "name": "shops",
        "series": [
            {"id": "a", "start": "2024-01-01", "freq": "MS", "values": [1, 2, 3]},
            {"id": "b", "start": "2024-02-01", "freq": "MS", "values": [4]},
        ],
    }
    response = upload_json(client, body)
    assert response.status_code == 201, response.text
    assert [(s["id"], s["length"]) for s in response.json()["series"]] == [("a", 3), ("b", 1)]
    assert response.json()["columns"] == ["value"]
    wide = "date,north,south\n2024-01-01,,5\n2024-01-02,1,6\n2024-01-03,2,\n"
    response = upload_csv(client, wide, layout="columns_are_series")
    assert response.status_code == 201, response.text
    assert [(s["id"], s["length"], s["time"]["start"]) for s in response.json()["series"]] == [
        ("north", 2, "2024-01-02"),
        ("south", 2, "2024-01-01"),
    ]


REFUSED: list[Any] = [
    pytest.param(
        {"text": "id,date,v\na,2024-01-01,1\na,2024-01-01,2\n"},
        "duplicate_time",
        "file",
        id="duplicate-time",
    ),
    pytest.param({"text": "id,v\na,1\n\u00a0,2\n"}, "invalid_series_id", "file", id="invisible"),
    pytest.param({"text": "id,v\na,1\n ,2\n"}, "invalid_series_id", "file", id="empty-id"),
    pytest.param(
        {"text": "id,v\n" + "x" * 65 + ",1\n"}, "series_id_too_long", "file", id="long-id"
    ),
    pytest.param(
        {"text": "id,date,v\na,2024-01-01,1\na,2024-01-02,2\nb,2024-01-01,1\nb,2024-01-08,2\n"},
        "mixed_frequencies",
        "freq",
        id="mixed-freq",
    ),
    pytest.param(
        {"text": "date,a,b\n2024-01-01,1,\n", "layout": "columns_are_series"},
        "empty_series",
        "file",
        id="wide-empty",
    ),
    pytest.param(
        {"text": "a,v\nx,1\n", "layout": "sideways"}, "invalid_input", "layout", id="layout"
    ),
    pytest.param(
        {"text": "a,v\nx,1\n", "id_column": "b"}, "invalid_input", "id_column", id="no-col"
    ),
    pytest.param(
        {"json": {"series": [{"id": "a", "values": []}]}},
        "empty_series",
        "series[0].values",
        id="json-no-rows",
    ),
    pytest.param(
        {"json": {"values": [1], "series": [{"id": "a", "values": [1]}]}},
        "invalid_input",
        "values",
        id="json-both",
    ),
]


def send(client: TestClient, upload: dict[str, Any]) -> httpx.Response:
    if "json" in upload:
        return upload_json(client, upload["json"])
    form = {key: value for key, value in upload.items() if key != "text"}
    return upload_csv(client, upload["text"], **form)


@pytest.mark.parametrize(("upload", "code", "field"), REFUSED)
def test_bad_panels_are_refused_and_nothing_is_stored(
    client: TestClient, upload: dict[str, Any], code: str, field: str
) -> None:
    error_of(send(client, upload), 422, code, field)
    assert dataset_total(client) == 0


def test_the_limits_come_from_settings_and_name_them(make_client: AppFactory) -> None:
    client = make_client(max_series=2, max_series_id_length=3, max_dataset_rows=10)
    message = error_of(upload_csv(client, "id,v\na,1\nb,1\nc,1\n"), 422, "too_many_series", "file")
    assert "at most 2 series (FORECAST_MAX_SERIES)" in message
    message = error_of(upload_csv(client, "id,v\nabcd,1\n"), 422, "series_id_too_long", "file")
    assert "line 2" in message
    assert "FORECAST_MAX_SERIES_ID_LENGTH" in message
    rows = "id,v\n" + "a,1\nb,1\n" * 6
    message = error_of(upload_csv(client, rows), 422, "too_many_rows", "file")
    assert "FORECAST_MAX_DATASET_ROWS" in message
    body = {"series": [{"id": k, "values": [1]} for k in "abc"]}
    error_of(upload_json(client, body), 422, "too_many_series", "series")
    assert dataset_total(client) == 0


def test_a_single_series_upload_answers_as_before(client: TestClient) -> None:
    """The fields a single series had are unchanged; the new ones say it is one series."""
    response = upload_csv(client, "date,load\n2024-01-01,1\n2024-01-02,2\n")
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["series_count"], body["series"]) == (1, None)
    assert {key: body[key] for key in ("columns", "length", "time", "filled")} == {
        "columns": ["load"],
        "length": 2,
        "time": {"kind": "dates", "start": "2024-01-01", "end": "2024-01-02", "freq": "D"},
        "filled": {"load": 0},
    }
    missing = client.post("/v1/datasets", json={"name": "x"})
    assert missing.status_code == 422
    assert missing.json()["error"]["field"] == "values"


def test_a_large_panels_view_stays_small_and_its_series_are_paged(client: TestClient) -> None:
    lines = ["unique_id,ds,y"]
    for number in range(250):
        lines += [f"s{number:03d},{day},{number + day}" for day in range(1, 2 + number % 5)]
    response = upload_csv(client, "\n".join(lines))
    assert response.status_code == 201, response.text
    view = client.get(f"/v1/datasets/{response.json()['id']}")
    body = view.json()
    assert body["series_count"] == 250
    assert body["series_length"] == {"min": 1, "median": 3.0, "max": 5}
    assert [part["id"] for part in body["series"]] == [f"s{n:03d}" for n in range(100)]
    assert len(view.content) < 64 * 1024
    page = client.get(f"/v1/datasets/{body['id']}/series", params={"offset": 200, "limit": 80})
    assert page.status_code == 200, page.text
    found = page.json()
    assert (found["total"], found["offset"], found["limit"]) == (250, 200, 80)
    assert [part["id"] for part in found["items"]] == [f"s{n:03d}" for n in range(200, 250)]
    assert [part["length"] for part in found["items"][:5]] == [1, 2, 3, 4, 5]


def test_a_single_series_has_no_series_page_and_an_unknown_dataset_is_a_404(
    client: TestClient,
) -> None:
    single = upload_csv(client, "y\n1\n2\n3\n").json()
    page = client.get(f"/v1/datasets/{single['id']}/series").json()
    assert (page["items"], page["total"]) == ([], 0)
    assert single["series_length"] is None
    missing = client.get(f"/v1/datasets/{'0' * 32}/series")
    assert missing.status_code == 404
    too_many = client.get(f"/v1/datasets/{single['id']}/series", params={"limit": 1001})
    assert too_many.status_code == 422
