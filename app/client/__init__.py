"""A Python client of the forecasting service: pandas in, pandas out, plots with matplotlib.

Importable without torch or the server's libraries (it needs httpx, pandas, tenacity, tqdm, and
matplotlib for the plots): install the `client` extra. The server never imports it.
`plot_forecast` and `plot_history` load matplotlib only when first used.
"""

from __future__ import annotations

from typing import Any

from app.client.client import Client
from app.client.errors import (
    AuthenticationError,
    BadRequestError,
    ConflictError,
    ConnectionFailedError,
    InvalidInputError,
    NotFoundError,
    PayloadTooLargeError,
    ServiceError,
    UnavailableError,
)
from app.client.jobs import Job, JobFailedError

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "Client",
    "ConflictError",
    "ConnectionFailedError",
    "InvalidInputError",
    "Job",
    "JobFailedError",
    "NotFoundError",
    "PayloadTooLargeError",
    "ServiceError",
    "UnavailableError",
    "plot_forecast",
    "plot_history",
]


def __getattr__(name: str) -> Any:
    if name in ("plot_forecast", "plot_history"):  # matplotlib is slow to import: on use
        from app.client import plots

        return getattr(plots, name)
    raise AttributeError(f"module 'app.client' has no attribute {name!r}")
