"""ASGI middleware: a request-body size limit, the Host and Origin checks of a service without
keys, and HTTP metrics."""

from __future__ import annotations

import re
import time

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.config import host_name
from app.core.errors import BodyTooLarge, body_too_large_message, error_body
from app.core.metrics import ServiceMetrics

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class BodySizeLimit:
    """Refuse bodies over `limit` bytes: by Content-Length up front, and while reading, so a
    chunked body with no Content-Length is cut off too."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            refusal = JSONResponse(
                error_body("payload_too_large", body_too_large_message(self.limit)),
                status_code=413,
                headers={"connection": "close"},
            )
            await refusal(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        await self.app(scope, limited_receive, send)


# A Host header: a name or an IPv4 address, or an IPv6 address in brackets; then a port.
_AUTHORITY = re.compile(r"(?P<host>\[[^\]]*\]|[^:\[\]]+)(?::[0-9]{1,5})?")
_STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_SAME_ORIGIN_FETCHES = frozenset({b"same-origin", b"none"})  # "none": the user's own action
_CHECKED = frozenset({b"host", b"origin", b"sec-fetch-site"})
UNKNOWN_HOST = (
    "this service does not answer to the host this request names: without API keys it answers "
    "to localhost, 127.0.0.1, [::1], its bind address and the names in FORECAST_ALLOWED_HOSTS"
)
CROSS_ORIGIN = (
    "a POST, PUT, PATCH or DELETE from another origin's page is refused: without API keys the "
    "service takes changes only from its own pages (an Origin header equal to its own origin) "
    "and from clients that send no Origin, such as curl and the Python client"
)


def authority_host(authority: bytes) -> str | None:
    """The host name of a Host header (`name[:port]`, `[v6][:port]`), as `host_name` writes it;
    None if the header is malformed."""
    found = _AUTHORITY.fullmatch(authority.decode("latin-1"))
    return host_name(found["host"]) if found else None


def _cross_origin(
    scheme: str, hosts: list[bytes], origins: list[bytes], fetch_sites: list[bytes]
) -> bool:
    """Whether a browser sent this request from another origin's page. Browsers send Origin
    with every POST, PUT, PATCH and DELETE; Sec-Fetch-Site alone is read where Origin is missing.
    Clients that are not browsers send neither."""
    if origins:
        own = f"{scheme}://".encode() + hosts[0].lower() if len(hosts) == 1 else None
        return len(origins) > 1 or origins[0].lower() != own
    return any(site.lower() not in _SAME_ORIGIN_FETCHES for site in fetch_sites)


class HostAndOriginCheck:
    """For a service without API keys, which a browser page can reach on loopback: a 421 for a
    request whose Host names another host (a DNS-rebinding page's), and a 403 for a POST, PUT,
    PATCH or DELETE sent by another origin's page (a cross-site form or fetch). With keys it is
    not installed: a page cannot send the key."""

    def __init__(self, app: ASGIApp, hosts: frozenset[str]) -> None:
        self.app, self.hosts, self.any_host = app, hosts, "*" in hosts

    def answers(self, hosts: list[bytes]) -> bool:
        """Whether the Host header names this service; without one (HTTP/1.0) there is no name
        to rebind."""
        if not hosts:
            return True
        name = authority_host(hosts[0]) if len(hosts) == 1 else None
        return name is not None and (self.any_host or name in self.hosts)

    def refusal(self, scope: Scope) -> JSONResponse | None:
        """The answer that refuses this request, or None to serve it."""
        found: dict[bytes, list[bytes]] = {name: [] for name in _CHECKED}
        for name, value in scope["headers"]:
            if name in _CHECKED:
                found[name].append(value)
        if not self.answers(found[b"host"]):
            return JSONResponse(error_body("misdirected_request", UNKNOWN_HOST, "host"), 421)
        if scope["method"] in _STATE_CHANGING and _cross_origin(
            scope["scheme"], found[b"host"], found[b"origin"], found[b"sec-fetch-site"]
        ):
            return JSONResponse(error_body("cross_origin_request", CROSS_ORIGIN, "origin"), 403)
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = self.refusal(scope) if scope["type"] == "http" else None
        if refusal is None:
            await self.app(scope, receive, send)
        else:
            await refusal(scope, receive, send)


class HttpMetrics:
    """Count requests and time them by route template (a closed set), method and status."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began, status = time.perf_counter(), 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        self.metrics.http_in_progress.inc()
        try:
            await self.app(scope, receive, send_status)
        finally:
            self.metrics.http_in_progress.dec()
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope["method"] if scope["method"] in _METHODS else "other"
            self.metrics.http_requests.labels(route, method, str(status)).inc()
            self.metrics.http_duration.labels(route, method).observe(time.perf_counter() - began)
