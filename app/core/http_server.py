"""Serving HTTP with uvicorn, with bounds a slow or stalled client cannot outwait.

uvicorn bounds idle keep-alive connections but not a request in flight: a client that sends
its headers (or its body) a byte a minute holds a connection for ever, and a few hundred such
clients hold the server. `guarded_protocol` gives each phase in which the client sends a
deadline from its start: the headers `header_timeout` seconds (from the connection's start, or
from the first byte of a later request on a kept-alive connection) and the body
`body_timeout`; the connection is closed when one passes. It also bounds what a client may
send ahead while its request is answered (pipelined bytes). uvicorn's `limit_concurrency`
answers 503 past `max_connections`. A client that stops reading its response is not bounded
here: the operating system's send buffer is.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from types import FrameType

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from app.core.config import Settings
from app.core.stopping import shutting_down

logger = logging.getLogger(__name__)
MAX_SENT_AHEAD = 64 * 1024  # bytes of a next request a client may send before this one is done


class _GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline on reading each request's headers and body."""

    header_timeout = 10.0
    body_timeout = 120.0
    _timer: asyncio.TimerHandle | None = None
    _phase: object = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._phase = h11.IDLE
        self._arm(h11.IDLE)  # a client that connects and sends nothing is a slow client too

    def data_received(self, data: bytes) -> None:
        if self._phase is h11.IDLE and self._timer is None:
            self._arm(h11.IDLE)  # the first bytes of a request on a kept-alive connection
        super().data_received(data)
        if len(self.conn.trailing_data[0]) > MAX_SENT_AHEAD:
            logger.info("closing the connection of %s: it sent too much ahead", self.client)
            self.transport.close()
            return
        self._watch()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch()  # back to IDLE: uvicorn's keep-alive bounds the wait for the next request

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel()
        super().connection_lost(exc)

    def _watch(self) -> None:
        """One deadline per phase of the client's side: the body (SEND_BODY) from its start;
        the headers (IDLE) from the first byte (see data_received)."""
        phase = self.conn.their_state
        if phase is self._phase:
            return
        self._cancel()
        self._phase = phase
        if phase is h11.SEND_BODY:
            self._arm(phase)

    def _arm(self, phase: object) -> None:
        limit = self.header_timeout if phase is h11.IDLE else self.body_timeout
        if not self.transport.is_closing():
            self._timer = self.loop.call_later(limit, self._too_slow, phase, limit)

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _too_slow(self, phase: object, limit: float) -> None:
        what = "its request headers" if phase is h11.IDLE else "its request body"
        logger.info("closing the connection of %s: %s took over %g s", self.client, what, limit)
        self.transport.close()


def guarded_protocol(header_timeout: float, body_timeout: float) -> type[H11Protocol]:
    """The h11 protocol class with these deadlines."""
    return type(
        "GuardedH11Protocol",
        (_GuardedH11Protocol,),
        {"header_timeout": header_timeout, "body_timeout": body_timeout},
    )


class _Server(uvicorn.Server):
    """uvicorn's server that also tells open event streams to end when it is asked to stop
    (uvicorn waits for every open response before its shutdown goes on)."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        shutting_down.set()
        super().handle_exit(sig, frame)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:  # where a person opens it, beside uvicorn's own line
            host = f"[{self.config.host}]" if ":" in self.config.host else self.config.host
            base = f"http://{host}:{self.config.port}"
            logger.info("dashboard at %s/ui/, API docs at %s/docs", base, base)


def serve(settings: Settings) -> None:
    """Run the app factory on FORECAST_HOST:FORECAST_PORT until stopped."""
    config = uvicorn.Config(
        "app.main:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        http=guarded_protocol(settings.header_timeout_seconds, settings.body_timeout_seconds),
        limit_concurrency=settings.max_connections,
        timeout_keep_alive=settings.keep_alive_seconds,
    )
    server = _Server(config)
    server.run()
    if not server.started:  # as uvicorn.run: the port was taken, the app would not load...
        raise SystemExit(3)
