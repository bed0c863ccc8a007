"""The one way tests wait: poll for the event itself under a generous liveness timeout.

A test never asserts how fast something happened (timing targets belong in bench/): on a busy
shared machine anything can take a while. It waits until the event it needs has happened and
fails, with a message that says what it was waiting for, only when the event has clearly not
come at all.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

LIVENESS_SECONDS = 60.0  # what "clearly not at all" means unless a test says otherwise


def wait_until(
    condition: Callable[[], T],
    *,
    timeout: float = LIVENESS_SECONDS,
    interval: float = 0.05,
    message: str | Callable[[], str] = "",
) -> T:
    """Call `condition` every `interval` seconds until it returns something truthy, and return
    that. After `timeout` seconds without one, raise AssertionError with `message` (a callable is
    asked only then, e.g. for a server's log) and the condition's last value.

    Exceptions from `condition` are not swallowed: a condition that can fail while the awaited
    event has not happened yet (a connection refused by a server still starting) catches them.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            said = message() if callable(message) else message
            name = getattr(condition, "__name__", repr(condition))
            raise AssertionError(
                f"timed out after {timeout:g} s waiting for {said or name} (last: {value!r})"
            )
        time.sleep(interval)
