"""Fixtures shared by the API tests."""

from __future__ import annotations

import os

import pytest


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No FORECAST_* variable from the environment running the tests."""
    for name in list(os.environ):
        if name.startswith("FORECAST_"):
            monkeypatch.delenv(name)
    return monkeypatch
