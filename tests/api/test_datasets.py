"""/v1/datasets: upload (CSV or JSON), list, read, delete, and every way an upload is refused."""

from __future__ import annotations

import re
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.conftest import AppFactory

ID = re.compile(r"^[0-9a-f]{32}$")


def upload_csv(client: TestClient, text: str | bytes, **form: str) -> httpx.Response:
    data = text.encode() if isinstance(text, str) else text
    return client.post(
        "/v1/datasets", files={"file": ("series.csv", data, "text/csv")}, data=form or None
    )


def upload_json(client: TestClient, body: Any) -> httpx.Response:
    return client.post("/v1/datasets", json=body)


def dataset_total(client: TestClient) -> int:
    response = client.get("/v1/datasets")
    assert response.status_code == 200
    return int(response.json()["total"])


def error_of(response: httpx.Response, status: int, code: str, field: str | None) -> str:
    """Check the status, then the error code and field; return the message."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    assert error.get("field") == field, error
    assert isinstance(error["message"], str)
    assert error["message"]
    return str(error["message"])


def assert_stats_match(stats: list[dict[str, Any]], columns: list[str], matrix: Any) -> None:
    values = np.asarray(matrix, dtype=np.float64)
    assert [s["name"] for s in stats] == columns
    for index, stat in enumerate(stats):
        column = values[:, index]
        assert stat["min"] == float(np.min(column))
        assert stat["max"] == float(np.max(column))
        assert stat["mean"] == float(np.mean(column))
        assert stat["std"] == float(np.std(column))


def queue_job_on(client: TestClient, dataset_id: str) -> str:
    response = client.post("/v1/jobs", json={"model_name": "m", "data": {"dataset_id": dataset_id}})
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "queued"
    return str(response.json()["id"])


SERIES = [[0.1, 10.0], [0.7, -3.5], [-2.5, 2.25], [3.25, 0.001], [1000.0, 7.0], [-0.3, 0.0]]
LONG_CSV = "a\n" + "".join(f"{i * 0.25}\n" for i in range(100))


# -- uploads that succeed ------------------------------------------------------------------


def test_csv_upload_is_created_with_location_columns_rows_and_exact_stats(
    client: TestClient,
) -> None:
    text = "load,temp\n" + "".join(f"{a},{b}\n" for a, b in SERIES)
    response = upload_csv(client, text, name="power")
    assert response.status_code == 201, response.text
    body = response.json()
    assert ID.match(body["id"])
    assert response.headers["location"] == f"/v1/datasets/{body['id']}"
    assert body["name"] == "power"
    assert body["columns"] == ["load", "temp"]
    assert body["length"] == len(SERIES)
    assert_stats_match(body["stats"], ["load", "temp"], SERIES)
    assert "values" not in body


def test_json_upload_with_columns_and_name_is_created_with_exact_stats(
    client: TestClient,
) -> None:
    response = upload_json(client, {"name": "pair", "columns": ["x", "y"], "values": SERIES})
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"/v1/datasets/{body['id']}"
    assert body["name"] == "pair"
    assert body["columns"] == ["x", "y"]
    assert body["length"] == 6
    assert_stats_match(body["stats"], ["x", "y"], SERIES)


def test_json_flat_list_is_one_column_named_value(client: TestClient) -> None:
    values = [1.0, 2.0, 4.0, 8.0, -16.5]
    response = upload_json(client, {"values": values})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["name"] is None
    assert body["columns"] == ["value"]
    assert body["length"] == 5
    assert_stats_match(body["stats"], ["value"], [[v] for v in values])


def test_json_rows_without_names_get_value_1_value_2(client: TestClient) -> None:
    response = upload_json(client, {"values": [[1, 2, 3], [4, 5, 6]]})
    assert response.status_code == 201, response.text
    assert response.json()["columns"] == ["value_1", "value_2", "value_3"]


def test_json_content_type_with_charset_is_accepted(client: TestClient) -> None:
    response = client.post(
        "/v1/datasets",
        content=b'{"values": [1, 2, 3]}',
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("name", ["time", "timestamp", "date", "datetime", "ds", "Date"])
def test_csv_time_column_is_detected_by_name_and_dropped(client: TestClient, name: str) -> None:
    response = upload_csv(client, f"{name},v\n3,30\n1,10\n2,20\n")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["columns"] == ["v"]
    assert body["length"] == 3
    assert_stats_match(body["stats"], ["v"], [[30.0], [10.0], [20.0]])


def test_csv_named_time_column_with_iso_dates_is_dropped(client: TestClient) -> None:
    text = "when,v\n2024-01-03,3\n2024-01-01T00:00:00Z,1\n2024-01-02,2\n"
    response = upload_csv(client, text, time_column="when")
    assert response.status_code == 201, response.text
    assert response.json()["columns"] == ["v"]
    assert response.json()["length"] == 3


def test_csv_with_byte_order_mark_and_crlf_is_accepted(client: TestClient) -> None:
    response = upload_csv(client, "\ufeffa,b\r\n1,2\r\n3,4\r\n".encode())
    assert response.status_code == 201, response.text
    assert response.json()["columns"] == ["a", "b"]


# -- read, list, delete --------------------------------------------------------------------


def test_get_returns_the_same_record_the_upload_returned(client: TestClient) -> None:
    created = upload_json(client, {"name": "n", "values": [1.5, 2.5, 3.5]}).json()
    response = client.get(f"/v1/datasets/{created['id']}")
    assert response.status_code == 200
    assert response.json() == created


def test_list_is_newest_first_with_limit_offset_and_total(client: TestClient) -> None:
    ids = [
        upload_json(client, {"name": f"d{i}", "values": [i, i + 1]}).json()["id"] for i in range(3)
    ]
    page = client.get("/v1/datasets").json()
    assert page["total"] == 3
    assert page["limit"] == 50
    assert page["offset"] == 0
    assert [item["id"] for item in page["items"]] == ids[::-1]
    page = client.get("/v1/datasets", params={"limit": 1, "offset": 1}).json()
    assert page["total"] == 3
    assert (page["limit"], page["offset"]) == (1, 1)
    assert [item["id"] for item in page["items"]] == [ids[1]]
    assert client.get("/v1/datasets", params={"offset": 5}).json()["items"] == []


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 1001}, {"offset": -1}])
def test_list_refuses_out_of_range_paging(client: TestClient, params: dict[str, int]) -> None:
    response = client.get("/v1/datasets", params=params)
    error_of(response, 422, "validation_error", next(iter(params)))


def test_delete_removes_the_dataset(client: TestClient) -> None:
    dataset_id = upload_json(client, {"values": [1, 2, 3]}).json()["id"]
    response = client.delete(f"/v1/datasets/{dataset_id}")
    assert response.status_code == 204
    assert response.content == b""
    error_of(client.get(f"/v1/datasets/{dataset_id}"), 404, "not_found", "dataset_id")
    assert dataset_total(client) == 0
    error_of(client.delete(f"/v1/datasets/{dataset_id}"), 404, "not_found", "dataset_id")


def test_unknown_dataset_is_not_found(client: TestClient) -> None:
    unknown = "0123456789abcdef0123456789abcdef"
    message = error_of(client.get(f"/v1/datasets/{unknown}"), 404, "not_found", "dataset_id")
    assert unknown in message
    error_of(client.delete(f"/v1/datasets/{unknown}"), 404, "not_found", "dataset_id")


@pytest.mark.parametrize("bad_id", ["abc", "0123456789ABCDEF0123456789ABCDEF", "g" * 32, "0" * 33])
@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_malformed_dataset_id_is_a_validation_error(
    client: TestClient, method: str, bad_id: str
) -> None:
    response = client.request(method, f"/v1/datasets/{bad_id}")
    error_of(response, 422, "validation_error", "dataset_id")


def test_delete_is_refused_while_a_queued_job_uses_the_dataset(client: TestClient) -> None:
    dataset_id = upload_csv(client, LONG_CSV).json()["id"]
    job_id = queue_job_on(client, dataset_id)
    message = error_of(client.delete(f"/v1/datasets/{dataset_id}"), 409, "conflict", "dataset_id")
    assert "1 queued or running job" in message
    assert client.get(f"/v1/datasets/{dataset_id}").status_code == 200
    # Once the job is cancelled, nothing needs the dataset any more.
    assert client.post(f"/v1/jobs/{job_id}/cancel").status_code == 200
    assert client.delete(f"/v1/datasets/{dataset_id}").status_code == 204
    assert dataset_total(client) == 0


# -- CSV uploads that are refused ----------------------------------------------------------

CSV_REJECTIONS = [
    pytest.param("a,b\n1,2\n3,abc\n", {}, "file", ["line 3", "'b'", "'abc'"], id="non-numeric"),
    pytest.param("a,b\n1,2\n\n3,x\n", {}, "file", ["line 4", "'b'"], id="line-counts-blank"),
    pytest.param("a,b\n1,2\n3,\n", {}, "file", ["line 3", "'b'", "empty"], id="empty-cell"),
    pytest.param("a\n1\nnan\n", {}, "file", ["'a'", "not finite"], id="nan-cell"),
    pytest.param("a\n1\n-inf\n", {}, "file", ["'a'", "not finite"], id="inf-cell"),
    pytest.param("a\n1\n2e15\n", {}, "file", ["'a'", "1e+15"], id="over-1e15"),
    pytest.param("a,b\n1,2\n3\n", {}, "file", ["line 3", "1 cells", "2"], id="ragged-short"),
    pytest.param("a,b\n1,2,3\n", {}, "file", ["line 2", "3 cells", "2"], id="ragged-long"),
    pytest.param("", {}, "file", ["empty"], id="empty-file"),
    pytest.param("a,b\n", {}, "file", ["no rows"], id="header-only"),
    pytest.param("a,a\n1,2\n", {}, "file", ["duplicate", "'a'"], id="duplicate-column"),
    pytest.param("a,,b\n1,2,3\n", {}, "file", ["column 2", "empty name"], id="empty-name"),
    pytest.param(f"{'x' * 65}\n1\n", {}, "file", ["column 1", "64"], id="long-name"),
    pytest.param(b"a\n1\n\xff\n", {}, "file", ["UTF-8"], id="not-utf8"),
    pytest.param("a\n1\n", {"time_column": "t"}, "time_column", ["'t'"], id="unknown-time"),
    pytest.param("time\n1\n2\n", {}, "file", ["no value columns"], id="only-time-column"),
    pytest.param("time,a\n1,1\nsoon,2\n", {}, "file", ["line 3", "soon"], id="bad-time-value"),
    pytest.param("time,a\n1,1\n2,2\n1,3\n", {}, "time_column", ["repeated"], id="repeated-time"),
    pytest.param("a\n1\n", {"name": "n" * 129}, "name", ["128"], id="name-too-long"),
]


@pytest.mark.parametrize(("text", "form", "field", "mentions"), CSV_REJECTIONS)
def test_bad_csv_is_refused_naming_where_and_what_and_stores_nothing(
    client: TestClient,
    text: str | bytes,
    form: dict[str, str],
    field: str,
    mentions: list[str],
) -> None:
    before = dataset_total(client)
    message = error_of(upload_csv(client, text, **form), 422, "invalid_input", field)
    for expected in mentions:
        assert expected in message, message
    assert dataset_total(client) == before


def test_csv_non_finite_cell_message_names_its_line_like_other_csv_errors(
    client: TestClient,
) -> None:
    # Every other CSV cell error counts file lines (header = line 1, blank lines included);
    # "inf" sits on line 4 here, which is data row 2.
    message = error_of(upload_csv(client, "a\n1\n\ninf\n"), 422, "invalid_input", "file")
    assert "line 4" in message, message


def test_csv_row_of_empty_cells_is_refused_not_dropped(client: TestClient) -> None:
    message = error_of(upload_csv(client, "a,b\n1,2\n,\n3,4\n"), 422, "invalid_input", "file")
    assert "line 3" in message, message
    assert dataset_total(client) == 0


def test_csv_repeated_time_value_message_names_the_lines(client: TestClient) -> None:
    response = upload_csv(client, "time,a\n1,1\n2,2\n1,3\n")
    message = error_of(response, 422, "invalid_input", "time_column")
    assert "line 2" in message, message
    assert "line 4" in message, message


def test_csv_rows_over_the_limit_are_refused_naming_the_limit(make_client: AppFactory) -> None:
    client = make_client(max_dataset_rows=10)
    assert upload_csv(client, "a\n" + "1\n" * 10).status_code == 201
    message = error_of(upload_csv(client, "a\n" + "1\n" * 11), 422, "invalid_input", "file")
    assert "10" in message
    assert dataset_total(client) == 1


def test_csv_columns_over_the_limit_are_refused_naming_the_limit(make_client: AppFactory) -> None:
    client = make_client(max_dataset_columns=2)
    assert upload_csv(client, "a,b\n1,2\n").status_code == 201
    assert upload_csv(client, "time,a,b\n1,2,3\n2,3,4\n").status_code == 201  # time not counted
    message = error_of(upload_csv(client, "a,b,c\n1,2,3\n"), 422, "invalid_input", "file")
    assert "at most 2" in message
    assert dataset_total(client) == 2


def test_csv_far_over_the_column_limit_names_the_configured_limit(
    make_client: AppFactory,
) -> None:
    client = make_client(max_dataset_columns=2)
    message = error_of(upload_csv(client, "a,b,c,d\n1,2,3,4\n"), 422, "invalid_input", "file")
    assert "at most 2" in message, message


# -- JSON uploads that are refused ---------------------------------------------------------

JSON_REJECTIONS = [
    pytest.param({"values": [[1, 2], [3]]}, "values[1]", ["row 2", "1 values", "2"], id="ragged"),
    pytest.param(
        {"columns": ["a"], "values": [[1, 2]]}, "values[0]", ["row 1", "expected 1"], id="width"
    ),
    pytest.param({"values": []}, "values", ["no rows"], id="no-rows"),
    pytest.param({"values": [[], []]}, "values", ["no values"], id="empty-rows"),
    pytest.param(
        {"columns": ["a", "a"], "values": [[1, 2]]}, "columns", ["duplicate", "'a'"], id="dup"
    ),
    pytest.param(
        {"columns": ["a", ""], "values": [[1, 2]]}, "columns", ["column 2", "empty"], id="empty"
    ),
    pytest.param({"values": [1, 2e15]}, "values", ["row 2", "'value'", "1e+15"], id="over-1e15"),
]


@pytest.mark.parametrize(("body", "field", "mentions"), JSON_REJECTIONS)
def test_bad_json_upload_is_refused_naming_where_and_what_and_stores_nothing(
    client: TestClient, body: dict[str, Any], field: str, mentions: list[str]
) -> None:
    message = error_of(upload_json(client, body), 422, "invalid_input", field)
    for expected in mentions:
        assert expected in message, message
    assert dataset_total(client) == 0


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_json_non_finite_number_is_refused(client: TestClient, literal: str) -> None:
    response = client.post(
        "/v1/datasets",
        content=f'{{"values": [1.0, {literal}, 3.0]}}'.encode(),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["field"].startswith("values")
    assert "finite" in error["message"]
    assert dataset_total(client) == 0


def test_json_non_finite_number_error_field_points_at_the_bad_value(client: TestClient) -> None:
    response = client.post(
        "/v1/datasets",
        content=b'{"values": [1.0, NaN, 3.0]}',
        headers={"content-type": "application/json"},
    )
    error_of(response, 422, "validation_error", "values[1]")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", "body"),
        (b'{"columns": ["a"]}', "values"),
        (b'{"values": [1, 2], "extra": 1}', "extra"),
        (b'{"values": [1, 2], "name": "' + b"n" * 129 + b'"}', "name"),
    ],
)
def test_malformed_json_upload_is_a_validation_error(
    client: TestClient, body: bytes, field: str
) -> None:
    response = client.post(
        "/v1/datasets", content=body, headers={"content-type": "application/json"}
    )
    error_of(response, 422, "validation_error", field)
    assert dataset_total(client) == 0


def test_json_rows_over_the_limit_are_refused_naming_the_limit(make_client: AppFactory) -> None:
    client = make_client(max_dataset_rows=10)
    assert upload_json(client, {"values": list(range(10))}).status_code == 201
    message = error_of(
        upload_json(client, {"values": list(range(11))}), 422, "invalid_input", "values"
    )
    assert "at most 10" in message
    assert dataset_total(client) == 1


def test_json_columns_over_the_limit_are_refused_naming_the_limit(make_client: AppFactory) -> None:
    client = make_client(max_dataset_columns=2)
    response = upload_json(client, {"columns": ["a", "b", "c"], "values": [[1, 2, 3]]})
    message = error_of(response, 422, "invalid_input", "columns")
    assert "at most 2" in message
    assert dataset_total(client) == 0


# -- requests that are not an upload at all ------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "shown"),
    [({"content-type": "text/csv"}, "text/csv"), ({"content-type": "text/plain"}, "text/plain")],
)
def test_unsupported_content_type_is_415(
    client: TestClient, headers: dict[str, str], shown: str
) -> None:
    response = client.post("/v1/datasets", content=b"a\n1\n", headers=headers)
    message = error_of(response, 415, "unsupported_media_type", "content-type")
    assert shown in message
    assert dataset_total(client) == 0


def test_missing_content_type_is_415(client: TestClient) -> None:
    response = client.post("/v1/datasets", content=b"a\n1\n")
    error_of(response, 415, "unsupported_media_type", "content-type")


def test_form_without_a_file_field_is_refused(client: TestClient) -> None:
    response = client.post(
        "/v1/datasets", files={"upload": ("series.csv", b"a\n1\n2\n", "text/csv")}
    )
    message = error_of(response, 422, "invalid_input", "file")
    assert "'file'" in message
    assert dataset_total(client) == 0


def test_file_sent_as_a_plain_text_field_is_refused(client: TestClient) -> None:
    response = client.post("/v1/datasets", files={"file": (None, "a\n1\n2\n")})
    error_of(response, 422, "invalid_input", "file")
    assert dataset_total(client) == 0


def test_json_bare_list_is_one_column(client: TestClient) -> None:
    response = client.post("/v1/datasets", json=[1.0, 2.0, 4.0])
    assert response.status_code == 201, response.text
    assert response.json()["columns"] == ["value"]
    assert response.json()["length"] == 3
    bad = client.post("/v1/datasets", json=[1.0, "x"])
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "values[1]"
