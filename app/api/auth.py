"""API keys: `Authorization: Bearer <key>` on every route but /healthz and /readyz.

Keys come from FORECAST_API_KEYS. With none configured (the loopback default) nothing is asked;
`serve` refuses a non-loopback address in that case. Keys are compared in constant time, against
every configured key, so neither a key's prefix nor which key matched shows in the timing.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.errors import Unauthorized

_bearer = HTTPBearer(auto_error=False, description="an API key from FORECAST_API_KEYS")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _key_matches(given: str, settings_keys: tuple[str, ...]) -> bool:
    given_bytes = given.encode()
    matched = False
    for key in settings_keys:
        matched |= hmac.compare_digest(given_bytes, key.encode())
    return matched


def _check(request: Request, credentials: HTTPAuthorizationCredentials | None) -> None:
    keys = tuple(key.get_secret_value() for key in request.app.state.settings.api_keys)
    if not keys:
        return
    if credentials is None:
        raise Unauthorized("this route needs an API key: send `Authorization: Bearer <key>`")
    if not _key_matches(credentials.credentials, keys):
        raise Unauthorized("the API key is not valid")


def require_api_key(request: Request, credentials: Credentials) -> None:
    """401 unless the request carries a configured key (when keys are configured)."""
    _check(request, credentials)


def require_metrics_access(request: Request, credentials: Credentials) -> None:
    """Like `require_api_key`, unless FORECAST_METRICS_PUBLIC opens /metrics to scrapers."""
    if not request.app.state.settings.metrics_public:
        _check(request, credentials)
