"""The model registry's API schemas: versions and forecasts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    Field,
    PlainSerializer,
    TypeAdapter,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from app.core.schemas import VIEW_SERIES, Number, PageInfo, ReadSchema, Rows, Schema
from app.ml.intervals import LEVELS
from app.ml.prepare import MAX_HISTORY_ROWS
from app.registry.metrics_view import MetricsRead, SeriesScores


def _nested_lists(values: Any) -> Any:
    """An array as the nested lists its schema shows (for pydantic's own writer)."""
    return values.tolist() if isinstance(values, np.ndarray) else values


def _lists_of_numbers(depth: int) -> dict[str, Any]:
    """The JSON schema of numbers `depth` lists deep."""
    shape: Any = float
    for _ in range(depth):
        shape = list[shape]
    return TypeAdapter(shape).json_schema(mode="serialization")


# Forecast numbers, [..][columns]: held as a numpy array, so that the forecast route writes
# them straight from it (`forecast_json`), or as nested lists; documented as the lists.
Numbers2 = Annotated[  # [horizon][columns]
    Any, PlainSerializer(_nested_lists), WithJsonSchema(_lists_of_numbers(2))
]
Numbers3 = Annotated[  # [contexts][horizon][columns]
    Any, PlainSerializer(_nested_lists), WithJsonSchema(_lists_of_numbers(3))
]

# -- versions --------------------------------------------------------------------------------


class SeriesScoresPage(PageInfo):
    """A page of a version's per-series test scores, in training order."""

    items: list[SeriesScores]


class VersionRead(ReadSchema):
    """One saved version of a model."""

    version: int
    readable: bool = Field(True, description="false if its files fail their checks")
    error: str | None = Field(None, description="why an unreadable version cannot be used")
    created_at: datetime | None = None
    job_id: str | None = Field(None, description="the job that trained it (null if bundled)")
    columns: list[str] = Field(default_factory=list)
    lookback: int | None = None
    horizon: int | None = None
    rollout_mode: str | None = None
    series_count: int | None = Field(None, description="the series it was trained on")
    metrics: MetricsRead | None = Field(
        None,
        description=f"the job's test metrics; `series` lists the first {VIEW_SERIES} series' "
        "scores (page through them all at GET /v1/models/{name}/versions/{version}/series)",
    )
    spec: dict[str, Any] | None = Field(None, description="the training request, resolved")
    weights_sha256: str | None = None
    size_bytes: int = 0
    loaded_on: str | None = Field(None, description="device this version is cached on, if any")


class ModelRead(ReadSchema):
    """A model and all its versions, oldest first."""

    name: str
    latest: int
    versions: list[VersionRead]


class ModelSummary(ReadSchema):
    """A model as listed."""

    name: str
    latest: int
    versions: list[int]
    columns: list[str]


class ModelList(ReadSchema):
    """Every model in the store, by name."""

    items: list[ModelSummary]


# -- forecasts -------------------------------------------------------------------------------

Level = Literal[LEVELS]  # type: ignore[valid-type]
SeriesId = Annotated[str, Field(min_length=1, max_length=256)]
MAX_SERIES_PER_FORECAST = 100_000


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
        description="prediction interval levels in percent, each once, e.g. [80, 95]: "
        "conformal bounds calibrated on the validation split's rollouts",
        json_schema_extra={"uniqueItems": True},
    )
    series: list[SeriesId] | None = Field(
        None,
        min_length=1,
        max_length=MAX_SERIES_PER_FORECAST,
        description="for a model trained on many series: the ids of the series to continue, "
        "each from its own tail (default: every series); answered in `series`",
    )
    history_rows: int = Field(
        0,
        ge=0,
        le=MAX_HISTORY_ROWS,
        description="for a forecast that continues the training series (no context given): "
        "also answer up to this many of each series' last rows before the forecast, in "
        "`history` (their times in `history_timestamps`), as many as the model kept: its last "
        "three seasons, at least 24 rows and at most 2,000 (fewer in a panel of many series), "
        "or its lookback where that is longer; they count toward FORECAST_MAX_FORECAST_VALUES",
    )

    model_config = {
        "json_schema_extra": {
            # As the validator below: at most one of `context`, `contexts` and `series` given.
            "allOf": [
                {
                    "not": {
                        "required": [first, second],
                        "properties": {first: {"type": "array"}, second: {"type": "array"}},
                    }
                }
                for first, second in (
                    ("context", "contexts"),
                    ("context", "series"),
                    ("contexts", "series"),
                )
            ],
            "examples": [
                {"horizon": 50},
                {"horizon": 20, "context": [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]},
                {"horizon": 100, "levels": [80, 95]},
                {"horizon": 3, "future": {"sin": [0.0998, 0.1987, 0.2955]}},
                {"horizon": 18, "series": ["N1402", "N1403"], "levels": [90]},
                {"horizon": 24, "levels": [80], "history_rows": 72},
            ],
        }
    }

    @field_validator("levels")
    @classmethod
    def _each_level_once(cls, levels: list[int]) -> list[int]:
        twice = sorted({level for level in levels if levels.count(level) > 1})
        if twice:
            raise ValueError(f"levels name {twice[0]} twice; give each level once")
        return levels

    @model_validator(mode="after")
    def _one_kind_of_context(self) -> ForecastRequest:
        given = [
            name for name in ("context", "contexts", "series") if getattr(self, name) is not None
        ]
        if len(given) > 1:
            raise ValueError(f"give one of context, contexts and series, not {' and '.join(given)}")
        return self


