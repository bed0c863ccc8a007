"""Shared fixtures: settings on a temporary store, the app, a client, trained models."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app
from tests.databases import postgres_database
from tests.e2e.server import Server
from tests.factories import BUNDLED_MODELS, make_settings, train_models

AppFactory = Callable[..., TestClient]

# Fixtures whose users need more than Python: `make test-fast` leaves these tests out.
MARKED_BY_FIXTURE = {"browser": "browser", "postgres_url": "services"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests that drive a browser or a real database server, by the fixtures they use
    (fixtures that pick a backend by parameter mark their PostgreSQL case themselves)."""
    for item in items:
        for fixture, marker in MARKED_BY_FIXTURE.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(marker)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Isolated settings; `workers=0` leaves submitted jobs queued."""
    return make_settings(tmp_path)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """A client of the app, lifespan running."""
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[AppFactory]:
    """Build clients with setting overrides: make_client(workers=1, max_upload_bytes=2048)."""
    clients: list[TestClient] = []

    def build(**overrides: Any) -> TestClient:
        root = tmp_path / f"client-{len(clients)}"  # a store of its own: stores are locked
        test_client = TestClient(create_app(make_settings(root, **overrides)))
        clients.append(test_client.__enter__())
        return test_client

    yield build
    for test_client in reversed(clients):
        test_client.__exit__(None, None, None)


@pytest.fixture(scope="session")
def trained_models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Small models trained once per session through the real job path (see factories)."""
    return train_models(tmp_path_factory.mktemp("trained"))


@pytest.fixture
def models_client(settings: Settings, trained_models_dir: Path) -> Iterator[TestClient]:
    """A client whose store holds the bundled `sine` and the session's trained models."""
    shutil.copytree(BUNDLED_MODELS, settings.models_dir, dirs_exist_ok=True)
    shutil.copytree(trained_models_dir, settings.models_dir, dirs_exist_ok=True)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database on the loopback server, dropped after the test."""
    with postgres_database() as url:
        yield url


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`forecast-service serve` on a free loopback port with one worker process, shared by a
    module's tests (the client's and the command line's)."""
    running = Server(tmp_path_factory.mktemp("service")).start()
    yield running
    running.stop()
