"""Input and target columns over the API: train cos from sin, forecast with known covariates."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.jobs.table import JobStatus
from app.main import create_app
from tests.factories import inline_repositories, make_settings, run_inline

PARAMS = {"points": 600, "stop": 60}
STEP = 60 / 599
COS_FROM_SIN = {
    "model_name": "cos-from-sin",
    "data": {"function": "sin_cos", "params": PARAMS},
    "inputs": ["sin"],
    "targets": ["cos"],
    "window": {"lookback": 6},
    "architecture": {"hidden_size": 8, "num_layers": 1, "highway": True},
    "training": {"epochs": 30},
}
WITH_COVARIATE = COS_FROM_SIN | {"model_name": "cos-with-sin", "inputs": ["sin", "cos"]}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    root = tmp_path_factory.mktemp("covariates")
    settings, repos = inline_repositories(root)
    for spec in (COS_FROM_SIN, WITH_COVARIATE):
        final = run_inline(settings, repos, spec)
        assert final.status == JobStatus.SUCCEEDED, final.error
    with TestClient(create_app(make_settings(root))) as test_client:
        yield test_client


def sin_at(steps: np.ndarray) -> list[float]:
    return [float(v) for v in np.sin(steps * STEP)]


def test_the_job_records_its_columns_and_target_metrics(client: TestClient) -> None:
    jobs = client.get("/v1/jobs").json()["items"]
    job = client.get(f"/v1/jobs/{jobs[-1]['id']}").json()
    assert job["spec"]["inputs"] == ["sin"]
    assert job["spec"]["targets"] == ["cos"]
    assert job["metrics"]["one_step"]["mse"] < job["metrics"]["naive_one_step"]["mse"]


def test_forecast_from_known_future_inputs_predicts_the_target(client: TestClient) -> None:
    horizon = 40
    future = sin_at(np.arange(600, 600 + horizon))
    response = client.post(
        "/v1/models/cos-from-sin/forecast", json={"horizon": horizon, "future": {"sin": future}}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["columns"] == ["cos"]
    predicted = np.asarray(body["forecast"])[:, 0]
    # Step k is predicted from the six sine values before it: the tail, then the given future.
    truth = np.cos(np.arange(600, 600 + horizon) * STEP)
    assert float(np.sqrt(np.mean((predicted - truth) ** 2))) < 0.1


def test_a_context_gives_the_input_columns_only(client: TestClient) -> None:
    context = sin_at(np.arange(100, 106))
    future = sin_at(np.arange(106, 116))
    response = client.post(
        "/v1/models/cos-from-sin/forecast",
        json={"horizon": 10, "context": context, "future": {"sin": future}},
    )
    assert response.status_code == 200, response.text
    wide = client.post(
        "/v1/models/cos-from-sin/forecast",
        json={"horizon": 10, "context": [[v, v] for v in context], "future": {"sin": future}},
    )
    assert wide.status_code == 422
    assert wide.json()["error"]["code"] == "context_width"


@pytest.mark.parametrize(
    ("future", "field", "code"),
    [
        (None, "future.sin", "covariates_missing"),
        ({"sin": [0.1] * 9}, "future.sin", "covariates_missing"),
        ({"sin": [0.1] * 10, "tan": [0.0] * 10}, "future.tan", "unknown_covariate"),
    ],
)
def test_missing_short_or_unknown_covariates_are_422(
    client: TestClient, future: dict[str, list[float]] | None, field: str, code: str
) -> None:
    body: dict[str, object] = {"horizon": 10}
    if future is not None:
        body["future"] = future
    response = client.post("/v1/models/cos-from-sin/forecast", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["field"], error["code"]) == (field, code)
    assert "10" in error["message"] or "tan" in error["message"]


def test_a_model_fed_its_target_back_needs_only_the_covariate(client: TestClient) -> None:
    future = sin_at(np.arange(600, 620))
    response = client.post(
        "/v1/models/cos-with-sin/forecast", json={"horizon": 20, "future": {"sin": future}}
    )
    assert response.status_code == 200, response.text
    assert response.json()["columns"] == ["cos"]
    truth = np.cos(np.arange(600, 620) * STEP)
    predicted = np.asarray(response.json()["forecast"])[:, 0]
    assert float(np.sqrt(np.mean((predicted - truth) ** 2))) < 0.1


def test_covariates_with_several_contexts_are_refused(client: TestClient) -> None:
    context = sin_at(np.arange(100, 106))
    response = client.post(
        "/v1/models/cos-from-sin/forecast",
        json={"horizon": 5, "contexts": [context, context], "future": {"sin": [0.0] * 5}},
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "covariates_need_one_context"


def test_an_autoregressive_model_takes_no_future(models_client: TestClient) -> None:
    response = models_client.post(
        "/v1/models/tiny-sine/forecast", json={"horizon": 3, "future": {"sin": [0.0] * 3}}
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "no_covariates"


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"inputs": ["tan"]}, "inputs", "unknown_column"),
        ({"targets": ["sin", "tan"]}, "targets", "unknown_column"),
        ({"architecture": {"instance_norm": True}}, "architecture.instance_norm", None),
        ({"training": {"stateful": True}, "window": {"lookback": 6, "horizon": 2}},
         "training.stateful", None),
    ],
)  # fmt: skip
def test_submitting_unusable_columns_is_422(
    make_client: object, change: dict[str, object], field: str, code: str | None
) -> None:
    client = make_client()  # type: ignore[operator]
    response = client.post("/v1/jobs", json=COS_FROM_SIN | change)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == field
    if code is not None:
        assert error["code"] == code


def test_naming_a_column_twice_is_422(make_client: object) -> None:
    client = make_client()  # type: ignore[operator]
    response = client.post("/v1/jobs", json=COS_FROM_SIN | {"inputs": ["sin", "sin"]})
    assert response.status_code == 422
    assert "twice" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "change",
    [
        {
            "window": {"lookback": 10000, "patch": 1000, "horizon": 1000},
            "architecture": {"highway": True},
        },  # fmt: skip
        {
            "training": {"stateful": True, "tbptt": 10000, "batch_size": 8192},
            "architecture": {"hidden_size": 1024, "num_layers": 8},
        },  # fmt: skip
    ],
)
def test_jobs_whose_weights_or_chunks_would_not_fit_are_refused(
    make_client: object, change: dict[str, object]
) -> None:
    # The highway alone holds 40 M weights here: 640 MB with gradients and Adam's moments.
    client = make_client(max_train_memory_mb=256)  # type: ignore[operator]
    spec = {
        "model_name": "huge",
        "data": {"function": "sin_cos", "params": {"points": 100_000}},
    } | change
    response = client.post("/v1/jobs", json=spec)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "job_too_large"


def test_instance_norm_needs_two_rows(make_client: object) -> None:
    client = make_client()  # type: ignore[operator]
    spec = COS_FROM_SIN | {
        "inputs": None,
        "targets": None,
        "window": {"lookback": 1},
        "architecture": {"instance_norm": True},
    }
    response = client.post("/v1/jobs", json=spec)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "architecture.instance_norm"
