"""The API's reference pages, /docs (Swagger UI) and /redoc (ReDoc), from builds vendored in
static/vendor/ (see its README) rather than a CDN: they work on a host without Internet access,
and the key typed into /docs meets only code this package ships.

Each page names its files with Subresource Integrity hashes pinned here, so a file that differs
from the pinned build does not run, and is served with the dashboard's Content-Security-Policy:
no inline script, nothing from another origin, and no inline style but, on /redoc, the two that
REDOC_STYLES names by hash.
"""

from __future__ import annotations

from html import escape

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import HTMLResponse

from app.ui import HEADERS

ASSETS = "/ui/"  # the dashboard's mount: open without a key, like the pages themselves
# sha384 of each file the pages load, as the browser checks it (a test recomputes them).
INTEGRITY = {
    "vendor/swagger-ui-bundle.js": (
        "sha384-fUpRgC19yPykTqzdrUbdAg8NTiu16NEKf9U12J+IJWCg8/1mEI8f2+PEIz60Wyd+"
    ),
    "vendor/swagger-ui.css": (
        "sha384-z/AtSaOHGn5MJ5auAHXUypohywlIWLBZo1jeGmhdpVIbCnFhxAH92cwdV41oyINc"
    ),
    "vendor/redoc.standalone.js": (
        "sha384-r6RfyC7GEspV4kwp5FCxJkt1h8KpmRweJ9uROTsKCIWHEy4GItmzWDnn2+BqX7yr"
    ),
    "swagger-ui-init.js": "sha384-/6rgZRdkzsRK2DksYsM/K6g5IcdxIjHVC3RKD5YSeJ4puNqbCQfspXaHHSAGyv/q",
}
# ReDoc's style library adds empty <style> elements and fills them through the CSSOM, and its
# scrollbar adds one fixed stylesheet: /redoc allows exactly those two contents, by hash, and no
# other inline style. /docs needs none: its policy is the dashboard's.
REDOC_STYLES = (
    "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",  # an empty <style>
    "'sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc='",  # perfect-scrollbar's CSS
)
POLICY = HEADERS["content-security-policy"]
assert "style-src 'self'" in POLICY, "ReDoc's styles extend the dashboard's style-src"
REDOC_HEADERS = HEADERS | {
    "content-security-policy": POLICY.replace(
        "style-src 'self'", "style-src 'self' " + " ".join(REDOC_STYLES)
    )
}
PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="data:,">
{head}
</head>
<body>
{body}
</body>
</html>
"""


def _url(request: Request, path: str) -> str:
    """`path` under the prefix the app is served at (a proxy's root_path), escaped for HTML."""
    return escape(request.scope.get("root_path", "").rstrip("/") + path)


def _script(request: Request, name: str) -> str:
    return f'<script src="{_url(request, ASSETS + name)}" integrity="{INTEGRITY[name]}"></script>'


def _stylesheet(request: Request, name: str) -> str:
    return (
        f'<link rel="stylesheet" href="{_url(request, ASSETS + name)}" '
        f'integrity="{INTEGRITY[name]}">'
    )


def _page(title: str, head: list[str], body: list[str], headers: dict[str, str]) -> HTMLResponse:
    html = PAGE.format(title=escape(title), head="\n".join(head), body="\n".join(body))
    return HTMLResponse(html, headers=headers)


def install(app: FastAPI) -> None:
    """Serve /docs and /redoc for `app` (built with docs_url=None and redoc_url=None)."""
    schema = app.openapi_url or "/openapi.json"

    async def swagger_ui(request: Request) -> HTMLResponse:
        return _page(
            f"{app.title} - Swagger UI",
            [_stylesheet(request, "vendor/swagger-ui.css")],
            [
                f'<div id="swagger-ui" data-openapi-url="{_url(request, schema)}"></div>',
                _script(request, "vendor/swagger-ui-bundle.js"),
                _script(request, "swagger-ui-init.js"),
            ],
            HEADERS,
        )

    async def redoc(request: Request) -> HTMLResponse:
        return _page(
            f"{app.title} - ReDoc",
            [],
            [
                # Its search runs in a worker made from a blob: URL, which the policy refuses.
                f'<redoc spec-url="{_url(request, schema)}" disable-search></redoc>',
                _script(request, "vendor/redoc.standalone.js"),
            ],
            REDOC_HEADERS,
        )

    # Plain routes, as FastAPI adds its own pages: outside the schema and the API's dependencies.
    app.add_route("/docs", swagger_ui, include_in_schema=False)
    app.add_route("/redoc", redoc, include_in_schema=False)
