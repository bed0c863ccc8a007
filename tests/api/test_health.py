"""/healthz, /readyz, /metrics, /docs."""

from __future__ import annotations

import shutil

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.core.db import StoreInUse
from app.main import create_app


def test_healthz_is_ok(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_checks_database_and_model_store(client: TestClient) -> None:
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "models": "ok"}
    shutil.rmtree(client.app.state.checkpoints.root)  # type: ignore[attr-defined]
    unready = client.get("/readyz")
    assert unready.status_code == 503
    assert unready.json()["checks"]["models"].startswith("error")


def test_metrics_count_requests_by_route_template(client: TestClient) -> None:
    client.get(f"/v1/jobs/{'a' * 32}")
    client.get("/no/such/path")
    text = client.get("/metrics").text
    assert (
        'forecast_http_requests_total{method="GET",route="/v1/jobs/{job_id}",status="404"} 1.0'
        in text
    )
    assert 'route="unmatched"' in text
    assert 'forecast_jobs{status="queued"} 0.0' in text
    assert "forecast_models_loaded 0.0" in text


def test_docs_and_openapi_document_every_route(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    schema = client.get("/openapi.json").json()
    operations = {
        (method.upper(), path) for path, item in schema["paths"].items() for method in item
    }
    assert operations == {
        ("GET", "/v1/functions"),
        ("POST", "/v1/datasets"), ("GET", "/v1/datasets"),
        ("GET", "/v1/datasets/{dataset_id}"), ("DELETE", "/v1/datasets/{dataset_id}"),
        ("GET", "/v1/datasets/{dataset_id}/series"),
        ("POST", "/v1/jobs"), ("GET", "/v1/jobs"), ("GET", "/v1/jobs/{job_id}"),
        ("POST", "/v1/jobs/{job_id}/cancel"), ("GET", "/v1/jobs/{job_id}/events"),
        ("GET", "/v1/jobs/{job_id}/history"),
        ("GET", "/v1/models"), ("GET", "/v1/models/{model_name}"),
        ("DELETE", "/v1/models/{model_name}"),
        ("DELETE", "/v1/models/{model_name}/versions/{version}"),
        ("GET", "/v1/models/{model_name}/versions/{version}/series"),
        ("POST", "/v1/models/{model_name}/forecast"),
        ("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics"),
    }  # fmt: skip
    for method, path in operations:
        operation = schema["paths"][path][method.lower()]
        assert operation.get("summary") or operation.get("description"), path
        assert any(code.startswith("2") for code in operation["responses"]), (method, path)
        for code, response in operation["responses"].items():
            if code[0] in "45" and path != "/readyz":
                assert "ErrorBody" in str(response), (method, path, code)
    components = schema["components"]["schemas"]
    assert {"model_name": "sine", "data": {"function": "sin"}} in components["TrainRequest"][
        "examples"
    ]
    for model in ("JobRead", "ForecastResponse", "DatasetRead", "ErrorBody", "ForecastRequest"):
        assert components[model].get("examples"), model


def test_a_second_instance_on_the_same_sqlite_store_refuses_to_start(
    client: TestClient, settings: Settings
) -> None:
    with pytest.raises(StoreInUse, match="another instance"), TestClient(create_app(settings)):
        pass
    assert client.get("/healthz").status_code == 200  # the first one is unaffected
