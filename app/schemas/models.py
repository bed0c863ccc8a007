"""The model registry: saved checkpoints and where they are loaded."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from app.schemas.common import ReadSchema
from app.schemas.jobs import MetricsRead


class VersionRead(ReadSchema):
    """One saved version of a model."""

    version: int
    readable: bool = Field(True, description="false if its files fail their checks")
    error: str | None = Field(None, description="why an unreadable version cannot be used")
    created_at: datetime | None = None
    job_id: str | None = Field(None, description="the job that trained it (null if bundled)")
    columns: list[str] = Field(default_factory=list)
    lookback: int | None = None
    horizon: int | None = None
    rollout_mode: str | None = None
    metrics: MetricsRead | None = None
    spec: dict[str, Any] | None = Field(None, description="the training request, resolved")
    weights_sha256: str | None = None
    size_bytes: int = 0
    loaded_on: str | None = Field(None, description="device this version is cached on, if any")


class ModelRead(ReadSchema):
    """A model and all its versions, oldest first."""

    name: str
    latest: int
    versions: list[VersionRead]


class ModelSummary(ReadSchema):
    """A model as listed."""

    name: str
    latest: int
    versions: list[int]
    columns: list[str]


class ModelList(ReadSchema):
    """Every model in the store, by name."""

    items: list[ModelSummary]
