"""Fixtures of the datasets tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.db import make_engine, make_session_factory
from app.datasets import DatasetFiles, DatasetRepository
from app.migrations import upgrade as upgrade_schema


@pytest.fixture
def datasets(tmp_path: Path) -> DatasetRepository:
    """A dataset repository on a fresh, migrated SQLite store; nothing is ever in use."""
    engine = make_engine(f"sqlite:///{tmp_path}/datasets.db")
    upgrade_schema(engine)
    return DatasetRepository(
        make_session_factory(engine),
        in_use=lambda session, dataset_id: 0,
        files=DatasetFiles(tmp_path / "datasets"),
    )
