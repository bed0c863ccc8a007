"""/healthz, /readyz, /metrics, /docs."""

from __future__ import annotations

import shutil

from fastapi.testclient import TestClient


def test_healthz_is_ok(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_checks_database_and_model_store(client: TestClient) -> None:
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "models": "ok"}
    shutil.rmtree(client.app.state.models.root)  # type: ignore[attr-defined]
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
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/v1/jobs", "/v1/datasets", "/v1/models/{model_name}/forecast", "/metrics"):
        assert path in paths
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert {"model_name": "sine", "data": {"function": "sin"}} in schemas["TrainRequest"][
        "examples"
    ]
    assert "422" in paths["/v1/models/{model_name}/forecast"]["post"]["responses"]
