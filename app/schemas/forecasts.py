"""POST /v1/models/{model_name}/forecast."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from app.ml.intervals import LEVELS
from app.schemas.common import Number, ReadSchema, Rows, Schema

Level = Literal[LEVELS]  # type: ignore[valid-type]


class ForecastRequest(Schema):
    """How far to forecast, from which context(s), with which version."""

    horizon: int = Field(ge=1, description="steps to forecast (at most FORECAST_MAX_HORIZON)")
    context: Rows | None = Field(
        None,
        description="recent rows, oldest first (at least the model's lookback); "
        "default: the tail of the training series",
    )
    contexts: list[Rows] | None = Field(
        None, min_length=1, description="several contexts, forecast together in one batched pass"
    )
    version: int | None = Field(None, ge=1, description="default: the latest version")
    future: dict[str, list[Number]] | None = Field(
        None,
        max_length=64,
        description="for a model with known covariates (input columns it does not predict): "
        "their next `horizon` values, by column name",
    )
    levels: list[Level] = Field(
        default_factory=list,
        max_length=len(LEVELS),
        description="prediction interval levels in percent, e.g. [80, 95]: conformal bounds "
        "calibrated on the validation split's rollouts",
    )

    model_config = {
        "json_schema_extra": {
            "examples": [
                {"horizon": 50},
                {"horizon": 20, "context": [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]},
                {"horizon": 100, "levels": [80, 95]},
                {"horizon": 3, "future": {"sin": [0.0998, 0.1987, 0.2955]}},
            ]
        }
    }

    @model_validator(mode="after")
    def _one_kind_of_context(self) -> ForecastRequest:
        if self.context is not None and self.contexts is not None:
            raise ValueError("give either context or contexts, not both")
        return self


class IntervalRead(ReadSchema):
    """Bounds of one level, shaped like the forecast: [horizon][columns] for a request with
    `context` or none, [contexts][horizon][columns] for one with `contexts`."""

    level: int
    lower: list[list[float]] | list[list[list[float]]]
    upper: list[list[float]] | list[list[list[float]]]


class ForecastResponse(ReadSchema):
    """Forecast rows on the original scale, one list of `horizon` rows per context."""

    model: str
    version: int
    columns: list[str]
    horizon: int
    device: str
    rollout_mode: str
    forecast: list[list[float]] | None = Field(
        None, description="[horizon][columns], for a request with `context` or none"
    )
    forecasts: list[list[list[float]]] | None = Field(
        None, description="[contexts][horizon][columns], for a request with `contexts`"
    )
    intervals: list[IntervalRead] = Field(
        default_factory=list, description="one entry per requested level"
    )
    interval_calibrated_steps: int | None = Field(
        None,
        description="steps the intervals were calibrated for; later steps keep the last width",
    )

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "model": "sine",
                    "version": 1,
                    "columns": ["sin"],
                    "horizon": 3,
                    "device": "cpu",
                    "rollout_mode": "window",
                    "forecast": [[0.09996], [0.10992], [0.11986]],
                    "forecasts": None,
                }
            ]
        }
    }
