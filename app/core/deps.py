"""Dependencies: the long-lived objects the lifespan puts on `app.state`, one getter for all.

Each domain declares its own annotated dependencies with `from_state` in its `deps.py`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request

from app.core.config import Settings
from app.core.metrics import ServiceMetrics


def from_state(attribute: str) -> Callable[[Request], Awaitable[Any]]:
    """A dependency that reads `app.state.<attribute>`, set by the app's lifespan."""

    # Async: a plain def would be run in the threadpool, one thread hop per dependency of
    # every request, for a getattr that blocks nothing.
    async def read(request: Request) -> Any:
        return getattr(request.app.state, attribute)

    read.__name__ = f"get_{attribute}"
    return read


SettingsDep = Annotated[Settings, Depends(from_state("settings"))]
MetricsDep = Annotated[ServiceMetrics, Depends(from_state("metrics"))]
