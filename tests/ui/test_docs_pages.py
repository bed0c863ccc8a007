"""The API's reference pages, /docs and /redoc: served from the package (no CDN), every file they
load pinned by a Subresource Integrity hash, under the dashboard's Content-Security-Policy."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.ui import HEADERS, STATIC_DIR
from app.ui.docs import INTEGRITY, REDOC_STYLES
from tests.factories import make_settings

KEY = "docs-key-0123456789"
VENDOR = STATIC_DIR / "vendor"
PAGES = ["/docs", "/redoc"]
MakeClient = Callable[..., TestClient]


def sri(content: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(content).digest()).decode()


def loaded(page: str) -> list[tuple[str, str]]:
    """(URL, integrity) of every script and stylesheet `page` names."""
    tags = re.findall(r"<(?:script|link)\b[^>]*>", page)
    found = []
    for tag in tags:
        url = re.search(r'\b(?:src|href)="([^"]*)"', tag)
        if url is None or url.group(1).startswith("data:"):
            continue
        integrity = re.search(r'\bintegrity="([^"]*)"', tag)
        found.append((url.group(1), integrity.group(1) if integrity else ""))
    return found


@pytest.mark.parametrize("path", PAGES)
def test_a_page_loads_only_the_service_s_own_files_each_pinned(
    client: TestClient, path: str
) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    files = loaded(response.text)
    assert files
    for url, integrity in files:
        assert url.startswith("/ui/"), url  # the dashboard's mount, never another host
        served = client.get(url)
        assert served.status_code == 200, url
        assert integrity == sri(served.content), url
    assert "http://" not in response.text
    assert "https://" not in response.text


@pytest.mark.parametrize("path", PAGES)
def test_a_page_runs_no_inline_script_or_style(client: TestClient, path: str) -> None:
    page = client.get(path).text
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)
    assert "<style" not in page
    assert " style=" not in page
    assert not re.search(r"\son[a-z]+=", page)


def test_the_swagger_page_has_the_dashboard_s_policy(client: TestClient) -> None:
    headers = client.get("/docs").headers
    for name, value in HEADERS.items():
        assert headers[name] == value, name


def test_the_redoc_page_adds_only_two_style_hashes(client: TestClient) -> None:
    headers = client.get("/redoc").headers
    policy = headers["content-security-policy"]
    assert policy == HEADERS["content-security-policy"].replace(
        "style-src 'self'", "style-src 'self' " + " ".join(REDOC_STYLES)
    )
    assert "unsafe" not in policy
    assert "script-src 'self';" in policy
    assert headers["x-content-type-options"] == "nosniff"


def test_every_pinned_file_matches_its_hash() -> None:
    assert set(INTEGRITY) == {
        "vendor/swagger-ui-bundle.js",
        "vendor/swagger-ui.css",
        "vendor/redoc.standalone.js",
        "swagger-ui-init.js",
    }
    for name, integrity in INTEGRITY.items():
        assert sri((STATIC_DIR / name).read_bytes()) == integrity, name


def test_the_pages_follow_the_prefix_a_proxy_serves_them_under(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path))
    with TestClient(app, root_path="/forecast") as client:
        for path in PAGES:
            page = client.get(path).text
            assert all(url.startswith("/forecast/ui/") for url, _ in loaded(page)), path
            assert '"/forecast/openapi.json"' in page, path


def test_with_keys_the_pages_and_their_files_are_open(make_client: MakeClient) -> None:
    client = make_client(api_keys=KEY)
    for path in PAGES:
        page = client.get(path)
        assert page.status_code == 200, path
        for url, _ in loaded(page.text):
            assert client.get(url).status_code == 200, url
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/v1/functions").status_code == 401


def test_the_docs_page_takes_any_query(client: TestClient) -> None:
    assert client.get("/docs?utm_source=readme").status_code == 200  # a link's tracking tail


# -- the vendored builds -----------------------------------------------------------------------


def test_the_vendored_builds_carry_their_licences_and_provenance() -> None:
    assert "Apache License" in (VENDOR / "swagger-ui.LICENSE").read_text()
    assert "SmartBear" in (VENDOR / "swagger-ui.NOTICE").read_text()
    assert "MIT License" in (VENDOR / "redoc.LICENSE").read_text()
    assert (VENDOR / "swagger-ui-bundle.js.LICENSE.txt").is_file()
    assert (VENDOR / "redoc.standalone.js.LICENSE.txt").is_file()
    readme = (VENDOR / "README.md").read_text()
    assert "swagger-ui-dist@5.36.0" in readme
    assert "redoc@2.5.2" in readme


def test_the_vendored_builds_reach_for_nothing_off_the_service() -> None:
    # ReDoc's build draws its maker's logo from a CDN: the copy here has that one URL removed.
    assert "cdn.redoc.ly" not in (VENDOR / "redoc.standalone.js").read_text()
    assert "validatorUrl: null" in (STATIC_DIR / "swagger-ui-init.js").read_text()


def test_the_vendored_builds_stay_small() -> None:
    """They travel in the wheel and the image."""
    names = ["swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"]
    assert sum((VENDOR / name).stat().st_size for name in names) < 4_000_000
