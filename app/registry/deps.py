"""The registry's dependency getters: objects built in the lifespan, read from app.state."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.registry.cache import ModelCache
from app.registry.checkpoint_store import CheckpointStore


def get_checkpoints(request: Request) -> CheckpointStore:
    """The checkpoint store."""
    return request.app.state.checkpoints  # type: ignore[no-any-return]


def get_cache(request: Request) -> ModelCache:
    """Loaded models on the serving device."""
    return request.app.state.cache  # type: ignore[no-any-return]


CheckpointsDep = Annotated[CheckpointStore, Depends(get_checkpoints)]
CacheDep = Annotated[ModelCache, Depends(get_cache)]
