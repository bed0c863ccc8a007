"""ASGI middleware: a request-body size limit, the Host and Origin checks of a service without
keys, and HTTP metrics."""

from __future__ import annotations

import re
import time

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.config import LOOPBACK_NAMES, host_name
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
_AUTHORITY = re.compile(r"(?P<host>\[[^\]]*\]|[^:\[\]]+)(?::(?P<port>[0-9]{1,5}))?")
# Methods that change nothing; every other one (POST, PUT, PATCH, DELETE, or any other name a
# client sends) is checked for its origin.
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_SAME_ORIGIN_FETCHES = frozenset({b"same-origin", b"none"})  # "none": the user's own action
_CHECKED = frozenset({b"host", b"origin", b"sec-fetch-site"})
# Probes and scrapers name the host they reach the service by (a pod's address, a service
# name): they read no user data, so the Host rule does not stand in their way.
PROBES = frozenset({"/healthz", "/readyz", "/metrics"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
UNKNOWN_HOST = (
    "this service does not answer to the host this request names: without API keys it answers "
    f"to {', '.join(f'[{name}]' if ':' in name else name for name in LOOPBACK_NAMES)}, its "
    "bind address and the names in FORECAST_ALLOWED_HOSTS"
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


def _origin(scheme: str, authority: bytes) -> tuple[str, str, int] | None:
    """(scheme, host name, port) of `scheme://authority`, the port its scheme's default when
    not written; None when the authority is malformed."""
    found = _AUTHORITY.fullmatch(authority.decode("latin-1"))
    name = host_name(found["host"]) if found else None
    if found is None or name is None:
        return None
    port = found["port"]
    return scheme, name, int(port) if port else _DEFAULT_PORTS.get(scheme, 0)


def _cross_origin(
    scheme: str, hosts: list[bytes], origins: list[bytes], fetch_sites: list[bytes]
) -> bool:
    """Whether a browser sent this request from another origin's page. Browsers send Origin
    with every POST, PUT, PATCH and DELETE; Sec-Fetch-Site alone is read where Origin is missing.
    Clients that are not browsers send neither. Origins compare as (scheme, host, port)."""
    if origins:
        sent_scheme, _, authority = origins[0].decode("latin-1").lower().partition("://")
        theirs = _origin(sent_scheme, authority.encode("latin-1")) if authority else None
        own = _origin(scheme, hosts[0]) if len(hosts) == 1 else None
        return len(origins) > 1 or theirs is None or theirs != own
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
        probe = scope["path"] in PROBES and scope["method"] in ("GET", "HEAD")
        if not probe and not self.answers(found[b"host"]):
            return JSONResponse(error_body("misdirected_request", UNKNOWN_HOST, "host"), 421)
        if scope["method"].upper() not in _SAFE_METHODS and _cross_origin(
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
