"""Blocking work that stops when its client goes away.

A route runs the work in a worker thread; the work asks `keep_going()` between its steps, and a
client that disconnected ends it there instead of keeping a thread (and the CPU) busy for a
response nobody will read. The connection is looked at from the thread that asks, at most every
POLL_SECONDS and never in a request's first POLL_SECONDS: most work ends sooner, and a watcher
task beside every request (a task group, a poll at its start) cost more than a short forecast.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.from_thread
import anyio.lowlevel
from anyio.lowlevel import EventLoopToken
from fastapi import Request
from starlette.requests import ClientDisconnect

T = TypeVar("T")
POLL_SECONDS = 0.05  # how soon a disconnect is noticed


class ConnectionWatch:
    """`keep_going()` for work in any thread: False once the request's client has gone.

    It asks the event loop (through `token`) whether the client disconnected, no sooner than
    POLL_SECONDS after the previous look (or after the watch began), so work that takes less
    costs nothing. It must not be called on the event loop's own thread, which it would wait on.
    """

    def __init__(self, request: Request, token: EventLoopToken) -> None:
        self._request, self._token = request, token
        self._lock = threading.Lock()  # one look at a time: a batch leader asks for others
        self._next_look = time.monotonic() + POLL_SECONDS
        self.gone = False

    def keep_going(self) -> bool:
        """Whether the client still waits for the work's answer."""
        if self.gone:
            return False
        if time.monotonic() < self._next_look:
            return True
        with self._lock:
            if not self.gone and time.monotonic() >= self._next_look:
                self.gone = self._disconnected()
                self._next_look = time.monotonic() + POLL_SECONDS
        return not self.gone

    def _disconnected(self) -> bool:
        try:
            return anyio.from_thread.run(self._request.is_disconnected, token=self._token)
        except anyio.RunFinishedError:  # the server's loop has ended: nobody reads the answer
            return True


async def run_while_connected(request: Request, work: Callable[[Callable[[], bool]], T]) -> T:
    """`work(keep_going)` in a worker thread; ClientDisconnect when the client left first."""
    watch = ConnectionWatch(request, anyio.lowlevel.current_token())
    try:
        outcome = await anyio.to_thread.run_sync(work, watch.keep_going)
    except Exception:
        if watch.gone:  # the work ended early, or failed, for nobody: its client left
            raise ClientDisconnect from None
        raise
    if watch.gone:
        raise ClientDisconnect
    return outcome
