"""Defects a hostile probe found at the HTTP edge, each reproduced here first."""

from __future__ import annotations

import inspect
import shutil
import uuid
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from app.core.db import utcnow
from app.jobs.table import JobRow, JobStatus
from tests.factories import BUNDLED_MODELS

KEY = "key-one-0123456789"
MakeClient = Callable[..., TestClient]


def test_two_authorization_headers_are_refused_whatever_their_order(
    make_client: MakeClient,
) -> None:
    client = make_client(api_keys=KEY)
    good, bad = f"Bearer {KEY}", "Bearer wrong-key-0123456789"
    for pair in ((bad, good), (good, bad), (good, good)):
        answer = client.get(
            "/v1/functions", headers=[("authorization", pair[0]), ("authorization", pair[1])]
        )
        assert answer.status_code == 400, pair
        assert answer.json()["error"]["field"] == "authorization"
    assert client.get("/v1/functions", headers={"authorization": good}).status_code == 200


NAMES = ["x\u0000y", "load\ufeff", "a\u200b", "line\nbreak", "tab\tname", "no\u00a0break"]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def backend_client(request: pytest.FixtureRequest, make_client: MakeClient) -> TestClient:
    """A client on each database backend."""
    if request.param == "sqlite":
        return make_client()
    return make_client(database_url=request.getfixturevalue("postgres_url"))


@pytest.mark.parametrize("name", NAMES)
def test_names_with_control_or_invisible_characters_are_refused(
    backend_client: TestClient, name: str
) -> None:
    """On every backend: PostgreSQL refused NUL with a 500, SQLite stored it."""
    client = backend_client
    cases = [
        ("name", client.post("/v1/datasets", json={"name": name, "values": [1, 2]})),
        ("columns", client.post("/v1/datasets", json={"columns": [name], "values": [1, 2]})),
        ("file", client.post("/v1/datasets", files=csv_file(f'"{name}",b\n1,2\n3,4\n'))),
        ("name", client.post("/v1/datasets", files=csv_file("a\n1\n2\n"), data={"name": name})),
    ]
    for field, answer in cases:
        assert answer.status_code == 422, (field, answer.text)
        assert answer.json()["error"]["field"].startswith(field), answer.json()
        assert "U+" in answer.json()["error"]["message"]
    assert client.get("/v1/datasets").json()["total"] == 0  # nothing stored


def test_a_name_and_its_zero_width_twin_are_not_two_columns(make_client: MakeClient) -> None:
    answer = make_client().post("/v1/datasets", files=csv_file("a,a\u200b\n1,2\n"))
    assert answer.status_code == 422
    assert "U+200B" in answer.json()["error"]["message"]


def csv_file(text: str) -> dict[str, tuple[str, bytes, str]]:
    return {"file": ("series.csv", text.encode(), "text/csv")}


