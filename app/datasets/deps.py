"""The datasets domain's dependency getters: objects built in the lifespan, read from app.state."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.datasets.repository import DatasetRepository


def get_datasets(request: Request) -> DatasetRepository:
    """The dataset repository."""
    return request.app.state.datasets  # type: ignore[no-any-return]


DatasetsDep = Annotated[DatasetRepository, Depends(get_datasets)]
