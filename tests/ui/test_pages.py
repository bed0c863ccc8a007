"""The dashboard's files: served at /ui/ with a strict Content-Security-Policy, open without a
key (they hold no data) while every data route still asks for one."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable

from fastapi.testclient import TestClient

from app.ui import STATIC_DIR
from tests.conftest import AppFactory

KEY = "ui-key-0123456789"
MakeClient = Callable[..., TestClient]


def test_ui_redirects_to_the_index_page(client: TestClient) -> None:
    response = client.get("/ui", follow_redirects=False)
    assert response.status_code in {307, 308}
    assert response.headers["location"].endswith("/ui/")


def test_index_page_is_served_with_a_content_security_policy(client: TestClient) -> None:
    response = client.get("/ui/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert response.headers["x-content-type-options"] == "nosniff"


def test_every_file_the_index_names_is_served(client: TestClient) -> None:
    index = (STATIC_DIR / "index.html").read_text()
    names = re.findall(r'(?:src|href)="(?!data:)([^"#]+)"', index)
    assert "vendor/uPlot.iife.min.js" in names
    for name in names:
        response = client.get(f"/ui/{name}")
        assert response.status_code == 200, name


def test_pages_have_no_inline_script_or_style() -> None:
    for page in STATIC_DIR.glob("*.html"):
        text = page.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), page.name
        assert "<style" not in text, page.name
        assert " style=" not in text, page.name
        assert not re.search(r"\son[a-z]+=", text), page.name  # no inline event handlers


def test_modules_import_only_files_that_exist() -> None:
    for script in STATIC_DIR.glob("*.js"):
        for name in re.findall(r'from "\./([^"]+)"', script.read_text()):
            assert (STATIC_DIR / name).is_file(), f"{script.name} imports {name}"


def test_the_vendored_chart_library_carries_its_licence() -> None:
    assert "MIT License" in (STATIC_DIR / "vendor" / "uPlot.LICENSE").read_text()
    assert "uplot@1.6.32" in (STATIC_DIR / "vendor" / "README.md").read_text()


def test_with_keys_the_pages_are_open_and_the_data_is_not(make_client: MakeClient) -> None:
    client = make_client(api_keys=KEY)
    assert client.get("/ui/").status_code == 200
    assert client.get("/ui/api.js").status_code == 200
    assert client.get("/v1/jobs").status_code == 401
    assert client.get("/v1/jobs", headers={"Authorization": f"Bearer {KEY}"}).status_code == 200


def test_the_open_prefix_reaches_only_the_dashboard_files(make_client: MakeClient) -> None:
    client = make_client(api_keys=KEY)
    # A path under /ui/ goes to the static files alone, which refuse to leave their folder.
    for path in ("/ui/../v1/jobs", "/ui/%2e%2e/v1/jobs", "/ui/v1/jobs", "/uiv1/jobs"):
        response = client.get(path)
        assert response.status_code in {401, 404}, path
        assert "items" not in response.text, path


def test_every_dashboard_file_is_package_data() -> None:
    """An installed service (the wheel, the image) must carry every file the pages load."""
    config = tomllib.loads((STATIC_DIR.parents[2] / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["app.ui"]
    package = STATIC_DIR.parent
    files = [path for path in STATIC_DIR.rglob("*") if path.is_file()]
    assert len(files) > 10
    for path in files:
        relative = path.relative_to(package)
        assert any(relative.match(pattern) for pattern in patterns), relative


# What the dashboard's scripts read of the API's views: (script, the variable, the schema it holds).
FIELD_READS = [
    ("jobs.js", "progress", "ProgressRead"),
    ("charts.js", "progress", "ProgressRead"),
    ("metrics.js", "metrics", "MetricsRead"),
    ("metrics.js", "member", "MemberRead"),
    ("models.js", "metrics", "MetricsRead"),
]


def test_the_fields_the_scripts_read_are_in_the_published_schema(client: TestClient) -> None:
    """A view's field renamed or dropped by the service shows up here, not as a blank page."""
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    read: dict[str, set[str]] = {}
    for script, variable, schema in FIELD_READS:
        text = (STATIC_DIR / script).read_text()
        fields = set(re.findall(rf"(?<![\w/]){variable}\??\.([a-z_]+)\b", text))
        assert fields, f"{script} reads nothing of {variable}"
        missing = fields - set(schemas[schema]["properties"])
        assert not missing, f"{script} reads {sorted(missing)} of {variable}, not in {schema}"
        read.setdefault(schema, set()).update(fields)
    assert {"member", "members", "epoch", "epochs", "best_epoch"} <= read["ProgressRead"]
    assert {"series_count", "members", "one_step", "mean"} <= read["MetricsRead"]
    assert {"seed", "best_epoch", "epochs_run", "stop_reason"} <= read["MemberRead"]


def test_the_root_leads_to_the_dashboard_which_links_the_api_docs(make_client: AppFactory) -> None:
    for client in (make_client(), make_client(api_keys="a-key-of-sixteen-chars-or-more")):
        answer = client.get("/", follow_redirects=False)
        assert answer.status_code == 307
        assert answer.headers["location"] == "/ui/"
        page = client.get("/ui/")
        assert page.status_code == 200
        assert 'href="../docs"' in page.text
