"""Without API keys the service answers only to the host names it serves under (loopback by
default, FORECAST_ALLOWED_HOSTS for more) and refuses a state-changing request that another
origin's page sends: what a DNS-rebinding page or a cross-site form needs. With keys neither rule
applies: a page cannot send the key."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from app.core.config import Settings
from app.main import create_app
from tests.e2e.server import Server
from tests.factories import BUNDLED_MODELS, make_settings

MakeClient = Callable[..., TestClient]
KEY = "host-origin-key-0123456789"
MISSING_ID = "0" * 32
CSV_UPLOAD = {"files": {"file": ("s.csv", b"value\n1\n2\n3\n4\n", "text/csv")}}
JSON_UPLOAD = {"json": {"values": [1.0, 2.0, 3.0, 4.0]}}

FOREIGN_HOSTS = [
    "evil.example",
    "evil.example:8000",
    "localhost.evil.example",
    "127.0.0.1.nip.io",
    "attacker.localhost",
    "[::2]:8000",
    "10.0.0.5",
    "0.0.0.0:8000",
    "x",
    "localhost:notaport",
    "localhost:8000:8000",
    "[::1",
]
LOOPBACK_HOSTS = [
    "localhost",
    "localhost:8000",
    "LocalHost:8000",
    "localhost.:8000",
    "127.0.0.1",
    "127.0.0.1:1",
    "[::1]",
    "[::1]:8000",
]
# Every state-changing operation, on the store `local` holds (the bundled `sine` model).
UNSAFE: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "/v1/datasets", JSON_UPLOAD),
    ("POST", "/v1/datasets", CSV_UPLOAD),
    ("DELETE", f"/v1/datasets/{MISSING_ID}", {}),
    ("POST", "/v1/jobs", {"json": {"model_name": "sine", "data": {"function": "sin"}}}),
    ("POST", f"/v1/jobs/{MISSING_ID}/cancel", {}),
    ("DELETE", "/v1/models/sine", {}),
    ("DELETE", "/v1/models/sine/versions/1", {}),
    ("POST", "/v1/models/sine/forecast", {"json": {"horizon": 5}}),
    ("PUT", "/v1/jobs", {"json": {}}),
    ("PATCH", "/v1/datasets", {"json": {}}),
]
UNSAFE_IDS = [f"{method} {path}" + (" csv" if "files" in kw else "") for method, path, kw in UNSAFE]
CROSS_ORIGINS = [
    "https://evil.example",
    "http://evil.example",
    "null",  # a sandboxed frame, a file:// page
    "http://testserver:3000",  # another port of the same name: another origin
    "https://testserver",  # another scheme: another origin
    "http://localhost",  # a name the service answers to, but not the one the page was on
    "http://testserver.evil.example",
    "http://testserver@evil.example",
    "",
]


def state(client: TestClient) -> tuple[int, int, list[int]]:
    """Datasets, jobs and the bundled model's versions: what a refused request must not touch."""
    datasets = client.get("/v1/datasets").json()["total"]
    jobs = client.get("/v1/jobs").json()["total"]
    model = client.get("/v1/models/sine")
    assert model.status_code == 200, model.text
    return datasets, jobs, [version["version"] for version in model.json()["versions"]]


