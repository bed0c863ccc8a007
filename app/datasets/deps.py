"""The datasets domain's dependencies (set on app.state by the lifespan)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.core.deps import from_state
from app.datasets.repository import DatasetRepository

DatasetsDep = Annotated[DatasetRepository, Depends(from_state("datasets"))]
