"""FORECAST_MAX_UPLOAD_BYTES: bodies over the limit are a 413, declared or chunked."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.conftest import AppFactory

LIMIT = 2048
BOUNDARY = "limit-test-boundary"


@pytest.fixture
def limited(make_client: AppFactory) -> TestClient:
    return make_client(max_upload_bytes=LIMIT)


def chunks(data: bytes, size: int = 256) -> Iterator[bytes]:
    """A body with no Content-Length: httpx sends it chunked."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


def multipart(csv: bytes) -> bytes:
    return (
        (
            f"--{BOUNDARY}\r\n"
            'Content-Disposition: form-data; name="file"; filename="series.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        + csv
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


def csv_of(rows: int) -> bytes:
    return ("v\n" + "".join(f"{i * 0.5}\n" for i in range(rows))).encode()


def post_chunked(client: TestClient, url: str, body: bytes, content_type: str) -> httpx.Response:
    response = client.post(url, content=chunks(body), headers={"content-type": content_type})
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    return response


def assert_too_large(response: httpx.Response) -> None:
    assert response.status_code == 413, response.text
    error = response.json()["error"]
    assert error["code"] == "payload_too_large"
    assert str(LIMIT) in error["message"]


def totals(client: TestClient) -> tuple[int, int]:
    """(datasets, jobs) stored."""
    return (
        client.get("/v1/datasets").json()["total"],
        client.get("/v1/jobs").json()["total"],
    )


def train_spec(values: list[float]) -> dict[str, object]:
    return {"model_name": "m", "data": {"values": values}}


# -- datasets ------------------------------------------------------------------------------


def test_csv_upload_over_the_limit_with_content_length_is_413(limited: TestClient) -> None:
    data = csv_of(1000)
    assert len(data) > LIMIT
    response = limited.post("/v1/datasets", files={"file": ("s.csv", data, "text/csv")})
    assert int(response.request.headers["content-length"]) > LIMIT
    assert_too_large(response)
    assert totals(limited) == (0, 0)


def test_chunked_csv_upload_over_the_limit_is_413(limited: TestClient) -> None:
    body = multipart(csv_of(1000))
    response = post_chunked(
        limited, "/v1/datasets", body, f"multipart/form-data; boundary={BOUNDARY}"
    )
    assert_too_large(response)
    assert totals(limited) == (0, 0)


def test_chunked_csv_upload_under_the_limit_is_stored(limited: TestClient) -> None:
    body = multipart(csv_of(50))
    assert len(body) < LIMIT
    response = post_chunked(
        limited, "/v1/datasets", body, f"multipart/form-data; boundary={BOUNDARY}"
    )
    assert response.status_code == 201, response.text
    assert response.json()["length"] == 50
    assert totals(limited) == (1, 0)


def test_json_upload_over_the_limit_is_413_declared_or_chunked(limited: TestClient) -> None:
    body = json.dumps({"values": [i * 0.5 for i in range(1000)]}).encode()
    assert len(body) > LIMIT
    declared = limited.post(
        "/v1/datasets", content=body, headers={"content-type": "application/json"}
    )
    assert_too_large(declared)
    assert_too_large(post_chunked(limited, "/v1/datasets", body, "application/json"))
    assert totals(limited) == (0, 0)


def test_upload_exactly_at_the_limit_is_not_refused_for_size(limited: TestClient) -> None:
    prefix, suffix = b'{"values": [1', b"]}"
    body = prefix + b" " * (LIMIT - len(prefix) - len(suffix)) + suffix
    assert len(body) == LIMIT
    response = limited.post(
        "/v1/datasets", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 201, response.text


# -- training jobs -------------------------------------------------------------------------


def test_job_with_huge_inline_values_is_413_and_queues_nothing(limited: TestClient) -> None:
    spec = train_spec([i * 0.001 for i in range(5000)])
    response = limited.post("/v1/jobs", json=spec)
    assert int(response.request.headers["content-length"]) > LIMIT
    assert_too_large(response)
    assert totals(limited) == (0, 0)


def test_chunked_job_with_huge_inline_values_is_413(limited: TestClient) -> None:
    body = json.dumps(train_spec([i * 0.001 for i in range(5000)])).encode()
    assert_too_large(post_chunked(limited, "/v1/jobs", body, "application/json"))
    assert totals(limited) == (0, 0)


def test_job_under_the_limit_is_queued_declared_or_chunked(limited: TestClient) -> None:
    spec = train_spec([float(i % 7) for i in range(200)])
    assert len(json.dumps(spec)) < LIMIT
    response = limited.post("/v1/jobs", json=spec)
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "queued"
    chunked = post_chunked(limited, "/v1/jobs", json.dumps(spec).encode(), "application/json")
    assert chunked.status_code == 202, chunked.text
    assert totals(limited) == (2, 2)  # inline values are kept as a dataset per job


def test_default_limit_accepts_a_large_upload(client: TestClient) -> None:
    data = csv_of(20_000)  # about 180 kB, far under the 50 MiB default
    response = client.post("/v1/datasets", files={"file": ("s.csv", data, "text/csv")})
    assert response.status_code == 201, response.text
    assert response.json()["length"] == 20_000
