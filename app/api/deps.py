"""Annotated dependencies: long-lived objects built in the lifespan, read from app.state."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.config import Settings
from app.metrics import ServiceMetrics
from app.services.forecasting import ModelCache
from app.services.models import ModelStore
from app.services.training import JobRunner
from app.store import Store


def get_settings(request: Request) -> Settings:
    """The app's settings."""
    return request.app.state.settings  # type: ignore[no-any-return]


def get_store(request: Request) -> Store:
    """The job and dataset store."""
    return request.app.state.store  # type: ignore[no-any-return]


def get_runner(request: Request) -> JobRunner:
    """Where submitted jobs run."""
    return request.app.state.runner  # type: ignore[no-any-return]


def get_models(request: Request) -> ModelStore:
    """The checkpoint store."""
    return request.app.state.models  # type: ignore[no-any-return]


def get_cache(request: Request) -> ModelCache:
    """Loaded models on the serving device."""
    return request.app.state.cache  # type: ignore[no-any-return]


def get_metrics(request: Request) -> ServiceMetrics:
    """The app's metric objects."""
    return request.app.state.metrics  # type: ignore[no-any-return]


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[Store, Depends(get_store)]
RunnerDep = Annotated[JobRunner, Depends(get_runner)]
ModelsDep = Annotated[ModelStore, Depends(get_models)]
CacheDep = Annotated[ModelCache, Depends(get_cache)]
MetricsDep = Annotated[ServiceMetrics, Depends(get_metrics)]
