"""/v1/jobs with no worker running (workers=0): submission, validation, listing, cancel."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from fastapi.testclient import TestClient

MINIMAL = {"model_name": "sine", "data": {"function": "sin"}}


def submit(client: TestClient, body: dict[str, Any]) -> Any:
    return client.post("/v1/jobs", json=body)


def test_create_job_minimal_body_returns_202_queued_with_location(client: TestClient) -> None:
    response = submit(client, MINIMAL)
    assert response.status_code == 202
    job = response.json()
    assert job["status"] == "queued"
    assert response.headers["location"] == f"/v1/jobs/{job['id']}"
    assert job["spec"]["window"] == {"lookback": 10, "horizon": 1, "patch": 1}
    assert job["spec"]["training"]["optimizer"] == "adam"
    assert job["spec"]["training"]["seed"] == 0
    assert job["spec"]["device"] == "auto"
    assert job["progress"] is None
    assert job["metrics"] is None
    assert job["model"] is None


def test_read_job_returns_what_was_submitted(client: TestClient) -> None:
    body = MINIMAL | {"window": {"lookback": 20, "horizon": 5}, "training": {"epochs": 3}}
    created = submit(client, body).json()
    response = client.get(f"/v1/jobs/{created['id']}")
    assert response.status_code == 200
    job = response.json()
    assert job["spec"]["window"] == {"lookback": 20, "horizon": 5, "patch": 1}
    assert job["spec"]["training"]["epochs"] == 3
    assert job["history"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"model_name": "sine", "data": {"function": "tan"}}, "data.function"),
        ({"model_name": "Sine!", "data": {"function": "sin"}}, "model_name"),
        ({"model_name": "x" * 65, "data": {"function": "sin"}}, "model_name"),
        ({"model_name": "sine", "data": {}}, "data"),
        ({"model_name": "sine"}, "data"),
        (MINIMAL | {"window": {"lookback": 0}}, "window.lookback"),
        (MINIMAL | {"training": {"optimizer": "lbfgs"}}, "training.optimizer"),
        (MINIMAL | {"training": {"learning_rate": 0}}, "training.learning_rate"),
        (MINIMAL | {"training": {"epochs": 10**6}}, "training.epochs"),
        (MINIMAL | {"device": "tpu"}, "device"),
        (MINIMAL | {"colour": "red"}, "colour"),
        (
            {"model_name": "s", "data": {"function": "sin", "params": {"freq": 2}}},
            "data.params.freq",
        ),
        (
            {"model_name": "s", "data": {"function": "sin", "params": {"points": 1.5}}},
            "data.params.points",
        ),
        (
            {"model_name": "s", "data": {"function": "sin", "params": {"stop": -1}}},
            "data.params.stop",
        ),
        ({"model_name": "s", "data": {"dataset_id": "0" * 32}}, "data.dataset_id"),
        ({"model_name": "s", "data": {"values": [[1, 2], [3]]}}, "data.values[1]"),
        ({"model_name": "s", "data": {"values": []}}, "data.values"),
    ],
)
def test_create_job_rejects_invalid_spec_naming_the_field(
    client: TestClient, body: dict[str, Any], field: str
) -> None:
    response = submit(client, body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field
    assert client.get("/v1/jobs").json()["total"] == 0  # nothing was queued


def test_create_job_rejects_series_too_short_for_window_and_split(client: TestClient) -> None:
    # 30 points: 24 train, 3 validation, 3 test rows; a 5-step horizon fits in neither of the last.
    body = {"model_name": "s", "data": {"function": "sin", "params": {"points": 30}}}
    response = submit(client, body | {"window": {"lookback": 10, "horizon": 5}})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "series_too_short"
    assert "validation split (3 rows)" in error["message"]
    assert "test split (3 rows)" in error["message"]


def test_create_job_rejects_fractions_leaving_too_little_training(client: TestClient) -> None:
    body = MINIMAL | {"training": {"validation_fraction": 0.5, "test_fraction": 0.4}}
    response = submit(client, body)
    assert response.status_code == 422
    assert "at most 0.8" in response.json()["error"]["message"]


def test_create_job_rejects_nan_literal(client: TestClient) -> None:
    raw = '{"model_name": "s", "data": {"values": [1.0, NaN, 2.0]}}'
    response = client.post("/v1/jobs", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422


def test_create_job_accepts_inline_values_and_uploaded_dataset(client: TestClient) -> None:
    values = [[float(i % 7), float(i % 5)] for i in range(200)]
    inline = submit(client, {"model_name": "s", "data": {"values": values, "columns": ["a", "b"]}})
    assert inline.status_code == 202
    dataset = client.post("/v1/datasets", json={"values": [float(i % 9) for i in range(300)]})
    assert dataset.status_code == 201
    from_dataset = submit(client, {"model_name": "s", "data": {"dataset_id": dataset.json()["id"]}})
    assert from_dataset.status_code == 202


def test_read_job_unknown_is_404_and_malformed_id_is_422(client: TestClient) -> None:
    assert client.get(f"/v1/jobs/{'a' * 32}").status_code == 404
    assert client.get(f"/v1/jobs/{'a' * 32}").json()["error"]["code"] == "not_found"
    assert client.get("/v1/jobs/not-an-id").status_code == 422


def test_list_jobs_newest_first_with_status_filter_and_pages(client: TestClient) -> None:
    ids = [submit(client, MINIMAL).json()["id"] for _ in range(5)]
    client.post(f"/v1/jobs/{ids[0]}/cancel")
    page = client.get("/v1/jobs", params={"limit": 2}).json()
    assert page["total"] == 5
    assert [job["id"] for job in page["items"]] == ids[::-1][:2]
    second = client.get("/v1/jobs", params={"limit": 2, "offset": 2}).json()
    assert [job["id"] for job in second["items"]] == ids[::-1][2:4]
    cancelled = client.get("/v1/jobs", params={"status": "cancelled"}).json()
    assert [job["id"] for job in cancelled["items"]] == [ids[0]]
    assert client.get("/v1/jobs", params={"status": "done"}).status_code == 422
    assert client.get("/v1/jobs", params={"limit": 0}).status_code == 422


def test_cancel_queued_job_is_immediate_and_second_cancel_conflicts(client: TestClient) -> None:
    job_id = submit(client, MINIMAL).json()["id"]
    response = client.post(f"/v1/jobs/{job_id}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    again = client.post(f"/v1/jobs/{job_id}/cancel")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "job_finished"
    assert client.post(f"/v1/jobs/{'b' * 32}/cancel").status_code == 404


def test_create_job_on_a_missing_gpu_is_422_before_queueing(client: TestClient) -> None:
    if torch.cuda.device_count() > 7:
        pytest.skip("this host has a cuda:7")
    response = submit(client, MINIMAL | {"device": "cuda:7"})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "device_unavailable"
    assert response.json()["error"]["field"] == "device"
    assert client.get("/v1/jobs").json()["total"] == 0


def test_create_job_stores_the_resolved_function_parameters(client: TestClient) -> None:
    job = submit(
        client, {"model_name": "s", "data": {"function": "sin", "params": {"points": 500}}}
    )
    params = job.json()["spec"]["data"]["params"]
    assert params == {"start": 0.0, "stop": 100.0, "points": 500, "noise": 0.0, "seed": 0}


def test_create_job_keeps_inline_values_as_a_dataset(client: TestClient) -> None:
    values = [float(i % 9) for i in range(300)]
    job = submit(client, {"model_name": "s", "data": {"values": values, "columns": ["load"]}})
    assert job.status_code == 202
    dataset_id = job.json()["spec"]["data"]["dataset_id"]
    dataset = client.get(f"/v1/datasets/{dataset_id}").json()
    assert dataset["columns"] == ["load"]
    assert dataset["length"] == 300
    assert client.delete(f"/v1/datasets/{dataset_id}").status_code == 409  # the job needs it


def test_create_job_whose_batch_needs_too_much_memory_is_422(client: TestClient) -> None:
    big = {
        "window": {"lookback": 1000},
        "architecture": {"hidden_size": 1024, "num_layers": 8},
        "training": {"batch_size": 8192},
    }
    response = submit(client, MINIMAL | big)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "job_too_large"
    assert "FORECAST_MAX_TRAIN_MEMORY_MB" in response.json()["error"]["message"]
