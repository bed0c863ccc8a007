"""Blocking work that stops when its client goes away.

A route runs the work in a worker thread and watches the connection meanwhile; the work asks
`keep_going()` between its steps, and a client that disconnected ends it there instead of
keeping a thread (and the CPU) busy for a response nobody will read.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import anyio
from fastapi import Request
from starlette.requests import ClientDisconnect

T = TypeVar("T")
POLL_SECONDS = 0.05  # how soon a disconnect is noticed


async def run_while_connected(request: Request, work: Callable[[Callable[[], bool]], T]) -> T:
    """`work(keep_going)` in a worker thread; ClientDisconnect when the client left first."""
    gone = threading.Event()

    async def watch() -> None:
        while not await request.is_disconnected():
            await anyio.sleep(POLL_SECONDS)
        gone.set()

    outcome: list[T] = []
    failure: list[Exception] = []

    async def run() -> None:
        try:
            outcome.append(await anyio.to_thread.run_sync(work, lambda: not gone.is_set()))
        except anyio.get_cancelled_exc_class():  # the request itself was cancelled (shutdown)
            gone.set()  # the thread finishes soon: its next keep_going() answers False
            raise
        except Exception as exc:  # re-raised below, outside the task group (no ExceptionGroup)
            failure.append(exc)
        tasks.cancel_scope.cancel()  # the watcher too

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(watch)
        tasks.start_soon(run)
    if gone.is_set():  # the work ended early, or for nobody: its client left
        raise ClientDisconnect
    if failure:
        raise failure[0]
    return outcome[0]
