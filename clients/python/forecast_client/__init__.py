"""A Python client of the forecasting service: pandas in, pandas out, plots with matplotlib.

Its own distribution, `forecast-client`: it needs httpx, pandas, tenacity and tqdm, and
matplotlib for the plots (the `plot` extra); neither torch nor anything of the server.

This face loads nothing: each name below is imported from its module when first used. So the
command line's client commands (`forecast_client.commands`) load no HTTP library while the
server's `forecast-service` builds its parser, and matplotlib is loaded only by the first plot.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from forecast_client.client import Client
    from forecast_client.errors import (
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
    from forecast_client.frames import history_frame
    from forecast_client.jobs import Job, JobFailedError
    from forecast_client.plots import plot_forecast, plot_history

DEFAULT_URL = "http://127.0.0.1:8000"  # where a client looks for the service by default

_HOMES = {  # each public name's module
    "Client": "forecast_client.client",
    "AuthenticationError": "forecast_client.errors",
    "BadRequestError": "forecast_client.errors",
    "ConflictError": "forecast_client.errors",
    "ConnectionFailedError": "forecast_client.errors",
    "InvalidInputError": "forecast_client.errors",
    "NotFoundError": "forecast_client.errors",
    "PayloadTooLargeError": "forecast_client.errors",
    "ServiceError": "forecast_client.errors",
    "UnavailableError": "forecast_client.errors",
    "history_frame": "forecast_client.frames",
    "Job": "forecast_client.jobs",
    "JobFailedError": "forecast_client.jobs",
    "plot_forecast": "forecast_client.plots",
    "plot_history": "forecast_client.plots",
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
    "history_frame",
    "plot_forecast",
    "plot_history",
]


def __getattr__(name: str) -> Any:
    """The public `name`, imported from its module on first use (ImportError for the plots
    where matplotlib, the `plot` extra, is not installed)."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'forecast_client' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # found directly from now on
    return value


def __dir__() -> list[str]:
    """The public names, loaded or not."""
    return sorted(__all__)
