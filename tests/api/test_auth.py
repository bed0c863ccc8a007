"""API keys: `Authorization: Bearer <key>` on every /v1 route, open health probes, settings, and
the `serve` command's refusal to bind a non-loopback address without a key."""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from pydantic import ValidationError

from app import cli
from app.core.config import Settings, is_loopback
from app.main import create_app
from tests.e2e.server import Server, free_port
from tests.factories import BUNDLED_MODELS, make_settings

ROOT = Path(__file__).resolve().parents[2]
KEY_ONE = "key-one-0123456789"
KEY_TWO = "key-two-0123456789"
KEYS = f"{KEY_ONE},{KEY_TWO}"
MISSING_ID = "0" * 32
JOB = {"model_name": "sine", "data": {"function": "sin"}}
OPEN_PATHS = {"/healthz", "/readyz", "/metrics"}

MakeClient = Callable[..., TestClient]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


# One request for every operation under /v1 (test_route_table_covers_every_operation keeps it
# complete). Path values are filled in from PATH_VALUES; "sine" is the bundled model.
ROUTES: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/v1/functions", {}),
    ("POST", "/v1/datasets", {"json": {"values": [1.0, 2.0, 3.0, 4.0]}}),
    ("POST", "/v1/datasets", {"files": {"file": ("s.csv", b"value\n1\n2\n3\n4\n", "text/csv")}}),
    ("GET", "/v1/datasets", {}),
    ("GET", "/v1/datasets/{dataset_id}", {}),
    ("GET", "/v1/datasets/{dataset_id}/series", {}),
    ("DELETE", "/v1/datasets/{dataset_id}", {}),
    ("POST", "/v1/jobs", {"json": JOB}),
    ("GET", "/v1/jobs", {}),
    ("GET", "/v1/jobs/{job_id}", {}),
    ("GET", "/v1/jobs/{job_id}/events", {}),
    ("GET", "/v1/jobs/{job_id}/history", {}),
    ("POST", "/v1/jobs/{job_id}/cancel", {}),
    ("GET", "/v1/models", {}),
    ("GET", "/v1/models/{model_name}", {}),
    ("DELETE", "/v1/models/{model_name}", {}),
    ("GET", "/v1/models/{model_name}/versions/{version}/series", {}),
    ("DELETE", "/v1/models/{model_name}/versions/{version}", {}),
    ("POST", "/v1/models/{model_name}/forecast", {"json": {"horizon": 5}}),
]
ROUTE_IDS = [
    f"{method} {path}" + (" csv" if "files" in kwargs else "") for method, path, kwargs in ROUTES
]
PATH_VALUES = {"dataset_id": MISSING_ID, "job_id": MISSING_ID, "model_name": "sine", "version": 1}

BAD_HEADERS: dict[str, dict[str, str]] = {
    "no-header": {},
    "wrong-key": bearer("not-a-key-0123456789"),
    "empty-bearer": {"Authorization": "Bearer "},
    "basic-scheme": {"Authorization": "Basic " + base64.b64encode(f"{KEY_ONE}:".encode()).decode()},
    "basic-scheme-raw-key": {"Authorization": f"Basic {KEY_ONE}"},
    "token-scheme": {"Authorization": f"Token {KEY_ONE}"},
    "bare-key": {"Authorization": KEY_ONE},
    "x-api-key-header": {"X-API-Key": KEY_ONE},
    "prefix-of-key": bearer(KEY_ONE[:-1]),
    "short-prefix-of-key": bearer(KEY_ONE[:4]),
    "key-extended": bearer(KEY_ONE + "0"),
    "second-key-extended": bearer(KEY_TWO + "x"),
    "keys-concatenated": bearer(KEY_ONE + KEY_TWO),
    "whole-key-list": bearer(KEYS),
    "other-case": bearer(KEY_ONE.upper()),
}


def send(client: TestClient, method: str, path: str, headers: dict[str, str], **kwargs: Any) -> Any:
    return client.request(method, path.format(**PATH_VALUES), headers=headers, **kwargs)


def assert_unauthorized(response: Any) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == "unauthorized"
    assert body["error"]["message"]
    assert "0123456789" not in response.text  # no key, nor the one sent, is echoed


