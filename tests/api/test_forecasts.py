"""POST /v1/models/{name}/forecast on the bundled `sine` and the session's trained models."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
from fastapi.testclient import TestClient

from tests.conftest import AppFactory
from tests.factories import BUNDLED_MODELS


def sine_after(x_end: float, step: float, horizon: int) -> np.ndarray:
    return np.sin(x_end + step * np.arange(1, horizon + 1))


def test_forecast_without_context_continues_the_training_series(models_client: TestClient) -> None:
    response = models_client.post("/v1/models/sine/forecast", json={"horizon": 200})
    assert response.status_code == 200
    body = response.json()
    assert body["model"] == "sine"
    assert body["version"] == 1
    assert body["columns"] == ["sin"]
    assert body["device"] == "cpu"
    assert body["forecasts"] is None
    predicted = np.asarray(body["forecast"])[:, 0]
    truth = sine_after(100.0, 100.0 / 9999, 200)  # the bundled model saw sin on [0, 100]
    assert math.sqrt(np.mean((predicted - truth) ** 2)) < 0.05


def test_forecast_from_explicit_context_follows_the_sine(models_client: TestClient) -> None:
    step = 100.0 / 9999
    x = 3.0 + step * np.arange(10)
    response = models_client.post(
        "/v1/models/sine/forecast", json={"horizon": 100, "context": np.sin(x).tolist()}
    )
    assert response.status_code == 200
    predicted = np.asarray(response.json()["forecast"])[:, 0]
    assert math.sqrt(np.mean((predicted - sine_after(x[-1], step, 100)) ** 2)) < 0.05


def test_batched_contexts_equal_single_forecasts(models_client: TestClient) -> None:
    step = 100.0 / 9999
    contexts = [np.sin(start + step * np.arange(12)).tolist() for start in (0.0, 1.0, 2.5)]
    batched = models_client.post(
        "/v1/models/sine/forecast", json={"horizon": 30, "contexts": contexts}
    )
    assert batched.status_code == 200
    forecasts = batched.json()["forecasts"]
    assert batched.json()["forecast"] is None
    assert np.asarray(forecasts).shape == (3, 30, 1)
    for context, forecast in zip(contexts, forecasts, strict=True):
        single = models_client.post(
            "/v1/models/sine/forecast", json={"horizon": 30, "context": context}
        ).json()["forecast"]
        np.testing.assert_allclose(forecast, single, atol=1e-6)


def test_forecast_of_two_column_chunk_model(models_client: TestClient) -> None:
    response = models_client.post("/v1/models/pair/forecast", json={"horizon": 7})
    assert response.status_code == 200
    body = response.json()
    assert body["columns"] == ["sin", "cos"]
    assert np.asarray(body["forecast"]).shape == (7, 2)
    rows = [[math.sin(v), math.cos(v)] for v in np.linspace(0, 0.5, 6)]
    contexted = models_client.post("/v1/models/pair/forecast", json={"horizon": 3, "context": rows})
    assert contexted.status_code == 200


def test_context_shorter_than_lookback_is_422_naming_the_length(models_client: TestClient) -> None:
    response = models_client.post(
        "/v1/models/sine/forecast", json={"horizon": 5, "context": [0.1, 0.2, 0.3, 0.4]}
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "context_too_short"
    assert error["field"] == "context"
    assert "4 rows" in error["message"]
    assert "at least 10" in error["message"]


def test_batched_context_too_short_names_its_index(models_client: TestClient) -> None:
    contexts = [[0.0] * 10, [0.0] * 3]
    response = models_client.post(
        "/v1/models/sine/forecast", json={"horizon": 5, "contexts": contexts}
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "contexts[1]"


def test_context_of_wrong_width_is_422(models_client: TestClient) -> None:
    response = models_client.post(
        "/v1/models/pair/forecast", json={"horizon": 2, "context": [[0.0, 1.0, 2.0]] * 6}
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "context_width"


def test_context_with_nan_or_both_kinds_is_422(models_client: TestClient) -> None:
    raw = json.dumps({"horizon": 2, "context": [0.0] * 9})[:-2] + ", NaN]}"
    nan = models_client.post(
        "/v1/models/sine/forecast", content=raw, headers={"content-type": "application/json"}
    )
    assert nan.status_code == 422
    both = models_client.post(
        "/v1/models/sine/forecast",
        json={"horizon": 2, "context": [0.0] * 10, "contexts": [[0.0] * 10]},
    )
    assert both.status_code == 422


def test_horizon_over_the_limit_is_422_naming_it(make_client: AppFactory) -> None:
    client = make_client(max_horizon=50)
    shutil.copytree(BUNDLED_MODELS, client.app.state.checkpoints.root, dirs_exist_ok=True)  # type: ignore[attr-defined]
    response = client.post("/v1/models/sine/forecast", json={"horizon": 51})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "horizon_too_large"
    assert "50" in error["message"]
    assert client.post("/v1/models/sine/forecast", json={"horizon": 0}).status_code == 422


def test_unknown_model_or_version_is_404_and_bad_name_422(models_client: TestClient) -> None:
    assert models_client.post("/v1/models/nope/forecast", json={"horizon": 1}).status_code == 404
    missing = models_client.post("/v1/models/sine/forecast", json={"horizon": 1, "version": 9})
    assert missing.status_code == 404
    assert missing.json()["error"]["field"] == "version"
    assert (
        models_client.post("/v1/models/Bad.Name/forecast", json={"horizon": 1}).status_code == 422
    )


def test_tampered_checkpoint_is_refused(models_client: TestClient) -> None:
    weights = models_client.app.state.checkpoints.root / "tiny-sine" / "1" / "weights.safetensors"  # type: ignore[attr-defined]
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    response = models_client.post("/v1/models/tiny-sine/forecast", json={"horizon": 1})
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "checkpoint_unreadable"
    assert "SHA-256" in response.json()["error"]["message"]


def test_forecast_whose_work_is_over_the_limit_is_422(make_client: AppFactory) -> None:
    client = make_client(max_forecast_gflop=1e-4, max_forecast_values=500)
    shutil.copytree(BUNDLED_MODELS, client.app.state.checkpoints.root, dirs_exist_ok=True)  # type: ignore[attr-defined]
    # The bundled sine: one step of a 2-layer, 32-unit LSTM per 10 rows, about 27 kFLOP a call
    # (30 rows: 3 calls, 400 rows: 40).
    assert client.post("/v1/models/sine/forecast", json={"horizon": 30}).status_code == 200
    work = client.post("/v1/models/sine/forecast", json={"horizon": 400})
    assert work.status_code == 422
    assert work.json()["error"]["code"] == "forecast_too_large"
    assert "FORECAST_MAX_FORECAST_GFLOP" in work.json()["error"]["message"]
    contexts = [[0.0] * 10] * 20
    values = client.post("/v1/models/sine/forecast", json={"horizon": 30, "contexts": contexts})
    assert values.status_code == 422
    assert "FORECAST_MAX_FORECAST_VALUES" in values.json()["error"]["message"]
