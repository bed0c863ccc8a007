"""The tests' one waiting helper."""

from __future__ import annotations

import pytest

from tests.waiting import wait_until


def test_it_returns_the_first_truthy_value_of_the_condition() -> None:
    values = iter([None, 0, "", {"epoch": 1}, {"epoch": 2}])
    assert wait_until(lambda: next(values), interval=0) == {"epoch": 1}


def test_it_fails_with_what_it_waited_for_and_the_last_value() -> None:
    with pytest.raises(AssertionError, match=r"waiting for the job to end \(last: \[\]\)"):
        wait_until(lambda: [], timeout=0, message="the job to end")


def test_it_asks_a_message_callable_only_when_it_times_out() -> None:
    asked: list[str] = []

    def message() -> str:
        asked.append("log")
        return "the server's log"

    assert wait_until(lambda: True, timeout=0, message=message)
    assert asked == []
    with pytest.raises(AssertionError, match="the server's log"):
        wait_until(lambda: False, timeout=0, message=message)
    assert asked == ["log"]


def test_errors_of_the_condition_are_not_swallowed() -> None:
    def broken() -> bool:
        raise RuntimeError("server exited")

    with pytest.raises(RuntimeError, match="server exited"):
        wait_until(broken)
