"""Repositories on both backends: each test gets a fresh database, SQLite and then PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from app.core.db import make_engine, make_session_factory
from app.datasets import DatasetRepository
from app.jobs.repository import JobRepository, open_repositories
from app.migrations import upgrade


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/store.db"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def engine(url: str) -> Iterator[Engine]:
    """The engine the service would build, schema at head."""
    engine = make_engine(url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def repositories(engine: Engine, tmp_path: Path) -> tuple[JobRepository, DatasetRepository]:
    """The job and dataset repositories over `engine`, wired as the service wires them."""
    return open_repositories(make_session_factory(engine), tmp_path / "datasets")


@pytest.fixture
def jobs(repositories: tuple[JobRepository, DatasetRepository]) -> JobRepository:
    """The job repository."""
    return repositories[0]


@pytest.fixture
def datasets(repositories: tuple[JobRepository, DatasetRepository]) -> DatasetRepository:
    """The dataset repository."""
    return repositories[1]