def stored_state(client: TestClient) -> tuple[int, int, list[int]]:
    """Jobs, datasets, and versions of the bundled model: what a denied request must not touch."""
    auth = bearer(KEY_ONE)
    jobs = client.get("/v1/jobs", headers=auth).json()["total"]
    datasets = client.get("/v1/datasets", headers=auth).json()["total"]
    model = client.get("/v1/models/sine", headers=auth)
    assert model.status_code == 200, model.text
    return jobs, datasets, [version["version"] for version in model.json()["versions"]]


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """A client of an app with two keys and the bundled `sine` model; requests here must not
    change its state (tests that do use `make_client`)."""
    settings = make_settings(tmp_path_factory.mktemp("keyed"), api_keys=KEYS)
    shutil.copytree(BUNDLED_MODELS, settings.models_dir)
    with TestClient(create_app(settings)) as client:
        yield client


# -- the route table is complete -----------------------------------------------------------


def test_route_table_covers_every_operation(keyed: TestClient) -> None:
    documented = {
        (method.upper(), path)
        for path, operations in keyed.get("/openapi.json").json()["paths"].items()
        if path not in OPEN_PATHS
        for method in operations
    }
    assert documented == {(method, path) for method, path, _ in ROUTES}
    assert {path.split("/")[2] for _, path in documented} == {
        "functions",
        "datasets",
        "jobs",
        "models",
    }


# -- with keys: every /v1 route refuses what is not a configured key -------------------------


@pytest.mark.parametrize("header", list(BAD_HEADERS), ids=list(BAD_HEADERS))
@pytest.mark.parametrize(("method", "path", "kwargs"), ROUTES, ids=ROUTE_IDS)
def test_route_refuses_request_without_a_valid_key(
    keyed: TestClient, method: str, path: str, kwargs: dict[str, Any], header: str
) -> None:
    before = stored_state(keyed)
    response = send(keyed, method, path, BAD_HEADERS[header], **kwargs)
    assert_unauthorized(response)
    assert stored_state(keyed) == before


def test_missing_and_wrong_key_get_distinct_messages(keyed: TestClient) -> None:
    missing = keyed.get("/v1/functions")
    assert "Authorization: Bearer" in missing.json()["error"]["message"]
    wrong = keyed.get("/v1/functions", headers=bearer("not-a-key-0123456789"))
    assert wrong.json()["error"]["message"] == "the API key is not valid"
    assert "field" not in wrong.json()["error"]


def test_key_is_checked_before_path_and_body_validation(keyed: TestClient) -> None:
    # An invalid model name and horizon would be a 422 with a key; without one, 401 first.
    assert_unauthorized(keyed.post("/v1/models/NOT_VALID!/forecast", json={"horizon": 0}))
    assert_unauthorized(keyed.post("/v1/jobs", json={"model_name": "sine"}))
    assert_unauthorized(keyed.get("/v1/jobs/not-an-id"))
    assert_unauthorized(keyed.post("/v1/datasets", content=b"x", headers={"content-type": "a/b"}))


def test_unknown_route_is_401_without_a_key_and_404_with_one(keyed: TestClient) -> None:
    assert_unauthorized(keyed.get("/v1/no-such-family"))  # which routes exist is not shown
    response = keyed.get("/v1/no-such-family", headers=bearer(KEY_ONE))
    assert response.status_code == 404
    assert "www-authenticate" not in response.headers


