"""Work that stops when its client goes away: `run_while_connected` and its `keep_going`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import anyio
import pytest
from starlette.requests import ClientDisconnect, Request
from starlette.types import Message

from app.core.disconnect import POLL_SECONDS, run_while_connected
from tests.waiting import LIVENESS_SECONDS

KeepGoing = Callable[[], bool]


def request_of(client_left: bool) -> Request:
    """A request whose body is read; its client gone, or still waiting for the answer."""

    async def receive() -> Message:
        if client_left:
            return {"type": "http.disconnect"}
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    return Request({"type": "http", "method": "POST", "path": "/", "headers": []}, receive)


def ask_until_stopped(keep_going: KeepGoing) -> int:
    """Asks `keep_going` between short steps, as a rollout does; the steps it made."""
    steps, deadline = 0, time.monotonic() + LIVENESS_SECONDS
    while keep_going() and time.monotonic() < deadline:
        steps += 1
        time.sleep(0.001)
    return steps


def ask_for(seconds: float) -> Callable[[KeepGoing], list[bool]]:
    """Work that asks `keep_going` for `seconds` and returns every answer."""

    def work(keep_going: KeepGoing) -> list[bool]:
        answers, end = [], time.monotonic() + seconds
        while time.monotonic() < end:
            answers.append(keep_going())
            time.sleep(0.001)
        return answers

    return work


def test_work_whose_client_left_stops_and_answers_client_disconnect() -> None:
    async def main() -> None:
        with pytest.raises(ClientDisconnect):
            await run_while_connected(request_of(client_left=True), ask_until_stopped)

    anyio.run(main)


def test_work_whose_client_waits_goes_on_and_returns_its_answer() -> None:
    async def main() -> list[bool]:
        return await run_while_connected(request_of(client_left=False), ask_for(4 * POLL_SECONDS))

    answers = anyio.run(main)
    assert answers
    assert all(answers)


def test_keep_going_answers_in_any_thread() -> None:
    """A batch's leader asks for every forecast in its batch, from its own thread."""
    steps: list[int] = []

    def work(keep_going: KeepGoing) -> None:
        other = threading.Thread(target=lambda: steps.append(ask_until_stopped(keep_going)))
        other.start()
        other.join(LIVENESS_SECONDS)

    async def main() -> None:
        with pytest.raises(ClientDisconnect):
            await run_while_connected(request_of(client_left=True), work)

    anyio.run(main)
    assert len(steps) == 1  # it returned: keep_going answered False there too


def test_work_that_fails_after_its_client_left_answers_client_disconnect() -> None:
    def work(keep_going: KeepGoing) -> None:
        ask_until_stopped(keep_going)
        raise RuntimeError("stopped half way")  # as a rollout cut short

    async def main() -> None:
        with pytest.raises(ClientDisconnect):
            await run_while_connected(request_of(client_left=True), work)

    anyio.run(main)


def test_a_failure_with_the_client_still_there_is_the_failure() -> None:
    def work(keep_going: KeepGoing) -> None:
        raise ValueError("bad input")

    async def main() -> None:
        with pytest.raises(ValueError, match="bad input"):
            await run_while_connected(request_of(client_left=False), work)

    anyio.run(main)