def assert_error(response: httpx.Response, status: int, code: str, field: str) -> str:
    """The shared error shape with `status`, `code` and `field`; returns the message."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert (error["code"], error["field"]) == (code, field)
    assert error["message"]
    return str(error["message"])


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """A key-less app (the default) with the bundled `sine` model; tests here change nothing."""
    settings = make_settings(tmp_path_factory.mktemp("local"))
    shutil.copytree(BUNDLED_MODELS, settings.models_dir)
    with TestClient(create_app(settings)) as client:
        yield client


# -- Host -------------------------------------------------------------------------------------


@pytest.mark.parametrize("host", FOREIGN_HOSTS)
@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("GET", "/v1/functions", {}),
        ("GET", "/v1/datasets", {}),
        ("GET", "/ui/", {}),
        ("GET", "/docs", {}),
        ("GET", "/openapi.json", {}),
        ("POST", "/v1/datasets", CSV_UPLOAD),
        ("DELETE", "/v1/models/sine", {}),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_a_host_the_service_does_not_answer_to_is_refused(
    local: TestClient, host: str, method: str, path: str, kwargs: dict[str, Any]
) -> None:
    before = state(local)
    response = local.request(method, path, headers={"host": host}, **kwargs)
    message = assert_error(response, 421, "misdirected_request", "host")
    assert "FORECAST_ALLOWED_HOSTS" in message
    assert "localhost" in message
    assert state(local) == before


@pytest.mark.parametrize("host", LOOPBACK_HOSTS)
def test_loopback_names_are_answered_on_any_port(local: TestClient, host: str) -> None:
    assert local.get("/v1/functions", headers={"host": host}).status_code == 200
    assert local.get("/docs", headers={"host": host}).status_code == 200


def test_two_host_headers_are_refused(local: TestClient) -> None:
    response = local.get("/v1/functions", headers=[("host", "localhost"), ("host", "evil.example")])
    assert_error(response, 421, "misdirected_request", "host")


def test_allowed_hosts_add_names(make_client: MakeClient) -> None:
    client = make_client(allowed_hosts="forecast.internal, 10.0.0.5,[FD00::5]")
    for host in ("forecast.internal:8000", "FORECAST.internal", "10.0.0.5", "[fd00::5]:80"):
        assert client.get("/v1/functions", headers={"host": host}).status_code == 200, host
    assert client.get("/v1/functions", headers={"host": "localhost"}).status_code == 200
    refused = client.get("/v1/functions", headers={"host": "other.internal"})
    assert_error(refused, 421, "misdirected_request", "host")


def test_the_bind_address_is_a_name_the_service_answers_to(make_client: MakeClient) -> None:
    client = make_client(host="127.0.0.2")
    assert client.get("/v1/functions", headers={"host": "127.0.0.2:8000"}).status_code == 200
    # An address that means "every interface" names no host.
    wildcard = make_client(host="0.0.0.0", auth_disabled=True)
    refused = wildcard.get("/v1/functions", headers={"host": "0.0.0.0:8000"})
    assert_error(refused, 421, "misdirected_request", "host")


def test_a_star_answers_any_host_but_keeps_the_origin_rule(make_client: MakeClient) -> None:
    client = make_client(allowed_hosts="*", auth_disabled=True)
    assert client.get("/v1/functions", headers={"host": "forecast.example"}).status_code == 200
    same = client.post(
        "/v1/datasets",
        headers={"host": "forecast.example", "origin": "http://forecast.example"},
        **JSON_UPLOAD,
    )
    assert same.status_code == 201, same.text
    cross = client.post(
        "/v1/datasets",
        headers={"host": "forecast.example", "origin": "http://evil.example"},
        **JSON_UPLOAD,
    )
    assert_error(cross, 403, "cross_origin_request", "origin")


# -- Origin ---------------------------------------------------------------------------------


@pytest.mark.parametrize("origin", CROSS_ORIGINS)
@pytest.mark.parametrize(("method", "path", "kwargs"), UNSAFE, ids=UNSAFE_IDS)
def test_a_state_changing_request_from_another_origin_is_refused(
    local: TestClient, origin: str, method: str, path: str, kwargs: dict[str, Any]
) -> None:
    before = state(local)
    response = local.request(method, path, headers={"origin": origin}, **kwargs)
    message = assert_error(response, 403, "cross_origin_request", "origin")
    assert "POST, PUT, PATCH or DELETE" in message
    assert "Origin" in message
    assert state(local) == before


@pytest.mark.parametrize("site", ["cross-site", "same-site"])
@pytest.mark.parametrize(("method", "path", "kwargs"), UNSAFE[:4], ids=UNSAFE_IDS[:4])
def test_without_origin_a_cross_site_fetch_is_refused(
    local: TestClient, site: str, method: str, path: str, kwargs: dict[str, Any]
) -> None:
    before = state(local)
    response = local.request(method, path, headers={"sec-fetch-site": site}, **kwargs)
    assert_error(response, 403, "cross_origin_request", "origin")
    assert state(local) == before


def test_two_origin_headers_are_refused(local: TestClient) -> None:
    response = local.post(
        "/v1/datasets",
        headers=[("origin", "http://testserver"), ("origin", "http://evil.example")],
        **JSON_UPLOAD,
    )
    assert_error(response, 403, "cross_origin_request", "origin")


@pytest.mark.parametrize(
    "headers",
    [
        {},  # curl, httpx, the Python client
        {"origin": "http://testserver"},  # the dashboard's and the docs page's own requests
        {"origin": "HTTP://TestServer"},
        {"origin": "http://testserver", "sec-fetch-site": "same-origin"},
        {"sec-fetch-site": "same-origin"},
        {"sec-fetch-site": "none"},  # the user's own action (a bookmark, the address bar)
    ],
    ids=["no-origin", "same-origin", "same-origin-other-case", "both", "fetch-site", "none"],
)
def test_same_origin_and_non_browser_requests_change_state(
    make_client: MakeClient, headers: dict[str, str]
) -> None:
    client = make_client()
    created = client.post("/v1/datasets", headers=headers, **CSV_UPLOAD)
    assert created.status_code == 201, created.text
    dataset = created.json()["id"]
    assert client.post("/v1/datasets", headers=headers, **JSON_UPLOAD).status_code == 201
    deleted = client.delete(f"/v1/datasets/{dataset}", headers=headers)
    assert deleted.status_code == 204, deleted.text


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS"])
def test_reads_from_another_origin_are_answered(local: TestClient, method: str) -> None:
    # A browser keeps another origin's page from reading the answer (no CORS is offered).
    response = local.request(method, "/v1/datasets", headers={"origin": "https://evil.example"})
    assert response.status_code in {200, 405}, response.text
    assert "access-control-allow-origin" not in response.headers


# -- with keys nothing changes ---------------------------------------------------------------


def test_with_keys_any_host_and_origin_is_served(make_client: MakeClient) -> None:
    client = make_client(api_keys=KEY)
    auth = {"authorization": f"Bearer {KEY}"}
    for host in ("evil.example", "forecast.example:8000", "10.0.0.5"):
        assert client.get("/v1/functions", headers={"host": host} | auth).status_code == 200
        assert client.get("/v1/functions", headers={"host": host}).status_code == 401
    cross = {"origin": "https://evil.example", "sec-fetch-site": "cross-site"}
    created = client.post("/v1/datasets", headers=cross | auth, **CSV_UPLOAD)
    assert created.status_code == 201, created.text
    assert client.post("/v1/datasets", headers=cross, **CSV_UPLOAD).status_code == 401


# -- settings -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", ()),
        ("forecast.internal", ("forecast.internal",)),
        (" A.example ,, b.example., ", ("a.example", "b.example")),
        ("10.0.0.5,[FD00::5],fd00::6", ("10.0.0.5", "fd00::5", "fd00::6")),
        ("*", ("*",)),
    ],
)
def test_allowed_hosts_from_the_environment(
    clean_env: pytest.MonkeyPatch, value: str, expected: tuple[str, ...]
) -> None:
    clean_env.setenv("FORECAST_ALLOWED_HOSTS", value)
    clean_env.setenv("FORECAST_AUTH_DISABLED", "true")  # what * needs (see below)
    assert Settings(_env_file=None).allowed_hosts == expected  # type: ignore[call-arg]


@pytest.mark.parametrize(
    "value",
    ["forecast.internal:8000", "http://forecast.internal", "a b", "*.example", "a/b", "[::1"],
)
def test_an_allowed_host_is_a_bare_name_or_address(
    clean_env: pytest.MonkeyPatch, value: str
) -> None:
    clean_env.setenv("FORECAST_ALLOWED_HOSTS", value)
    with pytest.raises(ValidationError, match="FORECAST_ALLOWED_HOSTS"):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_by_default_only_loopback_names_are_answered(clean_env: pytest.MonkeyPatch) -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.allowed_hosts == ()
    assert settings.answered_hosts() == frozenset({"localhost", "127.0.0.1", "::1"})
    assert Settings(_env_file=None, host="0.0.0.0").answered_hosts() == (  # type: ignore[call-arg]
        settings.answered_hosts()
    )


# -- a real server -----------------------------------------------------------------------------


@pytest.mark.slow
def test_a_real_server_refuses_a_rebinding_page_and_a_cross_site_upload(service: Server) -> None:
    before = service.http.get("/v1/datasets").json()["total"]
    rebound = service.http.get("/v1/datasets", headers={"host": f"evil.example:{service.port}"})
    assert_error(rebound, 421, "misdirected_request", "host")
    # A cross-site page's form post: a "simple" request the browser sends without asking.
    cross = service.http.post(
        "/v1/datasets",
        headers={"origin": "https://evil.example", "sec-fetch-site": "cross-site"},
        **CSV_UPLOAD,
    )
    assert_error(cross, 403, "cross_origin_request", "origin")
    assert service.http.get("/v1/datasets").json()["total"] == before
    own = service.http.post(
        "/v1/datasets",
        headers={"origin": f"http://127.0.0.1:{service.port}", "sec-fetch-site": "same-origin"},
        **CSV_UPLOAD,
    )
    assert own.status_code == 201, own.text
    named = service.http.get("/v1/datasets", headers={"host": f"localhost:{service.port}"})
    assert named.status_code == 200
    assert named.json()["total"] == before + 1
    assert service.http.delete(f"/v1/datasets/{own.json()['id']}").status_code == 204


# -- what a second look found ---------------------------------------------------------------


def test_a_star_needs_a_proxy_that_checks_the_host(clean_env: pytest.MonkeyPatch) -> None:
    """Any Host answered, without keys, is the rebinding page's way in: * only where a proxy in
    front checks the Host (auth disabled), or with keys (where the check does not run)."""
    with pytest.raises(ValidationError, match="DNS-rebinding"):
        Settings(_env_file=None, allowed_hosts=("*",))  # type: ignore[call-arg]
    assert Settings(_env_file=None, allowed_hosts=("*",), auth_disabled=True).allowed_hosts


@pytest.mark.parametrize(
    ("host", "origin"),
    [
        ("localhost:80", "http://localhost"),  # the scheme's default port, written or not
        ("localhost", "http://localhost:80"),
        ("localhost.:8000", "http://localhost:8000"),  # a final dot
        ("LOCALHOST:8000", "http://localhost:8000"),
        ("[::1]:8000", "http://[0:0:0:0:0:0:0:1]:8000"),
    ],
)
def test_origins_compare_as_scheme_host_and_port(
    client: TestClient, host: str, origin: str
) -> None:
    answer = client.post("/v1/datasets", headers={"host": host, "origin": origin}, **JSON_UPLOAD)
    assert answer.status_code == 201, answer.text


@pytest.mark.parametrize("method", ["post", "PROPFIND", "MKCOL"])
def test_any_method_but_get_head_and_options_is_checked_for_its_origin(
    client: TestClient, method: str
) -> None:
    answer = client.request(
        method, "/v1/datasets", headers={"origin": "http://evil.example"}, **JSON_UPLOAD
    )
    assert_error(answer, 403, "cross_origin_request", "origin")


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
def test_probes_answer_whatever_host_they_name(make_client: MakeClient, path: str) -> None:
    """A platform's probes and scrapers reach a service by its pod address or service name."""
    client = make_client(host="0.0.0.0", auth_disabled=True, metrics_public=True)
    assert client.get(path, headers={"host": "10.1.2.3:8000"}).status_code == 200
    refused = client.get("/v1/functions", headers={"host": "10.1.2.3:8000"})
    assert_error(refused, 421, "misdirected_request", "host")