def test_a_body_is_not_parsed_before_the_key_is_checked(keyed: TestClient) -> None:
    broken = keyed.post(
        "/v1/jobs", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert_unauthorized(broken)  # not a 422 about the JSON: nothing was read
    keyed_broken = keyed.post(
        "/v1/jobs",
        content=b"{not json",
        headers={"content-type": "application/json"} | bearer(KEY_ONE),
    )
    assert keyed_broken.status_code in (400, 422)


@pytest.mark.parametrize(("method", "path", "kwargs"), ROUTES, ids=ROUTE_IDS)
def test_valid_key_passes_every_route(
    make_client: MakeClient, method: str, path: str, kwargs: dict[str, Any]
) -> None:
    client = make_client(api_keys=KEYS)  # empty store: missing ids answer 404, never 401
    response = send(client, method, path, bearer(KEY_TWO), **kwargs)
    assert response.status_code != 401, response.text
    assert response.status_code < 500, response.text
    assert "www-authenticate" not in response.headers


@pytest.mark.parametrize("key", [KEY_ONE, KEY_TWO])
def test_each_configured_key_is_accepted(make_client: MakeClient, key: str) -> None:
    client = make_client(api_keys=KEYS)
    functions = client.get("/v1/functions", headers=bearer(key))
    assert functions.status_code == 200
    assert functions.json()
    submitted = client.post("/v1/jobs", json=JOB, headers=bearer(key))
    assert submitted.status_code == 202, submitted.text
    job = submitted.json()
    assert job["status"] == "queued"  # workers=0: it stays queued
    for reader in (KEY_ONE, KEY_TWO):  # keys are not tenants: either reads the job
        read = client.get(f"/v1/jobs/{job['id']}", headers=bearer(reader))
        assert read.status_code == 200
        assert read.json()["id"] == job["id"]
    assert client.get(f"/v1/jobs/{job['id']}").status_code == 401


def test_bearer_scheme_is_case_insensitive(keyed: TestClient) -> None:
    assert keyed.get("/v1/functions", headers={"Authorization": f"bearer {KEY_ONE}"}).is_success
    assert keyed.get("/v1/functions", headers={"Authorization": f"BEARER {KEY_TWO}"}).is_success


def test_forecast_with_key_answers_what_is_refused_without(keyed: TestClient) -> None:
    body = {"horizon": 5}
    assert_unauthorized(keyed.post("/v1/models/sine/forecast", json=body))
    response = keyed.post("/v1/models/sine/forecast", json=body, headers=bearer(KEY_ONE))
    assert response.status_code == 200, response.text
    assert len(response.json()["forecast"]) == 5


def test_auth_disabled_does_not_switch_off_configured_keys(make_client: MakeClient) -> None:
    client = make_client(api_keys=KEYS, auth_disabled=True)
    assert_unauthorized(client.get("/v1/functions"))
    assert client.get("/v1/functions", headers=bearer(KEY_ONE)).status_code == 200


# -- health probes and /metrics -----------------------------------------------------------


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
@pytest.mark.parametrize("header", ["no-header", "wrong-key", "basic-scheme"])
def test_probes_are_open_with_keys(keyed: TestClient, path: str, header: str) -> None:
    response = keyed.get(path, headers=BAD_HEADERS[header])
    assert response.status_code == 200, response.text
    assert "www-authenticate" not in response.headers


@pytest.mark.parametrize("header", ["no-header", "wrong-key", "basic-scheme", "prefix-of-key"])
def test_metrics_need_a_key_by_default(keyed: TestClient, header: str) -> None:
    assert_unauthorized(keyed.get("/metrics", headers=BAD_HEADERS[header]))


@pytest.mark.parametrize("key", [KEY_ONE, KEY_TWO])
def test_metrics_answer_with_a_key(keyed: TestClient, key: str) -> None:
    response = keyed.get("/metrics", headers=bearer(key))
    assert response.status_code == 200
    assert "forecast_http_requests_total" in response.text


def test_public_metrics_need_no_key_and_open_nothing_else(make_client: MakeClient) -> None:
    client = make_client(api_keys=KEYS, metrics_public=True)
    for headers in ({}, bearer("not-a-key-0123456789"), bearer(KEY_ONE)):
        response = client.get("/metrics", headers=headers)
        assert response.status_code == 200
        assert "forecast_http_requests_total" in response.text
    assert_unauthorized(client.get("/v1/functions"))
    assert_unauthorized(client.post("/v1/jobs", json=JOB))


# -- without keys (the default) nothing is asked -----------------------------------------------


@pytest.mark.parametrize(
    "headers", [{}, bearer("whatever-0123456789"), {"Authorization": "Basic abc"}]
)
def test_without_keys_no_route_asks_for_one(
    make_client: MakeClient, headers: dict[str, str]
) -> None:
    client = make_client()
    assert client.app.state.settings.api_keys == ()  # type: ignore[attr-defined]
    for method, path, kwargs in ROUTES:
        response = send(client, method, path, headers, **kwargs)
        assert response.status_code != 401, (method, path, response.text)
        assert response.status_code < 500, (method, path, response.text)
        assert "www-authenticate" not in response.headers
    assert client.get("/v1/functions", headers=headers).status_code == 200
    assert client.post("/v1/jobs", json=JOB, headers=headers).status_code == 202
    assert client.get("/metrics", headers=headers).status_code == 200


# -- the OpenAPI document --------------------------------------------------------------------


@pytest.fixture(scope="module")
def openapi(keyed: TestClient) -> dict[str, Any]:
    response = keyed.get("/openapi.json")  # no key: the document is open by design
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def test_openapi_declares_the_bearer_scheme(openapi: dict[str, Any]) -> None:
    scheme = openapi["components"]["securitySchemes"]["HTTPBearer"]
    assert scheme["type"] == "http"
    assert scheme["scheme"] == "bearer"


def test_openapi_job_submission_needs_the_key_and_documents_401(openapi: dict[str, Any]) -> None:
    operation = openapi["paths"]["/v1/jobs"]["post"]
    assert operation["security"] == [{"HTTPBearer": []}]
    assert "401" in operation["responses"]
    ref = operation["responses"]["401"]["content"]["application/json"]["schema"]["$ref"]
    assert ref.endswith("/ErrorBody")


def test_openapi_every_v1_operation_needs_the_key(openapi: dict[str, Any]) -> None:
    for path, operations in openapi["paths"].items():
        if path.startswith("/v1/"):
            for method, operation in operations.items():
                assert operation.get("security") == [{"HTTPBearer": []}], (method, path)
                assert "401" in operation["responses"], (method, path)


def test_openapi_probes_have_no_security_but_metrics_does(openapi: dict[str, Any]) -> None:
    for path in ("/healthz", "/readyz"):
        operation = openapi["paths"][path]["get"]
        assert "security" not in operation, path
        assert "401" not in operation["responses"], path
    metrics = openapi["paths"]["/metrics"]["get"]
    assert metrics["security"] == [{"HTTPBearer": []}]
    assert "401" in metrics["responses"]


# -- settings -------------------------------------------------------------------------------


def secrets(settings: Settings) -> list[str]:
    return [key.get_secret_value() for key in settings.api_keys]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (KEYS, [KEY_ONE, KEY_TWO]),
        (f"  {KEY_ONE} ,\t{KEY_TWO}  ", [KEY_ONE, KEY_TWO]),
        (f",{KEY_ONE},, ,{KEY_TWO},", [KEY_ONE, KEY_TWO]),
        (KEY_TWO, [KEY_TWO]),
        ("", []),
        (" , ,, ", []),
    ],
    ids=["plain", "whitespace", "empty-entries", "one-key", "empty", "only-separators"],
)
def test_api_keys_from_the_environment(
    clean_env: pytest.MonkeyPatch, value: str, expected: list[str]
) -> None:
    clean_env.setenv("FORECAST_API_KEYS", value)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert secrets(settings) == expected
    assert settings.auth_required is bool(expected)