class IntervalRead(ReadSchema):
    """Bounds of one level, shaped like the forecast: [horizon][columns] for a request with
    `context` or none, [contexts][horizon][columns] for one with `contexts`."""

    level: int
    lower: Numbers2 | Numbers3
    upper: Numbers2 | Numbers3
    calibrated_steps: int | None = Field(
        None,
        description="the first steps of this band that are calibrated `level`% intervals: each "
        "had enough calibration residuals (n >= q/(1-q): 4 for 80%, 19 for 95%, 99 for 99%); "
        "null: unknown (a model saved before its residuals were counted)",
    )
    note: str | None = Field(
        None,
        description="where the band is not a calibrated interval at every step: which steps "
        "are the largest error seen in calibration instead, or keep the last calibrated width",
    )
    test_coverage: float | None = Field(
        None,
        description="percent of the test parts' values inside this level's bands when the model "
        "was measured (the job's `intervals.coverage`); null: not measured",
    )


HISTORY = (
    "[rows][columns]: the series' last rows before the forecast, oldest first, on the original "
    "scale (at most `history_rows`, as many as the model kept), for a request with "
    "`history_rows`"
)
HISTORY_TIMESTAMPS = (
    "the time of each history row, on the series' own time index (labelled like `timestamps`)"
)
COMBINED_WITH = (
    "\"drift\": the forecast is the mean of the model's and the series' drift forecast (the "
    "line through its first and last values, continued), because that mean beat the model on "
    "the series' validation part (the job's `combination`); null: the model's alone"
)


class SeriesForecast(ReadSchema):
    """One series of a global model, continued from its own tail."""

    id: str
    forecast: Numbers2 = Field(description="[horizon][columns]")
    timestamps: list[str] | None = Field(
        None, description="the time of each step, continuing the series' own time index"
    )
    intervals: list[IntervalRead] = Field(
        default_factory=list, description="one entry per requested level, [horizon][columns]"
    )
    history: Numbers2 | None = Field(None, description=HISTORY)
    history_timestamps: list[str] | None = Field(None, description=HISTORY_TIMESTAMPS)
    combined_with: Literal["drift"] | None = Field(None, description=COMBINED_WITH)
    warnings: list[str] = Field(
        default_factory=list,
        description="where the model lost on this series when it was measured: one for each "
        "split (validation, test) and simple forecast (naive, seasonal naive, drift) whose "
        "rollout MAE beat the model's, with both MAEs (from the series' `guards` in the job's "
        "metrics); empty: it lost to none, the job ran out of time before testing this series (its "
        "validation loss is then named only in the job's warnings), or the model was saved "
        "before series were compared",
    )


class ForecastResponse(ReadSchema):
    """Forecast rows on the original scale, one list of `horizon` rows per context."""

    model: str
    version: int
    columns: list[str]
    horizon: int
    device: str
    rollout_mode: str
    forecast: Numbers2 | None = Field(
        None, description="[horizon][columns], for a request with `context` or none"
    )
    forecasts: Numbers3 | None = Field(
        None, description="[contexts][horizon][columns], for a request with `contexts`"
    )
    intervals: list[IntervalRead] = Field(
        default_factory=list, description="one entry per requested level"
    )
    interval_calibrated_steps: int | None = Field(
        None,
        description="steps the intervals were calibrated for; later steps keep the last width",
    )
    interval_residuals: list[int] | None = Field(
        None,
        description="for a request with levels: the calibration residuals behind each step's "
        "widths, up to the calibrated steps; null: no levels asked, or unknown (a model saved "
        "before they were counted)",
    )
    timestamps: list[str] | None = Field(
        None,
        description="the time of each forecast step, continuing the training series' time "
        "index (a forecast without context, from a model trained on a series with one)",
    )
    series: list[SeriesForecast] | None = Field(
        None,
        description="a model trained on many series, asked without a context: each series "
        "continued from its own tail, in the order asked (or trained)",
    )
    history: Numbers2 | None = Field(
        None, description=f"{HISTORY}; of a model trained on one series (else in `series`)"
    )
    history_timestamps: list[str] | None = Field(None, description=HISTORY_TIMESTAMPS)
    combined_with: Literal["drift"] | None = Field(
        None, description=f"{COMBINED_WITH}; of the one series of a model trained on one"
    )
    warnings: list[str] = Field(
        default_factory=list,
        description="the model's warnings as its job recorded them (`metrics.warnings`): for a "
        "model of one series, each split (validation, test) and simple forecast (naive, "
        "seasonal naive, drift) it lost to, with both MAEs; for a model of many series the "
        "losing series are named in a bounded list, and each item of `series` carries its own",
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