def test_printable_names_are_stored_on_every_backend(backend_client: TestClient) -> None:
    name = "Ünïcode näme, with spaces & ∑ymbols"
    answer = backend_client.post(
        "/v1/datasets", json={"name": name, "columns": [name], "values": [1]}
    )
    assert answer.status_code == 201, answer.text
    found = backend_client.get(answer.headers["location"]).json()
    assert (found["name"], found["columns"]) == (name, [name])


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/models/sine/forecast", {"horizon": True}, "horizon"),
        ("/v1/models/sine/forecast", {"horizon": "5"}, "horizon"),
        ("/v1/models/sine/forecast", {"horizon": 5, "version": "1"}, "version"),
        ("/v1/models/sine/forecast", {"horizon": 2, "levels": ["80"]}, "levels[0]"),
        (
            "/v1/jobs",
            {"model_name": "m", "data": {"function": "sin"}, "window": {"lookback": "10"}},
            "window.lookback",
        ),
        (
            "/v1/jobs",
            {"model_name": "m", "data": {"function": "sin"}, "training": {"stateful": 1}},
            "training.stateful",
        ),
        ("/v1/datasets", {"values": ["1", 2]}, "values[0]"),
    ],
)
def test_numbers_and_booleans_are_not_coerced(
    models_client: TestClient, path: str, body: dict[str, object], field: str
) -> None:
    answer = models_client.post(path, json=body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == field


def test_an_integer_is_a_valid_float(models_client: TestClient) -> None:
    spec = {"model_name": "m", "data": {"function": "sin"}, "training": {"learning_rate": 1}}
    assert models_client.post("/v1/jobs", json=spec).status_code == 202


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/models/sine/forecast", b'{"horizon": 5, "horizon": 500}'),
        ("/v1/models/sine/forecast", b'{"horizon": 5, "future": {"a": [1], "a": [2]}}'),
        ("/v1/jobs", b'{"model_name": "a", "model_name": "b", "data": {"function": "sin"}}'),
        ("/v1/datasets", b'{"values": [1, 2], "values": [3, 4]}'),
    ],
)
def test_a_key_named_twice_is_refused(models_client: TestClient, path: str, body: bytes) -> None:
    answer = models_client.post(path, content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == "body"
    assert "appears twice" in answer.json()["error"]["message"]


def test_malformed_json_names_the_problem(models_client: TestClient) -> None:
    for path in ("/v1/models/sine/forecast", "/v1/datasets"):
        answer = models_client.post(
            path, content=b'{"horizon": ', headers={"content-type": "application/json"}
        )
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["field"] == "body"
        assert answer.json()["error"]["message"].startswith("body: not valid JSON: ")


def _operations(client: TestClient) -> dict[str, dict[str, object]]:
    document = client.get("/openapi.json").json()
    return {
        f"{method.upper()} {path}": operation
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    }


def test_without_keys_the_schema_asks_for_none(make_client: MakeClient) -> None:
    document = make_client().get("/openapi.json").json()
    assert "securitySchemes" not in document.get("components", {})
    for name, operation in _operations(make_client()).items():
        assert "security" not in operation, name
        assert "401" not in operation["responses"], name  # type: ignore[operator]


def test_with_keys_the_schema_asks_exactly_where_the_gate_does(make_client: MakeClient) -> None:
    for public_metrics in (False, True):
        operations = _operations(make_client(api_keys=KEY, metrics_public=public_metrics))
        for name, operation in operations.items():
            open_route = name in ("GET /healthz", "GET /readyz") or (
                public_metrics and name == "GET /metrics"
            )
            assert ("security" in operation) is not open_route, name
            assert ("401" in operation["responses"]) is not open_route, name  # type: ignore[operator]


def test_readiness_names_no_server_path(make_client: MakeClient) -> None:
    client = make_client()
    models = client.app.state.checkpoints.root  # type: ignore[attr-defined]
    shutil.rmtree(models)
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["checks"]["models"] == "error: the model store is not a writable directory"
    assert str(models) not in answer.text


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/v1/datasets", "GET, POST"),
        ("/v1/jobs", "GET, POST"),
        ("/v1/datasets/" + "0" * 32, "DELETE, GET"),
        ("/v1/models/sine", "DELETE, GET"),
        ("/v1/models/sine/forecast", "POST"),
    ],
)
def test_a_405_lists_every_method_of_the_path(
    make_client: MakeClient, path: str, allowed: str
) -> None:
    answer = make_client().request("PATCH", path)
    assert answer.status_code == 405
    assert answer.headers["allow"] == allowed
    assert make_client().options(path).headers["allow"] == allowed


def test_a_context_longer_than_the_limit_is_refused_naming_it(make_client: MakeClient) -> None:
    client = make_client(max_context_rows=50)
    shutil.copytree(BUNDLED_MODELS, client.app.state.checkpoints.root, dirs_exist_ok=True)  # type: ignore[attr-defined]
    for body, field in (
        ({"horizon": 1, "context": [0.5] * 51}, "context"),
        ({"horizon": 1, "contexts": [[0.5] * 10, [0.5] * 51]}, "contexts[1]"),
    ):
        answer = client.post("/v1/models/sine/forecast", json=body)
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["field"] == field
        assert "FORECAST_MAX_CONTEXT_ROWS" in answer.json()["error"]["message"]
    answer = client.post("/v1/models/sine/forecast", json={"horizon": 1, "context": [0.5] * 50})
    assert answer.status_code == 200


def test_only_the_rows_a_model_reads_are_converted(make_client: MakeClient) -> None:
    """Rows before the lookback are not read: a longer context forecasts like its tail."""
    client = make_client()
    shutil.copytree(BUNDLED_MODELS, client.app.state.checkpoints.root, dirs_exist_ok=True)  # type: ignore[attr-defined]
    tail = [0.1 * i for i in range(10)]
    long = client.post(
        "/v1/models/sine/forecast", json={"horizon": 3, "context": [9.0] * 5000 + tail}
    )
    short = client.post("/v1/models/sine/forecast", json={"horizon": 3, "context": tail})
    assert long.json()["forecast"] == short.json()["forecast"]