def test_no_api_keys_by_default(clean_env: pytest.MonkeyPatch) -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.api_keys == ()
    assert settings.auth_required is False
    assert settings.auth_disabled is False
    assert settings.metrics_public is False


def test_api_keys_from_an_env_file(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(f"FORECAST_API_KEYS= {KEY_TWO} , {KEY_ONE}\n")
    settings = Settings(_env_file=env_file)  # type: ignore[call-arg]
    assert secrets(settings) == [KEY_TWO, KEY_ONE]


@pytest.mark.parametrize(
    "value",
    ["short", "x" * 15, f"{KEY_ONE},short-key", f"{KEY_ONE}, {'y' * 15} ", f"{'z' * 15},{KEY_TWO}"],
)
def test_short_api_key_is_rejected(clean_env: pytest.MonkeyPatch, value: str) -> None:
    clean_env.setenv("FORECAST_API_KEYS", value)
    with pytest.raises(ValidationError, match="at least 16 characters"):
        Settings(_env_file=None)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="at least 16 characters"):
        make_settings(Path("unused"), api_keys=value)


def test_sixteen_character_key_is_enough(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("FORECAST_API_KEYS", " " + "k" * 16 + " ")
    assert secrets(Settings(_env_file=None)) == ["k" * 16]  # type: ignore[call-arg]


def test_keys_never_show_in_settings_output(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, api_keys=KEYS)
    assert secrets(settings) == [KEY_ONE, KEY_TWO]
    shown = [
        repr(settings),
        str(settings),
        settings.model_dump_json(),
        str(settings.model_dump(mode="json")),
        repr(settings.model_dump()),
        repr(settings.api_keys),
    ]
    for text in shown:
        assert KEY_ONE not in text
        assert KEY_TWO not in text
        assert "0123456789" not in text


def test_short_key_error_does_not_reveal_the_other_keys(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("FORECAST_API_KEYS", f"{KEY_ONE},short")
    with pytest.raises(ValidationError) as raised:
        Settings(_env_file=None)  # type: ignore[call-arg]
    assert KEY_ONE not in str(raised.value)


# -- unsafe_bind and the serve command -----------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_hosts_are_safe_without_keys(tmp_path: Path, host: str) -> None:
    assert is_loopback(host)
    assert make_settings(tmp_path, host=host).unsafe_bind() is None


@pytest.mark.parametrize(
    "host", ["0.0.0.0", "::", "", "192.168.1.10", "10.0.0.5", "example.internal", "localhost.evil"]
)
def test_other_hosts_without_keys_are_refused(tmp_path: Path, host: str) -> None:
    assert not is_loopback(host)
    message = make_settings(tmp_path, host=host).unsafe_bind()
    assert message is not None
    assert f"on {host} " in message
    assert "FORECAST_API_KEYS" in message
    assert "FORECAST_AUTH_DISABLED" in message


@pytest.mark.parametrize("host", ["0.0.0.0", "example.internal"])
@pytest.mark.parametrize(
    "overrides", [{"api_keys": KEYS}, {"auth_disabled": True}], ids=["keys", "auth-disabled"]
)
def test_other_hosts_are_allowed_with_keys_or_auth_disabled(
    tmp_path: Path, host: str, overrides: dict[str, Any]
) -> None:
    assert make_settings(tmp_path, host=host, **overrides).unsafe_bind() is None


@pytest.fixture
def fake_uvicorn(monkeypatch: pytest.MonkeyPatch) -> list[uvicorn.Config]:
    """The configurations uvicorn was asked to serve; its Server.run is replaced: nothing binds."""
    calls: list[uvicorn.Config] = []

    def run(server: uvicorn.Server, sockets: object = None) -> None:
        calls.append(server.config)
        server.started = True

    monkeypatch.setattr(uvicorn.Server, "run", run)
    monkeypatch.setattr(cli, "configure_logging", lambda level: None)
    return calls


def use_settings(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    monkeypatch.setattr(cli, "get_settings", lambda: settings)


def test_serve_refuses_all_interfaces_without_keys(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, fake_uvicorn: list[uvicorn.Config]
) -> None:
    use_settings(monkeypatch, make_settings(tmp_path, host="0.0.0.0"))
    with pytest.raises(SystemExit) as raised:
        cli.main(["serve"])
    assert isinstance(raised.value.code, str)
    assert raised.value.code.startswith("refusing to serve on 0.0.0.0")
    assert fake_uvicorn == []


@pytest.mark.parametrize(
    ("host", "overrides"),
    [
        ("0.0.0.0", {"api_keys": KEYS}),
        ("0.0.0.0", {"auth_disabled": True}),
        ("127.0.0.1", {}),
    ],
    ids=["keys", "auth-disabled", "loopback"],
)
def test_serve_starts_when_the_bind_is_safe(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    fake_uvicorn: list[uvicorn.Config],
    host: str,
    overrides: dict[str, Any],
) -> None:
    use_settings(monkeypatch, make_settings(tmp_path, host=host, **overrides))
    cli.main(["serve"])
    assert len(fake_uvicorn) == 1
    assert fake_uvicorn[0].host == host


def test_real_serve_command_refuses_all_interfaces_without_keys(tmp_path: Path) -> None:
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("FORECAST_")}
    env |= {
        "FORECAST_HOST": "0.0.0.0",
        "FORECAST_PORT": str(port),
        "FORECAST_DATABASE_URL": f"sqlite:///{tmp_path}/jobs.db",
        "FORECAST_MODELS_DIR": str(tmp_path / "models"),
        "FORECAST_DATASETS_DIR": str(tmp_path / "datasets"),
        "FORECAST_DEVICE": "cpu",
    }
    result = subprocess.run(
        [sys.executable, "-m", "app", "serve"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "refusing to serve on 0.0.0.0 with no API key" in result.stderr
    assert "FORECAST_API_KEYS" in result.stderr
    assert "Traceback" not in result.stderr
    assert "Uvicorn running" not in result.stderr + result.stdout
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0  # nothing listens
    assert not (tmp_path / "jobs.db").exists()  # refused before touching the store
    assert not (tmp_path / "models").exists()


@pytest.mark.slow
def test_real_server_with_keys_checks_them(tmp_path: Path) -> None:
    server = Server(tmp_path, api_keys=f" {KEY_ONE} , {KEY_TWO} ").start()
    try:
        refused = server.http.get("/v1/functions")
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == "Bearer"
        assert refused.json()["error"]["code"] == "unauthorized"
        assert server.http.get("/v1/functions", headers=bearer(KEY_ONE + "x")).status_code == 401
        for key in (KEY_ONE, KEY_TWO):
            accepted = server.http.get("/v1/functions", headers=bearer(key))
            assert accepted.status_code == 200
            assert accepted.json()
        assert server.http.get("/healthz").status_code == 200
        assert server.http.get("/readyz").status_code == 200
        assert server.http.get("/metrics").status_code == 401
    finally:
        server.stop()
    assert KEY_ONE not in server.log()
    assert KEY_TWO not in server.log()
