"""A Python client of the forecasting service: pandas in, pandas out, plots with matplotlib.

Importable without torch or the server's libraries (it needs httpx, pandas, tenacity, tqdm, and
matplotlib for the plots): install the `client` extra. The server never imports it.

This face loads nothing: each name below is imported from its module when first used. So the
command line's client commands (`app.client.commands`) sit in this package while
`forecast-service serve` runs on an install without the extra, and `plot_forecast` loads
matplotlib only when first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
    from app.client.plots import plot_forecast, plot_history

DEFAULT_URL = "http://127.0.0.1:8000"  # where a client looks for the service by default

_HOMES = {  # each public name's module
    "Client": "app.client.client",
    "AuthenticationError": "app.client.errors",
    "BadRequestError": "app.client.errors",
    "ConflictError": "app.client.errors",
    "ConnectionFailedError": "app.client.errors",
    "InvalidInputError": "app.client.errors",
    "NotFoundError": "app.client.errors",
    "PayloadTooLargeError": "app.client.errors",
    "ServiceError": "app.client.errors",
    "UnavailableError": "app.client.errors",
    "Job": "app.client.jobs",
    "JobFailedError": "app.client.jobs",
    "plot_forecast": "app.client.plots",
    "plot_history": "app.client.plots",
}

__all__ = [
    "DEFAULT_URL",
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
    """The public `name`, imported from its module on first use (ImportError where the
    `client` extra is not installed)."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'app.client' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # found directly from now on
    return value


def __dir__() -> list[str]:
    """The public names, loaded or not."""
    return sorted(__all__)
