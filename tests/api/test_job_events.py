"""GET /v1/jobs/{id}/events before any stream starts: the same 404 and 401 as the job's own
route (a stream itself is followed end to end in tests/e2e/test_job_events.py)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import AppFactory

KEY = "events-key-0123456789"


def test_events_of_unknown_job_is_404_naming_the_job(client: TestClient) -> None:
    response = client.get(f"/v1/jobs/{'a' * 32}/events")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert response.json()["error"]["field"] == "job_id"


def test_events_with_a_malformed_id_is_422(client: TestClient) -> None:
    response = client.get("/v1/jobs/not-an-id!/events")
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "job_id"


def test_events_need_the_api_key_when_keys_are_set(make_client: AppFactory) -> None:
    keyed = make_client(api_keys=KEY)
    response = keyed.get(f"/v1/jobs/{'a' * 32}/events")
    assert response.status_code == 401
    authorised = keyed.get(
        f"/v1/jobs/{'a' * 32}/events", headers={"Authorization": f"Bearer {KEY}"}
    )
    assert authorised.status_code == 404


def test_the_schema_documents_the_stream_and_its_json_errors(client: TestClient) -> None:
    answers = client.get("/openapi.json").json()["paths"]["/v1/jobs/{job_id}/events"]["get"][
        "responses"
    ]
    assert list(answers["200"]["content"]) == ["text/event-stream"]
    assert {status: list(answers[status]["content"]) for status in ("404", "422")} == {
        "404": ["application/json"],
        "422": ["application/json"],
    }
