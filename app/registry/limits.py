"""The forecast request of one instance: `ForecastRequest` bounded by its settings, so the route
validates with the same bounds its schema publishes (see app.core.bounds)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from pydantic_core import PydanticCustomError

from app.core.bounds import narrowed, refuse_over
from app.core.errors import coded_error
from app.core.schemas import Rows
from app.registry.forecast import ForecastLimits
from app.registry.schemas import ForecastRequest


def _horizon_too_large(horizon: int, limit: int) -> PydanticCustomError:
    return coded_error(
        "horizon_too_large",
        f"horizon {horizon} is over the limit of {limit} (FORECAST_MAX_HORIZON)",
    )


def _too_many_contexts(contexts: int, limit: int) -> PydanticCustomError:
    return coded_error(
        "too_many_contexts",
        f"{contexts} contexts; at most {limit} per request (FORECAST_MAX_CONTEXTS)",
    )


def _context_too_long(rows: int, limit: int) -> PydanticCustomError:
    return coded_error(
        "context_too_long",
        f"{rows} context rows; at most {limit} per context (FORECAST_MAX_CONTEXT_ROWS); only "
        "the last `lookback` rows are read anyway",
    )


def forecast_request_model(limits: ForecastLimits) -> type[ForecastRequest]:
    """`ForecastRequest` with `limits`' bounds on its horizon, contexts and context rows."""
    context = Annotated[
        Rows, Field(max_length=limits.max_context_rows), refuse_over(_context_too_long)
    ]
    contexts = Annotated[
        list[context],
        Field(max_length=limits.max_contexts),
        refuse_over(_too_many_contexts),
    ]
    return narrowed(
        ForecastRequest,
        horizon=Annotated[int, Field(le=limits.max_horizon), refuse_over(_horizon_too_large)],
        context=context | None,
        contexts=contexts | None,
    )
