"""Fixtures of the end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.server import Server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """A real server of its own, one local training worker, stopped after the test."""
    running = Server(tmp_path).start()
    yield running
    running.stop()