def test_the_schema_states_the_limits_of_this_instance(make_client: MakeClient) -> None:
    client = make_client(max_horizon=77, max_contexts=5, max_context_rows=300, max_dataset_rows=900)
    document = client.get("/openapi.json").json()
    forecast = document["components"]["schemas"]["ForecastRequest"]["properties"]
    assert forecast["horizon"]["maximum"] == 77
    assert forecast["context"]["anyOf"][0]["maxItems"] == 300
    assert forecast["contexts"]["anyOf"][0]["maxItems"] == 5
    inline = document["components"]["schemas"]["InlineData"]["properties"]["values"]
    assert inline["maxItems"] == 900
    number = inline["items"]["anyOf"][0]
    assert (number["minimum"], number["maximum"]) == (-1e15, 1e15)
    answer = client.post("/v1/models/sine/forecast", json={"horizon": 78})
    assert answer.json()["error"]["code"] in ("horizon_too_large", "not_found")


def test_unknown_query_parameters_are_refused(make_client: MakeClient) -> None:
    client = make_client()
    answer = client.get("/v1/jobs?limt=5")
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == "limt"
    assert client.get("/v1/jobs?limit=5").status_code == 200
    assert client.get("/healthz?probe=1").status_code == 422


def test_unknown_or_repeated_form_fields_are_refused(make_client: MakeClient) -> None:
    client = make_client()
    unknown = client.post("/v1/datasets", files=csv_file("a\n1\n2\n"), data={"nmae": "typo"})
    assert unknown.status_code == 422
    assert unknown.json()["error"]["field"] == "nmae"
    twice = client.post("/v1/datasets", files=csv_file("a\n1\n2\n"), data={"name": ["one", "two"]})
    assert twice.status_code == 422
    assert twice.json()["error"]["field"] == "name"
    assert client.get("/v1/datasets").json()["total"] == 0


def test_the_query_check_runs_on_the_event_loop() -> None:
    """A sync dependency would run in the thread pool, and /healthz would wait behind forecasts."""
    from app.core.query import reject_unknown_query

    assert inspect.iscoroutinefunction(reject_unknown_query)


@pytest.mark.parametrize(
    "body",
    [
        b'{"values": [' + b"9" * 5000 + b"]}",
        b'{"values": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    ],
)
def test_json_that_python_cannot_read_is_a_422(make_client: MakeClient, body: bytes) -> None:
    for path in ("/v1/datasets", "/v1/jobs"):
        answer = make_client().post(
            path, content=body, headers={"content-type": "application/json"}
        )
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["field"] == "body"


def test_every_context_row_is_checked_and_named_by_its_place(make_client: MakeClient) -> None:
    client = make_client()
    shutil.copytree(BUNDLED_MODELS, client.app.state.checkpoints.root, dirs_exist_ok=True)  # type: ignore[attr-defined]
    context = [0.1] * 30
    context[20] = 5e300
    answer = client.post("/v1/models/sine/forecast", json={"horizon": 2, "context": context})
    assert answer.status_code == 422
    assert "row 21" in answer.json()["error"]["message"]


def test_a_stored_job_with_a_name_refused_today_still_reads(make_client: MakeClient) -> None:
    """Jobs stored before names were checked keep reading (their spec is validated again)."""
    client = make_client()
    spec = {"model_name": "old", "data": {"function": "sin"}, "inputs": ["a\u00a0b"]}
    row = JobRow(
        id=uuid.uuid4().hex, model_name="old", status=JobStatus.FAILED, spec=spec,
        created_at=utcnow(), history=[],
    )  # fmt: skip
    client.app.state.jobs.add(row)  # type: ignore[attr-defined]
    answer = client.get(f"/v1/jobs/{row.id}")
    assert answer.status_code == 200, answer.text
    assert answer.json()["spec"]["inputs"] == ["a\u00a0b"]


def test_deleting_an_unknown_model_leaves_no_lock_file(make_client: MakeClient) -> None:
    client = make_client()
    root = client.app.state.checkpoints.root  # type: ignore[attr-defined]
    assert client.delete("/v1/models/never-there").status_code == 404
    assert client.delete("/v1/models/never-there/versions/1").status_code == 404
    assert client.get("/v1/models/never-there").status_code == 404
    assert not list(root.glob(".locks/never-there*"))
