"""The model registry: saved checkpoints and where they are loaded."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from app.schemas.common import Schema
from app.schemas.jobs import MetricsRead


class VersionRead(Schema):
    """One saved version of a model."""

    version: int
    created_at: datetime | None
    job_id: str | None = Field(description="the job that trained it (null for bundled models)")
    columns: list[str]
    lookback: int
    horizon: int
    rollout_mode: str
    metrics: MetricsRead | None
    spec: dict[str, Any] | None = Field(description="the training request, defaults filled in")
    weights_sha256: str
    size_bytes: int
    loaded_on: str | None = Field(description="device this version is cached on, if loaded")


class ModelRead(Schema):
    """A model and all its versions, oldest first."""

    name: str
    latest: int
    versions: list[VersionRead]


class ModelSummary(Schema):
    """A model as listed."""

    name: str
    latest: int
    versions: list[int]
    columns: list[str]


class ModelList(Schema):
    """Every model in the store, by name."""

    items: list[ModelSummary]
