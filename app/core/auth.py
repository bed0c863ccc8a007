"""API keys: `Authorization: Bearer <key>` on every route but /healthz, /readyz and the pages.

Keys come from FORECAST_API_KEYS. With none configured (the loopback default) nothing is asked;
`serve` refuses a non-loopback address in that case. `ApiKeyGate` checks the key before any
request body is read or parsed, so an anonymous client cannot make the service parse a 50 MB
body. Keys are compared as SHA-256 digests in constant time, against every configured key, so
neither a key's length nor its prefix nor which key matched shows in the timing.
"""

from __future__ import annotations

import hashlib
import hmac

from fastapi import Security
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBearer
from starlette.types import ASGIApp, Receive, Scope, Send

from app.core.config import Settings
from app.core.errors import error_body

# Declares the scheme in the OpenAPI document (and the docs page's Authorize button); the check
# itself is ApiKeyGate's, made before FastAPI reads anything.
bearer_scheme = HTTPBearer(auto_error=False, description="an API key from FORECAST_API_KEYS")
documented = Security(bearer_scheme)

OPEN_PATHS = frozenset({"/", "/healthz", "/readyz", "/docs", "/redoc", "/openapi.json", "/ui"})
# The dashboard's static files (app.ui) hold no data, like /docs: the browser sends the key with
# each data call it makes, so a key never has to sit in a URL or a cookie.
OPEN_PREFIXES = ("/ui/",)
MISSING = "this route needs an API key: send `Authorization: Bearer <key>`"
INVALID = "the API key is not valid"
TWO_HEADERS = "send one Authorization header, not several"


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


class ApiKeyGate:
    """401 for a request without a configured key, before the app sees it (when keys are
    configured). The docs, the dashboard's pages and the health routes stay open, and /metrics
    with METRICS_PUBLIC."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.digests = [_digest(key.get_secret_value()) for key in settings.api_keys]
        self.open_paths = OPEN_PATHS | ({"/metrics"} if settings.metrics_public else set())

    def allows(self, authorization: str | None) -> str | None:
        """None if `authorization` carries a configured key, else why not."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return MISSING
        given, matched = _digest(token.strip()), False
        for digest in self.digests:
            matched |= hmac.compare_digest(given, digest)
        return None if matched else INVALID

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] != "http"
            or not self.digests
            or path in self.open_paths
            or path.startswith(OPEN_PREFIXES)
        ):
            await self.app(scope, receive, send)
            return
        headers = [value for name, value in scope["headers"] if name == b"authorization"]
        if len(headers) > 1:  # which one counts would differ between proxies and us: neither
            response = JSONResponse(
                error_body("bad_request", TWO_HEADERS, "authorization"), status_code=400
            )
            await response(scope, receive, send)
            return
        refusal = self.allows(headers[0].decode("latin-1") if headers else None)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        response = JSONResponse(
            error_body("unauthorized", refusal),
            status_code=401,
            headers={"www-authenticate": "Bearer"},
        )
        await response(scope, receive, send)
