"""What one forecast may ask for: the request of one instance (`ForecastRequest` bounded by its
settings, so the route validates with the same bounds its schema publishes; see
app.core.bounds), and the limits on a forecast's size and work, checked once its model is
known."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import Field
from pydantic_core import PydanticCustomError

from app.core.bounds import narrowed, refuse_over
from app.core.config import Settings
from app.core.errors import coded_error
from app.core.schemas import Rows
from app.registry.schemas import ForecastRequest


@dataclass(frozen=True)
class ForecastLimits:
    """What one forecast request may ask for (from settings)."""

    max_horizon: int
    max_contexts: int
    max_context_rows: int
    max_values: int
    max_gflop: float

    @classmethod
    def of(cls, settings: Settings) -> ForecastLimits:
        """The limits a service instance is configured with."""
        return cls(
            settings.max_horizon,
            settings.max_contexts,
            settings.max_context_rows,
            settings.max_forecast_values,
            settings.max_forecast_gflop,
        )


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
