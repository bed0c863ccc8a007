"""The registry's dependencies (set on app.state by the lifespan)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.core.deps import from_state
from app.registry.cache import ModelCache
from app.registry.checkpoint_store import CheckpointStore
from app.registry.forecast import Forecasting

CheckpointsDep = Annotated[CheckpointStore, Depends(from_state("checkpoints"))]
CacheDep = Annotated[ModelCache, Depends(from_state("cache"))]  # loaded models, serving device
ForecastingDep = Annotated[Forecasting, Depends(from_state("forecasting"))]  # cache, batcher...
