"""The model registry's API schemas: versions and their metrics, and forecasts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field, PlainSerializer, TypeAdapter, WithJsonSchema, model_validator

from app.core.schemas import Number, ReadSchema, Rows, Schema
from app.ml.intervals import LEVELS


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

# -- a version's metrics (a job shows the metrics of the version it produced) ---------------


class ErrorMetrics(ReadSchema):
    """Errors on the original scale; null where a forecast was not finite."""

    mse: float | None
    rmse: float | None
    mae: float | None
    mase: float | None = Field(
        None, description="MAE over the naive forecast's MAE on the same targets (< 1 beats it)"
    )
    smape: float | None = Field(None, description="200·|A−F|/(|A|+|F|) in percent (rollouts)")
    mase_seasonal: float | None = Field(
        None, description="MAE over the seasonal naive forecast's MAE on the same targets"
    )


class IntervalMetrics(ReadSchema):
    """How the conformal intervals, calibrated on validation rollouts, cover the test split."""

    calibrated_steps: int = Field(description="forecast steps the intervals are calibrated for")
    test_rollouts: int
    test_steps: int
    coverage: dict[str, float | None] = Field(
        description="percent of test values inside each level's interval, by level"
    )


class Scores(ReadSchema):
    """Errors of one forecast on the original scale, averaged over series where they are means;
    null where not finite."""

    mse: float | None
    rmse: float | None
    mae: float | None
    smape: float | None = Field(description="the M3 formula, 200·|A−F|/(|A|+|F|), in percent")


class ModelScores(Scores):
    """The model's errors, with MASE against both baselines on the same rows."""

    mase: float | None = Field(description="MAE over the naive (last value) forecast's MAE")
    mase_seasonal: float | None = Field(
        description="MAE over the seasonal naive (last season repeated) forecast's MAE"
    )


class FoldRead(ReadSchema):
    """One fold of a backtest: forecasts from the same distance before every series' end."""

    fold: int
    rows_from_end: int = Field(description="rows from the fold's first forecast row to the end")
    mean: ModelScores = Field(description="the model's scores (averaged over series)")
    naive: Scores
    seasonal_naive: Scores


class BacktestRead(ReadSchema):
    """A rolling-origin backtest in the test parts (`training.folds`)."""

    folds: int
    steps: int = Field(description="rows each fold forecasts")
    stride: int = Field(description="rows between one fold's origin and the next")
    per_fold: list[FoldRead] = Field(description="fewer than `folds` when time ran out")


class FitRecord(ReadSchema):
    """What every job's metrics carry besides its errors: how the fit went and what it chose."""

    season_length: int = Field(1, description="the seasonal naive baseline's period (1: naive)")
    warnings: list[str] = Field(
        default_factory=list,
        description="a model that loses to the seasonal naive forecast on validation says so",
    )
    rollout_mode: Literal["window", "state"]
    best_epoch: int
    epochs_run: int
    stop_reason: str
    train_seconds: float
    ensemble: int = Field(1, description="models whose median is the forecast (1: one model)")
    refit_members: int | None = Field(
        None,
        description="with `refit`: the models fitted again on every row, which is what is "
        "served (the metrics above measure the models before, on the rows they did not see); "
        "fewer than `ensemble` when the time limit passed",
    )
    refit_seconds: float | None = Field(None, description="with `refit`: the seconds it took")
    backtest: BacktestRead | None = Field(
        None, description="with `training.folds`: the rolling-origin backtest's folds"
    )
    evaluation_cut_short: bool = Field(
        False,
        description="the job's time limit passed while measuring: rollouts and intervals cover "
        "fewer steps than asked",
    )


class MetricsRead(FitRecord):
    """Test-split metrics on the original scale, the model's beside the naive forecast's."""

    test_rows: int
    test_windows: int
    one_step: ErrorMetrics = Field(description="direct predictions from true history")
    naive_one_step: ErrorMetrics = Field(description="last value repeated, same windows")
    rollout_steps: int
    rollout: ErrorMetrics = Field(
        description="recursive rollout from the row before the test split"
    )
    naive_rollout: ErrorMetrics
    seasonal_naive_rollout: ErrorMetrics | None = Field(
        None, description="the last season repeated over the test split's rollout steps"
    )
    validation_rollout_rmse: dict[str, float | None]
    intervals: IntervalMetrics | None = Field(
        None, description="prediction intervals: coverage on the test split's rollouts"
    )


class SeriesScores(ModelScores):
    """One series' test scores."""

    id: str
    test_rows: int


class PanelMetricsRead(FitRecord):
    """A global model's test metrics: each series rolled out over its own test rows from its
    own history, on its own original scale, and the means over series."""

    series_count: int
    series_measured: int = Field(description="fewer than series_count when time ran out")
    test_rows: int
    mean: ModelScores = Field(description="the model's scores, averaged over series")
    naive: Scores = Field(description="the naive forecast's, averaged over series")
    seasonal_naive: Scores = Field(description="the seasonal naive forecast's, averaged")
    series: list[SeriesScores] | None = Field(
        None, description="each series' scores (left out of job listings to keep pages small)"
    )
    intervals: IntervalMetrics | None = Field(
        None, description="prediction intervals: coverage on rollouts over the test parts"
    )
    validation_rollout_mae: dict[str, float | None] | None = Field(
        None,
        description="validation rollouts' MAE (each series' original scale, the mean over "
        "series) by window and by state (null where not measured): state is chosen only "
        "within 5% of window",
    )


AnyMetrics = MetricsRead | PanelMetricsRead


# -- versions --------------------------------------------------------------------------------


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
    metrics: AnyMetrics | None = None
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
        description="prediction interval levels in percent, e.g. [80, 95]: conformal bounds "
        "calibrated on the validation split's rollouts",
    )
    series: list[SeriesId] | None = Field(
        None,
        min_length=1,
        max_length=MAX_SERIES_PER_FORECAST,
        description="for a model trained on many series: the ids of the series to continue, "
        "each from its own tail (default: every series); answered in `series`",
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
            ],
        }
    }

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
