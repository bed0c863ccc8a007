"""The browser dashboard at /ui: static pages that call the API from the browser.

The pages hold no data, so they are served without a key (see app.core.auth); every call they
make for data sends the key the user typed, as any other client does.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).parent / "static"
# Only this origin's own files run or load: no inline script or style, no CDN, no frames.
HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-cache",  # revalidate: a new release's scripts are picked up at once
}


class DashboardFiles(StaticFiles):
    """The dashboard's files, index.html for /ui/, with the headers above."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(HEADERS)
        return response


def install(app: FastAPI) -> None:
    """Serve the dashboard at /ui/ (and /ui redirects there); the service's root leads to it."""
    app.mount("/ui", DashboardFiles(directory=STATIC_DIR, html=True), name="ui")

    @app.get("/", include_in_schema=False)
    def home(request: Request) -> RedirectResponse:
        """The dashboard, which links to the API's pages."""
        return RedirectResponse(f"{request.scope.get('root_path', '')}/ui/")
